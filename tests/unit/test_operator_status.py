# -*- coding: utf-8 -*-
"""k8s_status (the module roles write their status with): merging into the status ansible-operator manages,
conditions by type with their transition times, validation naming the field."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import k8s_status

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


def test_status_merge_keeps_managed_conditions():
    current = {"conditions": [{"type": "Running", "status": "True", "reason": "Successful", "lastTransitionTime": T0}],
               "state": "Pending", "nodes": {"a": 1}}
    after = k8s_status.desired_status(current, {"state": "Running", "nodes": {"b": 2}}, None)
    assert after == {"conditions": current["conditions"], "state": "Running", "nodes": {"a": 1, "b": 2}}
    assert k8s_status.desired_status(after, {"nodes": {"a": None}}, None)["nodes"] == {"b": 2}


def test_condition_merge_by_type_and_transition_time():
    current = {"conditions": [{"type": "Ready", "status": "True", "reason": "A", "lastTransitionTime": T0},
                              {"type": "Running", "status": "True", "lastTransitionTime": T0}]}
    same = k8s_status.desired_status(current, None, [{"type": "Ready", "status": True, "reason": "A"}], now=T2)
    assert same == current  # nothing changed: no write
    flipped = k8s_status.desired_status(current, None, [{"type": "Ready", "status": "False", "reason": "B"}], now=T2)
    assert flipped["conditions"][0] == {"type": "Ready", "status": "False", "reason": "B", "lastTransitionTime": T2}
    assert flipped["conditions"][1] == current["conditions"][1]
    added = k8s_status.desired_status(current, None, [{"type": "Synced", "status": "Unknown"}], now=T2)
    assert [c["type"] for c in added["conditions"]] == ["Ready", "Running", "Synced"]
    forced = k8s_status.desired_status(current, {"state": "x"}, None, force=True)
    assert forced == {"state": "x"}


def test_status_patch_round_trip():
    before = {"a": 1, "b": {"c": 2, "d": 3}, "gone": True}
    after = {"a": 1, "b": {"c": 5, "d": 3}, "new": [1]}
    patch = k8s_status.status_patch(before, after)
    assert patch == {"gone": None, "b": {"c": 5}, "new": [1]}
    assert k8s_status.merge_patch(before, patch) == after


@pytest.mark.parametrize("conds,field", [
    ([{"status": "True"}], "conditions[0].type"),
    ([{"type": "A", "status": "Maybe"}], "conditions[0].status"),
    ([{"type": "A", "status": "True", "reason": "two words"}], "conditions[0].reason"),
    ([{"type": "A", "status": "True", "lastTransitionTime": "yesterday"}], "conditions[0].lastTransitionTime"),
    ([{"type": "A", "status": "True", "colour": "red"}], "conditions[0].colour"),
    ([{"type": "A", "status": "True"}, {"type": "A", "status": "False"}], "conditions[1].type"),
])
def test_condition_validation(conds, field):
    with pytest.raises(SpoError) as err:
        k8s_status.validate_conditions(conds)
    assert err.value.field == field


def test_conditions_in_both_places():
    with pytest.raises(SpoError, match="not both"):
        k8s_status.desired_status({}, {"conditions": []}, [{"type": "A", "status": "True"}])


def test_api_version():
    assert k8s_status.split_api_version("v1") == ["", "v1"]
    assert k8s_status.split_api_version("a.b/v1") == ["a.b", "v1"]
    with pytest.raises(SpoError):
        k8s_status.split_api_version("a/b/c")
