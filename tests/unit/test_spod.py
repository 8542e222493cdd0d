# -*- coding: utf-8 -*-
"""The SPOD -> DaemonSet translation and the SPOD state machine (pure; the cluster suite applies them)."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def _spod(**spec):
    return {"apiVersion": spod.SPOD_API_VERSION, "kind": spod.SPOD_KIND,
            "metadata": {"name": "spod", "namespace": "security-profiles-operator", "uid": "u-1"}, "spec": spec}


def _containers(ds):
    return [c["name"] for c in ds["spec"]["template"]["spec"]["containers"]]


@pytest.mark.parametrize("spec, containers", [
    ({}, ["node-agent"]),
    ({"enableSelinux": True}, ["node-agent", "selinuxd"]),
    ({"enableLogEnricher": True}, ["node-agent", "log-enricher"]),
    ({"enableSelinux": True, "enableLogEnricher": True}, ["node-agent", "selinuxd", "log-enricher"]),
    ({"enableBpfRecorder": True}, ["node-agent", "bpf-recorder"]),
    ({"enricher": {"enableBpfRecorder": True}}, ["node-agent", "bpf-recorder"]),
    ({"enableBpfRecorder": False}, ["node-agent"]),
])
def test_containers_follow_the_spod(spec, containers):
    ds = spod.daemonset(_spod(**spec), "img:1")
    assert _containers(ds) == containers
    assert all(c["image"] == "img:1" for c in ds["spec"]["template"]["spec"]["containers"])
    assert ds["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert ds["spec"]["template"]["spec"]["serviceAccountName"] == "spod"


def test_bpf_recorder_runs_spo_bpf_recorder_and_rolls_the_pods():
    ds = spod.daemonset(_spod(enableBpfRecorder=True))
    pod = ds["spec"]["template"]["spec"]
    container = pod["containers"][1]
    assert container["command"] == ["spo-bpf-recorder"] and pod["hostPID"] is True
    assert container["securityContext"]["privileged"] is True
    before = spod.daemonset(_spod())["spec"]["template"]["metadata"]["annotations"]
    assert ds["spec"]["template"]["metadata"]["annotations"] != before
    with pytest.raises(SpoError, match="spec.enableBpfRecorder"):
        spod.daemonset(_spod(enableBpfRecorder="yes"))


def test_grouped_spelling_means_the_same_as_the_flat_one():
    grouped = spod.daemonset(_spod(selinux={"enable": True}, enricher={"enableLogEnricher": True},
                                   scheduling={"nodeSelector": {"a": "b"}, "priorityClassName": "p"}))
    flat = spod.daemonset(_spod(enableSelinux=True, enableLogEnricher=True, nodeSelector={"a": "b"},
                                priorityClassName="p"))
    assert _containers(grouped) == _containers(flat) == ["node-agent", "selinuxd", "log-enricher"]
    assert grouped["spec"]["template"]["spec"]["nodeSelector"] == {"a": "b"}
    assert grouped["spec"]["template"]["spec"]["priorityClassName"] == "p"


def test_selinux_wires_the_drop_in_dir_between_agent_and_selinuxd():
    ds = spod.daemonset(_spod(enableSelinux=True))
    agent, selinuxd = ds["spec"]["template"]["spec"]["containers"]
    assert "--selinux-dir" in agent["args"]
    agent_mounts = {m["name"] for m in agent["volumeMounts"]}
    selinuxd_mounts = {m["name"] for m in selinuxd["volumeMounts"]}
    assert {"selinux-drop-in", "selinuxd-socket"} <= agent_mounts & selinuxd_mounts
    volumes = {v["name"] for v in ds["spec"]["template"]["spec"]["volumes"]}
    assert {m["name"] for c in (agent, selinuxd) for m in c["volumeMounts"]} <= volumes


def test_scheduling_fields_are_carried():
    tol = [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 5}]
    ds = spod.daemonset(_spod(tolerations=tol, nodeSelector={"a": "b"}, priorityClassName="p", verbosity=1,
                              daemonResourceRequirements={"limits": {"memory": "99Mi"}}))
    pod = ds["spec"]["template"]["spec"]
    assert pod["tolerations"] == tol and pod["nodeSelector"] == {"a": "b"} and pod["priorityClassName"] == "p"
    agent = pod["containers"][0]
    assert agent["resources"] == {"limits": {"memory": "99Mi"}}
    assert {"name": "SPO_VERBOSITY", "value": "1"} in agent["env"]


def test_any_change_rolls_the_pods():
    a = spod.daemonset(_spod())
    b = spod.daemonset(_spod(verbosity=1))
    c = spod.daemonset(_spod(), "other:image")
    hashes = {spod._template_hash(x) for x in (a, b, c)}
    assert len(hashes) == 3
    assert spod._template_hash(spod.daemonset(_spod())) == spod._template_hash(a)


@pytest.mark.parametrize("spec", [
    {"allowedSyscalls": ["read"]}, {"webhookOptions": [{"name": "binding.spo.io", "failurePolicy": "Ignore"}]},
    {"podSecurityLabelSync": {"enable": True}}, {"security": {"allowedSyscalls": ["read"]}},
])
def test_fields_the_node_pods_do_not_depend_on_never_roll_them(spec):
    assert spod._template_hash(spod.daemonset(_spod(**spec))) == spod._template_hash(spod.daemonset(_spod()))


@pytest.mark.parametrize("spec, field", [
    ({"verbosity": 7}, "spec.verbosity"),
    ({"verbosity": True}, "spec.verbosity"),
    ({"enableSelinux": "yes"}, "spec.enableSelinux"),
    ({"tolerations": {"key": "x"}}, "spec.tolerations"),
    ({"hostProcVolumePath": "proc"}, "spec.hostProcVolumePath"),
])
def test_bad_fields_name_the_spod_and_field(spec, field):
    with pytest.raises(SpoError) as err:
        spod.daemonset(_spod(**spec))
    assert err.value.field == field
    assert "security-profiles-operator/spod" in str(err.value)


def _ds(desired, ready, updated=None, available=None, generation=1, observed=1, template_hash="h"):
    return {"metadata": {"generation": generation},
            "spec": {"template": {"metadata": {"annotations": {spod.CONFIG_HASH_ANNOTATION: template_hash}}}},
            "status": {"desiredNumberScheduled": desired, "numberReady": ready, "observedGeneration": observed,
                       "updatedNumberScheduled": ready if updated is None else updated,
                       "numberAvailable": ready if available is None else available}}


@pytest.mark.parametrize("ds, previous, expected", [
    (None, None, "Pending"),
    (_ds(1, 1), None, "Running"),
    (_ds(1, 0), None, "Creating"),
    (_ds(1, 0), "Running", "Updating"),
    (_ds(1, 1, updated=0), "Running", "Updating"),
    (_ds(1, 1, generation=2, observed=1), "Running", "Updating"),
    (_ds(0, 0), None, "Creating"),
])
def test_state(ds, previous, expected):
    assert spod.state(ds, previous) == expected


@pytest.mark.parametrize("current, previous, expected", [
    (None, None, "Creating"),
    (_ds(1, 1, template_hash="old"), "Running", "Updating"),
    (_ds(1, 1, template_hash="old"), "Pending", "Creating"),
    (_ds(1, 1, template_hash="h"), "Running", "Running"),
])
def test_state_before_apply(current, previous, expected):
    desired = _ds(1, 0, template_hash="h")
    assert spod.state_before_apply(current, desired, previous) == expected
