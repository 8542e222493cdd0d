# -*- coding: utf-8 -*-
# bench: cluster  (hack/bench.sh runs it in the test cluster, after the host benchmarks)
"""Benchmark: judge 10,000 pods against restricted:latest with the engine (pods/s), and, in the same run
when a cluster is reachable, the API server's own evaluation of a sample of the same pods through
server-side dry runs (one request per pod, in a namespace labelled warn=restricted): pods/s and the
ratio. The sample's warnings are also compared with the engine's texts.

    .venv/bin/python tests/bench/bench_pss.py                                      (engine only)
    ../shared/cluster/cluster exec .venv/bin/python tests/bench/bench_pss.py       (with the API server)

The pods are the corpus (tests/data/pss), cycled and renamed. SPO_PSS_BENCH_SAMPLE sets the sample
size (default 300).
"""
from __future__ import annotations

import copy
import os
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "data", "pss"))
import corpus  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import as_warning_header, evaluate  # noqa: E402

COUNT = 10000
SAMPLE = int(os.environ.get("SPO_PSS_BENCH_SAMPLE", "300"))
PREFIX = "would violate PodSecurity "


def pods():
    base = [case.obj for case in corpus.load_cases() if case.obj["kind"] == "Pod"]
    out = []
    for index in range(COUNT):
        pod = copy.deepcopy(base[index % len(base)])
        pod["metadata"]["name"] = "%s-%d" % (pod["metadata"]["name"][:50], index)
        out.append(pod)
    return out


def bench_engine(objects):
    start = time.perf_counter()
    verdicts = [evaluate(pod, "restricted", "latest") for pod in objects]
    elapsed = time.perf_counter() - start
    return verdicts, elapsed


def cluster_api():
    """An ApiClient when a cluster answers, else (None, why not)."""
    path = os.environ.get("SPO_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if not path or not os.path.exists(path):
        return None, "no KUBECONFIG (run through ../shared/cluster/cluster exec to compare with the API server)"
    try:
        from kubernetes import client, config
        api = config.new_client_from_config(config_file=path)
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as exc:  # pylint: disable=broad-except
        return None, "the cluster of %s does not answer: %s" % (path, exc)
    return api, ""


def _warning_text(value):
    import re
    match = re.match(r'^\d{3} \S+ "((?:[^"\\]|\\.)*)"', value)
    return re.sub(r"\\(.)", r"\1", match.group(1)) if match else value


def bench_api_server(api, sample):
    from kubernetes import client
    core = client.CoreV1Api(api)
    name = "pss-bench-%s" % uuid.uuid4().hex[:6]
    labels = {"security.openshift.io/scc.podSecurityLabelSync": "false",
              "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/audit": "privileged",
              "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "latest"}
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                core.read_namespaced_service_account("default", name)
                break
            except client.ApiException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        texts = []
        start = time.perf_counter()
        for pod in sample:
            pod = copy.deepcopy(pod)
            # pin the SCC so OpenShift's SCC admission does not change the pod (see the corpus test)
            pod["metadata"].setdefault("annotations", {})["openshift.io/required-scc"] = "privileged"
            method, url, headers, body, _post = api.param_serialize(
                "POST", "/api/v1/namespaces/%s/pods" % name, query_params=[("dryRun", "All")], body=pod,
                auth_settings=["BearerToken"],
                header_params={"Content-Type": "application/json", "Accept": "application/json"})
            response = api.call_api(method, url, header_params=headers, body=body)
            response.read()
            if response.status >= 300:
                raise RuntimeError("dry run of %s refused: %s" % (pod["metadata"]["name"], response.data[:300]))
            found = [_warning_text(v) for v in response.headers.getlist("Warning")]
            texts.append(next((t for t in found if t.startswith(PREFIX)), ""))
        elapsed = time.perf_counter() - start
        return texts, elapsed
    finally:
        core.delete_namespace(name)


def main():
    objects = pods()
    bench_engine(objects[:200])  # warm-up
    verdicts, elapsed = bench_engine(objects)
    rate = COUNT / elapsed
    refused = sum(1 for v in verdicts if not v.allowed)
    print("engine: %d pods against restricted:latest in %.3f s = %.0f pods/s (%d would be warned about)"
          % (COUNT, elapsed, rate, refused))
    api, why = cluster_api()
    if api is None:
        print("API server baseline: skipped: %s" % why)
        return 0
    step = max(1, COUNT // SAMPLE)
    sample = objects[::step][:SAMPLE]
    texts, server_elapsed = bench_api_server(api, sample)
    server_rate = len(sample) / server_elapsed
    mismatches = sum(1 for pod, text in zip(sample, texts) if as_warning_header(evaluate(pod, "restricted", "latest").warning) != text)
    print("API server: %d of the same pods by server-side dry run in %.3f s = %.1f pods/s" %
          (len(sample), server_elapsed, server_rate))
    print("ratio engine/API server: %.0fx; warnings differing from the engine's: %d of %d"
          % (rate / server_rate, mismatches, len(sample)))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
