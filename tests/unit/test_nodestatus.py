# -*- coding: utf-8 -*-
"""Node states, their aggregation into a profile's status, SPNS names/labels/finalizers (pure)."""
from __future__ import annotations

import re

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns

ORDER = ["Error", "Terminating", "Partial", "Disabled", "Pending", "InProgress", "Installed"]


@pytest.mark.parametrize("states, expected", [
    ([], None),
    (["Installed"], "Installed"),
    (["Installed", "Installed"], "Installed"),
    (["Installed", "InProgress"], "InProgress"),
    (["InProgress", "Pending"], "Pending"),
    (["Pending", "Disabled"], "Disabled"),
    (["Disabled", "Partial"], "Partial"),
    (["Partial", "Terminating"], "Terminating"),
    (["Terminating", "Error"], "Error"),
    (["Installed", "Error", "Installed"], "Error"),
    (["Installed", None], "Pending"),  # unset counts as Pending
    ([None], "Pending"),
    (["Installed", "Bogus"], "Pending"),  # unknown counts as Pending
])
def test_worst(states, expected):
    assert ns.worst(states) == expected


@pytest.mark.parametrize("a", ORDER)
@pytest.mark.parametrize("b", ORDER)
def test_order_is_upstreams(a, b):
    assert ns.worse(a, b) == ORDER[min(ORDER.index(a), ORDER.index(b))]
    first, second = b, a
    assert ns.worse(a, b) == ns.worse(first, second)


@pytest.mark.parametrize("states, state, ready, reason, message", [
    ([("a", "Installed", "")], "Installed", "True", "Available", "installed on the nodes"),
    ([("a", "Installed", ""), ("b", "Installed", "")], "Installed", "True", "Available", "installed on the nodes"),
    ([("a", "Installed", ""), ("b", "Error", "SeccompProfile ns/p: spec.x: bad")], "Error", "False", "Unavailable",
     "failed on node b: SeccompProfile ns/p: spec.x: bad"),
    ([("b", "Error", "m2"), ("a", "Error", "m1")], "Error", "False", "Unavailable", "failed on nodes a, b: m1"),
    ([("a", "Terminating", "in use by ns/pod"), ("b", "Installed", "")], "Terminating", "False", "Deleting",
     "deleted; still in use on node a"),
    ([("a", "InProgress", "")], "InProgress", "False", "Creating", "installing on node a"),
    ([("a", "Pending", "SELinux is off")], "Pending", "False", "Creating", "waiting on node a: SELinux is off"),
    ([("a", "Disabled", "")], "Disabled", "False", "Unavailable",
     "disabled (spec.disabled is true); not installed on the nodes"),
])
def test_aggregate_and_ready(states, state, ready, reason, message):
    got, text, workloads = ns.aggregate([ns.NodeState(n, s, m) for n, s, m in states])
    assert (got, text, workloads) == (state, message, [])
    cond = ns.ready_condition(got, text, None, "2026-01-01T00:00:00Z")
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == ("Ready", ready, reason, message)


def test_error_message_names_at_most_five_nodes():
    states = [ns.NodeState("n%d" % i, "Error", "boom") for i in range(8)]
    _state, message, _w = ns.aggregate(states)
    assert message == "failed on nodes n0, n1, n2, n3, n4 and 3 more: boom"


def test_active_workloads_are_the_union_of_the_nodes():
    states = [ns.NodeState("a", "Installed", "", ["x/p2", "x/p1"]), ns.NodeState("b", "Installed", "", ["x/p1", "y/q"])]
    assert ns.aggregate(states)[2] == ["x/p1", "x/p2", "y/q"]


def test_profile_status_only_when_it_differs():
    now, later = "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"
    extra = {"localhostProfile": "operator/ns/p.json"}
    first = ns.profile_status(None, "Installed", "installed on the nodes", [], extra, now)
    assert first["status"] == "Installed" and first["localhostProfile"] == "operator/ns/p.json"
    assert first["conditions"] == [{"type": "Ready", "status": "True", "reason": "Available",
                                    "message": "installed on the nodes", "lastTransitionTime": now}]
    assert first["activeWorkloads"] is None  # merge patch: absent
    stored = dict(first, activeWorkloads=None)
    # the same status, computed later (by another agent): nothing to write
    assert ns.profile_status(stored, "Installed", "installed on the nodes", [], extra, later) is None
    # a workload appears: written, the transition time is kept (Ready stays True)
    second = ns.profile_status(stored, "Installed", "installed on the nodes", ["ns/pod"], extra, later)
    assert second["activeWorkloads"] == ["ns/pod"]
    assert second["conditions"][0]["lastTransitionTime"] == now
    # Ready turns False: a new transition time
    third = ns.profile_status(second, "Terminating", "deleted; still in use on node a", ["ns/pod"], extra, later)
    assert third["conditions"][0]["status"] == "False" and third["conditions"][0]["lastTransitionTime"] == later


def test_profile_status_keeps_other_conditions():
    current = {"status": "Installed", "conditions": [{"type": "Other", "status": "True"}]}
    status = ns.profile_status(current, "Installed", "installed on the nodes", [], {}, "t")
    assert [c["type"] for c in status["conditions"]] == ["Other", "Ready"]


