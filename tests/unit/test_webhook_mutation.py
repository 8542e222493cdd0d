# -*- coding: utf-8 -*-
"""The webhook's pure mutations: ProfileBinding, ProfileRecording, RuntimeDefault, image matching, selectors,
JSON patches (data-driven)."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import binding, recording, runtimedefault
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import (
    SelectorError, apply_patch, image_matches, json_patch, normalize_image, selector_matches)

NS = "apps"


def pod(*containers, init=(), sc=None, annotations=None, labels=None):
    spec = {"containers": [dict(c) for c in containers]}
    if init:
        spec["initContainers"] = [dict(c) for c in init]
    if sc is not None:
        spec["securityContext"] = sc
    meta = {"name": "p", "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def ctr(name, image, sc=None):
    out = {"name": name, "image": image}
    if sc is not None:
        out["securityContext"] = sc
    return out


def bind(name, kind, profile, image, deleting=False):
    meta = {"name": name, "namespace": NS}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"kind": "ProfileBinding", "metadata": meta,
            "spec": {"profileRef": {"kind": kind, "name": profile}, "image": image}}


PROFILES = {
    ("SeccompProfile", NS, "sec"): {"metadata": {"name": "sec"},
                                    "status": {"status": "Installed", "localhostProfile": "operator/apps/sec.json"}},
    ("SeccompProfile", NS, "sec2"): {"metadata": {"name": "sec2"}, "status": {}},
    ("SeccompProfile", NS, "pending"): {"metadata": {"name": "pending"}, "status": {"status": "Pending"}},
    ("SeccompProfile", NS, "gone"): {"metadata": {"name": "gone", "deletionTimestamp": "x"}},
    ("SelinuxProfile", NS, "sel"): {"metadata": {"name": "sel"}, "status": {"usage": "sel_apps.process"}},
    ("SelinuxProfile", NS, "sel-nostatus"): {"metadata": {"name": "sel-nostatus"}},
}


def lookup(kind, namespace, name):
    return PROFILES.get((kind, namespace, name))


SEC = {"type": "Localhost", "localhostProfile": "operator/apps/sec.json"}
SEC2 = {"type": "Localhost", "localhostProfile": "operator/apps/sec2.json"}

# (id, pod, bindings, expected container seccomp per (list, index), expected pod-level seccomp, warnings substrings)
BINDING_CASES = [
    ("exact image", pod(ctr("a", "nginx:1.19.1"), ctr("b", "busybox")), [bind("b1", "SeccompProfile", "sec", "nginx:1.19.1")],
     {("containers", 0): SEC, ("containers", 1): None}, None, []),
    ("normalized image", pod(ctr("a", "docker.io/library/nginx:1.19.1")), [bind("b1", "SeccompProfile", "sec", "nginx:1.19.1")],
     {("containers", 0): SEC}, None, []),
    ("other tag untouched", pod(ctr("a", "nginx:1.20")), [bind("b1", "SeccompProfile", "sec", "nginx:1.19.1")],
     {("containers", 0): None}, None, []),
    ("init containers too", pod(ctr("a", "x"), init=[ctr("i", "nginx:1.19.1")]),
     [bind("b1", "SeccompProfile", "sec", "nginx:1.19.1")], {("initContainers", 0): SEC, ("containers", 0): None}, None, []),
    ("container value replaced", pod(ctr("a", "nginx:1.19.1", {"seccompProfile": {"type": "Unconfined"}})),
     [bind("b1", "SeccompProfile", "sec", "nginx:1.19.1")], {("containers", 0): SEC}, None, []),
    ("no status: path from the name", pod(ctr("a", "x")), [bind("b1", "SeccompProfile", "sec2", "x")],
     {("containers", 0): SEC2}, None, []),
    ("not installed is applied", pod(ctr("a", "x")), [bind("b1", "SeccompProfile", "pending", "x")],
     {("containers", 0): {"type": "Localhost", "localhostProfile": "operator/apps/pending.json"}}, None, []),
    ("missing profile skipped", pod(ctr("a", "x")), [bind("b1", "SeccompProfile", "nope", "x")],
     {("containers", 0): None}, None, ["SeccompProfile apps/nope does not exist"]),
    ("profile being deleted skipped", pod(ctr("a", "x")), [bind("b1", "SeccompProfile", "gone", "x")],
     {("containers", 0): None}, None, ["is being deleted"]),
    ("binding being deleted skipped", pod(ctr("a", "x")), [bind("b1", "SeccompProfile", "sec", "x", deleting=True)],
     {("containers", 0): None}, None, []),
    ("star sets pod level", pod(ctr("a", "x"), ctr("b", "y")), [bind("all", "SeccompProfile", "sec", "*")],
     {("containers", 0): None, ("containers", 1): None}, SEC, []),
    ("star never overrides pod level", pod(ctr("a", "x"), sc={"seccompProfile": {"type": "RuntimeDefault"}}),
     [bind("all", "SeccompProfile", "sec", "*")], {("containers", 0): None}, {"type": "RuntimeDefault"}, []),
    ("star never overrides the legacy annotation",
     pod(ctr("a", "x"), annotations={"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}),
     [bind("all", "SeccompProfile", "sec", "*")], {("containers", 0): None}, None, []),
    ("star only without a specific match", pod(ctr("a", "x"), ctr("b", "y")),
     [bind("all", "SeccompProfile", "sec2", "*"), bind("b1", "SeccompProfile", "sec", "x")],
     {("containers", 0): SEC, ("containers", 1): None}, None, []),
    ("first binding by name wins", pod(ctr("a", "x")),
     [bind("zz", "SeccompProfile", "sec2", "x"), bind("aa", "SeccompProfile", "sec", "x")],
     {("containers", 0): SEC}, None, ["already has the SeccompProfile of ProfileBinding aa"]),
]


@pytest.mark.parametrize("case", BINDING_CASES, ids=[c[0] for c in BINDING_CASES])
def test_binding(case):
    _id, given, bindings, want_containers, want_pod, want_warnings = case
    before = copy.deepcopy(given)
    result = binding.mutate(given, NS, bindings, lookup)
    assert given == before, "the input pod is not modified"
    for (list_name, index), want in want_containers.items():
        got = (result.pod["spec"][list_name][index].get("securityContext") or {}).get("seccompProfile")
        assert got == want, (list_name, index)
    assert (result.pod["spec"].get("securityContext") or {}).get("seccompProfile") == want_pod
    for text in want_warnings:
        assert any(text in w for w in result.warnings), result.warnings
    if not want_warnings:
        assert result.warnings == []
    # the patch turns the request's object into the result
    assert apply_patch(given, json_patch(given, result.pod)) == result.pod


def test_binding_selinux_sets_type_only():
    given = pod(ctr("a", "x", {"seLinuxOptions": {"level": "s0:c1,c2", "type": "container_t"}}), ctr("b", "x"))
    result = binding.mutate(given, NS, [bind("s", "SelinuxProfile", "sel", "x")], lookup)
    want = {"level": "s0:c1,c2", "type": "sel_apps.process"}
    assert result.pod["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] == want
    assert result.pod["spec"]["containers"][1]["securityContext"]["seLinuxOptions"] == {"type": "sel_apps.process"}
    result = binding.mutate(pod(ctr("a", "x")), NS, [bind("s", "SelinuxProfile", "sel-nostatus", "*")], lookup)
    assert result.pod["spec"]["securityContext"]["seLinuxOptions"] == {"type": "sel-nostatus_apps.process"}


def test_binding_kinds_are_independent():
    given = pod(ctr("a", "x"))
    result = binding.mutate(given, NS, [bind("s", "SelinuxProfile", "sel", "*"), bind("c", "SeccompProfile", "sec", "x")],
                            lookup)
    assert result.pod["spec"]["securityContext"] == {"seLinuxOptions": {"type": "sel_apps.process"}}
    assert result.pod["spec"]["containers"][0]["securityContext"] == {"seccompProfile": SEC}
    assert result.applied == {"s": ["pod"], "c": ["containers[0]"]}


def test_binding_only_on_create_and_new_ephemeral_containers():
    given = pod(ctr("a", "x"))
    assert binding.mutate(given, NS, [bind("b", "SeccompProfile", "sec", "x")], lookup, "UPDATE").pod == given
    assert binding.mutate(given, NS, [bind("b", "SeccompProfile", "sec", "x")], lookup, "DELETE").pod == given
    old = pod(ctr("a", "x"))
    old["spec"]["ephemeralContainers"] = [ctr("dbg1", "x")]
    new = copy.deepcopy(old)
    new["spec"]["ephemeralContainers"].append(ctr("dbg2", "x"))
    result = binding.mutate(new, NS, [bind("b", "SeccompProfile", "sec", "x"), bind("all", "SeccompProfile", "sec", "*")],
                            lookup, "UPDATE", old, "ephemeralcontainers")
    spec = result.pod["spec"]
    assert "securityContext" not in spec["containers"][0] and "securityContext" not in spec
    assert "securityContext" not in spec["ephemeralContainers"][0]
    assert spec["ephemeralContainers"][1]["securityContext"] == {"seccompProfile": SEC}


def test_bound_pod():
    b = bind("b1", "SeccompProfile", "sec", "x")
    assert binding.bound_pod(b, pod(ctr("a", "x", {"seccompProfile": SEC})), PROFILES[("SeccompProfile", NS, "sec")])
    assert not binding.bound_pod(b, pod(ctr("a", "x")), PROFILES[("SeccompProfile", NS, "sec")])
    assert not binding.bound_pod(b, pod(ctr("a", "y", {"seccompProfile": SEC})), PROFILES[("SeccompProfile", NS, "sec")])
    star = bind("all", "SeccompProfile", "sec", "*")
    assert binding.bound_pod(star, pod(ctr("a", "y"), sc={"seccompProfile": SEC}), None)  # path from the name
    assert not binding.bound_pod(star, pod(ctr("a", "y"), sc={"seccompProfile": SEC2}), None)
    assert binding.bound_pod(star, pod(ctr("a", "y"), sc={"seccompProfile": SEC}), PROFILES[("SeccompProfile", NS, "sec")])


# ------------------------------------------------------------------------------------------ recording
def rec(name, kind="SeccompProfile", selector=None, containers=None, recorder=None, deleting=False):
    spec = {"kind": kind, "podSelector": {"matchLabels": {"app": "web"}} if selector is None else selector}
    if containers is not None:
        spec["containers"] = containers
    if recorder:
        spec["recorder"] = recorder
    meta = {"name": name, "namespace": NS}
    if deleting:
        meta["deletionTimestamp"] = "x"
    return {"metadata": meta, "spec": spec}


LOG = {"type": "Localhost", "localhostProfile": "operator/spo/log-enricher-trace.json"}


def run_rec(given, recordings):
    return recording.mutate(given, NS, recordings, "spo", lambda: "n0nce", 1700000000)


def test_recording_seccomp():
    given = pod(ctr("web", "nginx"), ctr("side", "busybox"), init=[ctr("setup", "busybox")], labels={"app": "web"},
                annotations={"io.containers.trace-logs/web": "spoofed"})
    result = run_rec(given, [rec("rec")])
    spec = result.pod["spec"]
    assert [c["securityContext"]["seccompProfile"] for c in spec["initContainers"] + spec["containers"]] == [LOG] * 3
    ann = result.pod["metadata"]["annotations"]
    assert ann["io.containers.trace-logs/web"] == "rec_web_n0nce_1700000000"  # the spoofed value is overwritten
    assert ann["io.containers.trace-logs/setup"] == "rec_setup_n0nce_1700000000"
    assert result.recorded == {"rec": ["setup", "web", "side"]}
    assert apply_patch(given, json_patch(given, result.pod)) == result.pod


def test_recording_containers_selinux_and_skips():
    given = pod(ctr("web", "nginx", {"seLinuxOptions": {"type": "container_t"}}), ctr("side", "busybox"),
                labels={"app": "web"})
    result = run_rec(given, [rec("rec", "SelinuxProfile", containers=["web"])])
    assert result.pod["spec"]["containers"][0]["securityContext"]["seLinuxOptions"] == {"type": "selinuxrecording.process"}
    assert "securityContext" not in result.pod["spec"]["containers"][1]
    assert result.pod["metadata"]["annotations"] == {"io.containers.trace-avcs/web": "rec_web_n0nce_1700000000"}
    assert any("replaced by the recording type" in w for w in result.warnings)
    for recordings in ([rec("r", selector={"matchLabels": {"app": "db"}})], [rec("r", deleting=True)],
                       [rec("r", "SelinuxProfile", recorder="bpf")], [rec("r", recorder="hook")],
                       [rec("r", selector=None)] and [{"metadata": {"name": "r"}, "spec": {"kind": "SeccompProfile"}}]):
        assert run_rec(given, recordings).pod == given
    assert run_rec(given, [rec("r", selector={})]).recorded == {"r": ["web", "side"]}  # {} selects every pod
    assert recording.mutate(given, NS, [rec("r")], "spo", lambda: "x", 1, "UPDATE").pod == given


def test_recording_bpf_annotates_only():
    """recorder: bpf: the eBPF recorder sees the container under its own profile; only the annotation is set."""
    given = pod(ctr("web", "nginx", {"seccompProfile": {"type": "RuntimeDefault"}}), ctr("side", "busybox"),
                labels={"app": "web"})
    result = run_rec(given, [rec("rec", recorder="bpf", containers=["web"])])
    assert result.pod["spec"] == given["spec"] and not result.warnings
    assert result.pod["metadata"]["annotations"] == {"io.containers.trace-bpf/web": "rec_web_n0nce_1700000000"}
    assert result.recorded == {"rec": ["web"]}
    # a logs recording of the same container comes second (name order): the first keeps it
    result = run_rec(given, [rec("b-logs"), rec("a-bpf", recorder="bpf")])
    assert result.recorded == {"a-bpf": ["web", "side"]} and result.pod["spec"] == given["spec"]


def test_recording_first_wins_and_bad_selector():
    given = pod(ctr("web", "nginx"), labels={"app": "web"})
    result = run_rec(given, [rec("b"), rec("a")])
    assert result.recorded == {"a": ["web"]} and any("already recorded by a" in w for w in result.warnings)
    bad = rec("bad", selector={"matchExpressions": [{"key": "app", "operator": "Near"}]})
    result = run_rec(given, [bad])
    assert result.pod == given and "operator" in result.warnings[0]


# ------------------------------------------------------------------------------------------ runtime default
RD_CASES = [
    ("no profile", pod(ctr("a", "x")), True),
    ("pod level set", pod(ctr("a", "x"), sc={"seccompProfile": {"type": "Unconfined"}}), False),
    ("legacy pod annotation", pod(ctr("a", "x"), annotations={"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}), False),
    ("container level kept", pod(ctr("a", "x", {"seccompProfile": {"type": "Unconfined"}}), ctr("b", "y")), True),
    ("other pod fields kept", pod(ctr("a", "x"), sc={"runAsUser": 5}), True),
]


@pytest.mark.parametrize("case", RD_CASES, ids=[c[0] for c in RD_CASES])
def test_runtime_default(case):
    _id, given, changed = case
    new = runtimedefault.mutate(given)
    if not changed:
        assert new is None
        return
    assert new["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert new["spec"]["containers"] == given["spec"]["containers"]  # containers never changed
    assert {k: v for k, v in new["spec"]["securityContext"].items() if k != "seccompProfile"} == \
        given["spec"].get("securityContext", {})
    assert runtimedefault.mutate(given, "UPDATE") is None


@pytest.mark.parametrize("name,labels,want", [
    ("apps", None, True), ("apps", {runtimedefault.LABEL: "false"}, False), ("kube-system", None, False),
    ("openshift-dns", None, False), ("default", {}, False), ("default", {runtimedefault.LABEL: "true"}, True),
    ("spo", None, False), ("kube-x", {runtimedefault.LABEL: "true"}, True)])
def test_runtime_default_namespaces(name, labels, want):
    assert runtimedefault.namespace_wanted(name, labels, "spo") is want


# ------------------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize("ref,want", [
    ("nginx", "docker.io/library/nginx:latest"), ("nginx:1.19.1", "docker.io/library/nginx:1.19.1"),
    ("library/nginx:1", "docker.io/library/nginx:1"), ("index.docker.io/x/y", "docker.io/x/y:latest"),
    ("quay.io/a/b@sha256:abc", "quay.io/a/b@sha256:abc"), ("localhost/spo/x:dev", "localhost/spo/x:dev"),
    ("registry:5000/x", "registry:5000/x:latest"), ("docker.io/library/busybox:local", "docker.io/library/busybox:local")])
def test_normalize_image(ref, want):
    assert normalize_image(ref) == want


def test_image_matches():
    assert image_matches("busybox:local", "docker.io/library/busybox:local")
    assert not image_matches("busybox", "busybox:local") and not image_matches("x", None) and not image_matches("", "")


@pytest.mark.parametrize("selector,labels,want", [
    (None, {"a": "1"}, False), ({}, {}, True), ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False)])
def test_selector(selector, labels, want):
    assert selector_matches(selector, labels) is want


@pytest.mark.parametrize("selector", [{"matchExpressions": [{"key": "a", "operator": "In"}]}, {"matchLabels": []},
                                      {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "x"])
def test_selector_errors(selector):
    with pytest.raises(SelectorError):
        selector_matches(selector, {})


def test_json_patch_escapes_and_lists():
    old = {"metadata": {"annotations": {"a/b~c": "1"}}, "l": [1, 2], "m": [1]}
    new = {"metadata": {"annotations": {"a/b~c": "2", "x/y": "3"}}, "l": [1, 3], "m": [1, 2]}
    ops = json_patch(old, new)
    assert {"op": "replace", "path": "/metadata/annotations/a~1b~0c", "value": "2"} in ops
    assert {"op": "add", "path": "/metadata/annotations/x~1y", "value": "3"} in ops
    assert {"op": "replace", "path": "/l/1", "value": 3} in ops and {"op": "replace", "path": "/m", "value": [1, 2]} in ops
    assert apply_patch(old, ops) == new
    assert json_patch(old, copy.deepcopy(old)) == []
