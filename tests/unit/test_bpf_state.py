# -*- coding: utf-8 -*-
"""The eBPF recorder's sets on the node's disk: written when they change, read back by a restarted recorder, a
bad or torn file reported and ignored, stale sets swept (no kernel needed)."""
from __future__ import annotations

import json
import os
import threading
import time

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_program, bpf_state
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import cluster as recorder
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_sets import BpfContainerSets
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp

X86_64 = libseccomp.oci_arch_to_token("SCMP_ARCH_X86_64")
CID = "a" * 64
OTHER = "b" * 64
READ, WRITE, SYNC, IOPRIO_GET = 0, 1, 162, 252  # x86_64 numbers


def _cgroup(cid):
    return "0::/kubepods/besteffort/pod0b9c4b1e-1111-2222-3333-444455556666/cri-containerd-%s.scope\n" % cid


def _sets(state_dir, logs=None, **kwargs):
    procs = {10: _cgroup(CID), 20: _cgroup(OTHER)}
    return BpfContainerSets(read_cgroup=procs.get, arch_token=X86_64, state_dir=str(state_dir),
                            log=(logs.append if logs is not None else None), **kwargs)


def _file(state_dir, cid=CID):
    return os.path.join(str(state_dir), "containers", cid + ".json")


def test_a_restarted_recorder_goes_on_with_what_it_had_recorded(tmp_path):
    before = _sets(tmp_path)
    before.on_pair(500, READ, 10)
    before.on_pair(500, SYNC, 10)
    assert before.flush() == 1
    with open(_file(tmp_path)) as handle:
        assert json.load(handle)["syscalls"] == ["read", "sync"]
    # the recorder is killed here (nothing more than what flush wrote survives); a new one starts
    after = _sets(tmp_path)
    assert after.restore() == 1
    assert after.target("containers", CID)["syscalls"] == ["read", "sync"]
    after.on_pair(777, IOPRIO_GET, 10)  # the same container, seen by the new bpftrace (a new map)
    after.on_pair(777, WRITE, 10)
    assert after.target("containers", CID) == {"syscalls": ["ioprio_get", "read", "sync", "write"],
                                               "architectures": ["SCMP_ARCH_X86_64"], "records": 4}
    after.flush()
    third = _sets(tmp_path)
    third.restore()
    assert third.target("containers", CID)["syscalls"] == ["ioprio_get", "read", "sync", "write"]


def test_flush_writes_only_sets_that_gained_a_syscall(tmp_path):
    sets = _sets(tmp_path)
    sets.on_pair(500, READ, 10)
    assert sets.flush() == 1 and sets.flush() == 0
    mtime = os.stat(_file(tmp_path)).st_mtime_ns
    sets.on_pair(500, READ, 10)  # printed again after a clear of the kernel map: no change, no write
    assert sets.flush() == 0 and os.stat(_file(tmp_path)).st_mtime_ns == mtime
    sets.on_pair(500, WRITE, 10)
    assert sets.flush() == 1


def test_only_recorded_containers_are_written_and_a_late_one_is_written_once_known(tmp_path):
    sets = _sets(tmp_path)
    sets.on_pair(500, READ, 10)
    sets.on_pair(600, WRITE, 20)
    recorded = set()
    assert sets.flush(lambda: recorded) == 0 and not os.path.exists(os.path.join(str(tmp_path), "containers"))
    recorded.add(CID)  # its pod's status names the container a moment later
    assert sets.flush(lambda: recorded) == 1
    assert os.path.exists(_file(tmp_path)) and not os.path.exists(_file(tmp_path, OTHER))


def test_forget_removes_the_file_and_a_flush_never_writes_it_back(tmp_path):
    sets = _sets(tmp_path)
    sets.on_pair(500, READ, 10)
    sets.flush()
    sets.on_pair(500, WRITE, 10)
    sets.forget("containers", CID)
    assert sets.flush() == 0 and not os.path.exists(_file(tmp_path))
    assert _sets(tmp_path).restore() == 0


def test_forget_while_a_flush_writes_leaves_no_file(tmp_path, monkeypatch):
    sets = _sets(tmp_path)
    sets.on_pair(500, READ, 10)
    writing, release = threading.Event(), threading.Event()
    real = bpf_state.atomic_write_many

    def slow(items, mode=0o644):
        writing.set()
        release.wait(5)
        real(items, mode=mode)
    monkeypatch.setattr(bpf_state, "atomic_write_many", slow)
    flusher = threading.Thread(target=sets.flush)
    flusher.start()
    assert writing.wait(5)
    forgetting = threading.Thread(target=sets.forget, args=("containers", CID))
    forgetting.start()
    release.set()
    flusher.join(5)
    forgetting.join(5)
    assert not os.path.exists(_file(tmp_path))


