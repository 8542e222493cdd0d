# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-node profile states and their aggregation into a profile's status (pure functions).

States, worst first: Error < Terminating < Partial < Disabled < Pending < InProgress < Installed
(upstream's order).  A profile's state is the worst over the SecurityProfileNodeStatus objects
(SPNS) of the nodes that exist; a node without an SPNS yet does not count (its agent creates the
SPNS with its result in one request), an unset state counts as Pending.

Names and labels follow docs/cluster-design.md: SPNS ``<profile>-<node>`` (shortened with a hash
when longer than an object name may be), labels ``spo.x-k8s.io/profile-id`` (``<Kind>-<name>``),
``node-name``, ``profile-state``, ``profile-kind`` (values longer than a label value may be are
shortened with a hash), ``settled`` (``"true"`` on an SPNS that is Installed and lists no workloads),
an owner reference to the profile.

A settled SPNS cannot change a profile's aggregated status (Installed is the best state, its
message names no node, it adds no workload).  One finalizer, ``spo.x-k8s.io/files-on-nodes``,
keeps a deleted profile until no node that exists has its SPNS any more (each node deletes its SPNS
once its file is gone); the profile's keeper (annotation and SPNS label ``spo.x-k8s.io/keeper``: the node
whose agent added the finalizer) removes it and writes the status.  What each agent watches:
:func:`own_selector`, :func:`others_selector`, :func:`kept_selector`.  The pods of a node that use a profile are listed in the
SPNS annotation ``spo.x-k8s.io/active-workloads`` (``ns/pod`` joined by ``,``); the profile's
``status.activeWorkloads`` is their union.
"""
from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import api

GROUP = api.GROUP
SPNS_VERSION, SPNS_API_VERSION = api.NODE_STATUS.version, api.NODE_STATUS.api_version
SPNS_KIND, SPNS_PLURAL = api.NODE_STATUS.kind, api.NODE_STATUS.plural

ERROR, TERMINATING, PARTIAL, DISABLED, PENDING, IN_PROGRESS, INSTALLED = (
    "Error", "Terminating", "Partial", "Disabled", "Pending", "InProgress", "Installed")
STATES = (ERROR, TERMINATING, PARTIAL, DISABLED, PENDING, IN_PROGRESS, INSTALLED)
_RANK = {state: rank for rank, state in enumerate(STATES)}

LABEL_PROFILE_ID = "spo.x-k8s.io/profile-id"
LABEL_NODE = "spo.x-k8s.io/node-name"
LABEL_STATE = "spo.x-k8s.io/profile-state"
LABEL_KIND = "spo.x-k8s.io/profile-kind"
LABEL_SETTLED = "spo.x-k8s.io/settled"
LABEL_KEEPER = ANNOTATION_KEEPER = "spo.x-k8s.io/keeper"  # label of the SPNS, annotation of the profile
ANNOTATION_WORKLOADS = "spo.x-k8s.io/active-workloads"
# upstream's mark of a partial recording result: never installed, state Partial
LABEL_PARTIAL = "spo.x-k8s.io/partial"
FINALIZER_SUFFIX = ".node.spo.x-k8s.io/profile"  # earlier agents' per-node finalizers
CLEANUP_FINALIZER = "spo.x-k8s.io/files-on-nodes"

MAX_LABEL_VALUE = 63
MAX_NAME = 253
MAX_MESSAGE = 32768

# Ready condition per aggregated state: (status, reason)
READY = {
    INSTALLED: ("True", "Available"),
    IN_PROGRESS: ("False", "Creating"),
    PENDING: ("False", "Creating"),
    DISABLED: ("False", "Unavailable"),
    PARTIAL: ("False", "Unavailable"),
    TERMINATING: ("False", "Deleting"),
    ERROR: ("False", "Unavailable"),
}
MAX_NODES_IN_MESSAGE = 5


def rank(state: Optional[str]) -> int:
    """Position of ``state`` (unset or unknown counts as Pending)."""
    return _RANK.get(state or PENDING, _RANK[PENDING])


def worse(a: Optional[str], b: Optional[str]) -> str:
    """The worse of two states (unset is Pending)."""
    a = a if a in _RANK else PENDING
    b = b if b in _RANK else PENDING
    return a if rank(a) <= rank(b) else b


def worst(states: Iterable[Optional[str]]) -> Optional[str]:
    """Worst of ``states``; None when there are none."""
    result: Optional[str] = None
    for state in states:
        result = (state or PENDING) if result is None else worse(result, state)
    return result


def _hash(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def shorten(value: str, limit: int) -> str:
    """``value`` if short enough, else a prefix, ``-`` and a hash of the whole (still <= ``limit``)."""
    if len(value) <= limit:
        return value
    head = value[:limit - 11].rstrip("-.")
    return "%s-%s" % (head, _hash(value))


def profile_id(kind: str, name: str) -> str:
    """Label value naming a profile within its namespace: ``<Kind>-<name>``."""
    return shorten("%s-%s" % (kind, name), MAX_LABEL_VALUE)


def node_label(node: str) -> str:
    return shorten(node, MAX_LABEL_VALUE)


def spns_name(profile: str, node: str) -> str:
    """``<profile>-<node>`` (an object name: at most 253 characters)."""
    return shorten("%s-%s" % (profile, node), MAX_NAME)


def spns_alt_name(kind: str, profile: str, node: str) -> str:
    """The name used when ``<profile>-<node>`` is taken by another profile's SPNS (another kind, or a
    profile/node pair that joins to the same text)."""
    suffix = _hash("%s/%s/%s" % (kind, profile, node), 8)
    return "%s-%s" % (spns_name(profile, node)[:MAX_NAME - 9].rstrip("-."), suffix)


def is_node_finalizer(finalizer: str) -> bool:
    """A per-node finalizer (``<node>.node.spo.x-k8s.io/profile``) of the agents before
    :data:`CLEANUP_FINALIZER`; any agent removes them."""
    return finalizer.endswith(FINALIZER_SUFFIX)


def legacy_finalizers(finalizers: Sequence[str]) -> List[str]:
    return [f for f in finalizers if is_node_finalizer(f)]


def nodes_left(spns_nodes: Iterable[str], me: str, live: Optional[Iterable[str]]) -> List[str]:
    """The other nodes whose SPNS of a deleted profile still stand (their file may still be there):
    the profile's :data:`CLEANUP_FINALIZER` stays until none is left.  SPNS of nodes that no longer
    exist do not count; with ``live`` unknown (None) every node counts."""
    alive = None if live is None else set(live)
    return sorted(n for n in spns_nodes if n != me and (alive is None or n in alive))


def settled(state: str, workloads: Sequence[str]) -> bool:
    """Whether an SPNS of ``state`` listing ``workloads`` leaves the aggregated status as it is."""
    return state == INSTALLED and not workloads


def own_selector(node: str) -> str:
    """Label selector of ``node``'s own SPNS."""
    return "%s=%s" % (LABEL_NODE, node_label(node))


