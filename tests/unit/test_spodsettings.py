# -*- coding: utf-8 -*-
"""The SPOD's settings the node agent reads (both spellings, defaults) and its allowedSyscalls /
allowedSeccompActions check (upstream's semantics: the listed actions are those whose syscalls allowedSyscalls
bounds; default and only values ALLOW, LOG, TRACE, NOTIFY; nothing is bounded without allowedSyscalls)."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import (
    RUNNING_ACTIONS, Settings, check_allowed, settings)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

REF = "SeccompProfile ns/p"


def test_settings_both_spellings_and_defaults():
    assert settings(None).enable_selinux is False and settings(None).allowed_syscalls is None
    assert settings(None).allowed_actions is None and settings(None).bounded_actions == RUNNING_ACTIONS
    flat = settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["read", "write"], "verbosity": 1,
                              "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}})
    assert (flat.enable_selinux, flat.allowed_syscalls, flat.verbosity, flat.allowed_actions) == \
        (True, frozenset(["read", "write"]), 1, ("SCMP_ACT_ALLOW",))
    grouped = settings({"spec": {"selinux": {"enable": True}, "security": {
        "allowedSyscalls": ["read"], "allowedSeccompActions": ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"]}}})
    assert (grouped.enable_selinux, grouped.allowed_syscalls) == (True, frozenset(["read"]))
    assert grouped.bounded_actions == ("SCMP_ACT_LOG", "SCMP_ACT_ALLOW")
    assert settings({"spec": {"allowedSyscalls": []}}).allowed_syscalls is None  # empty: no restriction
    assert settings({"spec": {"allowedSeccompActions": []}}).allowed_actions is None  # empty: upstream's default
    assert flat == settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["write", "read"], "verbosity": 1,
                                      "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}})
    # a change of the list is a change of the settings (the agent re-plans every profile on it)
    assert flat != settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["read", "write"], "verbosity": 1,
                                      "allowedSeccompActions": ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]}})
    assert settings({"spec": {"allowedSeccompActions": ["SCMP_ACT_LOG", "SCMP_ACT_ALLOW"]}}) == \
        settings({"spec": {"allowedSeccompActions": ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]}})


def _oci(default="SCMP_ACT_ERRNO", *rules):
    return {"defaultAction": default, "syscalls": [{"action": action, "names": list(names)} for action, names in rules]}


OWN = [("spec.syscalls[0]", "SCMP_ACT_ALLOW", ["read", "write"]), ("spec.syscalls[1]", "SCMP_ACT_ERRNO", ["mount"]),
       ("spec.syscalls[2]", "SCMP_ACT_LOG", ["ptrace"])]
PROFILE = _oci("SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", ["read", "write"]), ("SCMP_ACT_ERRNO", ["mount"]),
               ("SCMP_ACT_LOG", ["ptrace"]))
# the same profile with a base that adds "SCMP_ACT_ALLOW: reboot" and "SCMP_ACT_TRACE: kexec_load"
INHERITED = _oci("SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", ["read", "reboot", "write"]), ("SCMP_ACT_ERRNO", ["mount"]),
                 ("SCMP_ACT_LOG", ["ptrace"]), ("SCMP_ACT_TRACE", ["kexec_load"]))

# (SPOD spec, compiled profile) -> None (installed) or (field, words the message must hold)
CASES = [
    # no allowedSyscalls: nothing is bounded, whatever allowedSeccompActions says (upstream)
    ({}, _oci("SCMP_ACT_ALLOW"), None),
    ({"allowedSeccompActions": ["SCMP_ACT_ALLOW"]}, _oci("SCMP_ACT_ALLOW"), None),
    ({"allowedSeccompActions": ["SCMP_ACT_ERRNO"]}, PROFILE, None),
    # allowedSyscalls alone: ALLOW, LOG, TRACE and NOTIFY are all bounded (the default list)
    ({"allowedSyscalls": ["read", "write", "ptrace"]}, PROFILE, None),
    ({"allowedSyscalls": ["read", "write"]}, PROFILE,
     ("spec.syscalls[2].action", ["SCMP_ACT_LOG lets ptrace run", "allowedSyscalls"])),
    ({"allowedSyscalls": ["read"]}, PROFILE,
     ("spec.syscalls[0].action", ["SCMP_ACT_ALLOW lets write run", "spec.syscalls[2].action: SCMP_ACT_LOG lets ptrace"])),
    ({"allowedSyscalls": ["read"]}, _oci("SCMP_ACT_LOG"), ("spec.defaultAction", ["SCMP_ACT_LOG lets every syscall"])),
    ({"allowedSyscalls": ["read"]}, _oci("SCMP_ACT_NOTIFY"), ("spec.defaultAction", ["SCMP_ACT_NOTIFY"])),
    ({"allowedSyscalls": ["read"]}, _oci("SCMP_ACT_TRACE", ("SCMP_ACT_ALLOW", ["read"])), ("spec.defaultAction", [])),
    ({"allowedSyscalls": ["read"]}, _oci("SCMP_ACT_KILL_PROCESS", ("SCMP_ACT_ALLOW", ["read"]),
                                         ("SCMP_ACT_ERRNO", ["mount"]), ("SCMP_ACT_TRAP", ["reboot"])), None),
    # the list narrows what is bounded: LOG not listed, so ptrace under LOG is not checked (upstream)
    ({"allowedSyscalls": ["read", "write"], "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}, PROFILE, None),
    ({"allowedSyscalls": ["read", "write"], "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}, _oci("SCMP_ACT_LOG"), None),
    ({"allowedSyscalls": ["read"], "allowedSeccompActions": ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]}, _oci("SCMP_ACT_ALLOW"),
     ("spec.defaultAction", ["SCMP_ACT_ALLOW lets every syscall", "SCMP_ACT_ALLOW, SCMP_ACT_LOG"])),
    ({"allowedSyscalls": ["read", "write"], "allowedSeccompActions": ["SCMP_ACT_LOG"]}, PROFILE,
     ("spec.syscalls[2].action", ["SCMP_ACT_LOG lets ptrace run"])),
    # an action that lets no syscall run in the list: every profile is refused (upstream), naming the action
    ({"allowedSyscalls": ["read"], "allowedSeccompActions": ["SCMP_ACT_ERRNO", "SCMP_ACT_LOG"]}, _oci("SCMP_ACT_ERRNO"),
     (None, ["allowedSeccompActions lists SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_TRACE"])),
    ({"allowedSyscalls": ["read"], "allowedSeccompActions": ["SCMP_ACT_KILL_PROCESS"]}, _oci("SCMP_ACT_ERRNO"),
     (None, ["SCMP_ACT_KILL_PROCESS"])),
    # inherited rules: blamed on spec.baseProfileName, own rules first
    ({"allowedSyscalls": ["read", "write", "ptrace"]}, INHERITED,
     ("spec.baseProfileName", ["SCMP_ACT_ALLOW (a rule inherited through the base profile) lets reboot run",
                               "SCMP_ACT_TRACE (a rule inherited through the base profile) lets kexec_load run"])),
    ({"allowedSyscalls": ["read", "reboot"], "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}, INHERITED,
     ("spec.syscalls[0].action", ["SCMP_ACT_ALLOW lets write run"])),
    ({"allowedSyscalls": ["read", "write", "ptrace", "reboot"], "allowedSeccompActions": ["SCMP_ACT_ALLOW",
                                                                                          "SCMP_ACT_LOG"]},
     INHERITED, None),
]


@pytest.mark.parametrize("spec,oci,expected", CASES)
def test_allowed_check(spec, oci, expected):
    limits = settings({"spec": spec})
    grouped = settings({"spec": {"security": spec}})
    assert limits == grouped
    if expected is None:
        check_allowed(oci, limits, REF, OWN)
        return
    field, words = expected
    with pytest.raises(SpoError) as info:
        check_allowed(oci, limits, REF, OWN)
    assert (info.value.obj, info.value.field) == (REF, field), str(info.value)
    for word in words:
        assert word in info.value.message, str(info.value)


def test_refusal_names_every_syscall_up_to_a_bound():
    many = ["s%02d" % i for i in range(30)]
    with pytest.raises(SpoError) as info:
        check_allowed(_oci("SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", many)), Settings(allowed_syscalls=frozenset(["x"])),
                      REF, [("spec.syscalls[0]", "SCMP_ACT_ALLOW", many)])
    assert "s00, s01" in info.value.message and "s09 and 20 more" in info.value.message
    assert "s10" not in info.value.message
