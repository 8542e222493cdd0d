# -*- coding: utf-8 -*-
# bench: operator  (hack/bench.sh runs it in the test cluster with the operator deployed; the host part is empty)
"""Benchmark of the operator's runtime (the manager container of the operator's Deployment), in the cluster.

1. RSS of every process of the container, idle (the median of 5 samples once the SPOD is Running and nothing is
   queued) and under load (the peak while 20 ProfileBindings created at once are reconciled).
2. CPU per reconcile: the container's CPU time (cgroup cpu.stat) spent from creating the 20 bindings until all
   of them have reported Successful (each binding's first run ended), divided by 20; and the container's CPU per
   minute once they are idle (their periodic runs, reconcilePeriod).
3. ProfileBinding create -> the webhook serving it (a server-side dry-run pod gets the profile), and -> the
   binding's Successful condition (the operator's run of the profilebinding role).
4. SPOD change -> DaemonSet rolled: spec.verbosity flipped (a field the node pods depend on) until the DaemonSet
   has the new template on every node, ready; and back.

    ../shared/cluster/cluster exec .venv/bin/python tests/bench/bench_operator.py      (the operator deployed)
    SPO_BENCH_PART=host: nothing to do (printed as such)
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
NS = "security-profiles-operator"
BINDINGS = 20
BUSYBOX = "docker.io/library/busybox:local"
GROUP = "security-profiles-operator.x-k8s.io"

# run in the manager container: RSS of its processes (KiB) and its CPU time (microseconds)
PROBE = r"""
import os
rss = 0
ticks = 0
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    try:
        with open('/proc/%s/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    rss += int(line.split()[1])
        with open('/proc/%s/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])
    except OSError:
        pass
cpu = None
try:
    if open('/proc/self/cgroup').read().strip() == '0::/':
        for line in open('/sys/fs/cgroup/cpu.stat'):
            if line.startswith('usage_usec '):
                cpu = int(line.split()[1])
except OSError:
    pass
if cpu is None:
    cpu = ticks * 1000000 // os.sysconf('SC_CLK_TCK')
print(rss, cpu)
"""
BREAKDOWN = r"""
import os
for pid in sorted(os.listdir('/proc'), key=lambda p: int(p) if p.isdigit() else 0):
    if pid.isdigit():
        try:
            rss = [l.split()[1] for l in open('/proc/%s/status' % pid) if l.startswith('VmRSS:')]
            cmd = open('/proc/%s/cmdline' % pid, 'rb').read().replace(b'\0', b' ').decode()[:100]
            print('idle process %s: %s kB %s' % (pid, rss[0] if rss else '-', cmd))
        except OSError:
            pass
"""


def kubectl(*args: str) -> str:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, check=True).stdout


def operator_pod() -> str:
    out = json.loads(kubectl("get", "pods", "-n", NS, "-l", "name=security-profiles-operator", "-o", "json"))
    running = [p["metadata"]["name"] for p in out["items"]
               if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]
    if len(running) != 1:
        raise SystemExit("bench_operator: want one running operator pod, found %r" % running)
    return running[0]


def probe(pod: str):
    rss, cpu = kubectl("exec", "-n", NS, pod, "-c", "manager", "--", "python3", "-c", PROBE).split()
    return int(rss) / 1024.0, int(cpu) / 1e6


def wait(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise SystemExit("bench_operator: timed out waiting for " + what)


def condition(obj, ctype):
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond.get("status")
    return None


def main() -> int:
    if os.environ.get("SPO_BENCH_PART") == "host":
        print("operator: cluster part only")
        return 0
    if not os.environ.get("KUBECONFIG"):
        print("operator: skipped (no cluster: KUBECONFIG unset)")
        return 0
    from kubernetes import client, config
    import clusterlib  # pylint: disable=import-error
    kube = config.new_client_from_config()
    custom, core, apps = client.CustomObjectsApi(kube), client.CoreV1Api(kube), client.AppsV1Api(kube)

    def spod():
        return custom.get_namespaced_custom_object(GROUP, "v1alpha1", NS, "securityprofilesoperatordaemons", "spod")

    wait(lambda: (spod().get("status") or {}).get("state") == "Running", 300, "the SPOD Running")
    pod = operator_pod()
    # idle: the SPOD's runs have ended (the DaemonSet's pods becoming ready start runs after Running is written)
    clusterlib.spod_settled(kube)
    time.sleep(5)
    samples = []
    for unused in range(5):
        samples.append(probe(pod)[0])
        time.sleep(1)
    idle = statistics.median(samples)
    # what the idle RSS is made of (to stderr): each process of the manager container, by its command
    sys.stderr.write(kubectl("exec", "-n", NS, pod, "-c", "manager", "--", "python3", "-c", BREAKDOWN))

    ns = clusterlib.make_namespace(kube, "bench-op")
    try:
        core.patch_namespace(ns, {"metadata": {"labels": {"spo.x-k8s.io/enable-binding": "true"}}})
        prof = {"apiVersion": GROUP + "/v1beta1", "kind": "SeccompProfile", "metadata": {"name": "p", "namespace": ns},
                "spec": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["unshare"]}]}}
        custom.create_namespaced_custom_object(GROUP, "v1beta1", ns, "seccompprofiles", prof)
        wait(lambda: (custom.get_namespaced_custom_object(GROUP, "v1beta1", ns, "seccompprofiles", "p").get("status")
                      or {}).get("status") == "Installed", 120, "the profile Installed")

        def binding(name, image):
            return {"apiVersion": GROUP + "/v1alpha1", "kind": "ProfileBinding", "metadata": {"name": name, "namespace": ns},
                    "spec": {"profileRef": {"kind": "SeccompProfile", "name": "p"}, "image": image}}

        def get_binding(name):
            return custom.get_namespaced_custom_object(GROUP, "v1alpha1", ns, "profilebindings", name)

        pod_body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe-" + uuid.uuid4().hex[:6]},
                    "spec": {"containers": [{"name": "c", "image": BUSYBOX, "command": ["true"]}]}}

        def served():
            stored = core.api_client.sanitize_for_serialization(
                core.create_namespaced_pod(ns, pod_body, dry_run="All"))
            return (stored["spec"]["containers"][0].get("securityContext") or {}).get("seccompProfile")

        started = time.monotonic()
        custom.create_namespaced_custom_object(GROUP, "v1alpha1", ns, "profilebindings", binding("first", BUSYBOX))
        wait(served, 60, "the webhook to serve the binding", 0.1)
        to_webhook = time.monotonic() - started
        wait(lambda: condition(get_binding("first"), "Successful") == "True", 120, "the binding Successful", 0.1)
        to_successful = time.monotonic() - started
        time.sleep(3)

        rss0, cpu0 = probe(pod)
        started = time.monotonic()
        for index in range(BINDINGS):
            custom.create_namespaced_custom_object(GROUP, "v1alpha1", ns, "profilebindings",
                                                   binding("b%d" % index, "img%d:1" % index))
        peak = rss0

        # each binding counts once its first run has ended Successful: a later periodic run (reconcilePeriod)
        # sets Successful=False while it runs, so "all True at one instant" is not what is measured
        seen = set()

        def all_done():
            nonlocal peak
            peak = max(peak, probe(pod)[0])
            listed = custom.list_namespaced_custom_object(GROUP, "v1alpha1", ns, "profilebindings")
            seen.update(item["metadata"]["name"] for item in listed.get("items") or []
                        if item["metadata"]["name"] != "first" and condition(item, "Successful") == "True")
            return len(seen) >= BINDINGS
        wait(all_done, 600, "%d bindings Successful (%d were)" % (BINDINGS, len(seen)), 0.3)
        batch = time.monotonic() - started
        rss1, cpu1 = probe(pod)
        peak = max(peak, rss1)
        per_reconcile = (cpu1 - cpu0) / BINDINGS
        # steady state: the periodic runs of the 21 bindings (reconcilePeriod of watches.yaml) over 2 minutes
        time.sleep(30)
        cpu_a = probe(pod)[1]
        time.sleep(120)
        steady = (probe(pod)[1] - cpu_a) / 2
    finally:
        clusterlib.delete_namespace(kube, ns)

    rolls = []
    original = (spod().get("spec") or {}).get("verbosity", 0)
    for value in (1 - int(original), int(original)):
        before = apps.read_namespaced_daemon_set("spod", NS)
        started = time.monotonic()
        custom.patch_namespaced_custom_object(GROUP, "v1alpha1", NS, "securityprofilesoperatordaemons", "spod",
                                              {"spec": {"verbosity": value}})

        def rolled():
            ds = apps.read_namespaced_daemon_set("spod", NS)
            st = ds.status
            return (ds.metadata.generation > before.metadata.generation
                    and (st.observed_generation or 0) >= ds.metadata.generation
                    and st.desired_number_scheduled and st.updated_number_scheduled == st.desired_number_scheduled
                    and st.number_ready == st.desired_number_scheduled and not st.number_unavailable)
        wait(rolled, 300, "the DaemonSet rolled", 0.2)
        rolls.append(time.monotonic() - started)

    print("| figure | measured |")
    print("| --- | --- |")
    print("| operator RSS idle (median of 5) | %.1f MiB |" % idle)
    print("| operator RSS peak, %d bindings reconciled at once | %.1f MiB (before %.1f MiB) |" % (BINDINGS, peak, rss0))
    print("| CPU per reconcile (%d ProfileBindings created -> all Successful, in %.1f s) | %.3f s |"
          % (BINDINGS, batch, per_reconcile))
    print("| operator CPU per minute with %d idle bindings (periodic runs) | %.1f s |" % (BINDINGS + 1, steady))
    print("| ProfileBinding create -> webhook serving it | %.2f s |" % to_webhook)
    print("| ProfileBinding create -> Successful condition | %.2f s |" % to_successful)
    print("| SPOD spec.verbosity changed -> DaemonSet rolled and ready (there, back) | %.2f s, %.2f s |" % tuple(rolls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
