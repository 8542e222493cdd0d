# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The webhook server's in-memory view of the cluster: list+watch (``cluster.kube.Reflector``) of ProfileBindings,
ProfileRecordings, SeccompProfiles, SelinuxProfiles and Namespaces, indexed by namespace, so an admission request
is answered from memory and never waits for the API server.

Each object is slimmed to what the mutations read (name, namespace, labels, deletionTimestamp, spec of bindings and
recordings, the status fields ``status``, ``localhostProfile``, ``usage`` of profiles). :class:`StaticCache` holds
objects given up front (benchmarks, tests, running without a cluster).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import (
    DELETED, Kube, Reflector, core_path, custom_path)
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.admission import State

Obj = Dict[str, Any]
GROUP = api.GROUP
# kind -> (version, plural) of what the cache watches
KINDS = {k.kind: (k.version, k.plural) for k in (api.PROFILE_BINDING, api.PROFILE_RECORDING, api.SECCOMP_PROFILE,
                                                 api.SELINUX_PROFILE)}


def _meta(obj: Mapping[str, Any]) -> Obj:
    meta = obj.get("metadata") or {}
    return {k: meta[k] for k in ("name", "namespace", "labels", "deletionTimestamp", "uid") if k in meta}


def slim(kind: str, obj: Mapping[str, Any]) -> Obj:
    """What the mutations read of an object of ``kind``."""
    out: Obj = {"kind": kind, "metadata": _meta(obj)}
    if kind in ("ProfileBinding", "ProfileRecording"):
        out["spec"] = obj.get("spec") or {}
    elif kind == "Namespace":
        pass
    else:
        status = obj.get("status") or {}
        out["status"] = {k: status[k] for k in ("status", "localhostProfile", "usage") if k in status}
    return out


class Index(object):
    """Objects of one kind by namespace and name, kept current by a Reflector's handler."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lock = threading.Lock()
        self.by_ns: Dict[str, Dict[str, Obj]] = {}

    def handle(self, event: str, key: Tuple[str, str], _old: Optional[Obj], new: Optional[Obj]) -> None:
        namespace, name = key
        with self.lock:
            if event == DELETED or new is None:
                objs = self.by_ns.get(namespace)
                if objs is not None:
                    objs.pop(name, None)
                    if not objs:
                        del self.by_ns[namespace]
            else:
                self.by_ns.setdefault(namespace, {})[name] = new

    def in_namespace(self, namespace: str) -> List[Obj]:
        with self.lock:
            return list((self.by_ns.get(namespace) or {}).values())

    def get(self, namespace: str, name: str) -> Optional[Obj]:
        with self.lock:
            return (self.by_ns.get(namespace) or {}).get(name)

    def count(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.by_ns.values())

    def load(self, objs: Iterable[Mapping[str, Any]]) -> None:
        for obj in objs:
            meta = obj.get("metadata") or {}
            self.handle("ADDED", (meta.get("namespace") or "", meta.get("name") or ""), None, slim(self.kind, obj))


class StaticCache(object):
    """Indexes filled once from a list of objects (any of the kinds, and Namespaces)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]] = (), operator_namespace: str = "security-profiles-operator") -> None:
        self.operator_namespace = operator_namespace
        self.indexes = {kind: Index(kind) for kind in list(KINDS) + ["Namespace"]}
        for obj in objects:
            index = self.indexes.get(obj.get("kind", ""))
            if index is not None:
                index.load([obj])

    def synced(self) -> bool:
        return True

    def state(self) -> State:
        idx = self.indexes

        def labels(namespace: str) -> Optional[Mapping[str, str]]:
            obj = idx["Namespace"].get("", namespace)
            return None if obj is None else (obj["metadata"].get("labels") or {})

        return State(bindings=idx["ProfileBinding"].in_namespace, recordings=idx["ProfileRecording"].in_namespace,
                     profiles=lambda kind, ns, name: idx[kind].get(ns, name) if kind in idx else None,
                     namespace_labels=labels, operator_namespace=self.operator_namespace)

    def stats(self) -> Dict[str, int]:
        return {kind: index.count() for kind, index in self.indexes.items()}

    def stop(self) -> None:
        return None


class ClusterCache(StaticCache):
    """Indexes kept current by list+watch against the API server (CRDs not installed yet count as empty)."""

    def __init__(self, kube: Kube, operator_namespace: str, log: Callable[[str], None] = lambda m: None) -> None:
        super().__init__((), operator_namespace)
        self.reflectors: List[Reflector] = []
        for kind, (version, plural) in KINDS.items():
            self.reflectors.append(Reflector(kube, plural, custom_path(GROUP, version, plural),
                                             self.indexes[kind].handle, slim=_slimmer(kind), missing_ok=True, log=log))
        self.reflectors.append(Reflector(kube, "namespaces", core_path("namespaces"), self.indexes["Namespace"].handle,
                                         slim=_slimmer("Namespace"), log=log))

    def start(self) -> "ClusterCache":
        for reflector in self.reflectors:
            reflector.start()
        return self

    def synced(self) -> bool:
        return all(r.synced.is_set() for r in self.reflectors)

    def stop(self) -> None:
        for reflector in self.reflectors:
            reflector.stop.set()


def _slimmer(kind: str) -> Callable[[Obj], Obj]:
    return lambda obj: slim(kind, obj)
