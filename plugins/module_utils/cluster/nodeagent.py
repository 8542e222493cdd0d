# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node agent: installs the cluster's profiles on one node, in batches (docs/cluster-design.md).

Caches (list+watch, :class:`kube.Reflector`): SeccompProfile, SelinuxProfile, RawSelinuxProfile of all
namespaces; SecurityProfileNodeStatus (SPNS): this node's own, the other nodes' unsettled ones and their
settled ones of the profiles this node keeps (:mod:`nodestatus`); the SPOD ``spod`` of the operator namespace, the pods of this node (only the
profiles they use are kept) and the Node objects (metadata only).
Every change marks profiles dirty; dirty profiles are reconciled together once events have been
quiet for a moment (:class:`coalesce.Coalescer`), in phases, so a thousand new profiles cost one
engine call and one write pass:

1. SPNS of nodes that no longer exist are deleted (the cached ones by any agent; all of a node's when its
   Node object goes, by one agent), and earlier agents' per-node finalizers removed (any agent);
2. the shared finalizer ``spo.x-k8s.io/files-on-nodes`` is added to every profile about to be written to the
   node, with the annotation ``spo.x-k8s.io/keeper`` naming this node (by the first agent to get there: the
   profile's keeper);
3. seccomp: each profile is validated on its own (a refused one never blocks the others), the
   accepted ones are installed by ONE ``seccomp_install.install`` call; SELinux: ``<policy>.cil``
   files are written into the selinuxd drop-in directory and selinuxd's status is read back;
4. this node's SPNS of each profile is created or patched (only when it differs);
5. deleted profiles: the file stays (state Terminating) while a pod of this node uses it, then the
   file and the SPNS go; the keeper removes the finalizer once no SPNS of an existing node is left;
6. the keeper aggregates the profile's status over the SPNS and patches it only when it differs.

Decisions: a refused profile is Error with the engine's message (and one Warning event per
generation); a refused UPDATE keeps the node's previous file, which was validated when written
(as upstream keeps the last good file), while a profile refused by the SPOD's
``allowedSyscalls``, a disabled one (``spec.disabled``) and a partial recording result are removed
from the node.  With SELinux off in the SPOD, SelinuxProfiles are Pending (saying why).
"""
from __future__ import annotations

import glob
import os
import random
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux_model
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.coalesce import Coalescer
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.metrics import AgentMetrics
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import SECCOMP, SELINUX, slim_pod
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import (
    Settings, check_allowed_syscalls, settings as spod_settings)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import Engine
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.paths import localhost_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import install, profiles_root
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import parse_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.cil import profile_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.store import cil_checksum

GROUP = ns.GROUP
SECCOMP_KIND, SELINUX_KIND, RAW_KIND = "SeccompProfile", "SelinuxProfile", "RawSelinuxProfile"
KINDS = {
    SECCOMP_KIND: ("v1beta1", "seccompprofiles"),
    SELINUX_KIND: ("v1alpha2", "selinuxprofiles"),
    RAW_KIND: ("v1alpha2", "rawselinuxprofiles"),
}
SPOD_VERSION, SPOD_PLURAL, SPOD_NAME = "v1alpha1", "securityprofilesoperatordaemons", "spod"
COMPONENT = "spo-node-agent"
SELINUX_POLL = 1.0
ATTEMPTS = 8  # of a finalizer patch before the profile is requeued
SPNS_CACHES = ("spns", "spns-others", "spns-kept")  # this node's own; others' unsettled; others' settled, kept here
RELEASE_FALLBACK = 120.0  # s: a node not the keeper lists a deleted profile's statuses this long after its own went
RELEASE_POLL = (1.0, 30.0)  # s: first and longest wait between lists of an agent that does not see every status
PATCHED, GONE, RETRY = "patched", "gone", "retry"  # outcomes of one finalizer patch
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

Key = Tuple[str, str, str]  # (kind, namespace, name)


def spns_path(namespace: Optional[str], name: Optional[str] = None) -> str:
    """API path of the SPNS collection of ``namespace`` (None: all namespaces) or of one SPNS."""
    return k.custom_path(GROUP, ns.SPNS_VERSION, ns.SPNS_PLURAL, namespace, name)


def rss_mb() -> float:
    """Resident memory of this process (Linux), MB."""
    try:
        with open("/proc/self/statm", "r", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576.0
    except (OSError, ValueError, IndexError):
        return 0.0


def load_shipped(directory: Optional[str] = None) -> List[Dict[str, Any]]:
    """The SeccompProfiles shipped in the collection's profiles/seccomp/ (bases by name)."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.yaml_input import load_all
    directory = directory or os.path.join(COLLECTION_ROOT, "profiles", "seccomp")
    docs: List[Dict[str, Any]] = []
    for path in sorted(glob.glob(os.path.join(directory, "*.yaml"))):
        with open(path, "r", encoding="utf-8") as handle:
            docs.extend(d for d in load_all(handle.read(), path) if isinstance(d, dict) and d.get("kind") == SECCOMP_KIND)
    return docs


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


def _rv(obj: Any) -> int:
    try:
        if isinstance(obj, SpnsEntry):
            return int(obj.rv or 0)
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


class Outcome(object):
    """What this node ends up with for one profile in a batch."""

    __slots__ = ("state", "message", "write", "remove_file", "need_finalizer", "delete", "refused", "reason")

    def __init__(self, state: str = ns.PENDING, message: str = "") -> None:
        self.state = state
        self.message = message
        self.write = False          # the profile is to be written to the node
        self.remove_file = False    # the node's file is to be removed
        self.need_finalizer = False
        self.delete = False         # the profile is being deleted and unused here: clean up all of this node's
        self.refused = False
        self.reason = ""


def unseen_change(cached: Mapping[str, Any], fresh: Mapping[str, Any]) -> bool:
    """Whether ``fresh`` (a profile an API response returned) changes what the node must do, compared with
    the ``cached`` version: its spec, identity, labels or deletion (finalizers and status are this agent's
    own writes, or only change the aggregated status)."""
    old, new = cached.get("metadata") or {}, fresh.get("metadata") or {}
    return (cached.get("spec") != fresh.get("spec") or old.get("uid") != new.get("uid")
            or old.get("deletionTimestamp") != new.get("deletionTimestamp") or old.get("labels") != new.get("labels"))


