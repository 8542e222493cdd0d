# -*- coding: utf-8 -*-
"""The webhook server in the real cluster: ProfileBinding, ProfileRecording and RuntimeDefault mutations applied by
the API server through spo-webhook, enforced by the kubelet (runc); failure policies; bad requests.

The module deploys the operator with playbooks/deploy.yml (idempotent: an operator already there stays) and does
not undeploy (test_operator_e2e.py does). Each test works in namespaces of its own (``h-wh-*``), labelled to opt in.
"""
from __future__ import annotations

import base64
import json
import socket
import ssl
import uuid

import pytest

from clusterlib import OPERATOR_NAMESPACE, delete_namespace, make_namespace, wait_for  # pylint: disable=import-error
from kubehelp import (BUSYBOX, apps, core, create_obj, delete_obj, get_obj, load_yaml, patch_obj,  # pylint: disable=import-error
                      playbook, pod_manifest, pod_phase, wait_status)

WEBHOOK = "security-profiles-operator-webhook"
CONFIG = "spo-mutating-webhook-configuration"
OTHER_IMAGE = "registry.example/other:1.0"  # never run: only admitted (server-side dry run)


def _webhook_ready(kube) -> bool:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    try:
        dep = apps(kube).read_namespaced_deployment(WEBHOOK, OPERATOR_NAMESPACE)
        config = client.AdmissionregistrationV1Api(kube).read_mutating_webhook_configuration(CONFIG)
    except ApiException:
        return False
    return (dep.status.ready_replicas or 0) >= 2 and all(h.client_config.ca_bundle for h in config.webhooks)


@pytest.fixture(scope="module")
def webhook(kube):
    playbook("deploy.yml")
    wait_for(lambda: _webhook_ready(kube), 240, 2.0, "the webhook Deployment ready and its configuration in place")
    return kube


@pytest.fixture
def labelled(webhook):
    """make(labels) -> a fresh privileged namespace with these labels; all deleted after the test."""
    made = []

    def make(labels):
        name = make_namespace(webhook, "h-wh")
        made.append(name)
        core(webhook).patch_namespace(name, {"metadata": {"labels": labels}})
        return name
    yield make
    delete_namespace(webhook, *made)


def dry_run(kube, namespace, manifest):
    """The pod as the API server would store it (every admission plugin and webhook applied)."""
    return core(kube).api_client.sanitize_for_serialization(
        core(kube).create_namespaced_pod(namespace, manifest, dry_run="All"))


def seccomp_of(pod, container=0):
    return ((pod["spec"]["containers"][container].get("securityContext") or {}).get("seccompProfile"),
            (pod["spec"].get("securityContext") or {}).get("seccompProfile"))


def run(kube, namespace, script, image=BUSYBOX, labels=None, timeout=90):
    """Create a pod (no profile of its own), wait for it to finish; (stored pod, log)."""
    name = "p-" + uuid.uuid4().hex[:6]
    manifest = pod_manifest(name, script, image=image, labels=labels)
    stored = core(kube).api_client.sanitize_for_serialization(core(kube).create_namespaced_pod(namespace, manifest))
    wait_for(lambda: pod_phase(kube, namespace, name) in ("Succeeded", "Failed"), timeout, 1.0, "pod %s to finish" % name)
    log = core(kube).read_namespaced_pod_log(name, namespace)
    core(kube).delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    return stored, log


def profile(namespace, name, spec):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def binding(namespace, name, kind, profile_name, image):
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "ProfileBinding",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"profileRef": {"kind": kind, "name": profile_name}, "image": image}}


def condition(kube, namespace, name, ctype):
    obj = get_obj(kube, "ProfileBinding", namespace, name) or {}
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}.get(ctype)


DENY_UNSHARE = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["unshare"]}]}


def test_binding_seccomp_profile_enforced_for_the_image_only(webhook, labelled):
    kube = webhook
    ns = labelled({"spo.x-k8s.io/enable-binding": "true"})
    create_obj(kube, profile(ns, "deny-unshare", DENY_UNSHARE))
    wait_status(kube, "SeccompProfile", ns, "deny-unshare", "Installed", 90)
    create_obj(kube, binding(ns, "busybox", "SeccompProfile", "deny-unshare", BUSYBOX))
    want = {"type": "Localhost", "localhostProfile": "operator/%s/deny-unshare.json" % ns}
    probe = pod_manifest("probe", "true")
    wait_for(lambda: seccomp_of(dry_run(kube, ns, probe))[0] == want, 30, 0.5, "the binding in the webhook's cache")
    stored, log = run(kube, ns, "echo bound; unshare -r true; echo unshare-rc=$?")
    assert seccomp_of(stored) == (want, None)
    assert "bound" in log and "Operation not permitted" in log and "unshare-rc=1" in log, log
    # a pod of another image is untouched
    other = dry_run(kube, ns, pod_manifest("other", "true", image=OTHER_IMAGE))
    assert seccomp_of(other) == (None, None)
    # the binding reports its profile installed (the profilebinding role)
    wait_for(lambda: (condition(kube, ns, "busybox", "Ready") or {}).get("status") == "True", 90, 2.0,
             "the binding's Ready condition")


