# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the API server serves a kind: its plural and scope, found by discovery of its group/version."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Kube, KubeError, custom_path


@dataclass
class Resource:
    """Where a kind is served: its plural and scope."""
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    has_status: bool = False

    def path(self, namespace: Optional[str] = None, name: Optional[str] = None, subresource: Optional[str] = None) -> str:
        if self.group:
            return custom_path(self.group, self.version, self.plural, namespace if self.namespaced else None, name, subresource)
        path = "/api/%s" % self.version
        if namespace and self.namespaced:
            path += "/namespaces/" + quote(namespace, safe="")
        path += "/" + self.plural
        if name:
            path += "/" + quote(name, safe="") + ("/" + subresource if subresource else "")
        return path


def discover(kube: Kube, group: str, version: str, kind: str) -> Resource:
    """The resource serving ``kind`` in ``group/version`` (KubeError 404 when it is not served)."""
    path = "/apis/%s/%s" % (group, version) if group else "/api/%s" % version
    listing = kube.get(path)
    resources = listing.get("resources") or []
    names = set(res.get("name", "") for res in resources)
    for res in resources:
        if res.get("kind") == kind and "/" not in res.get("name", ""):
            return Resource(group, version, kind, res["name"], bool(res.get("namespaced")), res["name"] + "/status" in names)
    raise KubeError(404, "%s does not serve kind %s" % (path, kind), "NotFound", "GET", path)
