# -*- coding: utf-8 -*-
"""The node agent's cache: what API responses put in it, the SPNS and pod indexes beside the stores, the
snapshot the planner reads.  The stores are filled by hand, as the watches would (no API server)."""
from __future__ import annotations

import copy

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import change_level
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    SPNS_CACHES, AgentCache, SpnsEntry, slim_profile)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import SECCOMP_KIND
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import slim_pod
from seccomp_objects import allow, profile


def _cache(objs=()):
    dirty = []
    cache = AgentCache(None, "vm", on_dirty=lambda keys, full: dirty.append((list(keys), full)))
    for obj in objs:
        cache.reflectors[SECCOMP_KIND].store[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
    return cache, dirty


def _profile(name, rv="10", **spec):
    doc = profile(name, syscalls=[allow("read")], **spec)
    doc["metadata"].update(uid="u-" + name, generation=1, resourceVersion=rv)
    return slim_profile(doc)


def test_a_deletion_first_seen_in_an_api_response_is_reconciled():
    """A status patch's response can show the deletion before the watch does; the watch event then finds
    that version cached and reports nothing, so the cache update itself must queue the profile (a bench
    run of 20 agents left profiles Terminating for ever on a node finalizer before this)."""
    doc = _profile("p")
    cache, dirty = _cache([doc])
    key = (SECCOMP_KIND, "ns", "p")
    status_only = copy.deepcopy(doc)
    status_only["metadata"]["resourceVersion"] = "11"
    status_only["status"] = {"status": "Installed"}
    cache.remember(key, status_only)
    assert dirty == []  # only the status changed: nothing to do on the node
    deleting = copy.deepcopy(status_only)
    deleting["metadata"]["resourceVersion"] = "12"
    deleting["metadata"]["deletionTimestamp"] = "2026-12-01T09:16:02Z"
    cache.remember(key, deleting)
    assert cache.profile(key)["metadata"]["deletionTimestamp"]
    assert dirty == [([key], True)]
    # the watch event of that version changes nothing any more: the handler would not have queued it
    assert change_level(cache.profile(key), slim_profile(deleting)) is None
    cache.remember(key, status_only)  # an older response never replaces the cache
    assert cache.profile(key)["metadata"]["resourceVersion"] == "12"


def test_a_new_base_spec_in_a_response_queues_its_dependants():
    base, child = _profile("base"), _profile("child", baseProfileName="base")
    grandchild = _profile("grandchild", baseProfileName="child")
    cache, dirty = _cache([base, child, grandchild])
    fresh = copy.deepcopy(base)
    fresh["metadata"]["resourceVersion"] = "11"
    fresh["spec"]["syscalls"] = [allow("write")]
    cache.remember((SECCOMP_KIND, "ns", "base"), fresh)
    assert dirty == [([(SECCOMP_KIND, "ns", n) for n in ("base", "child", "grandchild")], True)]


def test_an_spns_moving_between_caches_stays_known():
    """A settled SPNS that becomes unsettled leaves one watch and joins another; the second watch's event may
    come first, and the first watch's deletion must not drop it."""
    doc = _profile("p")
    cache, _dirty = _cache([doc])
    key = (SECCOMP_KIND, "ns", "p")
    owners = []

    def entry(state, workloads=()):
        return SpnsEntry(ns.spns_object(SECCOMP_KIND, doc, "b", state, "", workloads), "vm")

    def event(name, old, new):  # as kube.Reflector does: the store first, then the handler
        store = cache.reflectors[name].store
        if new is None:
            store.pop(old.key)
        else:
            store[new.key] = new
        owners.extend(cache.index_spns((new or old).key, old, new))

    settled = entry("Installed")
    event("spns-kept", None, settled)
    assert cache.node_spns(key)["b"].status == "Installed"
    busy = entry("Installed", ["ns/pod"])
    event("spns-others", None, busy)
    event("spns-kept", settled, None)
    assert cache.node_spns(key)["b"].workload_list() == ["ns/pod"]
    event("spns-others", busy, None)
    assert cache.node_spns(key) == {}
    assert set(owners) == {key}  # every event asks for the status to be aggregated again
    assert set(SPNS_CACHES) <= set(cache.reflectors)


def test_pods_using_a_file_mark_every_profile_of_it():
    p1, p1_json = _profile("p1"), _profile("p1.json")
    cache, _dirty = _cache([p1, p1_json])
    pod = slim_pod({"metadata": {"name": "web", "namespace": "ns"}, "status": {"phase": "Running"},
                    "spec": {"securityContext": {"seccompProfile": {"type": "Localhost",
                                                                    "localhostProfile": "operator/ns/p1.json"}}}})
    changed = cache.index_pod(("ns", "web"), None, pod)
    assert sorted(changed) == [(SECCOMP_KIND, "ns", "p1"), (SECCOMP_KIND, "ns", "p1.json")]
    assert cache.users((SECCOMP_KIND, "ns", "p1")) == ["ns/web"] == cache.users((SECCOMP_KIND, "ns", "p1.json"))
    assert cache.file_owner((SECCOMP_KIND, "ns", "p1.json")) == (SECCOMP_KIND, "ns", "p1")
    snapshot = cache.snapshot()
    assert cache.index_pod(("ns", "web"), pod, None) == changed
    assert cache.users((SECCOMP_KIND, "ns", "p1")) == []
    assert snapshot.users((SECCOMP_KIND, "ns", "p1")) == ["ns/web"]  # the snapshot is a copy


def test_the_snapshot_is_a_copy_of_the_stores():
    cache, _dirty = _cache([_profile("p")])
    snapshot = cache.snapshot()
    cache.reflectors[SECCOMP_KIND].store.clear()
    assert snapshot.get(SECCOMP_KIND, "ns", "p") is not None and cache.profile((SECCOMP_KIND, "ns", "p")) is None
