# -*- coding: utf-8 -*-
"""The node agent against the real API server and kubelet.

The agent runs out of cluster (a subprocess of the venv's ``spo-node-agent``) as node ``vm`` (the
cluster's node), with a temporary kubelet directory — or the real one for the pod test, where the
kubelet must read the profile the agent wrote.  A SPOD DaemonSet running in the same cluster has an
agent of node ``vm`` too: both work on the test's profiles (same finalizer, same SPNS), so the
tests wait for what this agent does instead of assuming who reports first.
"""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import install
from clusterlib import ROOT, operator_deployed, wait_for  # pylint: disable=import-error

AGENT = os.path.join(ROOT, ".venv", "bin", "spo-node-agent")
SPEC_PROFILE = os.path.join(ROOT, "tests", "unit", "fixtures", "spec-seccompprofile.yaml")
GROUP, VERSION, PLURAL = "security-profiles-operator.x-k8s.io", "v1beta1", "seccompprofiles"
SPNS = ("v1alpha1", "securityprofilenodestatuses")
NODE = "vm"
REAL_KUBELET = os.environ.get("CLUSTER_KUBELET_DIR") or "/var/lib/kubelet"
FINALIZER = "spo.x-k8s.io/files-on-nodes"


class Agent(object):
    def __init__(self, kubelet_dir: str, namespace: str, extra: Optional[List[str]] = None) -> None:
        self.kubelet_dir = kubelet_dir
        handle, self.log_path = tempfile.mkstemp(prefix="h-agent-", suffix=".log")
        self.log_file = os.fdopen(handle, "w")
        # --namespace: the agent leaves the other engineers' profiles (and their files) alone
        self.proc = subprocess.Popen([AGENT, "--node-name", NODE, "--kubelet-dir", kubelet_dir, "--verbosity", "1",
                                      "--namespace", namespace] + (extra or []),
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_for(lambda: "first sync done" in self.log() or self.proc.poll() is not None, 60, 0.2, "the agent's first sync")
        assert self.proc.poll() is None, self.log()

    def log(self) -> str:
        with open(self.log_path) as handle:
            return handle.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()

    def path(self, namespace: str, name: str) -> str:
        return os.path.join(self.kubelet_dir, "seccomp", "operator", namespace, name + ".json")


@pytest.fixture(scope="module", autouse=True)
def _only_this_agent(kube):
    """These tests run their own agent as node ``vm``: the operator's DaemonSet agent of the same node must not
    work on their profiles, so the operator is undeployed while they run (modules after this one deploy it again
    as they need; the suite undeploys at the end what it deployed)."""
    if operator_deployed(kube):
        from kubehelp import playbook  # pylint: disable=import-error
        playbook("undeploy.yml", "-e", "spo_keep_crds=true")


@pytest.fixture
def custom(kube):
    from kubernetes import client
    return client.CustomObjectsApi(kube)


def _strip_finalizers(custom, namespace: str) -> None:
    from kubernetes.client.rest import ApiException
    for plural, version in ((PLURAL, VERSION), ("selinuxprofiles", "v1alpha2"), ("rawselinuxprofiles", "v1alpha2")):
        for item in custom.list_namespaced_custom_object(GROUP, version, namespace, plural).get("items", []):
            if item["metadata"].get("finalizers"):
                try:
                    custom.patch_namespaced_custom_object(GROUP, version, namespace, plural, item["metadata"]["name"],
                                                          {"metadata": {"finalizers": None}})
                except ApiException:
                    pass


@pytest.fixture
def start_agent(custom, namespace) -> Iterator[Callable[[str], Agent]]:
    agents: List[Agent] = []

    def start(kubelet_dir: str, extra: Optional[List[str]] = None) -> Agent:
        agent = Agent(kubelet_dir, namespace, extra)
        agents.append(agent)
        return agent
    try:
        yield start
    finally:
        for agent in agents:
            agent.stop()
        _strip_finalizers(custom, namespace)  # nothing may block the namespace's deletion


@pytest.fixture
def agent(start_agent, tmp_path) -> Agent:
    return start_agent(str(tmp_path / "kubelet"))


def spec_profile(namespace: str, name: Optional[str] = None) -> Dict[str, Any]:
    with open(SPEC_PROFILE) as handle:
        doc = yaml.safe_load(handle)
    doc["metadata"]["namespace"] = namespace
    if name:
        doc["metadata"]["name"] = name
    return doc


def get(custom, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    from kubernetes.client.rest import ApiException
    try:
        return custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def state(custom, namespace: str, name: str) -> Optional[str]:
    obj = get(custom, namespace, name)
    return ((obj or {}).get("status") or {}).get("status")


def node_statuses(custom, namespace: str) -> List[Dict[str, Any]]:
    return custom.list_namespaced_custom_object(GROUP, SPNS[0], namespace, SPNS[1]).get("items", [])


def engine_bytes(doc: Dict[str, Any]) -> bytes:
    """What the engine (seccomp_install.install, as the collection's modules use it) writes for ``doc``."""
    with tempfile.TemporaryDirectory() as directory:
        install([copy.deepcopy(doc)], directory)
        meta = doc["metadata"]
        with open(os.path.join(directory, "seccomp", "operator", meta["namespace"], meta["name"] + ".json"), "rb") as f:
            return f.read()


def test_spec_profile_installed_with_node_status(custom, namespace, agent):
    doc = spec_profile(namespace)
    name = doc["metadata"]["name"]
    started = time.monotonic()
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
    wait_for(lambda: state(custom, namespace, name) == "Installed", 10, 0.2, "status Installed")
    assert time.monotonic() - started < 10
    obj = get(custom, namespace, name)
    assert obj["status"]["localhostProfile"] == "operator/%s/%s.json" % (namespace, name)
    ready = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert FINALIZER in obj["metadata"]["finalizers"]
    spns = node_statuses(custom, namespace)
    assert len(spns) == 1
    assert spns[0]["metadata"]["name"] == "%s-%s" % (name, NODE)
    assert spns[0]["nodeName"] == NODE and spns[0]["status"] == "Installed"
    assert spns[0]["metadata"]["labels"] == {
        "spo.x-k8s.io/profile-id": "SeccompProfile-" + name, "spo.x-k8s.io/node-name": NODE,
        "spo.x-k8s.io/profile-state": "Installed", "spo.x-k8s.io/profile-kind": "SeccompProfile",
        "spo.x-k8s.io/settled": "true", "spo.x-k8s.io/keeper": NODE}
    owner = spns[0]["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("SeccompProfile", name, obj["metadata"]["uid"])
    # (a SPOD DaemonSet's agent of node vm may have reported Installed first: wait for ours)
    wait_for(lambda: os.path.exists(agent.path(namespace, name)), 10, 0.2, "the profile file")
    with open(agent.path(namespace, name), "rb") as handle:
        assert handle.read() == engine_bytes(doc)


def test_refused_profile_is_error_and_not_written(custom, namespace, agent):
    good = spec_profile(namespace, "good")
    bad = spec_profile(namespace, "bad")
    bad["spec"]["syscalls"][0]["names"] = ["exit", "opne"]
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, bad)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, good)
    wait_for(lambda: state(custom, namespace, "bad") == "Error", 10, 0.2, "status Error")
    wait_for(lambda: state(custom, namespace, "good") == "Installed", 10, 0.2, "the good profile Installed")
    obj = get(custom, namespace, "bad")
    ready = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "False"
    assert "spec.syscalls[0].names[1]" in ready["message"] and "opne" in ready["message"], ready
    wait_for(lambda: os.path.exists(agent.path(namespace, "good")), 10, 0.2, "the good profile's file")
    assert not os.path.exists(agent.path(namespace, "bad"))
    spns = {s["metadata"]["name"]: s for s in node_statuses(custom, namespace)}
    assert spns["bad-vm"]["status"] == "Error" and "spec.syscalls[0].names[1]" in spns["bad-vm"]["message"]
    assert spns["bad-vm"]["metadata"]["labels"]["spo.x-k8s.io/profile-state"] == "Error"

    from kubernetes import client
    events = client.CoreV1Api(custom.api_client).list_namespaced_event(
        namespace, field_selector="involvedObject.name=bad").items
    assert any(e.type == "Warning" and "opne" in e.message for e in events)


def tenant_api(kube, namespace: str):
    """A client acting as a tenant: an impersonated user whose only grant is a Role on the SeccompProfiles of its
    own namespace (the cluster admin's ``kube`` creates the Role and its binding)."""
    from kubernetes import client
    user = "tenant-" + namespace
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "tenant"}, "rules": [
        {"apiGroups": [GROUP], "resources": [PLURAL],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "tenant"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]})
    api = client.ApiClient(kube.configuration)
    api.set_default_header("Impersonate-User", user)
    return client.CustomObjectsApi(api)


