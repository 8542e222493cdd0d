# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One controller per watch: list+watch the kind, queue changed objects, reconcile them with Ansible.

Events pass upstream's predicates: an object is queued when it appears, when its
``metadata.generation`` changes (or it has none), when it starts being deleted, and, with
``watchAnnotationsChanges``, when its annotations change; status-only updates (including the
runner's own) queue nothing.  ``selector`` narrows the list+watch.  ``WATCH_NAMESPACE``
(comma-separated) limits the namespaces.

Reconciling one object follows upstream's AnsibleOperatorReconciler:
read it (gone: done); the period is the watch's ``reconcilePeriod`` or the command's default,
or the object's ``ansible.sdk.operatorframework.io/reconcile-period`` annotation; add the
watch's finalizer before the first run (a deleted object without it is left alone); mark
``Running``; run the role (the finalizer's role/playbook/vars when the object is being
deleted); read the object again; after a successful finalizer run remove the finalizer; write
the final conditions; a failed run is retried with exponential back-off, a good one again after
the period.  Status writes are merge patches of ``status.conditions`` guarded by the object's
``resourceVersion``: every other status key a role wrote stays.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import (
    ADDED, DELETED, Kube, KubeError, Reflector, is_conflict, is_not_found)
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import status as cond
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.resource import Resource, discover
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.runner import AnsibleRunner, RunResult
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.vars import extra_vars
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.watches import Watch, parse_duration
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.workqueue import WorkQueue

LOG = logging.getLogger("spo-operator")


def log_info(message: str) -> None:
    """The default log of controllers: the ``spo-operator`` logger."""
    LOG.info("%s", message)


RECONCILE_PERIOD_ANNOTATION = "ansible.sdk.operatorframework.io/reconcile-period"
VERBOSITY_ANNOTATION = "ansible.sdk.operatorframework.io/verbosity"
DEFAULT_RECONCILE_PERIOD = 10 * 3600.0
FINALIZER_RETRY = 5.0

Key = Tuple[str, str]


def _meta(obj: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    return (obj or {}).get("metadata") or {}


def should_enqueue(kind: str, old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]], annotations: bool) -> bool:
    """Upstream's predicates: generation changed or none, deletion started, annotations (if watched)."""
    if kind in (ADDED, DELETED) or old is None or new is None:
        return True
    before, after = _meta(old), _meta(new)
    if "generation" not in after or before.get("generation") != after.get("generation"):
        return True
    if after.get("deletionTimestamp") and not before.get("deletionTimestamp"):
        return True
    return annotations and (before.get("annotations") or {}) != (after.get("annotations") or {})


def _slim(obj: Dict[str, Any]) -> Dict[str, Any]:
    meta = _meta(obj)
    return {"metadata": {k: meta[k] for k in ("name", "namespace", "generation", "deletionTimestamp", "annotations")
                         if k in meta}}


