# -*- coding: utf-8 -*-
"""``baseProfileName`` union, case by case, against upstream's current merger.

Upstream: kubernetes-sigs/security-profiles-operator calls UnionSyscalls(base, child) of
saschagrunert/security-profiles-merger (seccomp/merge.go, seccomp/action.go): per syscall the less
restrictive action (KILL_PROCESS < KILL_THREAD = KILL < TRAP < ERRNO < NOTIFY < TRACE < LOG < ALLOW),
the base's rule on a tie, and no argument condition where either side has none.
"""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
from seccomp_objects import profile

CLONE_NEWUSER = {"index": 0, "value": 0x10000000, "valueTwo": 0x10000000, "op": "SCMP_CMP_MASKED_EQ"}
PERSONA_0 = {"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}
PERSONA_8 = {"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}


def rule(action, *names, errno=None, args=None):
    out = {"action": "SCMP_ACT_" + action, "names": list(names)}
    if errno is not None:
        out["errnoRet"] = errno
    if args:
        out["args"] = args
    return out


def flat(rules):
    """{(name, action, errnoRet, args)} of OCI rules, one per name."""
    return {(name, r["action"][len("SCMP_ACT_"):], r.get("errnoRet"), tuple(tuple(sorted(a.items())) for a in r.get("args", [])))
            for r in rules for name in r["names"]}


CASES = [
    # (id, base rules, child rules, expected effective rules)
    ("base-errno-kept-on-a-tie",
     [rule("ERRNO", "chmod", errno=1)], [rule("ERRNO", "chmod", errno=95)],
     [rule("ERRNO", "chmod", errno=1)]),
    ("base-errno-kept-child-without-errnoret",
     [rule("ERRNO", "chmod", errno=38)], [rule("ERRNO", "chmod")],
     [rule("ERRNO", "chmod", errno=38)]),
    ("trace-less-restrictive-than-notify (child trace)",
     [rule("NOTIFY", "chmod")], [rule("TRACE", "chmod")],
     [rule("TRACE", "chmod")]),
    ("trace-less-restrictive-than-notify (base trace)",
     [rule("TRACE", "chmod", errno=7)], [rule("NOTIFY", "chmod")],
     [rule("TRACE", "chmod", errno=7)]),
    ("allow-beats-log",
     [rule("LOG", "read")], [rule("ALLOW", "read")],
     [rule("ALLOW", "read")]),
    ("errno-beats-kill",
     [rule("KILL_PROCESS", "ptrace")], [rule("ERRNO", "ptrace", errno=1)],
     [rule("ERRNO", "ptrace", errno=1)]),
    ("kill-and-kill-thread-tie-keeps-the-base",
     [rule("KILL", "ptrace")], [rule("KILL_THREAD", "ptrace")],
     [rule("KILL", "ptrace")]),
    ("unconditional-base-allow-not-narrowed-by-child-argument-rule",
     [rule("ALLOW", "clone", "read")], [rule("ALLOW", "clone", args=[CLONE_NEWUSER])],
     [rule("ALLOW", "clone", "read")]),
    ("unconditional-base-allow-beats-child-argument-errno",
     [rule("ALLOW", "clone")], [rule("ERRNO", "clone", args=[CLONE_NEWUSER])],
     [rule("ALLOW", "clone")]),
    ("child-argument-allow-over-unconditional-base-errno-widens",
     [rule("ERRNO", "mount", errno=1)], [rule("ALLOW", "mount", args=[PERSONA_0])],
     [rule("ALLOW", "mount")]),
    ("argument-rules-only-on-both-sides-are-all-kept",
     [rule("ALLOW", "personality", args=[PERSONA_0])], [rule("ALLOW", "personality", args=[PERSONA_8])],
     [rule("ALLOW", "personality", args=[PERSONA_0]), rule("ALLOW", "personality", args=[PERSONA_8])]),
    ("names-of-one-side-only-are-kept-as-they-are",
     [rule("ALLOW", "read"), rule("ERRNO", "mount", errno=1)], [rule("LOG", "write"), rule("ALLOW", "clone", args=[CLONE_NEWUSER])],
     [rule("ALLOW", "read"), rule("ERRNO", "mount", errno=1), rule("LOG", "write"), rule("ALLOW", "clone", args=[CLONE_NEWUSER])]),
]


@pytest.mark.parametrize("base_rules, child_rules, expected", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_union_case(base_rules, child_rules, expected):
    base = profile("base", defaultAction="SCMP_ACT_ERRNO", syscalls=base_rules)
    child = profile("child", defaultAction="SCMP_ACT_ERRNO", baseProfileName="base", syscalls=child_rules)
    engine = seccomp.Engine([child, base])
    got = engine.compile(engine.profiles[0]).oci["syscalls"]
    expected_oci = seccomp.Engine([profile("x", syscalls=expected)]).compile_all()[0].oci["syscalls"]
    assert flat(got) == flat(expected_oci)


def test_union_through_a_chain_applies_the_rule_at_each_level():
    grand = profile("grand", syscalls=[rule("ERRNO", "chmod", errno=1)])
    middle = profile("middle", baseProfileName="grand", syscalls=[rule("NOTIFY", "chmod")])
    child = profile("child", baseProfileName="middle", syscalls=[rule("TRACE", "chmod")])
    engine = seccomp.Engine([child, middle, grand])
    assert flat(engine.compile(engine.profiles[0]).oci["syscalls"]) == {("chmod", "TRACE", None, ())}
