# -*- coding: utf-8 -*-
"""Log enricher: cgroup attribution, tailing with rotation / copytruncate / restart, sets, metrics."""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.host import cgroup
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import Enricher, Tailer
from conftest import VENV_BIN, audit_samples_path

CID = "3f1a9c2b7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
POD = "0a1b2c3d-4e5f-6789-abcd-ef0123456789"
SAMPLES = audit_samples_path()


@pytest.mark.parametrize("text,expected", [
    # cgroup v1, cgroupfs driver (containerd, CRI-O, runc under kubelet)
    ("12:memory:/kubepods/besteffort/pod%s/%s\n1:name=systemd:/kubepods/besteffort/pod%s/%s\n" % (POD, CID, POD, CID), CID),
    # cgroup v1, systemd driver, containerd
    ("4:pids:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/cri-containerd-%s.scope\n"
     % (POD.replace("-", "_"), CID), CID),
    # cgroup v2, systemd driver, CRI-O (conmon's own scope is not the container)
    ("0::/kubepods.slice/kubepods-pod%s.slice/crio-%s.scope\n" % (POD.replace("-", "_"), CID), CID),
    ("0::/system.slice/crio-conmon-%s.scope\n" % CID, None),
    # cgroup v2, cgroupfs driver
    ("0::/kubepods/pod%s/%s\n" % (POD, CID), CID),
    # docker / podman
    ("0::/system.slice/docker-%s.scope\n" % CID, CID),
    ("0::/machine.slice/libpod-%s.scope/container\n" % CID, CID),
    ("11:devices:/docker/%s\n" % CID, CID),
    # host processes
    ("0::/user.slice/user-0.slice/session-3.scope\n", None),
    ("12:memory:/\n11:devices:/system.slice/sshd.service\n", None),
    ("", None),
    ("garbage without colons\n", None),
])
def test_container_id(text, expected):
    assert cgroup.container_id(text) == expected


def test_container_id_known_runc_name_and_pod_uid():
    assert cgroup.container_id("5:cpu:/spo-abc123\n", known_ids=["spo-abc123"]) == "spo-abc123"
    assert cgroup.container_id("5:cpu:/spo-abc123\n") is None
    text = "0::/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope\n" % (POD.replace("-", "_"), CID)
    assert cgroup.pod_uid(text) == POD


def test_cgroup_cache_reads_once(tmp_path):
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "cgroup").write_text("0::/kubepods/pod%s/%s\n" % (POD, CID))
    cache = cgroup.CgroupCache(proc=str(tmp_path))
    assert cache.lookup(42) == CID
    shutil.rmtree(str(tmp_path / "42"))  # the process exited: the first sight is remembered
    assert cache.lookup(42) == CID
    assert cache.lookup(43) is None


def _record(serial, ses, nr):
    return ('type=SECCOMP msg=audit(1.%03d:%d): auid=0 uid=0 gid=0 ses=%d pid=%d comm="sh" exe="/bin/busybox" sig=0 '
            'arch=c000003e syscall=%d compat=0 ip=0x1 code=0x7ffc0000\n' % (serial % 1000, serial, ses, 100 + serial,
                                                                            nr)).encode()


def _drain(tailer):
    data = b""
    while True:
        chunk = b"".join(tailer.poll())
        if not chunk:
            return data
        data += chunk


def test_tail_starts_at_end_and_reads_whole_lines_only(tmp_path):
    log = tmp_path / "audit.log"
    log.write_bytes(_record(1, 1, 0))
    tailer = Tailer(str(log))
    assert _drain(tailer) == b""
    with open(log, "ab") as handle:
        handle.write(_record(2, 1, 1)[:30])
    assert _drain(tailer) == b""
    with open(log, "ab") as handle:
        handle.write(_record(2, 1, 1)[30:])
    assert _drain(tailer) == _record(2, 1, 1)


