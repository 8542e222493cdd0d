# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The project's System template blocks and the container-selinux compatibility module.

A SelinuxProfile ``inherit: [{name: net_container}]`` becomes
``(blockinherit net_container)``: the abstract blocks below are installed as
one store module, ``spo_system_templates``.  They were written for this
project and describe what a confined container process needs:

* ``container``         the base: a process type in the container domain, its own
                         sockets/pipes, the container's files (container_file_t),
                         /proc and sysfs reads, signals from the container runtime.
* ``net_container``     TCP/UDP clients and servers on unreserved ports, DNS, netlink route.
* ``log_container``     READ the logs (the ``logfile`` types, /var/log, audit logs), as udica's;
  ``log_rw_container``  also create, write and append them;
  ``log_manage_container`` also rename, link and remove them.
* ``home_container``    read users' home directories; ``home_rw_container`` also write
  there; ``home_manage_container`` also create, rename and remove (udica's
  ``dac_override`` is left out: class capability is on the denylist).
* ``tmp_container``     READ temporary files (the ``tmpfile`` types); ``tmp_rw_container``
  also write and append them.
* ``config_container``  read configuration (the ``configfile`` types, /etc);
  ``config_rw_container`` also write; ``config_manage_container`` also create,
  rename and remove.
* ``restricted_net_container`` its own TCP/UDP/SCTP sockets, binding, and connecting
  to HTTP ports only (``net_container`` allows every port).
* ``tty_container``     use the terminal (/dev/tty, pseudo terminals, the console).
* ``x_container``       talk to the X server (socket, shared memory, DRI devices).
* ``virt_container``    talk to libvirtd; also use /dev/kvm and tun/tap devices.

The names and what each means follow udica's templates of the same name: wherever a
type and permission of udica's template exist in the reference policy, the template
here gives the same permissions (tests/unit/test_selinux_templates_udica.py holds the
table; the README lists the deliberate differences).  The CIL is this project's.  They reference types of the reference policy (present on Debian/Ubuntu and on
Fedora/RHEL) and a few of container-selinux (Fedora/RHEL/CoreOS):
:data:`CONTAINER_SELINUX_NAMES`.  Hosts with only the reference policy lack
those; :data:`COMPAT_CIL` (module ``spo_container_compat``) declares them and is
installed only where no ``container`` module (container-selinux) exists.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

TEMPLATES_MODULE = "spo_system_templates"
COMPAT_MODULE = "spo_container_compat"
CONTAINER_SELINUX_MODULE = "container"

