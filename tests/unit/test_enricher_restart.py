# -*- coding: utf-8 -*-
"""The log enricher across its own restart: the per-container sets come back from its state dir (a bad file is
reported and ignored, never fatal), and the kernel log is read on after the last record handed out before the
restart (records logged while it was down included), only in the same boot."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import enricher as enricher_mod
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import Enricher, KernelLog
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod

CID = "a" * 64
SECCOMP = (b'audit: type=1326 audit(1.0:%d): auid=4294967295 uid=0 gid=0 ses=%d pid=%d comm="sh" '
           b'exe="/bin/busybox" sig=0 arch=c000003e syscall=%d compat=0 ip=0x1 code=0x7ffc0000\n')


def _enricher(tmp_path, **kwargs):
    proc = tmp_path / "proc" / "100"
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "cgroup").write_text("0::/kubepods/besteffort/pod1/%s\n" % CID)
    return Enricher(str(tmp_path / "state"), node="n", proc=str(tmp_path / "proc"), **kwargs)


def test_a_restarted_enricher_goes_on_with_the_sets_it_had(tmp_path):
    first = _enricher(tmp_path)
    first.process(SECCOMP % (1, 4294967295, 100, 162))  # sync
    first.flush()
    second = _enricher(tmp_path)  # the container was killed; its state dir is the node's
    assert second.target("containers", CID)["syscalls"] == ["sync"] and second.keys("containers") == [CID]
    second.process(SECCOMP % (2, 4294967295, 100, 252))  # ioprio_get
    assert second.target("containers", CID)["syscalls"] == ["ioprio_get", "sync"]


BAD = [b'{"syscalls": ["read"', b'[1, 2]', b'{"syscalls": [{"a": 1}]}', b'{"syscalls": "read"}',
       b'{"avcs": [{"scontext": "x"}]}', b'{"records": "many"}', b'\xff\xfe']


@pytest.mark.parametrize("raw", BAD)
def test_a_corrupt_set_is_reported_and_ignored_never_fatal(tmp_path, raw):
    path = tmp_path / "state" / "containers" / (CID + ".json")
    path.parent.mkdir(parents=True)
    path.write_bytes(raw)
    enricher = _enricher(tmp_path)
    assert enricher.target("containers", CID) is None
    enricher.process(SECCOMP % (1, 4294967295, 100, 162))
    assert enricher.target("containers", CID)["syscalls"] == ["sync"]
    assert enricher.problems and str(path) in enricher.problems[0], enricher.problems
    enricher.flush()
    assert json.loads(path.read_text())["syscalls"] == ["sync"]  # the bad file replaced by the set


def test_the_cluster_enricher_keeps_no_session_sets(tmp_path):
    enricher = _enricher(tmp_path, sessions=False)
    enricher.process(SECCOMP % (1, 3, 100, 162))
    enricher.flush()
    assert enricher.keys("sessions") == [] and enricher.keys("containers") == [CID]


def test_kmsg_sequence_and_saved_positions(tmp_path):
    assert enricher_mod._kmsg_seq(b"6,1234,5678,-") == 1234  # pylint: disable=protected-access
    assert enricher_mod._kmsg_seq(b"garbage") is None  # pylint: disable=protected-access
    path = tmp_path / "kmsg-position.json"
    assert enricher_mod.load_position(str(path)) == (None, None)
    path.write_text('{"boot_id": "b", "seq": 7}')
    assert enricher_mod.load_position(str(path)) == ({"boot_id": "b", "seq": 7}, None)
    for bad in ('{"boot_id": "b"}', '{"boot_id": "b", "seq": true}', "[]", "{"):
        path.write_text(bad)
        position, problem = enricher_mod.load_position(str(path))
        assert position is None and str(path) in problem


def _inject(text):
    with open("/dev/kmsg", "w") as handle:
        handle.write(text + "\n")


def _read_until(reader, want, rounds=50):
    data = b""
    for dummy in range(rounds):
        data += reader.take(0.1)
        if want.encode() in data:
            break
    return data


@pytest.fixture
def kmsg():
    if os.geteuid() != 0 or not os.access("/dev/kmsg", os.R_OK | os.W_OK):
        pytest.skip(reason="needs root and a readable, writable /dev/kmsg")
    if not enricher_mod.current_boot_id():
        pytest.skip(reason="no /proc/sys/kernel/random/boot_id")
    return "spo-unit-kmsg-" + uuid.uuid4().hex[:8]


def test_kernel_log_goes_on_after_the_last_record_taken(kmsg):
    first = KernelLog()
    _inject("%s before" % kmsg)
    assert ("%s before" % kmsg).encode() in _read_until(first, "%s before" % kmsg)
    position = first.position()
    assert position["boot_id"] == enricher_mod.current_boot_id() and position["seq"] > 0
    _inject("%s while-down" % kmsg)  # the enricher is down: nobody reads this now
    second = KernelLog(resume=position)
    _inject("%s after" % kmsg)
    data = _read_until(second, "%s after" % kmsg)
    assert second.resumed and second.resumed_after == position["seq"] and second.gap == 0
    assert ("%s while-down" % kmsg).encode() in data and ("%s after" % kmsg).encode() in data
    assert ("%s before" % kmsg).encode() not in data  # handed out before the restart: not twice
    assert second.position()["seq"] > position["seq"]


def test_kernel_log_of_another_boot_is_read_from_its_end(kmsg):
    first = KernelLog()
    _inject("%s old" % kmsg)
    _read_until(first, "%s old" % kmsg)
    other = dict(first.position(), boot_id="another-boot")
    fresh = KernelLog(resume=other)
    _inject("%s new" % kmsg)
    data = _read_until(fresh, "%s new" % kmsg)
    assert not fresh.resumed and ("%s old" % kmsg).encode() not in data and ("%s new" % kmsg).encode() in data


def test_the_daemonset_keeps_the_log_enricher_state_on_the_node():
    ds = spod.daemonset({"metadata": {"name": "spod", "namespace": "spo"}, "spec": {"enableLogEnricher": True}})
    pod = ds["spec"]["template"]["spec"]
    container = [c for c in pod["containers"] if c["name"] == "log-enricher"][0]
    state_dir = container["args"][container["args"].index("--state-dir") + 1]
    mount = [m for m in container["volumeMounts"] if m["mountPath"] == state_dir][0]
    volume = [v for v in pod["volumes"] if v["name"] == mount["name"]][0]
    assert volume["hostPath"] == {"path": state_dir, "type": "DirectoryOrCreate"} and not mount.get("readOnly")
