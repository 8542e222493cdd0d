# -*- coding: utf-8 -*-
"""ProfileRecording with ``recorder: bpf`` end to end in the real cluster: the SPOD's ``enableBpfRecorder`` runs
``spo-bpf-recorder`` (bpftrace) in the node DaemonSet; the recording webhook annotates the pod
(``io.containers.trace-bpf/<container>``) and leaves its profile alone; when the pod ends the recorder writes
``<recording>-<container>``; the node agent installs it; bound to the image, the same workload runs under it
and ``unshare`` is denied (runc enforces it).  No audit subsystem is involved.

The module deploys the operator with playbooks/deploy.yml (idempotent), turns ``enableBpfRecorder`` on and puts
the previous value back at the end.
"""
from __future__ import annotations

import pytest

from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import (BUSYBOX, core, create_obj, delete_obj, get_obj, patch_obj,  # pylint: disable=import-error
                      playbook, wait_gone, wait_status)
from test_recording import (WORKLOAD, _pod, _run_to_end, _wait_webhook_sees,  # pylint: disable=import-error
                            record_across_restarts)

API = "security-profiles-operator.x-k8s.io/v1alpha1"


def _recorder_pod(kube):
    for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=spod").items:
        ready = {s.name: s.ready for s in pod.status.container_statuses or []}
        if ready.get("bpf-recorder") and not pod.metadata.deletion_timestamp:
            return pod
    return None


@pytest.fixture(scope="module")
def bpf_recorder(kube):
    playbook("deploy.yml")
    spod = get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod")
    before = (spod.get("spec") or {}).get("enableBpfRecorder")
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod", {"spec": {"enableBpfRecorder": True}})
    try:
        wait_for(lambda: _recorder_pod(kube), 90, 2.0, "a ready bpf-recorder container")
    except AssertionError:
        for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=spod").items:
            if "bpf-recorder" not in [c.name for c in pod.spec.containers] and pod.status.phase == "Running":
                core(kube).delete_namespaced_pod(pod.metadata.name, OPERATOR_NAMESPACE)
        wait_for(lambda: _recorder_pod(kube), 120, 2.0, "a ready bpf-recorder container")
    yield _recorder_pod(kube)
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
              {"spec": {"enableBpfRecorder": bool(before)}})


@pytest.fixture
def ns(kube, namespace, bpf_recorder):
    core(kube).patch_namespace(namespace, {"metadata": {"labels": {"spo.x-k8s.io/enable-recording": "true",
                                                                   "spo.x-k8s.io/enable-binding": "true"}}})
    return namespace


def test_bpf_record_then_bind_the_recorded_profile(kube, ns, bpf_recorder):
    create_obj(kube, {"apiVersion": API, "kind": "ProfileRecording", "metadata": {"name": "rec", "namespace": ns},
                      "spec": {"kind": "SeccompProfile", "recorder": "bpf", "podSelector": {"matchLabels": {"app": "web"}}}})
    _wait_webhook_sees(kube, ns, {"app": "web"}, "io.containers.trace-bpf/")
    phase, pod, log = _run_to_end(kube, ns, _pod("web", WORKLOAD, {"app": "web"}))
    assert phase == "Succeeded" and "hello-recording" in log, log
    assert pod.metadata.annotations["io.containers.trace-bpf/web"].startswith("rec_web_")
    assert "io.containers.trace-logs/web" not in pod.metadata.annotations
    # the webhook left the container's profile alone
    sc = core(kube).api_client.sanitize_for_serialization(pod.spec.containers[0].security_context) or {}
    assert "log-enricher-trace" not in str(sc.get("seccompProfile"))
    prof = wait_for(lambda: get_obj(kube, "SeccompProfile", ns, "rec-web"), 60, 0.2, "SeccompProfile rec-web")
    assert prof["metadata"]["labels"] == {"spo.x-k8s.io/recording-id": "rec", "spo.x-k8s.io/container-id": "web"}
    names = set(prof["spec"]["syscalls"][0]["names"])
    print("bpf recording: %d syscalls" % len(names))
    assert {"execve", "socket", "bind", "listen", "accept", "connect", "mkdir", "write", "exit_group"} <= names
    assert "unshare" not in names
    installed = wait_status(kube, "SeccompProfile", ns, "rec-web", "Installed", 60)
    assert installed["status"]["localhostProfile"] == "operator/%s/rec-web.json" % ns
    core(kube).delete_namespaced_pod("web", ns, grace_period_seconds=0)
    delete_obj(kube, "ProfileRecording", ns, "rec")
    wait_gone(kube, "ProfileRecording", ns, "rec", 60)
    create_obj(kube, {"apiVersion": API, "kind": "ProfileBinding", "metadata": {"name": "bind", "namespace": ns},
                      "spec": {"profileRef": {"kind": "SeccompProfile", "name": "rec-web"}, "image": BUSYBOX}})
    want = {"type": "Localhost", "localhostProfile": "operator/%s/rec-web.json" % ns}

    def bound():
        stored = core(kube).create_namespaced_pod(ns, _pod("probe", "true"), dry_run="All")
        return stored.spec.containers[0].security_context and \
            core(kube).api_client.sanitize_for_serialization(stored.spec.containers[0].security_context).get(
                "seccompProfile") == want
    wait_for(bound, 30, 0.5, "the binding in the webhook's cache")
    phase, pod, log = _run_to_end(kube, ns, _pod("bound", WORKLOAD + "; unshare -U true; echo unshare=$?"))
    assert core(kube).api_client.sanitize_for_serialization(pod.spec.containers[0].security_context)["seccompProfile"] == want
    assert "hello-recording" in log, log
    assert "unshare=1" in log and "Operation not permitted" in log, log
    assert "can't" not in log, log
    core(kube).delete_namespaced_pod("bound", ns, grace_period_seconds=0)
    delete_obj(kube, "ProfileBinding", ns, "bind")


def test_bpf_recording_survives_the_recorders_crash_and_its_pods_replacement(kube, ns, bpf_recorder):
    """The recorder SIGKILLed (only what it wrote before survives) and then its pod replaced (a DaemonSet rollout: a
    new pod, the old container's /tmp gone) while a recorded pod runs: the profile holds what the container called
    before, between and after (each call made only in its phase)."""
    record_across_restarts(kube, ns, "bpf", "bpf-recorder", _recorder_pod, while_down=False)
