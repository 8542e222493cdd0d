# -*- coding: utf-8 -*-
"""Pod Security label sync (spo-label-sync) side by side with OpenShift's own syncer.

The controller runs out of cluster as a subprocess of the venv, narrowed to this run's namespaces
(``--namespace-selector``), the cluster's other namespaces untouched.

1. Report-only, source auto (= scc: this cluster serves SCCs): namespaces whose service accounts are
   granted SCCs of each level (restricted-v2 for everyone, nonroot-v2, anyuid, privileged), with
   workloads of the matching level; OpenShift's syncer labels them.  Ours records the same level in
   its annotation and changes no label.
2. In charge (source workloads): a namespace opted out of OpenShift's syncer and into ours; labels
   set (restricted, owned by field manager spo-label-sync); a privileged Deployment added raises
   them — and its pod, refused while the namespace enforced restricted, then runs; removed lowers
   them; a label set by hand (another field manager) is left alone; Events record each change.
3. Exact (source workloads, run with the token of a service account bound to the project's own
   ClusterRole, as deployed): the level chosen is the API server's own verdict (``kubectl label
   --dry-run=server ns ... enforce=L``: the most restricted L that draws no "existing pods ... violate"
   warning): a template that names no securityContext (SCC admission fills it in: restricted, not
   the baseline the raw template needs), and a finished pod that needs baseline (still counted).
   Many distinct templates cost at most the per-namespace cap of dry runs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from typing import Any, Dict, List

import pytest

from clusterlib import VENV_BIN, delete_namespace, spod_settled, wait_for  # pylint: disable=import-error
from kubehelp import apps  # pylint: disable=import-error

BUSYBOX = "docker.io/library/busybox:local"
PSA = "pod-security.kubernetes.io/"
MINIMUM = "spo.x-k8s.io/pod-security-minimum"
OPENSHIFT_MINIMUM = "security.openshift.io/MinimallySufficientPodSecurityStandard"
OPENSHIFT_SYNC = "security.openshift.io/scc.podSecurityLabelSync"
OUR_SYNC = "spo.x-k8s.io/pod-security-label-sync"
SELECTOR = "spo.x-k8s.io/test-labelsync"


@pytest.fixture
def run_id(kube):
    run = uuid.uuid4().hex[:8]
    created: List[str] = []
    yield run, created
    delete_namespace(kube, *created)


def _core(kube):
    from kubernetes import client
    return client.CoreV1Api(kube)


def _make_ns(kube, run, created, suffix, labels=None) -> str:
    from kubernetes import client
    name = "ls-%s-%s" % (suffix, run)
    all_labels = {"spo.x-k8s.io/test": "true", SELECTOR: run}
    all_labels.update(labels or {})
    _core(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=all_labels)))
    created.append(name)
    return name


def _grant_scc(kube, namespace, sa, scc):
    """Service account ``sa`` of ``namespace`` may use SCC ``scc`` (OpenShift's own ClusterRole for it)."""
    from kubernetes import client
    _core(kube).create_namespaced_service_account(namespace, {"metadata": {"name": sa}})
    client.RbacAuthorizationV1Api(kube).create_namespaced_role_binding(namespace, {
        "metadata": {"name": "use-" + scc},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:openshift:scc:" + scc},
        "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]})


def _deployment(name, security=None, sa=None, replicas=0, pod_security=None) -> Dict[str, Any]:
    container = {"name": "main", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}
    if security:
        container["securityContext"] = security
    spec: Dict[str, Any] = {"containers": [container], "terminationGracePeriodSeconds": 0}
    if sa:
        spec["serviceAccountName"] = sa
    if pod_security:
        spec["securityContext"] = pod_security
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


class Controller(object):
    def __init__(self, kubeconfig: str, run: str, *args: str) -> None:
        self.stats_path = "/tmp/spo-label-sync-%s-%d.json" % (run, int(time.time() * 1000))
        self.log_path = "/tmp/spo-label-sync-%s-%d.log" % (run, int(time.time() * 1000))
        self.handle = open(self.log_path, "w")
        env = dict(os.environ, KUBECONFIG=kubeconfig)
        self.proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-label-sync"), "--namespace-selector",
                                      "%s=%s" % (SELECTOR, run), "--stats-file", self.stats_path, *args],
                                     stdout=self.handle, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        with open(self.log_path) as handle:
            return handle.read()

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.handle.close()
        text = self.log()
        os.unlink(self.log_path)
        return text

    def stats(self) -> Dict[str, Any]:
        """The counts it wrote at exit (call after stop())."""
        with open(self.stats_path) as handle:
            found = json.load(handle)
        os.unlink(self.stats_path)
        return found


@pytest.fixture
def controller(kubeconfig):
    started: List[Controller] = []

    def start(run: str, *args: str, config: str = "") -> Controller:
        ctl = Controller(config or kubeconfig, run, *args)
        started.append(ctl)
        return ctl
    yield start
    for ctl in started:
        if ctl.proc.returncode is None:
            print(ctl.stop())


def _ns(kube, name):
    return _core(kube).read_namespace(name)


def _labels(kube, name) -> Dict[str, str]:
    return _ns(kube, name).metadata.labels or {}


def _annotations(kube, name) -> Dict[str, str]:
    return _ns(kube, name).metadata.annotations or {}


def _owned_labels(kube, name, manager) -> List[str]:
    found = []
    for entry in _ns(kube, name).metadata.managed_fields or []:
        if entry.manager == manager:
            found += [k[2:] for k in ((entry.fields_v1 or {}).get("f:metadata") or {}).get("f:labels", {})]
    return sorted(found)


def _levels(kube, name) -> Dict[str, str]:
    labels = _labels(kube, name)
    return {mode: labels.get(PSA + mode) for mode in ("enforce", "warn", "audit")}


def test_report_only_agrees_with_openshift(kube, run_id, controller):
    run, created = run_id
    cases = {}
    # everyone may use restricted-v2 (and -v3): restricted, with a restricted workload
    name = _make_ns(kube, run, created, "restr")
    apps(kube).create_namespaced_deployment(name, _deployment(
        "web", RESTRICTED_CONTAINER, pod_security=RESTRICTED_POD))
    cases[name] = "restricted"
    # nonroot-v2 is still restricted
    name = _make_ns(kube, run, created, "nonroot")
    _grant_scc(kube, name, "app", "nonroot-v2")
    apps(kube).create_namespaced_deployment(name, _deployment("app", RESTRICTED_CONTAINER, sa="app",
                                                              pod_security=RESTRICTED_POD))
    cases[name] = "restricted"
    # anyuid: baseline (root allowed, escalation allowed), with a baseline workload (runs as root)
    name = _make_ns(kube, run, created, "anyuid")
    _grant_scc(kube, name, "app", "anyuid")
    apps(kube).create_namespaced_deployment(name, _deployment("app", {"runAsUser": 0}, sa="app"))
    cases[name] = "baseline"
    # privileged: privileged, with a privileged workload
    name = _make_ns(kube, run, created, "priv")
    _grant_scc(kube, name, "app", "privileged")
    apps(kube).create_namespaced_deployment(name, _deployment("app", {"privileged": True}, sa="app"))
    cases[name] = "privileged"

    # OpenShift's syncer decides first (it needs the namespace's uid range and service accounts)
    for name, level in cases.items():
        wait_for(lambda n=name, lv=level: _annotations(kube, n).get(OPENSHIFT_MINIMUM) == lv
                 and _levels(kube, n)["enforce"] == lv, 90, 1.0, "OpenShift's labels on %s" % name)
    before = {name: _labels(kube, name) for name in cases}

    ctl = controller(run, "--report-only")
    for name, level in cases.items():
        wait_for(lambda n=name: _annotations(kube, n).get(MINIMUM), 60, 0.5, "our annotation on %s" % name)
    for name, level in cases.items():
        notes = _annotations(kube, name)
        assert notes[MINIMUM] == notes[OPENSHIFT_MINIMUM] == _levels(kube, name)["enforce"] == level, (name, notes)
        assert _labels(kube, name) == before[name]  # report only: no label changed
        assert _owned_labels(kube, name, "spo-label-sync") == []
    assert "source scc, report only" in ctl.log()
    assert "may use SCC privileged" in _annotations(kube, [n for n in cases if "-priv-" in n][0])[
        "spo.x-k8s.io/pod-security-minimum-reason"]

    # an SCC granted later (a RoleBinding): both syncers follow
    name = [n for n in cases if "-restr-" in n][0]
    _grant_scc(kube, name, "late", "privileged")
    wait_for(lambda: _annotations(kube, name).get(MINIMUM) == "privileged"
             and _annotations(kube, name).get(OPENSHIFT_MINIMUM) == "privileged", 60, 0.5,
             "both syncers to follow the new RoleBinding in %s" % name)


def _events(kube, name) -> List[str]:
    items = _core(kube).list_namespaced_event(name).items
    return [e.message for e in items if e.reason == "PodSecurityLevelChanged"]


def _pods_running(kube, name, app) -> bool:
    pods = _core(kube).list_namespaced_pod(name, label_selector="app=" + app).items
    return any(p.status.phase == "Running" for p in pods)


def test_in_charge_raises_lowers_and_leaves_hand_set_labels(kube, run_id, controller):
    run, created = run_id
    # out of OpenShift's syncer, into ours
    name = _make_ns(kube, run, created, "own", {OPENSHIFT_SYNC: "false", OUR_SYNC: "true"})
    _grant_scc(kube, name, "app", "privileged")  # so SCC admission lets the privileged pod through
    controller(run, "--source", "workloads")
    all_restricted = {"enforce": "restricted", "warn": "restricted", "audit": "restricted"}
    wait_for(lambda: _levels(kube, name) == all_restricted, 60, 0.5, "restricted labels on %s" % name)
    labels = _labels(kube, name)
    assert all(labels[PSA + mode + "-version"] == "latest" for mode in ("enforce", "warn", "audit"))
    assert len(_owned_labels(kube, name, "spo-label-sync")) == 6
    assert _annotations(kube, name)[MINIMUM] == "restricted"

    # a privileged workload: refused by Pod Security while restricted, then the level rises and it runs
    apps(kube).create_namespaced_deployment(name, _deployment("priv", {"privileged": True}, sa="app",
                                                              replicas=1))
    wait_for(lambda: _levels(kube, name)["enforce"] == "privileged", 60, 0.5, "privileged labels on %s" % name)
    assert _levels(kube, name) == {"enforce": "privileged", "warn": "privileged", "audit": "privileged"}
    assert _annotations(kube, name)["spo.x-k8s.io/pod-security-minimum-reason"].startswith(
        'Deployment priv needs privileged (privileged (container "main" must not set securityContext.privileged=true)')
    wait_for(lambda: _pods_running(kube, name, "priv"), 120, 1.0, "the privileged pod running in %s" % name)

    # removed: back to restricted (once its pods are gone too)
    apps(kube).delete_namespaced_deployment("priv", name, propagation_policy="Foreground", grace_period_seconds=0)
    wait_for(lambda: _levels(kube, name) == all_restricted, 120, 0.5, "restricted again on %s" % name)

    # a label set by hand belongs to another field manager: left alone from then on
    subprocess.run(["kubectl", "label", "--overwrite", "ns", name, PSA + "warn=baseline"], check=True,
                   capture_output=True, env=dict(os.environ))
    assert "kubectl-label" in [e.manager for e in _ns(kube, name).metadata.managed_fields]
    apps(kube).create_namespaced_deployment(name, _deployment("priv2", {"privileged": True}, sa="app"))
    wait_for(lambda: _levels(kube, name)["enforce"] == "privileged", 60, 0.5, "privileged again on %s" % name)
    time.sleep(1.0)
    assert _levels(kube, name) == {"enforce": "privileged", "warn": "baseline", "audit": "privileged"}
    assert PSA + "warn" not in _owned_labels(kube, name, "spo-label-sync")

    # events: every change of level, with what was set and what was left alone (same-second events have no
    # order, so each is looked for)
    events = wait_for(lambda: len(_events(kube, name)) >= 4 and _events(kube, name), 30, 0.5, "events")
    assert len(events) == 4, events
    assert any("none -> restricted" in e for e in events), events
    assert any("restricted -> privileged" in e and "labels set: pod-security.kubernetes.io/enforce=privileged" in e
               and "left alone" not in e for e in events), events
    assert any("privileged -> restricted" in e for e in events), events
    assert any("restricted -> privileged" in e and "left alone (owned by another field manager): "
               "pod-security.kubernetes.io/warn (kubectl-label)" in e for e in events), events


def _spod_patch(kube, value):
    from kubernetes import client
    client.CustomObjectsApi(kube).patch_namespaced_custom_object(
        "security-profiles-operator.x-k8s.io", "v1alpha1", "security-profiles-operator",
        "securityprofilesoperatordaemons", "spod", {"spec": {"podSecurityLabelSync": value}})


def _deployment_available(kube) -> bool:
    from kubernetes.client.rest import ApiException
    try:
        dep = apps(kube).read_namespaced_deployment("spo-label-sync", "security-profiles-operator")
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return (dep.status.available_replicas or 0) >= 1


def _deployment_gone(kube) -> bool:
    from kubernetes.client.rest import ApiException
    try:
        apps(kube).read_namespaced_deployment("spo-label-sync", "security-profiles-operator")
        return False
    except ApiException as exc:
        return exc.status == 404


def test_spod_field_deploys_the_controller_in_cluster(kube, run_id):
    """In cluster, through the deployed operator: SPOD spec.podSecurityLabelSync {enable, reportOnly} ->
    the Deployment spo-label-sync (its own service account and ClusterRole) records the level OpenShift's
    syncer sets; enable false removes it."""
    from kubernetes import client
    from kubehelp import playbook  # pylint: disable=import-error
    playbook("deploy.yml")  # idempotent; the suite undeploys at the end what it deployed
    spod = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "security-profiles-operator.x-k8s.io", "v1alpha1", "security-profiles-operator",
        "securityprofilesoperatordaemons", "spod")
    previous = (spod.get("spec") or {}).get("podSecurityLabelSync")
    run, created = run_id
    try:
        _spod_patch(kube, {"enable": True, "reportOnly": True})
        wait_for(lambda: _deployment_available(kube), 300, 2.0, "Deployment spo-label-sync available")
        dep = apps(kube).read_namespaced_deployment("spo-label-sync", "security-profiles-operator")
        assert dep.spec.template.spec.service_account_name == "spo-label-sync"
        env = {e.name: e.value for e in dep.spec.template.spec.containers[0].env}
        assert env["LABEL_SYNC_REPORT_ONLY"] == "true" and env["LABEL_SYNC_SOURCE"] == "auto"
        assert "--no-dry-run" not in dep.spec.template.spec.containers[0].args  # the policy is served and applied
        name = _make_ns(kube, run, created, "incl")
        apps(kube).create_namespaced_deployment(name, _deployment("web", RESTRICTED_CONTAINER,
                                                                  pod_security=RESTRICTED_POD))
        wait_for(lambda: _annotations(kube, name).get(MINIMUM) == "restricted"
                 and _annotations(kube, name).get(OPENSHIFT_MINIMUM) == "restricted", 120, 1.0,
                 "the in-cluster controller's annotation on %s" % name)
        assert _owned_labels(kube, name, "spo-label-sync") == []
        _spod_patch(kube, {"enable": False})
        wait_for(lambda: _deployment_gone(kube), 300, 2.0, "Deployment spo-label-sync removed")
    finally:
        _spod_patch(kube, previous)


# ---------------------------------------------------------------------------- the guard on its create pods
GUARD = "spo-label-sync-dry-run-only"
GUARD_MESSAGE = "spo-label-sync may create pods only as server-side dry runs (dryRun=All)"


def _token_kubeconfig(kubeconfig, token, path) -> str:
    import yaml
    with open(kubeconfig) as handle:
        admin = yaml.safe_load(handle)
    cluster = admin["clusters"][0]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": "label-sync", "user": {"token": token}}],
        "contexts": [{"name": "label-sync", "context": {"cluster": cluster["name"], "user": "label-sync"}}],
        "current-context": "label-sync"}))
    return str(path)


