# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/webhook/bindingsync.py: the profilebinding role's one task, against an in-memory API server."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import KubeError
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import bindingsync

NS = "tenant"
BINDINGS = "/apis/%s/v1alpha1/namespaces/%s/profilebindings" % (api.GROUP, NS)
PROFILES = "/apis/%s/v1beta1/namespaces/%s/seccompprofiles" % (api.GROUP, NS)
IMAGE = "docker.io/library/busybox:1.36"


class Server(object):
    """Objects by path; every request is recorded as (verb, path)."""

    def __init__(self, objects: Dict[str, Any]) -> None:
        self.objects = copy.deepcopy(objects)
        self.requests: List[tuple] = []
        self.objects["/apis/%s/v1alpha1" % api.GROUP] = {"resources": [
            {"name": "profilebindings", "kind": "ProfileBinding", "namespaced": True},
            {"name": "profilebindings/status", "kind": "ProfileBinding", "namespaced": True}]}

    def get(self, path: str, query: Optional[Dict[str, Any]] = None) -> Any:
        self.requests.append(("get", path))
        if path not in self.objects:
            raise KubeError(404, "not found", "NotFound", "GET", path)
        return copy.deepcopy(self.objects[path])

    def list(self, path: str, query: Optional[Dict[str, Any]] = None) -> Any:
        self.requests.append(("list", path))
        return {"items": [copy.deepcopy(obj) for key, obj in sorted(self.objects.items())
                          if key.startswith(path + "/") and "/" not in key[len(path) + 1:]]}

    def merge_patch(self, path: str, body: Dict[str, Any]) -> Any:
        self.requests.append(("patch", path))
        obj = self.objects[path[:-len("/status")]]
        obj.setdefault("status", {}).update(body["status"])
        return copy.deepcopy(obj)


def binding(profile_name: str = "deny", image: str = IMAGE) -> Dict[str, Any]:
    return {"apiVersion": api.PROFILE_BINDING.api_version, "kind": "ProfileBinding",
            "metadata": {"name": "b", "namespace": NS, "resourceVersion": "1"},
            "spec": {"profileRef": {"kind": "SeccompProfile", "name": profile_name}, "image": image}}


def profile(state: str = "Installed") -> Dict[str, Any]:
    return {"apiVersion": api.SECCOMP_PROFILE.api_version, "kind": "SeccompProfile",
            "metadata": {"name": "deny", "namespace": NS}, "spec": {"defaultAction": "SCMP_ACT_ALLOW"},
            "status": {"status": state}}


def pod(name: str, localhost: Optional[str], phase: str = "Running") -> Dict[str, Any]:
    container: Dict[str, Any] = {"name": "c", "image": IMAGE}
    if localhost:
        container["securityContext"] = {"seccompProfile": {"type": "Localhost", "localhostProfile": localhost}}
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"containers": [container]}, "status": {"phase": phase}}


def world(**extra: Any) -> Dict[str, Any]:
    objects = {BINDINGS + "/b": binding(), "/api/v1/namespaces/" + NS: {"metadata": {"name": NS, "labels": {}}}}
    objects.update(extra)
    return objects


BOUND = "operator/%s/deny.json" % NS


def condition(obj: Dict[str, Any], ctype: str) -> Dict[str, Any]:
    return [c for c in obj["status"]["conditions"] if c["type"] == ctype][0]


@pytest.mark.parametrize("objects, ready, reason, active", [
    (world(), "False", "ProfileNotFound", []),
    ({**world(), PROFILES + "/deny": profile("Pending")}, "False", "ProfileNotInstalled", []),
    ({**world(), PROFILES + "/deny": profile(),
      "/api/v1/namespaces/%s/pods/run" % NS: pod("run", BOUND),
      "/api/v1/namespaces/%s/pods/done" % NS: pod("done", BOUND, "Succeeded"),
      "/api/v1/namespaces/%s/pods/other" % NS: pod("other", None)},
     "True", "ProfileInstalled", [NS + "/run"]),
])
def test_status_is_read_computed_and_written_in_one_call(objects, ready, reason, active):
    server = Server(objects)
    outcome = bindingsync.sync(server, binding())
    stored = server.objects[BINDINGS + "/b"]
    assert outcome["changed"] is True
    assert condition(stored, "Ready")["status"] == ready and condition(stored, "Ready")["reason"] == reason
    assert stored["status"]["activeWorkloads"] == active
    assert [verb for verb, _path in server.requests].count("patch") == 1


def test_an_unchanged_status_is_not_written_again():
    server = Server({**world(), PROFILES + "/deny": profile()})
    assert bindingsync.sync(server, binding())["changed"] is True
    server.requests.clear()
    assert bindingsync.sync(server, binding())["changed"] is False
    assert all(verb != "patch" for verb, _path in server.requests)


def test_check_mode_writes_nothing():
    server = Server({**world(), PROFILES + "/deny": profile()})
    outcome = bindingsync.sync(server, binding(), check_mode=True)
    assert outcome["changed"] is True and condition(outcome["result"], "Ready")["status"] == "True"
    assert "status" not in server.objects[BINDINGS + "/b"]
    assert all(verb != "patch" for verb, _path in server.requests)


@pytest.mark.parametrize("hostile", ["../../../api/v1/namespaces/kube-system/secrets/token", "a/b", "x?watch=1", "%2e%2e"])
def test_a_profile_name_from_the_tenant_names_no_other_resource(hostile):
    server = Server({**world(), "/api/v1/namespaces/kube-system/secrets/token": {"data": "secret"}})
    outcome = bindingsync.sync(server, binding(profile_name=hostile))
    read = [path for verb, path in server.requests if verb == "get" and path.startswith(PROFILES)]
    assert len(read) == 1 and "/" not in read[0][len(PROFILES) + 1:] and "?" not in read[0]
    assert ("get", "/api/v1/namespaces/kube-system/secrets/token") not in server.requests
    assert condition(server.objects[BINDINGS + "/b"], "Ready")["reason"] == "ProfileNotFound"
    assert outcome["status"]["activeWorkloads"] == []


def test_an_api_error_names_the_binding():
    class Refusing(Server):
        def list(self, path, query=None):
            raise KubeError(403, "pods is forbidden", "Forbidden", "GET", path)
    with pytest.raises(SpoError) as err:
        bindingsync.sync(Refusing(world()), binding())
    assert "ProfileBinding %s/b" % NS in str(err.value) and "pods is forbidden" in str(err.value)
