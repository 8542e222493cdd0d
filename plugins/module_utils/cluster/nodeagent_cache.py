# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node agent's caches (list+watch, :class:`kube.Reflector`) and the indexes kept beside them.

SeccompProfile, SelinuxProfile, RawSelinuxProfile of all namespaces (or one); SecurityProfileNodeStatus
(SPNS): this node's own, the other nodes' unsettled ones and their settled ones of the profiles this node keeps
(:mod:`nodestatus`); the SPOD ``spod`` of the operator namespace; the pods of this node (only the profiles
they use are kept: ``pod_index``) and the Node objects (names only).  :meth:`AgentCache.snapshot` hands the
planner a copy of what it reads (:mod:`nodeagent_plan`).
"""
from __future__ import annotations

import sys
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    KINDS, RAW_KIND, SECCOMP_KIND, SELINUX_KIND, Key, Snapshot)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import SECCOMP, slim_pod
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import Settings
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

GROUP = ns.GROUP
SPOD_VERSION, SPOD_PLURAL, SPOD_NAME = api.SPOD.version, api.SPOD.plural, api.SPOD_NAME
SPNS_CACHES = ("spns", "spns-others", "spns-kept")  # this node's own; others' unsettled; others' settled, kept here
PROFILE_KINDS = (SECCOMP_KIND, SELINUX_KIND, RAW_KIND)

Handler = Callable[[str, Tuple[str, str], Any, Any], None]


def spns_path(namespace: Optional[str], name: Optional[str] = None) -> str:
    """API path of the SPNS collection of ``namespace`` (None: all namespaces) or of one SPNS."""
    return k.custom_path(GROUP, ns.SPNS_VERSION, ns.SPNS_PLURAL, namespace, name)


def profile_path(key: Key, subresource: Optional[str] = None) -> str:
    kind, namespace, name = key
    version, plural = KINDS[kind]
    return k.custom_path(GROUP, version, plural, namespace, name, subresource)


def _intern_names(spec: Any) -> Any:
    """Share the syscall name strings among the cached profiles (a thousand profiles name the same few
    hundred syscalls)."""
    if isinstance(spec, dict):
        for rule in spec.get("syscalls") or []:
            if isinstance(rule, dict) and isinstance(rule.get("names"), list):
                rule["names"] = [sys.intern(n) if isinstance(n, str) else n for n in rule["names"]]
    return spec


def slim_profile(obj: Dict[str, Any], interned: bool = False) -> Dict[str, Any]:
    if not interned:
        _intern_names(obj.get("spec"))
    finalizers = (obj.get("metadata") or {}).get("finalizers")
    if isinstance(finalizers, list):
        obj["metadata"]["finalizers"] = [sys.intern(f) if isinstance(f, str) else f for f in finalizers]
    meta = k.slim_metadata(obj.get("metadata") or {}, ("name", "namespace", "uid", "resourceVersion", "generation",
                                                       "deletionTimestamp", "finalizers", "labels"))
    keeper = ns.keeper_of(obj)
    if keeper:
        meta["annotations"] = {ns.ANNOTATION_KEEPER: sys.intern(keeper)}
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": meta,
            "spec": obj.get("spec"), "status": obj.get("status") or {}}


class SpnsEntry(object):
    """What the agent keeps of one SPNS (this node's, and the unsettled ones of the other nodes: with many
    profiles and nodes still many objects, so this is small); the labels are kept only for this node's own."""

    __slots__ = ("name", "namespace", "rv", "node", "status", "message", "workloads", "index", "owner", "labels")

    def __init__(self, obj: Mapping[str, Any], own_node: Optional[str] = None) -> None:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        self.name = meta.get("name") or ""
        self.namespace = sys.intern(meta.get("namespace") or "")
        self.rv = meta.get("resourceVersion") or ""
        self.node = sys.intern(obj.get("nodeName") or "")
        self.status = sys.intern(obj.get("status") or ns.PENDING)
        self.message = obj.get("message") or ""
        self.workloads = (meta.get("annotations") or {}).get(ns.ANNOTATION_WORKLOADS) or ""
        kind, pid = labels.get(ns.LABEL_KIND), labels.get(ns.LABEL_PROFILE_ID)
        self.index = (self.namespace, sys.intern(kind), sys.intern(pid)) if kind and pid and self.node else None
        self.owner: Optional[Key] = None
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") in KINDS:
                self.owner = (sys.intern(ref["kind"]), self.namespace, sys.intern(ref.get("name") or ""))
                break
        self.labels = dict(labels) if own_node is not None and self.node == own_node else None

    @property
    def key(self) -> Tuple[str, str]:
        return self.namespace, self.name

    def workload_list(self) -> List[str]:
        return [w for w in self.workloads.split(",") if w]

    def as_object(self) -> Dict[str, Any]:
        """The fields :func:`nodestatus.spns_patch` compares."""
        meta: Dict[str, Any] = {"name": self.name, "namespace": self.namespace, "labels": self.labels or {}}
        if self.workloads:
            meta["annotations"] = {ns.ANNOTATION_WORKLOADS: self.workloads}
        return {"metadata": meta, "nodeName": self.node, "status": self.status, "message": self.message}


