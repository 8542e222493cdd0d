# -*- coding: utf-8 -*-
"""The project's watches.yaml, as ansible-operator reads it: every watched kind hands tenant strings to its role as
data (markUnsafe), status is managed, the roles exist in the collection, and the kinds the proxy must not cache
(RBAC grants them in the operator's namespace only, or without watch) are blacklisted where a role reads them.
The behaviour is proven in the cluster under ansible-operator (tests/cluster/test_operator_injection.py,
test_operator_e2e.py, test_operator_contract.py)."""
from __future__ import annotations

import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GROUP = "security-profiles-operator.x-k8s.io"


def watches():
    with open(os.path.join(ROOT, "watches.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def by_kind():
    return {w["kind"]: w for w in watches()}


def test_every_watch_marks_user_input_unsafe_and_has_managed_status():
    found = by_kind()
    assert set(found) == {"SecurityProfilesOperatorDaemon", "ProfileBinding", "ProfileRecording"}
    assert [k for k, w in found.items() if w.get("markUnsafe") is not True] == []
    assert [k for k, w in found.items() if w.get("manageStatus") is not True] == []
    assert {w["group"] for w in found.values()} == {GROUP}


def test_roles_exist_in_the_collection():
    for watch in watches():
        namespace, collection, role = watch["role"].split(".")
        assert (namespace, collection) == ("spo", "security_profiles")
        assert os.path.isfile(os.path.join(ROOT, "roles", role, "tasks", "main.yml")), watch["role"]


def test_the_proxy_caches_only_what_the_operator_may_watch_everywhere():
    found = by_kind()
    spod = {(b["group"], b["kind"]) for b in found["SecurityProfilesOperatorDaemon"]["blacklist"]}
    # the operator's own namespace only (config/rbac/operator_role.yaml), or create/get without watch
    assert {("", "Secret"), ("", "Service"), ("apps", "Deployment"), ("policy", "PodDisruptionBudget"),
            ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"), (GROUP, "SeccompProfile")} <= spod
    # the DaemonSet is watched (dependent watch: recreated at once when deleted)
    assert ("apps", "DaemonSet") not in spod
    assert found["SecurityProfilesOperatorDaemon"]["watchDependentResources"] is True
    binding = {(b["group"], b["kind"]) for b in found["ProfileBinding"]["blacklist"]}
    assert {("", "Pod"), (GROUP, "SeccompProfile"), (GROUP, "SelinuxProfile")} <= binding
    recording = {(b["group"], b["kind"]) for b in found["ProfileRecording"]["blacklist"]}
    assert {(GROUP, "SeccompProfile"), (GROUP, "SelinuxProfile")} <= recording


def test_the_recording_finalizer_passes_its_vars():
    finalizer = by_kind()["ProfileRecording"]["finalizer"]
    assert finalizer == {"name": "spo.x-k8s.io/has-unmerged-profiles", "vars": {"profilerecording_finalize": True}}
