# -*- coding: utf-8 -*-
"""The operator deployed into the real cluster: SPOD, node agent, profiles installed and enforced.

Deployed once for the module with playbooks/deploy.yml (the image is built and imported by
hack/cluster-tests.sh) and removed at the end with playbooks/undeploy.yml, which must leave nothing
behind. The kubelet of the test cluster enforces every profile with runc.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from typing import Optional

import pytest

from clusterlib import (KUBELET_DIR, OPERATOR_NAMESPACE, delete_namespace, spod_conditions, spod_settled,  # pylint: disable=import-error
                        wait_for)
from clusterlib import ensure_namespace as _ensure_namespace  # pylint: disable=import-error
from clusterlib import expected_seccomp_json as _expected_json  # pylint: disable=import-error
from clusterlib import profile_file as _profile_file  # pylint: disable=import-error
from kubehelp import (core, create_obj, delete_obj, delete_pod, get_obj, list_objs, load_yaml, localhost,  # pylint: disable=import-error
                      patch_obj, playbook, run_pod, start_pod, wait_gone, wait_status)

SPEC_NAMESPACE = "my-namespace"
SPEC_PROFILE = "profile-complain-block-high-risk"


def _nothing_left(kube) -> list:
    from kubernetes import client
    left = []
    names = [c.metadata.name for c in client.ApiextensionsV1Api(kube).list_custom_resource_definition().items]
    left += [n for n in names if n.endswith("security-profiles-operator.x-k8s.io")]
    hooks = client.AdmissionregistrationV1Api(kube).list_mutating_webhook_configuration().items
    left += ["webhook " + h.metadata.name for h in hooks if "security-profiles-operator" in h.metadata.name]
    left += ["namespace " + n.metadata.name for n in core(kube).list_namespace().items
             if n.metadata.name == OPERATOR_NAMESPACE]
    root = os.path.join(KUBELET_DIR, "seccomp", "operator")
    for dirpath, _dirs, files in os.walk(root):
        left += [os.path.join(dirpath, f) for f in files]
    return left


@pytest.fixture(scope="module")
def operator(kube):
    playbook("deploy.yml")
    _ensure_namespace(kube, SPEC_NAMESPACE)
    try:
        yield kube
    finally:
        if os.environ.get("SPO_TEST_KEEP_DEPLOYED") != "1":  # a developer's option: the operator stays deployed
            try:
                playbook("undeploy.yml")
                wait_for(lambda: not _nothing_left(kube), 120, 2.0, "undeploy to leave nothing")
            finally:
                delete_namespace(kube, SPEC_NAMESPACE)


def test_spod_running_and_daemonset_ready(operator):
    kube = operator
    spod = get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod")
    assert spod and spod["status"]["state"] == "Running"
    from kubernetes import client
    ds = client.AppsV1Api(kube).read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE)
    assert ds.status.desired_number_scheduled >= 1
    assert ds.status.number_ready == ds.status.desired_number_scheduled


def test_spod_conditions_are_managed_by_ansible_operator(operator):
    """manageStatus: ansible-operator's Successful/Running/Failure conditions beside the role's own status; and
    once settled, nothing the role wrote starts another run by itself (each run would flip Successful)."""
    conditions = spod_settled(operator)
    assert conditions["Failure"]["status"] == "False", conditions
    assert conditions["Running"]["reason"] == "Successful", conditions
    assert set(conditions["Running"]["ansibleResult"]) >= {"ok", "changed", "failures"}
    assert conditions["Running"]["ansibleResult"]["failures"] == 0
    assert conditions["NotHonoured"]["status"] == "False", conditions  # the role's own condition stays beside
    time.sleep(15)
    again = spod_conditions(operator)
    assert (again["Successful"]["status"], again["Successful"]["lastTransitionTime"]) == (
        "True", conditions["Successful"]["lastTransitionTime"]), "the SPOD was reconciled again while idle: %r" % again


def test_deleted_daemonset_is_recreated_at_once(operator):
    """watchDependentResources: the SPOD owns its DaemonSet, ansible-operator watches it; deleting it reconciles
    the SPOD at once (its reconcilePeriod is 5 minutes): the new DaemonSet is there within 20 s of an idle SPOD."""
    from kubernetes import client
    apps = client.AppsV1Api(operator)
    spod_settled(operator)
    old = apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE)
    assert [(o.kind, o.name) for o in old.metadata.owner_references or []] == [
        ("SecurityProfilesOperatorDaemon", "spod")]
    apps.delete_namespaced_daemon_set("spod", OPERATOR_NAMESPACE, propagation_policy="Background")
    started = time.monotonic()

    def recreated():
        try:
            ds = apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE)
        except client.rest.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return ds if ds.metadata.uid != old.metadata.uid else None
    wait_for(recreated, 20, 0.2, "the DaemonSet spod to be recreated within 20 s")
    print("\nDaemonSet deleted -> recreated in %.2fs" % (time.monotonic() - started))
    # and it comes back to ready (the next tests need the node agent)

    def ready():
        status = apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE).status
        return status.desired_number_scheduled and status.number_ready == status.desired_number_scheduled
    wait_for(ready, 180, 1.0, "spod ready again")
    wait_for(lambda: (get_obj(operator, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod") or {})
             .get("status", {}).get("state") == "Running", 180, 1.0, "the SPOD Running again")


def test_spec_profile_installed_and_enforced(operator):
    kube = operator
    doc = load_yaml("tests/unit/fixtures/spec-seccompprofile.yaml")
    create_obj(kube, doc)
    try:
        obj = wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, SPEC_PROFILE, "Installed", 60)
        assert obj["status"]["localhostProfile"] == "operator/%s/%s.json" % (SPEC_NAMESPACE, SPEC_PROFILE)
        ready = [c for c in obj["status"].get("conditions", []) if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"
        nodes = list_objs(kube, "SecurityProfileNodeStatus", SPEC_NAMESPACE,
                          "spo.x-k8s.io/profile-id=SeccompProfile-%s" % SPEC_PROFILE)
        assert nodes and all(n["metadata"]["labels"]["spo.x-k8s.io/profile-state"] == "Installed" for n in nodes)
        with open(_profile_file(SPEC_NAMESPACE, SPEC_PROFILE), "rb") as handle:
            assert handle.read() == _expected_json(doc)
        log = run_pod(kube, SPEC_NAMESPACE, "echo hello-from-profile; unshare -r true; echo unshare-rc=$?",
                      seccomp=localhost(SPEC_NAMESPACE, SPEC_PROFILE))
        assert "hello-from-profile" in log
        assert "Operation not permitted" in log and "unshare-rc=1" in log, log
        # the same pod without the profile's ERRNO rule would be allowed: prove the profile made the difference
        allowing = dict(doc, metadata={"name": "allow-unshare", "namespace": SPEC_NAMESPACE},
                        spec={"defaultAction": "SCMP_ACT_ALLOW"})
        create_obj(kube, allowing)
        wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, "allow-unshare", "Installed", 60)
        log = run_pod(kube, SPEC_NAMESPACE, "unshare -r true; echo unshare-rc=$?",
                      seccomp=localhost(SPEC_NAMESPACE, "allow-unshare"))
        assert "unshare-rc=0" in log, log
    finally:
        delete_obj(kube, "SeccompProfile", SPEC_NAMESPACE, "allow-unshare")
        delete_obj(kube, "SeccompProfile", SPEC_NAMESPACE, SPEC_PROFILE)
    wait_gone(kube, "SeccompProfile", SPEC_NAMESPACE, SPEC_PROFILE, 60)
    assert not os.path.exists(_profile_file(SPEC_NAMESPACE, SPEC_PROFILE))


def test_update_reaches_new_pods_and_in_use_profile_stays_until_pod_goes(operator):
    kube = operator
    name = "lifecycle"
    doc = {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
           "metadata": {"name": name, "namespace": SPEC_NAMESPACE},
           "spec": {"defaultAction": "SCMP_ACT_ALLOW"}}
    create_obj(kube, doc)
    wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, name, "Installed", 60)
    assert "rc=0" in run_pod(kube, SPEC_NAMESPACE, "unshare -r true; echo rc=$?", seccomp=localhost(SPEC_NAMESPACE, name))
    patch_obj(kube, "SeccompProfile", SPEC_NAMESPACE, name,
              {"spec": {"syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["unshare"]}]}})
    path = _profile_file(SPEC_NAMESPACE, name)
    wait_for(lambda: b"unshare" in open(path, "rb").read(), 60, what="the update on the node")
    wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, name, "Installed", 30)
    log = run_pod(kube, SPEC_NAMESPACE, "unshare -r true; echo rc=$?", seccomp=localhost(SPEC_NAMESPACE, name))
    assert "Operation not permitted" in log and "rc=1" in log, log

    start_pod(kube, SPEC_NAMESPACE, "user", seccomp=localhost(SPEC_NAMESPACE, name))
    try:
        wait_for(lambda: "%s/user" % SPEC_NAMESPACE in str((get_obj(kube, "SeccompProfile", SPEC_NAMESPACE, name) or {})
                                                           .get("status", {}).get("activeWorkloads", [])),
                 60, what="the pod in activeWorkloads")
        delete_obj(kube, "SeccompProfile", SPEC_NAMESPACE, name)
        wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, name, "Terminating", 30)
        time.sleep(3)
        assert get_obj(kube, "SeccompProfile", SPEC_NAMESPACE, name) is not None
        assert os.path.exists(path)
    finally:
        delete_pod(kube, SPEC_NAMESPACE, "user")
    wait_gone(kube, "SeccompProfile", SPEC_NAMESPACE, name, 60)
    assert not os.path.exists(path)


def test_bad_seccomp_profile_reports_error_and_writes_nothing(operator):
    kube = operator
    doc = {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
           "metadata": {"name": "typo", "namespace": SPEC_NAMESPACE},
           "spec": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "opne"]}]}}
    create_obj(kube, doc)
    try:
        obj = wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, "typo", "Error", 60)
        message = json.dumps(obj["status"])
        assert "spec.syscalls[0].names[1]" in message and "opne" in message
        assert not os.path.exists(_profile_file(SPEC_NAMESPACE, "typo"))
    finally:
        delete_obj(kube, "SeccompProfile", SPEC_NAMESPACE, "typo")
    wait_gone(kube, "SeccompProfile", SPEC_NAMESPACE, "typo", 60)


def _policy_store_rules(usage: str) -> str:
    policy = sorted(p for p in os.listdir("/etc/selinux/default/policy") if p.startswith("policy."))[-1]
    proc = subprocess.run(["sesearch", "-A", "-s", usage, "-t", "var_log_t", "-c", "file",
                           os.path.join("/etc/selinux/default/policy", policy)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return proc.stdout


def _container_processes(container_id: str) -> list:
    """pids of this host whose cgroup names the container (the cluster's pods run on this machine)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cgroup" % entry) as handle:
                if container_id in handle.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids


def _process_privileges(pid: int) -> Optional[dict]:
    """What the kernel says a process holds: capabilities, uid, no_new_privs, seccomp mode, root mount options
    (None for a process that ended while read)."""
    try:
        with open("/proc/%d/status" % pid) as handle:
            status = dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
        with open("/proc/%d/mountinfo" % pid) as handle:
            root = next(line.split() for line in handle if line.split()[4] == "/")
    except (OSError, StopIteration):  # ENOENT, or EINVAL for a process that is exiting
        return None
    return {"CapEff": int(status["CapEff"], 16), "CapPrm": int(status["CapPrm"], 16),
            "CapBnd": int(status["CapBnd"], 16), "uid": int(status["Uid"].split()[1]),
            "NoNewPrivs": status.get("NoNewPrivs"), "Seccomp": status.get("Seccomp"),
            "root_ro": "ro" in root[5].split(",")}


def test_node_pods_run_with_the_reviewed_privileges(operator):
    """The running containers hold what tests/unit/test_workload_security.py reviewed, read from the kernel:
    node-agent and selinuxd with no capability at all (effective, permitted and bounding sets empty), no_new_privs,
    a seccomp filter and a read-only root; the operator's manager the same, and not root."""
    kube = operator
    from kubernetes import client
    apps = client.AppsV1Api(kube)
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod", {"spec": {"enableSelinux": True}})
    try:
        wait_for(lambda: len(apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE).spec.template.spec.containers)
                 == 2, 120, 2.0, "the DaemonSet to roll with selinuxd")
        wait_for(lambda: status_of_spod(kube) == "Running", 240, 2.0, "SPOD Running with selinuxd")
        seen = {}
        for selector, wanted in (("name=spod", ("node-agent", "selinuxd")),
                                 ("name=security-profiles-operator", ("manager",))):
            for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector=selector).items:
                if pod.metadata.deletion_timestamp or pod.status.phase != "Running":
                    continue
                for container in pod.status.container_statuses or []:
                    if container.name not in wanted or not container.container_id:
                        continue
                    pids = _container_processes(container.container_id.split("://")[-1])
                    assert pids, "no process of %s found" % container.name
                    # ansible-operator starts an ansible-runner process tree per reconcile: one may end while read
                    seen[container.name] = [p for p in map(_process_privileges, pids) if p is not None]
                    assert seen[container.name], "every process of %s ended while read" % container.name
        assert set(seen) == {"node-agent", "selinuxd", "manager"}, seen
        for name, processes in seen.items():
            for proc in processes:
                assert proc["CapEff"] == proc["CapPrm"] == proc["CapBnd"] == 0, (name, proc)
                assert proc["NoNewPrivs"] == "1" and proc["Seccomp"] == "2" and proc["root_ro"], (name, proc)
                assert (proc["uid"] == 0) == (name != "manager"), (name, proc)
    finally:
        patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod", {"spec": {"enableSelinux": False}})
        wait_for(lambda: len(apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE).spec.template.spec.containers)
                 == 1, 300, 2.0, "the DaemonSet to roll without selinuxd")


