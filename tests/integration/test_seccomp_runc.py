# -*- coding: utf-8 -*-
"""Proof with the real runtime: runc enforces the JSON the seccomp_profile module wrote."""
from __future__ import annotations

import errno
import json
import os

import pytest

from conftest import AUDIT_LOG, ROOT, ansible_playbook, require_root, require_tools

from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci

API = "security-profiles-operator.x-k8s.io/v1beta1"
SHIPPED_NS = "security-profiles-operator"
# What `/bin/echo hello` (busybox-static) itself calls after execve, as a recording
# (SCMP_ACT_LOG + auditd) of it shows on Debian 12 x86_64.
ECHO_SYSCALLS = ["arch_prctl", "brk", "exit_group", "getrandom", "getuid", "mprotect", "prctl", "prlimit64", "readlink",
                 "rseq", "set_robust_list", "set_tid_address", "write"]
# What `sh -c 'echo piped | cat'` calls (recorded with seccomp_record), clone left out
PIPE_SYSCALLS = ["arch_prctl", "brk", "close", "dup2", "epoll_ctl", "execve", "exit_group", "fstatfs", "getcwd",
                 "getdents64", "getpid", "getppid", "getrandom", "getuid", "mmap", "mprotect", "munmap", "openat",
                 "pipe2", "prctl", "prlimit64", "read", "readlink", "rseq", "rt_sigaction", "rt_sigreturn", "sendfile",
                 "set_robust_list", "set_tid_address", "uname", "wait4", "write"]
EOPNOTSUPP = errno.EOPNOTSUPP  # 95 on Linux
DENIED = "Operation not permitted"


def _profile(name, spec):
    return {"apiVersion": API, "kind": "SeccompProfile", "metadata": {"name": name, "namespace": "proof"}, "spec": spec}


