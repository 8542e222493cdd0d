# -*- coding: utf-8 -*-
"""The System templates give udica's permissions wherever udica's types and permissions exist.

UDICA is a table of what udica's templates of the same name allow (github.com/containers/udica,
udica/templates/*.cil, read at commit 09bf6b33 / base_container at 5c9c21dc), written here as data:
(source, target, class) -> permissions, ``process`` being the template's own type.  A template's
permissions include those of the templates it inherits, on both sides.  Where udica names a type or
permission the reference policy lacks, or one this project refuses, the difference is deliberate and
listed (DELIBERATE); the README says the same.
"""
from __future__ import annotations

import glob
import os
import subprocess
import tempfile
from typing import Dict, FrozenSet, Set, Tuple

import pytest

from conftest import require_tools
from selinux_store import store_modules  # pylint: disable=import-error

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates

Key = Tuple[str, str, str]


def _p(text: str) -> FrozenSet[str]:
    return frozenset(text.split())


UDICA_INHERITS = {
    "log_rw_container": "log_container", "log_manage_container": "log_rw_container",
    "home_rw_container": "home_container", "home_manage_container": "home_rw_container",
    "tmp_rw_container": "tmp_container", "config_rw_container": "config_container",
}
_DIR_MANAGE = _p("ioctl read write create getattr setattr lock unlink link rename add_name remove_name reparent "
                 "search rmdir open")