def test_a_failed_write_keeps_the_old_file_and_is_retried(tmp_path, monkeypatch):
    logs = []
    sets = _sets(tmp_path, logs)
    sets.on_pair(500, READ, 10)
    sets.flush()
    sets.on_pair(500, WRITE, 10)

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(nodefs.os, "rename", crash)
    assert sets.flush() == 0
    assert any("cannot write the sets" in line for line in logs), logs
    monkeypatch.undo()
    with open(_file(tmp_path)) as handle:
        assert json.load(handle)["syscalls"] == ["read"]  # the old set, whole
    assert [n for n in os.listdir(os.path.dirname(_file(tmp_path))) if n.endswith(".tmp")] == []
    assert sets.flush() == 1  # retried
    restored = _sets(tmp_path)
    restored.restore()
    assert restored.target("containers", CID)["syscalls"] == ["read", "write"]


def test_a_temporary_file_a_killed_writer_left_is_removed_and_the_set_is_whole(tmp_path):
    sets = _sets(tmp_path)
    sets.on_pair(500, READ, 10)
    sets.flush()
    directory = os.path.dirname(_file(tmp_path))
    torn = os.path.join(directory, nodefs.temp_prefix(CID + ".json") + "x1y2z3w4.tmp")
    with open(torn, "w") as handle:
        handle.write('{"syscalls": ["rea')
    restored = _sets(tmp_path)
    assert restored.restore() == 1 and restored.target("containers", CID)["syscalls"] == ["read"]
    assert not os.path.exists(torn)


BAD = [
    ("not json", b'{"syscalls": ["read"'),
    ("not an object", b'["read"]'),
    ("not a list", b'{"syscalls": "read"}'),
    ("not a name", b'{"syscalls": ["read", "../../etc"]}'),
    ("bad count", b'{"syscalls": ["read"], "records": "many"}'),
    ("bad time", b'{"syscalls": ["read"], "updated": -1}'),
    ("too many names", json.dumps({"syscalls": ["s%d" % i for i in range(bpf_state.MAX_NAMES + 1)]}).encode()),
    ("too big", b'{"syscalls": ["read"]' + b" " * bpf_state.MAX_FILE + b"}"),
    ("not utf-8", b'{"syscalls": ["\xff"]}'),
]


@pytest.mark.parametrize("why,raw", BAD, ids=[b[0] for b in BAD])
def test_a_corrupt_state_file_is_reported_removed_and_the_others_restored(tmp_path, why, raw):
    good = _sets(tmp_path)
    good.on_pair(600, WRITE, 20)
    good.flush()
    with open(_file(tmp_path), "wb") as handle:
        handle.write(raw)
    logs = []
    sets = _sets(tmp_path, logs)
    assert sets.restore() == 1, why
    assert sets.keys("containers") == [OTHER]
    assert any(_file(tmp_path) in line and "ignored and removed" in line for line in logs), logs
    assert not os.path.exists(_file(tmp_path))
    sets.on_pair(500, READ, 10)  # the recorder goes on: the container is recorded from now on
    assert sets.target("containers", CID)["syscalls"] == ["read"]


def test_files_that_are_no_container_sets_are_ignored(tmp_path):
    directory = os.path.join(str(tmp_path), "containers")
    os.makedirs(directory)
    for name in ("notes.txt", "x y.json", ".hidden.json"):
        with open(os.path.join(directory, name), "w") as handle:
            handle.write('{"syscalls": ["read"]}')
    os.mkdir(os.path.join(directory, CID + ".json"))  # a directory where a file should be
    logs = []
    sets = _sets(tmp_path, logs)
    assert sets.restore() == 0 and sets.keys("containers") == []
    assert len(logs) == 4, logs


def test_restore_keeps_at_most_max_containers_the_newest(tmp_path):
    store = bpf_state.SetStore(str(tmp_path))
    store.save({"%064x" % i: {"syscalls": {"read"}, "records": 1, "updated": 1000.0 + i} for i in range(5)})
    logs = []
    sets = _sets(tmp_path, logs, max_containers=2)
    assert sets.restore() == 2
    assert sorted(sets.keys("containers")) == ["%064x" % 3, "%064x" % 4]
    assert sorted(store.keys()) == ["%064x" % 3, "%064x" % 4]


def test_no_state_dir_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sets = BpfContainerSets(read_cgroup={10: _cgroup(CID)}.get, arch_token=X86_64)
    sets.on_pair(500, READ, 10)
    assert sets.restore() == 0 and sets.flush() == 0 and os.listdir(str(tmp_path)) == []


def test_a_container_id_never_leaves_the_state_dir(tmp_path):
    store = bpf_state.SetStore(str(tmp_path))
    for bad in ("../x", "/etc/passwd", ".", "", "a/b", "x.json"):
        assert not bpf_state.valid_key(bad)
        with pytest.raises(ValueError):
            store.path(bad)
    store.save({"../escape": {"syscalls": {"read"}}})
    assert not os.path.exists(os.path.join(str(tmp_path), "escape.json"))


