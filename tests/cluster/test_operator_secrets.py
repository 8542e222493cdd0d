# -*- coding: utf-8 -*-
"""The webhook's private keys (its CA's and its serving certificate's) never reach the operator's runner artifacts,
logs or events, also when a reconcile fails after the keys are in play.

The SPOD's reconcile is made to fail after the webhook plan (which holds both keys) is made: the webhook's
Deployment is replaced by one whose selector differs, so applying the planned Deployment is refused (the selector
is immutable) and the run fails; ansible-operator keeps that failed run's private data directory (ansible-runner's
artifacts: events, stdout) under /tmp/ansible-operator/runner in its pod. Neither key, nor any PEM private key, may
be found there, in the operator's log or in any event.
"""
from __future__ import annotations

import base64
import copy
import json
import subprocess
from typing import List

from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import core, get_obj  # pylint: disable=import-error

WEBHOOK = "security-profiles-operator-webhook"
RUNNER_DIR = "/tmp/ansible-operator/runner"
PEM_MARKERS = ["PRIVATE KEY", base64.b64encode(b"-----BEGIN PRIVATE KEY-----").decode()[:28],
               base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----").decode()[:28],
               base64.b64encode(b"-----BEGIN EC PRIVATE KEY-----").decode()[:28]]


def key_fingerprints(kube) -> List[str]:
    """Pieces of each private key as the Secrets hold it (base64 of the PEM) and as PEM text."""
    from kubernetes.client.rest import ApiException

    def secret(name: str):
        try:
            return core(kube).read_namespaced_secret(name, OPERATOR_NAMESPACE)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
    pieces = []
    for name, key in ((WEBHOOK + "-ca", "ca.key"), (WEBHOOK + "-cert", "tls.key")):
        # the spod role makes them after the DaemonSet is Running (deploy.yml waits for that only)
        data = wait_for(lambda n=name: secret(n), 300, 2.0, "the Secret " + name).data[key]
        pem = base64.b64decode(data).decode()
        assert "PRIVATE KEY" in pem
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        pieces += [data[len(data) // 2:len(data) // 2 + 40], body[len(body) // 2:len(body) // 2 + 40]]
    return pieces


def operator_pod(kube) -> str:
    pods = core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="app=security-profiles-operator,name=security-profiles-operator")
    running = [p.metadata.name for p in pods.items if p.status.phase == "Running" and not p.metadata.deletion_timestamp]
    return running[0] if len(running) == 1 else ""


def break_webhook_deployment(kube) -> None:
    """The webhook's Deployment with another (immutable) selector: applying the planned one is refused."""
    from kubernetes import client
    apps = client.AppsV1Api(kube)

    def webhook_deployment():
        found = [d for d in apps.list_namespaced_deployment(OPERATOR_NAMESPACE).items if d.metadata.name == WEBHOOK]
        return found[0] if found else None
    # the spod role applies it after the Secrets: wait for the one it applied
    current = client.ApiClient().sanitize_for_serialization(
        wait_for(webhook_deployment, 300, 2.0, "the webhook Deployment"))
    apps.delete_namespaced_deployment(WEBHOOK, OPERATOR_NAMESPACE, propagation_policy="Foreground")

    wait_for(lambda: webhook_deployment() is None, 120, 1.0, "the webhook Deployment to be deleted")
    other = copy.deepcopy(current)
    other.pop("status", None)
    other["metadata"] = {"name": WEBHOOK, "namespace": OPERATOR_NAMESPACE, "labels": current["metadata"].get("labels")}
    other["spec"]["selector"]["matchLabels"]["spo-test"] = "immutable-selector"
    other["spec"]["template"]["metadata"]["labels"]["spo-test"] = "immutable-selector"
    other["spec"]["replicas"] = 0
    apps.create_namespaced_deployment(OPERATOR_NAMESPACE, other)


def spod_run_failed(kube, pod: str) -> str:
    """The operator's log once a run of the spod role has failed in ``pod`` (else "")."""
    logs = core(kube).read_namespaced_pod_log(pod, OPERATOR_NAMESPACE, container="manager")
    # ansible-operator's reconciler error after a failed task of the spod role's run
    failed = [line for line in logs.splitlines() if "event runner on failed" in line and '"name":"spod"' in line]
    return logs if failed else ""


def in_pod(pod: str, script: str) -> str:
    proc = subprocess.run(["kubectl", "exec", "-n", OPERATOR_NAMESPACE, pod, "-c", "manager", "--", "python3", "-c", script],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


FIND = r"""
import os, sys
needles = %r
hits, files = [], 0
for root, _dirs, names in os.walk(%r):
    for name in names:
        path = os.path.join(root, name)
        files += 1
        try:
            text = open(path, errors="replace").read()
        except OSError:
            continue
        hits += ["%%s: %%s" %% (path, n) for n in needles if n in text]
print(files)
print("\n".join(hits))
"""


def test_private_keys_stay_out_of_artifacts_logs_and_events_of_a_failed_run(operator):
    kube = operator
    needles = key_fingerprints(kube) + PEM_MARKERS
    break_webhook_deployment(kube)
    old = operator_pod(kube)
    core(kube).delete_namespaced_pod(old, OPERATOR_NAMESPACE, grace_period_seconds=0)  # a fresh start reconciles the SPOD
    pod = wait_for(lambda: (operator_pod(kube) not in ("", old)) and operator_pod(kube), 180, 2.0, "a new operator pod")
    logs = wait_for(lambda: spod_run_failed(kube, pod), 400, 3.0, "a run of the spod role to fail in " + pod)
    # it failed where the test made it fail: applying the webhook's objects (a loop: "One or more items failed")
    assert "items failed" in logs or "immutable" in logs, logs[-3000:]
    out = in_pod(pod, FIND % (needles, RUNNER_DIR)).splitlines()
    files, hits = int(out[0]), [line for line in out[1:] if line]
    assert files > 0, "the failed run's artifacts were not kept under %s" % RUNNER_DIR
    assert hits == [], "private key material in the runner's artifacts:\n" + "\n".join(hits[:20])
    assert [n for n in needles if n in logs] == []
    from kubernetes import client
    events = json.dumps(client.ApiClient().sanitize_for_serialization(core(kube).list_event_for_all_namespaces().items),
                        default=str)
    assert [n for n in needles if n in events] == []
    spod = json.dumps(get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod"))
    assert [n for n in needles if n in spod] == []
    # leave a webhook the operator can apply again
    from kubernetes import client as k8s
    k8s.AppsV1Api(kube).delete_namespaced_deployment(WEBHOOK, OPERATOR_NAMESPACE)