class NodeAgent(object):
    def __init__(self, kube: k.Kube, node: str, kubelet_dir: str = "/var/lib/kubelet",
                 selinux_dir: str = selinuxd.DEFAULT_DIR, selinuxd_socket: str = selinuxd.DEFAULT_SOCKET,
                 operator_namespace: str = "security-profiles-operator", window: float = 0.15, workers: int = 4,
                 log: Callable[[str], None] = lambda m: sys.stderr.write(m + "\n"), verbosity: int = 0,
                 shipped: Optional[List[Dict[str, Any]]] = None, namespace: Optional[str] = None,
                 selinux_compat: str = "auto", selinux_store: str = "/var/lib/selinux") -> None:
        self.kube = kube
        self.node = node
        self.kubelet_dir = kubelet_dir
        self.root = profiles_root(kubelet_dir)
        self.selinux_dir = selinux_dir
        self.selinuxd_socket = selinuxd_socket
        self.selinux_compat = selinux_compat
        self.selinux_store = selinux_store
        self.operator_namespace = operator_namespace
        self.finalizer = ns.CLEANUP_FINALIZER
        self.namespace = namespace  # only this namespace's profiles (tests, benchmarks); None: all
        self._log = log
        self.verbosity = verbosity
        self.shipped = load_shipped() if shipped is None else shipped
        self.metrics = AgentMetrics(lambda: float(kube.requests))
        self.queue = Coalescer(window)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-api")
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.lock = threading.RLock()
        self.settings = Settings()
        self.pod_index: Dict[Tuple[str, str, str], Set[str]] = {}
        self.spns_index: Dict[Tuple[str, str, str], Dict[str, Tuple[str, str]]] = {}
        self.reported: Dict[Key, Tuple[str, Any, str]] = {}
        self.full: Set[Key] = set()
        self.done: Dict[Key, Tuple[Any, Outcome]] = {}
        self.release_due: Dict[Key, float] = {}   # deleted profiles another node keeps: when to look again
        self.release_polls: Dict[Key, int] = {}   # deleted profiles this node lists for: lists so far
        self.batches = 0
        self.errors = 0
        self.reflectors: Dict[str, k.Reflector] = {}
        for kind, (version, plural) in KINDS.items():
            self.reflectors[kind] = k.Reflector(kube, kind, k.custom_path(GROUP, version, plural, namespace),
                                                self._profile_handler(kind), slim=self._slim_profile(kind),
                                                missing_ok=True, log=self.log)
        # SPNS: this node's own, the other nodes' unsettled ones (nodestatus: a settled SPNS cannot change an
        # aggregated status) and their settled ones of the profiles this node keeps; the selectors are disjoint
        for name, selector in zip(SPNS_CACHES, (ns.own_selector(node), ns.others_selector(node),
                                                ns.kept_selector(node))):
            self.reflectors[name] = k.Reflector(kube, name, spns_path(namespace), self._on_spns,
                                                query={"labelSelector": selector},
                                                slim=lambda o: SpnsEntry(o, node), missing_ok=True, log=self.log)
        self.reflectors["spod"] = k.Reflector(kube, "spod", k.custom_path(GROUP, SPOD_VERSION, SPOD_PLURAL,
                                                                          operator_namespace),
                                              self._on_spod, query={"fieldSelector": "metadata.name=" + SPOD_NAME},
                                              slim=lambda o: {"metadata": k.slim_metadata(o.get("metadata") or {}),
                                                              "spec": o.get("spec") or {}},
                                              missing_ok=True, log=self.log)
        self.reflectors["pods"] = k.Reflector(kube, "pods", k.core_path("pods"), self._on_pod, slim=slim_pod,
                                              query={"fieldSelector": "spec.nodeName=" + node}, log=self.log)
        self.reflectors["nodes"] = k.Reflector(kube, "nodes", k.core_path("nodes"), self._on_node,
                                               slim=lambda o: {"metadata": {"name": (o.get("metadata") or {}).get("name")}},
                                               log=self.log)

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

    # ------------------------------------------------------------------ logging
    def log(self, message: str) -> None:
        self._log("%s %s: %s" % (time.strftime("%H:%M:%S"), COMPONENT, message))

    def debug(self, message: str) -> None:
        if self.verbosity > 0 or self.settings.verbosity > 0:
            self.log(message)

    # ------------------------------------------------------------------ event handlers
    def mark(self, keys: Iterable[Key], full: bool = True) -> None:
        """Queue profiles: ``full`` ones are reconciled on the node, the others only get their status
        re-aggregated."""
        keys = list(keys)
        if full and keys:
            with self.lock:
                self.full.update(keys)
        self.queue.add(keys)

    def _profile_handler(self, kind: str) -> k.Handler:
        def handler(event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
            pkey = (kind, key[0], key[1])
            level = self.change_level(old, new)
            if level is None:
                return
            if level and kind == SECCOMP_KIND and new is not None and old is not None \
                    and old.get("spec") != new.get("spec"):
                # profiles naming this one as their base compile differently now
                self.mark(self.dependants(key[0], key[1]))
            self.mark([pkey], full=level)
        return handler

    def change_level(self, old: Optional[Mapping[str, Any]], new: Optional[Mapping[str, Any]]) -> Optional[bool]:
        """True: reconcile on the node; False: only the status; None: nothing this agent cares about."""
        if old is None or new is None:
            return True
        if unseen_change(old, new):
            return True
        ofin, nfin = old["metadata"].get("finalizers") or [], new["metadata"].get("finalizers") or []
        if ofin != nfin:
            if (self.finalizer in ofin) != (self.finalizer in nfin) or ns.legacy_finalizers(nfin):
                return True
        if ns.keeper_of(old) != ns.keeper_of(new):
            return True  # this node's SPNS names the keeper
        if old.get("status") != new.get("status"):
            return False
        return None

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

    def _on_spns(self, event: str, key: Tuple[str, str], old: Optional[SpnsEntry], new: Optional[SpnsEntry]) -> None:
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
        self.mark(dirty, full=False)

    def _on_spod(self, event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
        fresh = spod_settings(new)
        with self.lock:
            changed = fresh != self.settings
            self.settings = fresh
        if changed:
            self.log("SPOD settings: enableSelinux=%s allowedSyscalls=%s verbosity=%d"
                     % (fresh.enable_selinux, "any" if fresh.allowed_syscalls is None else len(fresh.allowed_syscalls),
                        fresh.verbosity))
            self.mark(self.all_profile_keys())

    def _on_pod(self, event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
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
                store = self.reflectors[SECCOMP_KIND].store
                dirty.extend((SECCOMP_KIND, ref[1], name) for name in seccomp_paths.names_of_file(ref[2])
                             if (ref[1], name) in store)
            else:
                dirty.extend([(SELINUX_KIND, ref[1], ref[2]), (RAW_KIND, ref[1], ref[2])])
        self.mark(dirty)

    def _on_node(self, event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
        if event == k.DELETED and self.ready.is_set():
            self.log("node %s is gone: removing its node statuses" % key[1])
            self.pool.submit(self.forget_node, key[1])
            self.mark(self.all_profile_keys())

    def requeue(self, key: Key, delay: float) -> None:
        with self.lock:
            self.full.add(key)
        self.queue.requeue(key, delay)

    def all_profile_keys(self) -> List[Key]:
        keys: List[Key] = []
        for kind in KINDS:
            keys.extend((kind, key[0], key[1]) for key in list(self.reflectors[kind].store))
        return keys

    # ------------------------------------------------------------------ lookups
    def profile(self, key: Key) -> Optional[Dict[str, Any]]:
        return self.reflectors[key[0]].get((key[1], key[2]))

    def users(self, key: Key) -> List[str]:
        kind, namespace, name = key
        if kind == SECCOMP_KIND:  # pods name the file (operator/<ns>/<file>), which p1 and p1.json share
            try:
                ref = (SECCOMP, namespace, seccomp_paths.file_name(name))
            except SpoError:
                return []
        else:
            ref = (SELINUX, namespace, name)
        with self.lock:
            return sorted(self.pod_index.get(ref, ()))

    def node_spns(self, key: Key) -> Dict[str, SpnsEntry]:
        """node -> SPNS (cached) of the profile ``key``."""
        kind, namespace, name = key
        with self.lock:
            refs = dict(self.spns_index.get((namespace, kind, ns.profile_id(kind, name)), {}))
        stores = [self.reflectors[name] for name in SPNS_CACHES]
        result = {}
        for node, ref in refs.items():
            obj = next((found for found in (store.get(ref) for store in stores) if found is not None), None)
            if obj is not None and obj.owner in (None, key):
                result[node] = obj
        return result

    def listed_spns_nodes(self, key: Key) -> List[str]:
        """The nodes with an SPNS of the profile ``key`` as the API server lists them now (the cache holds
        only the other nodes' unsettled ones)."""
        kind, namespace, name = key
        listing = self.kube.list(spns_path(namespace), {"labelSelector": ns.profile_selector(kind, name)})
        entries = [SpnsEntry(obj) for obj in listing.get("items") or []]
        return sorted({e.node for e in entries if e.node and e.owner in (None, key)})

    def live_nodes(self) -> Optional[Set[str]]:
        nodes = self.reflectors["nodes"]
        if not nodes.synced.is_set():
            return None
        return {key[1] for key in list(nodes.store)}

    def path(self, key: Key, subresource: Optional[str] = None) -> str:
        kind, namespace, name = key
        version, plural = KINDS[kind]
        return k.custom_path(GROUP, version, plural, namespace, name, subresource)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for reflector in self.reflectors.values():
            reflector.start()
        self.worker = threading.Thread(target=self.run, name="agent-reconcile", daemon=True)
        self.worker.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.queue.close()
        for reflector in self.reflectors.values():
            reflector.stop.set()
        if getattr(self, "worker", None) is not None:
            self.worker.join(timeout)
        self.pool.shutdown(wait=True)

    def run(self) -> None:
        for name, reflector in self.reflectors.items():
            while not reflector.synced.wait(0.5):
                if self.stop.is_set():
                    return
        self.log("caches synced: %d seccomp, %d selinux, %d raw selinux profiles, %d node statuses of this node, "
                 "%d unsettled and %d settled kept ones of other nodes, %d pods using profiles, %d nodes"
                 % tuple(len(self.reflectors[n].store) for n in
                         (SECCOMP_KIND, SELINUX_KIND, RAW_KIND) + SPNS_CACHES + ("pods", "nodes")))
        with self.lock:
            self.settings = spod_settings(self.reflectors["spod"].get((self.operator_namespace, SPOD_NAME)))
        try:
            self.remove_orphans()
        except (OSError, SpoError) as exc:
            self.log("cannot clean up the node's files: %s" % exc)
        first = True
        keys: List[Any] = self.all_profile_keys()
        while not self.stop.is_set():
            if not first:
                keys = self.queue.wait(1.0)
            if keys or first:
                try:
                    self.reconcile(keys, everything=first)
                except Exception as exc:  # pylint: disable=broad-except
                    self.errors += 1
                    self.log("batch failed: %s; retrying its profiles" % exc)
                    for key in keys:
                        self.requeue(key, 2.0)
            if first:
                first = False
                self.ready.set()
                self.log("first sync done (%d profiles)" % len(keys))

    # ------------------------------------------------------------------ restart safety
    def remove_orphans(self) -> None:
        """Remove files under ``<kubelet>/seccomp/operator/`` (and our CIL files) that match no profile."""
        known = set(self.reflectors[SECCOMP_KIND].store)
        for path in glob.glob(os.path.join(self.root, self.namespace or "*", "*.json")):
            namespace = os.path.basename(os.path.dirname(path))
            names = seccomp_paths.names_of_file(os.path.basename(path))  # p1.json: the file of p1 and of p1.json
            if any((namespace, name) in known or self.users((SECCOMP_KIND, namespace, name)) for name in names):
                continue
            self.log("removing %s: no SeccompProfile %s" % (path, " or ".join("%s/%s" % (namespace, n) for n in names)))
            nodefs.remove(path)
            self.metrics.seccomp.inc(operation="delete")
        for directory in glob.glob(os.path.join(self.root, self.namespace or "*")):
            try:
                os.rmdir(directory)  # only when empty
            except OSError:
                pass
        if os.path.isdir(self.selinux_dir):
            known_policies = {selinux_model.policy_name(key[1], key[0]) for kind in (SELINUX_KIND, RAW_KIND)
                              for key in self.reflectors[kind].store}
            for path in glob.glob(os.path.join(self.selinux_dir, "*.cil")):
                policy = os.path.basename(path)[:-4]
                if self.namespace and not policy.endswith("_" + self.namespace):
                    continue
                if policy in known_policies or not self._ours(path):
                    continue
                self.log("removing %s: no SelinuxProfile or RawSelinuxProfile for it" % path)
                nodefs.remove(path)
                self.metrics.selinux.inc(operation="delete")

    @staticmethod
    def _ours(path: str) -> bool:
        """A CIL file this project wrote for a profile (first line ``; <Kind> ns/name (spo.security_profiles)``)."""
        data = nodefs.read_bytes(path) or b""
        first = data.split(b"\n", 1)[0]
        return first.endswith(b"(spo.security_profiles)") and (first.startswith(b"; SelinuxProfile ")
                                                               or first.startswith(b"; RawSelinuxProfile "))

    # ------------------------------------------------------------------ the batch
    def reconcile(self, keys: Iterable[Key], everything: bool = False) -> None:
        keys = sorted(set(keys))
        if not keys:
            return
        self.batches += 1
        started = time.monotonic()
        live = self.live_nodes()
        with self.lock:
            if everything:
                full = keys
                self.full.difference_update(keys)
            else:
                full = [key for key in keys if key in self.full]
                self.full.difference_update(full)
        full_set = set(full)
        status_only = [key for key in keys if key not in full_set]
        if status_only:
            self._parallel(self.refresh_status, self.spread(status_only))
        keys = full
        outcomes: Dict[Key, Outcome] = {}
        present: Dict[Key, Dict[str, Any]] = {}
        for key in keys:
            obj = self.profile(key)
            if obj is None:
                outcomes[key] = self.plan_gone(key)
            else:
                present[key] = obj
        # 1. stale node finalizers / statuses
        if live:
            self._parallel(lambda key: self.cleanup_stale_nodes(key, present[key], live), list(present))
        # plan
        outcomes.update(self.plan(present))
        # 2. finalizers before anything is written
        need = self.spread(key for key, out in outcomes.items() if out.need_finalizer and key in present
                           and self.unclaimed(present[key], live))
        failed = set()
        for key, ok in zip(need, self._parallel(lambda key: self.claim(key, present[key], live), need)):
            if not ok:
                failed.add(key)
        for key in failed:
            outcomes[key].write = False
            outcomes[key].state = ns.PENDING
        # 3. the node
        self.apply_seccomp({key: out for key, out in outcomes.items() if key[0] == SECCOMP_KIND}, present)
        for key, out in outcomes.items():
            if key[0] == SECCOMP_KIND and key in present and key not in failed and (
                    (out.write and out.state == ns.INSTALLED) or (out.refused and out.reason == "InvalidProfile")):
                memo = Outcome(out.state, out.message)
                memo.refused, memo.reason, memo.need_finalizer = out.refused, out.reason, out.need_finalizer
                self.done[key] = (self.signature(key, present[key]), memo)
        self.apply_selinux({key: out for key, out in outcomes.items() if key[0] != SECCOMP_KIND}, present)
        for key in failed:
            self.requeue(key, 2.0)
        # 4.-6. node status, deletion, profile status
        order = self.spread(outcomes)
        results = self._parallel(lambda key: self.finish(key, present.get(key), outcomes[key], live), order)
        for key, ok in zip(order, results):
            if not ok:
                self.requeue(key, 2.0)
        self.debug("batch %d: %d profiles in %.3fs (%d API requests so far, RSS %.1f MB)"
                   % (self.batches, len(keys), time.monotonic() - started, self.kube.requests, rss_mb()))

    def turn(self, key: Key, live: Optional[Set[str]]) -> int:
        """This node's place among the nodes in an order of the profile ``key``'s own."""
        salt = "/".join(key).encode("utf-8")
        order = sorted((live or set()) | {self.node}, key=lambda node: (zlib.crc32(node.encode("utf-8") + salt), node))
        return order.index(self.node)

    def spread(self, keys: Iterable[Key]) -> List[Key]:
        """``keys`` in an order of this node's own: agents that work through the same new profiles at
        the same time then write to different objects, instead of all queueing on the same one (the
        API server retries concurrent patches of one object)."""
        salt = self.node.encode("utf-8")
        return sorted(keys, key=lambda key: zlib.crc32(salt + "/".join(key).encode("utf-8")))

    def _parallel(self, func: Callable[[Key], Any], keys: List[Key]) -> List[Any]:
        def guarded(key: Key) -> Any:
            if self.stop.is_set():  # stopping: requests not yet sent are left to the next start
                return False
            try:
                result = func(key)
                return True if result is None else result
            except Exception as exc:  # pylint: disable=broad-except
                self.errors += 1
                self.log("%s %s/%s: %s" % (key[0], key[1], key[2], exc))
                return False
        if len(keys) <= 1:
            return [guarded(key) for key in keys]
        return list(self.pool.map(guarded, keys))

    # ------------------------------------------------------------------ planning
    def plan_gone(self, key: Key) -> Outcome:
        """The profile no longer exists (its finalizers were removed by force, or we missed it)."""
        out = Outcome(ns.TERMINATING)
        out.delete = True
        if not self.users(key):
            out.remove_file = True
        return out

    def _deleting(self, key: Key, obj: Mapping[str, Any]) -> Optional[Outcome]:
        if not obj["metadata"].get("deletionTimestamp"):
            return None
        users = self.users(key)
        out = Outcome(ns.TERMINATING, "in use by %s" % ", ".join(users) if users else "")
        if not users:
            out.delete = True
            out.remove_file = True
        return out

    def plan(self, present: Mapping[Key, Dict[str, Any]]) -> Dict[Key, Outcome]:
        """The outcome of every present profile.  Whatever one object makes the validation raise (a bug, input
        no check foresaw) becomes that object's Error; the rest of the batch goes on (seccomp profiles are
        planned together for speed, and alone when that fails)."""
        outcomes: Dict[Key, Outcome] = {}
        seccomp_keys = [key for key in present if key[0] == SECCOMP_KIND]
        try:
            outcomes.update(self.plan_seccomp(seccomp_keys, present))
        except Exception:  # pylint: disable=broad-except
            for key in seccomp_keys:
                outcomes[key] = self._isolated(key, lambda key=key: self.plan_seccomp([key], present)[key])
        for key in present:
            if key[0] != SECCOMP_KIND:
                outcomes[key] = self._isolated(key, lambda key=key: self.plan_selinux(key, present[key]))
        return outcomes

    def _isolated(self, key: Key, planner: Callable[[], Outcome]) -> Outcome:
        try:
            return planner()
        except Exception as exc:  # pylint: disable=broad-except
            self.errors += 1
            self.log("%s %s/%s: validation failed unexpectedly: %s: %s"
                     % (key[0], key[1], key[2], type(exc).__name__, exc))
            out = Outcome(ns.ERROR, "%s %s/%s: the profile could not be validated (%s: %s)"
                          % (key[0], key[1], key[2], type(exc).__name__, str(exc)[:300]))
            out.refused, out.reason = True, "InvalidProfile"
            return out

    def plan_seccomp(self, keys: List[Key], present: Mapping[Key, Dict[str, Any]]) -> Dict[Key, Outcome]:
        outcomes: Dict[Key, Outcome] = {}
        candidates: List[Key] = []
        for key in keys:
            obj = present[key]
            out = self._deleting(key, obj)
            if out is None:
                spec = obj.get("spec") or {}
                labels = obj["metadata"].get("labels") or {}
                if spec.get("disabled") is True:
                    out = Outcome(ns.DISABLED)
                    out.remove_file = True
                elif labels.get(ns.LABEL_PARTIAL) == "true":
                    out = Outcome(ns.PARTIAL)
                    out.remove_file = True
                else:
                    memo = self.done.get(key)
                    if memo is not None and memo[0] == self.signature(key, obj) and (
                            memo[1].state != ns.INSTALLED or os.path.exists(self.seccomp_file(key))):
                        out = Outcome(memo[1].state, memo[1].message)
                        out.refused, out.reason = memo[1].refused, memo[1].reason
                        out.need_finalizer = memo[1].need_finalizer
                    else:
                        candidates.append(key)
                        continue
            outcomes[key] = out
        if candidates:
            outcomes.update(self.validate_seccomp(candidates, present))
        return outcomes

    def signature(self, key: Key, obj: Mapping[str, Any]) -> Tuple[Any, ...]:
        """What a seccomp profile's result on this node depends on: the object's generation, its base
        chain's generations and the SPOD's allowedSyscalls."""
        meta = obj["metadata"]
        chain = []
        current = obj
        for _depth in range(12):
            base = (current.get("spec") or {}).get("baseProfileName")
            if not base:
                break
            current = self.reflectors[SECCOMP_KIND].get((key[1], base))
            if current is None:
                chain.append((base, None))
                break
            cmeta = current["metadata"]
            chain.append((base, cmeta.get("uid"), cmeta.get("generation"), bool(cmeta.get("deletionTimestamp"))))
        return (meta.get("uid"), meta.get("generation"), tuple(chain), self.settings.key())

    def _seccomp_doc(self, obj: Mapping[str, Any]) -> Dict[str, Any]:
        meta = obj["metadata"]
        return {"apiVersion": obj.get("apiVersion"), "kind": SECCOMP_KIND,
                "metadata": {"name": meta["name"], "namespace": meta["namespace"]}, "spec": obj.get("spec")}

    def validate_seccomp(self, keys: List[Key], present: Mapping[Key, Dict[str, Any]]) -> Dict[Key, Outcome]:
        """Each profile on its own: parse, resolve bases (same namespace, from the cache), compile, check the
        SPOD's allowedSyscalls.  Returns the outcome of each."""
        outcomes: Dict[Key, Outcome] = {}
        parsed: Dict[Tuple[str, str], Any] = {}
        docs: Dict[Tuple[str, str], Dict[str, Any]] = {}
        refused_bases: Dict[Tuple[str, str], str] = {}

        def parse(ident: Tuple[str, str], obj: Mapping[str, Any]) -> Any:
            if ident in parsed:
                return parsed[ident]
            doc = self._seccomp_doc(obj)
            try:
                profile = parse_profile(doc)
            except SpoError as exc:
                parsed[ident] = exc
                return exc
            parsed[ident] = profile
            docs[ident] = doc
            return profile

        for key in keys:
            ident = (key[1], key[2])
            parse(ident, present[key])
            # bases of the same namespace, from the cache
            current = parsed[ident]
            depth = 0
            while not isinstance(current, SpoError) and current.base_profile_name and depth < 12:
                depth += 1
                base_ident = (current.namespace, current.base_profile_name)
                base_obj = self.reflectors[SECCOMP_KIND].get(base_ident)
                if base_obj is None or base_obj["metadata"].get("deletionTimestamp") \
                        or (base_obj.get("spec") or {}).get("disabled") is True:
                    break
                known = base_ident in parsed
                current = parse(base_ident, base_obj)
                if isinstance(current, SpoError):
                    refused_bases[base_ident] = current.message
                if known:
                    break
        engine = Engine(list(docs.values()), self.shipped)
        allowed = self.settings.allowed_syscalls
        for key in keys:
            ident = (key[1], key[2])
            result = parsed[ident]
            out = Outcome(ns.INSTALLED)
            try:
                if isinstance(result, SpoError):
                    raise result
                base = result.base_profile_name
                if base and (result.namespace, base) in refused_bases:
                    raise SpoError("base profile %r is refused: %s" % (base, refused_bases[(result.namespace, base)]),
                                   result.ref, "spec.baseProfileName")
                owner = self.file_owner(key)
                if owner is not None and key[2].endswith(seccomp_paths.EXT):
                    raise SpoError("its file %s is also SeccompProfile %s/%s's (a name's file is <name>.json, or the "
                                   "name when it ends in .json); rename one of them"
                                   % (seccomp_paths.localhost_profile(key[1], key[2]), owner[1], owner[2]),
                                   result.ref, "metadata.name")
                try:
                    compiled = engine.compile(result)
                except SpoError as exc:
                    if exc.obj and exc.obj != result.ref:  # the engine names a bad base under its own name
                        raise SpoError("base profile %r is refused: %s" % (result.base_profile_name, exc),
                                       result.ref, "spec.baseProfileName")
                    raise
                try:
                    check_allowed_syscalls(compiled.oci, allowed, result.ref)
                except SpoError:
                    out.remove_file = True
                    out.reason = "NotAllowedSyscall"
                    raise
                out.write = True
                out.need_finalizer = True
                out.message = "; ".join(compiled.warnings)
            except SpoError as exc:
                out.state = ns.ERROR
                out.message = str(exc)
                out.refused = True
                out.reason = out.reason or "InvalidProfile"
                out.write = False
            outcomes[key] = out
        return outcomes

    def plan_selinux(self, key: Key, obj: Dict[str, Any]) -> Outcome:
        out = self._deleting(key, obj)
        if out is not None:
            return out
        spec = obj.get("spec") or {}
        if spec.get("disabled") is True:
            out = Outcome(ns.DISABLED)
            out.remove_file = True
            return out
        if not self.settings.enable_selinux:
            return Outcome(ns.PENDING, "SELinux is not enabled in the SPOD %s/%s (spec.enableSelinux or "
                                       "spec.selinux.enable); the profile is not installed"
                           % (self.operator_namespace, SPOD_NAME))
        out = Outcome(ns.IN_PROGRESS)
        try:
            profiles = self._selinux_chain(key, obj)
            target = profiles[-1]
            out.message = profile_cil(target)
            out.write = True
            out.need_finalizer = True
        except SpoError as exc:
            out.state, out.message, out.refused, out.reason = ns.ERROR, str(exc), True, "InvalidProfile"
        return out

    def _selinux_chain(self, key: Key, obj: Mapping[str, Any]) -> List[Any]:
        """The profile with the SelinuxProfiles it inherits (same namespace), validated; the profile last."""
        def doc_of(o: Mapping[str, Any]) -> Dict[str, Any]:
            return {"apiVersion": o.get("apiVersion"), "kind": o.get("kind"),
                    "metadata": {"name": o["metadata"]["name"], "namespace": o["metadata"]["namespace"]},
                    "spec": o.get("spec")}
        docs = [doc_of(obj)]
        profile = selinux_model.parse_profile(docs[0])
        pending = [profile]
        seen = {profile.policy_name}
        while pending:
            current = pending.pop()
            for index, entry in enumerate(getattr(current, "inherit", []) or []):
                if entry.kind != SELINUX_KIND:
                    continue
                parent = self.reflectors[SELINUX_KIND].get((current.namespace, entry.name))
                if parent is None:
                    raise SpoError("inherits SelinuxProfile %s/%s, which does not exist" % (current.namespace, entry.name),
                                   current.ref, "spec.inherit[%d].name" % index)
                parsed = selinux_model.parse_profile(doc_of(parent))
                if parsed.policy_name not in seen:
                    seen.add(parsed.policy_name)
                    docs.append(doc_of(parent))
                    pending.append(parsed)
        ordered = selinux_model.parse_profiles(docs)
        return [p for p in ordered if p.policy_name != profile.policy_name] + [
            next(p for p in ordered if p.policy_name == profile.policy_name)]

    # ------------------------------------------------------------------ node writes
    def seccomp_path(self, key: Key) -> str:
        return seccomp_paths.profile_path(self.root, key[1], key[2])

    def seccomp_file(self, key: Key) -> str:
        """:meth:`seccomp_path` without its checks, only to look at the file ("" when the name has none)."""
        try:
            return os.path.join(self.root, key[1], seccomp_paths.file_name(key[2]))
        except SpoError:
            return ""

    def file_owner(self, key: Key) -> Optional[Key]:
        """The other live profile that has ``key``'s file (``p1`` for ``p1.json``), if any."""
        try:
            file = seccomp_paths.file_name(key[2])
        except SpoError:
            return None
        store = self.reflectors[SECCOMP_KIND].store
        for name in seccomp_paths.names_of_file(file):
            if name != key[2] and (key[1], name) in store:
                return (SECCOMP_KIND, key[1], name)
        return None

    def apply_seccomp(self, outcomes: Dict[Key, Outcome], present: Mapping[Key, Dict[str, Any]]) -> None:
        accepted = [key for key, out in outcomes.items() if out.write]
        if accepted:
            docs: Dict[Tuple[str, str], Dict[str, Any]] = {}
            for key in accepted:
                docs[(key[1], key[2])] = self._seccomp_doc(present[key])
                # the bases must be in the same call (same namespace); they are installed too
                obj = present[key]
                seen = 0
                while (obj.get("spec") or {}).get("baseProfileName") and seen < 12:
                    seen += 1
                    ident = (key[1], obj["spec"]["baseProfileName"])
                    base = self.reflectors[SECCOMP_KIND].get(ident)
                    if base is None or ident in docs:
                        break
                    if self.finalizer not in (base["metadata"].get("finalizers") or []):
                        break  # not (yet) this node's to write; the engine resolved it all the same
                    docs[ident] = self._seccomp_doc(base)
                    obj = base
            try:
                result = install(list(docs.values()), self.kubelet_dir, shipped=self.shipped)
                for item in result["profiles"]:
                    if item["changed"]:
                        self.metrics.seccomp.inc(operation="update")
            except Exception as exc:  # pylint: disable=broad-except
                # should not happen (everything was validated): fall back to one call per profile
                self.log("installing %d profiles in one call failed (%s); installing them one by one"
                         % (len(docs), exc))
                for key in accepted:
                    try:
                        install([docs[(key[1], key[2])]], self.kubelet_dir, shipped=self.shipped)
                        self.metrics.seccomp.inc(operation="update")
                    except Exception as one:  # pylint: disable=broad-except
                        out = outcomes[key]
                        out.state, out.message, out.write, out.refused, out.reason = (
                            ns.ERROR, str(one), False, True, "CannotSaveProfile")
        for key, out in outcomes.items():
            if out.remove_file and self.file_owner(key) is None:
                try:
                    if nodefs.remove(self.seccomp_path(key)):
                        self.metrics.seccomp.inc(operation="delete")
                        self.debug("removed %s" % self.seccomp_path(key))
                except (OSError, SpoError) as exc:
                    out.state, out.message, out.delete = ns.ERROR, "cannot remove the profile file: %s" % exc, False
                    out.reason = "CannotRemoveProfile"
            if out.refused:
                self.metrics.seccomp_errors.inc(reason=out.reason)

    def selinux_path(self, key: Key) -> str:
        return nodefs.safe_join(self.selinux_dir, selinux_model.policy_name(key[2], key[1]) + ".cil")

    def compat_needed(self) -> bool:
        """The project's container-selinux stand-in is needed where container-selinux is not installed
        (``auto``: looked up in the node's policy store when it is visible here; not visible: no)."""
        if self.selinux_compat in ("always", "never"):
            return self.selinux_compat == "always"
        found = glob.glob(os.path.join(self.selinux_store, "*", "active", "modules", "*", "*"))
        if not found:
            return False
        return not any(os.path.basename(path) == selinux_templates.CONTAINER_SELINUX_MODULE for path in found)

    def system_module_writes(self) -> List[Tuple[str, bytes]]:
        """The template modules every SelinuxProfile builds on, as files of the drop-in directory."""
        writes = []
        for name, text in selinux_templates.system_modules(self.compat_needed()).items():
            path = os.path.join(self.selinux_dir, name + ".cil")
            data = text.encode("utf-8")
            if nodefs.read_bytes(path) != data:
                writes.append((path, data))
        return writes

    def apply_selinux(self, outcomes: Dict[Key, Outcome], present: Mapping[Key, Dict[str, Any]]) -> None:
        writes = []
        if any(out.write for out in outcomes.values()):
            writes.extend(self.system_module_writes())
        written = []
        for key, out in outcomes.items():
            if out.write:
                path = self.selinux_path(key)
                data = out.message.encode("utf-8")
                out.message = ""
                if nodefs.read_bytes(path) != data:
                    writes.append((path, data))
                    written.append(out)
                    continue
                out.state, out.message = self._selinuxd_state(selinux_model.policy_name(key[2], key[1]),
                                                              cil_checksum(data.decode("utf-8")))
        if writes:
            nodefs.makedirs(self.selinux_dir)
            nodefs.atomic_write_many(writes)
            for out in written:
                self.metrics.selinux.inc(operation="update")
            if written:
                self.log("wrote %d SELinux policies into %s" % (len(written), self.selinux_dir))
                out.state, out.message = ns.IN_PROGRESS, "selinuxd is installing the policy"
        for key, out in outcomes.items():
            if out.write and out.state == ns.IN_PROGRESS:
                self.requeue(key, SELINUX_POLL)
            if out.remove_file:
                try:
                    if nodefs.remove(self.selinux_path(key)):
                        self.metrics.selinux.inc(operation="delete")
                except (OSError, SpoError) as exc:
                    out.state, out.message, out.delete = ns.ERROR, "cannot remove the policy file: %s" % exc, False
            if out.delete and self.settings.enable_selinux and os.path.exists(self.selinuxd_socket):
                policy = selinux_model.policy_name(key[2], key[1])
                try:
                    code, _body = selinuxd.query(self.selinuxd_socket, "/policies/" + policy, timeout=5)
                except OSError:
                    code = 404
                if code == 200:  # selinuxd has not removed it yet: keep the finalizer a little longer
                    out.delete = False
                    self.requeue(key, SELINUX_POLL)
            if out.refused:
                self.metrics.selinux_errors.inc(reason=out.reason)

    def _selinuxd_state(self, policy: str, checksum: str) -> Tuple[str, str]:
        try:
            code, body = selinuxd.query(self.selinuxd_socket, "/policies/" + policy, timeout=5)
        except (OSError, ValueError) as exc:
            return ns.IN_PROGRESS, "selinuxd is not reachable at %s: %s" % (self.selinuxd_socket, exc)
        if code != 200 or not isinstance(body, dict) or body.get("checksum") != checksum:
            return ns.IN_PROGRESS, "selinuxd is installing the policy"
        if body.get("status") == selinuxd.INSTALLED:
            return ns.INSTALLED, ""
        if body.get("status") == selinuxd.FAILED:
            self.metrics.selinux_errors.inc(reason="CannotInstallPolicy")
            return ns.ERROR, "selinuxd could not install policy %s: %s" % (policy, body.get("message", ""))
        return ns.IN_PROGRESS, "selinuxd is installing the policy"

    # ------------------------------------------------------------------ API writes
    def unclaimed(self, obj: Mapping[str, Any], live: Optional[Set[str]]) -> bool:
        """Whether the profile lacks the shared finalizer or a keeper of a node that exists."""
        keeper = ns.keeper_of(obj)
        return (self.finalizer not in (obj["metadata"].get("finalizers") or []) or keeper is None
                or (live is not None and keeper not in live))

    def claim(self, key: Key, obj: Dict[str, Any], live: Optional[Set[str]]) -> bool:
        """Add the shared finalizer, and this node as the keeper, unless another node's agent did already (the
        cache is read again: the batch was planned before); every patch is guarded by the resourceVersion, so
        agents claiming at the same moment never write twice.  False: the finalizer is not there."""
        path = self.path(key)
        obj = self.profile(key) or obj
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, 0.05 * attempt))
            meta = obj["metadata"]
            finalizers = meta.get("finalizers") or []
            if not self.unclaimed(obj, live):
                return True
            if meta.get("deletionTimestamp"):
                return self.finalizer in finalizers
            # a merge patch: the annotation map may or may not exist; the resourceVersion makes it conditional
            patch = {"metadata": {"resourceVersion": meta.get("resourceVersion"),
                                  "annotations": {ns.ANNOTATION_KEEPER: self.node}}}
            if self.finalizer not in finalizers:
                patch["metadata"]["finalizers"] = list(finalizers) + [self.finalizer]
            outcome, obj = self._patch_or_reread(key, path, merge=patch)
            if outcome != RETRY:
                return outcome == PATCHED
        return False

    def remove_finalizer(self, key: Key, obj: Dict[str, Any], finalizer: str) -> None:
        """Remove ``finalizer`` by index, guarded by a ``test`` of that index (other agents remove theirs at
        the same time, shifting the list); raises when the object stayed too busy, so the profile is
        requeued."""
        path = self.path(key)
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
            self._remember(key, fresh)
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
        self._remember(key, fresh)
        return RETRY, slim_profile(fresh)

    def _remember(self, key: Key, fresh: Optional[Dict[str, Any]]) -> None:
        """Put an object the API returned into the cache (unless the watch already brought a newer one).

        The watch event of that version then finds it cached and reports no change, so a change this
        agent did not make itself (a deletion begun, a new spec: the response of a status patch can be
        the first to show them) is queued here, or the profile would never be reconciled for it (its
        deletion would wait for this node's finalizer forever).
        """
        if not fresh:
            return
        reflector = self.reflectors[key[0]]
        slim = slim_profile(fresh)
        with reflector.lock:
            current = reflector.store.get((key[1], key[2]))
            if current is not None and _rv(current) > _rv(fresh):
                return
            reflector.store[(key[1], key[2])] = slim
        if current is not None and unseen_change(current, slim):
            changed_spec = key[0] == SECCOMP_KIND and current.get("spec") != slim.get("spec")
            self.mark([key] + (self.dependants(key[1], key[2]) if changed_spec else []))

    def forget_node(self, node: str) -> None:
        """Delete the SPNS of ``node``, whose Node object is gone (its settled ones are in no agent's cache).
        One agent does it: the first in an order of that node's own among the nodes that exist."""
        if self.stop.is_set() or self.turn(("Node", "", node), self.live_nodes()) != 0:
            return
        try:
            listing = self.kube.list(spns_path(self.namespace), {"labelSelector": ns.own_selector(node)})
            gone = [e for e in (SpnsEntry(obj) for obj in listing.get("items") or []) if e.node == node]
            for entry in gone:
                self.kube.delete(spns_path(entry.namespace, entry.name))
            self.log("deleted %d node statuses of node %s (gone)" % (len(gone), node))
        except k.KubeError as exc:
            self.log("cannot delete the node statuses of node %s (gone): %s" % (node, exc))

    def cleanup_stale_nodes(self, key: Key, obj: Dict[str, Any], live: Set[str]) -> None:
        for finalizer in ns.legacy_finalizers(obj["metadata"].get("finalizers") or []):
            self.log("%s %s/%s: removing the per-node finalizer %s (replaced by %s)" % (key + (finalizer, self.finalizer)))
            self.remove_finalizer(key, self.profile(key) or obj, finalizer)
        for node, spns in self.node_spns(key).items():
            if node not in live:
                self.debug("%s %s/%s: deleting the node status of node %s (gone)" % (key + (node,)))
                self.kube.delete(spns_path(spns.namespace, spns.name))

    def write_spns(self, key: Key, obj: Dict[str, Any], out: Outcome, workloads: List[str]) -> None:
        kind, namespace, name = key
        obj = self.profile(key) or obj  # the keeper may have been set since the batch was planned
        keeper = ns.keeper_of(obj)
        mine = self.node_spns(key).get(self.node)
        message = out.message
        if mine is not None:
            patch = ns.spns_patch(mine.as_object(), kind, name, self.node, out.state, message, workloads, keeper)
            if patch:
                fresh = self.kube.merge_patch(spns_path(namespace, mine.name), patch)
                self._remember_spns(fresh)
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
        self._remember_spns(fresh)

    def _remember_spns(self, fresh: Optional[Dict[str, Any]]) -> None:
        if not fresh:
            return
        slim = SpnsEntry(fresh, self.node)
        store = self.reflectors["spns"]
        key = slim.key
        with store.lock:
            current = store.store.get(key)
            if current is not None and _rv(current) > _rv(slim):
                return
            store.store[key] = slim
        if slim.index:
            with self.lock:
                self.spns_index.setdefault(slim.index, {})[slim.node] = key

    def delete_spns(self, key: Key) -> None:
        mine = self.node_spns(key).get(self.node)
        if mine is None:
            return
        self.kube.delete(spns_path(mine.namespace, mine.name))
        store = self.reflectors["spns"]
        with store.lock:
            store.store.pop(mine.key, None)
        if mine.index:
            with self.lock:
                nodes = self.spns_index.get(mine.index, {})
                nodes.pop(mine.node, None)

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

    def finish(self, key: Key, obj: Optional[Dict[str, Any]], out: Outcome, live: Optional[Set[str]]) -> None:
        """SPNS, deletion and the aggregated status of one profile."""
        if obj is None or out.delete:
            self.done.pop(key, None)
        if obj is None:  # gone
            self.release_due.pop(key, None)
            self.release_polls.pop(key, None)
            if out.remove_file:
                self._remove_any_file(key)
            self.reported.pop(key, None)
            return
        workloads = self.users(key)
        if out.delete:
            self.delete_spns(key)
            self.release(key, obj, live)
            self.reported.pop(key, None)
            return
        self.report(key, obj, out)
        self.write_spns(key, obj, out, workloads)
        self.update_status(key, out, workloads, live)

    def acting_keeper(self, obj: Mapping[str, Any], live: Optional[Set[str]]) -> Tuple[bool, bool]:
        """(acts, sees all): whether this agent removes the shared finalizer of the profile ``obj``, and whether
        every node's SPNS of it reaches this agent's caches.  The keeper acts; when the profile has no keeper or
        its node is gone, every agent does (it lists, as it does not see the other nodes' settled SPNS)."""
        keeper = ns.keeper_of(obj)
        if keeper == self.node:
            return True, True
        return keeper is None or (live is not None and keeper not in live), False

    def release(self, key: Key, obj: Dict[str, Any], live: Optional[Set[str]]) -> None:
        """This node is done with a deleted profile (file and SPNS gone): once no node that exists has its SPNS
        left, the keeper removes the shared finalizer.  The keeper sees every node's SPNS go (its caches hold the
        settled SPNS of the profiles it keeps) and lists them once more before the finalizer goes.  Another node
        looks again after :data:`RELEASE_FALLBACK` in case the keeper's agent has stopped for good; an agent
        acting without the keeper's cache lists every :data:`RELEASE_POLL` while nodes are left."""
        current = self.profile(key) or obj
        if self.finalizer not in (current["metadata"].get("finalizers") or []):
            self.release_due.pop(key, None)
            self.release_polls.pop(key, None)
            return
        acts, sees_all = self.acting_keeper(current, live)
        now = time.monotonic()
        if not acts:
            due = self.release_due.get(key)
            if due is None or now < due:
                if due is None:
                    self.release_due[key] = now + RELEASE_FALLBACK
                    self.requeue(key, RELEASE_FALLBACK)
                return
            self.release_due[key] = now + RELEASE_FALLBACK
            self.requeue(key, RELEASE_FALLBACK)
        cached = ns.nodes_left(self.node_spns(key), self.node, live)
        if cached and sees_all:
            self.debug("%s %s/%s: deleted; waiting for nodes %s" % (key + (", ".join(cached[:5]),)))
            return
        left = cached or ns.nodes_left(self.listed_spns_nodes(key), self.node, live)
        if left:
            self.debug("%s %s/%s: deleted; waiting for nodes %s" % (key + (", ".join(left[:5]),)))
            if acts:  # some SPNS do not reach the caches here: look again
                polls = self.release_polls.get(key, 0)
                self.release_polls[key] = polls + 1
                self.requeue(key, min(RELEASE_POLL[0] * 2 ** polls, RELEASE_POLL[1]))
            return
        self.remove_finalizer(key, current, self.finalizer)

    def refresh_status(self, key: Key) -> None:
        """Re-aggregate the status from the node statuses (this node's as its SPNS says); for a deleted
        profile this node is done with, see whether the shared finalizer can go now."""
        obj = self.profile(key)
        if obj is None:
            return
        if obj["metadata"].get("deletionTimestamp"):
            spns, live = self.node_spns(key), self.live_nodes()
            if self.node not in spns and self.finalizer in (obj["metadata"].get("finalizers") or []) \
                    and self.acting_keeper(obj, live)[0] and not ns.nodes_left(spns, self.node, live):
                if ns.keeper_of(obj) == self.node:
                    self.requeue(key, 0.05)
                else:  # no keeper: every agent done with it sees this; they take turns (an order of the nodes of
                    # this profile's own), so the first one's removal reaches the others' caches before they try
                    self.requeue(key, 0.1 + 0.5 * self.turn(key, live) + random.uniform(0, 0.2))
            return
        mine = self.node_spns(key).get(self.node)
        if mine is None:
            return
        out = Outcome(mine.status, mine.message)
        self.update_status(key, out, mine.workload_list(), self.live_nodes())

    def _remove_any_file(self, key: Key) -> None:
        try:
            if key[0] == SECCOMP_KIND:
                if self.file_owner(key) is None and nodefs.remove(self.seccomp_path(key)):
                    self.metrics.seccomp.inc(operation="delete")
            elif not self.profile((SELINUX_KIND if key[0] == RAW_KIND else RAW_KIND, key[1], key[2])):
                if nodefs.remove(self.selinux_path(key)):
                    self.metrics.selinux.inc(operation="delete")
        except SpoError:
            pass

    def update_status(self, key: Key, out: Outcome, workloads: List[str], live: Optional[Set[str]]) -> None:
        """Aggregate the profile's status over the nodes and patch it when it differs.  Only the keeper does (its
        caches hold every node's SPNS that can change the aggregate), unless the profile has no keeper of a node
        that exists: then every agent does, as each sees the unsettled SPNS."""
        current = self.profile(key)
        if current is None or not self.acting_keeper(current, live)[0]:
            return
        states = []
        for node, spns in self.node_spns(key).items():
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
            fresh = self.kube.merge_patch(self.path(key, "status"), {"status": status})
        except k.KubeError as exc:
            if exc.status == 404:
                return
            if exc.status != 422 or state != ns.PARTIAL:
                raise
            # a CRD whose status enum lacks Partial: Pending, the Ready condition says why
            status["status"] = ns.PENDING
            if (current.get("status") or {}).get("status") == ns.PENDING and all(
                    c in (current.get("status") or {}).get("conditions") or [] for c in status["conditions"]):
                return
            fresh = self.kube.merge_patch(self.path(key, "status"), {"status": status})
        self._remember(key, fresh)