_FILE_MANAGE = _p("ioctl read write create getattr setattr lock append unlink link rename open")
_HOME_DIR_RW = _p("open getattr setattr read write link search add_name remove_name reparent lock ioctl")
_SOCKET = _p("ioctl read getattr lock write setattr append bind connect getopt setopt shutdown create")
_DRI = _p("ioctl read write getattr lock append open map")
UDICA: Dict[str, Dict[Key, FrozenSet[str]]] = {
    "container": {
        ("process", "socket", "sock_file"): _p("create open getattr setattr read write rename link unlink ioctl "
                                               "lock append"),
        ("process", "proc_type", "file"): _p("getattr open read"),
        ("process", "cpu_online_t", "file"): _p("getattr open read"),
        ("container_runtime_t", "process", "key"): _p("create link read search setattr view write"),
    },
    "net_container": {},  # udica: only `typeattributeset sandbox_net_domain (process)` (see DELIBERATE)
    "restricted_net_container": {
        ("process", "process", "tcp_socket"): _SOCKET | _p("listen accept"),
        ("process", "process", "udp_socket"): _SOCKET,
        ("process", "process", "sctp_socket"): _SOCKET,
        ("process", "proc_t", "lnk_file"): _p("read"),
        ("process", "node_t", "node"): _p("tcp_recv tcp_send recvfrom sendto udp_recv udp_send"),
        ("process", "node_t", "udp_socket"): _p("node_bind"),
        ("process", "node_t", "tcp_socket"): _p("node_bind"),
        ("process", "http_port_t", "tcp_socket"): _p("name_connect recv_msg send_msg"),
    },
    "log_container": {
        ("process", "var_t", "dir"): _p("getattr search open"),
        ("process", "logfile", "dir"): _p("ioctl read getattr lock search open"),
        ("process", "logfile", "file"): _p("ioctl read getattr lock open map"),
        ("process", "auditd_log_t", "dir"): _p("ioctl read getattr lock search open"),
        ("process", "auditd_log_t", "file"): _p("ioctl read getattr lock open"),
    },
    "log_rw_container": {
        ("process", "logfile", "dir"): _p("ioctl read write create getattr setattr lock add_name search open"),
        ("process", "logfile", "file"): _p("ioctl read write create getattr setattr lock append open"),
        ("process", "logfile", "lnk_file"): _p("ioctl read write getattr lock append open"),
        ("process", "var_t", "dir"): _p("getattr search open"),
        ("process", "auditd_log_t", "dir"): _p("ioctl read getattr lock search open"),
        ("process", "auditd_log_t", "file"): _p("ioctl read getattr lock open"),
    },
    "log_manage_container": {
        ("process", "logfile", "dir"): _DIR_MANAGE,
        ("process", "logfile", "file"): _FILE_MANAGE,
        ("process", "logfile", "lnk_file"): _FILE_MANAGE - {"open"},
        ("process", "auditd_log_t", "dir"): _p("ioctl read write getattr lock search open"),
        ("process", "auditd_log_t", "file"): _p("ioctl read write getattr lock open"),
    },
    "home_container": {
        ("process", "process", "capability"): _p("dac_override"),
        ("process", "user_home_dir_t", "dir"): _p("getattr search open read lock ioctl"),
        ("process", "home_root_t", "dir"): _p("getattr search open read lock ioctl"),
        ("process", "user_home_t", "dir"): _p("getattr search open read lock ioctl"),
        ("process", "user_home_dir_t", "file"): _p("getattr ioctl lock open read"),
        ("process", "user_home_t", "file"): _p("getattr ioctl lock open read"),
    },
    "home_rw_container": {
        ("process", "user_home_dir_t", "dir"): _HOME_DIR_RW,
        ("process", "home_root_t", "dir"): _HOME_DIR_RW,
        ("process", "user_home_t", "dir"): _HOME_DIR_RW,
        ("process", "user_home_t", "file"): _p("open getattr read write append ioctl lock"),
        ("process", "user_home_dir_t", "file"): _p("open getattr read write append ioctl lock"),
    },
    "home_manage_container": {
        ("process", "user_home_dir_t", "dir"): _p("create unlink rename rmdir"),
        ("process", "home_root_t", "dir"): _p("create unlink rename rmdir"),
        ("process", "user_home_t", "dir"): _p("create unlink rename rmdir"),
        ("process", "user_home_t", "file"): _p("create rename link unlink"),
        ("process", "user_home_dir_t", "file"): _p("create rename link unlink"),
    },
    "tmp_container": {
        ("process", "tmpfile", "dir"): _p("getattr search open"),
        ("process", "tmpfile", "file"): _p("ioctl read getattr lock open"),
    },
    "tmp_rw_container": {
        ("process", "tmpfile", "file"): _p("ioctl read write getattr lock append open"),
        ("process", "tmpfile", "dir"): _p("ioctl read write getattr lock append open"),
    },
    "config_container": {
        ("process", "configfile", "dir"): _p("ioctl read getattr lock search open"),
        ("process", "configfile", "file"): _p("ioctl read getattr lock open"),
        ("process", "configfile", "lnk_file"): _p("read getattr"),
    },
    "config_rw_container": {
        ("process", "configfile", "dir"): _p("ioctl read write getattr lock append open"),
        ("process", "configfile", "file"): _p("ioctl read write getattr lock append open"),
        ("process", "configfile", "lnk_file"): _p("ioctl read write getattr lock append open"),
    },
    "config_manage_container": {
        ("process", "configfile", "dir"): _DIR_MANAGE,
        ("process", "configfile", "file"): _FILE_MANAGE,
        ("process", "configfile", "lnk_file"): _FILE_MANAGE,
    },
    "tty_container": {
        ("process", "device_t", "dir"): _p("getattr search open ioctl read lock"),
        ("process", "device_t", "lnk_file"): _p("read getattr"),
        ("process", "devtty_t", "chr_file"): _p("ioctl read write getattr lock append open"),
    },
    "x_container": {
        ("xserver_t", "process", "shm"): _p("getattr read write associate unix_read unix_write lock"),
        ("process", "xserver_t", "unix_stream_socket"): _p("connectto"),
        ("process", "device_t", "dir"): _p("getattr search open"),
        ("process", "dri_device_t", "chr_file"): _DRI,
        ("process", "xserver_misc_device_t", "chr_file"): _DRI,
        ("process", "urandom_device_t", "chr_file"): _p("open read"),
        ("process", "tmpfs_t", "dir"): _p("getattr search open"),
        ("process", "tmp_t", "dir"): _p("getattr search open"),
        ("process", "tmp_t", "lnk_file"): _p("read getattr"),
        ("process", "xserver_tmp_t", "dir"): _p("getattr search open"),
        ("process", "xserver_tmp_t", "sock_file"): _p("write getattr append open"),
        ("process", "xserver_exec_t", "file"): _p("ioctl read getattr lock map execute execute_no_trans open"),
    },
    "virt_container": {
        ("process", "var_t", "dir"): _p("getattr search open"),
        ("process", "var_t", "lnk_file"): _p("read getattr"),
        ("process", "var_run_t", "dir"): _p("getattr search open"),
        ("process", "var_run_t", "lnk_file"): _p("read getattr"),
        ("process", "virt_var_run_t", "dir"): _p("getattr search open"),
        ("process", "virt_var_run_t", "sock_file"): _p("write getattr append open"),
        ("process", "virtd_t", "unix_stream_socket"): _p("connectto"),
    },
}

