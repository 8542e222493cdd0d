# -*- coding: utf-8 -*-
"""Recorded events -> SeccompProfile / SelinuxProfile, names, merges, YAML (loaded by PyYAML and
compiled by the seccomp engine that installs profiles)."""
from __future__ import annotations

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import profiles as recording
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from conftest import audit_samples_path

SAMPLES = audit_samples_path()


def _avcs():
    scanner = audit.Scanner()
    scanner.feed_file(SAMPLES)
    return scanner.avcs


@pytest.mark.parametrize("recording_name,container,replica,expected", [
    ("test-recording", "nginx", None, "test-recording-nginx"),
    ("test-recording", "nginx", 2, "test-recording-nginx-2"),
    ("rec", "redis", 0, "rec-redis-0"),
])
def test_profile_names(recording_name, container, replica, expected):
    assert recording.profile_name(recording_name, container, replica) == expected


def test_profile_name_invalid():
    with pytest.raises(SpoError, match="metadata.name"):
        recording.profile_name("Rec", "x")


def test_seccomp_profile_shape_and_install_compiles():
    prof = recording.seccomp_profile("rec-app", "demo", ["write", "execve", "write", "read"])
    assert prof["apiVersion"] == "security-profiles-operator.x-k8s.io/v1beta1"
    assert prof["spec"] == {"defaultAction": "SCMP_ACT_ERRNO", "architectures": [libseccomp.native_oci_arch()],
                            "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["execve", "read", "write"]}]}
    loaded = yaml.safe_load(recording.to_yaml(prof))
    assert loaded == prof
    oci = seccomp.to_oci(loaded)
    assert oci["defaultAction"] == "SCMP_ACT_ERRNO"
    assert sorted(n for rule in oci["syscalls"] for n in rule["names"]) == ["execve", "read", "write"]


def test_seccomp_profile_base_and_empty():
    prof = recording.seccomp_profile("a", "b", ["read"], base_profile_name="runc-v1.1.5")
    assert prof["spec"]["baseProfileName"] == "runc-v1.1.5"
    with pytest.raises(SpoError, match="SeccompProfile b/a: spec.syscalls: nothing was recorded"):
        recording.seccomp_profile("a", "b", [])


def test_merge_replicas_unions():
    one = recording.seccomp_profile("rec-app-0", "demo", ["read", "write"])
    two = recording.seccomp_profile("rec-app-1", "demo", ["write", "openat"])
    merged = recording.merge_seccomp("rec-app", [one, two])
    assert merged["metadata"]["name"] == "rec-app"
    assert merged["spec"]["syscalls"] == [{"action": "SCMP_ACT_ALLOW", "names": ["openat", "read", "write"]}]


def test_selinux_profile_from_avcs():
    prof = recording.selinux_profile("rec-app", "demo", _avcs(), self_type="myapp_t")
    assert prof["apiVersion"] == "security-profiles-operator.x-k8s.io/v1alpha2"
    assert prof["spec"] == {"inherit": [{"name": "container"}],
                            "allow": {"@self": {"process": ["signal"]},
                                      "var_log_t": {"file": ["open", "read", "write"]}}}
    assert yaml.safe_load(recording.to_yaml(prof)) == prof
    # the recording type is found from the denials when not given
    assert recording.selinux_profile("rec-app", "demo", _avcs())["spec"] == prof["spec"]
    merged = recording.merge_selinux("rec-app", [prof, recording.selinux_profile("rec-app-1", "demo", [
        {"scontext": "u:r:myapp_t:s0", "tcontext": "u:object_r:tmp_t:s0", "tclass": "dir",
         "permissions": ["search"]}], self_type="myapp_t")])
    assert merged["spec"]["allow"]["tmp_t"] == {"dir": ["search"]}
    assert merged["spec"]["allow"]["var_log_t"] == {"file": ["open", "read", "write"]}


@pytest.mark.parametrize("value", [
    {"a": "yes", "b": "@self", "c": "", "d": "x: y", "e": "123", "f": True, "g": None, "h": 3, "i": [], "j": {}},
    {"list": [{"k": [1, 2], "m": "n"}, "plain", "#comment", "- dash"]},
    [{"a": 1}, {"b": "two"}],
])
def test_yaml_round_trip(value):
    text = recording.to_yaml(value)
    loaded = list(yaml.safe_load_all(text)) if isinstance(value, list) else yaml.safe_load(text)
    assert loaded == value
    assert recording.to_yaml(value) == text


def test_previous_profile_reads_back_what_was_written():
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local

    prof = recording.seccomp_profile("rec-app", "demo", ["write", "read"])
    text = recording.to_yaml(prof).encode()
    assert recording_local.previous_profile(text, "rec-app", "demo") == prof
    assert recording_local.previous_profile(text, "other", "demo") is None
    assert recording_local.previous_profile(b"kind: Something\n", "rec-app", "demo") is None
