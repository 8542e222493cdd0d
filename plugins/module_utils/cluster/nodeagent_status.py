# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node agent's status writes: this node's SecurityProfileNodeStatus (SPNS) of each profile, created or
patched only when it differs; the profile's status aggregated over the nodes' SPNS (by the keeper, or by
every agent when the profile has no keeper of a node that exists), patched only when it differs; one
Warning event per refused generation.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux_model
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    AgentCache, SpnsEntry, profile_path, spns_path)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_keeper import acting_keeper
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    SECCOMP_KIND, Key, Outcome)
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.paths import localhost_profile

COMPONENT = "spo-node-agent"


class StatusWriter(object):
    def __init__(self, kube: Any, node: str, cache: AgentCache, log: Callable[[str], None] = lambda m: None) -> None:
        self.kube = kube
        self.node = node
        self.cache = cache
        self.log = log
        self.reported: Dict[Key, Tuple[str, Any, str]] = {}

    # ------------------------------------------------------------------ this node's SPNS
    def write_spns(self, key: Key, obj: Dict[str, Any], out: Outcome, workloads: List[str]) -> None:
        kind, namespace, name = key
        obj = self.cache.profile(key) or obj  # the keeper may have been set since the batch was planned
        keeper = ns.keeper_of(obj)
        mine = self.cache.node_spns(key).get(self.node)
        message = out.message
        if mine is not None:
            patch = ns.spns_patch(mine.as_object(), kind, name, self.node, out.state, message, workloads, keeper)
            if patch:
                fresh = self.kube.merge_patch(spns_path(namespace, mine.name), patch)
                self.cache.remember_spns(fresh)
            return
        body = ns.spns_object(kind, obj, self.node, out.state, message, workloads)
        collection = spns_path(namespace)
        try:
            fresh = self.kube.create(collection, body)
        except k.KubeError as exc:
            if exc.status != 409:
                raise
            existing = self.kube.get(collection + "/" + body["metadata"]["name"])
            entry = SpnsEntry(existing, self.node)
            if (entry.index, entry.node) == ((namespace, kind, ns.profile_id(kind, name)), self.node):
                patch = ns.spns_patch(existing, kind, name, self.node, out.state, message, workloads, keeper)
                fresh = self.kube.merge_patch(collection + "/" + body["metadata"]["name"], patch) if patch else existing
            else:  # the name belongs to another profile's status
                body["metadata"]["name"] = ns.spns_alt_name(kind, name, self.node)
                fresh = self.kube.create(collection, body)
        self.cache.remember_spns(fresh)

    def delete_spns(self, key: Key) -> None:
        self.delete_spns_many([key])

    def delete_spns_many(self, keys: Iterable[Key]) -> None:
        """Delete this node's SPNS of the profiles ``keys``: one by name, several of a namespace in one delete
        collection request per :func:`nodestatus.id_chunks` chunk (selected by this node's label
        and their profile ids, as cached)."""
        by_namespace: Dict[str, List[SpnsEntry]] = {}
        for key in keys:
            mine = self.cache.node_spns(key).get(self.node)
            if mine is not None and mine.index is not None:
                by_namespace.setdefault(mine.namespace, []).append(mine)
        for namespace, entries in sorted(by_namespace.items()):
            if len(entries) == 1:
                self.kube.delete(spns_path(namespace, entries[0].name))
                self.cache.forget_spns(entries[0])
                continue
            by_id: Dict[str, List[SpnsEntry]] = {}
            for entry in entries:
                by_id.setdefault(entry.index[2], []).append(entry)
            for ids in ns.id_chunks(by_id):
                chunk = [entry for pid in ids for entry in by_id[pid]]
                try:
                    self.kube.delete_collection(spns_path(namespace),
                                                {"labelSelector": ns.profiles_selector(ids, self.node)})
                except k.KubeError as exc:
                    if exc.status not in (403, 405):
                        raise
                    # a role without deletecollection (an older install's): one by one, so no deletion waits
                    for entry in chunk:
                        self.kube.delete(spns_path(namespace, entry.name))
                for entry in chunk:
                    self.cache.forget_spns(entry)

    # ------------------------------------------------------------------ events
    def report(self, key: Key, obj: Dict[str, Any], out: Outcome) -> None:
        """One Warning event per refused generation (and message)."""
        if not out.refused:
            self.reported.pop(key, None)
            return
        meta = obj["metadata"]
        mark = (meta.get("uid"), meta.get("generation"), out.message)
        if self.reported.get(key) == mark:
            return
        self.reported[key] = mark
        self.log("%s %s/%s refused: %s" % (key + (out.message,)))
        try:
            self.kube.warning_event(obj, out.reason or "InvalidProfile", "node %s: %s" % (self.node, out.message),
                                    COMPONENT, self.node)
        except k.KubeError as exc:
            self.log("cannot record an event for %s %s/%s: %s" % (key + (exc,)))

    def forget(self, key: Key) -> None:
        self.reported.pop(key, None)

    # ------------------------------------------------------------------ the profile's status
    def update_status(self, key: Key, out: Outcome, workloads: List[str], live: Optional[Set[str]]) -> None:
        """Aggregate the profile's status over the nodes and patch it when it differs.  Only the keeper does (its
        caches hold every node's SPNS that can change the aggregate), unless the profile has no keeper of a node
        that exists: then every agent does, as each sees the unsettled SPNS."""
        current = self.cache.profile(key)
        if current is None or not acting_keeper(self.node, current, live)[0]:
            return
        states = []
        for node, spns in self.cache.node_spns(key).items():
            if node == self.node or (live is not None and node not in live):
                continue
            states.append(ns.NodeState(node, spns.status, spns.message, spns.workload_list()))
        states.append(ns.NodeState(self.node, out.state, out.message if out.state != ns.INSTALLED else "", workloads))
        state, message, all_workloads = ns.aggregate(states)
        if state is None:
            return
        kind, namespace, name = key
        extra = ({"localhostProfile": localhost_profile(namespace, name)} if kind == SECCOMP_KIND
                 else {"usage": selinux_model.policy_name(name, namespace) + ".process"})
        status = ns.profile_status(current.get("status"), state, message, all_workloads, extra, k.now_rfc3339())
        if status is None:
            return
        try:
            fresh = self.kube.merge_patch(profile_path(key, "status"), {"status": status})
        except k.KubeError as exc:
            if exc.status == 404:
                return
            if exc.status != 422 or state != ns.PARTIAL:
                raise
            # a CRD whose status enum lacks Partial: Pending, the Ready condition says why
            status["status"] = ns.PENDING
            previous: Mapping[str, Any] = current.get("status") or {}
            if previous.get("status") == ns.PENDING and all(
                    c in previous.get("conditions") or [] for c in status["conditions"]):
                return
            fresh = self.kube.merge_patch(profile_path(key, "status"), {"status": status})
        self.cache.remember(key, fresh)
