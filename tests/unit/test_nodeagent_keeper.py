# -*- coding: utf-8 -*-
"""The keeper protocol's decisions: each node's turn, who removes a deleted profile's shared finalizer, and
when it lists the node statuses first.  The API calls are answered from a list (the cluster suite runs the
same decisions against a real API server)."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    AgentCache, slim_profile)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_keeper import (
    RELEASE_FALLBACK, Keeper, acting_keeper, turn, unclaimed)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import SECCOMP_KIND
from seccomp_objects import allow, profile

KEY = (SECCOMP_KIND, "ns", "p")


def _doc(keeper=None, finalizers=(), deleted=False):
    doc = profile("p", syscalls=[allow("read")])
    doc["metadata"].update(uid="u-p", generation=1, resourceVersion="5", finalizers=list(finalizers))
    if keeper:
        doc["metadata"]["annotations"] = {ns.ANNOTATION_KEEPER: keeper, "other": "x"}
    if deleted:
        doc["metadata"]["deletionTimestamp"] = "2026-12-01T13:00:00Z"
    return slim_profile(doc)


class _Listing(object):
    """The list call :meth:`Keeper.release` makes, answered from a list of SPNS."""

    def __init__(self, spns):
        self.spns = spns
        self.lists = 0

    def list(self, path, query):
        self.lists += 1
        return {"items": list(self.spns)}


def test_agents_take_turns_at_a_deleted_profiles_finalizer():
    """Every node gets its own place for a profile, and the order differs between profiles."""
    nodes = {"n%d" % i for i in range(20)}
    firsts = set()
    for name in ("p1", "p2", "p3", "p4", "p5", "p6"):
        key = (SECCOMP_KIND, "ns", name)
        turns = [turn(node, key, nodes) for node in sorted(nodes)]
        assert sorted(turns) == list(range(20))
        firsts.add(turns.index(0))
    assert len(firsts) > 1
    assert 0 <= turn("not-a-node-yet", KEY, nodes) <= 20 and turn("n1", KEY, None) == 0


@pytest.mark.parametrize("keeper, live, acts", [
    ("vm", {"vm", "b"}, (True, True)),      # the keeper: every node's status reaches its caches
    ("b", {"vm", "b"}, (False, False)),     # another node keeps it
    ("b", None, (False, False)),            # nodes not known yet: the keeper named still counts
    ("gone", {"vm", "b"}, (True, False)),   # the keeper's node is gone: every agent acts, listing
    (None, {"vm"}, (True, False)),          # claimed by an agent before keepers
])
def test_who_removes_a_deleted_profiles_finalizer(keeper, live, acts):
    obj = _doc(keeper)
    assert obj["metadata"].get("annotations") == ({ns.ANNOTATION_KEEPER: keeper} if keeper else None)
    assert acting_keeper("vm", obj, live) == acts


@pytest.mark.parametrize("keeper, finalizers, live, expected", [
    ("vm", [ns.CLEANUP_FINALIZER], {"vm"}, False),
    (None, [ns.CLEANUP_FINALIZER], {"vm"}, True),    # no keeper yet
    ("vm", [], {"vm"}, True),                        # no finalizer
    ("gone", [ns.CLEANUP_FINALIZER], {"vm"}, True),  # its keeper's node is gone
    ("gone", [ns.CLEANUP_FINALIZER], None, False),   # nodes not known yet
])
def test_which_profiles_are_claimed(keeper, finalizers, live, expected):
    assert unclaimed(_doc(keeper, finalizers), live) is expected


@pytest.mark.parametrize("keeper, other_left, lists, removed, requeued", [
    ("vm", False, 1, True, None),      # the keeper: one list to be sure, then the finalizer goes
    ("vm", True, 1, False, 1.0),       # a status its caches lack: listed, looked at again in 1 s
    ("b", False, 0, False, 120.0),     # another node keeps it: nothing now, one look in 120 s
    (None, True, 1, False, 1.0),       # no keeper: every agent lists, and again while nodes are left
])
def test_release_of_a_deleted_profile(keeper, other_left, lists, removed, requeued):
    doc = _doc(keeper, [ns.CLEANUP_FINALIZER], deleted=True)
    cache = AgentCache(None, "vm")
    cache.reflectors[SECCOMP_KIND].store[("ns", "p")] = doc
    kube = _Listing([ns.spns_object(SECCOMP_KIND, doc, "b", "Installed")] if other_left else [])
    requeues, removals = [], []
    keeper_ = Keeper(kube, "vm", cache, lambda key, delay: requeues.append(delay))
    keeper_.remove_finalizer = lambda key, obj, finalizer: removals.append((key, finalizer))
    keeper_.release(KEY, doc, {"vm", "b"})
    assert kube.lists == lists
    assert removals == ([(KEY, ns.CLEANUP_FINALIZER)] if removed else [])
    assert requeues == ([requeued] if requeued else [])
    if keeper == "b":  # once the 120 s have passed, it lists and removes the finalizer itself
        assert requeued == RELEASE_FALLBACK
        keeper_.release_due[KEY] = 0.0
        keeper_.release(KEY, doc, {"vm", "b"})
        assert kube.lists == 1 and removals == [(KEY, ns.CLEANUP_FINALIZER)]


@pytest.mark.parametrize("keeper, delay", [("vm", 0.05), ("b", None), (None, "turn")])
def test_a_deleted_profile_done_here_is_looked_at_again(keeper, delay):
    doc = _doc(keeper, [ns.CLEANUP_FINALIZER], deleted=True)
    cache = AgentCache(None, "vm")
    keeper_ = Keeper(None, "vm", cache, lambda key, delay: None)
    found = keeper_.release_delay(KEY, doc, {"vm", "b"})
    if delay == "turn":  # without a keeper, agents take turns half a second apart
        place = turn("vm", KEY, {"vm", "b"})
        assert 0.1 + 0.5 * place <= found <= 0.3 + 0.5 * place
    else:
        assert found == delay


class _Patches(object):
    """merge_patch answered as the API server does for a resourceVersion guard: 409 once, then the patch."""

    def __init__(self, current):
        self.current = current
        self.patches = []

    def merge_patch(self, path, patch):
        from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
        self.patches.append(patch)
        if len(self.patches) == 1:
            raise k.KubeError(409, "the object has been modified", "Conflict", "PATCH", path)
        fresh = dict(self.current)
        fresh["metadata"] = dict(self.current["metadata"], resourceVersion="7",
                                 finalizers=patch["metadata"].get("finalizers"),
                                 annotations=patch["metadata"]["annotations"])
        return fresh

    def get(self, path):
        return dict(self.current, metadata=dict(self.current["metadata"], resourceVersion="6"))


def test_a_claim_retries_on_a_conflict_and_names_this_node_the_keeper():
    doc = _doc()
    cache = AgentCache(None, "vm")
    cache.reflectors[SECCOMP_KIND].store[("ns", "p")] = doc
    kube = _Patches(doc)
    assert Keeper(kube, "vm", cache, lambda key, delay: None).claim(KEY, doc, {"vm"}) is True
    assert [p["metadata"]["resourceVersion"] for p in kube.patches] == ["5", "6"]
    assert kube.patches[1]["metadata"]["finalizers"] == [ns.CLEANUP_FINALIZER]
    assert ns.keeper_of(cache.profile(KEY)) == "vm"  # the response is in the cache
