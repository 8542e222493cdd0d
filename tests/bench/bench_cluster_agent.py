# -*- coding: utf-8 -*-
# bench: cluster  (hack/bench.sh runs it in the test cluster, after the host benchmarks)
"""Benchmark: the node agent installing 1000 SeccompProfiles from a real API server.

Run from the repository root (``make bench``)::

    .venv/bin/python tests/bench/bench_cluster_agent.py [--count 1000] [--agents 20] [--skip-multi]

Needs a cluster: ``KUBECONFIG`` (or ``SPO_TEST_KUBECONFIG``) naming a reachable one, or the project's
test cluster (``../shared/cluster/cluster`` or ``SPO_CLUSTER``) running — then the script re-runs itself
through ``cluster exec``.  Without one it prints why it is skipped and exits 0.

(a) One agent (out of cluster, its own kubelet directory, node ``bench-node-solo``): ``--count`` profiles are
    created in one go (8 parallel clients) in a fresh namespace; the figure is the time from the first
    create until every profile is Installed and every file is on disk (target <= 30 s).  Baseline: the
    same profiles written by ``seccomp_install.install`` directly on this host, in the same run.
(b) ``--agents`` agents, each its own node name ``bench-node-N`` (Node objects created for them,
    tainted NoSchedule, deleted afterwards) and kubelet directory: the time until every profile is
    Installed on every node, i.e. ``agents x count`` SecurityProfileNodeStatus objects Installed
    (target <= 60 s).  Each agent reports at exit the API requests it sent and its peak RSS
    (target <= 64 MB); requests per profile per node are (requests - the idle agent's start-up
    requests) / count.  Deleting the profiles afterwards is timed too.  Baseline: the API server's own pace
    for those node statuses, i.e. a sample of SPNS creates by 4 processes x 8 connections with no agent
    running, scaled to ``agents x count`` (no agent design can install faster than its statuses are written).

The agents run with ``--namespace`` (only the benchmark's namespace), so nothing else in the
cluster is touched.  Exits non-zero only on a correctness failure (a profile not Installed, a file
missing or not removed); speed is reported beside its target.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
AGENT = os.path.join(ROOT, ".venv", "bin", "spo-node-agent")
GROUP, VERSION, PLURAL = "security-profiles-operator.x-k8s.io", "v1beta1", "seccompprofiles"
SPNS_VERSION, SPNS_PLURAL = "v1alpha1", "securityprofilenodestatuses"


def cluster_or_skip() -> None:
    """Return when a cluster is reachable from here; re-exec through ``cluster exec``; or skip."""
    kubeconfig = os.environ.get("SPO_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG")
    if kubeconfig and os.path.exists(kubeconfig):
        os.environ["KUBECONFIG"] = kubeconfig
        return
    cluster = os.environ.get("SPO_CLUSTER") or os.path.join(os.path.dirname(ROOT), "shared", "cluster", "cluster")
    if not os.access(cluster, os.X_OK):
        print("bench_cluster_agent: skipped: no cluster (no KUBECONFIG, no test cluster at %s)" % cluster)
        sys.exit(0)
    if subprocess.run([cluster, "status"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False).returncode != 0:
        print("bench_cluster_agent: skipped: the test cluster (%s) is not running" % cluster)
        sys.exit(0)
    os.execv(cluster, [cluster, "exec", sys.executable] + [os.path.abspath(__file__)] + sys.argv[1:])


def native_syscalls() -> List[str]:
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
    token = libseccomp.native_arch_token()
    return sorted({n for n in (libseccomp.syscall_name(token, i) for i in range(1024)) if n})


def make_profiles(namespace: str, count: int, seed: int = 7) -> List[Dict[str, Any]]:
    rng = random.Random(seed)
    names = native_syscalls()
    docs = []
    for index in range(count):
        allowed = sorted(rng.sample(names, rng.randint(50, 150)))
        denied = sorted(rng.sample([n for n in names if n not in allowed], 5))
        docs.append({"apiVersion": GROUP + "/" + VERSION, "kind": "SeccompProfile",
                     "metadata": {"name": "bench-%04d" % index, "namespace": namespace},
                     "spec": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                              "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": allowed},
                                           {"action": "SCMP_ACT_ERRNO", "errnoRet": 1, "names": denied}]}})
    return docs


class Agent(object):
    def __init__(self, node: str, kubelet_dir: str, namespace: str, workdir: str) -> None:
        self.node = node
        self.kubelet_dir = kubelet_dir
        self.stats_path = os.path.join(workdir, node + ".stats.json")
        self.log_path = os.path.join(workdir, node + ".log")
        self.log = open(self.log_path, "w")
        command = os.environ.get("SPO_NODE_AGENT", AGENT).split()  # another build of the agent
        self.proc = subprocess.Popen(command + ["--node-name", node, "--kubelet-dir", kubelet_dir, "--namespace", namespace,
                                                "--stats-file", self.stats_path], stdout=self.log, stderr=subprocess.STDOUT)

    def synced(self) -> bool:
        with open(self.log_path) as handle:
            return "first sync done" in handle.read()

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> Dict[str, Any]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        try:
            with open(self.stats_path) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    def files(self, namespace: str) -> int:
        try:
            return len(os.listdir(os.path.join(self.kubelet_dir, "seccomp", "operator", namespace)))
        except OSError:
            return 0


def wait_until(predicate, timeout: float, interval: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class SpnsCounter(object):
    """list+watch of the namespace's SPNS: how many are Installed."""

    def __init__(self, kube: Any, namespace: str, nodes: List[str]) -> None:
        from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as k
        self.nodes = set(nodes)  # other agents (a SPOD DaemonSet's) may write node statuses too
        self.installed = set()
        self.lock = threading.Lock()
        self.reflector = k.Reflector(k.Kube(kube), "bench-spns",
                                     k.custom_path(GROUP, SPNS_VERSION, SPNS_PLURAL, namespace), self._on,
                                     slim=lambda o: {"status": o.get("status"), "node": o.get("nodeName")})
        self.reflector.start()

    def _on(self, event, key, old, new) -> None:
        with self.lock:
            if new is not None and new.get("status") == "Installed" and new.get("node") in self.nodes:
                self.installed.add(key)
            else:
                self.installed.discard(key)

    def count(self) -> int:
        with self.lock:
            return len(self.installed)

    def stop(self) -> None:
        self.reflector.stop.set()