TEMPLATES: Dict[str, str] = {
    "container": """\
(block container
    (blockabstract container)
    (type process)
    (type socket)
    (roletype system_r process)
    (typeattributeset domain (process))
    (typeattributeset container_domain (process))
    (typeattributeset mcs_constrained_type (process))
    (typeattributeset file_type (socket))
    (allow process self (process (fork getattr getcap getpgid getsched setcap setpgid setrlimit setsched
        sigchld sigkill signal signull sigstop)))
    (allow process self (fifo_file (append getattr ioctl lock open read write)))
    (allow process self (unix_stream_socket (accept bind connect create getattr getopt listen read setopt shutdown write)))
    (allow process self (unix_dgram_socket (bind connect create getattr getopt read sendto setopt write)))
    (allow process socket (sock_file (append create getattr ioctl link lock open read rename setattr unlink write)))
    (allow process container_file_t (dir (add_name create getattr ioctl lock open read remove_name rename rmdir
        search setattr write)))
    (allow process container_file_t (file (append create execute execute_no_trans getattr ioctl link lock map open
        read rename setattr unlink write)))
    (allow process container_file_t (lnk_file (create getattr read rename unlink)))
    (allow process container_file_t (sock_file (create getattr open read unlink write)))
    (allow process container_file_t (fifo_file (create getattr open read unlink write)))
    (allow process proc_t (dir (getattr open read search)))
    (allow process proc_t (file (getattr open read)))
    (allow process proc_t (lnk_file (read)))
    (allow process sysfs_t (dir (getattr open read search)))
    (allow process sysfs_t (file (getattr open read)))
    (allow process cpu_online_t (file (getattr open read)))
    (allow process null_device_t (chr_file (append getattr ioctl open read write)))
    (allow process zero_device_t (chr_file (getattr map open read)))
    (allow process urandom_device_t (chr_file (getattr open read)))
    (allow process random_device_t (chr_file (getattr open read)))
    (allow container_runtime_t process (process (getattr noatsecure rlimitinh siginh sigkill signal signull
        sigstop transition)))
    (allow container_runtime_t process (dir (getattr open read search)))
    (allow container_runtime_t process (file (getattr open read)))
    (allow container_runtime_t process (key (create link read search setattr view write)))
)
""",
    "net_container": """\
(block net_container
    (blockabstract net_container)
    (typeattributeset container_net_domain (process))
    (allow process self (tcp_socket (accept bind connect create getattr getopt ioctl listen read setopt shutdown write)))
    (allow process self (udp_socket (bind connect create getattr getopt ioctl read setopt shutdown write)))
    (allow process self (netlink_route_socket (bind create getattr nlmsg_read read write)))
    (allow process node_t (tcp_socket (node_bind)))
    (allow process node_t (udp_socket (node_bind)))
    (allow process unreserved_port_t (tcp_socket (name_bind name_connect)))
    (allow process unreserved_port_t (udp_socket (name_bind)))
    (allow process port_type (tcp_socket (name_connect)))
    (allow process net_conf_t (file (getattr open read)))
)
""",
    "log_container": """\
(block log_container
    (blockabstract log_container)
    (allow process var_t (dir (getattr open search)))
    (allow process logfile (dir (getattr ioctl lock open read search)))
    (allow process logfile (file (getattr ioctl lock map open read)))
    (allow process auditd_log_t (dir (getattr ioctl lock open read search)))
    (allow process auditd_log_t (file (getattr ioctl lock open read)))
)
""",
    "log_rw_container": """\
(block log_rw_container
    (blockabstract log_rw_container)
    (blockinherit log_container)
    (allow process logfile (dir (add_name create getattr ioctl lock open read search setattr write)))
    (allow process logfile (file (append create getattr ioctl lock open read setattr write)))
    (allow process logfile (lnk_file (append getattr ioctl lock open read write)))
)
""",
    "log_manage_container": """\
(block log_manage_container
    (blockabstract log_manage_container)
    (blockinherit log_rw_container)
    (allow process logfile (dir (add_name create getattr ioctl link lock open read remove_name rename reparent rmdir
        search setattr unlink write)))
    (allow process logfile (file (append create getattr ioctl link lock open read rename setattr unlink write)))
    (allow process logfile (lnk_file (append create getattr ioctl link lock read rename setattr unlink write)))
    (allow process auditd_log_t (dir (getattr ioctl lock open read search write)))
    (allow process auditd_log_t (file (getattr ioctl lock open read write)))
)
""",
    "home_container": """\
(block home_container
    (blockabstract home_container)
    (allow process home_root_t (dir (getattr ioctl lock open read search)))
    (allow process user_home_dir_t (dir (getattr ioctl lock open read search)))
    (allow process user_home_t (dir (getattr ioctl lock open read search)))
    (allow process user_home_dir_t (file (getattr ioctl lock open read)))
    (allow process user_home_t (file (getattr ioctl lock open read)))
)
""",
    "home_rw_container": """\
(block home_rw_container
    (blockabstract home_rw_container)
    (blockinherit home_container)
    (allow process home_root_t (dir (add_name getattr ioctl link lock open read remove_name reparent search setattr
        write)))
    (allow process user_home_dir_t (dir (add_name getattr ioctl link lock open read remove_name reparent search setattr
        write)))
    (allow process user_home_t (dir (add_name getattr ioctl link lock open read remove_name reparent search setattr
        write)))
    (allow process user_home_dir_t (file (append getattr ioctl lock open read write)))
    (allow process user_home_t (file (append getattr ioctl lock open read write)))
)
""",
    "home_manage_container": """\
(block home_manage_container
    (blockabstract home_manage_container)
    (blockinherit home_rw_container)
    (allow process home_root_t (dir (create rename rmdir unlink)))
    (allow process user_home_dir_t (dir (create rename rmdir unlink)))
    (allow process user_home_t (dir (create rename rmdir unlink)))
    (allow process user_home_dir_t (file (create link rename unlink)))
    (allow process user_home_t (file (create link rename unlink)))
)
""",
    "tmp_container": """\
(block tmp_container
    (blockabstract tmp_container)
    (allow process tmpfile (dir (getattr open search)))
    (allow process tmpfile (file (getattr ioctl lock open read)))
)
""",
    "tmp_rw_container": """\
(block tmp_rw_container
    (blockabstract tmp_rw_container)
    (blockinherit tmp_container)
    (allow process tmpfile (dir (append getattr ioctl lock open read write)))
    (allow process tmpfile (file (append getattr ioctl lock open read write)))
)
""",
    "config_container": """\
(block config_container
    (blockabstract config_container)
    (allow process configfile (dir (getattr ioctl lock open read search)))
    (allow process configfile (file (getattr ioctl lock open read)))
    (allow process configfile (lnk_file (getattr read)))
)
""",
    "config_rw_container": """\
(block config_rw_container
    (blockabstract config_rw_container)
    (blockinherit config_container)
    (allow process configfile (dir (append getattr ioctl lock open read write)))
    (allow process configfile (file (append getattr ioctl lock open read write)))
    (allow process configfile (lnk_file (append getattr ioctl lock open read write)))
)
""",
    "config_manage_container": """\
(block config_manage_container
    (blockabstract config_manage_container)
    (allow process configfile (dir (add_name create getattr ioctl link lock open read remove_name rename reparent
        rmdir search setattr unlink write)))
    (allow process configfile (file (append create getattr ioctl link lock open read rename setattr unlink write)))
    (allow process configfile (lnk_file (append create getattr ioctl link lock open read rename setattr unlink
        write)))
)
""",
    "tty_container": """\
(block tty_container
    (blockabstract tty_container)
    (allow process devpts_t (dir (getattr open read search)))
    (allow process devpts_t (chr_file (append getattr ioctl lock open read write)))
    (allow process ptmx_t (chr_file (getattr ioctl open read write)))
    (allow process user_devpts_t (chr_file (append getattr ioctl lock open read write)))
    (allow process console_device_t (chr_file (append getattr ioctl open read write)))
    (allow process device_t (dir (getattr ioctl lock open read search)))
    (allow process device_t (lnk_file (getattr read)))
    (allow process devtty_t (chr_file (append getattr ioctl lock open read write)))
)
""",
    "x_container": """\
(block x_container
    (blockabstract x_container)
    (allow process xserver_t (unix_stream_socket (connectto)))
    (allow xserver_t process (shm (associate getattr lock read unix_read unix_write write)))
    (allow process xserver_tmp_t (dir (getattr open search)))
    (allow process xserver_tmp_t (sock_file (append getattr open write)))
    (allow process user_tmp_t (dir (getattr open read search)))
    (allow process xdm_tmp_t (dir (getattr open read search)))
    (allow process device_t (dir (getattr open search)))
    (allow process dri_device_t (chr_file (append getattr ioctl lock map open read write)))
    (allow process xserver_misc_device_t (chr_file (append getattr ioctl lock map open read write)))
    (allow process urandom_device_t (chr_file (open read)))
    (allow process tmpfs_t (dir (getattr open search)))
    (allow process tmp_t (dir (getattr open search)))
    (allow process tmp_t (lnk_file (getattr read)))
    (allow process xserver_exec_t (file (execute execute_no_trans getattr ioctl lock map open read)))
)
""",
    "restricted_net_container": """\
(block restricted_net_container
    (blockabstract restricted_net_container)
    (allow process self (tcp_socket (accept append bind connect create getattr getopt ioctl listen lock read setattr
        setopt shutdown write)))
    (allow process self (udp_socket (append bind connect create getattr getopt ioctl lock read setattr setopt shutdown
        write)))
    (allow process self (sctp_socket (append bind connect create getattr getopt ioctl lock read setattr setopt
        shutdown write)))
    (allow process proc_t (lnk_file (read)))
    (allow process node_t (node (recvfrom sendto)))
    (allow process node_t (tcp_socket (node_bind)))
    (allow process node_t (udp_socket (node_bind)))
    (allow process http_port_t (tcp_socket (name_connect)))
)
""",
    "virt_container": """\
(block virt_container
    (blockabstract virt_container)
    (allow process kvm_device_t (chr_file (getattr ioctl map open read write)))
    (allow process tun_tap_device_t (chr_file (getattr ioctl open read write)))
    (allow process self (tun_socket (create)))
    (allow process device_t (dir (getattr open read search)))
    (allow process var_t (dir (getattr open search)))
    (allow process var_t (lnk_file (getattr read)))
    (allow process var_run_t (dir (getattr open search)))
    (allow process var_run_t (lnk_file (getattr read)))
    (allow process virt_var_run_t (dir (getattr open search)))
    (allow process virt_var_run_t (sock_file (append getattr open write)))
    (allow process virtd_t (unix_stream_socket (connectto)))
)
""",
}

