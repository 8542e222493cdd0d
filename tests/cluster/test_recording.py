# -*- coding: utf-8 -*-
"""ProfileRecording end to end in the real cluster: the recording webhook, the log enricher of the SPOD DaemonSet
(``spo-enricher --cluster``) and the node agent, with runc enforcing what was recorded.

1. a pod ``app=web`` (busybox httpd serving a file, wget fetching it) runs to completion under the logging profile;
   the enricher writes the SeccompProfile ``<recording>-<container>`` with the syscalls seen; it gets Installed;
2. a ProfileBinding of that profile to the image: a new pod of the image gets it, runs the same workload, and
   ``unshare`` fails with EPERM;
3. a Deployment of 2 replicas recorded with ``mergeStrategy: containers``: partial profiles (not installed) while
   the recording lives, one merged profile once it is deleted (the operator's finalizer);
4. SELinux: this node runs SELinux disabled, so the kernel writes no AVC records.  The test writes real AVC lines,
   byte for byte as the kernel prints them (``audit: type=1400 audit(...): avc:  denied { ... } for pid=<a process
   of the recorded container> ...``), into the kernel log (``/dev/kmsg``), which is where the enricher reads the
   kernel's audit records on a node without auditd; the SelinuxProfile written from them compiles with secilc
   against the node's reference policy plus the project's System templates (which declare
   ``selinuxrecording.process``).

The module deploys the operator with playbooks/deploy.yml (idempotent; it does not undeploy), turns the SPOD's
``enableLogEnricher`` on and puts the previous value back at the end.  The kernel may have auditing off (fresh
boot): the enricher turns it on itself.  Figures (syscalls recorded, seconds from the pod's end to the profile
Installed, the enricher's RSS) are printed and written to ``$SPO_RECORDING_FIGURES`` when set.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from datetime import datetime

import pytest

from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from selinux_store import store_modules  # pylint: disable=import-error
from kubehelp import (BUSYBOX, apps, core, create_obj, delete_obj, get_obj, list_objs, patch_obj,  # pylint: disable=import-error
                      playbook, pod_phase, wait_gone, wait_status)

API = "security-profiles-operator.x-k8s.io/v1alpha1"
WORKLOAD = ("mkdir -p /tmp/www && echo hello-recording > /tmp/www/index.html && httpd -p 127.0.0.1:8080 -h /tmp/www"
            " && wget -q -O - http://127.0.0.1:8080/index.html")
FIGURES = {}


def _figure(key, value):
    FIGURES[key] = value
    print("recording figure: %s = %s" % (key, value))
    path = os.environ.get("SPO_RECORDING_FIGURES")
    if path:
        with open(path, "w") as handle:
            json.dump(FIGURES, handle, indent=1, sort_keys=True)


def _enricher_pod(kube):
    for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=spod").items:
        names = [c.name for c in pod.spec.containers]
        ready = {s.name: s.ready for s in pod.status.container_statuses or []}
        if "log-enricher" in names and ready.get("log-enricher") and not pod.metadata.deletion_timestamp:
            return pod
    return None


@pytest.fixture(scope="module")
def enricher(kube):
    playbook("deploy.yml")
    spod = get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod")
    before = (spod.get("spec") or {}).get("enableLogEnricher")
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod", {"spec": {"enableLogEnricher": True}})
    try:
        wait_for(lambda: _enricher_pod(kube), 60, 2.0, "a ready log-enricher container")
    except AssertionError:
        # a rolling update waits while other nodes' pods are unavailable (maxUnavailable 1): replace this node's
        # old pod by hand, as the rollout would once it is its turn
        for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=spod").items:
            if "log-enricher" not in [c.name for c in pod.spec.containers] and pod.status.phase == "Running":
                core(kube).delete_namespaced_pod(pod.metadata.name, OPERATOR_NAMESPACE)
        wait_for(lambda: _enricher_pod(kube), 120, 2.0, "a ready log-enricher container")
    wait_status(kube, "SeccompProfile", OPERATOR_NAMESPACE, "log-enricher-trace", "Installed", 60)
    yield _enricher_pod(kube)
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
              {"spec": {"enableLogEnricher": bool(before)}})


@pytest.fixture
def ns(kube, namespace, enricher):
    core(kube).patch_namespace(namespace, {"metadata": {"labels": {"spo.x-k8s.io/enable-recording": "true",
                                                                   "spo.x-k8s.io/enable-binding": "true"}}})
    return namespace


def _recording(namespace, name, kind, labels, merge=None):
    spec = {"kind": kind, "recorder": "logs", "podSelector": {"matchLabels": labels}}
    if merge:
        spec["mergeStrategy"] = merge
    return {"apiVersion": API, "kind": "ProfileRecording", "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def _pod(name, script, labels=None, restart="Never"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}, "annotations": {"openshift.io/required-scc": "privileged"}},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                                     "command": ["/bin/sh", "-c", script]}]}}


def _wait_webhook_sees(kube, namespace, labels, want_annotation):
    def applied():
        probe = _pod("probe-" + uuid.uuid4().hex[:5], "true", labels)
        stored = core(kube).create_namespaced_pod(namespace, probe, dry_run="All")
        return any(k.startswith(want_annotation) for k in (stored.metadata.annotations or {}))
    wait_for(applied, 30, 0.5, "the recording in the webhook's cache")


def _run_to_end(kube, namespace, manifest, timeout=120):
    name = manifest["metadata"]["name"]
    core(kube).create_namespaced_pod(namespace, manifest)
    phase = wait_for(lambda: pod_phase(kube, namespace, name) in ("Succeeded", "Failed") and pod_phase(kube, namespace, name),
                     timeout, 0.5, "pod %s to finish" % name)
    pod = core(kube).read_namespaced_pod(name, namespace)
    log = core(kube).read_namespaced_pod_log(name, namespace)
    return phase, pod, log


def _container_pids(pod, name):
    """The host pids of container ``name`` of ``pod`` (hostPID: its processes are this host's), by their cgroup."""
    cid = [s.container_id for s in pod.status.container_statuses if s.name == name][0].split("://")[-1]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cgroup" % entry) as handle:
                if cid in handle.read():
                    yield int(entry)
        except OSError:
            continue


def _rss_kb(pod):
    """RSS of the enricher process of ``pod``."""
    for pid in _container_pids(pod, "log-enricher"):
        try:
            with open("/proc/%d/status" % pid) as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            continue
    return None


def _kill_container(pod, name):
    """SIGKILL every process of container ``name`` of ``pod``, as a crash or an OOM kill does; returns how many
    were killed."""
    killed = 0
    for pid in _container_pids(pod, name):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            continue
    return killed


def _restarts(pod, name):
    return [s.restart_count for s in pod.status.container_statuses if s.name == name][0]


def _log_has(kube, namespace, name, text):
    try:
        return text in core(kube).read_namespaced_pod_log(name, namespace)
    except Exception:  # pylint: disable=broad-except
        return False


def record_across_restarts(kube, namespace, recorder, container, find_recorder, while_down):
    """A ``recorder`` recording of a pod whose calls come in three phases: ``sync``/``fallocate``, then the node's
    recorder (container ``container`` of the SPOD pod ``find_recorder`` returns) is SIGKILLed (a crash: only what
    it had written survives; the kubelet restarts it in the same pod) and the container's shell calls ``umask`` and
    ``times`` (at once when ``while_down``: the kernel keeps the audit records for the restarted reader, which
    attributes them by the calling process, still alive; else once the recorder is back: nothing traces a container
    while no eBPF recorder runs), then the SPOD pod is deleted (a rollout: a new
    pod, nothing of the old pod's volumes) and, once the new recorder is ready, ``uptime`` (``sysinfo``). The
    profile must hold the calls of all three phases."""
    create_obj(kube, {"apiVersion": API, "kind": "ProfileRecording", "metadata": {"name": "keep", "namespace": namespace},
                      "spec": {"kind": "SeccompProfile", "recorder": recorder,
                               "podSelector": {"matchLabels": {"app": "keep"}}}})
    _wait_webhook_sees(kube, namespace, {"app": "keep"}, "io.containers.trace-")
    wait = "while [ ! -e /tmp/go%d ]; do sleep 1; done"
    script = "; ".join(["sync", "fallocate -l 4096 /tmp/f", "echo phase-1", wait % 1,
                        "umask 077", "times", "echo phase-2", wait % 2, "uptime", "echo phase-3"])
    core(kube).create_namespaced_pod(namespace, _pod("keep", script, {"app": "keep"}))
    wait_for(lambda: _log_has(kube, namespace, "keep", "phase-1"), 90, 0.5, "the recorded pod's first calls")
    time.sleep(3)  # the recorders write a changed set within a second
    started = time.monotonic()
    first = find_recorder(kube)
    assert _kill_container(first, container) > 0
    go = ["kubectl", "exec", "-n", namespace, "keep", "--", "touch"]
    if while_down:
        subprocess.run(go + ["/tmp/go1"], check=True, timeout=60)

    def restarted():
        pod = find_recorder(kube)
        return pod is not None and pod.metadata.uid == first.metadata.uid and \
            _restarts(pod, container) > _restarts(first, container)
    wait_for(restarted, 180, 1.0, "the killed %s back" % container)
    crashed = time.monotonic() - started
    if not while_down:
        subprocess.run(go + ["/tmp/go1"], check=True, timeout=60)
    wait_for(lambda: _log_has(kube, namespace, "keep", "phase-2"), 60, 0.5, "the recorded pod's second calls")
    time.sleep(3)
    started = time.monotonic()
    second = find_recorder(kube)
    core(kube).delete_namespaced_pod(second.metadata.name, OPERATOR_NAMESPACE)

    def replaced_pod():
        pod = find_recorder(kube)
        return pod is not None and pod.metadata.uid != second.metadata.uid
    wait_for(replaced_pod, 180, 1.0, "a new SPOD pod with %s" % container)
    replaced = time.monotonic() - started
    _figure("%s_back_after_sigkill_s" % container, round(crashed, 1))
    _figure("%s_back_after_pod_replaced_s" % container, round(replaced, 1))
    subprocess.run(go + ["/tmp/go2"], check=True, timeout=60)
    wait_for(lambda: pod_phase(kube, namespace, "keep") in ("Succeeded", "Failed"), 60, 0.5, "the recorded pod's end")
    log = core(kube).read_namespaced_pod_log("keep", namespace)
    assert pod_phase(kube, namespace, "keep") == "Succeeded" and "phase-3" in log, log
    prof = wait_for(lambda: get_obj(kube, "SeccompProfile", namespace, "keep-web"), 60, 0.5, "SeccompProfile keep-web")
    names = _names(prof)
    print("%s recording across a crash and a pod replacement of its recorder: %d syscalls" % (recorder, len(names)))
    assert {"sync", "fallocate"} <= names, "lost what was recorded before the crash: %s" % sorted(names)
    assert {"umask", "times"} <= names, "lost what was called around the crash: %s" % sorted(names)
    assert "sysinfo" in names, "missed what was called after the pod's replacement: %s" % sorted(names)
    core(kube).delete_namespaced_pod("keep", namespace, grace_period_seconds=0)
    delete_obj(kube, "ProfileRecording", namespace, "keep")


def _names(profile):
    return set(profile["spec"]["syscalls"][0]["names"])


def test_record_then_bind_the_recorded_profile(kube, ns, enricher):
    create_obj(kube, _recording(ns, "rec", "SeccompProfile", {"app": "web"}))
    _wait_webhook_sees(kube, ns, {"app": "web"}, "io.containers.trace-logs/")
    phase, pod, log = _run_to_end(kube, ns, _pod("web", WORKLOAD, {"app": "web"}))
    assert phase == "Succeeded" and "hello-recording" in log
    assert pod.metadata.annotations["io.containers.trace-logs/web"].startswith("rec_web_")
    finished = pod.status.container_statuses[0].state.terminated.finished_at
    # (1) the profile <recording>-<container>, written by the enricher, installed by the node agent
    prof = wait_for(lambda: get_obj(kube, "SeccompProfile", ns, "rec-web"), 60, 0.2, "SeccompProfile rec-web")
    assert prof["metadata"]["labels"] == {"spo.x-k8s.io/recording-id": "rec", "spo.x-k8s.io/container-id": "web"}
    assert prof["spec"]["defaultAction"] == "SCMP_ACT_ERRNO" and prof["spec"]["architectures"] == ["SCMP_ARCH_X86_64"]
    names = _names(prof)
    # httpd serves (socket, bind, listen, accept), wget fetches (connect), mkdir ran as a short-lived process
    assert {"execve", "socket", "bind", "listen", "accept", "connect", "mkdir", "write", "exit_group"} <= names
    assert "unshare" not in names
    installed = wait_status(kube, "SeccompProfile", ns, "rec-web", "Installed", 60)
    seconds = (datetime.now(finished.tzinfo) - finished).total_seconds()
    _figure("web_syscalls", len(names))
    _figure("pod_end_to_installed_s_upper_bound", round(seconds, 2))
    assert installed["status"]["localhostProfile"] == "operator/%s/rec-web.json" % ns
    core(kube).delete_namespaced_pod("web", ns, grace_period_seconds=0)
    rss = _rss_kb(enricher)
    if rss:
        _figure("enricher_rss_mb", round(rss / 1024.0, 1))
    # the metric carries the pod's names
    # (2) bind it to the image: the next pod of the image runs under it
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
    assert "can't" not in log, log  # nothing else of the workload was refused
    core(kube).delete_namespaced_pod("bound", ns, grace_period_seconds=0)
    delete_obj(kube, "ProfileBinding", ns, "bind")


def test_metrics_carry_pod_names(kube, ns, enricher):
    create_obj(kube, _recording(ns, "met", "SeccompProfile", {"app": "met"}))
    _wait_webhook_sees(kube, ns, {"app": "met"}, "io.containers.trace-logs/")
    phase, _pod_obj, _log = _run_to_end(kube, ns, _pod("met", "echo metric", {"app": "met"}))
    assert phase == "Succeeded"
    wait_for(lambda: get_obj(kube, "SeccompProfile", ns, "met-web"), 60, 0.5, "SeccompProfile met-web")
    ip = enricher.status.pod_ip
    # prometheus_client writes the labels in name order
    script = ("wget -q -O - http://%s:9111/metrics | grep 'container=\"web\",.*namespace=\"%s\",node=\".*pod=\"met\"' "
              "| head -3" % (ip, ns))
    _ph, _p, log = _run_to_end(kube, ns, _pod("scrape", script))
    assert 'security_profiles_operator_seccomp_profile_audit_total{container="web"' in log, log
    assert 'syscall="execve"' in log or 'syscall="write"' in log or "syscall=" in log, log
    core(kube).delete_namespaced_pod("scrape", ns, grace_period_seconds=0)
    core(kube).delete_namespaced_pod("met", ns, grace_period_seconds=0)
    delete_obj(kube, "ProfileRecording", ns, "met")


def _allow_privileged_scc(kube, namespace):
    from kubernetes import client
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role(namespace, {
        "metadata": {"name": "use-privileged-scc"},
        "rules": [{"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
                   "resourceNames": ["privileged"], "verbs": ["use"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "use-privileged-scc"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "use-privileged-scc"},
        "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": namespace}]})


def test_replicas_merged_when_the_recording_is_deleted(kube, ns, enricher):
    create_obj(kube, _recording(ns, "merge", "SeccompProfile", {"app": "merge"}, merge="containers"))
    # the operator's finalizer must be on the recording before it is deleted
    wait_for(lambda: "spo.x-k8s.io/has-unmerged-profiles" in
             ((get_obj(kube, "ProfileRecording", ns, "merge") or {}).get("metadata") or {}).get("finalizers", []),
             120, 1.0, "the finalizer spo.x-k8s.io/has-unmerged-profiles on the recording")
    _wait_webhook_sees(kube, ns, {"app": "merge"}, "io.containers.trace-logs/")
    template = _pod("x", WORKLOAD + " && sleep 3600", {"app": "merge"}, restart="Always")
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "merge", "namespace": ns},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "merge"}},
                           "template": {"metadata": {"labels": {"app": "merge"},
                                                     "annotations": template["metadata"]["annotations"]},
                                        "spec": template["spec"]}}}
    _allow_privileged_scc(kube, ns)  # pods of a controller are admitted by their service account's SCCs
    apps(kube).create_namespaced_deployment(ns, deployment)
    wait_for(lambda: (apps(kube).read_namespaced_deployment("merge", ns).status.ready_replicas or 0) == 2, 120, 1.0,
             "2 replicas ready")
    time.sleep(2)  # the workload (httpd, wget) ran before sleep
    apps(kube).delete_namespaced_deployment("merge", ns, propagation_policy="Foreground")
    partials = wait_for(lambda: len(list_objs(kube, "SeccompProfile", ns, "spo.x-k8s.io/partial=true")) == 2 and
                        list_objs(kube, "SeccompProfile", ns, "spo.x-k8s.io/partial=true"), 120, 1.0, "2 partial profiles")
    assert sorted(p["metadata"]["name"] for p in partials) == ["merge-web-1", "merge-web-2"]
    for prof in partials:
        assert prof["metadata"]["labels"]["spo.x-k8s.io/recording-id"] == "merge"
        wait_status(kube, "SeccompProfile", ns, prof["metadata"]["name"], "Partial", 60)  # never installed
    union = set().union(*(_names(p) for p in partials))
    delete_obj(kube, "ProfileRecording", ns, "merge")
    wait_gone(kube, "ProfileRecording", ns, "merge", 120)
    merged = wait_status(kube, "SeccompProfile", ns, "merge-web", "Installed", 90)
    assert _names(merged) == union
    assert "spo.x-k8s.io/partial" not in merged["metadata"]["labels"]
    assert list_objs(kube, "SeccompProfile", ns, "spo.x-k8s.io/partial=true") == []
    # the merged profile outlives its recording: no owner reference to it (ansible-operator's proxy injects one on
    # what a run creates; the garbage collector would delete the profile once the recording is gone)
    assert not [ref for ref in merged["metadata"].get("ownerReferences") or [] if ref.get("kind") == "ProfileRecording"]
    time.sleep(3)
    assert get_obj(kube, "SeccompProfile", ns, "merge-web") is not None