def test_binding_all_images_sets_the_pod_level_only(webhook, labelled):
    kube = webhook
    ns = labelled({"spo.x-k8s.io/enable-binding": ""})  # upstream's opt-in: the label exists
    create_obj(kube, profile(ns, "deny-unshare", DENY_UNSHARE))
    wait_status(kube, "SeccompProfile", ns, "deny-unshare", "Installed", 90)
    create_obj(kube, binding(ns, "all", "SeccompProfile", "deny-unshare", "*"))
    want = {"type": "Localhost", "localhostProfile": "operator/%s/deny-unshare.json" % ns}
    wait_for(lambda: seccomp_of(dry_run(kube, ns, pod_manifest("o", "true", image=OTHER_IMAGE)))[1] == want, 30, 0.5,
             "the * binding in the webhook's cache")
    own = pod_manifest("own", "true", image=OTHER_IMAGE, seccomp={"type": "RuntimeDefault"})
    assert seccomp_of(dry_run(kube, ns, own)) == (None, {"type": "RuntimeDefault"})  # never overridden
    stored, log = run(kube, ns, "unshare -r true; echo unshare-rc=$?")
    assert seccomp_of(stored) == (None, want) and "unshare-rc=1" in log, log


def test_binding_selinux_profile_and_baseline_report(webhook, labelled):
    kube = webhook
    ns = labelled({"spo.x-k8s.io/enable-binding": "true"})
    doc = load_yaml("profiles/selinux/errorlogger.yaml")
    doc["metadata"]["namespace"] = ns
    create_obj(kube, doc)
    create_obj(kube, binding(ns, "selinux", "SelinuxProfile", "errorlogger", BUSYBOX))
    usage = "errorlogger_%s.process" % ns

    def selinux_type():
        pod = dry_run(kube, ns, pod_manifest("s", "true"))
        return ((pod["spec"]["containers"][0].get("securityContext") or {}).get("seLinuxOptions") or {}).get("type")
    wait_for(lambda: selinux_type() == usage, 30, 0.5, "seLinuxOptions.type %s" % usage)
    cond = wait_for(lambda: condition(kube, ns, "selinux", "PodSecurityBaseline"), 90, 2.0, "the baseline condition")
    assert cond["status"] == "False" and cond["reason"] == "ViolatesBaseline"
    assert 'would violate PodSecurity "baseline:latest": seLinuxOptions' in cond["message"] and usage in cond["message"]


def test_binding_to_a_missing_profile_is_reported_and_admitted(webhook, labelled):
    kube = webhook
    ns = labelled({"spo.x-k8s.io/enable-binding": "true"})
    create_obj(kube, binding(ns, "dangling", "SeccompProfile", "does-not-exist", BUSYBOX))
    ready = wait_for(lambda: condition(kube, ns, "dangling", "Ready"), 90, 2.0, "the binding's Ready condition")
    assert ready["status"] == "False" and ready["reason"] == "ProfileNotFound"
    assert "SeccompProfile %s/does-not-exist does not exist" % ns in ready["message"]
    stored, log = run(kube, ns, "echo admitted")
    assert "admitted" in log and seccomp_of(stored) == (None, None)


def test_runtime_default_in_opted_in_namespaces_only(webhook, labelled):
    kube = webhook
    on = labelled({"spo.x-k8s.io/enable-runtime-default": "true"})
    off = labelled({})
    script = "grep Seccomp: /proc/self/status; unshare -r true; echo unshare-rc=$?"
    stored = wait_for(lambda: dry_run(kube, on, pod_manifest("d", "true")), 30, 0.5, "admission")
    assert seccomp_of(stored)[1] == {"type": "RuntimeDefault"}
    stored, log = run(kube, on, script)
    assert seccomp_of(stored) == (None, {"type": "RuntimeDefault"})
    assert "Seccomp:\t2" in log and "Operation not permitted" in log and "unshare-rc=1" in log, log
    explicit = pod_manifest("e", "true", seccomp={"type": "Unconfined"})
    assert seccomp_of(dry_run(kube, on, explicit)) == (None, {"type": "Unconfined"})  # explicit: never changed
    stored, log = run(kube, off, script)
    assert seccomp_of(stored) == (None, None), "a namespace not opted in is untouched"
    assert "unshare-rc=0" in log, log


