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

from ansible_collections.spo.security_profiles.plugins.module_utils import seccomp_model

SPOD_CRD = load_crd(GROUP + "_securityprofilesoperatordaemons.yaml")
SPOD_SPEC = SPOD_CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
BINDING = [d for _p, d in manifests("tests/unit/fixtures/spec-profilebinding.yaml")][0]
SPNS = [d for _p, d in manifests("config/samples/*securityprofilenodestatus.yaml")][0]
SPOD_FLAT = [d for _p, d in manifests("tests/unit/fixtures/spod-flat.yaml")][0]
SPOD_GROUPED = [d for _p, d in manifests("tests/unit/fixtures/spod-grouped.yaml")][0]


def _set(doc, path, value):
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


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
