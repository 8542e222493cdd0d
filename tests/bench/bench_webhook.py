# -*- coding: utf-8 -*-
# bench: operator  (hack/bench.sh runs part 1 with the host benchmarks, part 2 in the test cluster with the operator deployed)
"""Benchmark of the webhook server (spo-webhook).

1. AdmissionReview requests (a pod of two containers, POST /mutate-v1-pod-binding, 60 bindings in the cache, one
   matching) over TLS on loopback at a fixed rate (default 200 req/s, open loop) for 30 s: p50, p99, max latency
   and errors. Baseline in the same run: the same load against a trivial TLS echo server (aiohttp, a fixed answer),
   so the ratio shows the server's own cost. Server and load generator are separate processes.
2. When a cluster is reachable (KUBECONFIG set, the operator deployed): 100 pods created in a namespace with the
   binding webhook (labelled, with a binding) and 100 without (not labelled), one of each in turn: create latency
   p50/p99 and the p99 added by the webhook. The pods select no node, so they are only stored, never run.

    .venv/bin/python tests/bench/bench_webhook.py
    ../shared/cluster/cluster exec .venv/bin/python tests/bench/bench_webhook.py
    SPO_WEBHOOK_BENCH_RATE=200 SPO_WEBHOOK_BENCH_SECONDS=30 (defaults); SPO_BENCH_PART=host or cluster: one part only
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = sys.executable
RATE = float(os.environ.get("SPO_WEBHOOK_BENCH_RATE", "200"))
SECONDS = float(os.environ.get("SPO_WEBHOOK_BENCH_SECONDS", "30"))
HOST = "security-profiles-operator-webhook.bench.svc"
BUSYBOX = "docker.io/library/busybox:local"


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def review_body() -> bytes:
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"generateName": "web-", "namespace": "apps", "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "web", "image": "nginx:1.19.1", "ports": [{"containerPort": 80}],
                                    "env": [{"name": "E%d" % i, "value": "v" * 20} for i in range(20)]},
                                   {"name": "side", "image": "busybox:1.36", "command": ["sleep", "3600"]}],
                    "volumes": [{"name": "data", "emptyDir": {}}]}}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "bench", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "operation": "CREATE", "namespace": "apps",
        "userInfo": {"username": "bench"}, "object": pod, "dryRun": False}}).encode()


def objects():
    out = [{"kind": "Namespace", "metadata": {"name": "apps", "labels": {}}}]
    for index in range(60):
        ns = "apps" if index < 20 else "ns%d" % index
        image = "nginx:1.19.1" if index == 0 else "img%d:1" % index
        out.append({"kind": "ProfileBinding", "metadata": {"name": "b%d" % index, "namespace": ns},
                    "spec": {"profileRef": {"kind": "SeccompProfile", "name": "p%d" % index}, "image": image}})
        out.append({"kind": "SeccompProfile", "metadata": {"name": "p%d" % index, "namespace": ns},
                    "status": {"status": "Installed"}})
    return out


ECHO = r'''
import asyncio, os, ssl, sys
from aiohttp import web
cert_dir, port_file = sys.argv[1], sys.argv[2]
answer = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"bench","allowed":true}}'
async def echo(request):
    await request.read()
    return web.Response(body=answer, content_type="application/json")
async def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(cert_dir, "tls.crt"), os.path.join(cert_dir, "tls.key"))
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(site._server.sockets[0].getsockname()[1]))
    os.replace(port_file + ".tmp", port_file)
    await asyncio.Event().wait()
asyncio.run(main())
'''


def start(cmd, port_file):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("server did not start: %s" % proc.stderr.read().decode()[-2000:])
        time.sleep(0.05)
    with open(port_file) as handle:
        return proc, int(handle.read())


async def load(port, ca_pem, body, rate, seconds, check):
    import aiohttp
    context = ssl.create_default_context(cadata=ca_pem)
    connector = aiohttp.TCPConnector(ssl=context, limit=64)
    latencies, errors = [], []
    url = "https://%s:%d/mutate-v1-pod-binding" % ("127.0.0.1", port)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as session:
        async def one():
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, server_hostname=HOST) as resp:
                    data = await resp.read()
                    elapsed = time.perf_counter() - started
                    if resp.status != 200 or not check(data):
                        errors.append("HTTP %d %r" % (resp.status, data[:200]))
                    else:
                        latencies.append(elapsed)
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(repr(exc))
        for unused in range(20):  # warm up the connection pool and the server
            await one()
        latencies.clear()
        errors.clear()
        tasks = []
        t0 = time.perf_counter()
        total = int(rate * seconds)
        for index in range(total):
            delay = t0 + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one()))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    return latencies, errors, total, wall


def report(name, result):
    latencies, errors, total, wall = result
    ms = [x * 1000 for x in latencies]
    print("%-22s %5d requests in %5.1fs (%.0f/s)  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  errors %d"
          % (name, total, wall, total / wall, percentile(ms, 50), percentile(ms, 99), max(ms) if ms else float("nan"),
             len(errors)))
    for err in errors[:3]:
        print("   error:", err)
    return percentile(ms, 50), percentile(ms, 99)


def loopback():
    from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import certs
    import yaml
    with tempfile.TemporaryDirectory(prefix="spo-wh-bench-") as tmp:
        tls = certs.ensure(None, None, "security-profiles-operator-webhook", "bench")
        for name in ("tls.crt", "tls.key"):
            with open(os.path.join(tmp, name), "wb") as handle:
                handle.write(base64.b64decode(tls["tls"][name]))
        with open(os.path.join(tmp, "objects.yaml"), "w") as handle:
            yaml.safe_dump_all(objects(), handle)
        ca = base64.b64decode(tls["ca_bundle"]).decode()
        body = review_body()

        def patched(data):
            response = json.loads(data)["response"]
            return response["allowed"] and "patch" in response

        webhook, port = start([PY, "-m", "spo_cli.webhook", "--host", "127.0.0.1", "--port", "0", "--cert-dir", tmp,
                               "--objects", os.path.join(tmp, "objects.yaml"), "--port-file",
                               os.path.join(tmp, "webhook.port"), "--drain", "0"], os.path.join(tmp, "webhook.port"))
        try:
            hook = asyncio.run(load(port, ca, body, RATE, SECONDS, patched))
        finally:
            webhook.terminate()
            webhook.wait(10)
        echo, port = start([PY, "-c", ECHO, tmp, os.path.join(tmp, "echo.port")], os.path.join(tmp, "echo.port"))
        try:
            base = asyncio.run(load(port, ca, body, RATE, SECONDS, lambda d: json.loads(d)["response"]["allowed"]))
        finally:
            echo.terminate()
            echo.wait(10)
    print("== webhook server on loopback: %.0f req/s for %.0f s, %d-byte AdmissionReview (binding, 60 bindings cached)"
          % (RATE, SECONDS, len(body)))
    p50, p99 = report("spo-webhook", hook)
    b50, b99 = report("TLS echo (baseline)", base)
    print("ratio spo-webhook / echo: p50 %.2fx, p99 %.2fx; target p99 <= 10 ms: %s, errors 0: %s"
          % (p50 / b50, p99 / b99, "met" if p99 <= 10 else "MISSED", "met" if not hook[1] else "MISSED"))


def cluster():
    if not os.environ.get("KUBECONFIG"):
        print("== pod creation with/without the binding webhook: skipped (KUBECONFIG is not set: no cluster; run "
              "through ../shared/cluster/cluster exec)")
        return
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    api = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    # the operator creates the webhook's Deployment when it reconciles the SPOD, after the deploy has returned
    deadline = time.monotonic() + 300
    while True:
        try:
            deployment = client.AppsV1Api(api).read_namespaced_deployment("security-profiles-operator-webhook",
                                                                          "security-profiles-operator")
            if (deployment.status.available_replicas or 0) >= 1:
                break
            reason = "not available yet"
        except ApiException as exc:
            reason = exc.reason
        if time.monotonic() > deadline:
            print("== pod creation: skipped (the webhook is not deployed after 300 s: %s; run playbooks/deploy.yml)"
                  % reason)
            return
        time.sleep(2)
    group = "security-profiles-operator.x-k8s.io"
    namespaces = {}
    try:
        for mode in ("without", "with"):
            ns = "h-wh-bench-%s-%s" % (mode, uuid.uuid4().hex[:6])
            labels = {"security.openshift.io/scc.podSecurityLabelSync": "false",
                      "pod-security.kubernetes.io/enforce": "privileged"}
            if mode == "with":
                labels["spo.x-k8s.io/enable-binding"] = "true"
            core.create_namespace({"metadata": {"name": ns, "labels": labels}})
            namespaces[mode] = ns
            if mode == "with":
                custom.create_namespaced_custom_object(group, "v1beta1", ns, "seccompprofiles", {
                    "apiVersion": group + "/v1beta1", "kind": "SeccompProfile", "metadata": {"name": "p"},
                    "spec": {"defaultAction": "SCMP_ACT_ALLOW"}})
                custom.create_namespaced_custom_object(group, "v1alpha1", ns, "profilebindings", {
                    "apiVersion": group + "/v1alpha1", "kind": "ProfileBinding", "metadata": {"name": "b"},
                    "spec": {"profileRef": {"kind": "SeccompProfile", "name": "p"}, "image": BUSYBOX}})
            deadline = time.monotonic() + 60
            while True:  # the namespace's default service account, and the binding in the webhook's cache
                try:
                    pod = core.create_namespaced_pod(ns, _bench_pod("probe"), dry_run="All")
                    sc = (pod.spec.containers[0].security_context and pod.spec.containers[0].security_context.seccomp_profile)
                    if mode == "without" or sc:
                        break
                except ApiException:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("namespace %s not ready for pods" % ns)
                time.sleep(0.5)
        # the two kinds of pod alternate, so that whatever else the cluster does meanwhile weighs on both alike
        results = {"without": [], "with": []}
        for index in range(100):
            for mode in ("without", "with"):
                started = time.perf_counter()
                core.create_namespaced_pod(namespaces[mode], _bench_pod("p%d" % index))
                results[mode].append((time.perf_counter() - started) * 1000)
    finally:
        for ns in namespaces.values():
            core.delete_namespace(ns, grace_period_seconds=0)
    print("== pod creation in the cluster, 100 pods each, alternating (stored, never scheduled)")
    for mode in ("without", "with"):
        times = results[mode]
        print("%-22s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms"
              % (mode + " webhook", percentile(times, 50), percentile(times, 99), max(times)))
    print("added by the binding webhook: p50 %+.2f ms, p99 %+.2f ms" % (
        percentile(results["with"], 50) - percentile(results["without"], 50),
        percentile(results["with"], 99) - percentile(results["without"], 99)))


def _bench_pod(name):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "annotations": {"openshift.io/required-scc": "privileged"}},
            "spec": {"nodeSelector": {"spo.x-k8s.io/bench": "no-such-node"}, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": BUSYBOX, "command": ["sleep", "1"]}]}}


if __name__ == "__main__":
    PART = os.environ.get("SPO_BENCH_PART", "all")  # hack/bench.sh: "host" first, "cluster" with the operator deployed
    if PART in ("all", "host"):
        loopback()
    if PART in ("all", "cluster"):
        cluster()
