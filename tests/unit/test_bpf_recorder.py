# -*- coding: utf-8 -*-
"""The eBPF recorder's program text and the reading of its JSON output (no kernel needed)."""
from __future__ import annotations

import json

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils import bpf_program, libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.bpf_events import BpfOutput
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.recording_bpf import syscall_names

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
    assert seen == [(31356, 59, 6093), (77, 0, 12)]
    assert out.of(31356) == {1, 59} and out.events(31356) == 42 and out.of(77) == {0} and out.of(5) == set()


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
