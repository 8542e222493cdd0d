# -*- coding: utf-8 -*-
"""The node agent's status writes: this node's SPNS is written only when it differs, the profile's status is
aggregated by its keeper only, and a refused generation gets one Warning event.  The API calls are recorded
(the cluster suite sends them to a real API server)."""
from __future__ import annotations

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    AgentCache, slim_profile)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    SECCOMP_KIND, Outcome)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_status import StatusWriter
from seccomp_objects import allow, profile

KEY = (SECCOMP_KIND, "ns", "p")


class _Recorder(object):
    def __init__(self):
        self.calls = []
        self.version = 20

    def _stamp(self, obj):
        self.version += 1
        obj = dict(obj, metadata=dict(obj["metadata"], resourceVersion=str(self.version)))
        return obj

    def create(self, path, body):
        self.calls.append(("create", path))
        return self._stamp(body)

    def merge_patch(self, path, patch):
        self.calls.append(("patch", path))
        return None

    def warning_event(self, obj, reason, message, component, node):
        self.calls.append(("event", reason))


def _setup(keeper):
    doc = profile("p", syscalls=[allow("read")])
    doc["metadata"].update(uid="u-p", generation=1, resourceVersion="5", finalizers=[ns.CLEANUP_FINALIZER],
                           annotations={ns.ANNOTATION_KEEPER: keeper})
    obj = slim_profile(doc)
    cache = AgentCache(None, "vm")
    cache.reflectors[SECCOMP_KIND].store[("ns", "p")] = obj
    kube = _Recorder()
    return obj, cache, kube, StatusWriter(kube, "vm", cache)


def test_this_nodes_status_is_written_once_and_then_only_when_it_differs():
    obj, cache, kube, status = _setup("vm")
    status.write_spns(KEY, obj, Outcome(ns.INSTALLED), [])
    assert [c[0] for c in kube.calls] == ["create"] and cache.node_spns(KEY)["vm"].status == ns.INSTALLED
    status.write_spns(KEY, obj, Outcome(ns.INSTALLED), [])
    assert len(kube.calls) == 1  # the same: nothing sent
    status.write_spns(KEY, obj, Outcome(ns.INSTALLED), ["ns/web"])
    assert [c[0] for c in kube.calls] == ["create", "patch"]


def test_only_the_keeper_aggregates_the_profiles_status():
    obj, _cache, kube, status = _setup("b")
    status.update_status(KEY, Outcome(ns.INSTALLED), [], {"vm", "b"})
    assert kube.calls == []  # another node keeps it
    obj, _cache, kube, status = _setup("vm")
    status.update_status(KEY, Outcome(ns.INSTALLED), [], {"vm", "b"})
    assert kube.calls == [("patch", "/apis/security-profiles-operator.x-k8s.io/v1beta1/namespaces/ns/"
                                    "seccompprofiles/p/status")]


def test_one_warning_event_per_refused_generation():
    obj, _cache, kube, status = _setup("vm")
    refused = Outcome(ns.ERROR, "bad")
    refused.refused, refused.reason = True, "InvalidProfile"
    status.report(KEY, obj, refused)
    status.report(KEY, obj, refused)
    assert kube.calls == [("event", "InvalidProfile")]
    status.report(KEY, obj, Outcome(ns.INSTALLED))
    status.report(KEY, obj, refused)  # refused again after it was accepted
    assert len(kube.calls) == 2
