# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node agent: installs the cluster's profiles on one node, in batches (docs/cluster-design.md).

It wires the watches of its caches (:mod:`nodeagent_cache`) to a queue: every change marks profiles dirty;
dirty profiles are reconciled together once events have been quiet for a moment (:class:`coalesce.Coalescer`),
in phases, so a thousand new profiles cost one compile pass and one write pass:

1. SPNS of nodes that no longer exist are deleted, earlier agents' per-node finalizers removed
   (:mod:`nodeagent_keeper`);
2. the planner (:mod:`nodeagent_plan`) decides each profile's outcome from a snapshot of the cache, compiling
   each seccomp profile once (a refused profile never blocks the others);
3. the shared finalizer is added to every profile about to be written to the node, with this node as its
   keeper when it has none (:mod:`nodeagent_keeper`);
4. the node writer (:mod:`nodeagent_writer`) installs what the planner compiled, writes the SELinux policies
   for selinuxd and removes files;
5. this node's SPNS of each profile is created or patched, the profile's status aggregated by its keeper
   (:mod:`nodeagent_status`); a deleted profile's file stays while a pod of this node uses it, then the file
   and the SPNS go, and the keeper removes the finalizer once no SPNS of an existing node is left.
"""
from __future__ import annotations

import glob
import os
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux_model
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.coalesce import Coalescer
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.metrics import AgentMetrics
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    PROFILE_KINDS, SPNS_CACHES, SPOD_NAME, AgentCache, unseen_change)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_keeper import FINALIZER, Keeper, unclaimed
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    RAW_KIND, SECCOMP_KIND, SELINUX_KIND, Key, Outcome, Planner, plan_gone)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_status import (
    COMPONENT, StatusWriter)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_writer import (
    SELINUX_POLL, NodeWriter, other_selinux_kind)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import settings as spod_settings
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RETRY_DELAY = 2.0  # s: a profile whose step failed is reconciled again this long after


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


def change_level(old: Optional[Mapping[str, Any]], new: Optional[Mapping[str, Any]]) -> Optional[bool]:
    """What a watch event of a profile asks of this agent.  True: reconcile on the node; False: only the status;
    None: nothing."""
    if old is None or new is None:
        return True
    if unseen_change(old, new):
        return True
    ofin, nfin = old["metadata"].get("finalizers") or [], new["metadata"].get("finalizers") or []
    if ofin != nfin:
        if (FINALIZER in ofin) != (FINALIZER in nfin) or ns.legacy_finalizers(nfin):
            return True
    if ns.keeper_of(old) != ns.keeper_of(new):
        return True  # this node's SPNS names the keeper
    if old.get("status") != new.get("status"):
        return False
    return None


def spread(node: str, keys: Iterable[Key]) -> List[Key]:
    """``keys`` in an order of ``node``'s own: agents that work through the same new profiles at the same time
    then write to different objects, instead of all queueing on the same one (the API server retries concurrent
    patches of one object)."""
    salt = node.encode("utf-8")
    return sorted(keys, key=lambda key: zlib.crc32(salt + "/".join(key).encode("utf-8")))


class NodeAgent(object):
    def __init__(self, kube: k.Kube, node: str, kubelet_dir: str = "/var/lib/kubelet",
                 selinux_dir: str = selinuxd.DEFAULT_DIR, selinuxd_socket: str = selinuxd.DEFAULT_SOCKET,
                 operator_namespace: str = "security-profiles-operator", window: float = 0.15, workers: int = 4,
                 log: Callable[[str], None] = lambda m: sys.stderr.write(m + "\n"), verbosity: int = 0,
                 shipped: Optional[List[Dict[str, Any]]] = None, namespace: Optional[str] = None,
                 selinux_compat: str = "auto", selinux_store: str = "/var/lib/selinux") -> None:
        self.kube = kube
        self.node = node
        self._log = log
        self.verbosity = verbosity
        self.metrics = AgentMetrics(lambda: float(kube.requests))
        self.queue = Coalescer(window)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent-api")
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.lock = threading.RLock()
        self.full: Set[Key] = set()
        self.batches = 0
        self.failures = 0
        handlers = {kind: self._profile_handler(kind) for kind in PROFILE_KINDS}
        handlers.update(spns=self._on_spns, spod=self._on_spod, pods=self._on_pod, nodes=self._on_node)
        self.cache = AgentCache(kube, node, namespace, operator_namespace, handlers, log=self.log, on_dirty=self.mark)
        self.writer = NodeWriter(kubelet_dir, selinux_dir, selinuxd_socket, selinux_compat, selinux_store, namespace,
                                 self.metrics, log=self.log, debug=self.debug)
        self.planner = Planner(load_shipped() if shipped is None else shipped, log=self.log,
                               file_exists=self.writer.has_file)
        self.keeper = Keeper(kube, node, self.cache, self.requeue, log=self.log, debug=self.debug)
        self.status = StatusWriter(kube, node, self.cache, log=self.log)

    @property
    def errors(self) -> int:
        return self.failures + self.planner.errors

    # ------------------------------------------------------------------ logging
    def log(self, message: str) -> None:
        self._log("%s %s: %s" % (time.strftime("%H:%M:%S"), COMPONENT, message))

    def debug(self, message: str) -> None:
        if self.verbosity > 0 or self.cache.settings.verbosity > 0:
            self.log(message)

    # ------------------------------------------------------------------ the queue
    def mark(self, keys: Iterable[Key], full: bool = True) -> None:
        """Queue profiles: ``full`` ones are reconciled on the node, the others only get their status
        re-aggregated."""
        keys = list(keys)
        if full and keys:
            with self.lock:
                self.full.update(keys)
        self.queue.add(keys)

    def requeue(self, key: Key, delay: float) -> None:
        with self.lock:
            self.full.add(key)
        self.queue.requeue(key, delay)

    # ------------------------------------------------------------------ watch handlers
    def _profile_handler(self, kind: str) -> k.Handler:
        def handler(event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
            level = change_level(old, new)
            if level is None:
                return
            if level and kind == SECCOMP_KIND and new is not None and old is not None \
                    and old.get("spec") != new.get("spec"):
                # profiles naming this one as their base compile differently now
                self.mark(self.cache.dependants(key[0], key[1]))
            self.mark([(kind, key[0], key[1])], full=level)
        return handler

    def _on_spns(self, event: str, key: Tuple[str, str], old: Any, new: Any) -> None:
        self.mark(self.cache.index_spns(key, old, new), full=False)

    def _on_spod(self, event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
        fresh = spod_settings(new)
        if self.cache.apply_spod(fresh):
            self.log("SPOD settings: enableSelinux=%s allowedSyscalls=%s allowedSeccompActions=%s verbosity=%d"
                     % (fresh.enable_selinux, "any" if fresh.allowed_syscalls is None else len(fresh.allowed_syscalls),
                        ",".join(fresh.bounded_actions),
                        fresh.verbosity))
            self.mark(self.cache.profile_keys())

    def _on_pod(self, event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
        self.mark(self.cache.index_pod(key, old, new))

    def _on_node(self, event: str, key: Tuple[str, str], old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
        if event == k.DELETED and self.ready.is_set():
            self.log("node %s is gone: removing its node statuses" % key[1])
            self.pool.submit(lambda: None if self.stop.is_set() else self.keeper.forget_node(key[1]))
            self.mark(self.cache.profile_keys())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for reflector in self.cache.reflectors.values():
            reflector.start()
        self.worker = threading.Thread(target=self.run, name="agent-reconcile", daemon=True)
        self.worker.start()

    def shutdown(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.queue.close()
        for reflector in self.cache.reflectors.values():
            reflector.stop.set()
        if getattr(self, "worker", None) is not None:
            self.worker.join(timeout)
        self.pool.shutdown(wait=True)

    def run(self) -> None:
        reflectors = self.cache.reflectors
        for reflector in reflectors.values():
            while not reflector.synced.wait(0.5):
                if self.stop.is_set():
                    return
        self.log("caches synced: %d seccomp, %d selinux, %d raw selinux profiles, %d node statuses of this node, "
                 "%d unsettled and %d settled kept ones of other nodes, %d pods using profiles, %d nodes"
                 % tuple(len(reflectors[n].store) for n in PROFILE_KINDS + SPNS_CACHES + ("pods", "nodes")))
        self.cache.apply_spod(spod_settings(reflectors["spod"].get((self.cache.operator_namespace, SPOD_NAME))))
        try:
            self.remove_orphans()
        except (OSError, SpoError) as exc:
            self.log("cannot clean up the node's files: %s" % exc)
        first = True
        keys: List[Any] = self.cache.profile_keys()
        while not self.stop.is_set():
            if not first:
                keys = self.queue.wait(1.0)
            if keys or first:
                try:
                    self.reconcile(keys, everything=first)
                except Exception as exc:  # pylint: disable=broad-except
                    self.failures += 1
                    self.log("batch failed: %s; retrying its profiles" % exc)
                    for key in keys:
                        self.requeue(key, RETRY_DELAY)
            if first:
                first = False
                self.ready.set()
                self.log("first sync done (%d profiles)" % len(keys))

    def remove_orphans(self) -> None:
        """Restart safety: remove the node's files that match no profile (and no pod's profile)."""
        reflectors = self.cache.reflectors
        policies = {selinux_model.policy_name(key[1], key[0]) for kind in (SELINUX_KIND, RAW_KIND)
                    for key in list(reflectors[kind].store)}
        self.writer.remove_orphans(set(reflectors[SECCOMP_KIND].store), policies,
                                   lambda key: bool(self.cache.users(key)))

    # ------------------------------------------------------------------ the batch
    def reconcile(self, keys: Iterable[Key], everything: bool = False) -> None:
        keys = sorted(set(keys))
        if not keys:
            return
        self.batches += 1
        started = time.monotonic()
        live = self.cache.live_nodes()
        with self.lock:
            full = keys if everything else [key for key in keys if key in self.full]
            self.full.difference_update(full)
        full_set = set(full)
        status_only = [key for key in keys if key not in full_set]
        if status_only:
            self._parallel(self.refresh_status, spread(self.node, status_only))
        snapshot = self.cache.snapshot()
        outcomes: Dict[Key, Outcome] = {}
        present: Dict[Key, Dict[str, Any]] = {}
        for key in full:
            obj = snapshot.get(*key)
            if obj is None:
                outcomes[key] = plan_gone(key, snapshot)
            else:
                present[key] = obj
        # 1. stale node finalizers / statuses
        if live:
            self._parallel(lambda key: self.keeper.cleanup_stale_nodes(key, present[key], live), list(present))
        # 2. the plan
        outcomes.update(self.planner.plan(snapshot, present))
        # 3. finalizers before anything is written
        failed = self.claim_all(outcomes, present, live)
        # 4. the node
        self.writer.write_seccomp({key: out for key, out in outcomes.items() if key[0] == SECCOMP_KIND},
                                  self.cache.file_owner)
        for key, out in outcomes.items():
            if key[0] == SECCOMP_KIND and key in present and key not in failed and (
                    (out.write and out.state == ns.INSTALLED) or (out.refused and out.reason == "InvalidProfile")):
                self.planner.record(key, present[key], out, snapshot)
        again = self.writer.write_selinux({key: out for key, out in outcomes.items() if key[0] != SECCOMP_KIND},
                                          snapshot.settings.enable_selinux)
        for key in again:
            self.requeue(key, SELINUX_POLL)
        for key in failed:
            self.requeue(key, RETRY_DELAY)
        # 5. node status, deletion, profile status
        deleted = {key: present[key] for key, out in outcomes.items() if out.delete and key in present}
        for key in self.finish_deleted(deleted, live):
            self.requeue(key, RETRY_DELAY)
        order = spread(self.node, (key for key in outcomes if key not in deleted))
        results = self._parallel(lambda key: self.finish(key, present.get(key), outcomes[key], live), order)
        for key, ok in zip(order, results):
            if not ok:
                self.requeue(key, RETRY_DELAY)
        self.debug("batch %d: %d profiles in %.3fs (%d API requests so far, RSS %.1f MB)"
                   % (self.batches, len(full), time.monotonic() - started, self.kube.requests, rss_mb()))

    def claim_all(self, outcomes: Dict[Key, Outcome], present: Mapping[Key, Dict[str, Any]],
                  live: Optional[Set[str]]) -> Set[Key]:
        """The shared finalizer on every profile to write; returns those it could not be added to (they are
        not written, Pending)."""
        need = spread(self.node, (key for key, out in outcomes.items() if out.need_finalizer and key in present
                                  and unclaimed(present[key], live)))
        failed = set()
        for key, ok in zip(need, self._parallel(lambda key: self.keeper.claim(key, present[key], live), need)):
            if not ok:
                failed.add(key)
        for key in failed:
            outcomes[key].write = False
            outcomes[key].state = ns.PENDING
        return failed

    def finish(self, key: Key, obj: Optional[Dict[str, Any]], out: Outcome, live: Optional[Set[str]]) -> Optional[bool]:
        """SPNS, deletion and the aggregated status of one profile (False: to try again)."""
        if obj is None or out.delete:
            self.planner.forget(key)
        if obj is None:  # gone
            self.keeper.forget(key)
            if out.remove_file:
                self.writer.remove_gone(key, self._file_shared(key))
            self.status.forget(key)
            return
        workloads = self.cache.users(key)
        if out.delete:
            return not self.finish_deleted({key: obj}, live)
        self.status.report(key, obj, out)
        self.status.write_spns(key, obj, out, workloads)
        self.status.update_status(key, out, workloads, live)

    def finish_deleted(self, items: Mapping[Key, Dict[str, Any]], live: Optional[Set[str]]) -> List[Key]:
        """Deleted profiles this node is done with (their files are gone): this node's SPNS of them deleted
        together, their shared finalizers released together (:meth:`Keeper.release_many`: one list per
        namespace, not one per profile).  Returns the profiles to try again."""
        if not items or self.stop.is_set():
            return list(items)
        for key in items:
            self.planner.forget(key)
            self.status.forget(key)
        try:
            self.status.delete_spns_many(spread(self.node, items))
            release = self.keeper.release_many(items, live)
        except k.KubeError as exc:
            self.failures += 1
            self.log("%d deleted profiles: %s" % (len(items), exc))
            return list(items)
        order = spread(self.node, release)
        results = self._parallel(lambda key: self.keeper.remove_finalizer(key, release[key], FINALIZER), order)
        return [key for key, ok in zip(order, results) if not ok]

    def _file_shared(self, key: Key) -> bool:
        if key[0] == SECCOMP_KIND:
            return self.cache.file_owner(key) is not None
        return self.cache.profile((other_selinux_kind(key[0]), key[1], key[2])) is not None

    def refresh_status(self, key: Key) -> None:
        """Re-aggregate the status from the node statuses (this node's as its SPNS says); for a deleted
        profile this node is done with, see whether the shared finalizer can go now."""
        obj = self.cache.profile(key)
        if obj is None:
            return
        if obj["metadata"].get("deletionTimestamp"):
            delay = self.keeper.release_delay(key, obj, self.cache.live_nodes())
            if delay is not None:
                self.requeue(key, delay)
            return
        mine = self.cache.node_spns(key).get(self.node)
        if mine is None:
            return
        out = Outcome(mine.status, mine.message)
        self.status.update_status(key, out, mine.workload_list(), self.cache.live_nodes())

    def _parallel(self, func: Callable[[Key], Any], keys: List[Key]) -> List[Any]:
        def guarded(key: Key) -> Any:
            if self.stop.is_set():  # stopping: requests not yet sent are left to the next start
                return False
            try:
                result = func(key)
                return True if result is None else result
            except Exception as exc:  # pylint: disable=broad-except
                self.failures += 1
                self.log("%s %s/%s: %s" % (key[0], key[1], key[2], exc))
                return False
        if len(keys) <= 1:
            return [guarded(key) for key in keys]
        return list(self.pool.map(guarded, keys))
