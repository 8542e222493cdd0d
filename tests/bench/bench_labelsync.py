# -*- coding: utf-8 -*-
# bench: cluster  (hack/bench.sh runs it in the test cluster, after the host benchmarks)
"""Benchmark: Pod Security label sync of 200 namespaces — time to converge after start.

    ../shared/cluster/cluster exec .venv/bin/python tests/bench/bench_labelsync.py

Creates 200 namespaces handed to this controller (out of OpenShift's syncer), each with one
Deployment (replicas 0) needing restricted, baseline or privileged in turn; then starts
``spo-label-sync --source workloads`` narrowed to them and measures the time until every namespace
carries the labels its workload needs.  Beside it, from the same run: the time to list the same
objects once (namespaces and the eight workload kinds, what the controller lists at start), and
the time to follow a change (20 Deployments made privileged -> their namespaces relabelled).
Without a cluster (no KUBECONFIG) it says why and exits 0.  SPO_LABELSYNC_BENCH_COUNT changes 200.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
COUNT = int(os.environ.get("SPO_LABELSYNC_BENCH_COUNT", "200"))
SELECTOR = "spo.x-k8s.io/test-labelsync"
LEVELS = ("restricted", "baseline", "privileged")
SECURITY = {
    "restricted": ({"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
                   {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}),
    "baseline": ({}, {}),
    "privileged": ({}, {"privileged": True}),
}


def deployment(name, level):
    pod, container = SECURITY[level]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"securityContext": pod, "containers": [
                                      {"name": "main", "image": "docker.io/library/busybox:local",
                                       "securityContext": container}]}}}}


def main() -> int:
    path = os.environ.get("SPO_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if not path or not os.path.exists(path):
        print("bench_labelsync: skipped: no KUBECONFIG (run through ../shared/cluster/cluster exec)")
        return 0
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
    from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync.workloads import RESOURCES
    client = k.connect(path, user_agent="bench-labelsync")
    try:
        client.get("/version")
    except k.KubeError as exc:
        print("bench_labelsync: skipped: the cluster does not answer: %s" % exc)
        return 0
    run = uuid.uuid4().hex[:6]
    names = ["lsb-%s-%03d" % (run, i) for i in range(COUNT)]
    want = {name: LEVELS[i % 3] for i, name in enumerate(names)}
    selector = "%s=%s" % (SELECTOR, run)

    def create(name):
        client.create(k.core_path("namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": name, "labels": {SELECTOR: run, "spo.x-k8s.io/test": "true",
                                     "security.openshift.io/scc.podSecurityLabelSync": "false",
                                     "spo.x-k8s.io/pod-security-label-sync": "true"}}})
        client.create("/apis/apps/v1/namespaces/%s/deployments" % name, deployment("app", want[name]))

    result = {"namespaces": COUNT}
    proc = None
    handle, stats_file = tempfile.mkstemp(prefix="bench-labelsync-", suffix=".json")
    os.close(handle)
    os.unlink(stats_file)  # the controller writes it at exit
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(create, names))
        result["setup_s"] = round(time.perf_counter() - start, 2)

        # baseline: list what the controller lists at start, once
        start = time.perf_counter()
        listed = len(client.list(k.core_path("namespaces"), {"labelSelector": selector})["items"])
        for resource in RESOURCES:
            listed += len(client.list(resource.path)["items"])
        result["baseline_list_once_s"] = round(time.perf_counter() - start, 3)
        result["baseline_objects_listed"] = listed

        def converged(expected):
            items = client.list(k.core_path("namespaces"), {"labelSelector": selector})["items"]
            labels = {i["metadata"]["name"]: i["metadata"].get("labels") or {} for i in items}
            return all(labels.get(n, {}).get("pod-security.kubernetes.io/enforce") == lv for n, lv in expected.items())

        env = dict(os.environ, KUBECONFIG=path)
        start = time.perf_counter()
        proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-label-sync"), "--source", "workloads",
                                 "--namespace-selector", selector, "--window", "0.3", "--stats-file", stats_file],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        while not converged(want):
            if time.perf_counter() - start > 300 or proc.poll() is not None:
                raise RuntimeError("no convergence within 300 s (controller exit %r)" % proc.poll())
            time.sleep(0.2)
        result["converge_after_start_s"] = round(time.perf_counter() - start, 2)

        # follow a change: 20 Deployments made privileged
        changed = [n for n in names if want[n] != "privileged"][:20]
        start = time.perf_counter()
        for name in changed:
            client.json_patch("/apis/apps/v1/namespaces/%s/deployments/app" % name, [
                {"op": "add", "path": "/spec/template/spec/containers/0/securityContext",
                 "value": {"privileged": True}}])
            want[name] = "privileged"
        while not converged({n: "privileged" for n in changed}):
            if time.perf_counter() - start > 120:
                raise RuntimeError("the change was not followed within 120 s")
            time.sleep(0.2)
        result["follow_20_changes_s"] = round(time.perf_counter() - start, 2)
        result["converge_to_list_ratio"] = round(result["converge_after_start_s"] / result["baseline_list_once_s"], 1)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if os.path.exists(stats_file):
            with open(stats_file) as handle:
                stats = json.load(handle)
            os.unlink(stats_file)
            result["controller_requests"] = stats.get("requests")
            result["controller_applies"] = stats.get("applied")
            result["controller_events"] = stats.get("events")
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: client.delete(k.core_path("namespaces", name=n)), names))
        result["cleanup_requested_s"] = round(time.perf_counter() - start, 2)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
