# -*- coding: utf-8 -*-
"""The SPOD's workloads carry the uid of the service account they run as (module_utils/cluster/accounts.py and the
filters spod_account_uids / spod_account_stamped): an account made anew rolls its pods, so they get tokens the API
server accepts (an OLM reinstall deletes and makes the accounts again)."""
from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.filter.spod import spod_account_stamped, spod_account_uids
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import accounts, spod
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment as labelsync
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import manifests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPOD = {"apiVersion": spod.SPOD_API_VERSION, "kind": spod.SPOD_KIND,
        "metadata": {"name": "spod", "namespace": "security-profiles-operator", "uid": "u-spod"}, "spec": {}}
UIDS = {spod.SERVICE_ACCOUNT: "uid-a", manifests.SERVICE_ACCOUNT: "uid-b", labelsync.SERVICE_ACCOUNT: "uid-c"}


def _template_uid(obj):
    return ((obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}).get(
        accounts.ACCOUNT_UID_ANNOTATION)


@pytest.mark.parametrize("workload,uid", [
    (spod.daemonset(SPOD, "img:1"), "uid-a"),
    (manifests.deployment(SPOD, "img:1"), "uid-b"),
    (labelsync.deployment(SPOD, "img:1"), "uid-c"),
], ids=["node DaemonSet", "webhook Deployment", "label sync Deployment"])
def test_each_workload_gets_the_uid_of_its_own_account(workload, uid):
    got = spod_account_stamped(workload, UIDS)
    assert _template_uid(got) == uid
    assert _template_uid(workload) is None  # the input is not changed
    # the other annotations stay (the config hash that rolls the node pods on a SPOD change, OpenShift's SCC)
    before = dict((workload["spec"]["template"].get("metadata") or {}).get("annotations") or {})
    after = dict(got["spec"]["template"]["metadata"]["annotations"])
    after.pop(accounts.ACCOUNT_UID_ANNOTATION)
    assert after == before


def test_an_account_made_anew_changes_the_pod_template():
    """The point of the stamp: same SPOD, same image, a new account uid -> another pod template (the pods roll)."""
    old = spod_account_stamped(spod.daemonset(SPOD, "img:1"), UIDS)
    new = spod_account_stamped(spod.daemonset(SPOD, "img:1"), dict(UIDS, spod="uid-new"))
    assert old["spec"]["template"] != new["spec"]["template"]
    again = spod_account_stamped(spod.daemonset(SPOD, "img:1"), dict(UIDS))
    assert again == old  # and the same account: nothing rolls


@pytest.mark.parametrize("obj,uids", [
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": []}}, UIDS),
    (spod.daemonset(SPOD, "img:1"), {}),  # the account was not found: no stamp, nothing rolls
    (spod.daemonset(SPOD, "img:1"), {"other": "x"}),
], ids=["not a workload", "no account read", "another account"])
def test_left_as_it_is(obj, uids):
    assert spod_account_stamped(obj, uids) == obj


def test_uids_from_k8s_info_results_of_a_loop():
    results = [{"resources": [{"metadata": {"name": "spod", "uid": "1"}}]},
               {"resources": []},  # not found
               {"resources": [{"metadata": {"name": "spo-label-sync", "uid": "3"}}]},
               {"skipped": True}]
    assert spod_account_uids(results) == {"spod": "1", "spo-label-sync": "3"}
    assert spod_account_uids({"resources": [{"metadata": {"name": "w", "uid": "2"}}]}) == {"w": "2"}
    assert accounts.account_uids([{"metadata": {"name": "no-uid"}}, {}]) == {}


@pytest.mark.parametrize("call", [lambda: spod_account_uids("text"), lambda: spod_account_stamped([], {}),
                                  lambda: spod_account_stamped({}, "x")])
def test_bad_input_is_a_clear_error(call):
    with pytest.raises(AnsibleFilterError, match="spod_account_"):
        call()


def test_the_role_reads_every_account_its_workloads_run_as_and_rbac_grants_just_those():
    with open(os.path.join(ROOT, "roles", "spod", "vars", "main.yml"), encoding="utf-8") as handle:
        role = yaml.safe_load(handle)
    assert sorted(role["spod_service_accounts"]) == sorted(UIDS)
    with open(os.path.join(ROOT, "config", "rbac", "operator_role.yaml"), encoding="utf-8") as handle:
        rules = [r for r in yaml.safe_load(handle)["rules"] if "serviceaccounts" in r["resources"]]
    assert rules == [{"apiGroups": [""], "resources": ["serviceaccounts"], "resourceNames": sorted(UIDS, key=list(
        role["spod_service_accounts"]).index), "verbs": ["get"]}]