# Permissions udica names that the reference policy's class does not have (so not given here).
ABSENT_PERMISSIONS = {"node": _p("tcp_recv tcp_send udp_recv udp_send"), "tcp_socket": _p("recv_msg send_msg")}
# What differs from udica on purpose: (template, key) -> why.
_LEGACY = "legacy permissions the policy does not have"
DELIBERATE = {
    ("container", ("process", "proc_type", "file")): "proc_type holds proc_kcore_t and proc_kmsg_t, which the "
                                                     "reference policy's neverallows keep from containers",
    ("home_container", ("process", "process", "capability")): "class capability is on the denylist",
    ("restricted_net_container", ("process", "node_t", "node")): _LEGACY,
    ("restricted_net_container", ("process", "http_port_t", "tcp_socket")): _LEGACY,
}


def _ours() -> Dict[str, Dict[Key, Set[str]]]:
    """Each template's own allow rules, from its CIL text."""
    rules: Dict[str, Dict[Key, Set[str]]] = {}
    inherits: Dict[str, str] = {}
    for name, text in selinux_templates.TEMPLATES.items():
        block = selinux.tokenize_cil(text, name, "cil")[0]
        own: Dict[Key, Set[str]] = {}
        for stmt in block[2:]:
            if stmt[0] == "blockinherit":
                inherits[name] = stmt[1]
            elif stmt[0] == "allow":
                target = "process" if stmt[2] == "self" else stmt[2]
                own.setdefault((stmt[1], target, stmt[3][0]), set()).update(stmt[3][1])
        rules[name] = own
    return _with_inherited(rules, inherits)


def _with_inherited(rules, inherits):
    out = {}
    for name in rules:
        merged: Dict[Key, Set[str]] = {}
        current = name
        while current:
            for key, perms in rules[current].items():
                merged.setdefault(key, set()).update(perms)
            current = inherits.get(current)
        out[name] = merged
    return out


def test_every_template_of_udicas_is_here():
    assert set(UDICA) == set(selinux_templates.TEMPLATE_NAMES)


@pytest.mark.parametrize("template", sorted(UDICA))
def test_each_template_gives_udicas_permissions(template):
    ours = _ours()[template]
    udica = _with_inherited({n: {k: set(v) for k, v in rules.items()} for n, rules in UDICA.items()},
                            UDICA_INHERITS)[template]
    for key, perms in sorted(udica.items()):
        if key[2] == "capability" or key == ("process", "proc_type", "file"):  # DELIBERATE: not given at all
            assert key not in ours, key
            continue
        expected = perms - ABSENT_PERMISSIONS.get(key[2], frozenset())
        assert ours.get(key) == expected, (template, key, sorted(ours.get(key, ())), sorted(expected))