def test_recording_webhook_gives_the_logging_profile(webhook, labelled):
    kube = webhook
    wait_status(kube, "SeccompProfile", OPERATOR_NAMESPACE, "log-enricher-trace", "Installed", 60)
    ns = labelled({"spo.x-k8s.io/enable-recording": "true"})
    create_obj(kube, {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "ProfileRecording",
                      "metadata": {"name": "rec", "namespace": ns},
                      "spec": {"kind": "SeccompProfile", "recorder": "logs", "podSelector": {"matchLabels": {"app": "web"}}}})
    want = {"type": "Localhost", "localhostProfile": "operator/%s/log-enricher-trace.json" % OPERATOR_NAMESPACE}
    probe = pod_manifest("r", "true", labels={"app": "web"})
    wait_for(lambda: seccomp_of(dry_run(kube, ns, probe))[0] == want, 30, 0.5, "the recording in the webhook's cache")
    stored, log = run(kube, ns, "echo recorded", labels={"app": "web"})
    assert seccomp_of(stored)[0] == want and "recorded" in log
    value = stored["metadata"]["annotations"]["io.containers.trace-logs/main"]
    assert value.startswith("rec_main_") and len(value.split("_")) == 4
    assert seccomp_of(dry_run(kube, ns, pod_manifest("n", "true", labels={"app": "db"}))) == (None, None)
    delete_obj(kube, "ProfileRecording", ns, "rec")


def _set_failure_policy(kube, policy):
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
              {"spec": {"webhookOptions": [{"name": "binding.spo.io", "failurePolicy": policy}] if policy else None}})

    def applied():
        from kubernetes import client
        config = client.AdmissionregistrationV1Api(kube).read_mutating_webhook_configuration(CONFIG)
        return {h.name: h.failure_policy for h in config.webhooks}["binding.spo.io"] == (policy or "Fail")
    wait_for(applied, 180, 2.0, "failurePolicy %s in the webhook configuration" % policy)


def _scale(kube, replicas):
    apps(kube).patch_namespaced_deployment_scale(WEBHOOK, OPERATOR_NAMESPACE, {"spec": {"replicas": replicas}})
    if replicas == 0:
        wait_for(lambda: not core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=" + WEBHOOK).items,
                 90, 1.0, "the webhook pods to be gone")


def test_webhook_down_failure_policies(webhook, labelled):
    from kubernetes.client.rest import ApiException
    kube = webhook
    ns = labelled({"spo.x-k8s.io/enable-binding": "true"})
    try:
        _set_failure_policy(kube, "Ignore")
        _scale(kube, 0)
        stored = dry_run(kube, ns, pod_manifest("ignored", "true"))
        assert stored["metadata"]["name"] == "ignored"  # admitted without the webhook
        _set_failure_policy(kube, "Fail")  # the reconcile also scales the Deployment back up: down again
        _scale(kube, 0)
        with pytest.raises(ApiException) as err:
            dry_run(kube, ns, pod_manifest("refused", "true"))
        body = json.loads(err.value.body)
        assert err.value.status == 500 and 'failed calling webhook "binding.spo.io"' in body["message"], body
        # a namespace that did not opt in is not affected
        other = labelled({})
        assert dry_run(kube, other, pod_manifest("free", "true"))["metadata"]["name"] == "free"
    finally:
        _set_failure_policy(kube, None)
        _scale(kube, 2)
        wait_for(lambda: _webhook_ready(kube), 180, 2.0, "the webhook back")


def _ca_and_pod_ip(kube):
    secret = core(kube).read_namespaced_secret(WEBHOOK + "-cert", OPERATOR_NAMESPACE)
    ca = base64.b64decode(secret.data["ca.crt"]).decode()
    pods = [p for p in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=" + WEBHOOK).items
            if p.status.pod_ip and p.status.phase == "Running"]
    assert pods, "no webhook pod runs"
    return ca, pods[0]


