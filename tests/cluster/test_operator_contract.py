# -*- coding: utf-8 -*-
"""The operator-sdk Ansible operator contract the roles rely on, as operator-sdk's ansible-operator keeps it,
against the real API server.

A test CRD (``widgets.test.spo.x-k8s.io``) is watched by ``.venv/bin/ansible-operator`` (built from its Go module
by hack/go_tools.py, the binary the image carries) started out of cluster with a watches file naming the test
roles of ``tests/cluster/roles`` (found through ANSIBLE_ROLES_PATH).  ansible-runner posts its events through the
project's emitter (spo_cli/runner_http.py); the roles' requests go through ansible-operator's proxy.  The role
records what it received in ConfigMaps; the assertions read those, the object's status, its finalizers and the
owner references the proxy injects.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from typing import Any, Dict, Iterator, Optional

import pytest

from clusterlib import ROOT, VENV_BIN, wait_for  # pylint: disable=import-error

GROUP = "test.spo.x-k8s.io"
VERSION = "v1alpha1"
PLURAL = "widgets"
FINALIZER = "test.spo.x-k8s.io/finalizer"
PERIOD = 6  # the watch's reconcilePeriod, seconds
RUNNER_DIR = "/tmp/ansible-operator/runner"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "%s.%s" % (PLURAL, GROUP)},
    "spec": {
        "group": GROUP,
        "names": {"kind": "Widget", "listKind": "WidgetList", "plural": PLURAL, "singular": "widget"},
        "scope": "Namespaced",
        "versions": [{
            "name": VERSION, "served": True, "storage": True,
            "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
        }],
    },
}

WATCHES = """\
- version: %(version)s
  group: %(group)s
  kind: Widget
  role: spo_test_widget
  reconcilePeriod: %(period)ds
  vars:
    watch_var: from-watches
  finalizer:
    name: %(finalizer)s
    role: spo_test_widget_finalizer
    vars:
      finalizer_var: from-finalizer
""" % {"version": VERSION, "group": GROUP, "period": PERIOD, "finalizer": FINALIZER}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kib(pid: int) -> int:
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and its descendants (ansible-playbook runs are children)."""
    total = _rss_kib(pid)
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False).stdout
    for child in out.split():
        try:
            total += _tree_rss_kib(int(child))
        except (OSError, ValueError):
            pass
    return total


class Api(object):
    """The few calls the assertions need, through the suite's ApiClient."""

    def __init__(self, kube) -> None:
        from kubernetes import client
        self.custom = client.CustomObjectsApi(kube)
        self.core = client.CoreV1Api(kube)
        self.ext = client.ApiextensionsV1Api(kube)

    def widget(self, namespace: str, name: str) -> Optional[Dict[str, Any]]:
        from kubernetes.client.rest import ApiException
        try:
            return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create_widget(self, namespace: str, name: str, spec: Dict[str, Any], annotations: Optional[Dict[str, str]] = None) -> None:
        """The Widget, after its run counter: the test makes ``<name>-runs`` so that the proxy does not make it
        owned by the Widget (a run's count would then be a dependent change that starts the next run at once)."""
        self.create_configmap(namespace, name + "-runs", {"count": "0"})
        body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "Widget",
                "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}
        self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)

    def delete_widget(self, namespace: str, name: str) -> None:
        from kubernetes.client.rest import ApiException
        try:
            self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def configmap(self, namespace: str, name: str) -> Optional[Dict[str, str]]:
        from kubernetes.client.rest import ApiException
        try:
            return self.core.read_namespaced_config_map(name, namespace).data or {}
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create_configmap(self, namespace: str, name: str, data: Dict[str, str]) -> None:
        from kubernetes import client
        self.core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data))


def with_condition(obj: Optional[Dict[str, Any]], ctype: str) -> Optional[Dict[str, Any]]:
    """``obj`` when its condition ``ctype`` is True, else None (for wait_for)."""
    return obj if condition(obj, ctype).get("status") == "True" else None


def condition(obj: Optional[Dict[str, Any]], ctype: str) -> Dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return cond
    return {}