class _Reflector(object):
    def __init__(self, pods):
        self.pods = pods
        self.synced = threading.Event()
        self.synced.set()

    def items(self):
        return list(self.pods)


def _pod(name, cid, recorded):
    annotations = {"io.containers.trace-bpf/c": "rec_c_abc_1700000000"} if recorded else {}
    return {"metadata": {"name": name, "namespace": "ns", "uid": name, "annotations": annotations},
            "status": {"containerStatuses": [{"name": "c", "containerID": "containerd://" + cid}]}}


def test_stale_restored_sets_are_swept_and_recorded_ones_kept(tmp_path):
    gone = "c" * 64
    store = bpf_state.SetStore(str(tmp_path))
    now = time.time()
    store.save({CID: {"syscalls": {"read"}, "updated": now - 3600},      # its recorded pod runs: kept
                OTHER: {"syscalls": {"read"}, "updated": now - 5},       # a pod of this node, not recorded
                gone: {"syscalls": {"read"}, "updated": now - 3600}})    # no pod any more, an hour old
    sets = _sets(tmp_path)
    assert sets.restore() == 3
    node = recorder.NodeRecorder(None, sets, "node", lambda m: None, prefixes=recorder.BPF_TRACE_PREFIX)
    node.reflector = _Reflector([_pod("rec", CID, True), _pod("plain", OTHER, False)])
    assert node.recorded_ids() == {CID}
    assert sets.age(gone, now) == 3600
    assert node.sweep() == 2
    assert sets.keys("containers") == [CID] and sorted(store.keys()) == [CID]


def test_a_recent_set_of_an_unknown_container_waits_for_its_pod(tmp_path):
    sets = _sets(tmp_path)
    sets.on_pair(500, READ, 10)  # the container runs; its pod is not listed yet
    node = recorder.NodeRecorder(None, sets, "node", lambda m: None, prefixes=recorder.BPF_TRACE_PREFIX)
    node.reflector = _Reflector([])
    assert node.sweep() == 0 and sets.keys("containers") == [CID]


def test_the_daemonset_keeps_the_recorder_state_on_the_node():
    ds = spod.daemonset({"metadata": {"name": "spod", "namespace": "spo"}, "spec": {"enableBpfRecorder": True}})
    pod = ds["spec"]["template"]["spec"]
    container = [c for c in pod["containers"] if c["name"] == "bpf-recorder"][0]
    args = container["args"]
    state_dir = args[args.index("--state-dir") + 1]
    mount = [m for m in container["volumeMounts"] if m["mountPath"] == state_dir][0]
    volume = [v for v in pod["volumes"] if v["name"] == mount["name"]][0]
    assert volume["hostPath"] == {"path": state_dir, "type": "DirectoryOrCreate"}
    assert not mount.get("readOnly")


def test_program_resumes_the_given_tasks_and_their_cgroups():
    plain = bpf_program.program(30, arch_token=X86_64)
    assert "@seed" not in plain and "@arm" not in plain and "BEGIN" not in plain
    seeded = bpf_program.program(30, arch_token=X86_64, seed_tids=[42, 7, 42])
    assert "  @seed[7] = 1;\n  @seed[42] = 1;\n" in seeded
    assert "if (@seed[tid]) { @arm[cgroup] = 1; }" in seeded
    assert '(@arm[cgroup] && strncmp(comm, "runc:[", 6) != 0)' in seeded  # the runtime's stages: the usual way
    assert "clear(@seed);" in seeded and "clear(@arm);" in seeded
    with pytest.raises(SpoError, match="seed_tids"):
        bpf_program.program(30, arch_token=X86_64, seed_tids=range(1, bpf_program.MAX_SEEDS + 2))
    assert "@seed" not in bpf_program.program(30, arch_token=X86_64, seed_tids=[0, -1, 1 << 40])


def test_container_tasks_are_read_from_proc(tmp_path):
    proc = tmp_path / "proc"
    for pid, tids, text in ((10, (10, 11), _cgroup(CID)), (20, (20,), _cgroup(OTHER)),
                            (30, (30,), "0::/user.slice/session-1.scope\n")):
        (proc / str(pid) / "task").mkdir(parents=True)
        (proc / str(pid) / "cgroup").write_text(text)
        for tid in tids:
            (proc / str(pid) / "task" / str(tid)).mkdir()
    (proc / "40").mkdir()  # exited meanwhile: no cgroup file
    (proc / "self").mkdir()
    assert bpf_program.container_tasks([CID], str(proc)) == [10, 11]
    assert bpf_program.container_tasks([CID, OTHER, "c" * 64], str(proc)) == [10, 11, 20]
    assert bpf_program.container_tasks([], str(proc)) == []
