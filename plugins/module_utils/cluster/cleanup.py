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

Ref = Tuple[str, str, str]  # kind, namespace, name


class CustomObjects(object):
    """The few calls cleanup needs, over kubernetes' CustomObjectsApi and the discovery of a group."""

    def __init__(self, api_client: Any, group: str) -> None:
        from kubernetes import client  # imported here: module_utils stay importable without the client
        self._custom = client.CustomObjectsApi(api_client)
        self._group = group
        self._resources: Dict[str, Tuple[str, str, bool]] = {}
        for version_group in client.ApisApi(api_client).get_api_versions().groups:
            if version_group.name != group:
                continue
            for version in version_group.versions:
                listing = api_client.call_api("/apis/%s/%s" % (group, version.version), "GET",
                                              response_type="object", auth_settings=["BearerToken"],
                                              _return_http_data_only=True)
                for res in listing.get("resources", []):
                    if "/" not in res["name"] and res["kind"] not in self._resources:
                        self._resources[res["kind"]] = (version.version, res["name"], res["namespaced"])

    def known(self, kind: str) -> bool:
        return kind in self._resources

    def list(self, kind: str) -> List[Ref]:
        version, plural, _namespaced = self._resources[kind]
        items = self._custom.list_cluster_custom_object(self._group, version, plural).get("items", [])
        return [(kind, i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in items]

    def _call(self, ref: Ref, method: str, *args: Any) -> None:
        from kubernetes.client.rest import ApiException
        kind, namespace, name = ref
        version, plural, namespaced = self._resources[kind]
        try:
            if namespaced:
                getattr(self._custom, method + "_namespaced_custom_object")(self._group, version, namespace, plural, name, *args)
            else:
                getattr(self._custom, method + "_cluster_custom_object")(self._group, version, plural, name, *args)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def delete(self, ref: Ref) -> None:
        self._call(ref, "delete")

    def drop_finalizers(self, ref: Ref) -> None:
        self._call(ref, "patch", {"metadata": {"finalizers": None}})


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