def others_selector(node: str) -> str:
    """Label selector of the other nodes' SPNS that can change an aggregated status (not settled)."""
    return "%s!=%s,!%s" % (LABEL_NODE, node_label(node), LABEL_SETTLED)


def kept_selector(node: str) -> str:
    """Label selector of the other nodes' settled SPNS of the profiles ``node`` keeps (disjoint from
    :func:`others_selector`)."""
    return "%s!=%s,%s,%s=%s" % (LABEL_NODE, node_label(node), LABEL_SETTLED, LABEL_KEEPER, node_label(node))


def keeper_of(profile: Optional[Mapping[str, Any]]) -> Optional[str]:
    """The node named by a profile's keeper annotation (None: none yet)."""
    annotations = ((profile or {}).get("metadata") or {}).get("annotations") or {}
    return annotations.get(ANNOTATION_KEEPER) or None


def profile_selector(kind: str, name: str) -> str:
    """Label selector of every node's SPNS of one profile (within its namespace)."""
    return "%s=%s,%s=%s" % (LABEL_PROFILE_ID, profile_id(kind, name), LABEL_KIND, kind)


SELECTOR_CHUNK = 100  # profiles per label selector of many (a request line stays a few kilobytes)


def id_chunks(profile_ids: Iterable[str], size: int = SELECTOR_CHUNK) -> List[List[str]]:
    """``profile_ids`` sorted, without repeats, in chunks of at most ``size`` (one selector each)."""
    ids = sorted(set(profile_ids))
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def profiles_selector(profile_ids: Sequence[str], node: Optional[str] = None, other_nodes: bool = False) -> str:
    """Label selector of the SPNS of several profiles of one namespace (``profile_ids``: :func:`profile_id`
    values): of ``node`` only, of every node (``node`` None) or of every node but ``node`` (``other_nodes``)."""
    where = ""
    if node is not None:
        where = "%s%s%s," % (LABEL_NODE, "!=" if other_nodes else "=", node_label(node))
    return "%s%s in (%s)" % (where, LABEL_PROFILE_ID, ",".join(profile_ids))


