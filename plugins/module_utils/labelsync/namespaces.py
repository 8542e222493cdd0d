# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which namespaces the label sync manages, who owns which Pod Security label, and what to apply.

Managed namespaces (:func:`managed`):

* ``spo.x-k8s.io/pod-security-label-sync`` (this project's own switch) decides when set:
  ``"true"`` managed, ``"false"`` not.  It lets a namespace be handed to this controller while
  OpenShift's syncer is kept out (``security.openshift.io/scc.podSecurityLabelSync: "false"``).
* otherwise ``security.openshift.io/scc.podSecurityLabelSync: "false"`` opts out;
* ``default``, ``openshift``, ``openshift-*`` and ``kube-*`` are managed only when one of the two
  labels says ``"true"``; every other namespace is managed; terminating namespaces never are.

Label ownership (:func:`label_managers`, from ``metadata.managedFields``): a Pod Security label
(``pod-security.kubernetes.io/{enforce,warn,audit}`` and their ``-version``) is written only when it
is unset, owned by no manager, or owned by this controller's field manager ``spo-label-sync``
alone.  A label another field manager owns is never overwritten — with one exception: when
OpenShift's syncer is opted out of the namespace (its label ``"false"``), labels it wrote earlier
(managers ``pod-security-admission-label-synchronization-controller`` or
``cluster-policy-controller``) are adopted (a forced apply moves their ownership here), as
OpenShift itself adopts its older manager's labels.

The apply body (:func:`plan`) is a server-side apply configuration of this field manager: the
labels it may write, at the computed level (version ``latest`` unless told), and the annotations
``spo.x-k8s.io/pod-security-minimum`` (the level computed) and
``spo.x-k8s.io/pod-security-minimum-reason`` (which workload or SCC demands it).  In report-only
mode no label changes: labels this manager already owns are sent with their current values (an
apply that left them out would delete them), others are not sent.  No body when nothing would
change.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import LATEST

Obj = Dict[str, Any]

PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "warn", "audit")
LEVEL_LABELS: Tuple[str, ...] = tuple(PREFIX + m for m in MODES)
VERSION_LABELS: Tuple[str, ...] = tuple(PREFIX + m + "-version" for m in MODES)
ALL_LABELS: Tuple[str, ...] = LEVEL_LABELS + VERSION_LABELS
OPENSHIFT_SYNC_LABEL = "security.openshift.io/scc.podSecurityLabelSync"
SYNC_LABEL = "spo.x-k8s.io/pod-security-label-sync"
MINIMUM_ANNOTATION = "spo.x-k8s.io/pod-security-minimum"
REASON_ANNOTATION = "spo.x-k8s.io/pod-security-minimum-reason"
OPENSHIFT_MINIMUM_ANNOTATION = "security.openshift.io/MinimallySufficientPodSecurityStandard"
FIELD_MANAGER = "spo-label-sync"
OPENSHIFT_MANAGERS = frozenset(("pod-security-admission-label-synchronization-controller",
                                "cluster-policy-controller"))
REASON_LIMIT = 1000


def _meta(ns: Mapping[str, Any]) -> Mapping[str, Any]:
    return ns.get("metadata") or {}


def is_system(name: str) -> bool:
    return name in ("default", "openshift") or name.startswith("openshift-") or name.startswith("kube-")


def managed(ns: Mapping[str, Any]) -> Tuple[bool, str]:
    """(managed?, why) for a Namespace object."""
    meta = _meta(ns)
    name, labels = meta.get("name") or "", meta.get("labels") or {}
    if (ns.get("status") or {}).get("phase") == "Terminating" or meta.get("deletionTimestamp"):
        return False, "terminating"
    own = labels.get(SYNC_LABEL)
    if own in ("true", "false"):
        return own == "true", "%s=%s" % (SYNC_LABEL, own)
    openshift = labels.get(OPENSHIFT_SYNC_LABEL)
    if openshift == "false":
        return False, "%s=false" % OPENSHIFT_SYNC_LABEL
    if is_system(name):
        return openshift == "true", ("%s=true" % OPENSHIFT_SYNC_LABEL) if openshift == "true" else \
            "a system namespace (opt in with %s=true)" % SYNC_LABEL
    return True, "not opted out"