def create_all(custom: Any, namespace: str, docs: List[Dict[str, Any]]) -> None:
    def create(doc):
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, docs))


def delete_all(custom: Any, namespace: str) -> None:
    from kubernetes.client.rest import ApiException
    try:
        custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, _request_timeout=300)
    except ApiException as exc:
        if exc.status != 504:  # the API server's own timeout: the deletion goes on
            raise


def all_gone(custom: Any, namespace: str) -> bool:
    """True when no profile is left; deletes again those a timed-out delete collection did not reach."""
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL).get("items", [])
    for item in items:
        if not item["metadata"].get("deletionTimestamp"):
            custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, item["metadata"]["name"])
    return not items


def profile_states(custom: Any, namespace: str) -> Dict[str, int]:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL).get("items", [])
    counts: Dict[str, int] = {}
    for item in items:
        state = (item.get("status") or {}).get("status") or "-"
        counts[state] = counts.get(state, 0) + 1
    return counts


def new_namespace(core: Any, prefix: str) -> str:
    from kubernetes import client
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:6])
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def drop_namespace(core: Any, custom: Any, namespace: str) -> None:
    from kubernetes.client.rest import ApiException
    try:
        for item in custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL).get("items", []):
            if item["metadata"].get("finalizers"):
                custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, item["metadata"]["name"],
                                                      {"metadata": {"finalizers": None}})
        core.delete_namespace(namespace)
    except ApiException as exc:
        if exc.status != 404:
            raise


SOLO = "bench-node-solo"


def create_nodes(core: Any, nodes: List[str]) -> None:
    """Node objects for out-of-cluster agents, so every agent counts them as existing nodes (tainted
    NoSchedule: nothing is scheduled there; a SPOD DaemonSet that tolerates every taint still puts a
    Pending pod on each while they exist)."""
    from kubernetes.client.rest import ApiException
    for node in nodes:
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": node, "labels": {"spo.x-k8s.io/bench": "true"}},
                "spec": {"taints": [{"key": "spo.x-k8s.io/bench", "value": "true", "effect": "NoSchedule"}]}}
        try:
            core.create_node(body)
        except ApiException as exc:
            if exc.status != 409:
                raise


def delete_nodes(core: Any, nodes: List[str]) -> None:
    from kubernetes.client.rest import ApiException
    for node in nodes:
        try:
            core.delete_node(node)
        except ApiException:
            pass