def spns_object(kind: str, profile: Mapping[str, Any], node: str, state: str, message: str = "",
                workloads: Sequence[str] = (), name: Optional[str] = None) -> Dict[str, Any]:
    """The SPNS of ``profile`` (a profile object with apiVersion and metadata.uid) on ``node``."""
    meta = profile["metadata"]
    keeper = keeper_of(profile)
    body: Dict[str, Any] = {
        "apiVersion": SPNS_API_VERSION, "kind": SPNS_KIND,
        "metadata": {
            "name": name or spns_name(meta["name"], node),
            "namespace": meta["namespace"],
            "labels": spns_labels(kind, meta["name"], node, state, workloads, keeper),
            "ownerReferences": [{"apiVersion": profile.get("apiVersion"), "kind": kind, "name": meta["name"],
                                 "uid": meta["uid"], "controller": True, "blockOwnerDeletion": False}],
        },
        "nodeName": node,
        "status": state,
    }
    if message:
        body["message"] = message[:MAX_MESSAGE]
    if workloads:
        body["metadata"]["annotations"] = {ANNOTATION_WORKLOADS: ",".join(sorted(workloads))}
    return body


def spns_labels(kind: str, name: str, node: str, state: str, workloads: Sequence[str] = (),
                keeper: Optional[str] = None) -> Dict[str, str]:
    labels = {LABEL_PROFILE_ID: profile_id(kind, name), LABEL_NODE: node_label(node),
              LABEL_STATE: state, LABEL_KIND: kind}
    if settled(state, workloads):
        labels[LABEL_SETTLED] = "true"
    if keeper:
        labels[LABEL_KEEPER] = node_label(keeper)
    return labels


