# -*- coding: utf-8 -*-
"""Recording with the real components: auditd writes the SECCOMP records of a runc container run
under SCMP_ACT_LOG; the recorded profile is enforced by runc: the workload passes, unshare fails."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request

import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import profiles as recording
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
from conftest import AUDIT_LOG, ROOT, VENV_BIN, ansible_playbook

WEB = ("echo hello-web > /var/www/index.html && httpd -p 127.0.0.1:8080 -h /var/www && "
       "wget -q -O - http://127.0.0.1:8080/index.html && mkdir -p /tmp/d && touch /tmp/d/f && rm -r /tmp/d && "
       "ps > /dev/null && ls /")


SHIPPED = [yaml.safe_load(open(path)) for path in sorted(glob.glob(os.path.join(ROOT, "profiles", "seccomp", "*.yaml")))]


def _enforce(profile, args, workdir, rootfs, caps=()):
    return oci.run_once(args, seccomp.to_oci(profile, shipped=SHIPPED), str(workdir), rootfs=rootfs, extra_caps=caps)


def test_record_web_workload_then_enforce(auditd, busybox_rootfs, tmp_path):
    rec = recording_local.record("web", "default", WEB, source="audit_log", base_profile_name="auto")
    assert rec["rc"] == 0 and "hello-web" in rec["stdout"], rec["stderr"]
    # runc's own start-up needs come from the shipped base of the installed runc
    assert rec["profile"]["spec"]["baseProfileName"] == oci.runtime_base_profile_name()
    names = set(rec["syscalls"])
    assert {"socket", "bind", "listen", "connect", "accept", "execve", "mkdir"} <= names
    assert "unshare" not in names
    profile = yaml.safe_load(recording.to_yaml(rec["profile"]))
    allowed = _enforce(profile, ["/bin/sh", "-c", WEB], tmp_path, busybox_rootfs)
    assert allowed.rc == 0 and "hello-web" in allowed.stdout, allowed.stderr
    denied = _enforce(profile, ["unshare", "--mount", "true"], tmp_path, busybox_rootfs, caps=["CAP_SYS_ADMIN"])
    assert denied.rc != 0 and "Operation not permitted" in denied.stderr
    # the same command with CAP_SYS_ADMIN and no seccomp filter works: the denial above is seccomp's
    free = oci.run_once(["unshare", "--mount", "true"], None, str(tmp_path), rootfs=busybox_rootfs,
                        extra_caps=["CAP_SYS_ADMIN"])
    assert free.rc == 0, free.stderr


def _ground_truth(session):
    """Undisturbed read of every audit log file for the session's syscalls."""
    scanner = audit.Scanner()
    for path in sorted(glob.glob(AUDIT_LOG + "*")):
        scanner.feed_file(path)
    return audit.syscalls_by_session(scanner.records()).get(session, [])


def _start_enricher(state_dir, port):
    proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-enricher"), "--audit-log", AUDIT_LOG, "--state-dir",
                             state_dir, "--metrics-address", "127.0.0.1:%d" % port, "--interval", "0.05"],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("spo-enricher did not come up: %s" % proc.stderr.read())