def test_selinux_profile_installed_into_the_node_store(operator, namespace):
    kube = operator
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod", {"spec": {"enableSelinux": True}})
    from kubernetes import client
    apps = client.AppsV1Api(kube)
    wait_for(lambda: len(apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE).spec.template.spec.containers) == 2,
             120, 2.0, "the DaemonSet to roll with selinuxd")
    wait_for(lambda: status_of_spod(kube) == "Running", 240, 2.0, "SPOD Running after enabling SELinux")
    doc = load_yaml("profiles/selinux/errorlogger.yaml")
    create_obj(kube, doc, namespace)
    bad = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha2", "kind": "SelinuxProfile",
           "metadata": {"name": "takeover", "namespace": namespace},
           "spec": {"allow": {"shadow_t": {"file": ["read"]}}}}
    create_obj(kube, bad)
    try:
        obj = wait_status(kube, "SelinuxProfile", namespace, "errorlogger", "Installed", 240)
        usage = "errorlogger_%s.process" % namespace
        assert obj["status"]["usage"] == usage
        rules = _policy_store_rules(usage)
        assert "allow %s var_log_t:file" % usage in rules, rules
        err = wait_status(kube, "SelinuxProfile", namespace, "takeover", "Error", 120)
        assert "shadow_t" in json.dumps(err["status"])
        assert not os.path.exists("/etc/selinux.d/takeover_%s.cil" % namespace)
    finally:
        delete_obj(kube, "SelinuxProfile", namespace, "takeover")
        delete_obj(kube, "SelinuxProfile", namespace, "errorlogger")
    wait_gone(kube, "SelinuxProfile", namespace, "errorlogger", 240)
    assert "allow %s var_log_t:file" % usage not in _policy_store_rules(usage)
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod", {"spec": {"enableSelinux": False}})
    wait_for(lambda: len(apps.read_namespaced_daemon_set("spod", OPERATOR_NAMESPACE).spec.template.spec.containers) == 1,
             300, 2.0, "the DaemonSet to roll without selinuxd")