def spns_patch(current: Mapping[str, Any], kind: str, name: str, node: str, state: str, message: str,
               workloads: Sequence[str], keeper: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """Merge patch bringing ``current`` (an SPNS) to the wanted content; None when nothing differs (a
    keeper label stays as it is while the keeper is not known)."""
    patch: Dict[str, Any] = {}
    meta = current.get("metadata", {})
    labels = meta.get("labels") or {}
    want_labels = spns_labels(kind, name, node, state, workloads, keeper)
    label_patch: Dict[str, Optional[str]] = {k: v for k, v in want_labels.items() if labels.get(k) != v}
    if LABEL_SETTLED in labels and LABEL_SETTLED not in want_labels:
        label_patch[LABEL_SETTLED] = None
    want_workloads = ",".join(sorted(workloads))
    have_workloads = (meta.get("annotations") or {}).get(ANNOTATION_WORKLOADS, "")
    if label_patch:
        patch.setdefault("metadata", {})["labels"] = label_patch
    if want_workloads != have_workloads:
        patch.setdefault("metadata", {})["annotations"] = {ANNOTATION_WORKLOADS: want_workloads or None}
    if current.get("status") != state:
        patch["status"] = state
    message = message[:MAX_MESSAGE]
    if (current.get("message") or "") != message:
        patch["message"] = message or None
    if current.get("nodeName") != node:
        patch["nodeName"] = node
    return patch or None


class NodeState(object):
    """One node's view of a profile, as its SPNS records it."""

    __slots__ = ("node", "state", "message", "workloads")

    def __init__(self, node: str, state: Optional[str], message: str = "", workloads: Sequence[str] = ()) -> None:
        self.node = node
        self.state = state or PENDING
        self.message = message or ""
        self.workloads = list(workloads)

    def __repr__(self) -> str:
        return "NodeState(%r, %r, %r, %r)" % (self.node, self.state, self.message, self.workloads)


def _node_list(nodes: List[str]) -> str:
    shown = nodes[:MAX_NODES_IN_MESSAGE]
    more = len(nodes) - len(shown)
    return ", ".join(shown) + (" and %d more" % more if more > 0 else "")


def aggregate(states: Sequence[NodeState]) -> Tuple[Optional[str], str, List[str]]:
    """(state, Ready message, activeWorkloads) over the nodes' states; state None without any."""
    state = worst(s.state for s in states)
    workloads = sorted({w for s in states for w in s.workloads})
    if state is None:
        return None, "", workloads
    at = sorted((s for s in states if s.state == state), key=lambda s: s.node)
    if state == ERROR:
        first = next((s for s in at if s.message), None)
        message = "failed on node%s %s" % ("s" if len(at) > 1 else "", _node_list([s.node for s in at]))
        if first is not None:
            message += ": %s" % first.message
    elif state == TERMINATING:
        message = "deleted; still in use on node%s %s" % ("s" if len(at) > 1 else "", _node_list([s.node for s in at]))
    elif state in (PENDING, IN_PROGRESS):
        first = next((s for s in at if s.message), None)
        message = "%s on node%s %s" % ("installing" if state == IN_PROGRESS else "waiting",
                                       "s" if len(at) > 1 else "", _node_list([s.node for s in at]))
        if first is not None:
            message += ": %s" % first.message
    elif state == DISABLED:
        message = "disabled (spec.disabled is true); not installed on the nodes"
    elif state == PARTIAL:
        message = "a partial profile of a recording (label %s), not merged yet; not installed" % LABEL_PARTIAL
    else:
        # the same text whatever the number of nodes, so agents that see a different number of
        # node statuses at a moment never rewrite each other's status
        message = "installed on the nodes"
    return state, message, workloads


def ready_condition(state: str, message: str, previous: Optional[Mapping[str, Any]], now: str) -> Dict[str, Any]:
    """The Ready condition for ``state``; keeps ``previous``'s lastTransitionTime when the status holds."""
    status, reason = READY.get(state, ("Unknown", "Unknown"))
    stamp = now
    if previous and previous.get("status") == status and previous.get("lastTransitionTime"):
        stamp = previous["lastTransitionTime"]
    return {"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": stamp}


def profile_status(current: Optional[Mapping[str, Any]], state: str, message: str, workloads: Sequence[str],
                   extra: Mapping[str, Any], now: str) -> Optional[Dict[str, Any]]:
    """The profile ``status`` to write, or None when ``current`` already says the same.

    ``extra`` holds kind-specific fields (``localhostProfile`` or ``usage``).  Conditions other
    than Ready are kept as they are.
    """
    current = current or {}
    conditions = [c for c in current.get("conditions") or [] if isinstance(c, dict)]
    previous = next((c for c in conditions if c.get("type") == "Ready"), None)
    ready = ready_condition(state, message, previous, now)
    same = (current.get("status") == state and previous is not None
            and all(previous.get(k) == ready[k] for k in ("status", "reason", "message"))
            and sorted(current.get("activeWorkloads") or []) == sorted(workloads)
            and all(current.get(k) == v for k, v in extra.items()))
    if same:
        return None
    status: Dict[str, Any] = {"status": state,
                              "conditions": [c for c in conditions if c.get("type") != "Ready"] + [ready],
                              "activeWorkloads": list(workloads) or None}
    status.update(extra)
    return status
