# -*- coding: utf-8 -*-
"""Each service account of the project holds only what it uses: its effective permissions, as the API server
reports them (``kubectl auth can-i --list --as system:serviceaccount:NS:SA``), in the operator's namespace and
in a tenant's namespace, equal the reviewed list ``tests/cluster/rbac-reviewed.yaml``.

What every service account may do on this cluster anyway (what an unbound service account of the same namespace
is reported to hold: discovery, self reviews, the platform's defaults) is taken away first, so the comparison is
of what the project's roles and bindings grant, and the same on any Kubernetes. To review a change: run this test,
read the difference it prints (the whole report is written to $TMPDIR/spo-rbac-effective.yaml),
and update the reviewed list only with what the service account really uses.
"""
from __future__ import annotations

import os
import subprocess
from typing import Dict, List, Set

import yaml

from clusterlib import OPERATOR_NAMESPACE, ROOT  # pylint: disable=import-error


REVIEWED = os.path.join(ROOT, "tests", "cluster", "rbac-reviewed.yaml")
ACCOUNTS = ["security-profiles-operator", "spod", "security-profiles-operator-webhook", "spo-label-sync"]
BASELINE = "spo-rbac-baseline-unbound"


def can_i(account: str, namespace: str) -> Set[str]:
    """``resource [names] verbs`` lines of ``kubectl auth can-i --list`` for the service account ``account``."""
    proc = subprocess.run(["kubectl", "auth", "can-i", "--list", "--no-headers", "-n", namespace,
                           "--as", "system:serviceaccount:%s:%s" % (OPERATOR_NAMESPACE, account)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    lines = set()
    for row in proc.stdout.splitlines():
        # Resources  Non-Resource URLs  Resource Names  Verbs; empty columns print as [] and verbs as [a b]
        row = " ".join(row.split())
        if row:  # the verbs in one order (kubectl merges the rules that grant them in the order it found them)
            head, _sep, verbs = row.rpartition(" [")
            lines.add("%s [%s]" % (head, " ".join(sorted(verbs.rstrip("]").split()))))
    return lines


def granted(account: str, namespace: str) -> List[str]:
    return sorted(can_i(account, namespace) - can_i(BASELINE, namespace))


def effective(namespace: str) -> Dict[str, Dict[str, List[str]]]:
    return {account: {"operator namespace": granted(account, OPERATOR_NAMESPACE),
                      "tenant namespace": granted(account, namespace)} for account in ACCOUNTS}


def test_each_service_account_holds_only_the_reviewed_permissions(operator, namespace):
    with open(REVIEWED) as handle:
        reviewed = yaml.safe_load(handle)
    got = effective(namespace)
    # what the cluster reports, in the reviewed list's form, for the review of a change
    with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "spo-rbac-effective.yaml"), "w") as handle:
        yaml.safe_dump(got, handle, width=200, sort_keys=False)
    diff = []
    for account in ACCOUNTS:
        for scope in ("operator namespace", "tenant namespace"):
            have = set(got[account][scope])
            want = set((reviewed.get(account) or {}).get(scope) or [])
            diff += ["%s in the %s: more than reviewed: %s" % (account, scope, line) for line in sorted(have - want)]
            diff += ["%s in the %s: reviewed but missing: %s" % (account, scope, line) for line in sorted(want - have)]
    assert diff == [], "\n".join(diff)


def test_no_service_account_reads_secrets_outside_the_operator_namespace(operator, namespace):
    checks = [(verb, resource) for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
              for resource in ("secrets", "configmaps")]
    checks += [(verb, "serviceaccounts") for verb in ("get", "create", "update", "patch", "delete")]
    checks += [(verb, "serviceaccounts/token") for verb in ("create",)]
    for account in ACCOUNTS:
        for verb, resource in checks:
            proc = subprocess.run(["kubectl", "auth", "can-i", verb, resource, "-n", namespace,
                                   "--as", "system:serviceaccount:%s:%s" % (OPERATOR_NAMESPACE, account)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
            assert proc.stdout.strip() == "no", "%s may %s %s in a tenant's namespace" % (account, verb, resource)