class Controller(object):
    """list+watch + work queue + workers for one :class:`Watch`."""

    def __init__(self, kube: Kube, watch: Watch, runner: AnsibleRunner, namespaces: Optional[List[str]] = None,
                 default_period: float = DEFAULT_RECONCILE_PERIOD, envvars: Optional[Dict[str, str]] = None,
                 log: Callable[[str], None] = log_info, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.kube = kube
        self.watch = watch
        self.runner = runner
        self.namespaces = [n for n in (namespaces or []) if n]
        self.period = watch.reconcile_period or default_period
        self.log = log
        self.queue = WorkQueue(base_delay, max_delay)
        self.resource: Optional[Resource] = None
        self.reflectors: List[Reflector] = []
        self.workers: List[threading.Thread] = []
        self.stopping = threading.Event()
        self.reconciles = 0
        self.last_run_seconds = 0.0

    @property
    def name(self) -> str:
        return "%s.%s" % (self.watch.gvk.kind.lower(), self.watch.gvk.group or "core")

    # ------------------------------------------------------------------ start/stop
    def start(self) -> None:
        gvk = self.watch.gvk
        while not self.stopping.is_set():
            try:
                self.resource = discover(self.kube, gvk.group, gvk.version, gvk.kind)
                break
            except KubeError as exc:
                self.log("%s: cannot find the resource of %s (%s); retrying in 10s" % (self.name, gvk, exc.message or exc))
                self.stopping.wait(10)
        if self.resource is None:
            return
        query = {"labelSelector": self.watch.selector} if self.watch.selector else None
        scopes = self.namespaces if (self.resource.namespaced and self.namespaces) else [None]
        for ns in scopes:
            reflector = Reflector(self.kube, "%s%s" % (self.name, "@" + ns if ns else ""), self.resource.path(ns),
                                  self._on_event, query=query, slim=_slim, missing_ok=True,
                                  log=self.log)
            self.reflectors.append(reflector.start())
        for i in range(max(1, self.watch.max_concurrent_reconciles)):
            thread = threading.Thread(target=self._worker, name="%s-worker-%d" % (self.name, i), daemon=True)
            thread.start()
            self.workers.append(thread)
        count = len(self.workers)
        self.log("%s: watching %s (%s, %d worker%s)" % (
            self.name, self.resource.path(), self.watch.path, count, "" if count == 1 else "s"))

    def synced(self) -> bool:
        return bool(self.reflectors) and all(r.synced.is_set() for r in self.reflectors)

    def begin_stop(self) -> None:
        """Stop watching and handing out work; running reconciles go on."""
        self.stopping.set()
        for reflector in self.reflectors:
            reflector.stop.set()
        self.queue.shutdown()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop watching, let running reconciles finish for up to ``timeout`` s, then cancel them."""
        self.begin_stop()
        deadline = time.monotonic() + timeout
        for thread in self.workers:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.workers):
            self.runner.cancel.set()
            for thread in self.workers:
                thread.join(10)
        return not any(t.is_alive() for t in self.workers)

    # ------------------------------------------------------------------ events
    def _on_event(self, kind: str, key: Key, old: Optional[Dict[str, Any]], new: Optional[Dict[str, Any]]) -> None:
        if should_enqueue(kind, old, new, self.watch.watch_annotations_changes):
            self.queue.add(key)

    def _worker(self) -> None:
        while not self.stopping.is_set():
            key = self.queue.get()
            if key is None:
                return
            try:
                requeue, failed = self.reconcile(key)
            except Exception as exc:  # pylint: disable=broad-except
                self.log("%s %s/%s: reconcile error: %s" % (self.name, key[0], key[1], exc))
                requeue, failed = None, True
            finally:
                self.queue.done(key)
            if self.stopping.is_set():
                return
            if failed:
                delay = self.queue.add_rate_limited(key)
                self.log("%s %s/%s: requeued in %.3gs (failure %d)" % (self.name, key[0], key[1], delay, self.queue.failures(key)))
            else:
                self.queue.forget(key)
                if requeue:
                    self.queue.add_after(key, requeue)

    # ------------------------------------------------------------------ reconcile
    def _resource(self) -> Resource:
        if self.resource is None:
            raise RuntimeError("%s: not started" % self.name)
        return self.resource

    def _get(self, key: Key) -> Optional[Dict[str, Any]]:
        resource = self._resource()
        try:
            return self.kube.get(resource.path(key[0] or None, key[1]))
        except KubeError as exc:
            if is_not_found(exc):
                return None
            raise

    def _set_conditions(self, key: Key, compute: Callable[[Dict[str, Any]], List[Dict[str, Any]]]) -> None:
        """Merge-patch freshly computed conditions into the status (other keys untouched); retry conflicts."""
        resource = self._resource()
        for attempt in range(5):
            obj = self._get(key)
            if obj is None:
                return
            current = obj.get("status") if isinstance(obj.get("status"), dict) else {}
            conditions = compute(current)
            if current.get("conditions") == conditions:
                return
            body = {"metadata": {"resourceVersion": _meta(obj).get("resourceVersion")}, "status": {"conditions": conditions}}
            try:
                self.kube.merge_patch(resource.path(key[0] or None, key[1], "status"), body)
                return
            except KubeError as exc:
                if is_not_found(exc):
                    return
                if not is_conflict(exc) or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _set_finalizers(self, obj: Dict[str, Any], finalizers: List[str]) -> None:
        resource = self._resource()
        meta = _meta(obj)
        body = {"metadata": {"resourceVersion": meta.get("resourceVersion"), "finalizers": finalizers}}
        self.kube.merge_patch(resource.path(meta.get("namespace") or None, meta.get("name")), body)

    def period_of(self, obj: Dict[str, Any]) -> float:
        """The object's reconcile period (annotation first); ValueError for a bad annotation."""
        annotation = (_meta(obj).get("annotations") or {}).get(RECONCILE_PERIOD_ANNOTATION)
        if annotation is None:
            return self.period
        return parse_duration(annotation)

    def reconcile(self, key: Key) -> Tuple[Optional[float], bool]:
        """Reconcile one object: (requeue after seconds or None, failed)."""
        watch = self.watch
        where = "%s %s/%s" % (self.name, key[0], key[1]) if key[0] else "%s %s" % (self.name, key[1])
        obj = self._get(key)
        if obj is None:
            return None, False
        try:
            requeue = self.period_of(obj)
        except ValueError as exc:
            message = "Unable to parse reconcile period annotation: %s" % exc
            self.log("%s: %s" % (where, message))
            self._set_conditions(key, lambda st: cond.error(st, message))
            return None, True
        meta = _meta(obj)
        deleted = bool(meta.get("deletionTimestamp"))
        finalizer = watch.finalizer.name if watch.finalizer else None
        finalizers = list(meta.get("finalizers") or [])
        if finalizer is None or finalizer not in finalizers:
            if deleted:
                self.log("%s: being deleted and not ours to finalize; skipped" % where)
                return None, False
            if finalizer is not None:
                self._set_finalizers(obj, finalizers + [finalizer])
                self.log("%s: finalizer %s added" % (where, finalizer))
        if not isinstance(obj.get("spec"), dict):
            obj["spec"] = {}
        if watch.manage_status:
            self._set_conditions(key, cond.running)
        finalizer_run = deleted and finalizer is not None
        fin = watch.finalizer if finalizer_run else None
        role, playbook = watch.role, watch.playbook
        if fin is not None and (fin.role or fin.playbook):
            role, playbook = fin.role, fin.playbook
        params = extra_vars(obj, watch.gvk.group, watch.gvk.kind, watch.snake_case_parameters, watch.mark_unsafe,
                            watch.vars, fin.vars if fin is not None else None)
        verbosity = watch.ansible_verbosity
        try:
            verbosity = int((meta.get("annotations") or {}).get(VERBOSITY_ANNOTATION, verbosity))
        except ValueError:
            pass
        ident = "%s-%s-%s" % (watch.gvk.kind.lower(), key[1], uuid.uuid4().hex[:8])
        self.log("%s: %s %s" % (where, "running finalizer" if finalizer_run else "reconciling", role or playbook))
        run = self.runner.run(ident, params, role=role, playbook=playbook, verbosity=verbosity)
        self.reconciles += 1
        self.last_run_seconds = run.seconds
        self._log_run(where, run)
        if not run.stats_seen:
            return None, True
        if run.requeue_after:
            requeue = run.requeue_after
        obj = self._get(key)
        if obj is None:
            return None, False
        if finalizer_run and run.successful:
            remaining = [f for f in (_meta(obj).get("finalizers") or []) if f != finalizer]
            try:
                self._set_finalizers(obj, remaining)
                self.log("%s: finalizer %s removed" % (where, finalizer))
            except KubeError as exc:
                if is_not_found(exc):
                    return None, False
                raise
        elif _meta(obj).get("deletionTimestamp") and finalizer is not None:
            requeue = FINALIZER_RETRY  # deleted while the role ran: the finalizer must run
        if watch.manage_status:
            self._set_conditions(key, lambda st: cond.done(st, run.result, run.failure_messages))
        return (requeue if requeue and requeue > 0 else None), not run.successful

    def _log_run(self, where: str, run: RunResult) -> None:
        r = run.result
        self.log("%s: ansible %s in %.2fs (ok=%d changed=%d skipped=%d failures=%d)%s" % (
            where, "succeeded" if run.successful else "failed", run.seconds, r.ok, r.changed, r.skipped, r.failures,
            "" if run.successful else ": " + "; ".join(run.failure_messages or ["no playbook_on_stats event"])))
        if not run.stats_seen and run.stdout:
            self.log("%s: ansible output:\n%s" % (where, run.stdout[-4000:]))