def test_spns_object_names_labels_owner():
    profile = {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
               "metadata": {"name": "p", "namespace": "ns", "uid": "u-1"}}
    obj = ns.spns_object("SeccompProfile", profile, "node-1", "Error", "bad", ["ns/a"])
    assert obj["metadata"]["name"] == "p-node-1"
    assert obj["metadata"]["namespace"] == "ns"
    assert obj["metadata"]["labels"] == {"spo.x-k8s.io/profile-id": "SeccompProfile-p",
                                         "spo.x-k8s.io/node-name": "node-1",
                                         "spo.x-k8s.io/profile-state": "Error",
                                         "spo.x-k8s.io/profile-kind": "SeccompProfile"}
    assert obj["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert obj["metadata"]["annotations"] == {ns.ANNOTATION_WORKLOADS: "ns/a"}
    assert (obj["nodeName"], obj["status"], obj["message"]) == ("node-1", "Error", "bad")
    assert ns.spns_patch(obj, "SeccompProfile", "p", "node-1", "Error", "bad", ["ns/a"]) is None
    patch = ns.spns_patch(obj, "SeccompProfile", "p", "node-1", "Installed", "", [])
    assert patch == {"metadata": {"labels": {"spo.x-k8s.io/profile-state": "Installed", "spo.x-k8s.io/settled": "true"},
                                  "annotations": {ns.ANNOTATION_WORKLOADS: None}},
                     "status": "Installed", "message": None}


@pytest.mark.parametrize("state, workloads, is_settled", [
    ("Installed", [], True),
    ("Installed", ["ns/pod"], False),    # its workloads are part of the profile's activeWorkloads
    ("Terminating", ["ns/pod"], False),
    ("Pending", [], False),
    ("Error", [], False),
])
def test_settled_label_marks_what_cannot_change_the_aggregate(state, workloads, is_settled):
    profile = {"apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}}
    labels = ns.spns_object("SeccompProfile", profile, "n1", state, "", workloads)["metadata"]["labels"]
    assert (labels.get(ns.LABEL_SETTLED) == "true") == is_settled
    # an unsettled SPNS never changes the aggregate less than a settled one: dropping every settled
    # SPNS from the states leaves the aggregated state, message and workloads as they are
    others = [ns.NodeState("a", "Installed"), ns.NodeState("b", state, "", workloads)]
    kept = [s for s in others if not ns.settled(s.state, s.workloads)]
    for mine in ("Installed", "Pending", "Error"):
        me = ns.NodeState("n1", mine)
        assert ns.aggregate(others + [me]) == ns.aggregate(kept + [me])


def test_settled_label_removed_when_a_pod_uses_the_profile():
    profile = {"apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}}
    obj = ns.spns_object("SeccompProfile", profile, "n1", "Installed")
    assert obj["metadata"]["labels"][ns.LABEL_SETTLED] == "true"
    patch = ns.spns_patch(obj, "SeccompProfile", "p", "n1", "Installed", "", ["ns/pod"])
    assert patch == {"metadata": {"labels": {ns.LABEL_SETTLED: None},
                                  "annotations": {ns.ANNOTATION_WORKLOADS: "ns/pod"}}}


def test_selectors_own_others_and_profile():
    assert ns.own_selector("vm") == "spo.x-k8s.io/node-name=vm"
    assert ns.others_selector("vm") == "spo.x-k8s.io/node-name!=vm,!spo.x-k8s.io/settled"
    assert ns.profile_selector("SeccompProfile", "p") == \
        "spo.x-k8s.io/profile-id=SeccompProfile-p,spo.x-k8s.io/profile-kind=SeccompProfile"
    node = "n" * 100  # label values are shortened the same way in the labels and the selectors
    assert ns.own_selector(node).split("=", 1)[1] == ns.spns_labels("K", "p", node, "Pending")[ns.LABEL_NODE]


LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@pytest.mark.parametrize("name, node", [
    ("p", "vm"),
    ("a" * 200, "vm"),
    ("a" * 253, "n" * 253),
    ("x" * 60, "node-1"),
])
def test_long_names_are_shortened_with_a_hash(name, node):
    spns = ns.spns_name(name, node)
    assert len(spns) <= 253
    if len("%s-%s" % (name, node)) <= 253:
        assert spns == "%s-%s" % (name, node)
    for value in ns.spns_labels("SelinuxProfile", name, node, "Installed").values():
        assert len(value) <= 63 and LABEL_VALUE.match(value), value
    # different inputs stay different
    assert ns.profile_id("SeccompProfile", name) != ns.profile_id("SeccompProfile", name[:-1] + "b")


def test_one_shared_finalizer_and_the_per_node_ones_of_earlier_agents():
    finalizers = ["vm.node.spo.x-k8s.io/profile", ns.CLEANUP_FINALIZER, "other.io/keep",
                  "h" + "0" * 32 + ".node.spo.x-k8s.io/profile"]
    assert ns.legacy_finalizers(finalizers) == [finalizers[0], finalizers[3]]
    assert not ns.is_node_finalizer(ns.CLEANUP_FINALIZER)


@pytest.mark.parametrize("spns_nodes, live, left", [
    (["vm"], ["vm", "b"], []),                    # only this node's own status: done
    (["vm", "b"], ["vm", "b"], ["b"]),            # node b still has its file
    (["vm", "gone"], ["vm"], []),                 # a node that no longer exists never holds a deletion
    (["b", "a"], None, ["a", "b"]),               # nodes not known yet: every status counts
    ([], ["vm"], []),
])
def test_nodes_left_before_the_finalizer_goes(spns_nodes, live, left):
    assert ns.nodes_left(spns_nodes, "vm", live) == left


def test_alt_name_differs_per_kind():
    a = ns.spns_alt_name("SeccompProfile", "p", "vm")
    b = ns.spns_alt_name("SelinuxProfile", "p", "vm")
    assert a != b and a.startswith("p-vm-") and len(a) <= 253