def _seccomp(namespace: str, name: str, default: str, *rules: Any, base: Optional[str] = None) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [{"action": action, "names": names} for action, names in rules]}
    if base:
        spec["baseProfileName"] = base
    return {"apiVersion": GROUP + "/" + VERSION, "kind": "SeccompProfile",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_allowed_seccomp_actions_bound_a_tenants_profiles(custom, kube, namespace, start_agent, tmp_path):
    """The cluster admin's SPOD (in the test namespace, the agent's --operator-namespace) sets
    security.allowedSyscalls and allowedSeccompActions [SCMP_ACT_ALLOW, SCMP_ACT_LOG] (upstream's semantics: the
    actions whose syscalls allowedSyscalls bounds). As a tenant: the SPOD cannot be changed; a profile with
    defaultAction SCMP_ACT_ALLOW, one logging mount and one inheriting that rule stay uninstalled (no file, Error
    naming the field and the action); one within the bound and one tracing ptrace (TRACE is not listed) install.
    The admin's changes of the list re-judge the installed profiles (file removed) and the refused ones."""
    from kubernetes.client.rest import ApiException
    calls = ["read", "write", "exit", "exit_group", "futex", "nanosleep"]
    custom.create_namespaced_custom_object(GROUP, SPOD[0], namespace, SPOD[1], {
        "apiVersion": GROUP + "/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": namespace},
        "spec": {"security": {"allowedSyscalls": calls, "allowedSeccompActions": ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]}}})
    agent = start_agent(str(tmp_path / "kubelet"), ["--operator-namespace", namespace])
    tenant = tenant_api(kube, namespace)
    profiles = [
        _seccomp(namespace, "allowall", "SCMP_ACT_ALLOW", ("SCMP_ACT_ERRNO", ["mount"])),
        _seccomp(namespace, "logged", "SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", calls), ("SCMP_ACT_LOG", ["mount"])),
        _seccomp(namespace, "heir", "SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", ["read"]), base="logged"),
        _seccomp(namespace, "fine", "SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", calls), ("SCMP_ACT_ERRNO", ["mount"])),
        _seccomp(namespace, "traced", "SCMP_ACT_ERRNO", ("SCMP_ACT_ALLOW", calls), ("SCMP_ACT_TRACE", ["ptrace"])),
    ]

    def created(doc: Dict[str, Any]) -> bool:
        try:
            tenant.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
            return True
        except ApiException as exc:
            assert exc.status == 403, exc  # the tenant's Role may take a moment to reach the authorizer
            return False
    for doc in profiles:
        wait_for(lambda doc=doc: created(doc), 30, 0.5, "the tenant's profile %s created" % doc["metadata"]["name"])
    with pytest.raises(ApiException) as denied:  # the tenant cannot loosen the bound
        tenant.patch_namespaced_custom_object(GROUP, SPOD[0], namespace, SPOD[1], "spod",
                                              {"spec": {"security": {"allowedSyscalls": None}}})
    assert denied.value.status == 403

    def ready_message(name: str) -> str:
        return [c for c in get(custom, namespace, name)["status"]["conditions"] if c["type"] == "Ready"][0]["message"]

    def settle(expected: Dict[str, str]) -> None:
        wait_for(lambda: {n: state(custom, namespace, n) for n in expected} == expected, 30, 0.2,
                 "states %s (agent log: %s)" % (expected, agent.log()[-2000:]))
        for name, want in expected.items():
            wait_for(lambda name=name, want=want: os.path.exists(agent.path(namespace, name)) == (want == "Installed"),
                     10, 0.2, "%s's file %s" % (name, "written" if want == "Installed" else "absent"))

    settle({"allowall": "Error", "logged": "Error", "heir": "Error", "fine": "Installed", "traced": "Installed"})
    prefix = "SeccompProfile %s/" % namespace
    assert prefix + "allowall: spec.defaultAction: SCMP_ACT_ALLOW lets every syscall" in ready_message("allowall")
    assert prefix + "logged: spec.syscalls[1].action: SCMP_ACT_LOG lets mount run" in ready_message("logged")
    inherited = "heir: spec.baseProfileName: SCMP_ACT_LOG (a rule inherited through the base profile) lets mount run"
    assert prefix + inherited in ready_message("heir")
    spns = {s["metadata"]["name"]: s for s in node_statuses(custom, namespace)}
    assert spns["logged-vm"]["status"] == "Error" and "spec.syscalls[1].action" in spns["logged-vm"]["message"]

    # the admin bounds TRACE too: the installed profile tracing ptrace is refused and its file removed
    custom.patch_namespaced_custom_object(GROUP, SPOD[0], namespace, SPOD[1], "spod", {"spec": {"security": {
        "allowedSeccompActions": ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"]}}})
    settle({"allowall": "Error", "logged": "Error", "heir": "Error", "fine": "Installed", "traced": "Error"})
    assert "spec.syscalls[1].action: SCMP_ACT_TRACE lets ptrace run" in ready_message("traced")
    # and then bounds ALLOW alone: the logging profile and its heir install, defaultAction ALLOW stays refused
    custom.patch_namespaced_custom_object(GROUP, SPOD[0], namespace, SPOD[1], "spod", {"spec": {"security": {
        "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}}})
    settle({"allowall": "Error", "logged": "Installed", "heir": "Installed", "fine": "Installed", "traced": "Installed"})


def test_delete_removes_file_node_status_and_finalizer(custom, namespace, agent):
    doc = spec_profile(namespace, "short-lived")
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
    wait_for(lambda: state(custom, namespace, "short-lived") == "Installed", 10, 0.2, "status Installed")
    wait_for(lambda: os.path.exists(agent.path(namespace, "short-lived")), 10, 0.2, "the profile file")
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "short-lived")
    wait_for(lambda: get(custom, namespace, "short-lived") is None, 10, 0.2, "the profile to be gone")
    assert not os.path.exists(agent.path(namespace, "short-lived"))
    wait_for(lambda: not node_statuses(custom, namespace), 10, 0.2, "the node status to be gone")


def test_profiles_deleted_together_release_their_node_statuses_together(custom, namespace, start_agent, tmp_path):
    """Five profiles deleted at once: files, node statuses and finalizers go, this node's statuses in a
    delete-collection request (not one delete each) and the keeper's look at the other nodes' statuses in one
    list per batch (not one per profile), as the agent's request counts show."""
    stats = str(tmp_path / "stats.json")
    agent = start_agent(str(tmp_path / "kubelet"), ["--stats-file", stats])
    names = ["together-%d" % i for i in range(5)]
    for name in names:
        custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, spec_profile(namespace, name))
    wait_for(lambda: all(state(custom, namespace, name) == "Installed" for name in names), 20, 0.2, "all Installed")
    assert len(node_statuses(custom, namespace)) == 5
    custom.delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    wait_for(lambda: all(get(custom, namespace, name) is None for name in names), 20, 0.2, "the profiles to be gone")
    assert not any(os.path.exists(agent.path(namespace, name)) for name in names)
    wait_for(lambda: not node_statuses(custom, namespace), 10, 0.2, "the node statuses to be gone")
    agent.stop()
    with open(stats) as handle:
        counts = json.load(handle)["by_resource"]
    deletes = counts.get("delete securityprofilenodestatuses", 0)
    assert counts.get("deletecollection securityprofilenodestatuses", 0) >= 1 and deletes < 5, counts
    # 3 lists at start (this node's, the others' unsettled, the kept settled ones), then one per batch
    assert counts.get("list securityprofilenodestatuses", 0) - 3 < 5, counts


def other_node_status(custom, profile: Dict[str, Any], node: str, status: str, message: str = "",
                      settled: bool = False, keeper: Optional[str] = None) -> None:
    """The SPNS another node's agent would write for ``profile`` (a SeccompProfile as read back); without
    ``settled`` and ``keeper``, as agents before the labels ``spo.x-k8s.io/settled`` and ``keeper`` wrote it."""
    meta = profile["metadata"]
    labels = {"spo.x-k8s.io/profile-id": "SeccompProfile-" + meta["name"], "spo.x-k8s.io/node-name": node,
              "spo.x-k8s.io/profile-state": status, "spo.x-k8s.io/profile-kind": "SeccompProfile"}
    if settled:
        labels["spo.x-k8s.io/settled"] = "true"
    if keeper:
        labels["spo.x-k8s.io/keeper"] = keeper
    body = {"apiVersion": GROUP + "/v1alpha1", "kind": "SecurityProfileNodeStatus",
            "metadata": {"name": "%s-%s" % (meta["name"], node), "labels": labels,
                         "ownerReferences": [{"apiVersion": GROUP + "/v1beta1", "kind": "SeccompProfile",
                                              "name": meta["name"], "uid": meta["uid"]}]},
            "nodeName": node, "status": status}
    if message:
        body["message"] = message
    custom.create_namespaced_custom_object(GROUP, SPNS[0], meta["namespace"], SPNS[1], body)


def test_finalizer_and_status_of_a_missing_node_are_removed(custom, namespace, agent):
    doc = spec_profile(namespace, "ghosted")
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
    wait_for(lambda: state(custom, namespace, "ghosted") == "Installed", 10, 0.2, "status Installed")
    obj = get(custom, namespace, "ghosted")
    ghost = "h-agent-ghost-%s" % uuid.uuid4().hex[:6]
    other_node_status(custom, obj, ghost, "Error", "a node that is gone")
    custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "ghosted", {
        "metadata": {"finalizers": obj["metadata"]["finalizers"] + [ghost + ".node.spo.x-k8s.io/profile"]}})
    wait_for(lambda: [s["nodeName"] for s in node_statuses(custom, namespace)] == [NODE], 10,
             0.2, "the missing node's status to be deleted")
    wait_for(lambda: get(custom, namespace, "ghosted")["metadata"].get("finalizers") == [FINALIZER], 10,
             0.2, "the missing node's finalizer to be removed")
    wait_for(lambda: state(custom, namespace, "ghosted") == "Installed", 10, 0.2, "status Installed again")
    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "ghosted")
    wait_for(lambda: get(custom, namespace, "ghosted") is None, 10, 0.2, "the profile to be gone")


@pytest.mark.parametrize("other", ["unsettled", "settled", "node-gone"])
def test_deletion_waits_for_every_existing_node(custom, namespace, agent, other):
    """One finalizer for all nodes: a deleted profile stays while another existing node still has its node
    status (its file), and goes once that node is done.  This agent claimed the profile (finalizer and keeper
    annotation), so it removes the finalizer:
    - unsettled: the other node's status (as earlier agents wrote it) is in every agent's cache;
    - settled: written as agents write it now (Installed, unused, naming this node as keeper), it is only in
      the keeper's cache, which sees the other node finish;
    - node-gone: a settled status without the keeper label is in no cache here: the agent finds it by listing,
      and lets the profile go when that node's Node object goes (deleting that node's statuses)."""
    from kubernetes import client
    core = client.CoreV1Api(custom.api_client)
    doc = spec_profile(namespace, "two-nodes")
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
    wait_for(lambda: state(custom, namespace, "two-nodes") == "Installed", 10, 0.2, "status Installed")
    obj = get(custom, namespace, "two-nodes")
    assert obj["metadata"]["finalizers"] == [FINALIZER]
    assert obj["metadata"]["annotations"]["spo.x-k8s.io/keeper"] == NODE
    mine = node_statuses(custom, namespace)
    assert [(s["nodeName"], s["metadata"]["labels"].get("spo.x-k8s.io/settled"),
             s["metadata"]["labels"].get("spo.x-k8s.io/keeper")) for s in mine] == [(NODE, "true", NODE)]
    settled = other != "unsettled"
    keeper = NODE if other == "settled" else None
    other = "h-agent-other-%s" % uuid.uuid4().hex[:6]
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": other},
                      "spec": {"taints": [{"key": "spo.x-k8s.io/test", "value": "true", "effect": "NoSchedule"}]}})
    node_deleted = False
    try:
        # what the other node's agent wrote: its node status (Installed, the file is there)
        other_node_status(custom, obj, other, "Installed", settled=settled, keeper=keeper)
        custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "two-nodes")
        wait_for(lambda: not os.path.exists(agent.path(namespace, "two-nodes")), 10, 0.2, "this node's file removed")
        wait_for(lambda: [s["nodeName"] for s in node_statuses(custom, namespace)] == [other], 10, 0.2,
                 "this node's status deleted")
        time.sleep(2)
        held = get(custom, namespace, "two-nodes")
        assert held is not None and held["metadata"]["finalizers"] == [FINALIZER], held
        if settled and not keeper:
            core.delete_node(other)
            node_deleted = True
            wait_for(lambda: not node_statuses(custom, namespace), 10, 0.2, "the gone node's status deleted")
        else:
            custom.delete_namespaced_custom_object(GROUP, SPNS[0], namespace, SPNS[1], "two-nodes-" + other)
        wait_for(lambda: get(custom, namespace, "two-nodes") is None, 10, 0.2, "the profile to be gone")
    finally:
        if not node_deleted:
            core.delete_node(other)


def _pod(namespace: str, name: str, profile: str) -> Dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "securityContext": {"seccompProfile": {"type": "Localhost", "localhostProfile": profile}},
            "containers": [{"name": "sleeper", "image": "docker.io/library/busybox:local", "imagePullPolicy": "Never",
                            "command": ["sleep", "3600"]}],
        },
    }


