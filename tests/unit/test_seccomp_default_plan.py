# -*- coding: utf-8 -*-
"""The seccomp_default role's decisions (module_utils/seccomp/default.py, through its filters)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.filter.seccomp_default import (
    seccomp_default_loaded_units, seccomp_default_use_crio)


@pytest.mark.parametrize("setting, crio_dir, expected", [
    (True, False, True), ("yes", False, True), ("True", False, True), (1, False, True),
    (False, True, False), ("no", True, False), ("0", True, False),
    ("auto", True, True), ("auto", False, False), (" AUTO ", True, True),
])
def test_use_crio(setting, crio_dir, expected):
    assert seccomp_default_use_crio(setting, crio_dir) is expected


@pytest.mark.parametrize("setting", ["maybe", "", None, "crio"])
def test_use_crio_refuses_other_values_naming_the_variable(setting):
    with pytest.raises(AnsibleFilterError, match=r"seccomp_default_crio: must be true, false or auto"):
        seccomp_default_use_crio(setting, True)


def test_loaded_units():
    results = [{"item": "kubelet", "stdout": "loaded"}, {"item": "crio", "stdout": "not-found"},
               {"item": "containerd", "skipped": True}, {"item": "x", "stdout": "masked"}]
    assert seccomp_default_loaded_units(results) == ["kubelet"]
    assert seccomp_default_loaded_units(None) == []