def test_rotation_and_enricher_restart_mid_recording(auditd, tmp_path):
    state_dir = str(tmp_path / "enricher")
    port = 19000 + os.getpid() % 1000
    enricher = _start_enricher(state_dir, port)
    work = ("ls / > /dev/null && sleep 1 && cat /etc/passwd && sleep 1.5 && echo x > /tmp/y && cat /tmp/y && "
            "sleep 1 && wc -l /etc/passwd && date > /dev/null")
    results = {}

    def run(source):
        results[source] = recording_local.record("rot-" + source.replace("_", "-"), "default", work, source=source,
                                                 enricher_dir=state_dir)

    threads = [threading.Thread(target=run, args=(s,)) for s in ("enricher", "audit_log")]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.7)
        os.kill(auditd, signal.SIGUSR1)  # `service auditd rotate`
        time.sleep(1.2)
        enricher.send_signal(signal.SIGTERM)  # restart while the containers still run
        assert enricher.wait(timeout=10) == 0
        enricher = _start_enricher(state_dir, port)
        for thread in threads:
            thread.join(timeout=60)
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
    finally:
        enricher.send_signal(signal.SIGTERM)
        enricher.wait(timeout=10)
    assert set(results) == {"enricher", "audit_log"}
    for source, rec in results.items():
        assert rec["rc"] == 0, rec["stderr"]
        truth = _ground_truth(rec["session"])
        assert {"execve", "clock_nanosleep", "write", "openat"} <= set(truth)
        assert rec["syscalls"] == truth, source
    state = json.loads(open(os.path.join(state_dir, "position.json")).read())
    assert state["inode"] == os.stat(AUDIT_LOG).st_ino
    sample = [line for line in metrics.splitlines()
              if line.startswith("security_profiles_operator_seccomp_profile_audit_total{")
              and 'syscall="clock_nanosleep"' in line]
    assert sample and 'node="' in sample[0], metrics


def test_record_playbook_idempotent(auditd, tmp_path):
    output = str(tmp_path / "rec.yaml")
    extra = ["-e", "name=pb-rec", "-e", "command='echo hi && ls /'", "-e", "output=%s" % output, "-e", "merge=true"]
    first = ansible_playbook("playbooks/record.yml", *extra, check=True)
    assert "changed=1" in first.stdout
    doc = yaml.safe_load(open(output).read())
    assert doc["kind"] == "SeccompProfile" and doc["metadata"] == {"name": "pb-rec", "namespace": "default"}
    # merge=true: a rerun only adds what a run had not seen before (a signal arriving, rt_sigreturn),
    # so repeated recordings converge and then report no change
    names = set(doc["spec"]["syscalls"][0]["names"])
    for dummy in range(4):
        again = ansible_playbook("playbooks/record.yml", *extra, check=True)
        now = set(yaml.safe_load(open(output).read())["spec"]["syscalls"][0]["names"])
        assert now >= names
        names = now
        if "changed=0" in again.stdout:
            break
    else:
        raise AssertionError("recording did not converge in 4 runs")


def test_record_from_fresh_boot(fresh_boot, busybox_rootfs, tmp_path):
    """A freshly booted host: kernel auditing off, no auditd. The recorder turns auditing on (the
    kernel otherwise drops every record and the end marker) and reads the kernel log."""
    started = time.monotonic()
    rec = recording_local.record("fresh", "default", "cat /etc/passwd > /dev/null && ls /", source="auto",
                                 collect_timeout=20)
    assert time.monotonic() - started < 15
    assert rec["source"] == "kernel_log" and rec["rc"] == 0
    assert "auditctl -e 1" in rec["audit_changes"]
    assert {"execve", "openat", "getdents64"} <= set(rec["syscalls"])
    assert subprocess.run(["auditctl", "-s"], capture_output=True, text=True, check=True).stdout.startswith("enabled 1")


def test_record_audit_log_without_auditd_fails_at_once(fresh_boot):
    started = time.monotonic()
    try:
        recording_local.record("fresh", "default", "true", source="audit_log")
    except recording_local.SpoError as exc:
        assert "auditd is not running" in str(exc) and "source=auto" in str(exc)
    else:
        raise AssertionError("recorded from audit_log without auditd")
    assert time.monotonic() - started < 2


def test_record_playbook_from_fresh_boot(fresh_boot, tmp_path):
    output = str(tmp_path / "rec.yaml")
    proc = ansible_playbook("playbooks/record.yml", "-e", "name=pb-fresh", "-e", "command='ls /'",
                            "-e", "output=%s" % output)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "execve" in yaml.safe_load(open(output).read())["spec"]["syscalls"][0]["names"]
