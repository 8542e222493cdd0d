# -*- coding: utf-8 -*-
"""Deleted profiles are released in batches: an agent deletes its node statuses (SPNS) of a batch of deleted
profiles in one delete-collection request per namespace, and the keeper looks at the API server's SPNS of the
profiles its caches show no node left of in one list per namespace, not one per profile.  The API server is a
list of objects here, its label selectors evaluated as the API server does for the forms the agent sends (the
cluster suite runs the same protocol against a real API server)."""
from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import NodeAgent
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import (
    SpnsEntry, slim_profile)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import SECCOMP_KIND
from seccomp_objects import allow, profile

NODES = ("vm", "b", "c")


def _matches(selector, labels):
    """A label selector of the forms the agent sends (``k=v``, ``k!=v``, ``k in (a,b)``, ``k``, ``!k``)."""
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", selector):
        term = term.strip()
        found = re.fullmatch(r"(\S+) in \(([^)]*)\)", term)
        if found:
            ok = labels.get(found.group(1)) in found.group(2).split(",")
        elif "!=" in term:
            key, value = term.split("!=")
            ok = labels.get(key) != value
        elif "=" in term:
            key, value = term.split("=")
            ok = labels.get(key) == value
        elif term.startswith("!"):
            ok = term[1:] not in labels
        else:
            ok = term in labels
        if not ok:
            return False
    return True


class _ApiServer(object):
    """The objects of one namespace: SPNS by name and profiles by name; every request recorded."""

    def __init__(self):
        self.spns = {}
        self.profiles = {}
        self.calls = []
        self.requests = 0

    def _call(self, verb, path, query=None):
        self.requests += 1
        self.calls.append((verb, path, (query or {}).get("labelSelector")))

    def _selected(self, query):
        return [name for name, obj in sorted(self.spns.items())
                if _matches(query["labelSelector"], obj["metadata"].get("labels") or {})]

    def list(self, path, query):
        self._call("list", path, query)
        return {"items": [copy.deepcopy(self.spns[name]) for name in self._selected(query)]}

    def delete_collection(self, path, query):
        self._call("deletecollection", path, query)
        for name in self._selected(query):
            del self.spns[name]

    def delete(self, path, body=None, missing_ok=True):
        self._call("delete", path)
        self.spns.pop(path.rsplit("/", 1)[1], None)

    def json_patch(self, path, ops):
        self._call("patch", path)
        name = path.rsplit("/", 1)[1]
        obj = copy.deepcopy(self.profiles[name])
        finalizers = obj["metadata"]["finalizers"]
        for op in ops:
            index = int(op["path"].rsplit("/", 1)[1])
            if op["op"] == "test":
                assert finalizers[index] == op["value"]
            else:
                del finalizers[index]
        self.profiles[name] = obj
        return copy.deepcopy(obj)


def _agent(tmp_path, count, keeper="vm", left=()):
    """The agent of node ``vm`` and ``count`` deleted profiles kept by ``keeper``, their files gone from this
    node; this node's SPNS of each is cached and on the API server, and so are those of the nodes ``left``
    (which the keeper's caches hold only when ``cached``)."""
    api = _ApiServer()
    agent = NodeAgent(api, "vm", kubelet_dir=str(tmp_path / "kubelet"), selinux_dir=str(tmp_path / "selinux"),
                      shipped=[], log=lambda m: None)
    nodes = agent.cache.reflectors["nodes"]
    for node in NODES:
        nodes.store[("", node)] = {"metadata": {"name": node}}
    nodes.synced.set()
    keys = []
    for index in range(count):
        name = "p%03d" % index
        doc = profile(name, syscalls=[allow("read")])
        doc["metadata"].update(uid="u-" + name, generation=1, resourceVersion="5", finalizers=[ns.CLEANUP_FINALIZER],
                               annotations={ns.ANNOTATION_KEEPER: keeper}, deletionTimestamp="2026-12-07T19:00:00Z")
        api.profiles[name] = copy.deepcopy(doc)
        agent.cache.reflectors[SECCOMP_KIND].store[("ns", name)] = slim_profile(copy.deepcopy(doc))
        for node in ("vm",) + tuple(left):
            spns = ns.spns_object(SECCOMP_KIND, doc, node, ns.INSTALLED)
            spns["metadata"]["labels"][ns.LABEL_SETTLED] = "true"
            spns["metadata"]["labels"][ns.LABEL_KEEPER] = keeper
            spns["metadata"]["resourceVersion"] = "6"
            api.spns[spns["metadata"]["name"]] = spns
            if node == "vm":
                entry = SpnsEntry(spns, "vm")
                agent.cache.reflectors["spns"].store[entry.key] = entry
                agent.cache.index_spns(entry.key, None, entry)
        keys.append((SECCOMP_KIND, "ns", name))
    return agent, api, keys


def _verbs(api):
    counts = {}
    for verb, _path, _selector in api.calls:
        counts[verb] = counts.get(verb, 0) + 1
    return counts


