# -*- coding: utf-8 -*-
"""The node agent's wiring: what a watch event of a profile asks of it, and each node's own order of work."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import change_level, spread
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import slim_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import SECCOMP_KIND
from seccomp_objects import allow, profile


def _obj():
    doc = profile("p", syscalls=[allow("read")])
    doc["metadata"].update(uid="u", generation=1, resourceVersion="1", finalizers=[])
    return slim_profile(doc)


def _changed(path, value):
    obj = copy.deepcopy(_obj())
    target = obj
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize("new, level", [
    (_changed(("spec", "syscalls"), [allow("write")]), True),                          # a new spec
    (_changed(("metadata", "deletionTimestamp"), "2026-12-01T00:00:00Z"), True),       # deletion begun
    (_changed(("metadata", "labels"), {ns.LABEL_PARTIAL: "true"}), True),
    (_changed(("metadata", "finalizers"), [ns.CLEANUP_FINALIZER]), True),              # the shared finalizer
    (_changed(("metadata", "finalizers"), ["other/finalizer"]), None),                 # someone else's
    (_changed(("metadata", "annotations"), {ns.ANNOTATION_KEEPER: "b"}), True),        # the keeper: in the SPNS
    (_changed(("status",), {"status": "Installed"}), False),                           # re-aggregate only
    (_changed(("metadata", "resourceVersion"), "2"), None),
    (None, True),
])
def test_what_a_profile_event_asks_of_the_agent(new, level):
    assert change_level(_obj(), new) is level


def test_each_node_works_through_a_batch_in_its_own_order():
    keys = [(SECCOMP_KIND, "ns", "p%d" % i) for i in range(50)]
    orders = {tuple(spread("node-%d" % n, keys)) for n in range(5)}
    assert len(orders) == 5 and all(sorted(order) == sorted(keys) for order in orders)
    assert spread("node-1", keys) == spread("node-1", list(reversed(keys)))
