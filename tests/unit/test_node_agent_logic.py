# -*- coding: utf-8 -*-
"""The node agent's pure parts: which profiles a pod uses, SPOD settings and allowedSyscalls,
batching of events, and the per-profile validation that keeps a refused profile from blocking a batch."""
from __future__ import annotations

import copy
import os
import threading

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.coalesce import Coalescer
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import (
    NodeAgent, SECCOMP_KIND, slim_profile)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import (
    parse_localhost_profile, parse_selinux_type, pod_refs, slim_pod)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import (
    check_allowed_syscalls, settings)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import compile_profiles

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PROFILE = os.path.join(ROOT, "tests", "unit", "fixtures", "spec-seccompprofile.yaml")


# ---------------------------------------------------------------- pods
@pytest.mark.parametrize("path, expected", [
    ("operator/ns/p.json", ("ns", "p.json")),  # the file: profile p's, and profile p.json's
    ("operator/ns/p", None),
    ("other/ns/p.json", None),
    ("operator/ns/sub/p.json", None),
    ("operator//p.json", None),
    (None, None),
])
def test_parse_localhost_profile(path, expected):
    assert parse_localhost_profile(path) == expected


@pytest.mark.parametrize("value, expected", [
    ("errorlogger_my-ns.process", ("my-ns", "errorlogger")),
    ("container_t", None),
    ("a_b_c.process", None),
    ("_ns.process", None),
])
def test_parse_selinux_type(value, expected):
    assert parse_selinux_type(value) == expected


def _pod(phase="Running", pod_sc=None, containers=(), annotations=None):
    return {"metadata": {"name": "p", "namespace": "ns", "annotations": annotations or {}},
            "spec": {"securityContext": pod_sc or {},
                     "containers": [{"name": "c%d" % i, "securityContext": sc} for i, sc in enumerate(containers)]},
            "status": {"phase": phase}}


def test_pod_refs_pod_and_container_level():
    pod = _pod(pod_sc={"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/a/one.json"}},
               containers=[{"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/b/two.json"}},
                           {"seccompProfile": {"type": "RuntimeDefault"}},
                           {"seLinuxOptions": {"type": "pol_ns.process"}}])
    assert pod_refs(pod) == [("seccomp", "a", "one.json"), ("seccomp", "b", "two.json"), ("selinux", "ns", "pol")]
    assert slim_pod(pod) == {"metadata": {"name": "p", "namespace": "ns"}, "refs": pod_refs(pod)}


def test_pod_refs_legacy_annotation_and_finished_pods():
    pod = _pod(annotations={"seccomp.security.alpha.kubernetes.io/pod": "localhost/operator/a/x.json"})
    assert pod_refs(pod) == [("seccomp", "a", "x.json")]
    assert pod_refs(_pod(phase="Succeeded", annotations=pod["metadata"]["annotations"])) == []
    assert slim_pod(_pod()) is None  # uses no operator profile: not cached


# ---------------------------------------------------------------- SPOD settings
def test_settings_both_spellings_and_defaults():
    assert settings(None).enable_selinux is False and settings(None).allowed_syscalls is None
    flat = settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["read", "write"], "verbosity": 1}})
    assert (flat.enable_selinux, flat.allowed_syscalls, flat.verbosity) == (True, frozenset(["read", "write"]), 1)
    grouped = settings({"spec": {"selinux": {"enable": True}, "security": {"allowedSyscalls": ["read"]}}})
    assert (grouped.enable_selinux, grouped.allowed_syscalls) == (True, frozenset(["read"]))
    assert settings({"spec": {"allowedSyscalls": []}}).allowed_syscalls is None  # empty: no restriction
    assert flat == settings({"spec": {"enableSelinux": True, "allowedSyscalls": ["write", "read"], "verbosity": 1}})