@pytest.mark.skipif(not os.path.isdir(REAL_KUBELET), reason="needs the cluster's kubelet directory on this machine")
def test_profile_in_use_stays_terminating_until_the_pod_is_gone(custom, kube, namespace, start_agent):
    from kubernetes import client
    core = client.CoreV1Api(kube)
    agent = start_agent(REAL_KUBELET)
    name = "in-use"
    doc = {"apiVersion": GROUP + "/" + VERSION, "kind": "SeccompProfile",
           "metadata": {"name": name, "namespace": namespace},
           "spec": {"defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{"action": "SCMP_ACT_ERRNO", "names": ["unshare"]}]}}
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, doc)
    wait_for(lambda: state(custom, namespace, name) == "Installed", 10, 0.2, "status Installed")
    path = agent.path(namespace, name)
    wait_for(lambda: os.path.exists(path), 10, 0.2, "the profile file")
    core.create_namespaced_pod(namespace, _pod(namespace, "user", "operator/%s/%s.json" % (namespace, name)))
    wait_for(lambda: core.read_namespaced_pod("user", namespace).status.phase == "Running", 90, 0.2, "the pod to run")
    wait_for(lambda: (get(custom, namespace, name)["status"].get("activeWorkloads") or []) == [namespace + "/user"],
             10, 0.2, "activeWorkloads to list the pod")

    custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    wait_for(lambda: state(custom, namespace, name) == "Terminating", 10, 0.2, "status Terminating")
    time.sleep(2)
    assert get(custom, namespace, name) is not None, "a profile in use must not be deleted"
    assert os.path.exists(path), "the file of a profile in use must stay"
    spns = node_statuses(custom, namespace)
    assert [s["status"] for s in spns] == ["Terminating"]

    core.delete_namespaced_pod("user", namespace, grace_period_seconds=0)
    wait_for(lambda: get(custom, namespace, name) is None, 60, 0.2, "the profile to be gone once the pod is")
    assert not os.path.exists(path)
    assert not node_statuses(custom, namespace)


# ---------------------------------------------------------------- SELinux
SELINUX = ("v1alpha2", "selinuxprofiles")
SPOD = ("v1alpha1", "securityprofilesoperatordaemons")


def selinux_state(custom, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    from kubernetes.client.rest import ApiException
    try:
        return custom.get_namespaced_custom_object(GROUP, SELINUX[0], namespace, SELINUX[1], name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def errorlogger(namespace: str, name: str = "errorlogger", allow: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"apiVersion": GROUP + "/v1alpha2", "kind": "SelinuxProfile",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"inherit": [{"name": "container"}],
                     "allow": allow or {"var_log_t": {"dir": ["open", "read", "getattr", "search"],
                                                      "file": ["getattr", "read", "write", "append", "open"]}}}}


def store_modules() -> set:
    out = subprocess.run(["semodule", "-l"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_selinux_profile_waits_while_selinux_is_off(custom, namespace, start_agent, tmp_path):
    """No SPOD with SELinux on (the agent reads the SPOD of its --operator-namespace, here the test's
    namespace, which has none): Pending, saying why."""
    start_agent(str(tmp_path / "kubelet"), ["--operator-namespace", namespace, "--selinux-dir", str(tmp_path / "sd")])
    custom.create_namespaced_custom_object(GROUP, SELINUX[0], namespace, SELINUX[1], errorlogger(namespace))
    obj = wait_for(lambda: ((selinux_state(custom, namespace, "errorlogger") or {}).get("status") or {}).get("status")
                   == "Pending" and selinux_state(custom, namespace, "errorlogger"), 10, 0.2, "status Pending")
    ready = [c for c in obj["status"]["conditions"] if c["type"] == "Ready"][0]
    assert ready["status"] == "False" and "SELinux is not enabled" in ready["message"]
    assert obj["status"]["usage"] == "errorlogger_%s.process" % namespace


@pytest.mark.skipif(os.geteuid() != 0 or subprocess.run(["sh", "-c", "command -v semodule"],
                                                        capture_output=True, check=False).returncode != 0,
                    reason="needs root and semodule (hack/setup.sh installs policycoreutils)")
def test_selinux_profile_installed_through_selinuxd(custom, namespace, tmp_path):
    """SPOD (in the test namespace, given as the agent's --operator-namespace) with SELinux on, the real
    spo-selinuxd on the node's policy store: Installed, a refused profile Error, delete uninstalls."""
    custom.create_namespaced_custom_object(GROUP, SPOD[0], namespace, SPOD[1], {
        "apiVersion": GROUP + "/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
        "metadata": {"name": "spod", "namespace": namespace}, "spec": {"enableSelinux": True}})
    dropin, sock = tmp_path / "selinux.d", str(tmp_path / "run" / "selinuxd.sock")
    dropin.mkdir()
    before = store_modules()
    selinuxd = subprocess.Popen([os.path.join(ROOT, ".venv", "bin", "spo-selinuxd"), "--dir", str(dropin), "--socket", sock,
                                 "--state", str(tmp_path / "state.json"), "--interval", "0.2", "--quiet-period", "0.5"],
                                stdout=open(str(tmp_path / "selinuxd.log"), "w"), stderr=subprocess.STDOUT)
    from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.selinuxd import query

    def selinuxd_ready() -> bool:
        try:
            return query(sock, "/ready", timeout=2)[0] == 200
        except OSError:
            return False
    # selinuxd first: files that land while its first reconcile runs are not seen (it snapshots the
    # directory after that reconcile)
    wait_for(selinuxd_ready, 60, 0.2, "selinuxd ready")
    log = open(str(tmp_path / "agent.log"), "w")
    agent = subprocess.Popen([AGENT, "--node-name", NODE, "--kubelet-dir", str(tmp_path / "kubelet"), "--namespace",
                              namespace, "--operator-namespace", namespace, "--selinux-dir", str(dropin),
                              "--selinuxd-socket", sock, "--verbosity", "1"], stdout=log, stderr=subprocess.STDOUT)
    policy = "errorlogger_" + namespace
    try:
        custom.create_namespaced_custom_object(GROUP, SELINUX[0], namespace, SELINUX[1], errorlogger(namespace))
        custom.create_namespaced_custom_object(GROUP, SELINUX[0], namespace, SELINUX[1],
                                               errorlogger(namespace, "greedy", {"kernel_t": {"file": ["read"]}}))

        def state(name):
            return ((selinux_state(custom, namespace, name) or {}).get("status") or {}).get("status")
        try:
            wait_for(lambda: state("errorlogger") == "Installed", 120, 1.0, "the SelinuxProfile Installed")
        except AssertionError:
            with open(str(tmp_path / "agent.log")) as handle:
                agent_log = handle.read()[-3000:]
            with open(str(tmp_path / "selinuxd.log")) as handle:
                selinuxd_log = handle.read()[-3000:]
            raise AssertionError("not Installed: %r; selinuxd: %r %s; agent: %s"
                                 % (selinux_state(custom, namespace, "errorlogger").get("status"),
                                    query(sock, "/policies/"), selinuxd_log, agent_log))
        assert policy in store_modules()
        assert (dropin / (policy + ".cil")).exists()
        obj = selinux_state(custom, namespace, "errorlogger")
        assert obj["status"]["usage"] == policy + ".process"
        wait_for(lambda: state("greedy") == "Error", 10, 0.2, "the refused profile in Error")
        ready = [c for c in selinux_state(custom, namespace, "greedy")["status"]["conditions"] if c["type"] == "Ready"][0]
        assert "spec.allow.kernel_t" in ready["message"], ready
        assert not (dropin / ("greedy_%s.cil" % namespace)).exists()

        custom.delete_namespaced_custom_object(GROUP, SELINUX[0], namespace, SELINUX[1], "errorlogger")
        wait_for(lambda: selinux_state(custom, namespace, "errorlogger") is None, 180, 1.0, "the profile gone")
        assert not (dropin / (policy + ".cil")).exists()
        wait_for(lambda: policy not in store_modules(), 60, 1.0, "the module to leave the policy store")
    finally:
        for proc in (agent, selinuxd):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        _strip_finalizers(custom, namespace)
        left = sorted(m for m in store_modules() - before if m.endswith("_" + namespace))
        if left:
            subprocess.run(["semodule", "-n"] + [a for m in left for a in ("-r", m)], check=False)
