# -*- coding: utf-8 -*-
"""The SPEC's manifests, the samples and documented SPOD objects apply unchanged; unknown fields are refused.

Validation is what the API server does with kubectl's default strict field
validation (tests/crd.py). The same files were applied by hand to the test
cluster with `kubectl apply --server-side --dry-run=server`.
"""
from __future__ import annotations

import copy
import os

import pytest
import yaml

from crd import ROOT, manifests, served_crds, validation_errors

SPEC_MANIFESTS = manifests("tests/unit/fixtures/spec-*.yaml")
SAMPLES = manifests("config/samples/*.yaml")
SPOD_DOCS = manifests("tests/unit/fixtures/spod-*.yaml")
ALL = SPEC_MANIFESTS + [(p, d) for p, d in SAMPLES if d.get("kind") != "Kustomization" and "apiVersion" in d] + SPOD_DOCS


def _id(entry):
    return "%s:%s" % (entry[0], entry[1].get("kind"))


def test_the_spec_manifests_are_all_here():
    assert sorted(d["kind"] for _p, d in SPEC_MANIFESTS) == ["ProfileBinding", "ProfileRecording", "SeccompProfile", "SelinuxProfile"]


@pytest.mark.parametrize("entry", ALL, ids=_id)
def test_applies_unchanged(entry):
    assert validation_errors(entry[1]) == []


@pytest.mark.parametrize("entry", ALL, ids=_id)
def test_an_unknown_field_is_refused(entry):
    doc = copy.deepcopy(entry[1])
    target = doc["spec"] if isinstance(doc.get("spec"), dict) and doc["spec"] else doc
    target["unknownField"] = True
    assert any("unknownField" in error for error in validation_errors(doc))


def test_one_sample_per_kind():
    kinds = sorted(d["kind"] for p, d in SAMPLES if p.endswith(".yaml") and "apiVersion" in d)
    assert kinds == sorted(kind for _version, kind in served_crds())
    spod = [d for _p, d in SAMPLES if d.get("kind") == "SecurityProfilesOperatorDaemon"]
    assert [d["metadata"] for d in spod] == [{"name": "spod", "namespace": "security-profiles-operator"}]


def test_samples_kustomization_lists_the_samples_users_create():
    with open(os.path.join(ROOT, "config", "samples", "kustomization.yaml")) as handle:
        listed = yaml.safe_load(handle)["resources"]
    files = sorted(os.path.basename(p) for p, d in SAMPLES if "apiVersion" in d)
    assert sorted(listed) == [f for f in files if "securityprofilenodestatus" not in f]


@pytest.mark.parametrize("kind", ["SeccompProfile", "SelinuxProfile", "ProfileBinding", "ProfileRecording"])
def test_the_samples_are_the_spec_manifests(kind):
    spec = [d for _p, d in SPEC_MANIFESTS if d["kind"] == kind]
    assert spec and spec[0] in [d for _p, d in SAMPLES]
