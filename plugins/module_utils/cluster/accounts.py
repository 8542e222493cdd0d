# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service account a workload of the SPOD runs as, stamped on its pod template.

A pod's token is bound to its service account's uid. When the account is deleted and made again under the same
name (OLM deletes the accounts a CSV lists when the CSV goes, and makes them anew on a reinstall), the pods still
running present tokens the API server refuses (401) until the kubelet happens to renew them. The SPOD role reads
the accounts and stamps each uid on the pod template of the DaemonSet and Deployments that run as it: a new
account is a new template, so the pods roll and get tokens of the new account at once.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Iterable, Mapping

ACCOUNT_UID_ANNOTATION = "spo.x-k8s.io/service-account-uid"
WORKLOAD_KINDS = ("DaemonSet", "Deployment")


def account_uids(accounts: Iterable[Mapping[str, Any]]) -> Dict[str, str]:
    """ServiceAccount objects -> {name: uid} (objects without a uid are left out)."""
    uids: Dict[str, str] = {}
    for account in accounts:
        meta = (account or {}).get("metadata") or {}
        if meta.get("name") and meta.get("uid"):
            uids[str(meta["name"])] = str(meta["uid"])
    return uids


def stamped(obj: Mapping[str, Any], uids: Mapping[str, str]) -> Dict[str, Any]:
    """``obj`` with its pod template annotated with the uid of the account it runs as; any other object, or a
    workload whose account is not in ``uids``, unchanged (a copy)."""
    result = copy.deepcopy(dict(obj))
    if result.get("kind") not in WORKLOAD_KINDS:
        return result
    template = (result.get("spec") or {}).get("template")
    if not isinstance(template, dict):
        return result
    name = (template.get("spec") or {}).get("serviceAccountName")
    uid = uids.get(name) if isinstance(name, str) else None
    if uid:
        meta = template.setdefault("metadata", {})
        annotations = meta.get("annotations") or {}
        meta["annotations"] = dict(annotations, **{ACCOUNT_UID_ANNOTATION: uid})
    return result
