# -*- coding: utf-8 -*-
"""The admission policy that limits the label sync's ``create pods`` to dry runs (labelsync/guard.py), the
Deployment's ``--no-dry-run`` without it, and the operator's role and RBAC that apply it."""
from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment, guard

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPOD = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": "security-profiles-operator", "uid": "u-1"}, "spec": {}}


def _load(*path):
    with open(os.path.join(ROOT, *path)) as handle:
        return yaml.safe_load(handle)


def test_policy_refuses_every_pod_create_of_the_label_sync_but_dry_runs():
    policy = guard.policy("spo")
    spec = policy["spec"]
    assert policy["apiVersion"] == "admissionregistration.k8s.io/v1" and policy["kind"] == "ValidatingAdmissionPolicy"
    assert policy["metadata"]["name"] == "spo-label-sync-dry-run-only"
    assert spec["failurePolicy"] == "Fail"
    assert spec["matchConstraints"]["resourceRules"] == [{
        "apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE"], "resources": ["pods"],
        "scope": "Namespaced"}]
    assert [c["expression"] for c in spec["matchConditions"]] == [
        "request.userInfo.username == 'system:serviceaccount:spo:spo-label-sync'"]
    assert spec["validations"] == [{"expression": "request.dryRun == true", "reason": "Forbidden",
                                    "message": "spo-label-sync may create pods only as server-side dry runs "
                                               "(dryRun=All)"}]
    assert "paramKind" not in spec


def test_binding_denies_with_the_policy():
    bound = guard.binding("spo")
    assert bound["kind"] == "ValidatingAdmissionPolicyBinding" and bound["metadata"]["name"] == guard.NAME
    assert bound["spec"] == {"policyName": guard.NAME, "validationActions": ["Deny"]}
    kinds = [o["kind"] for o in guard.objects("spo")]
    assert kinds == ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]


@pytest.mark.parametrize("namespace", ["", "Spo", "spo' || true || '", "a" * 64, None, "spo\n", "-spo"])
def test_the_namespace_never_becomes_cel(namespace):
    with pytest.raises(SpoError, match="DNS-1123 label"):
        guard.objects(namespace)


def test_condition_says_whether_dry_runs_are_guarded():
    assert guard.condition(True)["status"] == "True" and guard.condition(True)["reason"] == "PolicyInstalled"
    off = guard.condition(False)
    assert off["type"] == "LabelSyncGuarded" and off["status"] == "False"
    assert off["reason"] == "AdmissionPolicyUnavailable" and "--no-dry-run" in off["message"]


def test_deployment_runs_without_dry_runs_when_unguarded():
    args = deployment.deployment(SPOD)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--no-dry-run" not in args
    args = deployment.deployment(SPOD, dry_run=False)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[-1] == "--no-dry-run"
    with pytest.raises(SpoError, match="dry_run must be true or false"):
        deployment.deployment(SPOD, dry_run="false")


def test_the_cli_flag_the_deployment_uses_exists():
    from spo_cli.label_sync import parse_args
    args = deployment.deployment(SPOD, dry_run=False)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert parse_args(args).no_dry_run is True and parse_args(args[:-1]).no_dry_run is False


def test_filter():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.spo.security_profiles.plugins.filter.labelsync import FilterModule
    filters = FilterModule().filters()
    got = filters["labelsync_guard"](SPOD, True)
    assert got["dry_run"] is True and got["condition"]["status"] == "True"
    assert got["objects"] == guard.objects("security-profiles-operator")
    assert "system:serviceaccount:security-profiles-operator:spo-label-sync" in \
        got["objects"][0]["spec"]["matchConditions"][0]["expression"]
    assert filters["labelsync_guard"](SPOD, False)["dry_run"] is False
    args = filters["labelsync_deployment"](SPOD, "img", False)["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--no-dry-run" in args
    with pytest.raises(AnsibleFilterError, match="labelsync_guard: .*DNS-1123"):
        filters["labelsync_guard"](dict(SPOD, metadata={"name": "spod"}), True)
    with pytest.raises(AnsibleFilterError, match="served must be true or false"):
        filters["labelsync_guard"](SPOD, "yes")


def test_role_applies_the_policy_before_the_deployment():
    tasks = _load("roles", "spod", "tasks", "labelsync.yml")
    names = [t["name"] for t in tasks]
    probe = tasks[0]["kubernetes.core.k8s_info"]
    assert probe["kind"] == "ValidatingAdmissionPolicy" and probe["name"] == guard.NAME
    policy = names.index("Apply the policy that limits the label sync's pod creates to dry runs, then its binding")
    assert policy < names.index("Apply the label sync Deployment")
    assert "spod_labelsync_guard.dry_run" in tasks[names.index("Render the label sync Deployment")]["ansible.builtin.set_fact"][
        "spod_labelsync_desired"]


def test_operator_rbac_reaches_the_policy_by_name_only():
    rules = [r for r in _load("config", "rbac", "role.yaml")["rules"]
             if "validatingadmissionpolicies" in r["resources"] or "validatingadmissionpolicybindings" in r["resources"]]
    named = [r for r in rules if r.get("resourceNames")]
    unnamed = [r for r in rules if not r.get("resourceNames")]
    assert [sorted(r["verbs"]) for r in unnamed] == [["create"]]
    assert [(r["resourceNames"], sorted(r["verbs"])) for r in named] == [([guard.NAME], ["get", "patch"])]