@pytest.mark.parametrize("mode", ["rename", "copytruncate"])
def test_rotation_loses_and_duplicates_nothing(tmp_path, mode):
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    tailer = Tailer(str(log))
    lines = [_record(i, 1, i % 50) for i in range(1, 31)]
    expected = b"".join(lines)
    seen = b""
    with open(log, "ab") as handle:
        handle.write(b"".join(lines[:10]))
    seen += _drain(tailer)
    with open(log, "ab") as handle:
        handle.write(b"".join(lines[10:20]))  # written, not yet read when the log rotates
    if mode == "rename":
        os.rename(str(log), str(log) + ".1")
        log.write_bytes(b"".join(lines[20:]))
    else:
        shutil.copyfile(str(log), str(log) + ".1")
        with open(log, "r+b") as handle:
            handle.truncate(0)
        with open(log, "ab") as handle:
            handle.write(b"".join(lines[20:22]))
    seen += _drain(tailer)
    if mode == "copytruncate":
        with open(log, "ab") as handle:
            handle.write(b"".join(lines[22:]))
        seen += _drain(tailer)
    assert seen == expected


def test_restart_resumes_exactly_also_across_rotation(tmp_path):
    log = tmp_path / "audit.log"
    state = str(tmp_path / "state" / "position.json")
    log.write_bytes(b"")
    lines = [_record(i, 1, i % 50) for i in range(1, 21)]
    tailer = Tailer(str(log), state)
    with open(log, "ab") as handle:
        handle.write(b"".join(lines[:5]))
    seen = _drain(tailer)
    tailer.save()
    # stopped; meanwhile more lines, a rotation and more lines
    with open(log, "ab") as handle:
        handle.write(b"".join(lines[5:10]))
    os.rename(str(log), str(log) + ".1")
    log.write_bytes(b"".join(lines[10:]))
    restarted = Tailer(str(log), state)
    seen += _drain(restarted)
    assert seen == b"".join(lines)
    restarted.save()
    assert _drain(Tailer(str(log), state)) == b""


def test_enricher_sets_markers_metrics(tmp_path):
    enricher = Enricher(str(tmp_path), node="node1", proc=str(tmp_path / "noproc"))
    with open(SAMPLES, "rb") as handle:
        enricher.process(handle.read())
    assert enricher.flush() == 1
    data = json.loads((tmp_path / "sessions" / "7.json").read_text())
    assert data == {"syscalls": ["execve", "openat", "write"], "architectures": ["SCMP_ARCH_X86_64"],
                    "executables": ["/bin/busybox"], "records": 3, "markers": ["0123456789abcdef0123456789abcdef"]}
    assert enricher.dropped == 3  # no session, no container: dropped
    text = enricher.metrics_text()
    assert ('security_profiles_operator_seccomp_profile_audit_total{container="",executable="/bin/busybox",'
            'namespace="",node="node1",pod="",syscall="execve"} 1.0') in text
    # a new enricher (restart) continues the same set from disk
    again = Enricher(str(tmp_path), node="node1", proc=str(tmp_path / "noproc"))
    again.process(_record(5, 7, 39))
    again.flush()
    assert json.loads((tmp_path / "sessions" / "7.json").read_text())["syscalls"] == ["execve", "getpid", "openat",
                                                                                      "write"]


def test_cli_once_json():
    proc = subprocess.run([os.path.join(VENV_BIN, "spo-enricher"), "--once", SAMPLES], capture_output=True, text=True,
                          check=True)
    out = json.loads(proc.stdout)
    assert out["counts"] == {"read": 18, "used": 9, "skipped": 6, "other": 3}
    assert [(p["pid"], p["syscalls"]) for p in out["processes"]][:2] == [(4242, ["execve", "write"]),
                                                                         (4243, ["openat"])]
    missing = subprocess.run([os.path.join(VENV_BIN, "spo-enricher"), "--once", "/nonexistent"], capture_output=True,
                             text=True, check=False)
    assert missing.returncode == 2 and "/nonexistent" in missing.stderr