def _container_pid(cid):
    for entry in sorted(os.listdir("/proc"), key=lambda e: int(e) if e.isdigit() else 0):
        if entry.isdigit():
            try:
                with open("/proc/%s/cgroup" % entry) as handle:
                    if cid in handle.read():
                        return int(entry)
            except OSError:
                continue
    return None


def test_selinux_recording_from_kernel_avc_lines(kube, ns, enricher):
    from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
    from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
    from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
    if not os.access("/dev/kmsg", os.W_OK):
        pytest.skip(reason="the test writes the AVC lines into /dev/kmsg: root on the node needed")
    create_obj(kube, _recording(ns, "se", "SelinuxProfile", {"app": "se"}))
    _wait_webhook_sees(kube, ns, {"app": "se"}, "io.containers.trace-avcs/")
    core(kube).create_namespaced_pod(ns, _pod("se", "sleep 3600", {"app": "se"}))
    wait_for(lambda: pod_phase(kube, ns, "se") == "Running", 90, 0.5, "pod se Running")
    pod = core(kube).read_namespaced_pod("se", ns)
    assert pod.spec.containers[0].security_context.se_linux_options.type == "selinuxrecording.process"
    pid = wait_for(lambda: _container_pid(pod.status.container_statuses[0].container_id.split("://")[-1]), 30, 0.5,
                   "the container's process")
    ctx = "system_u:system_r:selinuxrecording.process:s0:c123,c456"
    stamp = "%.3f" % time.time()
    lines = [
        'audit: type=1400 audit(%s:9001): avc:  denied  { read } for  pid=%d comm="sleep" name="messages" dev="sda1" '
        'ino=4242 scontext=%s tcontext=system_u:object_r:var_log_t:s0 tclass=file permissive=1' % (stamp, pid, ctx),
        'audit: type=1400 audit(%s:9002): avc:  denied  { open } for  pid=%d comm="sleep" path="/var/log/messages" '
        'dev="sda1" ino=4242 scontext=%s tcontext=system_u:object_r:var_log_t:s0 tclass=file permissive=1'
        % (stamp, pid, ctx),
        'audit: type=1400 audit(%s:9003): avc:  denied  { search } for  pid=%d comm="sleep" name="log" dev="sda1" '
        'ino=12 scontext=%s tcontext=system_u:object_r:var_log_t:s0 tclass=dir permissive=1' % (stamp, pid, ctx),
        'audit: type=1400 audit(%s:9004): avc:  denied  { create } for  pid=%d comm="sleep" scontext=%s '
        'tcontext=%s tclass=unix_stream_socket permissive=1' % (stamp, pid, ctx, ctx),
    ]
    with open("/dev/kmsg", "w") as kmsg:
        for line in lines:
            kmsg.write(line + "\n")
            kmsg.flush()
    time.sleep(1.0)
    core(kube).delete_namespaced_pod("se", ns, grace_period_seconds=0)
    prof = wait_for(lambda: get_obj(kube, "SelinuxProfile", ns, "se-web"), 90, 0.5, "SelinuxProfile se-web")
    assert prof["spec"]["allow"] == {"@self": {"unix_stream_socket": ["create"]},
                                     "var_log_t": {"dir": ["search"], "file": ["open", "read"]}}
    assert [i["name"] for i in prof["spec"]["inherit"]] == ["container"]
    assert prof["metadata"]["labels"]["spo.x-k8s.io/recording-id"] == "se"
    # it compiles into the node's policy with the project's System templates
    deny = selinux.Denylist.allowing(system_profiles=selinux_templates.TEMPLATE_NAMES)
    cil = selinux_cil.profile_cil(selinux.parse_profiles([prof], deny)[0])
    modules = store_modules()
    system = selinux_templates.system_modules(compat=not any(n == "container" for n, _t in modules))
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for index, (name, text) in enumerate(modules + [(n, t.encode()) for n, t in sorted(system.items())]
                                             + [("profile", cil.encode())]):
            path = os.path.join(tmp, "%03d-%s.cil" % (index, name))
            with open(path, "wb") as handle:
                handle.write(text)
            paths.append(path)
        proc = subprocess.run(["secilc", "-o", os.path.join(tmp, "policy"), "-f", "/dev/null"] + paths,
                              capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    delete_obj(kube, "ProfileRecording", ns, "se")


def test_audit_recording_survives_the_enrichers_crash_and_its_pods_replacement(kube, ns, enricher):
    """The log enricher SIGKILLed while a recorded pod runs (and calls ``times`` while it is down), then its
    pod replaced: its sets, auditd's log position and the kernel log's last record read are on the node
    (/var/lib/spo-log-enricher), so the profile holds every phase. Last in the module: it replaces the SPOD pod."""
    record_across_restarts(kube, ns, "logs", "log-enricher", _enricher_pod, while_down=True)
