# -*- coding: utf-8 -*-
"""Every CRD of config/crd/bases is one an API server would accept.

No API server runs on these machines: the CRDs go through the kubernetes
client's apiextensions.k8s.io/v1 model and the structural-schema rules
(tests/crd.py), and the checks are shown to catch what a server refuses.
"""
from __future__ import annotations

import copy

import pytest

from crd import check_crd, crd_files, load_crd


@pytest.mark.parametrize("name", crd_files())
def test_crd_is_accepted(name):
    assert check_crd(load_crd(name)) == []


def _spec_schema(crd):
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


@pytest.mark.parametrize("breakage, message", [
    (lambda c: _spec_schema(c).update(additionalProperties=False), "mutually exclusive"),
    (lambda c: _spec_schema(c).pop("type"), "needs a type"),
    (lambda c: c["spec"]["names"].pop("plural"), "CustomResourceDefinition"),
    (lambda c: c["spec"]["versions"][0].update(storage=False), "storage version"),
    (lambda c: c["metadata"].update(name="wrong"), "<plural>.<group>"),
])
@pytest.mark.parametrize("name", crd_files())
def test_checks_catch_what_a_server_refuses(name, breakage, message):
    crd = copy.deepcopy(load_crd(name))
    breakage(crd)
    assert any(message in error for error in check_crd(crd))
