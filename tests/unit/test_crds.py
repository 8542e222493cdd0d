# -*- coding: utf-8 -*-
"""Every CRD of config/crd/bases is one an API server would accept, with the API's names and shapes.

The CRDs go through the kubernetes client's apiextensions.k8s.io/v1 model and
the structural-schema rules (tests/crd.py), and the checks are shown to catch
what a server refuses. (By hand, against the test cluster: `kubectl apply
--server-side --dry-run=server -k config/crd` accepts them all.)
"""
from __future__ import annotations

import copy
import os

import pytest
import yaml

from crd import GROUP, ROOT, check_crd, crd_files, load_crd, object_schema, validation_errors

# kind -> (plural, served version, short names, printer columns); every kind is namespaced
KINDS = {
    "SeccompProfile": ("seccompprofiles", "v1beta1", ["sp"], ["Status", "Age", "LocalhostProfile"]),
    "SelinuxProfile": ("selinuxprofiles", "v1alpha2", [], ["Usage", "State", "Age"]),
    "RawSelinuxProfile": ("rawselinuxprofiles", "v1alpha2", [], ["Usage", "State", "Age"]),
    "ProfileBinding": ("profilebindings", "v1alpha1", [], ["Kind", "Profile", "Image", "Age"]),
    "ProfileRecording": ("profilerecordings", "v1alpha1", ["prec"], ["PodSelector", "Kind", "Age"]),
    "SecurityProfileNodeStatus": ("securityprofilenodestatuses", "v1alpha1", ["spns"], ["Status", "Age", "Node", "Message"]),
    "SecurityProfilesOperatorDaemon": ("securityprofilesoperatordaemons", "v1alpha1", ["spod"], ["State", "Age"]),
}
PROFILE_KINDS = {"SeccompProfile": "localhostProfile", "SelinuxProfile": "usage", "RawSelinuxProfile": "usage"}
ANSIBLE_KINDS = ["ProfileBinding", "ProfileRecording", "SecurityProfilesOperatorDaemon"]  # watches.yaml, manageStatus


def crd_of(kind):
    return load_crd("%s_%s.yaml" % (GROUP, KINDS[kind][0]))


def version_of(kind):
    [version] = crd_of(kind)["spec"]["versions"]
    return version


@pytest.mark.parametrize("name", crd_files())
def test_crd_is_accepted(name):
    assert check_crd(load_crd(name)) == []


