# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Delete every object of some custom kinds, cluster-wide, without ever hanging.

Objects are deleted, then waited for (their finalizers belong to controllers that are still running
and clean up after them); whatever still stands after the timeout has its finalizers removed, so an
undeploy always ends, and what was forced is reported.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Kube, KubeError

Ref = Tuple[str, str, str]  # kind, namespace, name


class CustomObjects(object):
    """The few calls cleanup needs: the kinds a group serves (discovery), list, delete, drop finalizers."""

    def __init__(self, kube: Kube, group: str) -> None:
        self._kube = kube
        self._resources: Dict[str, Tuple[str, bool]] = {}  # kind -> (collection path prefix, namespaced)
        try:
            versions = kube.get("/apis/%s" % group).get("versions", [])
        except KubeError as exc:
            if exc.status == 404:  # the group is not served (no CRDs): nothing to clean
                return
            raise
        for version in versions:
            base = "/apis/%s/%s" % (group, version["version"])
            for res in kube.get(base).get("resources", []):
                if "/" not in res["name"] and res["kind"] not in self._resources:
                    self._resources[res["kind"]] = ("%s/%s" % (base, res["name"]), res["namespaced"])

    def known(self, kind: str) -> bool:
        return kind in self._resources

    def _path(self, ref: Ref) -> str:
        kind, namespace, name = ref
        collection, namespaced = self._resources[kind]
        if namespaced:
            group_version, plural = collection.rsplit("/", 1)
            return "%s/namespaces/%s/%s/%s" % (group_version, namespace, plural, name)
        return "%s/%s" % (collection, name)

    def list(self, kind: str) -> List[Ref]:
        items = self._kube.list(self._resources[kind][0]).get("items", [])
        return [(kind, i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items]

    def delete(self, ref: Ref) -> None:
        self._kube.delete(self._path(ref))

    def drop_finalizers(self, ref: Ref) -> None:
        try:
            self._kube.merge_patch(self._path(ref), {"metadata": {"finalizers": None}})
        except KubeError as exc:
            if exc.status != 404:
                raise


def delete_all(api: Any, kinds: Sequence[str], timeout: float, check_mode: bool = False,
               sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Dict[str, Any]:
    """Delete every object of ``kinds`` in order; returns ``deleted`` and ``forced`` (finalizers removed)."""
    present = [k for k in kinds if api.known(k)]
    deleted: List[Ref] = []
    forced: List[Ref] = []
    for kind in present:
        refs = api.list(kind)
        if check_mode:
            deleted.extend(refs)
            continue
        for ref in refs:
            api.delete(ref)
        deleted.extend(refs)
        deadline = clock() + timeout
        remaining = api.list(kind)
        while remaining and clock() < deadline:
            sleep(1.0)
            remaining = api.list(kind)
        for ref in remaining:
            api.drop_finalizers(ref)
            forced.append(ref)
    return {"changed": bool(deleted), "deleted": _as_text(deleted), "forced": _as_text(forced)}


def _as_text(refs: Sequence[Ref]) -> List[str]:
    return ["%s %s/%s" % r if r[1] else "%s %s" % (r[0], r[2]) for r in refs]