def test_allowed_syscalls_check():
    oci = {"defaultAction": "SCMP_ACT_ERRNO",
           "syscalls": [{"names": ["read", "write", "mount"], "action": "SCMP_ACT_ALLOW"},
                        {"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]}
    check_allowed_syscalls(oci, None, "SeccompProfile ns/p")
    check_allowed_syscalls(oci, frozenset(["read", "write", "mount"]), "SeccompProfile ns/p")
    with pytest.raises(SpoError) as info:
        check_allowed_syscalls(oci, frozenset(["read"]), "SeccompProfile ns/p")
    assert str(info.value) == ("SeccompProfile ns/p: spec.syscalls: syscalls mount, write not in the SPOD's "
                               "allowedSyscalls")
    with pytest.raises(SpoError) as info:
        check_allowed_syscalls(dict(oci, defaultAction="SCMP_ACT_ALLOW"), frozenset(["read"]), "SeccompProfile ns/p")
    assert info.value.field == "spec.defaultAction"


# ---------------------------------------------------------------- batching
class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_coalescer_batches_events_within_the_window():
    clock = Clock()
    queue = Coalescer(window=0.15, clock=clock)
    assert queue.ready(clock()) is None
    queue.add(["a"])
    clock.now += 0.1
    queue.add(["b", "a"])
    assert queue.ready(clock()) == pytest.approx(0.05)
    clock.now += 0.06
    assert queue.ready(clock()) == 0
    assert queue.take() == ["a", "b"]
    assert queue.ready(clock()) is None


def test_coalescer_requeue_later():
    clock = Clock()
    queue = Coalescer(window=0.1, clock=clock)
    queue.requeue("x", 2.0)
    queue.requeue("x", 5.0)  # the earlier due time wins
    assert queue.ready(clock()) == pytest.approx(2.0)
    clock.now += 2.0
    assert queue.ready(clock()) == pytest.approx(0.1)  # promoted: now waits its window
    clock.now += 0.1
    assert queue.take() == ["x"]


def test_coalescer_wait_returns_a_batch_from_another_thread():
    queue = Coalescer(window=0.01)
    threading.Timer(0.02, lambda: queue.add(["k"])).start()
    assert queue.wait(5.0) == ["k"]
    queue.close()
    assert queue.wait(1.0) == []


# ---------------------------------------------------------------- validation, per profile
class _Reflector(object):
    def __init__(self, objs):
        self.store = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs}
        self.lock = threading.RLock()

    def get(self, key):
        return self.store.get(key)


def _agent(objs, tmp_path, allowed=None):
    agent = NodeAgent.__new__(NodeAgent)  # no API: only the validation step is exercised
    agent.reflectors = {SECCOMP_KIND: _Reflector(objs)}
    agent.shipped = []
    agent.settings = settings({"spec": {"allowedSyscalls": allowed}} if allowed else None)
    agent.root = str(tmp_path)
    return agent


def _spec(name, **spec):
    with open(SPEC_PROFILE) as handle:
        doc = yaml.safe_load(handle)
    doc["metadata"] = {"name": name, "namespace": "ns", "uid": "u-" + name, "generation": 1}
    doc["spec"].update(spec)
    return slim_profile(doc)


def test_a_refused_profile_does_not_block_the_others(tmp_path):
    good, bad = _spec("good"), _spec("bad")
    bad["spec"]["syscalls"][0]["names"] = ["exit", "opne"]
    child = _spec("child", baseProfileName="good", syscalls=[{"action": "SCMP_ACT_ALLOW", "names": ["read"]}])
    orphan = _spec("orphan", baseProfileName="bad")
    objs = [good, bad, child, orphan]
    agent = _agent(objs, tmp_path)
    keys = [(SECCOMP_KIND, "ns", o["metadata"]["name"]) for o in objs]
    outcomes = agent.validate_seccomp(keys, dict(zip(keys, objs)))
    assert [outcomes[key].state for key in keys] == ["Installed", "Error", "Installed", "Error"]
    assert "spec.syscalls[0].names[1]" in outcomes[keys[1]].message and "opne" in outcomes[keys[1]].message
    assert outcomes[keys[3]].message.startswith("SeccompProfile ns/orphan: spec.baseProfileName: base profile 'bad'")
    assert outcomes[keys[0]].write and outcomes[keys[0]].need_finalizer
    assert not outcomes[keys[1]].write and not outcomes[keys[1]].remove_file  # a refused update keeps the old file


def test_allowed_syscalls_refusal_removes_the_file(tmp_path):
    doc = _spec("p")
    agent = _agent([doc], tmp_path, allowed=["exit", "exit_group"])
    key = (SECCOMP_KIND, "ns", "p")
    out = agent.validate_seccomp([key], {key: doc})[key]
    assert out.state == ns.ERROR and out.remove_file and out.reason == "NotAllowedSyscall"
    assert "futex, nanosleep not in the SPOD's allowedSyscalls" in out.message


def test_the_agent_writes_what_the_engine_compiles(tmp_path):
    """The accepted profile's bytes come from the same engine the collection's modules use."""
    doc = _spec("p")
    engine_doc = copy.deepcopy({k: doc[k] for k in ("apiVersion", "kind", "spec")})
    engine_doc["metadata"] = {"name": "p", "namespace": "ns"}
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import install
    agent = _agent([doc], tmp_path)
    install([agent._seccomp_doc(doc)], str(tmp_path / "agent"))
    with open(tmp_path / "agent" / "seccomp" / "operator" / "ns" / "p.json", "rb") as handle:
        assert handle.read() == compile_profiles([engine_doc])[0].data


# ---------------------------------------------------------------- metrics
def test_metrics_text_and_endpoint():
    import socket
    import urllib.request
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
    m = metrics.AgentMetrics(lambda: 7.0)
    m.seccomp.inc(operation="update")
    m.seccomp.inc(operation="update")
    m.seccomp_errors.inc(reason="InvalidProfile")
    text = m.render()
    assert 'security_profiles_operator_seccomp_profile_total{operation="update"} 2' in text
    assert 'security_profiles_operator_seccomp_profile_error_total{reason="InvalidProfile"} 1' in text
    assert "# TYPE security_profiles_operator_selinux_profile_total counter" in text
    assert "security_profiles_operator_node_agent_api_requests 7" in text
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = metrics.serve(port, {"/metrics": m.route}, host="127.0.0.1")
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
            assert resp.status == 200 and resp.read().decode() == m.render()
        request = urllib.request.Request("http://127.0.0.1:%d/metrics" % port,
                                         headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(request, timeout=5) as resp:  # content negotiation is prometheus_client's
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            assert resp.read().decode().endswith("# EOF\n")
    finally:
        server.shutdown()


def test_a_deletion_first_seen_in_an_api_response_is_reconciled(tmp_path):
    """A status patch's response can show the deletion before the watch does; the watch event then finds
    that version cached and reports nothing, so the cache update itself must queue the profile (a bench
    run of 20 agents left profiles Terminating for ever on a node finalizer before this)."""
    doc = _spec("p")
    doc["metadata"]["resourceVersion"] = "10"
    agent = _agent([doc], tmp_path)
    agent.lock = threading.RLock()
    agent.full = set()
    agent.queue = Coalescer(0.01)
    key = (SECCOMP_KIND, "ns", "p")
    status_only = copy.deepcopy(doc)
    status_only["metadata"]["resourceVersion"] = "11"
    status_only["status"] = {"status": "Installed"}
    agent._remember(key, status_only)
    assert agent.queue.wait(0.2) == []  # only the status changed: nothing to do on the node
    deleting = copy.deepcopy(status_only)
    deleting["metadata"]["resourceVersion"] = "12"
    deleting["metadata"]["deletionTimestamp"] = "2026-12-01T09:16:02Z"
    agent._remember(key, deleting)
    assert agent.reflectors[SECCOMP_KIND].get(("ns", "p"))["metadata"]["deletionTimestamp"]
    assert agent.queue.wait(1.0) == [key] and key in agent.full
    # the watch event of that version changes nothing any more: the handler would not have queued it
    assert agent.change_level(agent.reflectors[SECCOMP_KIND].get(("ns", "p")), slim_profile(deleting)) is None
    agent._remember(key, status_only)  # an older response never replaces the cache
    assert agent.reflectors[SECCOMP_KIND].get(("ns", "p"))["metadata"]["resourceVersion"] == "12"
    agent.queue.close()


def test_agents_take_turns_at_a_deleted_profiles_finalizer(tmp_path):
    """Every node gets its own place for a profile, and the order differs between profiles."""
    nodes = {"n%d" % i for i in range(20)}
    firsts = set()
    for name in ("p1", "p2", "p3", "p4", "p5", "p6"):
        key = (SECCOMP_KIND, "ns", name)
        turns = []
        for node in sorted(nodes):
            agent = _agent([], tmp_path)
            agent.node = node
            turns.append(agent.turn(key, nodes))
        assert sorted(turns) == list(range(20))
        firsts.add(turns.index(0))
    assert len(firsts) > 1
    agent.node = "not-a-node-yet"
    assert 0 <= agent.turn(key, nodes) <= 20 and agent.turn(key, None) == 0


@pytest.mark.parametrize("keeper, live, acts", [
    ("vm", {"vm", "b"}, (True, True)),      # the keeper: every node's status reaches its caches
    ("b", {"vm", "b"}, (False, False)),     # another node keeps it
    ("b", None, (False, False)),            # nodes not known yet: the keeper named still counts
    ("gone", {"vm", "b"}, (True, False)),   # the keeper's node is gone: every agent acts, listing
    (None, {"vm"}, (True, False)),          # claimed by an agent before keepers
])
def test_who_removes_a_deleted_profiles_finalizer(tmp_path, keeper, live, acts):
    agent = _agent([], tmp_path)
    agent.node = "vm"
    doc = _spec("p")
    if keeper:
        doc["metadata"]["annotations"] = {ns.ANNOTATION_KEEPER: keeper, "other": "x"}
    obj = slim_profile(doc)
    assert obj["metadata"].get("annotations") == ({ns.ANNOTATION_KEEPER: keeper} if keeper else None)
    assert agent.acting_keeper(obj, live) == acts


def test_an_spns_moving_between_caches_stays_known(tmp_path):
    """A settled SPNS that becomes unsettled leaves one watch and joins another; the second watch's event may
    come first, and the first watch's deletion must not drop it."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import (
        SPNS_CACHES, SpnsEntry)
    profile = dict(_spec("p"), apiVersion="security-profiles-operator.x-k8s.io/v1beta1")
    agent = _agent([profile], tmp_path)
    agent.node, agent.lock, agent.full, agent.spns_index = "vm", threading.RLock(), set(), {}
    agent.queue = Coalescer(0.01)
    for name in SPNS_CACHES:
        agent.reflectors[name] = _Reflector([])
    key = (SECCOMP_KIND, "ns", "p")

    def entry(state, workloads=()):
        return SpnsEntry(ns.spns_object(SECCOMP_KIND, profile, "b", state, "", workloads), "vm")

    def event(cache, old, new):  # as kube.Reflector does: the store first, then the handler
        store = agent.reflectors[cache].store
        if new is None:
            store.pop(old.key)
        else:
            store[new.key] = new
        agent._on_spns("X", (new or old).key, old, new)

    settled = entry("Installed")
    event("spns-kept", None, settled)
    assert agent.node_spns(key)["b"].status == "Installed"
    busy = entry("Installed", ["ns/pod"])
    event("spns-others", None, busy)
    event("spns-kept", settled, None)
    assert agent.node_spns(key)["b"].workload_list() == ["ns/pod"]
    event("spns-others", busy, None)
    assert agent.node_spns(key) == {}
    assert agent.queue.wait(0.5) == [key]  # the status is aggregated again
    agent.queue.close()


class _Listing(object):
    """The two API calls :meth:`NodeAgent.release` makes, answered from a list of SPNS (no API server here:
    the cluster suite runs the same decisions against a real one)."""

    def __init__(self, spns):
        self.spns = spns
        self.lists = 0
        self.removed = []

    def list(self, path, query):
        self.lists += 1
        return {"items": list(self.spns)}


@pytest.mark.parametrize("keeper, other_left, lists, removed, requeued", [
    ("vm", False, 1, True, None),      # the keeper: one list to be sure, then the finalizer goes
    ("vm", True, 1, False, 1.0),       # a status its caches lack: listed, looked at again in 1 s
    ("b", False, 0, False, 120.0),     # another node keeps it: nothing now, one look in 120 s
    (None, True, 1, False, 1.0),       # no keeper: every agent lists, and again while nodes are left
])
def test_release_of_a_deleted_profile(tmp_path, keeper, other_left, lists, removed, requeued):
    agent = _agent([], tmp_path)
    agent.node, agent.lock, agent.full, agent.spns_index = "vm", threading.RLock(), set(), {}
    agent.release_due, agent.release_polls = {}, {}
    agent.finalizer, agent.verbosity = ns.CLEANUP_FINALIZER, 0
    agent.settings = settings(None)
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import SPNS_CACHES
    for name in SPNS_CACHES:
        agent.reflectors[name] = _Reflector([])
    doc = dict(_spec("p"), apiVersion="security-profiles-operator.x-k8s.io/v1beta1")
    doc["metadata"]["finalizers"] = [ns.CLEANUP_FINALIZER]
    doc["metadata"]["deletionTimestamp"] = "2026-12-01T13:00:00Z"
    if keeper:
        doc["metadata"]["annotations"] = {ns.ANNOTATION_KEEPER: keeper}
    key = (SECCOMP_KIND, "ns", "p")
    agent.reflectors[SECCOMP_KIND].store[("ns", "p")] = doc
    agent.kube = _Listing([ns.spns_object(SECCOMP_KIND, doc, "b", "Installed")] if other_left else [])
    agent.remove_finalizer = lambda k, obj, finalizer: agent.kube.removed.append((k, finalizer))
    requeues = []
    agent.requeue = lambda k, delay: requeues.append(delay)
    agent.release(key, doc, {"vm", "b"})
    assert agent.kube.lists == lists
    assert agent.kube.removed == ([(key, ns.CLEANUP_FINALIZER)] if removed else [])
    assert requeues == ([requeued] if requeued else [])
    if keeper == "b":  # once the 120 s have passed, it lists and removes the finalizer itself
        agent.release_due[key] = 0.0
        agent.release(key, doc, {"vm", "b"})
        assert agent.kube.lists == 1 and agent.kube.removed == [(key, ns.CLEANUP_FINALIZER)]
