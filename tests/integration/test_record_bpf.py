# -*- coding: utf-8 -*-
"""Recording with the eBPF recorder (bpftrace on the raw_syscalls tracepoints), with the real components:
auditd stopped and kernel auditing off, ``record.yml -e source=bpf`` records a runc workload; runc enforces
the recorded profile (the workload passes, unshare is denied); and the eBPF recorder and auditd, watching
the same run, see the same syscalls."""
from __future__ import annotations

import os
import subprocess
import time

import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_local as recording_bpf
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_program
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_recorder import BpftraceProcess
from conftest import ansible_playbook, require_root, require_tools
from test_record_runc import WEB, _enforce


def _audit_enabled() -> int:
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout
    return int(out.split("enabled", 1)[1].split()[0])


def test_record_playbook_bpf_without_audit(fresh_boot, busybox_rootfs, tmp_path):
    require_tools("bpftrace")
    output = str(tmp_path / "web.yaml")
    proc = ansible_playbook("playbooks/record.yml", "-e", "name=web-bpf", "-e", "source=bpf",
                            "-e", "command='%s'" % WEB, "-e", "output=%s" % output)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # nothing of the audit subsystem was needed nor switched on
    assert _audit_enabled() == 0
    assert subprocess.run(["pgrep", "-x", "auditd"], capture_output=True, check=False).returncode == 1
    profile = yaml.safe_load(open(output).read())
    assert profile["metadata"] == {"name": "web-bpf", "namespace": "default"}
    assert profile["spec"]["baseProfileName"] == oci.runtime_base_profile_name()
    names = set(profile["spec"]["syscalls"][0]["names"])
    assert {"socket", "bind", "listen", "connect", "accept", "execve", "mkdir", "wait4"} <= names
    assert "unshare" not in names
    allowed = _enforce(profile, ["/bin/sh", "-c", WEB], tmp_path, busybox_rootfs)
    assert allowed.rc == 0 and "hello-web" in allowed.stdout, allowed.stderr
    denied = _enforce(profile, ["unshare", "--mount", "true"], tmp_path, busybox_rootfs, caps=["CAP_SYS_ADMIN"])
    assert denied.rc != 0 and "Operation not permitted" in denied.stderr
    free = oci.run_once(["unshare", "--mount", "true"], None, str(tmp_path), rootfs=busybox_rootfs,
                        extra_caps=["CAP_SYS_ADMIN"])
    assert free.rc == 0, free.stderr


def test_bpf_and_audit_see_the_same_run(auditd, busybox_rootfs):
    """Both recorders watch one run (the audit session and the cgroup are of the same container)."""
    require_root()
    require_tools("bpftrace")
    group = recording_bpf.RecordingCgroup()
    recorder = BpftraceProcess()
    try:
        recorder.start()
        try:
            rec = recording_local.record("same", "default", WEB, source="audit_log", base_profile_name="",
                                         cgroups_path=group.path)
        finally:
            output = recorder.stop()
    finally:
        recorder.kill()
        group.remove()
    assert rec["rc"] == 0 and "hello-web" in rec["stdout"], rec["stderr"]
    assert output.dropped == 0 and output.dumped
    bpf = recording_bpf.syscall_names(sorted(output.of(group.id)))
    print("audit: %d syscalls (%d records); bpf: %d syscalls (%d events)"
          % (len(rec["syscalls"]), rec["records"], len(bpf), output.events(group.id)))
    assert {"socket", "accept", "execve"} <= set(bpf)
    assert bpf == rec["syscalls"]


def test_bpf_records_processes_that_exit_at_once_and_fails_clearly_without_bpftrace(busybox_rootfs, tmp_path):
    require_root()
    require_tools("bpftrace")
    # twenty processes that each make one distinctive call and exit at once, in the background
    rec = recording_bpf.record("burst", "default", "for i in 1 2 3 4 5 6 7 8 9 10; do (sync &); (uname >/dev/null &);"
                               " done; wait", rootfs=busybox_rootfs)
    assert rec["rc"] == 0 and {"sync", "uname", "clone", "execve"} <= set(rec["syscalls"])
    saved = os.environ["PATH"]
    os.environ["PATH"] = str(tmp_path)
    try:
        recording_bpf.record("nobpf", "default", "true", rootfs=busybox_rootfs)
    except recording_bpf.SpoError as exc:
        assert "bpftrace not found" in str(exc)
    else:
        raise AssertionError("recorded without bpftrace")
    finally:
        os.environ["PATH"] = saved


def test_a_restarted_recorder_records_the_containers_already_running(tmp_path):
    """A recorder that starts while a recorded workload runs (its own restart) is given the workload's tasks: what
    they and the children they fork call from then on is recorded under their cgroup (``times`` by the shell
    itself, ``sync`` by a child); a recorder given no tasks records nothing of it (the runtime's hand-over, which
    arms a task, happened before it started)."""
    require_root()
    require_tools("bpftrace")
    bpf_program.ensure_tracefs()
    group = recording_bpf.RecordingCgroup()
    flag = str(tmp_path / "go")
    script = "while [ ! -e %s ]; do sleep 0.2; done; times; sync; sleep 0.5" % flag
    shell = subprocess.Popen(["/bin/sh", "-c", "echo $$ > %s/cgroup.procs && exec /bin/sh -c '%s'"
                              % (os.path.join(group.mount, group.path.lstrip("/")), script)])
    seen = {}
    try:
        deadline = time.monotonic() + 10
        while str(shell.pid) not in open(os.path.join(group.mount, group.path.lstrip("/"), "cgroup.procs")).read():
            assert time.monotonic() < deadline, "the workload did not enter its cgroup"
            time.sleep(0.05)
        blind = BpftraceProcess().start()
        seeded = BpftraceProcess(seed_tids=[shell.pid]).start()
        open(flag, "w").close()
        shell.wait(30)
        for name, recorder in (("seeded", seeded), ("blind", blind)):
            out = recorder.stop()
            seen[name] = recording_bpf.syscall_names(out.of(group.id)) if out.of(group.id) else []
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
        group.remove()
    print("restarted recorder: seeded %d syscalls, unseeded %d" % (len(seen["seeded"]), len(seen["blind"])))
    assert {"times", "sync", "clock_nanosleep", "execve"} <= set(seen["seeded"]), seen
    assert seen["blind"] == [], seen