def status_of_spod(kube) -> str:
    return ((get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod") or {}).get("status") or {}).get("state", "")


def test_node_agent_killed_mid_batch_finishes_after_restart(operator):
    kube = operator
    names = ["batch-%03d" % i for i in range(60)]
    for name in names:
        create_obj(kube, {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
                          "metadata": {"name": name, "namespace": SPEC_NAMESPACE},
                          "spec": {"defaultAction": "SCMP_ACT_ERRNO",
                                   "syscalls": [{"action": "SCMP_ACT_ALLOW", "names": ["read", "write", "exit_group"]}]}})
    pods = core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=spod").items
    for pod in pods:
        core(kube).delete_namespaced_pod(pod.metadata.name, OPERATOR_NAMESPACE, grace_period_seconds=0)
    try:
        for name in names:
            wait_status(kube, "SeccompProfile", SPEC_NAMESPACE, name, "Installed", 180)
        directory = os.path.dirname(_profile_file(SPEC_NAMESPACE, names[0]))
        leftovers = [f for f in os.listdir(directory) if not f.endswith(".json")]
        assert leftovers == []
        for name in names:
            with open(_profile_file(SPEC_NAMESPACE, name)) as handle:
                assert json.load(handle)["defaultAction"] == "SCMP_ACT_ERRNO"
    finally:
        for name in names:
            delete_obj(kube, "SeccompProfile", SPEC_NAMESPACE, name)
    for name in names:
        wait_gone(kube, "SeccompProfile", SPEC_NAMESPACE, name, 120)