CUSTOM = [
    _profile("chmod-eopnotsupp", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"action": "SCMP_ACT_ERRNO", "errnoRet": EOPNOTSUPP, "names": ["chmod", "fchmod", "fchmodat"]}]}),
    # upstream omits a zero errnoRet: the call fails with EPERM (written as 0, it would "succeed" without running)
    _profile("chmod-errno-zero", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"action": "SCMP_ACT_ERRNO", "errnoRet": 0, "names": ["chmod", "fchmod", "fchmodat"]}]}),
    # upstream ignores an errnoRet on ALLOW; native architecture named as upstream's CRD allows
    _profile("allow-with-errno", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_NATIVE"],
                                  "syscalls": [{"action": "SCMP_ACT_ALLOW", "errnoRet": 5, "names": ["chmod"]},
                                               {"action": "SCMP_ACT_ERRNO", "names": ["fchmodat"]}]}),
    # a child of the runc base whose own clone rule has a condition (only with CLONE_NEWUSER): the base
    # allows clone unconditionally, so the union still lets the shell fork
    _profile("pipe-clone-filtered", {"defaultAction": "SCMP_ACT_ERRNO", "baseProfileName": "runc-recorded-v1.1.5",
                                     "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": PIPE_SYSCALLS},
                                                  {"action": "SCMP_ACT_ALLOW", "names": ["clone"], "args": [
                                                      {"index": 0, "value": 0x10000000, "valueTwo": 0x10000000,
                                                       "op": "SCMP_CMP_MASKED_EQ"}]}]}),
    # names newer than this host's libseccomp (2.5.4) are kept in the JSON; runc skips them and loads the rest
    _profile("newer-names", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"action": "SCMP_ACT_ERRNO", "names": ["chmod", "fchmod", "fchmodat", "statmount", "listmount", "mseal",
                                               "lsm_get_self_attr", "getxattrat", "open_tree_attr", "uretprobe"]}]}),
    _profile("echo-recorded", {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                               "baseProfileName": "runc-recorded-v1.1.5",
                               "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ECHO_SYSCALLS}]}),
    _profile("echo-without-base", {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                                   "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ECHO_SYSCALLS}]}),
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Install the shipped and the proof profiles with the module; return {name: OCI dict} read from disk."""
    require_root()
    require_tools("runc")
    work = tmp_path_factory.mktemp("seccomp-runc")
    kubelet = work / "kubelet"
    variables = work / "vars.json"
    variables.write_text(json.dumps({"custom": CUSTOM, "kubelet_dir": str(kubelet),
                                     "shipped": os.path.join(ROOT, "profiles", "seccomp")}))
    playbook = work / "install.yml"
    playbook.write_text("""\
- name: Install the profiles runc will enforce
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Shipped profiles
      spo.security_profiles.seccomp_profile:
        src: "{{ shipped }}"
        kubelet_dir: "{{ kubelet_dir }}"
    - name: Proof profiles
      spo.security_profiles.seccomp_profile:
        definition: "{{ custom }}"
        kubelet_dir: "{{ kubelet_dir }}"
""")
    ansible_playbook(str(playbook), "-e", "@" + str(variables), check=True)
    root = kubelet / "seccomp" / "operator"
    loaded = {}
    for namespace in (SHIPPED_NS, "proof"):
        for entry in os.listdir(str(root / namespace)):
            loaded[entry[:-len(".json")]] = json.loads((root / namespace / entry).read_text())
    return loaded


def run(installed, name, script, busybox_rootfs, tmp_path, caps=("CAP_SYS_ADMIN",), no_new_privileges=True):
    """Run ``sh -c script`` in a busybox container under profile ``name`` (None: no filter)."""
    seccomp = None if name is None else installed[name]
    config = oci.bundle_config(["/bin/sh", "-c", script], seccomp, rootfs=busybox_rootfs, extra_caps=caps)
    config["process"]["noNewPrivileges"] = no_new_privileges
    bundle = str(tmp_path / ("bundle-%s-%d" % (name, abs(hash(script)))))
    oci.write_bundle(bundle, config)
    return oci.run(bundle, timeout=60)


ALLOWED = "echo hello && ls / >/dev/null && echo data >/tmp/f && cat /tmp/f"
UNSHARE = "unshare -m true"
MOUNT = "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo mounted"
UMOUNT = "mkdir -p /tmp/m; mount -t tmpfs none /tmp/m 2>/dev/null; umount /tmp/m && echo unmounted"
# busybox mount words EPERM (and EACCES) its own way instead of strerror(); umount prints strerror.
BUSYBOX_MOUNT_EPERM = "permission denied (are you root?)"


@pytest.mark.parametrize("name", ["profile-complain-block-high-risk", "profile-allow-unsafe"])
def test_allowed_operations_work(installed, name, busybox_rootfs, tmp_path):
    result = run(installed, name, ALLOWED, busybox_rootfs, tmp_path)
    assert result.rc == 0, result.stderr
    assert result.stdout == "hello\ndata\n"


@pytest.mark.parametrize("script", [UNSHARE, MOUNT, UMOUNT], ids=["unshare", "mount", "umount"])
def test_high_risk_denied_by_seccomp_not_by_capabilities(installed, script, busybox_rootfs, tmp_path):
    # CAP_SYS_ADMIN is granted, so only seccomp can refuse these calls ...
    blocked = run(installed, "profile-complain-block-high-risk", script, busybox_rootfs, tmp_path)
    assert blocked.rc != 0
    assert DENIED in blocked.stderr or (script == MOUNT and BUSYBOX_MOUNT_EPERM in blocked.stderr), blocked.stderr
    # ... and the same command works under the allow-all profile.
    allowed = run(installed, "profile-allow-unsafe", script, busybox_rootfs, tmp_path)
    assert allowed.rc == 0, allowed.stderr


def test_errno_ret_is_the_errno_chmod_gets(installed, busybox_rootfs, tmp_path):
    script = "touch /tmp/f && chmod 600 /tmp/f; echo rc=$?; stat -c %a /tmp/f"
    result = run(installed, "chmod-eopnotsupp", script, busybox_rootfs, tmp_path)
    assert os.strerror(EOPNOTSUPP) in result.stderr, result.stderr  # "Operation not supported"
    assert result.stdout.split() == ["rc=1", "644"]
    assert DENIED not in result.stderr
    control = run(installed, "profile-allow-unsafe", script, busybox_rootfs, tmp_path)
    assert control.stdout.split() == ["rc=0", "600"]


def test_errno_ret_zero_fails_the_call_with_eperm(installed, busybox_rootfs, tmp_path):
    assert installed["chmod-errno-zero"]["syscalls"] == [
        {"action": "SCMP_ACT_ERRNO", "names": ["chmod", "fchmod", "fchmodat"]}]
    script = "touch /tmp/f && chmod 600 /tmp/f; echo rc=$?; stat -c %a /tmp/f"
    result = run(installed, "chmod-errno-zero", script, busybox_rootfs, tmp_path)
    assert DENIED in result.stderr, result.stderr
    assert result.stdout.split() == ["rc=1", "644"]


def test_errno_ret_on_allow_is_ignored_and_native_arch_resolved(installed, busybox_rootfs, tmp_path):
    profile = installed["allow-with-errno"]
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.libseccomp import native_oci_arch
    assert profile["architectures"] == [native_oci_arch()]
    assert {"action": "SCMP_ACT_ALLOW", "names": ["chmod"]} in profile["syscalls"]
    result = run(installed, "allow-with-errno", "touch /tmp/f && chmod 600 /tmp/f; echo rc=$?; stat -c %a /tmp/f",
                 busybox_rootfs, tmp_path)
    assert result.stdout.split() == ["rc=0", "600"], result.stderr


@pytest.mark.parametrize("no_new_privileges", [True, False], ids=["nnp", "no-nnp"])
def test_recorded_allow_list_with_runc_base_runs_workload_and_denies_the_rest(installed, busybox_rootfs, tmp_path, no_new_privileges):
    def echo(name, args):
        config = oci.bundle_config(args, installed[name], rootfs=busybox_rootfs)
        config["process"]["noNewPrivileges"] = no_new_privileges
        bundle = str(tmp_path / ("b-%s-%s" % (name, args[0].rsplit("/", 1)[-1])))
        oci.write_bundle(bundle, config)
        return oci.run(bundle, timeout=60)

    result = echo("echo-recorded", ["/bin/echo", "hello"])
    assert result.rc == 0, result.stderr
    assert result.stdout == "hello\n"
    denied = echo("echo-recorded", ["/bin/mkdir", "/tmp/d"])
    assert denied.rc != 0 and DENIED in denied.stderr, denied.stderr
    # The base is needed: the workload's own syscalls alone do not let runc start it.
    without_base = echo("echo-without-base", ["/bin/echo", "hello"])
    assert without_base.rc != 0 and without_base.stdout == ""


def test_child_with_an_argument_rule_keeps_the_base_unconditional_rule(installed, busybox_rootfs, tmp_path):
    clone_rules = [r for r in installed["pipe-clone-filtered"]["syscalls"] if "clone" in r["names"]]
    assert clone_rules and all("args" not in r for r in clone_rules), clone_rules
    result = run(installed, "pipe-clone-filtered", "echo piped | cat", busybox_rootfs, tmp_path, caps=())
    assert result.rc == 0 and result.stdout == "piped\n", result.stderr


def test_names_newer_than_libseccomp_are_skipped_by_runc(installed, busybox_rootfs, tmp_path):
    assert "statmount" in installed["newer-names"]["syscalls"][0]["names"]
    result = run(installed, "newer-names", "echo hello && touch /tmp/f && chmod 600 /tmp/f; echo rc=$?",
                 busybox_rootfs, tmp_path)
    assert result.stdout.split() == ["hello", "rc=1"] and DENIED in result.stderr, result.stderr


CHMOD = "touch /tmp/f && chmod 600 /tmp/f; echo rc=$?"
TWO_ACTIONS = {
    "allow-and-errno": ("SCMP_ACT_LOG", {"action": "SCMP_ACT_ALLOW", "names": ["chmod"]},
                        {"action": "SCMP_ACT_ERRNO", "errnoRet": EOPNOTSUPP, "names": ["chmod"]}),
    "errno95-and-errno1": ("SCMP_ACT_ALLOW", {"action": "SCMP_ACT_ERRNO", "errnoRet": EOPNOTSUPP, "names": ["chmod"]},
                           {"action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM, "names": ["chmod"]}),
}


def _chmod_outcome(rules, default_action, rootfs, tmp_path, tag):
    config = oci.bundle_config(["/bin/sh", "-c", CHMOD], {"defaultAction": default_action, "syscalls": rules},
                               rootfs=rootfs)
    bundle = str(tmp_path / ("bundle-%s" % tag))
    oci.write_bundle(bundle, config)
    result = oci.run(bundle, timeout=60)
    assert result.rc == 0, result.stderr
    if "rc=0" in result.stdout:
        return "allowed"
    return "EPERM" if DENIED in result.stderr else "EOPNOTSUPP" if "not supported" in result.stderr else result.stderr


@pytest.mark.parametrize("case", sorted(TWO_ACTIONS))
def test_two_actions_for_one_syscall_depend_on_the_written_order_so_the_module_refuses_them(
        case, installed, busybox_rootfs, tmp_path):
    """runc (libseccomp) applies the FIRST of two unconditional rules for one syscall: the same two rules give
    two behaviours by their order, so the module refuses such a profile in either order, naming both fields."""
    default_action, first, second = TWO_ACTIONS[case]
    forward = _chmod_outcome([first, second], default_action, busybox_rootfs, tmp_path, case + "-fwd")
    backward = _chmod_outcome([second, first], default_action, busybox_rootfs, tmp_path, case + "-back")
    assert forward != backward, (forward, backward)
    assert forward == {"allow-and-errno": "allowed", "errno95-and-errno1": "EOPNOTSUPP"}[case]  # the first one wins
    for rules in ([first, second], [second, first]):
        variables = tmp_path / ("vars-%s.json" % case)
        variables.write_text(json.dumps({"custom": [_profile("two-actions", {"defaultAction": default_action,
                                                                             "syscalls": rules})],
                                         "kubelet_dir": str(tmp_path / "kubelet")}))
        playbook = tmp_path / "two.yml"
        playbook.write_text("""\
- name: Install a profile with two actions for one syscall
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Install it
      spo.security_profiles.seccomp_profile:
        definition: "{{ custom }}"
        kubelet_dir: "{{ kubelet_dir }}"
""")
        proc = ansible_playbook(str(playbook), "-e", "@" + str(variables))
        assert proc.returncode != 0
        assert "SeccompProfile proof/two-actions: spec.syscalls[1].names[0]: syscall 'chmod' has two unconditional " \
               "actions" in proc.stdout, proc.stdout
        assert not (tmp_path / "kubelet" / "seccomp" / "operator" / "proof" / "two-actions.json").exists()


MOBY_DEFAULT = os.path.join(ROOT, "tests", "data", "seccomp", "moby-default.yaml")


def test_dockers_default_profile_installs_from_src_and_runc_enforces_it(busybox_rootfs, tmp_path):
    """moby's default profile (tests/data), given as src: accepted (riscv_hwprobe and the other names this host's
    libseccomp lacks kept, with a warning); runc loads it; the workload runs; mount stays denied although the
    container holds CAP_SYS_ADMIN (the profile's mount rule is the one for containers with that capability)."""
    kubelet = tmp_path / "kubelet"
    playbook = tmp_path / "moby.yml"
    playbook.write_text("""\
- name: Install Docker's default profile
  hosts: localhost
  gather_facts: false
  tasks:
    - name: From a YAML file
      spo.security_profiles.seccomp_profile:
        src: %s
        kubelet_dir: %s
""" % (MOBY_DEFAULT, kubelet))
    proc = ansible_playbook(str(playbook), check=True)
    assert "[WARNING]" in proc.stderr and "riscv_hwprobe" in proc.stderr, proc.stderr
    loaded = {"moby-default": json.loads((kubelet / "seccomp" / "operator" / "compat" / "moby-default.json").read_text())}
    assert any("riscv_hwprobe" in rule["names"] for rule in loaded["moby-default"]["syscalls"])
    result = run(loaded, "moby-default", ALLOWED, busybox_rootfs, tmp_path)
    assert result.rc == 0 and result.stdout == "hello\ndata\n", result.stderr
    blocked = run(loaded, "moby-default", MOUNT, busybox_rootfs, tmp_path)
    assert blocked.rc != 0 and (DENIED in blocked.stderr or BUSYBOX_MOUNT_EPERM in blocked.stderr), blocked.stderr


def _runc_version():
    import subprocess
    out = subprocess.run(["runc", "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[2].split("+")[0]  # "runc version 1.1.5+ds1" -> "1.1.5"


@pytest.mark.parametrize("no_new_privileges", [True, False], ids=["nnp", "no-nnp"])
def test_runc_base_covers_what_runc_init_calls(auditd, installed, busybox_rootfs, tmp_path, no_new_privileges):
    """Record runc:[2:INIT] under SCMP_ACT_LOG with auditd, as the base was derived; every call must be in the base."""
    import re
    import time
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp

    audit_log = AUDIT_LOG
    base_name = "runc-recorded-v" + _runc_version()
    assert base_name in installed, "no shipped base profile for the installed runc: add profiles/seccomp/%s.yaml (recorded as that one was)" % base_name
    base = {name for rule in installed[base_name]["syscalls"] for name in rule["names"]}
    config = oci.bundle_config(["/bin/true"], installed["log-enricher-trace"], rootfs=busybox_rootfs)
    config["process"]["noNewPrivileges"] = no_new_privileges
    bundle = str(tmp_path / "bundle")
    oci.write_bundle(bundle, config)
    result = oci.run(bundle, new_audit_session=True, timeout=60)
    assert result.rc == 0 and result.audit_session, result.stderr
    token = libseccomp.native_arch_token()
    seen = set()
    for _attempt in range(50):
        with open(audit_log, errors="replace") as handle:
            for line in handle:
                if "type=SECCOMP" in line and " ses=%d " % result.audit_session in line and 'comm="runc:[2:INIT]"' in line:
                    seen.add(libseccomp.syscall_name(token, int(re.search(r" syscall=(\d+)", line).group(1))))
        if "execve" in seen:
            break
        time.sleep(0.1)
    assert "execve" in seen, "no SECCOMP records of runc init found in %s" % audit_log
    assert seen <= base, "runc init called syscalls missing from %s: %s" % (base_name, sorted(seen - base))