def _guard_in_force(kube) -> bool:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    api = client.AdmissionregistrationV1Api(kube)
    try:
        api.read_validating_admission_policy(GUARD)
        bound = api.read_validating_admission_policy_binding(GUARD)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return bound.spec.policy_name == GUARD and bound.spec.validation_actions == ["Deny"]


def test_label_sync_token_creates_pods_only_as_dry_runs(kube, kubeconfig, run_id, tmp_path):
    """As an attacker holding the deployed label sync's token (system:serviceaccount:security-profiles-operator:
    spo-label-sync, whose ClusterRole grants create pods for dry runs): a real pod in a tenant namespace is
    refused by the operator's ValidatingAdmissionPolicy, a dry run of the same pod is admitted, and the SPOD
    reports the guard in force."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException
    from kubehelp import playbook  # pylint: disable=import-error
    playbook("deploy.yml")  # idempotent; the suite undeploys at the end what it deployed
    wait_for(lambda: _guard_in_force(kube), 300, 1.0, "ValidatingAdmissionPolicy %s and its binding" % GUARD)

    def guarded_condition():
        spod = client.CustomObjectsApi(kube).get_namespaced_custom_object(
            "security-profiles-operator.x-k8s.io", "v1alpha1", "security-profiles-operator",
            "securityprofilesoperatordaemons", "spod")
        return [c for c in (spod.get("status") or {}).get("conditions") or [] if c.get("type") == "LabelSyncGuarded"]
    wait_for(guarded_condition, 300, 1.0, "SPOD condition LabelSyncGuarded")
    assert guarded_condition()[0]["status"] == "True", guarded_condition()
    time.sleep(3)  # the API server's policy informer loads a policy created just now within about a second

    token = _core(kube).create_namespaced_service_account_token(
        "spo-label-sync", "security-profiles-operator", {"spec": {"expirationSeconds": 600}}).status.token
    attacker = client.CoreV1Api(config.new_client_from_config(
        config_file=_token_kubeconfig(kubeconfig, token, tmp_path / "attacker.kubeconfig")))
    run, created = run_id
    tenant = _make_ns(kube, run, created, "guard")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "escalate"},
           # no runAsUser: SCC admission assigns one from the namespace's range
           "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "main", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent",
                                    "command": ["sleep", "3600"], "securityContext": RESTRICTED_CONTAINER}]}}
    admitted = attacker.create_namespaced_pod(tenant, pod, dry_run="All")  # RBAC and every admission say yes
    assert admitted.metadata.name == "escalate" and admitted.metadata.uid
    with pytest.raises(ApiException) as refused:
        attacker.create_namespaced_pod(tenant, pod)
    assert refused.value.status in (403, 422), refused.value
    assert GUARD_MESSAGE in (refused.value.body or ""), refused.value.body
    assert GUARD in (refused.value.body or ""), refused.value.body
    assert [p.metadata.name for p in _core(kube).list_namespaced_pod(tenant).items] == []

    # control: without the binding the same token creates the real pod (the refusal above is the policy's)
    from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import guard
    admission = client.AdmissionregistrationV1Api(kube)
    # the operator puts its guard back on every reconcile (the SPOD changed by the test before may still be
    # reconciling): the binding is deleted once the SPOD's run has ended, and the window lasts until its next one
    spod_settled(kube)
    admission.delete_validating_admission_policy_binding(GUARD)
    try:
        def created_for_real(name):
            try:
                attacker.create_namespaced_pod(tenant, dict(pod, metadata={"name": name}))
                return True
            except ApiException as exc:
                assert GUARD_MESSAGE in (exc.body or ""), exc.body
                return False
        names = iter("hole-%d" % i for i in range(1000))
        wait_for(lambda: created_for_real(next(names)), 60, 0.5, "a real pod created without the binding")
    finally:
        try:
            admission.create_validating_admission_policy_binding(guard.binding("security-profiles-operator"))
        except ApiException as exc:
            if exc.status != 409:  # the operator's reconcile may have put it back already
                raise
    assert _guard_in_force(kube)


# ---------------------------------------------------------------------------- exact: the API server's verdict
ROLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                    "config", "rbac", "labelsync_role.yaml")


@pytest.fixture
def as_label_sync(kube, kubeconfig, run_id, tmp_path):
    """A kubeconfig for a service account bound to the project's own label-sync ClusterRole (as deployed: no
    SCC of its own, so a dry run is admitted with the SCCs of the workload's service account only)."""
    import yaml
    from kubernetes import client
    run, created = run_id
    name = "ls-ctl-%s" % run
    _core(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(
        name=name, labels={"spo.x-k8s.io/test": "true"})))
    created.append(name)
    _core(kube).create_namespaced_service_account(name, {"metadata": {"name": "spo-label-sync"}})
    with open(ROLE) as handle:
        role = yaml.safe_load(handle)
    role["metadata"] = {"name": "spo-label-sync-test-" + run, "labels": {"spo.x-k8s.io/test": "true"}}
    rbac = client.RbacAuthorizationV1Api(kube)
    rbac.create_cluster_role(role)
    rbac.create_cluster_role_binding({
        "metadata": {"name": "spo-label-sync-test-" + run, "labels": {"spo.x-k8s.io/test": "true"}},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role["metadata"]["name"]},
        "subjects": [{"kind": "ServiceAccount", "name": "spo-label-sync", "namespace": name}]})
    token = _core(kube).create_namespaced_service_account_token(
        "spo-label-sync", name, {"spec": {"expirationSeconds": 3600}}).status.token
    with open(kubeconfig) as handle:
        admin = yaml.safe_load(handle)
    cluster = admin["clusters"][0]
    path = tmp_path / "label-sync.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": "label-sync", "user": {"token": token}}],
        "contexts": [{"name": "label-sync", "context": {"cluster": cluster["name"], "user": "label-sync"}}],
        "current-context": "label-sync"}))
    yield str(path)
    rbac.delete_cluster_role_binding("spo-label-sync-test-" + run)
    rbac.delete_cluster_role("spo-label-sync-test-" + run)