class Operator(object):
    def __init__(self, proc: subprocess.Popen, log_path: str, port: int, metrics_port: int) -> None:
        self.proc = proc
        self.log_path = log_path
        self.port = port
        self.metrics_port = metrics_port

    def metrics(self) -> str:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as resp:
            return resp.read().decode()

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def probe(self, path: str) -> int:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=2) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return 0


@pytest.fixture(scope="module")
def api(kube) -> Api:
    return Api(kube)


@pytest.fixture(scope="module")
def operator(kube, kubeconfig, api, tmp_path_factory) -> Iterator[Operator]:
    """The test CRD and a running ansible-operator watching it; both removed afterwards."""
    from kubernetes.client.rest import ApiException
    tmp = tmp_path_factory.mktemp("operator")
    try:
        api.ext.create_custom_resource_definition(CRD)
    except ApiException as exc:
        if exc.status != 409:
            raise
    wait_for(lambda: _served(api), 60, what="the Widget CRD to be served")
    watches = tmp / "watches.yaml"
    watches.write_text(WATCHES)
    # the proxy stays on its default port: the kubeconfig ansible-operator writes for each run names
    # http://localhost:8888 whatever --proxy-port says
    port, metrics_port = _free_port(), _free_port()
    binary = os.path.join(VENV_BIN, "ansible-operator")
    if not os.access(binary, os.X_OK):
        pytest.fail("no %s: `make tools TOOLS=ansible-operator` (or `make images`) builds it" % binary)
    env = dict(os.environ, KUBECONFIG=kubeconfig, ANSIBLE_ROLES_PATH=os.path.join(ROOT, "tests", "cluster", "roles"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_GATHERING="explicit",
               PYTHONUNBUFFERED="1", WATCH_NAMESPACE="", HOME=str(tmp),
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))
    log_path = str(tmp / "operator.log")
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([binary, "run", "--watches-file", str(watches),
                                 "--health-probe-bind-address", "127.0.0.1:%d" % port,
                                 "--metrics-bind-address", "127.0.0.1:%d" % metrics_port,
                                 "--max-concurrent-reconciles", "2"],
                                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp))
    op = Operator(proc, log_path, port, metrics_port)
    try:
        wait_for(lambda: op.probe("/readyz") == 200 or proc.poll() is not None, 60, what="the operator to be ready")
        assert proc.poll() is None, "ansible-operator exited:\n" + op.log()
        yield op
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
        _remove_crd(api)
        # ansible-operator's runner dirs (a fixed path under /tmp); its whole log kept in tests/output
        shutil.rmtree(os.path.join(RUNNER_DIR, GROUP), ignore_errors=True)
        os.makedirs(os.path.join(ROOT, "tests", "output"), exist_ok=True)
        shutil.copy(log_path, os.path.join(ROOT, "tests", "output", "ansible-operator-contract.log"))
        print("\n--- ansible-operator log (tail) ---\n" + op.log()[-3000:])


def _served(api: Api) -> bool:
    from kubernetes.client.rest import ApiException
    try:
        api.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
        return True
    except ApiException:
        return False


def _remove_crd(api: Api) -> None:
    """Strip finalizers left behind (the runner is gone) and delete the CRD."""
    from kubernetes.client.rest import ApiException
    try:
        for obj in api.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL).get("items", []):
            meta = obj["metadata"]
            api.custom.patch_namespaced_custom_object(GROUP, VERSION, meta["namespace"], PLURAL, meta["name"],
                                                      {"metadata": {"finalizers": None}})
        api.ext.delete_custom_resource_definition(CRD["metadata"]["name"])
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def widgets(api, namespace) -> Iterator[list]:
    """Names of Widgets created by a test: deleted (and finalized by the runner) before the namespace goes."""
    names: list = []
    yield names
    for name in names:
        api.delete_widget(namespace, name)
    for name in names:
        wait_for(lambda n=name: api.widget(namespace, n) is None, 90, what="widget %s to be finalized" % name)


def test_probes_answer(operator):
    assert operator.probe("/healthz") == 200
    assert operator.probe("/readyz") == 200
    assert operator.probe("/nothing") == 404


