# -*- coding: utf-8 -*-
"""The SeccompProfile CRD: shape, enums in step with the engine, shipped profiles and samples validate."""
from __future__ import annotations

import copy
import glob
import os

import jsonschema
import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import model as seccomp_model
from crd import object_schema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRD_PATH = os.path.join(ROOT, "config", "crd", "bases", "security-profiles-operator.x-k8s.io_seccompprofiles.yaml")
with open(CRD_PATH) as _handle:
    CRD = yaml.safe_load(_handle)
VERSION = CRD["spec"]["versions"][0]
SCHEMA = object_schema(CRD, VERSION["name"])  # as the API server applies it (strict field validation)


def _docs(pattern):
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
        with open(path) as handle:
            docs.extend((os.path.relpath(path, ROOT), doc) for doc in yaml.safe_load_all(handle)
                        if doc and doc.get("kind") == "SeccompProfile")
    return docs


SHIPPED_AND_SAMPLES = _docs("profiles/seccomp/*.yaml") + _docs("config/samples/*.yaml")


def test_crd_shape():
    spec = CRD["spec"]
    assert CRD["apiVersion"] == "apiextensions.k8s.io/v1" and CRD["kind"] == "CustomResourceDefinition"
    assert spec["group"] == "security-profiles-operator.x-k8s.io" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "SeccompProfile" and spec["names"]["shortNames"] == ["sp"]
    assert CRD["metadata"]["name"] == "%s.%s" % (spec["names"]["plural"], spec["group"])
    assert VERSION["name"] == "v1beta1" and VERSION["served"] and VERSION["storage"]
    assert VERSION["subresources"] == {"status": {}}
    assert [col["name"] for col in VERSION["additionalPrinterColumns"]] == ["Status", "Age", "LocalhostProfile"]
    status = SCHEMA["properties"]["status"]["properties"]
    assert set(status) == {"status", "conditions", "localhostProfile", "activeWorkloads"}
    assert status["status"]["enum"] == ["Pending", "InProgress", "Installed", "Error", "Terminating", "Disabled", "Partial"]


def test_enums_match_the_engine():
    spec = SCHEMA["properties"]["spec"]["properties"]
    rule = spec["syscalls"]["items"]["properties"]
    assert spec["defaultAction"]["enum"] == rule["action"]["enum"] == list(seccomp_model.ACTIONS)
    assert spec["architectures"]["items"]["enum"] == list(seccomp_model.ARCHITECTURES)
    assert spec["flags"]["items"]["enum"] == list(seccomp_model.FLAGS)
    assert rule["args"]["items"]["properties"]["op"]["enum"] == list(seccomp_model.OPERATORS)
    assert rule["args"]["maxItems"] == seccomp_model.MAX_ARGS
    assert set(spec) == set(seccomp_model.SPEC_KEYS)


def test_every_shipped_profile_and_sample_validates():
    assert len(SHIPPED_AND_SAMPLES) >= 5
    names = {doc["metadata"]["name"] for _path, doc in SHIPPED_AND_SAMPLES}
    assert {"profile-complain-block-high-risk", "profile-allow-unsafe", "log-enricher-trace", "runc-v1.1.5"} <= names
    for path, doc in SHIPPED_AND_SAMPLES:
        try:
            jsonschema.validate(doc, SCHEMA)
        except jsonschema.ValidationError as exc:  # pragma: no cover - the failure message
            pytest.fail("%s: %s" % (path, exc.message))


def _sample():
    return copy.deepcopy([doc for _p, doc in SHIPPED_AND_SAMPLES if doc["metadata"]["name"] == "profile-complain-block-high-risk"][0])


@pytest.mark.parametrize("path, value", [
    (("spec", "defaultAction"), "SCMP_ACT_MAYBE"),
    (("spec", "architectures"), ["SCMP_ARCH_Z80"]),
    (("spec", "flags"), ["SECCOMP_FILTER_FLAG_NOPE"]),
    (("spec", "syscalls"), [{"action": "SCMP_ACT_ALLOW", "names": []}]),
    (("spec", "syscalls"), [{"action": "SCMP_ACT_ALLOW"}]),
    (("spec", "syscalls"), [{"action": "SCMP_ACT_ALLOW", "names": ["read"],
                             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}] * 7}]),
    (("spec", "syscalls"), [{"action": "SCMP_ACT_ALLOW", "names": ["read"], "args": [{"index": 6, "op": "SCMP_CMP_EQ"}]}]),
    (("spec", "syscalls"), [{"action": "SCMP_ACT_ALLOW", "names": ["read"], "args": [{"index": 0, "op": "EQ"}]}]),
    (("spec", "baseProfileName"), "../x"),
    (("spec", "disabled"), "yes"),
    (("spec", "defaultaction"), "SCMP_ACT_LOG"),
    (("status",), {"status": "Happy"}),
], ids=["action", "arch", "flag", "no-names", "names-missing", "seven-args", "index-6", "op", "base-name", "disabled", "typo-field",
        "status"])
def test_bad_objects_fail(path, value):
    doc = _sample()
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_sample_is_the_spec_manifest():
    with open(os.path.join(ROOT, "tests", "unit", "fixtures", "spec-seccompprofile.yaml")) as handle:
        manifest = yaml.safe_load(handle)
    samples = [doc for path, doc in SHIPPED_AND_SAMPLES if path.startswith("config/samples/")]
    assert manifest in samples
