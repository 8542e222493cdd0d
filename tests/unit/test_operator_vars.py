# -*- coding: utf-8 -*-
"""The extra vars a role gets from spo-operator: upstream's camelCase -> snake_case and the fixed names."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.operator import vars as opvars

# upstream paramconv's own expectations, plus the SPO API's field names
SNAKE = [
    ("var", "var"), ("888", "888"), ("k8s_var", "k8s_var"), ("_k8s_var", "_k8s_var"), ("k8s var", "k8s_var"),
    ("ThisShouldHaveUnderscores", "_this_should_have_underscores"), ("sizeK8sBuckets", "size_k8s_buckets"),
    ("_CanYou_Handle_mixedVars", "_can_you_handle_mixed_vars"), ("this_should_be_a_noop", "this_should_be_a_noop"),
    ("egressIPs", "egress_ips"), ("egressIPsEgress", "egress_ips_egress"), ("egressIPsegress", "egress_ips_egress"),
    ("IPsegress", "_ips_egress"), ("egressIP", "egress_ip"), ("egressIPEgress", "egress_ip_egress"),
    ("egressIPegress", "egress_ip_egress"), ("URLegressIPEgressHTTP", "url_egress_ip_egress_http"),
    ("URLsegressIPsEgressHTTPs", "_urls_egress_ips_egress_https"),
    ("enableSelinux", "enable_selinux"), ("allowedSyscalls", "allowed_syscalls"),
    ("enableLogEnricher", "enable_log_enricher"), ("priorityClassName", "priority_class_name"),
    ("hostProcVolumePath", "host_proc_volume_path"), ("JSONData", "_json_data"), ("baseProfileName", "base_profile_name"),
    ("errnoRet", "errno_ret"), ("valueTwo", "value_two"), ("podSelector", "pod_selector"),
    ("", ""),
]


@pytest.mark.parametrize("camel,snake", SNAKE)
def test_to_snake(camel, snake):
    assert opvars.to_snake(camel) == snake


NESTED = [
    ({"nestedConfig": {"innerKey": {"deepKeyName": 1}}}, {"nested_config": {"inner_key": {"deep_key_name": 1}}}),
    ({"listOfDicts": [{"someKey": "a"}, {"otherKey": [{"thirdKey": True}]}]},
     {"list_of_dicts": [{"some_key": "a"}, {"other_key": [{"third_key": True}]}]}),
    ({"allowedSyscalls": ["readLink", "write"]}, {"allowed_syscalls": ["readLink", "write"]}),  # values unchanged
    ({"selinuxOptions": {"allowedSystemProfiles": {"netContainer": None}}},
     {"selinux_options": {"allowed_system_profiles": {"net_container": None}}}),
]


@pytest.mark.parametrize("spec,expected", NESTED)
def test_nested_keys_are_converted(spec, expected):
    assert opvars.convert_keys(spec) == expected


OBJ = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
       "metadata": {"name": "spod", "namespace": "security-profiles-operator"},
       "spec": {"enableSelinux": True, "allowedSyscalls": ["read"]}}


def test_extra_vars_names():
    params = opvars.extra_vars(OBJ, "security-profiles-operator.x-k8s.io", "SecurityProfilesOperatorDaemon",
                               watch_vars={"state": "present"})
    assert params["enable_selinux"] is True and params["allowed_syscalls"] == ["read"]
    assert params["ansible_operator_meta"] == {"name": "spod", "namespace": "security-profiles-operator"}
    key = "_security_profiles_operator_x_k8s_io_securityprofilesoperatordaemon"
    assert params[key] == OBJ
    assert params[key + "_spec"] == {"enableSelinux": True, "allowedSyscalls": ["read"]}
    assert params["state"] == "present"
    assert "enableSelinux" not in params


def test_snake_case_off_and_precedence():
    params = opvars.extra_vars(OBJ, "g.example.com", "Thing", snake_case=False,
                               watch_vars={"enableSelinux": "watch"}, finalizer_vars={"enableSelinux": "finalizer"})
    assert params["enableSelinux"] == "finalizer"  # spec < watch vars < finalizer vars
    assert params["allowedSyscalls"] == ["read"]


def test_cluster_scoped_and_specless_object():
    params = opvars.extra_vars({"kind": "Thing", "metadata": {"name": "x"}}, "", "Thing")
    assert params["ansible_operator_meta"] == {"name": "x", "namespace": ""}
    assert params["__thing_spec"] == {}


def test_mark_unsafe_wraps_every_string_of_user_input():
    params = opvars.extra_vars({"metadata": {"name": "n"}, "spec": {"cmd": "{{ lookup('pipe', 'id') }}", "n": 1,
                                                                    "l": ["a", {"b": "c"}]}},
                               "g", "K", unsafe=True, watch_vars={"trusted": "{{ 1 }}"})
    assert params["cmd"] == {"__ansible_unsafe": "{{ lookup('pipe', 'id') }}"}
    assert params["n"] == 1
    assert params["l"] == [{"__ansible_unsafe": "a"}, {"b": {"__ansible_unsafe": "c"}}]
    assert params["_g_k"]["metadata"]["name"] == {"__ansible_unsafe": "n"}
    assert params["trusted"] == "{{ 1 }}"
    assert params["ansible_operator_meta"] == {"name": "n", "namespace": ""}
