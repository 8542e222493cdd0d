# -*- coding: utf-8 -*-
"""ProfileBinding, SecurityProfileNodeStatus and SecurityProfilesOperatorDaemon: bad objects are refused.

The SPOD takes upstream's two spellings (flat up to 0.9, grouped since 1.0):
every flat field names its grouped twin, the twins have the same schema, and
a CEL rule per group refuses an object that mixes them (the API server runs
the rules; here their text is checked, by hand on the test cluster they
answer `spec.selinux: Forbidden: ...`).
"""
from __future__ import annotations

import copy
import re

import pytest

from crd import GROUP, load_crd, manifests, validation_errors
from docedit import set_at

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import model as seccomp_model

SPOD_CRD = load_crd(GROUP + "_securityprofilesoperatordaemons.yaml")
SPOD_SPEC = SPOD_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
BINDING = [d for _p, d in manifests("tests/unit/fixtures/spec-profilebinding.yaml")][0]
SPNS = [d for _p, d in manifests("config/samples/*securityprofilenodestatus.yaml")][0]
SPOD_FLAT = [d for _p, d in manifests("tests/unit/fixtures/spod-flat.yaml")][0]
SPOD_GROUPED = [d for _p, d in manifests("tests/unit/fixtures/spod-grouped.yaml")][0]


def _set(doc, path, value):
    return set_at(copy.deepcopy(doc), path, value)


@pytest.mark.parametrize("path, value", [
    (("spec", "profileRef", "kind"), "AppArmorProfile"),
    (("spec", "profileRef", "name"), "Not_A_Name"),
    (("spec", "profileRef", "name"), KeyError),
    (("spec", "profileRef"), KeyError),
    (("spec", "image"), ""),
    (("spec", "image"), KeyError),
    (("status",), {"activeWorkloads": "pod-a"}),
])
def test_bad_bindings_are_refused(path, value):
    assert validation_errors(_set(BINDING, path, value))


def test_binding_for_every_pod():
    assert validation_errors(_set(BINDING, ("spec", "image"), "*")) == []
    assert validation_errors(_set(BINDING, ("spec", "profileRef", "kind"), "SelinuxProfile")) == []


@pytest.mark.parametrize("path, value", [
    (("nodeName",), KeyError),
    (("nodeName",), ""),
    (("status",), "Happy"),
    (("status",), {"status": "Installed"}),
])
def test_bad_node_statuses_are_refused(path, value):
    assert validation_errors(_set(SPNS, path, value))


@pytest.mark.parametrize("state", ["Partial", "Disabled", "Pending", "InProgress", "Installed", "Terminating", "Error"])
def test_node_status_states(state):
    assert validation_errors(_set(_set(SPNS, ("status",), state), ("message",), "detail")) == []


@pytest.mark.parametrize("path, value", [
    (("spec", "verbosity"), 2),
    (("spec", "verbosity"), -1),
    (("spec", "enableSelinux"), "yes"),
    (("spec", "hostProcVolumePath"), "/"),
    (("spec", "hostProcVolumePath"), "/etc"),
    (("spec", "logEnricherSource"), "journald"),
    (("spec", "allowedSeccompActions"), ["SCMP_ACT_MAYBE"]),
    (("spec", "allowedSyscalls"), [""]),
    (("spec", "webhookOptions"), [{"failurePolicy": "Ignore"}]),
    (("spec", "webhookOptions"), [{"name": "binding.spo.io", "failurePolicy": "Sometimes"}]),
    (("spec", "webhookOptions"), [{"name": "binding.spo.io", "namespaceSelector": {"matchExpressions": [{"key": "a", "operator": "Like"}]}}]),
    (("spec", "tolerations"), [{"operator": "Exists", "effect": "Sometimes"}]),
    (("spec", "affinity"), {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}),
    (("spec", "affinity"), {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {}}]}}),
    (("spec", "daemonResourceRequirements"), {"limits": {"memory": "lots"}}),
    (("spec", "imagePullSecrets"), [{}]),
    (("spec", "selinuxOptions"), {"allowedTypes": ["kernel_t) (allow"]}),
    (("status",), {"state": "RUNNING"}),
])
def test_bad_spods_are_refused(path, value):
    assert validation_errors(_set(SPOD_FLAT, path, value))


def test_spod_states_and_quantities():
    for state in ("Pending", "Creating", "Updating", "Running", "Error"):
        assert validation_errors(_set(SPOD_FLAT, ("status",), {"state": state})) == []
    assert validation_errors(_set(SPOD_FLAT, ("spec", "daemonResourceRequirements"), {"limits": {"cpu": 1, "memory": "1.5Gi"}})) == []


def test_allowed_actions_are_the_engines():
    assert SPOD_SPEC["properties"]["allowedSeccompActions"]["items"]["enum"] == list(seccomp_model.ACTIONS)


def _twins():
    """flat field -> (group, field) from the 'Grouped spelling X.Y' of each flat field's description."""
    twins = {}
    for name, node in SPOD_SPEC["properties"].items():
        match = re.search(r"Grouped spelling (\w+)\.(\w+)", node.get("description", ""))
        if match:
            twins[name] = (match.group(1), match.group(2))
    return twins