def test_the_deliberate_differences_are_still_true():
    """Each difference listed is one: the permission udica names is missing from the reference policy (read
    from the host's compiled policy), or refused by the denylist."""
    assert "capability" in selinux.DENIED_CLASSES
    policies = sorted(glob.glob("/etc/selinux/default/policy/policy.*"))
    if not policies:
        pytest.skip(reason="no compiled reference policy on this host (selinux-policy-default)")
    require_tools("seinfo")
    for cls, perms in ABSENT_PERMISSIONS.items():
        out = subprocess.run(["seinfo", policies[-1], "-c", cls, "-x"], capture_output=True, text=True,
                             check=True).stdout
        assert not perms & set(out.split()), (cls, out)


def test_the_template_types_exist_in_the_reference_policy():
    """Every type, attribute, class and permission the templates name exists in the host's policy (or is
    declared by the compatibility module), so the templates compile where the README says they do."""
    policies = sorted(glob.glob("/etc/selinux/default/policy/policy.*"))
    if not policies:
        pytest.skip(reason="no compiled reference policy on this host (selinux-policy-default)")
    require_tools("seinfo")
    compat = selinux.tokenize_cil(selinux_templates.COMPAT_CIL, "compat", "cil")
    declared = {stmt[1] for stmt in compat if stmt[0] in ("type", "typeattribute")}
    names = set()
    for rules in _ours().values():
        for source, target, _cls in rules:
            names.update(n for n in (source, target) if n != "process" and n != "socket")
    known = set(subprocess.run(["seinfo", policies[-1], "-t", "-a"], capture_output=True, text=True,
                               check=True).stdout.split())
    missing = []
    for name in sorted(names - declared - known):  # an alias (virt_var_run_t is virt_runtime_t's on Debian)
        out = subprocess.run(["seinfo", policies[-1], "-t", name], capture_output=True, text=True, check=False)
        if "Types: 1" not in out.stdout:
            missing.append(name)
    assert missing == []


def test_each_deliberate_difference_is_a_difference():
    ours = _ours()
    for (template, key), why in DELIBERATE.items():
        assert key in UDICA[template] and why
        assert ours[template].get(key, set()) != set(UDICA[template][key]), (template, key)


def test_every_template_inherited_compiles_with_the_reference_policys_neverallows():
    """A profile inheriting each template, compiled with every module of the host's policy store and the
    neverallow checks on (secilc's default; Debian's semodule skips them with expand-check=0, a node with
    container-selinux does not): a template rule a neverallow forbids (udica's proc_type read reaches
    proc_kcore_t and proc_kmsg_t) would break every profile on such a node."""
    require_tools("secilc")
    modules = store_modules()
    system = selinux_templates.system_modules(compat=not any(name == "container" for name, _text in modules))
    deny = selinux.Denylist.allowing(system_profiles=selinux_templates.TEMPLATE_NAMES)
    profiles = [{"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha2", "kind": "SelinuxProfile",
                 "metadata": {"name": "t%d" % index, "namespace": "neverallow"},
                 "spec": {"inherit": [{"name": template}], "allow": {}}}
                for index, template in enumerate(sorted(selinux_templates.TEMPLATE_NAMES))]
    cils = [selinux_cil.profile_cil(profile) for profile in selinux.parse_profiles(profiles, deny)]
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        texts = modules + [(n, t.encode()) for n, t in sorted(system.items())] + [
            ("profile%d" % i, cil.encode()) for i, cil in enumerate(cils)]
        for index, (name, text) in enumerate(texts):
            path = os.path.join(tmp, "%03d-%s.cil" % (index, name))
            with open(path, "wb") as handle:
                handle.write(text)
            paths.append(path)
        proc = subprocess.run(["secilc", "-o", os.path.join(tmp, "policy"), "-f", "/dev/null"] + paths,
                              capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
