# -*- coding: utf-8 -*-
# bench: cluster  (hack/bench.sh runs it in the test cluster, after the host benchmarks)
"""Benchmark: Pod Security label sync, source scc, beside OpenShift's own syncer in the same run.

    ../shared/cluster/cluster exec .venv/bin/python tests/bench/bench_labelsync_scc.py

``spo-label-sync --source scc --report-only`` (its default settings, as deployed) runs narrowed to
this run's namespaces; OpenShift's syncer (cluster-policy-controller) labels the same namespaces.
One watch on the namespaces stamps when each syncer's verdict appears: ours in the annotation
spo.x-k8s.io/pod-security-minimum, OpenShift's in security.openshift.io/MinimallySufficientPodSecurityStandard.
Measured, seconds from sending the request until the verdict is seen, for both:

* namespace create -> restricted (SPO_LABELSYNC_BENCH_NS namespaces, default 12, one after another);
* grant (a RoleBinding to the privileged SCC's ClusterRole for a service account) -> privileged, and
  revoke (the RoleBinding deleted) -> restricted again (SPO_LABELSYNC_BENCH_GRANTS rounds, default 8).

Prints median and max of each, ours and OpenShift's, and their ratio.  Without a cluster (no
KUBECONFIG) it says why and exits 0.
"""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
NAMESPACES = int(os.environ.get("SPO_LABELSYNC_BENCH_NS", "12"))
GRANTS = int(os.environ.get("SPO_LABELSYNC_BENCH_GRANTS", "8"))
SELECTOR = "spo.x-k8s.io/test-labelsync"
OURS = "spo.x-k8s.io/pod-security-minimum"
THEIRS = "security.openshift.io/MinimallySufficientPodSecurityStandard"
WHO = {"ours": OURS, "openshift": THEIRS}


class Stamps(object):
    """(namespace, syncer, level) -> when the verdict was first seen, from one namespace watch."""

    def __init__(self, client, selector: str) -> None:
        self.client = client
        self.selector = selector
        self.seen: Dict[Tuple[str, str, str], float] = {}
        self.last: Dict[Tuple[str, str], str] = {}
        self.cond = threading.Condition()
        self.stop = False

    def run(self) -> None:
        from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
        rv = self.client.list(k.core_path("namespaces"), {"labelSelector": self.selector})["metadata"][
            "resourceVersion"]
        while not self.stop:
            try:
                for _kind, obj in self.client.watch(k.core_path("namespaces"), rv, {"labelSelector": self.selector},
                                                    30):
                    now = time.monotonic()
                    meta = obj.get("metadata") or {}
                    rv = meta.get("resourceVersion") or rv
                    notes = meta.get("annotations") or {}
                    with self.cond:
                        for who, key in WHO.items():
                            level = notes.get(key)
                            if level and self.last.get((meta.get("name"), who)) != level:
                                self.last[(meta.get("name"), who)] = level
                                self.seen[(meta.get("name"), who, level)] = now
                        self.cond.notify_all()
                    if self.stop:
                        return
            except Exception as exc:  # pylint: disable=broad-except
                if self.stop:
                    return
                print("bench_labelsync_scc: watch: %s (rewatching)" % exc, file=sys.stderr)
                time.sleep(0.2)

    def wait(self, namespace: str, level: str, since: float, timeout: float = 60.0) -> Dict[str, float]:
        """Seconds from ``since`` until each syncer showed ``level`` on ``namespace`` (seen after ``since``)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = {who: self.seen.get((namespace, who, level)) for who in WHO}
                if all(t is not None and self.last.get((namespace, who)) == level for who, t in found.items()):
                    return {who: round(t - since, 3) for who, t in found.items()}
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("%s: no %s from both syncers within %.0f s (seen %s)" % (
                        namespace, level, timeout, {w: self.last.get((namespace, w)) for w in WHO}))
                self.cond.wait(left)

    def forget(self, namespace: str) -> None:
        with self.cond:
            for key in [key for key in self.seen if key[0] == namespace]:
                del self.seen[key]


def figures(samples: List[Dict[str, float]]) -> Dict[str, float]:
    out: Dict[str, float] = {}
    for who in WHO:
        values = [s[who] for s in samples]
        out[who + "_median_s"] = round(statistics.median(values), 3)
        out[who + "_max_s"] = round(max(values), 3)
    out["ours_to_openshift_median_ratio"] = round(out["ours_median_s"] / max(out["openshift_median_s"], 0.001), 2)
    return out


def main() -> int:  # pylint: disable=too-many-locals
    path = os.environ.get("SPO_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if not path or not os.path.exists(path):
        print("bench_labelsync_scc: skipped: no KUBECONFIG (run through ../shared/cluster/cluster exec)")
        return 0
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
    client = k.connect(path, user_agent="bench-labelsync-scc")
    try:
        client.get("/version")
        served = client.get("/apis/security.openshift.io/v1")
    except k.KubeError as exc:
        print("bench_labelsync_scc: skipped: the cluster serves no SCCs (not OpenShift): %s" % exc)
        return 0
    del served
    run = uuid.uuid4().hex[:6]
    selector = "%s=%s" % (SELECTOR, run)
    names: List[str] = []
    stamps = Stamps(client, selector)
    watcher = threading.Thread(target=stamps.run, daemon=True)
    watcher.start()
    time.sleep(0.5)  # the watch is open

    def make_ns(suffix: str) -> Tuple[str, float]:
        name = "lss-%s-%s" % (run, suffix)
        since = time.monotonic()
        client.create(k.core_path("namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": name, "labels": {SELECTOR: run, "spo.x-k8s.io/test": "true"}}})
        names.append(name)
        return name, since

    result: Dict[str, object] = {}
    proc = None
    try:
        proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-label-sync"), "--source", "scc", "--report-only",
                                 "--namespace-selector", selector],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, KUBECONFIG=path))
        warm, since = make_ns("warm")  # our controller has listed once both have labelled it
        stamps.wait(warm, "restricted", since, 120)

        creates = []
        for i in range(NAMESPACES):
            name, since = make_ns("c%02d" % i)
            creates.append(stamps.wait(name, "restricted", since))
        result["namespace_create"] = figures(creates)

        grants, revokes = [], []
        name = warm
        client.create(k.core_path("serviceaccounts", name), {"apiVersion": "v1", "kind": "ServiceAccount",
                                                             "metadata": {"name": "app"}})
        time.sleep(1.0)
        binding_path = "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/rolebindings" % name
        for _round in range(GRANTS):
            stamps.forget(name)
            since = time.monotonic()
            client.create(binding_path, {
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "use-priv"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "system:openshift:scc:privileged"},
                "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": name}]})
            grants.append(stamps.wait(name, "privileged", since))
            stamps.forget(name)
            since = time.monotonic()
            client.delete(binding_path + "/use-priv")
            revokes.append(stamps.wait(name, "restricted", since))
            time.sleep(0.5)
        result["grant"] = figures(grants)
        result["revoke"] = figures(revokes)
    finally:
        stamps.stop = True
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: client.delete(k.core_path("namespaces", name=n)), names))
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
