# -*- coding: utf-8 -*-
"""The SPOD's settings the node agent reads (both spellings, defaults) and its allowedSyscalls check."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import (
    check_allowed_syscalls, settings)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def test_settings_both_spellings_and_defaults():
    assert settings(None).enable_selinux is False and settings(None).allowed_syscalls is None
    flat = settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["read", "write"], "verbosity": 1}})
    assert (flat.enable_selinux, flat.allowed_syscalls, flat.verbosity) == (True, frozenset(["read", "write"]), 1)
    grouped = settings({"spec": {"selinux": {"enable": True}, "security": {"allowedSyscalls": ["read"]}}})
    assert (grouped.enable_selinux, grouped.allowed_syscalls) == (True, frozenset(["read"]))
    assert settings({"spec": {"allowedSyscalls": []}}).allowed_syscalls is None  # empty: no restriction
    assert flat == settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["write", "read"], "verbosity": 1}})


def test_allowed_syscalls_check():
    oci = {"defaultAction": "SCMP_ACT_ERRNO",
           "syscalls": [{"names": ["read", "write", "mount"], "action": "SCMP_ACT_ALLOW"},
                        {"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}
    check_allowed_syscalls(oci, None, "SeccompProfile ns/p")
    check_allowed_syscalls(oci, frozenset(["read", "write", "mount"]), "SeccompProfile ns/p")
    with pytest.raises(SpoError) as info:
        check_allowed_syscalls(oci, frozenset(["read"]), "SeccompProfile ns/p")
    assert str(info.value) == ("SeccompProfile ns/p: spec.syscalls: syscalls mount, write not in the SPOD's "
                               "allowedSyscalls")
    with pytest.raises(SpoError) as info:
        check_allowed_syscalls(dict(oci, defaultAction="SCMP_ACT_ALLOW"), frozenset(["read"]), "SeccompProfile ns/p")
    assert info.value.field == "spec.defaultAction"
