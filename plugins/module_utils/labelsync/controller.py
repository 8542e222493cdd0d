# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The label sync controller's API plumbing: list+watch, debounce, server-side apply, events.

* Namespaces (optionally narrowed by a label selector) are list+watched with their managedFields
  (label ownership).  Source ``workloads``: every workload kind of ``workloads.RESOURCES`` is
  list+watched in all namespaces; each object is judged once when it changes and only its summary
  (with a workload's pod template) is cached; a template is judged as the API server admits it, by a
  server-side dry run (``dryrun``: cached per template, capped per namespace, rate-limited).  Source
  ``scc`` (OpenShift): SCCs, service accounts, Roles, ClusterRoles, RoleBindings and
  ClusterRoleBindings are list+watched instead.  ``auto`` picks ``scc`` when the API serves
  ``securitycontextconstraints`` (group security.openshift.io), else ``workloads``.
* A change marks its namespace dirty (an SCC, ClusterRole or ClusterRoleBinding change marks every
  namespace, a Role or RoleBinding its own; bindings that name no service account or service
  account group are not even cached); a dirty
  namespace is synced as soon as the worker is free (``window`` 0, the default: the changes that
  arrive while it syncs make the next batch; a positive ``window`` waits that long after the first
  change, :class:`Coalescer`), and only once every cache has listed (no decision from half a picture);
  the namespaces of one batch are synced by ``WORKERS`` threads (never one namespace twice at once).
  OpenShift's namespace-create sequence (namespace, then its uid-range annotation, then its service
  accounts) is several events: a fixed wait after each made us 3-4 windows slower than its syncer.
* A namespace is synced by one server-side apply with field manager ``spo-label-sync`` (not forced
  unless adopting OpenShift's labels, see ``namespaces``); a 409 means another manager took a label
  meanwhile: it is left to them.  An Event (type Normal, reason ``PodSecurityLevelChanged``) is
  recorded on the namespace when its computed level changes.
"""
from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.coalesce import Coalescer
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import dryrun
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import namespaces as nsmod
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import scc as sccmod
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import workloads as wl
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import LATEST, parse_version

SOURCES = ("auto", "workloads", "scc")
COMPONENT = "spo-label-sync"
EVENT_REASON = "PodSecurityLevelChanged"
RBAC = "/apis/rbac.authorization.k8s.io/v1/"
WORKERS = 4  # namespaces of one batch synced at once (API round trips: dry runs, applies, events)


def _stderr(message: str) -> None:
    sys.stderr.write(message + "\n")


def _rules(obj: Dict[str, Any]) -> List[Any]:
    return obj.get("rules") or []


def scc_served(client: k.Kube) -> bool:
    """Whether the API serves OpenShift's SecurityContextConstraints."""
    try:
        group = client.get("/apis/security.openshift.io/v1")
    except k.KubeError as exc:
        if exc.status == 404:
            return False
        raise
    return any(r.get("name") == "securitycontextconstraints" for r in (group or {}).get("resources") or [])


def _slim_namespace(obj: Dict[str, Any]) -> Dict[str, Any]:
    meta = obj.get("metadata") or {}
    keep = k.slim_metadata(meta, ("name", "uid", "resourceVersion", "labels", "annotations", "managedFields",
                                  "deletionTimestamp"))
    for entry in keep.get("managedFields") or []:  # keep only label ownership
        fields = entry.get("fieldsV1") or {}
        labels = ((fields.get("f:metadata") or {}).get("f:labels")) if isinstance(fields, dict) else None
        entry["fieldsV1"] = {"f:metadata": {"f:labels": labels}} if labels else {}
        for extra in ("time", "apiVersion", "fieldsType"):
            entry.pop(extra, None)
    keep["managedFields"] = [e for e in keep.get("managedFields") or [] if e.get("fieldsV1")]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": keep,
            "status": {"phase": (obj.get("status") or {}).get("phase")}}


