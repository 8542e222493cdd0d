# -*- coding: utf-8 -*-
"""Label sync, source workloads: pod templates judged as the API server admits them (server-side dry run),
cached, capped per namespace and rate-limited whatever a tenant creates.  The API server's side is proved
in tests/cluster/test_label_sync.py; here ``create`` stands for it and counts the dry runs asked."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import KubeError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import dryrun, workloads as wl

BARE = {"containers": [{"name": "c", "image": "i"}]}  # names no securityContext: baseline as written
# what SCC restricted-v2 makes of it on admission
ADMITTED = {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000650000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "i", "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsUser": 1000650000}}]}
PRIVILEGED = {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]}


def _deployment(spec, name="d", labels=None, annotations=None):
    meta = {"labels": labels or {"app": name}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": {"name": name, "namespace": "n"}, "spec": {"template": {"metadata": meta, "spec": spec}}}


class FakeServer(object):
    """Answers dry-run pod creates as admission would: ``admit(spec) -> spec`` or raises."""

    def __init__(self, admit=lambda spec: ADMITTED):
        self.admit = admit
        self.asked = []

    def __call__(self, namespace, pod):
        self.asked.append((namespace, copy.deepcopy(pod)))
        return dict(pod, spec=self.admit(pod["spec"]))


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _raw(summary):
    return summary.level, summary.why


def test_summary_keeps_the_template_and_a_deployment_shares_it_with_its_replicaset():
    dep = wl.summarize("Deployment", _deployment(BARE))
    rs = wl.summarize("ReplicaSet", _deployment(BARE, labels={"app": "d", "pod-template-hash": "abc"}))
    assert dep.level == "baseline" and dep.template["spec"] == BARE
    assert dep.template_key == rs.template_key  # labels are not what admission decides on
    assert wl.summarize("Deployment", _deployment(BARE, annotations={"a": "b"})).template_key != dep.template_key
    assert wl.summarize("Deployment", _deployment(PRIVILEGED)).template_key != dep.template_key
    pod = wl.summarize("Pod", {"metadata": {"name": "p", "namespace": "n"}, "spec": BARE})
    assert pod.template is None  # a pod was admitted already: judged as it is


def test_the_pod_asked_for_is_the_template_in_the_namespace():
    template = {"metadata": {"labels": {"app": "d"}, "annotations": {"x": "y"}},
                "spec": dict(BARE, serviceAccountName="app")}
    pod = dryrun.template_pod(template, "n")
    assert pod["kind"] == "Pod" and pod["metadata"]["namespace"] == "n"
    assert pod["metadata"]["generateName"].startswith("spo-label-sync-dry-run")
    assert pod["metadata"]["annotations"] == {"x": "y"} and pod["spec"]["serviceAccountName"] == "app"


def test_a_template_is_judged_as_admitted_once():
    server = FakeServer()
    judge = dryrun.DryRunJudge(server)
    summary = wl.summarize("Deployment", _deployment(BARE))
    judged = judge.judge("n", summary.template, _raw(summary), "restricted")
    assert judged == dryrun.Judged("restricted", "", True)  # SCC admission filled in the securityContext
    for _again in range(5):  # the Deployment, its ReplicaSets, every later sync: no more dry runs
        assert judge.judge("n", summary.template, _raw(summary), "restricted") == judged
    assert len(server.asked) == 1 and judge.dry_runs == 1


def test_what_admission_makes_worse_is_judged_worse():
    # a mutating webhook adding a privileged sidecar: the template alone says restricted
    server = FakeServer(lambda spec: {"containers": spec["containers"] + PRIVILEGED["containers"][:1]})
    summary = wl.summarize("Deployment", _deployment(ADMITTED))
    assert summary.level == "restricted"
    judged = dryrun.DryRunJudge(server).judge("n", summary.template, _raw(summary))
    assert judged.level == "privileged" and "privileged" in judged.why and judged.exact


def _refuse(message):
    def admit(_spec):
        raise KubeError(403, message, "Forbidden", "POST", "/api/v1/namespaces/n/pods")
    return admit


def test_refused_by_pod_security_needs_more_than_the_level_that_refused_it():
    refusal = 'pods "x" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" ...)'
    judge = dryrun.DryRunJudge(FakeServer(_refuse(refusal)))
    summary = wl.summarize("Deployment", _deployment(ADMITTED))  # restricted as written
    judged = judge.judge("n", summary.template, _raw(summary), "restricted")
    assert judged.level == "baseline" and not judged.exact and "refused the dry run" in judged.why
    summary = wl.summarize("Deployment", _deployment(PRIVILEGED))
    assert judge.judge("n", summary.template, _raw(summary), "restricted").level == "privileged"


def test_other_refusals_judge_the_template_as_written():
    refusal = 'pods "x" is forbidden: unable to validate against any security context constraint: [...]'
    judge = dryrun.DryRunJudge(FakeServer(_refuse(refusal)))
    summary = wl.summarize("Deployment", _deployment(BARE))
    judged = judge.judge("n", summary.template, _raw(summary), "restricted")
    assert judged.level == "baseline" and "security context constraint" in judged.why and judge.refused == 1


def test_a_refusal_is_asked_again_at_a_new_enforce_level_an_admission_is_not():
    refusal = 'pods "x" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (...)'
    server = FakeServer(_refuse(refusal))
    judge = dryrun.DryRunJudge(server)
    summary = wl.summarize("Deployment", _deployment(BARE))
    assert judge.judge("n", summary.template, _raw(summary), "restricted").level == "baseline"
    server.admit = lambda spec: ADMITTED  # e.g. now under a level the pod passes
    judged = judge.judge("n", summary.template, _raw(summary), "baseline")
    assert judged.exact and judged.level == "restricted" and len(server.asked) == 2
    assert list(judge.cache["n"]) == [("", summary.template_key)]  # the refusal made room
    judge.judge("n", summary.template, _raw(summary), "restricted")  # admitted once: whatever the label
    assert len(server.asked) == 2


def test_many_templates_cost_at_most_the_cap_per_namespace():
    server = FakeServer()
    clock = Clock()
    judge = dryrun.DryRunJudge(server, per_namespace=8, clock=clock)
    summaries = [wl.summarize("Deployment", _deployment(BARE, annotations={"n": str(i)})) for i in range(200)]
    in_use = {s.template_key for s in summaries}
    for _sync in range(3):
        levels = [judge.judge("n", s.template, _raw(s), "restricted", in_use).level for s in summaries]
    assert len(server.asked) == 8  # the first 8 templates, once each
    assert levels[:8] == ["restricted"] * 8 and set(levels[8:]) == {"baseline"}  # the rest as written
    assert "more than 8 distinct pod templates" in judge.judge("n", summaries[50].template, _raw(summaries[50]),
                                                               "restricted", in_use).why
    assert len(judge.cache["n"]) == 8
    # another namespace has its own cap
    judge.judge("m", summaries[0].template, _raw(summaries[0]), "restricted")
    assert len(server.asked) == 9
    # templates gone make room for new ones (once the namespace's rate allows another)
    clock.now += 1.0
    judge.judge("n", summaries[100].template, _raw(summaries[100]), "restricted", {summaries[100].template_key})
    assert len(server.asked) == 10 and len(judge.cache["n"]) == 1


def test_template_churn_is_rate_limited_per_namespace_and_in_all():
    server = FakeServer()
    clock = Clock()
    judge = dryrun.DryRunJudge(server, per_namespace=4, namespace_rate=1.0, rate=100.0, burst=5, clock=clock)

    def churn(namespace, i):
        s = wl.summarize("Deployment", _deployment(BARE, annotations={"rev": str(i)}))
        return judge.judge(namespace, s.template, _raw(s), "restricted", {s.template_key})  # one template, changed

    for i in range(4):
        churn("n", i)
    with pytest.raises(dryrun.Throttled) as caught:
        churn("n", 4)  # the namespace's burst (the cap) is spent
    assert 0.9 <= caught.value.delay <= 1.0
    churn("m", 0)  # another namespace: the shared burst (5) is spent now
    with pytest.raises(dryrun.Throttled):
        churn("o", 0)
    clock.now += 1.0
    churn("n", 5)
    assert len(server.asked) == 6


def test_a_template_that_cannot_be_judged_stays_privileged():
    summary = wl.summarize("Deployment", {"metadata": {"name": "b", "namespace": "n"},
                                          "spec": {"template": {"spec": {"containers": "x"}}}})
    assert summary.level == "privileged" and summary.template is None  # never dry-run, never lowered