def test_role_gets_snake_case_vars_meta_and_object(operator, api, namespace, widgets):
    spec = {"enableSelinux": True, "allowedSyscalls": ["read", "write"],
            "nestedConfig": {"innerKey": {"deepKeyName": 1}, "egressIPs": ["10.0.0.1"]},
            "listOfDicts": [{"someKey": "a", "otherKey": {"thirdKey": "b"}}],
            "JSONData": "x"}
    api.create_widget(namespace, "w-vars", spec)
    widgets.append("w-vars")
    started = time.monotonic()
    obj = wait_for(lambda: with_condition(
        api.widget(namespace, "w-vars"), "Successful"), 120, what="Successful=True on w-vars")
    print("\nreconcile end to end (create -> Successful): %.2fs" % (time.monotonic() - started))
    got = api.configmap(namespace, "w-vars-received")
    assert got is not None
    assert json.loads(got["meta"]) == {"name": "w-vars", "namespace": namespace}
    assert json.loads(got["enable_selinux"]) is True
    assert json.loads(got["allowed_syscalls"]) == ["read", "write"]
    assert json.loads(got["nested_config"]) == {"inner_key": {"deep_key_name": 1}, "egress_ips": ["10.0.0.1"]}
    assert json.loads(got["list_of_dicts"]) == [{"some_key": "a", "other_key": {"third_key": "b"}}]
    assert json.loads(got["json_data"]) == "x"
    assert json.loads(got["watch_var"]) == "from-watches"
    assert json.loads(got["finalizer_var"]) == "UNSET"
    whole = json.loads(got["object"])
    assert whole["kind"] == "Widget" and whole["metadata"]["name"] == "w-vars"
    assert whole["spec"] == spec  # the object and the raw spec keep camelCase
    assert json.loads(got["raw_spec"]) == spec
    # finalizer added before the run, managed conditions after it
    assert FINALIZER in obj["metadata"]["finalizers"]
    running = condition(obj, "Running")
    assert (running["status"], running["reason"], running["message"]) == ("True", "Successful", "Awaiting next reconciliation")
    assert set(running["ansibleResult"]) == {"ok", "changed", "skipped", "failures", "completion"}
    assert running["ansibleResult"]["failures"] == 0 and running["ansibleResult"]["ok"] >= 4
    successful = condition(obj, "Successful")
    assert (successful["reason"], successful["message"]) == ("Successful", "Last reconciliation succeeded")
    assert condition(obj, "Failure")["status"] == "False"
    # what the role wrote with k8s_status survives the managed status update
    assert obj["status"]["state"] == "Running"
    assert condition(obj, "Ready")["reason"] == "Recorded"
    # what the role created through the proxy is owned by the object (the proxy injects the reference)
    owners = api.core.read_namespaced_config_map("w-vars-received", namespace).metadata.owner_references or []
    assert [(o.kind, o.name, o.uid) for o in owners] == [("Widget", "w-vars", obj["metadata"]["uid"])]


def test_deleting_an_owned_object_reconciles_its_owner_at_once(operator, api, namespace, widgets):
    """watchDependentResources (on by default): what the proxy saw created is watched; its deletion reruns the
    role long before the reconcilePeriod."""
    api.create_widget(namespace, "w-dep", {}, annotations={"ansible.sdk.operatorframework.io/reconcile-period": "1h"})
    widgets.append("w-dep")
    wait_for(lambda: with_condition(api.widget(namespace, "w-dep"), "Successful"), 120, what="Successful=True on w-dep")
    first = json.loads(api.configmap(namespace, "w-dep-received")["meta"])
    assert first["name"] == "w-dep"
    runs = int(api.configmap(namespace, "w-dep-runs")["count"])
    api.core.delete_namespaced_config_map("w-dep-received", namespace)
    started = time.monotonic()
    wait_for(lambda: api.configmap(namespace, "w-dep-received"), 30, what="w-dep-received to be created again")
    print("\ndependent deleted -> recreated: %.2fs" % (time.monotonic() - started))
    assert int(api.configmap(namespace, "w-dep-runs")["count"]) > runs