def test_cli_once_imports_no_daemon_modules():
    """`--once` is what users time against grep: the daemon's HTTP server stays unimported."""
    code = ("import sys; from spo_cli import enricher; "
            "print(sorted(m for m in ('http.server', 'socket') if m in sys.modules))")
    out = subprocess.run([os.path.join(VENV_BIN, "python"), "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


LONG = 2 << 20  # a line of 2 MiB: over the tailer's 1 MiB read


@pytest.mark.parametrize("pieces", [1, 5])
def test_tailer_skips_a_line_over_1_mib_and_reads_on(tmp_path, pieces):
    """A 2 MiB line (written at once, or in pieces while the tailer polls) is skipped and counted; the
    records after it are read and attributed."""
    log = tmp_path / "audit.log"
    log.write_bytes(b"")
    tailer = Tailer(str(log))
    enricher = Enricher(str(tmp_path / "state"), proc=str(tmp_path / "noproc"))
    seen = []
    with open(log, "ab") as handle:
        handle.write(_record(1, 7, 39))
        long_line = b"type=USER msg=audit(1.0:2): " + b"x" * LONG + b"\n"
        for index in range(pieces):
            handle.write(long_line[index * len(long_line) // pieces:(index + 1) * len(long_line) // pieces])
            handle.flush()
            seen += tailer.poll()
        handle.write(_record(3, 7, 59) + _record(4, 7, 231))
    for dummy in range(5):
        seen += tailer.poll()
    assert b"".join(seen) == _record(1, 7, 39) + _record(3, 7, 59) + _record(4, 7, 231)
    for buf in seen:
        enricher.process(buf)
    enricher.count_skipped(tailer.take_skipped())
    assert enricher.target("sessions", "7")["syscalls"] == ["execve", "exit_group", "getpid"]
    assert enricher.skipped == 1 and tailer.take_skipped() == 0
    assert any("skipped a line of more than 1048576 bytes" in event for event in tailer.events)
    assert "security_profiles_operator_enricher_lines_skipped_total 1" in enricher.metrics_text()


def test_tailer_restart_inside_a_long_line_skips_the_rest_of_it(tmp_path):
    """Stopped in the middle of a long line, a restart goes on skipping it (its rest is no line)."""
    log = tmp_path / "audit.log"
    state = str(tmp_path / "position.json")
    log.write_bytes(b"")
    tailer = Tailer(str(log), state)
    with open(log, "ab") as handle:
        handle.write(_record(1, 7, 39) + b"y" * LONG)
    assert _drain(tailer) == _record(1, 7, 39)
    tailer.save()
    with open(log, "ab") as handle:
        handle.write(b' type=SECCOMP msg=audit(1.0:9): ses=7 the rest of the long line\n' + _record(5, 7, 59))
    assert _drain(Tailer(str(log), state)) == _record(5, 7, 59)


def test_cli_daemon_goes_on_after_a_long_line(tmp_path):
    """spo-enricher (the daemon) reads the records after a 2 MiB line, logs the skip and counts it."""
    import socket
    import time
    import urllib.request
    log = tmp_path / "audit.log"
    log.write_bytes(_record(1, 7, 39) + b"z" * LONG + b"\n" + _record(3, 7, 59))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = tmp_path / "state"
    proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-enricher"), "--audit-log", str(log), "--state-dir", str(state),
                             "--metrics-address", "127.0.0.1:%d" % port, "--from-start", "--interval", "0.05"],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        data = {}
        while time.monotonic() < deadline and data.get("syscalls") != ["execve", "getpid"]:
            time.sleep(0.1)
            try:
                data = json.loads((state / "sessions" / "7.json").read_text())
            except (OSError, ValueError):
                pass
        assert data.get("syscalls") == ["execve", "getpid"]
        metrics = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5).read().decode()
        assert "security_profiles_operator_enricher_lines_skipped_total 1" in metrics
    finally:
        proc.terminate()
        stderr = proc.communicate(timeout=10)[1]
    assert "skipped a line of more than 1048576 bytes at offset %d" % len(_record(1, 7, 39)) in stderr


def test_forged_marker_does_not_end_a_session(tmp_path):
    """wait_session takes only the marker with the caller's nonce; a marker for a session without
    records creates no file (a flood of forged markers fills no disk)."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import wait_session
    state = str(tmp_path)
    enricher = Enricher(state, proc=str(tmp_path / "noproc"))

    def user(serial, text):
        return b"type=USER msg=audit(1.0:%d): pid=9 uid=0 auid=4294967295 ses=4294967295 msg='%s'\n" % (serial, text)
    nonce = audit.new_nonce()
    enricher.process(_record(1, 7, 39) + user(2, audit.marker_text(7, "f" * 32)) + user(3, b"spo-record-done session=7")
                     + user(4, audit.marker_text(8, nonce)))
    enricher.flush()
    with pytest.raises(TimeoutError):
        wait_session(state, 7, nonce, timeout=0.3)
    assert not os.path.exists(os.path.join(state, "sessions", "8.json"))
    enricher.process(user(5, audit.marker_text(7, nonce)))
    enricher.flush()
    assert wait_session(state, 7, nonce, timeout=5)["syscalls"] == ["getpid"]
    assert enricher.markers_seen == [(7, "f" * 32), (8, nonce), (7, nonce)]