def bench_single(kube: Any, count: int, work: str) -> Dict[str, Any]:
    from kubernetes import client
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import install
    core, custom = client.CoreV1Api(kube), client.CustomObjectsApi(kube)
    namespace = new_namespace(core, "h-agent-bench")
    result: Dict[str, Any] = {"count": count}
    docs = make_profiles(namespace, count)
    # baseline: the engine alone on this host, same profiles
    base_dir = os.path.join(work, "baseline")
    started = time.monotonic()
    install([dict(d) for d in docs], base_dir)
    result["baseline_s"] = round(time.monotonic() - started, 2)
    create_nodes(core, [SOLO])
    agent = Agent(SOLO, os.path.join(work, "single"), namespace, work)
    try:
        if not wait_until(agent.synced, 60):
            raise SystemExit("the agent did not sync: see %s" % agent.log_path)
        spns = SpnsCounter(kube, namespace, [SOLO])
        started = time.monotonic()
        create_all(custom, namespace, docs)
        result["create_s"] = round(time.monotonic() - started, 2)
        ok = wait_until(lambda: spns.count() >= count and agent.files(namespace) >= count, 300)
        waited = time.monotonic() - started
        ok = ok and wait_until(lambda: profile_states(custom, namespace).get("Installed") == count, 60, 1.0)
        result["installed_s"] = round(waited, 2)
        result["all_status_installed_s"] = round(time.monotonic() - started, 2)
        result["ok"] = ok
        spns.stop()
        started = time.monotonic()
        delete_all(custom, namespace)
        gone = wait_until(lambda: all_gone(custom, namespace), 300, 2.0)
        result["delete_s"] = round(time.monotonic() - started, 2)
        result["ok"] = result["ok"] and gone and agent.files(namespace) == 0
    finally:
        stats = agent.stop()
        delete_nodes(core, [SOLO])
        drop_namespace(core, custom, namespace)
    result["agent"] = stats
    result["ratio"] = round(result["installed_s"] / max(result["baseline_s"], 0.001), 1)
    return result


def _create_spns_part(args: Any) -> int:
    """A worker process of :func:`api_write_floor`: create its share of node statuses, 8 at a time."""
    owner, first, number = args
    from kubernetes import client, config
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus
    custom = client.CustomObjectsApi(config.new_client_from_config(config_file=os.environ["KUBECONFIG"]))
    namespace = owner["metadata"]["namespace"]

    def create(index: int) -> None:
        body = nodestatus.spns_object("SeccompProfile", owner, "floor-node-%05d" % index, "Installed")
        custom.create_namespaced_custom_object(GROUP, SPNS_VERSION, namespace, SPNS_PLURAL, body)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, range(first, first + number)))
    return number


