# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keeper protocol: the shared finalizer ``spo.x-k8s.io/files-on-nodes`` of the profiles on nodes.

The first agent to write a profile to its node adds the finalizer and names its node in the annotation
``spo.x-k8s.io/keeper`` (:meth:`Keeper.claim`, guarded by the resourceVersion, so agents claiming at the same
moment never write twice).  When a deleted profile is gone from a node, that node's agent deletes its SPNS;
the keeper removes the finalizer once no SPNS of an existing node is left (:meth:`Keeper.release`).  The
keeper's caches hold every node's SPNS of the profiles it keeps; an agent acting for a keeper whose node is
gone, or for a profile without keeper, lists them instead.  SPNS of nodes that no longer exist are deleted,
and earlier agents' per-node finalizers removed.
"""
from __future__ import annotations

import random
import time
import zlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    AgentCache, SpnsEntry, profile_path, slim_profile, spns_path)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import Key

FINALIZER = ns.CLEANUP_FINALIZER
ATTEMPTS = 8  # of a finalizer patch before the profile is requeued
RELEASE_FALLBACK = 120.0  # s: a node not the keeper lists a deleted profile's statuses this long after its own went
RELEASE_POLL = (1.0, 30.0)  # s: first and longest wait between lists of an agent that does not see every status
PATCHED, GONE, RETRY = "patched", "gone", "retry"  # outcomes of one finalizer patch


def turn(node: str, key: Key, live: Optional[Set[str]]) -> int:
    """``node``'s place among the nodes in an order of the profile ``key``'s own."""
    salt = "/".join(key).encode("utf-8")
    order = sorted((live or set()) | {node}, key=lambda other: (zlib.crc32(other.encode("utf-8") + salt), other))
    return order.index(node)


def acting_keeper(node: str, obj: Mapping[str, Any], live: Optional[Set[str]]) -> Tuple[bool, bool]:
    """(acts, sees all): whether the agent of ``node`` removes the shared finalizer of the profile ``obj``, and
    whether every node's SPNS of it reaches that agent's caches.  The keeper acts; when the profile has no
    keeper or its node is gone, every agent does (it lists, as it does not see the other nodes' settled SPNS)."""
    keeper = ns.keeper_of(obj)
    if keeper == node:
        return True, True
    return keeper is None or (live is not None and keeper not in live), False


def unclaimed(obj: Mapping[str, Any], live: Optional[Set[str]]) -> bool:
    """Whether the profile lacks the shared finalizer or a keeper of a node that exists."""
    keeper = ns.keeper_of(obj)
    return (FINALIZER not in (obj["metadata"].get("finalizers") or []) or keeper is None
            or (live is not None and keeper not in live))


class Keeper(object):
    """The finalizer protocol of one node's agent.  ``requeue(key, delay)`` asks for the profile to be
    reconciled again later."""

    def __init__(self, kube: Any, node: str, cache: AgentCache, requeue: Callable[[Key, float], None],
                 log: Callable[[str], None] = lambda m: None, debug: Callable[[str], None] = lambda m: None) -> None:
        self.kube = kube
        self.node = node
        self.cache = cache
        self.requeue = requeue
        self.log = log
        self.debug = debug
        self.release_due: Dict[Key, float] = {}   # deleted profiles another node keeps: when to look again
        self.release_polls: Dict[Key, int] = {}   # deleted profiles this node lists for: lists so far

    def forget(self, key: Key) -> None:
        self.release_due.pop(key, None)
        self.release_polls.pop(key, None)

    def acting_keeper(self, obj: Mapping[str, Any], live: Optional[Set[str]]) -> Tuple[bool, bool]:
        return acting_keeper(self.node, obj, live)

    def turn(self, key: Key, live: Optional[Set[str]]) -> int:
        return turn(self.node, key, live)

    # ------------------------------------------------------------------ claiming
    def claim(self, key: Key, obj: Dict[str, Any], live: Optional[Set[str]]) -> bool:
        """Add the shared finalizer, and this node as the keeper, unless another node's agent did already (the
        cache is read again: the batch was planned before); every patch is guarded by the resourceVersion.
        False: the finalizer is not there."""
        path = profile_path(key)
        obj = self.cache.profile(key) or obj
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.05 * attempt))
            meta = obj["metadata"]
            finalizers = meta.get("finalizers") or []
            if not unclaimed(obj, live):
                return True
            if meta.get("deletionTimestamp"):
                return FINALIZER in finalizers
            # a merge patch: the annotation map may or may not exist; the resourceVersion makes it conditional
            patch = {"metadata": {"resourceVersion": meta.get("resourceVersion"),
                                  "annotations": {ns.ANNOTATION_KEEPER: self.node}}}
            if FINALIZER not in finalizers:
                patch["metadata"]["finalizers"] = list(finalizers) + [FINALIZER]
            outcome, obj = self._patch_or_reread(key, path, merge=patch)
            if outcome != RETRY:
                return outcome == PATCHED
        return False

    def remove_finalizer(self, key: Key, obj: Dict[str, Any], finalizer: str) -> None:
        """Remove ``finalizer`` by index, guarded by a ``test`` of that index (other agents remove theirs at
        the same time, shifting the list); raises when the object stayed too busy, so the profile is
        requeued."""
        path = profile_path(key)
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.05 * attempt))
            finalizers = obj["metadata"].get("finalizers") or []
            if finalizer not in finalizers:
                return
            index = finalizers.index(finalizer)
            ops = [{"op": "test", "path": "/metadata/finalizers/%d" % index, "value": finalizer},
                   {"op": "remove", "path": "/metadata/finalizers/%d" % index}]
            outcome, obj = self._patch_or_reread(key, path, ops)
            if outcome != RETRY:
                return
        raise k.KubeError(409, "finalizer %s not removed after %d attempts (the object changes too often); "
                               "trying again later" % (finalizer, ATTEMPTS), "Conflict", "PATCH", path)

    def _patch_or_reread(self, key: Key, path: str, ops: Optional[List[Dict[str, Any]]] = None,
                         merge: Optional[Dict[str, Any]] = None) -> Tuple[str, Dict[str, Any]]:
        """One JSON patch guarded by its ``test`` ops (or a merge patch guarded by its resourceVersion): (PATCHED,
        the object as patched), (GONE, {}) on a 404, or (RETRY, the object read again, cached) when a guard failed
        or the API server was busy (409, 422, 500)."""
        try:
            fresh = self.kube.merge_patch(path, merge) if merge is not None else self.kube.json_patch(path, ops or [])
            self.cache.remember(key, fresh)
            return PATCHED, fresh or {}
        except k.KubeError as exc:
            if exc.status == 404:
                return GONE, {}
            if exc.status not in (409, 422, 500):
                raise
        try:
            fresh = self.kube.get(path)
        except k.KubeError as exc:
            if exc.status == 404:
                return GONE, {}
            raise
        self.cache.remember(key, fresh)
        return RETRY, slim_profile(fresh)

    # ------------------------------------------------------------------ releasing
    def release(self, key: Key, obj: Dict[str, Any], live: Optional[Set[str]]) -> None:
        """This node is done with a deleted profile (file and SPNS gone): :meth:`release_many` of one."""
        for current in self.release_many({key: obj}, live).values():
            self.remove_finalizer(key, current, FINALIZER)

    def release_many(self, items: Mapping[Key, Dict[str, Any]], live: Optional[Set[str]]) -> Dict[Key, Dict[str, Any]]:
        """This node is done with the deleted profiles ``items`` (files and SPNS gone): the profiles whose shared
        finalizer this agent removes now (key -> the object to remove it from), as no node that exists has its
        SPNS left.  The caches decide first (:meth:`release_start`); the profiles they show no node left of are
        looked up in one list of the SPNS per namespace (a chunk of :data:`nodestatus.SELECTOR_CHUNK` profiles
        each) before their finalizer goes (:meth:`release_end`)."""
        confirm: Dict[Key, Dict[str, Any]] = {}
        for key, obj in items.items():
            current = self.release_start(key, obj, live)
            if current is not None:
                confirm[key] = current
        if not confirm:
            return {}
        listed = self.listed_spns_nodes_many(list(confirm))
        return {key: current for key, current in confirm.items()
                if self.release_end(key, listed.get(key, []), live)}

    def release_start(self, key: Key, obj: Dict[str, Any], live: Optional[Set[str]]) -> Optional[Dict[str, Any]]:
        """The caches' part of a release: the profile (as cached) when the API server's SPNS of it must be listed
        before its finalizer goes, else None (nothing to do, or waiting: requeued where needed).  The keeper
        sees every node's SPNS go (its caches hold the settled SPNS of the profiles it keeps), so it waits for
        them and lists once they are gone.  Another node waits :data:`RELEASE_FALLBACK` (in case the keeper's
        agent has stopped for good), then lists; an agent acting without the keeper's caches lists every
        :data:`RELEASE_POLL` while nodes are left (:meth:`release_end`)."""
        current = self.cache.profile(key) or obj
        if FINALIZER not in (current["metadata"].get("finalizers") or []):
            self.forget(key)
            return None
        acts, sees_all = self.acting_keeper(current, live)
        now = time.monotonic()
        if not acts:
            due = self.release_due.get(key)
            if due is None or now < due:
                if due is None:
                    self.release_due[key] = now + RELEASE_FALLBACK
                    self.requeue(key, RELEASE_FALLBACK)
                return None
            self.release_due[key] = now + RELEASE_FALLBACK
            self.requeue(key, RELEASE_FALLBACK)
        cached = ns.nodes_left(self.cache.node_spns(key), self.node, live)
        if cached:
            self.debug("%s %s/%s: deleted; waiting for nodes %s" % (key + (", ".join(cached[:5]),)))
            if not sees_all:
                self._poll(key, current, live)
            return None
        return current

    def release_end(self, key: Key, listed: List[str], live: Optional[Set[str]]) -> bool:
        """The list's part of a release: whether the finalizer goes now (no node that exists has an SPNS of the
        profile, ``listed`` being the nodes the API server listed with one); else looks again later."""
        left = ns.nodes_left(listed, self.node, live)
        if not left:
            return True
        self.debug("%s %s/%s: deleted; waiting for nodes %s" % (key + (", ".join(left[:5]),)))
        current = self.cache.profile(key)
        if current is not None:
            self._poll(key, current, live)
        return False

    def _poll(self, key: Key, current: Mapping[str, Any], live: Optional[Set[str]]) -> None:
        """An acting agent whose caches do not show every SPNS go looks again, 1 s, 2 s ... 30 s later."""
        if self.acting_keeper(current, live)[0]:
            polls = self.release_polls.get(key, 0)
            self.release_polls[key] = polls + 1
            self.requeue(key, min(RELEASE_POLL[0] * 2 ** polls, RELEASE_POLL[1]))

    def release_delay(self, key: Key, obj: Mapping[str, Any], live: Optional[Set[str]]) -> Optional[float]:
        """For a deleted profile this node is done with (no SPNS of its own left): the delay after which to
        reconcile it once more, as the finalizer may go now (None: not yet, or not this agent's to remove).
        The keeper looks at once; without a keeper every agent done with it sees this, so they take turns (an
        order of the nodes of this profile's own), and the first one's removal reaches the others' caches
        before they try."""
        spns = self.cache.node_spns(key)
        if self.node in spns or FINALIZER not in (obj["metadata"].get("finalizers") or []) \
                or not self.acting_keeper(obj, live)[0] or ns.nodes_left(spns, self.node, live):
            return None
        if ns.keeper_of(obj) == self.node:
            return 0.05
        return 0.1 + 0.5 * self.turn(key, live) + random.uniform(0, 0.2)

    def listed_spns_nodes(self, key: Key) -> List[str]:
        """The nodes with an SPNS of the profile ``key`` as the API server lists them now."""
        return self.listed_spns_nodes_many([key]).get(key, [])

    def listed_spns_nodes_many(self, keys: List[Key]) -> Dict[Key, List[str]]:
        """The other nodes with an SPNS of each profile of ``keys`` as the API server lists them now (the cache
        holds only the other nodes' unsettled ones and the settled ones of the profiles this node keeps): one
        list per namespace and chunk of :data:`nodestatus.SELECTOR_CHUNK` profiles."""
        by_index: Dict[Tuple[str, str, str], Key] = {}
        for key in keys:
            kind, namespace, name = key
            by_index[(namespace, kind, ns.profile_id(kind, name))] = key
        namespaces = sorted({index[0] for index in by_index})
        found: Dict[Key, Set[str]] = {key: set() for key in keys}
        for namespace in namespaces:
            ids = [index[2] for index in by_index if index[0] == namespace]
            for chunk in ns.id_chunks(ids):
                selector = ns.profiles_selector(chunk, self.node, other_nodes=True)
                listing = self.kube.list(spns_path(namespace), {"labelSelector": selector})
                for entry in (SpnsEntry(obj) for obj in listing.get("items") or []):
                    key_ = by_index.get(entry.index) if entry.index else None
                    if key_ is not None and entry.owner in (None, key_):
                        found[key_].add(entry.node)
        return {key: sorted(nodes) for key, nodes in found.items()}

    # ------------------------------------------------------------------ nodes that are gone
    def cleanup_stale_nodes(self, key: Key, obj: Dict[str, Any], live: Set[str]) -> None:
        """Remove earlier agents' per-node finalizers of the profile and the SPNS of nodes that are gone."""
        for finalizer in ns.legacy_finalizers(obj["metadata"].get("finalizers") or []):
            self.log("%s %s/%s: removing the per-node finalizer %s (replaced by %s)" % (key + (finalizer, FINALIZER)))
            self.remove_finalizer(key, self.cache.profile(key) or obj, finalizer)
        for node, spns in self.cache.node_spns(key).items():
            if node not in live:
                self.debug("%s %s/%s: deleting the node status of node %s (gone)" % (key + (node,)))
                self.kube.delete(spns_path(spns.namespace, spns.name))

    def forget_node(self, node: str) -> None:
        """Delete the SPNS of ``node``, whose Node object is gone (its settled ones are in no agent's cache).
        One agent does it: the first in an order of that node's own among the nodes that exist."""
        if self.turn(("Node", "", node), self.cache.live_nodes()) != 0:
            return
        try:
            listing = self.kube.list(spns_path(self.cache.namespace), {"labelSelector": ns.own_selector(node)})
            gone = [e for e in (SpnsEntry(obj) for obj in listing.get("items") or []) if e.node == node]
            for entry in gone:
                self.kube.delete(spns_path(entry.namespace, entry.name))
            self.log("deleted %d node statuses of node %s (gone)" % (len(gone), node))
        except k.KubeError as exc:
            self.log("cannot delete the node statuses of node %s (gone): %s" % (node, exc))