def _rules():
    """group -> flat fields its CEL rule refuses next to it."""
    rules = {}
    for rule in SPOD_SPEC["x-kubernetes-validations"]:
        match = re.match(r"!has\(self\.(\w+)\) \|\| !\((.*)\)$", " ".join(rule["rule"].split()))
        assert match, rule["rule"]
        assert rule["fieldPath"] == "." + match.group(1) and rule["reason"] == "FieldValueForbidden"
        rules[match.group(1)] = set(re.findall(r"has\(self\.(\w+)\)", match.group(2)))
    return rules


def _bare(node):
    node = copy.deepcopy(node)
    node.pop("description", None)
    return node


def test_every_flat_field_has_its_grouped_twin():
    twins = _twins()
    assert len(twins) == 19
    for flat, (group, field) in twins.items():
        grouped = SPOD_SPEC["properties"][group]["properties"][field]
        assert _bare(grouped) == _bare(SPOD_SPEC["properties"][flat]), flat
    grouped_fields = {(g, f) for g, node in SPOD_SPEC["properties"].items() if g in _rules() for f in node["properties"]}
    only_grouped = grouped_fields - set(twins.values())
    assert only_grouped == {("selinux", "enableRawSelinuxProfiles"), ("selinux", "customTemplatesConfigMap"),
                            ("security", "allowedIdentityRegexp"), ("security", "allowedOidcIssuerRegexp")}


def test_a_cel_rule_refuses_each_mix():
    rules = _rules()
    assert set(rules) == {"selinux", "enricher", "webhook", "scheduling", "security"}
    for flat, (group, _field) in _twins().items():
        assert flat in rules[group], flat
    for group, fields in rules.items():
        assert all(_twins()[f][0] == group for f in fields), group


def test_both_spellings_apply():
    assert validation_errors(SPOD_FLAT) == [] and validation_errors(SPOD_GROUPED) == []
    assert not set(SPOD_GROUPED["spec"]) & set(_twins())
    assert not set(SPOD_FLAT["spec"]) & set(_rules())


PAYLOAD = "{{ lookup('ansible.builtin.pipe', 'touch /tmp/pwned') }}"


@pytest.mark.parametrize("image", [
    "*", "nginx", "nginx:1.19.1", "docker.io/library/busybox:local", "localhost/spo/security-profiles-operator:dev",
    "quay.io/security-profiles-operator/spo:v0.8.4", "localhost:5000/a/b-c__d.e:Tag_1.0-x",
    "registry.k8s.io/pause@sha256:" + "a" * 64, "gcr.io/x/y:1@sha256:" + "0" * 64, "[::1]:5000/img:latest",
])
def test_binding_images_in_the_reference_grammar_are_accepted(image):
    assert validation_errors(_set(BINDING, ("spec", "image"), image)) == []


@pytest.mark.parametrize("image", [
    PAYLOAD, "{{ 7*7 }}", "nginx:1.19 ", "Nginx:1", "nginx:", "nginx@sha256:abc", "a//b", "-a", "**", "nginx:" + "x" * 129,
    "a" * 1025,
])
def test_binding_images_outside_the_grammar_are_refused_naming_the_field(image):
    errors = validation_errors(_set(BINDING, ("spec", "image"), image))
    assert errors and all(e.startswith("spec.image:") for e in errors)


@pytest.mark.parametrize("path, value", [
    (("spec", "containers"), [PAYLOAD]),
    (("spec", "podSelector"), {"matchLabels": {"app": PAYLOAD}}),
    (("spec", "podSelector"), {"matchExpressions": [{"key": PAYLOAD, "operator": "Exists"}]}),
    (("spec", "podSelector"), {"matchExpressions": [{"key": "app", "operator": "In", "values": [PAYLOAD]}]}),
])
def test_recording_names_and_selectors_are_refused_naming_the_field(path, value):
    doc = {"apiVersion": GROUP + "/v1alpha1", "kind": "ProfileRecording", "metadata": {"name": "r", "namespace": "n"},
           "spec": {"kind": "SeccompProfile", "recorder": "logs", "podSelector": {"matchLabels": {"app": "web"}}}}
    assert validation_errors(doc) == []
    errors = validation_errors(_set(doc, path, value))
    assert errors and all(e.startswith(".".join(path)) for e in errors), errors


def test_recording_label_keys_are_checked_by_a_cel_rule():
    crd = load_crd(GROUP + "_profilerecordings.yaml")
    labels = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "podSelector"]["properties"]["matchLabels"]
    [rule] = labels["x-kubernetes-validations"]
    pattern = re.search(r'matches\(r"(.*)"\)\)$', rule["rule"]).group(1)
    assert re.search(pattern, "app.kubernetes.io/name") and re.search(pattern, "app")
    assert not re.search(pattern, PAYLOAD) and not re.search(pattern, "a/b/c") and not re.search(pattern, "-a")


@pytest.mark.parametrize("path, value", [
    (("spec", "imagePullSecrets"), [{"name": PAYLOAD}]),
    (("spec", "priorityClassName"), PAYLOAD),
    (("spec", "selinuxTypeTag"), PAYLOAD),
    (("spec", "webhookOptions"), [{"name": PAYLOAD}]),
])
def test_spod_names_are_refused_naming_the_field(path, value):
    errors = validation_errors(_set(SPOD_FLAT, path, value))
    assert errors and all(e.startswith(".".join(path)) for e in errors), errors