def label_managers(ns: Mapping[str, Any]) -> Dict[str, Set[str]]:
    """label -> the field managers that own it (``metadata.managedFields``, FieldsV1)."""
    owners: Dict[str, Set[str]] = {}
    for entry in _meta(ns).get("managedFields") or []:
        fields = entry.get("fieldsV1") or {}
        if isinstance(fields, str):  # some clients hand FieldsV1 over as raw JSON
            try:
                fields = json.loads(fields)
            except ValueError:
                continue
        labels = ((fields.get("f:metadata") or {}).get("f:labels") or {})
        for key in labels:
            if key.startswith("f:"):
                owners.setdefault(key[2:], set()).add(entry.get("manager") or "")
    return owners


class Plan(NamedTuple):
    body: Optional[Obj]  # the apply configuration; None: nothing to send
    force: bool  # adopting labels of OpenShift's syncer
    changes: List[Tuple[str, Optional[str], str]]  # (label, old, new) that this apply changes
    foreign: Dict[str, List[str]]  # label -> managers that own it (left alone)
    minimum_changed: bool
    previous_minimum: Optional[str]


def plan(ns: Mapping[str, Any], level: str, reason: str, version: str = LATEST,
         report_only: bool = False) -> Plan:
    """The apply for ``ns`` to carry ``level`` (see the module docstring)."""
    meta = _meta(ns)
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    owners = label_managers(ns)
    adoptable = OPENSHIFT_MANAGERS if labels.get(OPENSHIFT_SYNC_LABEL) == "false" else frozenset()
    wanted: Dict[str, str] = {}
    foreign: Dict[str, List[str]] = {}
    changes: List[Tuple[str, Optional[str], str]] = []
    force = False
    for label in ALL_LABELS:
        managers = owners.get(label, set())
        others = managers - {FIELD_MANAGER}
        if others - adoptable:
            foreign[label] = sorted(others)
            continue
        if report_only:
            if FIELD_MANAGER in managers and label in labels:
                wanted[label] = labels[label]
            continue
        value = level if label in LEVEL_LABELS else version
        wanted[label] = value
        if labels.get(label) != value:
            changes.append((label, labels.get(label), value))
            force = force or bool(others)  # take it from OpenShift's syncer (a shared equal value needs no force)
    reason = reason[:REASON_LIMIT]
    previous = annotations.get(MINIMUM_ANNOTATION)
    minimum_changed = previous != level
    stale = minimum_changed or annotations.get(REASON_ANNOTATION) != reason
    if not changes and not stale:
        return Plan(None, False, [], foreign, False, previous)
    body = {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": meta.get("name"),
                         "annotations": {MINIMUM_ANNOTATION: level, REASON_ANNOTATION: reason}}}
    if wanted:
        body["metadata"]["labels"] = wanted
    return Plan(body, force, changes, foreign, minimum_changed, previous)


def event_message(name: str, level: str, reason: str, result: Plan, report_only: bool) -> str:
    """The Event text for a level change of namespace ``name``."""
    head = "Pod Security level of namespace %s: %s -> %s (%s)" % (
        name, result.previous_minimum or "none", level, reason)
    if report_only:
        return head + "; report only: labels unchanged"
    parts = [head]
    if result.changes:
        parts.append("labels set: " + ", ".join("%s=%s" % (label, new) for label, _old, new in result.changes))
    if result.foreign:
        parts.append("left alone (owned by another field manager): " + ", ".join(
            "%s (%s)" % (label, "/".join(managers)) for label, managers in sorted(result.foreign.items())))
    return "; ".join(parts)