def api_write_floor(kube: Any, writes: int, sample: int = 2000) -> Dict[str, Any]:
    """The API server's own pace for the node statuses (b) must write: ``sample`` SPNS creates from 4 processes
    x 8 connections, with no agent running, scaled to ``writes`` (the floor any agent design meets).  Each is
    the object an agent writes (its labels, and an owner reference to a real profile, which the garbage
    collector follows): a leaner object would make the floor look lower than what (b) must write."""
    from concurrent.futures import ProcessPoolExecutor
    from kubernetes import client
    core, custom = client.CoreV1Api(kube), client.CustomObjectsApi(kube)
    namespace = new_namespace(core, "h-agent-floor")
    sample = min(sample, writes)
    try:
        owner = custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                       make_profiles(namespace, 1, seed=3)[0])
        parts = [(owner, i * (sample // 4), sample // 4) for i in range(4)]
        started = time.monotonic()
        with ProcessPoolExecutor(4) as pool:
            done = sum(pool.map(_create_spns_part, parts))
        seconds = time.monotonic() - started
    finally:
        drop_namespace(core, custom, namespace)
    rate = done / max(seconds, 0.001)
    return {"sample": done, "sample_s": round(seconds, 2), "per_s": round(rate, 1), "floor_s": round(writes / rate, 1)}


def bench_multi(kube: Any, count: int, agents_n: int, work: str) -> Dict[str, Any]:
    from kubernetes import client
    core, custom = client.CoreV1Api(kube), client.CustomObjectsApi(kube)
    namespace = new_namespace(core, "h-agent-bench20")
    nodes = ["bench-node-%d" % i for i in range(agents_n)]
    result: Dict[str, Any] = {"count": count, "agents": agents_n}
    agents: List[Agent] = []
    create_nodes(core, nodes)
    try:
        for node in nodes:
            agents.append(Agent(node, os.path.join(work, node), namespace, work))
        if not wait_until(lambda: all(a.synced() for a in agents), 120, 0.5):
            raise SystemExit("not every agent synced: see %s" % work)
        time.sleep(1)
        spns = SpnsCounter(kube, namespace, nodes)
        docs = make_profiles(namespace, count, seed=11)
        started = time.monotonic()
        create_all(custom, namespace, docs)
        result["create_s"] = round(time.monotonic() - started, 2)
        ok = wait_until(lambda: spns.count() >= count * agents_n, 900, 0.5)
        result["installed_all_nodes_s"] = round(time.monotonic() - started, 2)
        print("(b) %d agents: %d of %d node statuses Installed after %.2f s (creates took %.2f s)"
              % (agents_n, spns.count(), count * agents_n, result["installed_all_nodes_s"], result["create_s"]),
              flush=True)
        result["files_ok"] = all(a.files(namespace) == count for a in agents)
        ok = ok and result["files_ok"] and wait_until(
            lambda: profile_states(custom, namespace).get("Installed") == count, 60, 1.0)
        result["ok"] = ok
        spns.stop()
        started = time.monotonic()
        delete_all(custom, namespace)
        gone = wait_until(lambda: all_gone(custom, namespace), 900, 2.0)
        result["delete_s"] = round(time.monotonic() - started, 2)
        result["ok"] = result["ok"] and gone and all(a.files(namespace) == 0 for a in agents)
    finally:
        for agent in agents:
            agent.terminate()
        stats = [a.stop() for a in agents]
        delete_nodes(core, nodes)
        drop_namespace(core, custom, namespace)
    result["stats"] = stats
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--skip-single", action="store_true")
    parser.add_argument("--skip-multi", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    cluster_or_skip()
    from kubernetes import config
    kube = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
    import clusterlib  # the cluster tests' helpers: the project's CRDs
    installed_crds = bool(clusterlib.missing_crds(kube))
    if installed_crds:
        clusterlib.apply_crds(kube)
    work = tempfile.mkdtemp(prefix="h-agent-bench-")
    failed = False
    try:
        # what an idle agent sends to start (lists and watches): subtracted from the per-profile figure
        if not args.skip_single:
            single = bench_single(kube, args.count, work)
            stats = single.get("agent") or {}
            print("(a) 1 agent, %d profiles: Installed + files in %.2f s (target <= 30 s); every status Installed "
                  "after %.2f s; creates took %.2f s; engine alone on the host %.2f s (agent/engine %.1fx); "
                  "delete %.2f s; %s API requests (%s), %s CPU s, peak RSS %.1f MB"
                  % (args.count, single["installed_s"], single["all_status_installed_s"], single["create_s"],
                     single["baseline_s"], single["ratio"], single["delete_s"], stats.get("requests"),
                     json.dumps(stats.get("by_verb"), sort_keys=True), stats.get("cpu_s"), (stats.get("max_rss_kb") or 0) / 1024.0))
            print("(a) where the requests go: %s" % json.dumps(stats.get("by_resource"), sort_keys=True))
            failed = failed or not single["ok"]
        if not args.skip_multi:
            floor = api_write_floor(kube, args.count * args.agents)
            print("(b) baseline: the API server alone creates %d node statuses in %.2f s (%.1f/s, 4 processes x 8 "
                  "connections, no agent running): the %d node statuses of (b) need >= %.1f s of API writes"
                  % (floor["sample"], floor["sample_s"], floor["per_s"], args.count * args.agents, floor["floor_s"]),
                  flush=True)
            multi = bench_multi(kube, args.count, args.agents, work)
            stats = multi["stats"]
            rss = [s.get("max_rss_kb", 0) / 1024.0 for s in stats]
            cpu = [s.get("cpu_s", 0) for s in stats]
            # start-up: 8 lists + 8 watches; the rest is per profile (install and delete)
            per = [(s.get("requests", 0) - 16) / float(args.count) for s in stats]
            print("(b) %d agents, %d profiles: Installed on every node (%d node statuses) in %.2f s (target <= 60 s); "
                  "creates took %.2f s; delete %.2f s; API requests per profile per node %.2f..%.2f (mean %.2f, "
                  "install and delete, watches included); CPU s per agent %.1f..%.1f; peak RSS %.1f..%.1f MB (target <= 64 MB)"
                  % (args.agents, args.count, args.agents * args.count, multi["installed_all_nodes_s"],
                     multi["create_s"], multi["delete_s"], min(per or [0]), max(per or [0]),
                     sum(per) / max(len(per), 1), min(cpu or [0]), max(cpu or [0]), min(rss or [0]), max(rss or [0])))
            where: Dict[str, int] = {}
            for agent_stats in stats:
                for what, number in (agent_stats.get("by_resource") or {}).items():
                    where[what] = where.get(what, 0) + number
            print("(b) where the requests go (all agents; per profile per node): %s"
                  % ", ".join("%s %d (%.3f)" % (what, number, number / float(args.count * max(len(stats), 1)))
                              for what, number in sorted(where.items(), key=lambda item: -item[1])))
            print("(b) against the API server's write floor: %.1fx (%.2f s / %.1f s)"
                  % (multi["installed_all_nodes_s"] / max(floor["floor_s"], 0.001), multi["installed_all_nodes_s"],
                     floor["floor_s"]))
            failed = failed or not multi["ok"]
    finally:
        if installed_crds:
            clusterlib.delete_crds(kube)
        if args.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print("bench_cluster_agent: FAILED: not every profile was installed and removed (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
