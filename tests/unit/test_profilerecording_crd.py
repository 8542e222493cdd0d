# -*- coding: utf-8 -*-
"""The ProfileRecording CRD: the SPEC's manifest applies unchanged; bad objects are refused."""
from __future__ import annotations

import copy
import os

import jsonschema
import pytest
import yaml

from conftest import ROOT
from crd import load_crd, object_schema

SCHEMA = object_schema(load_crd("security-profiles-operator.x-k8s.io_profilerecordings.yaml"), "v1alpha1")
SAMPLE = os.path.join(ROOT, "config", "samples", "security-profiles-operator.x-k8s.io_v1alpha1_profilerecording.yaml")


def sample():
    with open(SAMPLE) as handle:
        return yaml.safe_load(handle)


def test_spec_sample_validates():
    jsonschema.validate(sample(), SCHEMA)


@pytest.mark.parametrize("spec_update", [
    {"kind": "AppArmorProfile"},
    {"mergeStrategy": "everything"},
    {"recorder": "hook"},
    {"containers": ["Not A Name"]},
    {"podSelector": {"matchExpressions": [{"key": "app", "operator": "Like"}]}},
    {"podSelector": {"matchLabels": {"app": 1}}},
    {"unknownField": True},
])
def test_bad_recordings_are_refused(spec_update):
    doc = copy.deepcopy(sample())
    doc["spec"].update(spec_update)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)


def test_kind_and_selector_are_required():
    for field in ("kind", "podSelector"):
        doc = copy.deepcopy(sample())
        del doc["spec"][field]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(doc, SCHEMA)