def test_the_keeper_releases_a_batch_of_deleted_profiles_with_one_delete_and_one_list(tmp_path):
    agent, api, keys = _agent(tmp_path, 30)
    agent.reconcile(keys, everything=True)
    # this node's 30 SPNS in one request, the other nodes' looked at in one list, then 30 finalizers removed
    assert _verbs(api) == {"deletecollection": 1, "list": 1, "patch": 30}
    assert not api.spns
    assert all(not obj["metadata"]["finalizers"] for obj in api.profiles.values())
    selectors = [selector for verb, _path, selector in api.calls if verb in ("deletecollection", "list")]
    assert selectors[0].startswith("%s=vm,%s in (" % (ns.LABEL_NODE, ns.LABEL_PROFILE_ID))
    assert selectors[1].startswith("%s!=vm,%s in (" % (ns.LABEL_NODE, ns.LABEL_PROFILE_ID))
    assert not agent.failures


def test_a_node_status_the_keepers_caches_lack_keeps_only_its_profile(tmp_path):
    """Node b's SPNS of p001 is on the API server but not (yet) in the keeper's caches: the list finds it,
    p001 keeps its finalizer and is looked at again; the others go."""
    agent, api, keys = _agent(tmp_path, 3)
    doc = copy.deepcopy(api.profiles["p001"])
    api.spns["p001-b"] = ns.spns_object(SECCOMP_KIND, doc, "b", ns.INSTALLED)
    requeued = []
    agent.queue.requeue = lambda key, delay: requeued.append((key, delay))
    agent.reconcile(keys, everything=True)
    assert _verbs(api) == {"deletecollection": 1, "list": 1, "patch": 2}
    assert api.profiles["p001"]["metadata"]["finalizers"] == [ns.CLEANUP_FINALIZER]
    assert not api.profiles["p000"]["metadata"]["finalizers"] and not api.profiles["p002"]["metadata"]["finalizers"]
    assert requeued == [((SECCOMP_KIND, "ns", "p001"), 1.0)]
    assert list(api.spns) == ["p001-b"]


def test_while_the_keepers_caches_show_nodes_left_it_neither_lists_nor_releases(tmp_path):
    agent, api, keys = _agent(tmp_path, 4, left=("b",))
    for name, spns in api.spns.items():  # b's settled SPNS reach the keeper's caches (kept_selector)
        if spns["nodeName"] == "b":
            entry = SpnsEntry(spns, "vm")
            agent.cache.reflectors["spns-kept"].store[entry.key] = entry
            agent.cache.index_spns(entry.key, None, entry)
    agent.reconcile(keys, everything=True)
    assert _verbs(api) == {"deletecollection": 1}
    assert sorted(spns["nodeName"] for spns in api.spns.values()) == ["b"] * 4
    assert all(obj["metadata"]["finalizers"] == [ns.CLEANUP_FINALIZER] for obj in api.profiles.values())


def test_another_nodes_agent_deletes_its_statuses_and_leaves_the_finalizer_to_the_keeper(tmp_path):
    agent, api, keys = _agent(tmp_path, 5, keeper="b")
    agent.reconcile(keys, everything=True)
    assert _verbs(api) == {"deletecollection": 1}
    assert not api.spns and all(obj["metadata"]["finalizers"] for obj in api.profiles.values())


def test_a_single_deleted_profiles_status_is_deleted_by_name(tmp_path):
    agent, api, keys = _agent(tmp_path, 1)
    agent.reconcile(keys, everything=True)
    assert _verbs(api) == {"delete": 1, "list": 1, "patch": 1}


def test_a_failed_list_retries_the_whole_batch(tmp_path):
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
    agent, api, keys = _agent(tmp_path, 3)

    def refuse(path, query):
        raise k.KubeError(500, "etcd is busy", "InternalError", "GET", path)
    api.list = refuse
    requeued = []
    agent.queue.requeue = lambda key, delay: requeued.append(key)
    agent.reconcile(keys, everything=True)
    assert sorted(requeued) == keys
    assert all(obj["metadata"]["finalizers"] == [ns.CLEANUP_FINALIZER] for obj in api.profiles.values())


def test_without_delete_collection_rights_the_statuses_are_deleted_one_by_one(tmp_path):
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
    agent, api, keys = _agent(tmp_path, 3)

    def forbidden(path, query):
        api._call("deletecollection", path, query)
        raise k.KubeError(403, "cannot deletecollection", "Forbidden", "DELETE", path)
    api.delete_collection = forbidden
    agent.reconcile(keys, everything=True)
    assert _verbs(api) == {"deletecollection": 1, "delete": 3, "list": 1, "patch": 3}
    assert not api.spns and all(not obj["metadata"]["finalizers"] for obj in api.profiles.values())


@pytest.mark.parametrize("count, chunks", [(1, 1), (100, 1), (101, 2), (250, 3)])
def test_many_profiles_statuses_are_selected_in_chunks(count, chunks):
    ids = [ns.profile_id(SECCOMP_KIND, "p%d" % i) for i in range(count)]
    found = ns.id_chunks(ids + ids[:3])
    assert len(found) == chunks and sorted(sum(found, [])) == sorted(ids)
    selector = ns.profiles_selector(found[0], "vm", other_nodes=True)
    assert len(selector) < 8192
    labels = {ns.LABEL_PROFILE_ID: found[0][-1], ns.LABEL_NODE: "b"}
    assert _matches(selector, labels) and not _matches(selector, dict(labels, **{ns.LABEL_NODE: "vm"}))
    assert not _matches(ns.profiles_selector(found[0], "vm"), labels)
    assert _matches(ns.profiles_selector(found[0]), labels)