class LabelSync(object):
    """The controller.  ``run()`` blocks until ``stop`` is set."""

    def __init__(self, client: k.Kube, source: str = "auto", report_only: bool = False, version: str = LATEST,
                 namespace_selector: Optional[str] = None, window: float = 0.0,
                 log: Callable[[str], None] = _stderr, verbose: bool = False, dry_run: bool = True,
                 dry_run_cap: int = 32) -> None:
        if source not in SOURCES:
            raise SpoError("must be one of %s, got %r" % (", ".join(SOURCES), source), field="source")
        parse_version(version)
        self.kube = client
        self.requested_source = source
        self.source = source
        self.report_only = report_only
        self.version = version
        self.selector = namespace_selector or None
        self.log = log
        self.verbose = verbose
        self.queue = Coalescer(window)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.by_namespace: Dict[str, Dict[Tuple[str, str], wl.Summary]] = {}
        self.service_accounts: Dict[str, Set[str]] = {}
        self.reflectors: List[k.Reflector] = []
        self.namespaces: Optional[k.Reflector] = None
        self.emitted: Dict[str, str] = {}
        self.applied = 0
        self.events = 0
        self.errors = 0
        self.synced_at: Optional[float] = None
        self.dry_run = dry_run
        self.dry_run_cap = dry_run_cap
        self.judge: Optional[dryrun.DryRunJudge] = None

    # ------------------------------------------------------------------ caches
    def _reflector(self, name: str, path: str, handler: k.Handler, slim: Callable[[Dict[str, Any]], Any],
                   query: Optional[Dict[str, Any]] = None, missing_ok: bool = False) -> k.Reflector:
        reflector = k.Reflector(self.kube, name, path, handler, query=query, slim=slim, missing_ok=missing_ok,
                                log=self.log)
        self.reflectors.append(reflector)
        return reflector

    def _on_namespace(self, _kind: str, key: Tuple[str, str], old: Any, new: Any) -> None:
        if new is None:
            with self.lock:
                self.by_namespace.pop(key[1], None)
                self.emitted.pop(key[1], None)
            if self.judge is not None:
                self.judge.forget(key[1])
            return
        self.queue.add([key[1]])

    def _workload_handler(self, kind: str) -> k.Handler:
        def handler(_event: str, key: Tuple[str, str], old: Any, new: Any) -> None:
            namespace, name = key
            with self.lock:
                bucket = self.by_namespace.setdefault(namespace, {})
                if new is None:
                    bucket.pop((kind, name), None)
                else:
                    bucket[(kind, name)] = new
            if old != new:
                self.queue.add([namespace])
        return handler

    def _workload_slim(self, kind: str) -> Callable[[Dict[str, Any]], Optional[wl.Summary]]:
        def slim(obj: Dict[str, Any]) -> Optional[wl.Summary]:
            return wl.summarize(kind, obj, self.version)
        return slim

    def _on_sa(self, _kind: str, key: Tuple[str, str], old: Any, new: Any) -> None:
        namespace, name = key
        with self.lock:
            names = self.service_accounts.setdefault(namespace, set())
            if new is None:
                names.discard(name)
            else:
                names.add(name)
        if (old is None) != (new is None):
            self.queue.add([namespace])

    def _on_cluster_change(self, _kind: str, key: Tuple[str, str], old: Any, new: Any) -> None:
        """An SCC or RBAC object changed: a namespaced one (Role, RoleBinding) matters to its namespace only,
        a cluster-wide one to every namespace."""
        if old == new or self.namespaces is None or not self.namespaces.synced.is_set():
            return
        if key[0]:
            self.queue.add([key[0]])
        else:
            self.queue.add([name for _ns, name in list(self.namespaces.store)])

    def build(self) -> None:
        """Decide the source and create the caches (not started)."""
        if self.requested_source == "auto":
            self.source = "scc" if scc_served(self.kube) else "workloads"
        query = {"labelSelector": self.selector} if self.selector else None
        self.namespaces = self._reflector("namespaces", k.core_path("namespaces"), self._on_namespace,
                                          _slim_namespace, query)
        if self.source == "workloads":
            if self.dry_run:
                self.judge = dryrun.DryRunJudge(self._dry_run_create, self.version, per_namespace=self.dry_run_cap)
            for resource in wl.RESOURCES:
                self._reflector(resource.kind, resource.path, self._workload_handler(resource.kind),
                                self._workload_slim(resource.kind))
            return
        self.sccs = self._reflector("sccs", sccmod.SCC_PATH, self._on_cluster_change,
                                    lambda o: {"metadata": {"name": o["metadata"]["name"]},
                                               **{f: o.get(f) for f in _SCC_FIELDS if f in o}})
        self.sas = self._reflector("serviceaccounts", k.core_path("serviceaccounts"), self._on_sa,
                                   lambda o: True)
        self.roles = self._reflector("roles", RBAC + "roles", self._on_cluster_change, _rules)
        self.clusterroles = self._reflector("clusterroles", RBAC + "clusterroles", self._on_cluster_change, _rules)
        self.rolebindings = self._reflector("rolebindings", RBAC + "rolebindings", self._on_cluster_change,
                                            sccmod.binding_of)
        self.clusterrolebindings = self._reflector("clusterrolebindings", RBAC + "clusterrolebindings",
                                                   self._on_cluster_change, sccmod.binding_of)

    # ------------------------------------------------------------------ decisions
    def level_of(self, ns: Dict[str, Any]) -> Optional[Tuple[str, str]]:
        """(level, reason) for a namespace object; None: no decision now."""
        name = (ns.get("metadata") or {}).get("name") or ""
        if self.source == "workloads":
            with self.lock:
                summaries = list((self.by_namespace.get(name) or {}).values())
            if self.judge is not None:
                summaries = self._as_admitted(name, ns, summaries)
            level, needing = wl.namespace_level(summaries)
            if not needing:
                return level, "no workload needs more than restricted (%d judged)" % len(summaries)
            more = " and %d more" % (len(needing) - 1) if len(needing) > 1 else ""
            return level, needing[0].describe() + more
        with self.lock:
            sas = sorted(self.service_accounts.get(name) or ())
        role_rules = {("%s/%s" % key): rules for key, rules in
                      list(self.roles.store.items()) + list(self.clusterroles.store.items())}
        bindings = [b for b in list(self.rolebindings.store.values()) + list(self.clusterrolebindings.store.values())
                    if b]
        return sccmod.namespace_level(ns, sas, self.sccs.items(), role_rules, bindings)

    def _dry_run_create(self, namespace: str, pod: Dict[str, Any]) -> Dict[str, Any]:
        return self.kube.create(k.core_path("pods", namespace), pod, {"dryRun": "All", "fieldManager": COMPONENT})

    def _as_admitted(self, name: str, ns: Dict[str, Any], summaries: List[wl.Summary]) -> List[wl.Summary]:
        """The summaries with each pod template judged as the API server admits it (raises Throttled)."""
        if self.judge is None:
            return summaries
        enforce = ((ns.get("metadata") or {}).get("labels") or {}).get(nsmod.PREFIX + "enforce", "")
        in_use = {s.template_key for s in summaries if s.template is not None}
        out = []
        for summary in summaries:
            if summary.template is None:
                out.append(summary)
                continue
            judged = self.judge.judge(name, summary.template, (summary.level, summary.why), enforce, in_use)
            out.append(summary._replace(level=judged.level, why=judged.why))
        return out

    def sync(self, name: str) -> None:
        if self.namespaces is None:
            raise RuntimeError("build() first")
        ns = self.namespaces.get(("", name))
        if ns is None:
            return
        is_managed, why = nsmod.managed(ns)
        if not is_managed:
            if self.verbose:
                self.log("namespace %s: not managed (%s)" % (name, why))
            return
        try:
            found = self.level_of(ns)
        except dryrun.Throttled as exc:
            self.queue.requeue(name, exc.delay)
            return
        except SpoError as exc:
            self.log("namespace %s: no level: %s" % (name, exc))
            return
        if found is None:
            if self.verbose:
                self.log("namespace %s: no decision yet (no service accounts or uid range)" % name)
            return
        level, reason = found
        result = nsmod.plan(ns, level, reason, self.version, self.report_only)
        if result.body is None:
            return
        try:
            applied = self.kube.apply(k.core_path("namespaces", name=name), result.body, nsmod.FIELD_MANAGER,
                                      force=result.force)
        except k.KubeError as exc:
            if exc.status == 409:
                self.log("namespace %s: another field manager took a label meanwhile; left to it: %s"
                         % (name, exc.message))
                return
            if exc.status == 404:
                return
            raise
        with self.lock:
            self.applied += 1
        if applied:  # newer than the watch may be: decide the next time from what the server said
            with self.namespaces.lock:
                self.namespaces.store[("", name)] = _slim_namespace(applied)
        self.log("namespace %s: %s%s (%s)" % (name, level, " (report only)" if self.report_only else "", reason))
        if (result.minimum_changed or result.changes) and self.emitted.get(name) != level:
            self.emitted[name] = level
            self._event(ns, name, nsmod.event_message(name, level, reason, result, self.report_only))

    def _event(self, ns: Dict[str, Any], name: str, message: str) -> None:
        meta = ns.get("metadata") or {}
        involved = {"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": name, "namespace": name, "uid": meta.get("uid")}}
        try:
            self.kube.warning_event(involved, EVENT_REASON, message, COMPONENT, event_type="Normal")
            with self.lock:
                self.events += 1
        except k.KubeError as exc:
            self.log("namespace %s: event not recorded: %s" % (name, exc))

    # ------------------------------------------------------------------ loop
    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors)

    def start(self) -> None:
        if not self.reflectors:
            self.build()
        for reflector in self.reflectors:
            reflector.start()

    def run(self) -> None:
        self.start()
        self.log("label sync: source %s%s, version %s, namespaces %s" % (
            self.source, ", report only" if self.report_only else "", self.version, self.selector or "all"))
        while not self.stop.is_set() and not self.synced():
            self.stop.wait(0.05)
        self.synced_at = time.monotonic()
        if self.namespaces is None:
            return
        self.queue.add([name for _ns, name in list(self.namespaces.store)])
        with ThreadPoolExecutor(WORKERS, thread_name_prefix="label-sync") as pool:
            while not self.stop.is_set():
                batch = [str(name) for name in self.queue.wait(timeout=0.5)]
                if len(batch) == 1:
                    self._sync_or_retry(batch[0])
                elif batch:  # distinct namespaces, in parallel; the next batch once all are done
                    list(pool.map(self._sync_or_retry, batch))

    def _sync_or_retry(self, name: str) -> None:
        if self.stop.is_set():
            return
        try:
            self.sync(name)
        except Exception as exc:  # pylint: disable=broad-except
            with self.lock:
                self.errors += 1
                errors = self.errors
            self.log("namespace %s: %s; retrying" % (name, exc))
            self.queue.requeue(name, min(30.0, 1.0 + errors))

    def shutdown(self) -> None:
        self.stop.set()
        self.queue.close()
        for reflector in self.reflectors:
            reflector.stop.set()


_SCC_FIELDS = ("allowHostDirVolumePlugin", "allowHostIPC", "allowHostNetwork", "allowHostPID", "allowHostPorts",
               "allowPrivilegeEscalation", "allowPrivilegedContainer", "allowedCapabilities",
               "requiredDropCapabilities", "allowedUnsafeSysctls", "volumes", "seLinuxContext", "seccompProfiles",
               "runAsUser", "users", "groups")