TEMPLATE_NAMES: Tuple[str, ...] = tuple(TEMPLATES)

# What the templates use from container-selinux (declared by the compat module).
CONTAINER_SELINUX_NAMES: Tuple[str, ...] = (
    "container_domain", "container_net_domain", "container_file_t", "container_runtime_t", "container_t")

COMPAT_CIL = """\
; spo_container_compat: the container-selinux names the spo templates use, for
; hosts with only the reference policy.  Never installed where container-selinux is.
(typeattribute container_domain)
(typeattribute container_net_domain)
(type container_runtime_t)
(roletype system_r container_runtime_t)
(typeattributeset domain (container_runtime_t))
(type container_file_t)
(typeattributeset file_type (container_file_t))
(typeattributeset non_security_file_type (container_file_t))
(type container_t)
(roletype system_r container_t)
(typeattributeset domain (container_t))
(typeattributeset container_domain (container_t))
(typeattributeset container_net_domain (container_t))
(allow container_runtime_t container_file_t (dir (add_name create getattr open read remove_name rmdir search write)))
(allow container_runtime_t container_file_t (file (create getattr open read setattr unlink write)))
"""


# The permissive process type ProfileRecording gives recorded containers (``seLinuxOptions.type:
# selinuxrecording.process``, upstream's name): a container domain whose denials are logged, not enforced, so the
# log enricher sees every AVC the workload causes.  A concrete block (not a template a profile may inherit).
RECORDING_BLOCK = "selinuxrecording"
RECORDING_TYPE = RECORDING_BLOCK + ".process"
RECORDING_CIL = """\
(block selinuxrecording
    (blockinherit container)
    (typepermissive process)
)
"""


def templates_cil() -> str:
    """The store module ``spo_system_templates``: every template block, in a fixed order, then the recording type."""
    return "; spo_system_templates: System template blocks of spo.security_profiles\n" + "".join(
        TEMPLATES[name] for name in TEMPLATE_NAMES) + RECORDING_CIL


def system_modules(compat: bool) -> Dict[str, str]:
    """Store modules the profiles need: templates, plus the compatibility module when ``compat``."""
    modules = {TEMPLATES_MODULE: templates_cil()}
    if compat:
        modules[COMPAT_MODULE] = COMPAT_CIL
    return modules


def compat_needed(mode: str, installed_modules: List[str]) -> bool:
    """Whether to install the compatibility module.

    ``mode``: ``auto`` (only when container-selinux's ``container`` module is
    absent), ``always`` (an explicit choice: next to container-selinux the
    types would be declared twice and the install fails), ``never``.
    """
    if mode in ("always", "never"):
        return mode == "always"
    return CONTAINER_SELINUX_MODULE not in installed_modules