def _violations(name: str, level: str) -> str:
    """The API server's warnings for the enforce level ``level`` (dry run; -version names the server's
    minor so that the policy always changes and the server checks the namespace's pods)."""
    done = subprocess.run(["kubectl", "label", "--dry-run=server", "--overwrite", "ns", name, PSA + "enforce=" + level,
                           PSA + "enforce-version=" + _server_minor()], check=True, capture_output=True, text=True,
                          env=dict(os.environ))
    return done.stderr if "violate" in done.stderr else ""


def _server_minor() -> str:
    done = subprocess.run(["kubectl", "version", "-o", "json"], check=True, capture_output=True, text=True,
                          env=dict(os.environ))
    server = json.loads(done.stdout)["serverVersion"]
    return "v%s.%s" % (server["major"], server["minor"].rstrip("+"))


def api_verdict(name: str) -> str:
    """The most restricted level the API server lets the namespace enforce without a warning about its pods."""
    for level in ("restricted", "baseline"):
        if not _violations(name, level):
            return level
    return "privileged"


def _phase(kube, name, pod) -> str:
    return _core(kube).read_namespaced_pod(pod, name).status.phase or ""


def test_the_level_is_the_api_servers_verdict(kube, run_id, controller, as_label_sync):
    run, created = run_id
    name = _make_ns(kube, run, created, "exact", {OPENSHIFT_SYNC: "false", OUR_SYNC: "true"})
    _grant_scc(kube, name, "root", "anyuid")
    ctl = controller(run, "--source", "workloads", config=as_label_sync)
    wait_for(lambda: _levels(kube, name)["enforce"] == "restricted", 60, 0.5, "restricted labels on %s" % name)

    # a template that names no securityContext: baseline as written; SCC restricted-v2 fills it in on admission
    apps(kube).create_namespaced_deployment(name, _deployment("web", replicas=1))
    wait_for(lambda: _pods_running(kube, name, "web"), 120, 1.0, "web running in %s" % name)
    time.sleep(1.0)  # what the controller does about the Deployment, its ReplicaSet and pod
    assert _levels(kube, name)["enforce"] == "restricted", _annotations(kube, name)
    assert _annotations(kube, name)[MINIMUM] == "restricted"
    assert api_verdict(name) == "restricted"

    # a template the namespace's enforce level refuses (root, with anyuid): the dry run is refused, the level
    # rises, then the dry run at that level judges it as admitted: baseline (not privileged)
    apps(kube).create_namespaced_deployment(name, _deployment("root", {"runAsUser": 0}, sa="root"))
    wait_for(lambda: _levels(kube, name)["enforce"] == "baseline", 60, 0.5, "baseline on %s" % name)
    # a pod that runs as root, finished: still counted by the API server, so by us
    _core(kube).create_namespaced_pod(name, {"metadata": {"name": "once"}, "spec": {
        "serviceAccountName": "root", "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "main", "image": BUSYBOX, "imagePullPolicy": "IfNotPresent", "command": ["true"],
                        "securityContext": {"runAsUser": 0}}]}})
    wait_for(lambda: _phase(kube, name, "once") == "Succeeded", 120, 1.0, "pod once finished")
    apps(kube).delete_namespaced_deployment("root", name)
    wait_for(lambda: "Pod once needs baseline" in _annotations(kube, name).get(MINIMUM + "-reason", ""), 30, 0.5,
             "the finished pod as the reason on %s" % name)
    assert _levels(kube, name)["enforce"] == "baseline"
    assert api_verdict(name) == "baseline"
    assert "once" in _violations(name, "restricted")

    # the pod removed: restricted again, as the API server says
    _core(kube).delete_namespaced_pod("once", name, grace_period_seconds=0)
    wait_for(lambda: _levels(kube, name)["enforce"] == "restricted", 60, 0.5, "restricted again on %s" % name)
    assert api_verdict(name) == "restricted"
    # the dry runs stored nothing
    pods = [p.metadata.name for p in _core(kube).list_namespaced_pod(name).items]
    assert not [p for p in pods if p.startswith("spo-label-sync-dry-run")], pods
    ctl.stop()
    stats = ctl.stats()
    assert stats["errors"] == 0 and 2 <= stats["dry_runs"] <= 8, stats


def test_many_templates_cost_at_most_the_cap(kube, run_id, controller, as_label_sync):
    """A tenant's many distinct templates (one namespace): at most --dry-run-cap dry runs per enforce level;
    the others are judged as written, and the reason says so."""
    run, created = run_id
    name = _make_ns(kube, run, created, "cap", {OPENSHIFT_SYNC: "false", OUR_SYNC: "true"})
    for i in range(12):
        dep = _deployment("web%02d" % i)
        dep["spec"]["template"]["metadata"]["annotations"] = {"rev": str(i)}
        apps(kube).create_namespaced_deployment(name, dep)
    ctl = controller(run, "--source", "workloads", "--dry-run-cap", "3", config=as_label_sync)
    wait_for(lambda: _levels(kube, name)["enforce"] == "baseline", 60, 0.5, "baseline on %s" % name)
    time.sleep(2.0)
    assert "more than 3 distinct pod templates" in _annotations(kube, name)[MINIMUM + "-reason"]
    ctl.stop()
    stats = ctl.stats()
    # a dry run per template up to the cap, again once the enforce label changed (restricted -> baseline)
    assert stats["dry_runs"] <= 6 and stats["templates_over_cap"] >= 9, stats