def resource_version(obj: Any) -> int:
    try:
        if isinstance(obj, SpnsEntry):
            return int(obj.rv or 0)
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


def unseen_change(cached: Mapping[str, Any], fresh: Mapping[str, Any]) -> bool:
    """Whether ``fresh`` (a profile an API response returned) changes what the node must do, compared with
    the ``cached`` version: its spec, identity, labels or deletion (finalizers and status are this agent's
    own writes, or only change the aggregated status)."""
    old, new = cached.get("metadata") or {}, fresh.get("metadata") or {}
    return (cached.get("spec") != fresh.get("spec") or old.get("uid") != new.get("uid")
            or old.get("deletionTimestamp") != new.get("deletionTimestamp") or old.get("labels") != new.get("labels"))


def _noop(event: str, key: Tuple[str, str], old: Any, new: Any) -> None:
    return None


class AgentCache(object):
    """The reflectors of one agent and the indexes over them: the profiles a pod of this node uses, the SPNS
    of each profile by node.  ``handlers`` (by reflector name: a profile kind, "spns", "spod", "pods",
    "nodes") are called after each change; none are needed to fill the stores by hand (tests).  ``on_dirty``
    (keys, full) is told of profiles an API response showed changed (:meth:`remember`)."""

    def __init__(self, kube: Any, node: str, namespace: Optional[str] = None,
                 operator_namespace: str = "security-profiles-operator",
                 handlers: Optional[Mapping[str, Handler]] = None, log: Callable[[str], None] = lambda m: None,
                 on_dirty: Callable[[List[Key], bool], None] = lambda keys, full: None) -> None:
        handlers = handlers or {}
        self.node = node
        self.namespace = namespace
        self.operator_namespace = operator_namespace
        self.on_dirty = on_dirty
        self.lock = threading.RLock()
        self.settings = Settings()
        self.pod_index: Dict[Tuple[str, str, str], Set[str]] = {}
        self.spns_index: Dict[Tuple[str, str, str], Dict[str, Tuple[str, str]]] = {}
        self.reflectors: Dict[str, k.Reflector] = {}
        for kind, (version, plural) in KINDS.items():
            self.reflectors[kind] = k.Reflector(kube, kind, k.custom_path(GROUP, version, plural, namespace),
                                                handlers.get(kind, _noop), slim=self._slim_profile(kind),
                                                missing_ok=True, log=log)
        # SPNS: this node's own, the other nodes' unsettled ones (nodestatus: a settled SPNS cannot change an
        # aggregated status) and their settled ones of the profiles this node keeps; the selectors are disjoint
        for name, selector in zip(SPNS_CACHES, (ns.own_selector(node), ns.others_selector(node),
                                                ns.kept_selector(node))):
            self.reflectors[name] = k.Reflector(kube, name, spns_path(namespace), handlers.get("spns", _noop),
                                                query={"labelSelector": selector},
                                                slim=lambda o: SpnsEntry(o, node), missing_ok=True, log=log)
        self.reflectors["spod"] = k.Reflector(kube, "spod", k.custom_path(GROUP, SPOD_VERSION, SPOD_PLURAL,
                                                                          operator_namespace),
                                              handlers.get("spod", _noop),
                                              query={"fieldSelector": "metadata.name=" + SPOD_NAME},
                                              slim=lambda o: {"metadata": k.slim_metadata(o.get("metadata") or {}),
                                                              "spec": o.get("spec") or {}},
                                              missing_ok=True, log=log)
        self.reflectors["pods"] = k.Reflector(kube, "pods", k.core_path("pods"), handlers.get("pods", _noop),
                                              slim=slim_pod, query={"fieldSelector": "spec.nodeName=" + node}, log=log)
        self.reflectors["nodes"] = k.Reflector(kube, "nodes", k.core_path("nodes"), handlers.get("nodes", _noop),
                                               slim=lambda o: {"metadata": {"name": (o.get("metadata") or {}).get("name")}},
                                               log=log)

    def _slim_profile(self, kind: str) -> Callable[[Dict[str, Any]], Dict[str, Any]]:
        """:func:`slim_profile`, sharing the cached version's spec when it is unchanged (most events of a profile
        change only its metadata or status; comparing is much cheaper than interning the names again)."""
        def slim(obj: Dict[str, Any]) -> Dict[str, Any]:
            meta = obj.get("metadata") or {}
            cached = self.reflectors[kind].get((meta.get("namespace") or "", meta.get("name") or ""))
            if cached is not None and cached.get("spec") == obj.get("spec"):
                obj["spec"] = cached["spec"]
                return slim_profile(obj, interned=True)
            return slim_profile(obj)
        return slim

    # ------------------------------------------------------------------ reads
    def profile(self, key: Key) -> Optional[Dict[str, Any]]:
        return self.reflectors[key[0]].get((key[1], key[2]))

    def profile_keys(self) -> List[Key]:
        keys: List[Key] = []
        for kind in PROFILE_KINDS:
            keys.extend((kind, key[0], key[1]) for key in list(self.reflectors[kind].store))
        return keys

    def snapshot(self) -> Snapshot:
        """What the planner reads, copied (the watches go on changing the stores)."""
        profiles = {}
        for kind in PROFILE_KINDS:
            reflector = self.reflectors[kind]
            with reflector.lock:
                profiles[kind] = dict(reflector.store)
        with self.lock:
            pods = {ref: frozenset(users) for ref, users in self.pod_index.items()}
            settings = self.settings
        return Snapshot(profiles, pods, settings, self.operator_namespace)

    def users(self, key: Key) -> List[str]:
        with self.lock:
            return Snapshot.users_in(self.pod_index, key)

    def node_spns(self, key: Key) -> Dict[str, SpnsEntry]:
        """node -> SPNS (cached) of the profile ``key``."""
        kind, namespace, name = key
        with self.lock:
            refs = dict(self.spns_index.get((namespace, kind, ns.profile_id(kind, name)), {}))
        stores = [self.reflectors[cache] for cache in SPNS_CACHES]
        result = {}
        for node, ref in refs.items():
            obj = next((found for found in (store.get(ref) for store in stores) if found is not None), None)
            if obj is not None and obj.owner in (None, key):
                result[node] = obj
        return result

    def live_nodes(self) -> Optional[Set[str]]:
        nodes = self.reflectors["nodes"]
        if not nodes.synced.is_set():
            return None
        return {key[1] for key in list(nodes.store)}

    def dependants(self, namespace: str, name: str) -> List[Key]:
        """SeccompProfiles of ``namespace`` whose base chain reaches ``name``."""
        store = self.reflectors[SECCOMP_KIND]
        with store.lock:
            by_base: Dict[str, List[str]] = {}
            for (pns, pname), obj in store.store.items():
                base = (obj.get("spec") or {}).get("baseProfileName")
                if pns == namespace and base:
                    by_base.setdefault(base, []).append(pname)
        found: List[Key] = []
        pending, seen = [name], {name}
        while pending:
            for child in by_base.get(pending.pop(), []):
                if child not in seen:
                    seen.add(child)
                    pending.append(child)
                    found.append((SECCOMP_KIND, namespace, child))
        return found

    def seccomp_file_keys(self, namespace: str, file: str) -> List[Key]:
        """The SeccompProfiles that exist of the file ``file`` (``p1.json``: p1 and p1.json)."""
        store = self.reflectors[SECCOMP_KIND].store
        return [(SECCOMP_KIND, namespace, name) for name in seccomp_paths.names_of_file(file)
                if (namespace, name) in store]

    def file_owner(self, key: Key) -> Optional[Key]:
        """The other live profile that has ``key``'s file (``p1`` for ``p1.json``), if any."""
        try:
            file = seccomp_paths.file_name(key[2])
        except SpoError:
            return None
        return next((other for other in self.seccomp_file_keys(key[1], file) if other != key), None)

    # ------------------------------------------------------------------ index upkeep (from the handlers)
    def index_spns(self, key: Tuple[str, str], old: Optional[SpnsEntry], new: Optional[SpnsEntry]) -> List[Key]:
        """Keep ``spns_index`` up to date after an SPNS event; returns the profiles that own the SPNS."""
        dirty = []
        # an SPNS moving between two caches (settled or not) may reach the new one first
        elsewhere = new is None and any(self.reflectors[name].get(key) is not None for name in SPNS_CACHES)
        with self.lock:
            for entry, present in ((old, False), (new, True)):
                if entry is None or entry.index is None:
                    continue
                nodes = self.spns_index.setdefault(entry.index, {})
                if present:
                    nodes[entry.node] = key
                elif nodes.get(entry.node) == key and not elsewhere:
                    del nodes[entry.node]
                    if not nodes:
                        del self.spns_index[entry.index]
                if entry.owner:
                    dirty.append(entry.owner)
        return dirty

    def index_pod(self, key: Tuple[str, str], old: Optional[Mapping[str, Any]],
                  new: Optional[Mapping[str, Any]]) -> List[Key]:
        """Keep ``pod_index`` up to date after a pod event; returns the profiles whose users changed."""
        pod_id = "%s/%s" % key
        old_refs = set(tuple(r) for r in (old or {}).get("refs") or [])
        new_refs = set(tuple(r) for r in (new or {}).get("refs") or [])
        dirty: List[Key] = []
        with self.lock:
            for ref in old_refs - new_refs:
                users = self.pod_index.get(ref)
                if users is not None:
                    users.discard(pod_id)
                    if not users:
                        del self.pod_index[ref]
            for ref in new_refs - old_refs:
                self.pod_index.setdefault(ref, set()).add(pod_id)
        for ref in old_refs ^ new_refs:
            if ref[0] == SECCOMP:  # the profiles of that file that exist
                dirty.extend(self.seccomp_file_keys(ref[1], ref[2]))
            else:
                dirty.extend([(SELINUX_KIND, ref[1], ref[2]), (RAW_KIND, ref[1], ref[2])])
        return dirty

    # ------------------------------------------------------------------ what API responses returned
    def remember(self, key: Key, fresh: Optional[Dict[str, Any]]) -> None:
        """Put a profile an API response returned into the cache (unless the watch already brought a newer one).

        The watch event of that version then finds it cached and reports no change, so a change this
        agent did not make itself (a deletion begun, a new spec: the response of a status patch can be
        the first to show them) is queued here (``on_dirty``), or the profile would never be reconciled
        for it (its deletion would wait for this node's finalizer forever).
        """
        if not fresh:
            return
        reflector = self.reflectors[key[0]]
        slim = slim_profile(fresh)
        with reflector.lock:
            current = reflector.store.get((key[1], key[2]))
            if current is not None and resource_version(current) > resource_version(fresh):
                return
            reflector.store[(key[1], key[2])] = slim
        if current is not None and unseen_change(current, slim):
            changed_spec = key[0] == SECCOMP_KIND and current.get("spec") != slim.get("spec")
            self.on_dirty([key] + (self.dependants(key[1], key[2]) if changed_spec else []), True)

    def remember_spns(self, fresh: Optional[Dict[str, Any]]) -> None:
        """Put this node's SPNS an API response returned into its cache (unless the watch brought a newer one)."""
        if not fresh:
            return
        slim = SpnsEntry(fresh, self.node)
        store = self.reflectors["spns"]
        with store.lock:
            current = store.store.get(slim.key)
            if current is not None and resource_version(current) > resource_version(slim):
                return
            store.store[slim.key] = slim
        if slim.index:
            with self.lock:
                self.spns_index.setdefault(slim.index, {})[slim.node] = slim.key

    def forget_spns(self, entry: SpnsEntry) -> None:
        """This node's SPNS ``entry`` was deleted."""
        store = self.reflectors["spns"]
        with store.lock:
            store.store.pop(entry.key, None)
        if entry.index:
            with self.lock:
                self.spns_index.get(entry.index, {}).pop(entry.node, None)

    def apply_spod(self, settings: Settings) -> bool:
        """The SPOD's settings; whether they changed."""
        with self.lock:
            changed = settings != self.settings
            self.settings = settings
        return changed
