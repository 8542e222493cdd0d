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

import os
import signal
import subprocess
import time

import pytest

from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import (BUSYBOX, core, create_obj, delete_obj, get_obj, patch_obj,  # pylint: disable=import-error
                      playbook, pod_phase, wait_gone, wait_status)
from test_recording import WORKLOAD, _pod, _run_to_end, _wait_webhook_sees  # pylint: disable=import-error

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


def _kill_container(pod, name):
    """SIGKILL every process of container ``name`` of ``pod`` (hostPID: they are this host's), as a crash or an
    OOM kill would; returns how many were killed."""
    cid = [s.container_id for s in pod.status.container_statuses if s.name == name][0].split("://")[-1]
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cgroup" % entry) as handle:
                if cid not in handle.read():
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue
    return killed


def _restarts(pod):
    return [s.restart_count for s in pod.status.container_statuses if s.name == "bpf-recorder"][0]


def _log_has(kube, ns, name, text):
    try:
        return text in core(kube).read_namespaced_pod_log(name, ns)
    except Exception:  # pylint: disable=broad-except
        return False


def _go(ns, name, flag):
    subprocess.run(["kubectl", "exec", "-n", ns, name, "--", "touch", flag], check=True, timeout=60)


def test_bpf_recording_survives_the_recorders_crash_and_its_pods_replacement(kube, ns, bpf_recorder):
    """A recorded pod runs while its node's recorder is killed (SIGKILL: only what it wrote before survives) and
    then its pod replaced (a DaemonSet rollout: a new pod, the container's /tmp gone): the profile holds what the
    container called before, between and after (each pair of calls is made only in its phase)."""
    create_obj(kube, {"apiVersion": API, "kind": "ProfileRecording", "metadata": {"name": "keep", "namespace": ns},
                      "spec": {"kind": "SeccompProfile", "recorder": "bpf",
                               "podSelector": {"matchLabels": {"app": "keep"}}}})
    _wait_webhook_sees(kube, ns, {"app": "keep"}, "io.containers.trace-bpf/")
    wait = "while [ ! -e /tmp/go%d ]; do sleep 0.2; done"
    script = "; ".join(["sync", "fallocate -l 4096 /tmp/f", "echo phase-1", wait % 1,
                        "ionice -p 1", "echo phase-2", wait % 2, "uptime", "echo phase-3"])
    core(kube).create_namespaced_pod(ns, _pod("keep", script, {"app": "keep"}))
    wait_for(lambda: _log_has(kube, ns, "keep", "phase-1"), 90, 0.5, "the recorded pod's first calls")
    time.sleep(3)  # the recorder writes a set within a second of its change
    started = time.monotonic()
    first = _recorder_pod(kube)
    assert _kill_container(first, "bpf-recorder") > 0
    wait_for(lambda: (lambda p: p is not None and p.metadata.uid == first.metadata.uid and
                      _restarts(p) > _restarts(first))(_recorder_pod(kube)), 180, 1.0, "the killed recorder back")
    crashed = time.monotonic() - started
    _go(ns, "keep", "/tmp/go1")
    wait_for(lambda: _log_has(kube, ns, "keep", "phase-2"), 60, 0.5, "the recorded pod's second calls")
    time.sleep(3)
    started = time.monotonic()
    second = _recorder_pod(kube)
    core(kube).delete_namespaced_pod(second.metadata.name, OPERATOR_NAMESPACE)
    wait_for(lambda: (lambda p: p is not None and p.metadata.uid != second.metadata.uid)(_recorder_pod(kube)),
             180, 1.0, "a new recorder pod")
    replaced = time.monotonic() - started
    print("bpf recorder back after SIGKILL in %.1fs, after its pod's replacement in %.1fs" % (crashed, replaced))
    _go(ns, "keep", "/tmp/go2")
    wait_for(lambda: pod_phase(kube, ns, "keep") in ("Succeeded", "Failed"), 60, 0.5, "the recorded pod to end")
    log = core(kube).read_namespaced_pod_log("keep", ns)
    assert pod_phase(kube, ns, "keep") == "Succeeded" and "phase-3" in log, log
    prof = wait_for(lambda: get_obj(kube, "SeccompProfile", ns, "keep-web"), 60, 0.5, "SeccompProfile keep-web")
    names = set(prof["spec"]["syscalls"][0]["names"])
    print("bpf recording across two recorder restarts: %d syscalls" % len(names))
    assert {"sync", "fallocate"} <= names, "lost what was recorded before the crash: %s" % sorted(names)
    assert "ioprio_get" in names, "lost what was recorded between the crash and the replacement: %s" % sorted(names)
    assert "sysinfo" in names, "missed what the container called after the replacement: %s" % sorted(names)
    core(kube).delete_namespaced_pod("keep", ns, grace_period_seconds=0)
    delete_obj(kube, "ProfileRecording", ns, "keep")
