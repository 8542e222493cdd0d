# -*- coding: utf-8 -*-
"""The eBPF recorder's program text and the reading of its JSON output (no kernel needed)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_program
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_events import BpfOutput
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_local import syscall_names

X86_64 = libseccomp.oci_arch_to_token("SCMP_ARCH_X86_64")
AARCH64 = libseccomp.oci_arch_to_token("SCMP_ARCH_AARCH64")


def _line(kind, data):
    return json.dumps({"type": kind, "data": data})


def test_program_uses_the_architectures_numbers():
    x86 = bpf_program.program(arch_token=X86_64)
    assert "$id == 317 && args->args[0] == 1" in x86          # seccomp(SECCOMP_SET_MODE_FILTER)
    assert "$id == 157 && args->args[0] == 22 && args->args[1] == 2" in x86  # prctl(PR_SET_SECCOMP, FILTER)
    assert "($id == 59 || $id == 322)" in x86                 # execve, execveat by runc's init
    arm = bpf_program.program(arch_token=AARCH64)
    assert "$id == 277 && args->args[0] == 1" in arm and "($id == 221 || $id == 281)" in arm
    assert "interval:" not in x86


def test_program_interval_is_bounded():
    assert "interval:s:30\n" in bpf_program.program(30, arch_token=X86_64)
    for bad in (0, -1, 86401, True, "5; system(\"x\")"):
        with pytest.raises(SpoError, match="clear_seconds"):
            bpf_program.program(bad, arch_token=X86_64)


def test_environment_bounds_the_maps():
    env = bpf_program.environment({"PATH": "/bin"})
    assert env["BPFTRACE_MAP_KEYS_MAX"] == str(bpf_program.MAP_KEYS_MAX) and env["PATH"] == "/bin"


def test_output_pairs_dump_losses():
    seen = []
    out = BpfOutput(on_new_pair=lambda cg, nr, pid: seen.append((cg, nr, pid)))
    out.feed_line(_line("attached_probes", {"probes": 5}))
    out.feed_line(_line("printf", "31356 59 6093\n"))
    out.feed_line(_line("printf", "31356 59 6100\n"))  # known pair: no second callback
    out.feed_line(_line("printf", "77 0 12\n"))
    out.feed_line(_line("lost_events", {"events": 3}))
    out.feed_line(_line("map", {"@sc": {"31356,59": 2, "31356,1": 40}}))
    out.feed_line(_line("map", {"@dropped": 0}))
    assert out.attached and out.dumped and out.lost == 3 and out.dropped == 0
    # the dump adds the pair whose line was lost, without a pid
    assert seen == [(31356, 59, 6093), (77, 0, 12), (31356, 1, 0)]
    assert out.of(31356) == {1, 59} and out.events(31356) == 42 and out.of(77) == {0} and out.of(5) == set()


def test_daemon_output_keeps_nothing_and_hands_every_pair_on():
    seen = []
    out = BpfOutput(on_new_pair=lambda cg, nr, pid: seen.append((cg, nr, pid)), keep=False)
    for dummy in range(2):
        out.feed_line(_line("printf", "7 59 10\n"))
        out.feed_line(_line("map", {"@sc": {"7,59": 3, "7,1": 1}}))
    assert seen == [(7, 59, 10), (7, 59, 0), (7, 1, 0)] * 2 and out.syscalls == {} and out.counts == {}


def test_output_ignores_what_is_not_its_own():
    out = BpfOutput()
    for line in (b"not json", "[1]", _line("printf", "1 2"), _line("printf", "a b c\n"),
                 _line("map", {"@sc": {"x,1": 1}}), _line("printf", {"x": 1})):
        out.feed_line(line)
    out.feed_line("")
    assert out.syscalls == {} and out.bad_lines == 5


def test_output_bounds_the_cgroups_it_keeps():
    out = BpfOutput(max_cgroups=2)
    for cgroup in range(5):
        out.feed_line(_line("printf", "%d 1 1\n" % cgroup))
    assert len(out.syscalls) == 2 and out.dropped == 3


def test_syscall_names():
    assert syscall_names([59, 0, 59], arch_token=X86_64) == ["execve", "read"]
    with pytest.raises(SpoError, match="99999"):
        syscall_names([99999], arch_token=X86_64)


# ------------------------------------------------------------------------------------------ the node's sets
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import cluster as recorder  # noqa: E402
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_sets import BpfContainerSets  # noqa: E402

CID = "c" * 64
POD_CGROUP = "0::/kubepods/besteffort/pod0b9c4b1e-1111-2222-3333-444455556666/%s\n" % CID


def _sets(procs, **kwargs):
    return BpfContainerSets(read_cgroup=procs.get, arch_token=X86_64, **kwargs)


def test_sets_attribute_by_cgroup_once_and_keep_pairs_of_gone_processes():
    procs = {10: POD_CGROUP, 11: "0::/user.slice/session-1.scope\n"}
    sets = _sets(procs)
    sets.on_pair(500, 0, 99)      # pid 99 already gone: the pair waits under its cgroup
    sets.on_pair(500, 59, 10)     # pid 10 names the cgroup's container: both pairs go to it
    del procs[10]
    sets.on_pair(500, 1, 12)      # known cgroup: no /proc read needed
    sets.on_pair(600, 2, 11)      # a host process: not a container, ignored
    sets.on_pair(500, 3, 0)       # from a map dump (no pid): the cgroup is known
    assert sets.target("containers", CID) == {"syscalls": ["close", "execve", "read", "write"],
                                              "architectures": ["SCMP_ARCH_X86_64"], "records": 4}
    assert sets.keys("containers") == [CID] and sets.target("sessions", CID) is None
    sets.forget("containers", CID)
    assert sets.target("containers", CID) is None


def test_sets_are_bounded():
    procs = {pid: "0::/kubepods/pod0b9c4b1e-1111-2222-3333-444455556666/%064x\n" % pid for pid in range(1, 6)}
    sets = _sets(procs, max_containers=2, max_cgroups=3, max_pending=1)
    for pid in range(1, 6):
        sets.on_pair(1000 + pid, 0, pid)
    assert sets.keys("containers") == ["%064x" % 4, "%064x" % 5] and len(sets.by_cgroup) == 3
    sets.on_pair(1, 0, 77)
    sets.on_pair(2, 0, 78)   # a second unresolved cgroup: over the pending bound, dropped
    assert list(sets.pending) == [1]


def test_the_bpf_recorder_records_only_pods_annotated_for_it():
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u", "annotations": {
        "io.containers.trace-bpf/web": "rec_web_abc_1700000000",
        "io.containers.trace-logs/side": "logs_side_abc_1700000000"}}}
    assert recorder.recorded_containers(pod, recorder.BPF_TRACE_PREFIX) == {"web": ("SeccompProfile", "rec")}
    assert recorder.recorded_containers(pod) == {"side": ("SeccompProfile", "logs")}
    assert "io.containers.trace-bpf/web" in recorder.slim_pod(pod)["metadata"]["annotations"]
    profile = recorder.build_profile("SeccompProfile", "rec", "web", "ns", _sets({}).target("containers", "x") or
                                     {"syscalls": ["read"], "architectures": ["SCMP_ARCH_X86_64"]}, "rec-web")
    assert profile["spec"]["baseProfileName"] == recorder.RUNTIME_BASE
