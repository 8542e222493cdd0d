# -*- coding: utf-8 -*-
"""One path function for every door: module, node agent (writes, orphan cleanup, pod index), node status and
webhook all put and find a profile at the same file, for the longest and oddest valid Kubernetes names."""
from __future__ import annotations

import os

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import AgentCache
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    SECCOMP_KIND, Planner, Snapshot)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_writer import NodeWriter
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import slim_pod
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import install
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import binding
from seccomp_objects import allow, profile


def _long(length, suffix=""):
    """A valid DNS-1123 subdomain of ``length`` characters (labels of at most 63) ending in ``suffix``."""
    body = length - len(suffix)
    labels = []
    while body > 0:
        size = min(63, body)
        labels.append(("a%s" % ("b" * 62))[:size])
        body -= size + 1
    name = ".".join(labels)[:length - len(suffix)]
    return (name.rstrip(".") + suffix) if suffix else name.rstrip(".")


LONGEST = _long(253, ".json")   # the file name is the name: 253 bytes
LONGEST_PLAIN = _long(250)      # + ".json": 255 bytes, NAME_MAX exactly
NAMES = ["p", "p1.json", "x.json", "0", "42", "a.b.c", "a-1.b-2", LONGEST, LONGEST_PLAIN]


def _node(objs, kubelet):
    """The node agent's cache (filled by hand, as its watches would) and node writer."""
    cache = AgentCache(None, "vm")
    for obj in objs:
        cache.reflectors[SECCOMP_KIND].store[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
    writer = NodeWriter(kubelet, selinux_dir=os.path.join(kubelet, "no-selinux"), metrics=metrics.AgentMetrics())
    return cache, writer


def _remove_orphans(cache, writer):
    writer.remove_orphans(set(cache.reflectors[SECCOMP_KIND].store), set(), lambda key: bool(cache.users(key)))


def _plan(objs):
    keys = [(SECCOMP_KIND, "ns", o["metadata"]["name"]) for o in objs]
    snapshot = Snapshot({SECCOMP_KIND: {("ns", o["metadata"]["name"]): o for o in objs}})
    return keys, Planner().plan(snapshot, dict(zip(keys, objs)))


def _pod_using(localhost):
    return {"metadata": {"name": "web", "namespace": "ns"},
            "spec": {"securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": localhost}}},
            "status": {"phase": "Running"}}


@pytest.mark.parametrize("name", NAMES, ids=lambda n: n if len(n) < 20 else "%d-chars" % len(n))
def test_every_door_names_the_same_file(tmp_path, name):
    kubelet = str(tmp_path)
    result = install([profile(name, syscalls=[allow("read")])], kubelet)
    item = result["profiles"][0]
    path, localhost = item["path"], item["localhost_profile"]
    assert os.path.isfile(path) and not [f for f in os.listdir(os.path.dirname(path)) if f.endswith(".tmp")]
    assert len(os.path.basename(path).encode()) <= nodefs.NAME_MAX
    assert localhost == "operator/ns/" + os.path.basename(path)
    assert os.path.basename(path) == (name if name.endswith(".json") else name + ".json")  # upstream's file name
    cache, writer = _node([profile(name)], kubelet)
    key = (SECCOMP_KIND, "ns", name)
    assert writer.seccomp_path(key) == writer.seccomp_file(key) == path
    assert binding.seccomp_localhost("ns", name) == localhost
    # a pod naming that file uses this profile (for the finalizer and the status' workloads)
    for ref in slim_pod(_pod_using(localhost))["refs"]:
        cache.pod_index.setdefault(tuple(ref), set()).add("ns/web")
    assert cache.users(key) == ["ns/web"]
    # an agent restart (orphan cleanup) keeps the live file
    cache.pod_index.clear()
    _remove_orphans(cache, writer)
    assert os.path.isfile(path)
    # ... and removes it once no profile has it
    _remove_orphans(*_node([], kubelet))
    assert not os.path.exists(path)


def test_a_name_whose_file_cannot_exist_is_refused_naming_the_field(tmp_path):
    name = _long(251)  # + ".json" = 256 bytes
    with pytest.raises(SpoError) as info:
        install([profile(name, syscalls=[allow("read")])], str(tmp_path))
    assert info.value.obj == "SeccompProfile ns/%s" % name and info.value.field == "metadata.name"
    assert "would be 256 bytes" in info.value.message and "at most 255" in info.value.message
    keys, outcomes = _plan([profile(name)])
    out = outcomes[keys[0]]
    assert out.state == "Error" and "metadata.name" in out.message and not out.write


def test_temporary_names_fit_name_max(tmp_path):
    """A 255-byte file name gets a temporary name of at most 255 bytes too (not ENAMETOOLONG)."""
    target = str(tmp_path / ("f" * nodefs.NAME_MAX))
    stale = str(tmp_path / nodefs.temp_prefix("f" * nodefs.NAME_MAX)) + "killed.tmp"
    open(stale, "w").close()  # what a killed writer leaves
    nodefs.atomic_write(target, b"{}\n")
    assert open(target, "rb").read() == b"{}\n" and os.listdir(str(tmp_path)) == [os.path.basename(target)]


def test_p1_and_p1_json_of_one_namespace_share_a_file_and_only_one_writes_it(tmp_path):
    p1, p1_json = profile("p1", syscalls=[allow("read")]), profile("p1.json", syscalls=[allow("write")])
    keys, outcomes = _plan([p1, p1_json])
    assert outcomes[keys[0]].write
    refused = outcomes[keys[1]]
    assert refused.state == "Error" and not refused.write and not refused.remove_file
    assert "metadata.name" in refused.message and "also SeccompProfile ns/p1's" in refused.message
    assert seccomp_paths.names_of_file("p1.json") == ["p1", "p1.json"]
    assert seccomp_paths.names_of_file("p1.json.json") == ["p1.json.json"]
    # p1.json going away never takes p1's file
    path = install([p1], str(tmp_path / "k"))["profiles"][0]["path"]
    cache, writer = _node([p1, p1_json], str(tmp_path / "k"))
    writer.remove_gone(keys[1], cache.file_owner(keys[1]) is not None)
    assert os.path.isfile(path)