def test_every_kind_has_its_crd_and_nothing_else():
    assert crd_files() == sorted("%s_%s.yaml" % (GROUP, plural) for plural, _v, _s, _c in KINDS.values())
    with open(os.path.join(ROOT, "config", "crd", "kustomization.yaml")) as handle:
        listed = yaml.safe_load(handle)["resources"]
    assert sorted(listed) == ["bases/" + name for name in crd_files()]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_names_versions_and_columns(kind):
    plural, version_name, short, columns = KINDS[kind]
    crd = crd_of(kind)
    spec = crd["spec"]
    assert spec["group"] == GROUP and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == kind and spec["names"]["listKind"] == kind + "List"
    assert spec["names"]["plural"] == plural and spec["names"]["singular"] == kind.lower()
    assert spec["names"].get("shortNames", []) == short
    version = version_of(kind)
    assert version["name"] == version_name and version["served"] and version["storage"]
    assert [col["name"] for col in version["additionalPrinterColumns"]] == columns
    age = [col for col in version["additionalPrinterColumns"] if col["name"] == "Age"]
    assert age == [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
    schema = version["schema"]["openAPIV3Schema"]
    for column in [c for c in version["additionalPrinterColumns"] if not c["jsonPath"].startswith(".metadata.")]:
        # every other column reads a field of the schema
        node = schema
        for part in column["jsonPath"].lstrip(".").split("."):
            node = node["properties"][part]
        assert node["type"] in ("string", "object") or "x-kubernetes-int-or-string" in node


@pytest.mark.parametrize("kind", sorted(k for k in KINDS if k != "SecurityProfileNodeStatus"))
def test_status_subresource(kind):
    assert version_of(kind)["subresources"] == {"status": {}}


def test_node_status_has_its_state_at_the_top():
    """Upstream's shape: nodeName and status (a state) are top-level, so there is no status subresource."""
    version = version_of("SecurityProfileNodeStatus")
    assert "subresources" not in version
    props = version["schema"]["openAPIV3Schema"]["properties"]
    assert version["schema"]["openAPIV3Schema"]["required"] == ["nodeName"]
    assert props["status"]["enum"] == ["Partial", "Disabled", "Pending", "InProgress", "Installed", "Terminating", "Error"]


@pytest.mark.parametrize("kind", sorted(PROFILE_KINDS))
def test_profile_status_schema(kind):
    status = version_of(kind)["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert set(status) == {"status", "conditions", "activeWorkloads", PROFILE_KINDS[kind]}
    assert status["status"]["enum"] == ["Pending", "InProgress", "Installed", "Error", "Terminating", "Disabled", "Partial"]
    condition = status["conditions"]["items"]
    assert set(condition["properties"]) == {"type", "status", "reason", "message", "lastTransitionTime"}
    assert condition["required"] == ["type", "status"] and status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    assert status["activeWorkloads"]["items"] == {"type": "string"}


def _ansible_status():
    return {"conditions": [
        {"type": "Running", "status": "False", "reason": "Successful", "message": "Awaiting next reconciliation",
         "lastTransitionTime": "2026-12-01T04:40:00Z",
         "ansibleResult": {"changed": 1, "completion": "2026-12-01T04:40:00.123456", "failures": 0, "ok": 7, "skipped": 2}},
        {"type": "Successful", "status": "True", "reason": "Successful", "message": "Last reconciliation succeeded",
         "lastTransitionTime": "2026-12-01T04:40:00Z"},
    ]}


@pytest.mark.parametrize("kind", ANSIBLE_KINDS)
def test_status_takes_what_the_ansible_operator_writes(kind):
    """manageStatus: the operator-sdk Ansible operator's conditions (with ansibleResult) are kept, not pruned."""
    plural, version, _s, _c = KINDS[kind]
    doc = {"apiVersion": "%s/%s" % (GROUP, version), "kind": kind, "metadata": {"name": "x"}, "status": _ansible_status()}
    assert [e for e in validation_errors(doc) if e.startswith("status")] == []
    doc["status"]["conditions"][0]["ansibleResult"]["oops"] = 1
    assert any("oops" in e for e in validation_errors(doc))


def test_strict_schema_refuses_fields_under_an_empty_object():
    schema = object_schema(crd_of("SecurityProfileNodeStatus"), "v1alpha1")
    assert schema["properties"]["spec"]["additionalProperties"] is False
    doc = {"apiVersion": GROUP + "/v1alpha1", "kind": "SecurityProfileNodeStatus", "metadata": {"name": "a"},
           "nodeName": "n", "spec": {"nodeName": "n"}}
    assert any("nodeName" in e for e in validation_errors(doc))


def _root_schema(crd):
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def _break_list_map(crd):
    for node in _walk(_root_schema(crd)):
        if node.get("x-kubernetes-list-type") == "map":
            node["items"]["required"] = []
            return
    node = _root_schema(crd)["properties"]
    node["xs"] = {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}},
                  "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]}


def _walk(node):
    if isinstance(node, dict):
        yield node
        for child in list((node.get("properties") or {}).values()) + [node.get("items"), node.get("additionalProperties")]:
            yield from _walk(child)


@pytest.mark.parametrize("breakage, message", [
    (lambda c: _root_schema(c).update(additionalProperties=False), "mutually exclusive"),
    (lambda c: _root_schema(c)["properties"]["kind"].pop("type"), "needs a type"),
    (lambda c: _root_schema(c)["properties"].update(xs={"type": "array"}), "needs items"),
    (lambda c: _root_schema(c)["properties"].update(q={"type": "string", "x-kubernetes-int-or-string": True}), "excludes type"),
    (_break_list_map, "required or defaulted"),
    (lambda c: c["spec"]["names"].pop("plural"), "CustomResourceDefinition"),
    (lambda c: c["spec"]["versions"][0].update(storage=False), "storage version"),
    (lambda c: c["metadata"].update(name="wrong"), "<plural>.<group>"),
])
@pytest.mark.parametrize("name", crd_files())
def test_checks_catch_what_a_server_refuses(name, breakage, message):
    crd = copy.deepcopy(load_crd(name))
    breakage(crd)
    assert any(message in error for error in check_crd(crd))