def test_failing_role_is_requeued_until_it_succeeds(operator, api, namespace, widgets):
    api.create_widget(namespace, "w-fail", {"requireFlag": True})
    widgets.append("w-fail")
    obj = wait_for(lambda: with_condition(
        api.widget(namespace, "w-fail"), "Failure"), 120, what="Failure=True on w-fail")
    failure = condition(obj, "Failure")
    assert failure["reason"] == "Failed"
    assert "flag ConfigMap w-fail-flag is missing" in failure["message"]
    assert failure["ansibleResult"]["failures"] == 1
    assert condition(obj, "Successful")["status"] == "False"
    # retried with back-off, without any change to the object
    wait_for(lambda: int((api.configmap(namespace, "w-fail-runs") or {}).get("count", "0")) >= 3, 120,
             what="w-fail to be retried")
    api.create_configmap(namespace, "w-fail-flag", {"ok": "yes"})
    obj = wait_for(lambda: with_condition(
        api.widget(namespace, "w-fail"), "Successful"), 180, what="Successful=True on w-fail once the flag exists")
    assert condition(obj, "Failure")["status"] == "False"
    assert condition(obj, "Running")["reason"] == "Successful"


def test_finalizer_runs_on_delete_then_object_goes(operator, api, namespace, widgets):
    api.create_widget(namespace, "w-fin", {"enableSelinux": False})
    wait_for(lambda: condition(api.widget(namespace, "w-fin"), "Successful").get("status") == "True", 120,
             what="Successful=True on w-fin")
    assert FINALIZER in api.widget(namespace, "w-fin")["metadata"]["finalizers"]
    api.delete_widget(namespace, "w-fin")
    got = wait_for(lambda: api.configmap(namespace, "w-fin-finalized"), 120, what="the finalizer role's ConfigMap")
    assert json.loads(got["meta"]) == {"name": "w-fin", "namespace": namespace}
    assert json.loads(got["finalizer_var"]) == "from-finalizer"
    assert json.loads(got["watch_var"]) == "from-watches"
    assert json.loads(got["enable_selinux"]) is False
    assert json.loads(got["object"])["metadata"].get("deletionTimestamp")
    wait_for(lambda: api.widget(namespace, "w-fin") is None, 60, what="w-fin to be gone once finalized")


def test_reconcile_period_reruns_unchanged_object(operator, api, namespace, widgets):
    api.create_widget(namespace, "w-period", {})
    widgets.append("w-period")
    wait_for(lambda: (api.configmap(namespace, "w-period-runs") or {}).get("count") == "1", 120, what="first run")
    first = time.monotonic()
    wait_for(lambda: int((api.configmap(namespace, "w-period-runs") or {}).get("count", "0")) >= 2, 60,
             what="a rerun after reconcilePeriod %ds" % PERIOD)
    assert time.monotonic() - first >= PERIOD - 3  # not at once: after the period (minus the run's own time)


def test_annotation_overrides_reconcile_period(operator, api, namespace, widgets):
    api.create_widget(namespace, "w-bad-period", {}, annotations={
        "ansible.sdk.operatorframework.io/reconcile-period": "soon"})
    widgets.append("w-bad-period")
    obj = wait_for(lambda: with_condition(
        api.widget(namespace, "w-bad-period"), "Failure"), 60, what="Failure=True for a bad reconcile-period annotation")
    assert "Unable to parse reconcile period annotation" in condition(obj, "Failure")["message"]
    assert api.configmap(namespace, "w-bad-period-runs")["count"] == "0"  # the role never ran


def test_idle_rss_and_run_time(operator):
    time.sleep(PERIOD + 2)  # let periodic reruns of other tests' objects end
    rss = _rss_kib(operator.proc.pid)
    text = operator.metrics()
    total = sum(float(v) for v in re.findall(r"^controller_runtime_reconcile_time_seconds_sum\{[^}]*\} ([0-9.e+-]+)$", text, re.M))
    count = sum(float(v) for v in re.findall(r"^controller_runtime_reconcile_time_seconds_count\{[^}]*\} ([0-9.e+-]+)$", text, re.M))
    assert count > 0, "no reconcile in controller-runtime's metrics:\n" + text[:2000]
    print("\nansible-operator idle RSS: %.1f MiB; role runs: %d, mean %.2fs" % (rss / 1024.0, count, total / count))
    assert rss < 150 * 1024
