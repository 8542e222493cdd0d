# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guard on the label sync's ``create pods``: a ValidatingAdmissionPolicy and its binding (pure).

The label sync judges pod templates by server-side dry runs (``dryrun``), so its service account holds
``create pods`` in every namespace (config/rbac/labelsync_role.yaml).  RBAC cannot limit a create to
dry runs: with that token alone anyone could create real pods anywhere, as any service account.  The
policy :func:`policy` refuses every CREATE of a pod by the user
``system:serviceaccount:<operator namespace>:spo-label-sync`` that is not a dry run (failurePolicy
Fail: an expression that cannot be evaluated refuses too); :func:`binding` puts it in force (Deny).

roles/spod applies both (the only source of them: the kustomize path gets them from the operator it
deploys, the OLM bundle cannot carry them) before the label sync Deployment, on every reconcile.  When
the API server serves no ValidatingAdmissionPolicy the label sync runs with ``--no-dry-run`` and
:func:`condition` says so on the SPOD's status.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

API_VERSION = "admissionregistration.k8s.io/v1"
NAME = "spo-label-sync-dry-run-only"
SERVICE_ACCOUNT = "spo-label-sync"
CONDITION_TYPE = "LabelSyncGuarded"
MESSAGE = "spo-label-sync may create pods only as server-side dry runs (dryRun=All)"
# a namespace name (RFC 1123 label): the only thing written into the policy's expression
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_LABELS = {"app": "security-profiles-operator"}


def username(namespace: str) -> str:
    """The user the API server sees for the label sync's service account in ``namespace``."""
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise SpoError("the operator namespace must be a DNS-1123 label, got %r" % (namespace,))
    return "system:serviceaccount:%s:%s" % (namespace, SERVICE_ACCOUNT)


def policy(namespace: str) -> Dict[str, Any]:
    """The ValidatingAdmissionPolicy: pods created by the label sync's service account must be dry runs."""
    user = username(namespace)
    return {
        "apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": NAME, "labels": dict(_LABELS)},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["*"], "operations": ["CREATE"], "resources": ["pods"],
                "scope": "Namespaced"}]},
            "matchConditions": [{"name": "label-sync-service-account",
                                 "expression": "request.userInfo.username == '%s'" % user}],
            "validations": [{"expression": "request.dryRun == true", "message": MESSAGE, "reason": "Forbidden"}],
        },
    }


def binding(namespace: str) -> Dict[str, Any]:
    """The binding that puts :func:`policy` in force for every namespace (Deny)."""
    username(namespace)
    return {
        "apiVersion": API_VERSION, "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": NAME, "labels": dict(_LABELS)},
        "spec": {"policyName": NAME, "validationActions": ["Deny"]},
    }


def objects(namespace: str) -> List[Dict[str, Any]]:
    """The policy then its binding, in the order they are applied."""
    return [policy(namespace), binding(namespace)]


def condition(installed: bool) -> Dict[str, str]:
    """The SPOD condition ``LabelSyncGuarded``: whether the policy is in place, hence dry runs allowed."""
    if installed:
        return {"type": CONDITION_TYPE, "status": "True", "reason": "PolicyInstalled",
                "message": "ValidatingAdmissionPolicy %s in force: %s; the label sync judges pod templates by "
                           "server-side dry runs" % (NAME, MESSAGE)}
    return {"type": CONDITION_TYPE, "status": "False", "reason": "AdmissionPolicyUnavailable",
            "message": "the API server serves no %s ValidatingAdmissionPolicy, so the create of pods granted to "
                       "spo-label-sync cannot be limited to dry runs: the label sync judges pod templates as "
                       "written (--no-dry-run); its ClusterRole still grants create pods (remove that rule on "
                       "this cluster)" % API_VERSION}
