# -*- coding: utf-8 -*-
"""SELinux CRDs: samples validate against the typed schemas and the engine; bad objects are refused."""
from __future__ import annotations

import copy
import os

import jsonschema
import pytest
import yaml

from conftest import ROOT
from crd import object_schema

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux

CRDS = {
    "SelinuxProfile": "config/crd/bases/security-profiles-operator.x-k8s.io_selinuxprofiles.yaml",
    "RawSelinuxProfile": "config/crd/bases/security-profiles-operator.x-k8s.io_rawselinuxprofiles.yaml",
}
SAMPLES = {
    "SelinuxProfile": "config/samples/security-profiles-operator.x-k8s.io_v1alpha2_selinuxprofile.yaml",
    "RawSelinuxProfile": "config/samples/security-profiles-operator.x-k8s.io_v1alpha2_rawselinuxprofile.yaml",
}


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def schema(kind):
    crd = load(CRDS[kind])
    assert crd["spec"]["names"]["kind"] == kind
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha2" and version["subresources"] == {"status": {}}
    assert [c["jsonPath"] for c in version["additionalPrinterColumns"]][:2] == [".status.usage", ".status.status"]
    assert "usage" in version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    return object_schema(crd, version["name"])  # as the API server applies it (strict field validation)


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_samples_validate_against_schema_and_engine(kind):
    sample = load(SAMPLES[kind])
    jsonschema.validate(sample, schema(kind))
    assert selinux.parse_profile(sample).usage.endswith("_my-namespace.process")


@pytest.mark.parametrize("mutate", [
    lambda d: d["spec"].update(allow={"var_log_t": {"file": ["read) (x"]}}),
    lambda d: d["spec"].update(allow={"var_log_t": {"file": []}}),
    lambda d: d["spec"].update(inherit=[{"kind": "Other", "name": "container"}]),
    lambda d: d["spec"].update(inherit=[{"name": "Bad Name"}]),
    lambda d: d["spec"].update(permissive="yes"),
    lambda d: d["spec"].update(unknown=1),
])
def test_schema_refuses_bad_selinuxprofiles(mutate):
    doc = copy.deepcopy(load(SAMPLES["SelinuxProfile"]))
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("SelinuxProfile"))


def test_schema_bounds_raw_policy():
    doc = copy.deepcopy(load(SAMPLES["RawSelinuxProfile"]))
    doc["spec"]["policy"] = "x" * 500001
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema("RawSelinuxProfile"))