def _post(ip, ca, path, body, chunked=False):
    context = ssl.create_default_context(cadata=ca)
    with socket.create_connection((ip, 9443), 15) as raw:
        with context.wrap_socket(raw, server_hostname="%s.%s.svc" % (WEBHOOK, OPERATOR_NAMESPACE)) as sock:
            head = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path
            head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "Content-Length: %d\r\n\r\n" % len(body)
            try:
                sock.sendall(head.encode())
                if chunked:
                    for start in range(0, len(body), 65536):
                        part = body[start:start + 65536]
                        sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                    sock.sendall(b"0\r\n\r\n")
                else:
                    sock.sendall(body)
            except OSError:
                pass  # the server answers (and may close) before an oversized body is sent
            reply = b""
            while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < int(
                    [l for l in reply.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1]):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, json.loads(reply.split(b"\r\n\r\n", 1)[1])


@pytest.mark.parametrize("body,chunked,message", [
    (b"{\"apiVersion\": ", False, "not JSON"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u"}}).encode(),
     False, "request.kind"),
    (b"[" + b"1," * (2 * 1024 * 1024) + b"1]", False, "exceeds the limit"),
    (b"[" + b"1," * (2 * 1024 * 1024) + b"1]", True, "exceeds the limit")])
def test_malformed_and_oversized_reviews_keep_the_server_up(webhook, body, chunked, message):
    kube = webhook
    ca, pod = _ca_and_pod_ip(kube)
    restarts = pod.status.container_statuses[0].restart_count
    status, review = _post(pod.status.pod_ip, ca, "/mutate-v1-pod-binding", body, chunked)
    assert status == 200 and review["response"]["allowed"] is False and message in review["response"]["status"]["message"]
    good = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "ok", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "x",
        "object": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": BUSYBOX}]}}}}
    status, review = _post(pod.status.pod_ip, ca, "/mutate-v1-pod-binding", json.dumps(good).encode())
    assert status == 200 and review["response"] == {"uid": "ok", "allowed": True}
    after = core(kube).read_namespaced_pod(pod.metadata.name, OPERATOR_NAMESPACE)
    assert after.status.container_statuses[0].restart_count == restarts and after.status.container_statuses[0].ready


def _hold(ip, ca, silent, tls):
    """Connections to a webhook pod that say nothing: ``silent`` without a TLS handshake, ``tls`` after one."""
    held = []
    context = ssl.create_default_context(cadata=ca)
    for index in range(silent + tls):
        try:
            sock = socket.create_connection((ip, 9443), 10)
            if index >= silent:
                sock = context.wrap_socket(sock, server_hostname="%s.%s.svc" % (WEBHOOK, OPERATOR_NAMESPACE))
            held.append(sock)
        except OSError:
            pass  # closed by the server at its cap while this handshake was under way
    return held


def test_pod_creation_goes_through_while_1000_idle_connections_are_held(webhook, labelled):
    """With failurePolicy Fail, 1000 idle connections against each webhook pod (600 before the TLS handshake, 400
    after it) must not keep pods from being admitted and mutated, nor take the webhook past its memory limit."""
    import time
    kube = webhook
    ns = labelled({"spo.x-k8s.io/enable-binding": "true"})
    create_obj(kube, profile(ns, "p", {"defaultAction": "SCMP_ACT_ALLOW"}))
    create_obj(kube, binding(ns, "busybox", "SeccompProfile", "p", BUSYBOX))
    want = {"type": "Localhost", "localhostProfile": "operator/%s/p.json" % ns}
    wait_for(lambda: seccomp_of(dry_run(kube, ns, pod_manifest("probe", "true")))[0] == want, 90, 0.5,
             "the binding in the webhook's cache")
    ca, unused = _ca_and_pod_ip(kube)
    pods = [p for p in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=" + WEBHOOK).items
            if p.status.pod_ip and p.status.phase == "Running"]
    restarts = {p.metadata.name: p.status.container_statuses[0].restart_count for p in pods}
    held = []
    try:
        for pod in pods:
            held += _hold(pod.status.pod_ip, ca, 600, 400)
        for index in range(10):
            started = time.monotonic()
            stored = dry_run(kube, ns, pod_manifest("held-%d" % index, "true"))
            assert seccomp_of(stored)[0] == want and time.monotonic() - started < 5, (index, seccomp_of(stored))
        stored, log = run(kube, ns, "echo admitted")
        assert seccomp_of(stored)[0] == want and "admitted" in log
    finally:
        for sock in held:
            sock.close()
    for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=" + WEBHOOK).items:
        status = pod.status.container_statuses[0]
        assert status.restart_count == restarts.get(pod.metadata.name, 0) and status.ready, status
