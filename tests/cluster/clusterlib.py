# -*- coding: utf-8 -*-
"""Shared code of the cluster suite (fixtures are in conftest.py).

The cluster suite runs against a real API server, never a stand-in.

The suite runs inside the test cluster's network namespace (``hack/cluster-tests.sh`` starts the
cluster when none is given and runs pytest through ``cluster exec``), or against the cluster that
``SPO_TEST_KUBECONFIG`` names. Without either it skips with that reason; in CI (``CI=true``) an
unreachable cluster is a failure.
"""
from __future__ import annotations

import os
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
OPERATOR_NAMESPACE = "security-profiles-operator"
KUBELET_DIR = os.environ.get("CLUSTER_KUBELET_DIR", "/var/lib/kubelet")
GROUP = "security-profiles-operator.x-k8s.io"


def kubeconfig_path() -> str:
    return os.environ.get("SPO_TEST_KUBECONFIG") or os.environ.get("KUBECONFIG") or ""


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail("the cluster suite must run in CI: %s" % reason, pytrace=False)
    pytest.skip(reason=reason)


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.5, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


def make_namespace(kube, prefix: str = "spo-t", privileged: bool = True) -> str:
    """Create a fresh namespace; privileged ones opt out of OpenShift's label syncer."""
    from kubernetes import client
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    labels = {"spo.x-k8s.io/test": "true"}
    if privileged:
        labels.update({"security.openshift.io/scc.podSecurityLabelSync": "false",
                       "pod-security.kubernetes.io/enforce": "privileged",
                       "pod-security.kubernetes.io/warn": "privileged",
                       "pod-security.kubernetes.io/audit": "privileged"})
    client.CoreV1Api(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    # pods need the namespace's default service account
    wait_for(lambda: _has_default_sa(kube, name), 60, what="service account default in %s" % name)
    return name


def _has_default_sa(kube, namespace: str) -> bool:
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    try:
        client.CoreV1Api(kube).read_namespaced_service_account("default", namespace)
        return True
    except ApiException:
        return False


def delete_namespace(kube, *names: str, wait: float = 120.0) -> None:
    """Delete the namespaces ``names`` and wait until all are gone (the deletions run side by side: each takes
    the namespace controller about 5 s here); ``wait=0`` only requests the deletions."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    core = client.CoreV1Api(kube)
    pending = []
    for name in names:
        try:
            core.delete_namespace(name, grace_period_seconds=0)
            pending.append(name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    if wait <= 0:
        return

    def all_gone() -> bool:
        pending[:] = [name for name in pending if namespace_exists(kube, name)]
        return not pending
    wait_for(all_gone, wait, 1.0, "namespaces %s to be deleted" % ", ".join(pending))


def holds_project_objects(kube, name: str) -> bool:
    """Whether the namespace ``name`` holds any object of the project's kinds (then the operator or a node agent
    must run their finalizers before the namespace can go)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    from kubehelp import PLURALS  # pylint: disable=import-error
    api = client.CustomObjectsApi(kube)
    for version, plural in PLURALS.values():
        try:
            if api.list_namespaced_custom_object(GROUP, version, name, plural, limit=1)["items"]:
                return True
        except ApiException as exc:
            if exc.status != 404:  # 404: the CRD is not served
                raise
    return False


CRD_DIR = os.path.join(ROOT, "config", "crd", "bases")


def crd_names() -> list:
    import yaml
    names = []
    for entry in sorted(os.listdir(CRD_DIR)):
        if entry.endswith(".yaml"):
            with open(os.path.join(CRD_DIR, entry)) as handle:
                names.append(yaml.safe_load(handle)["metadata"]["name"])
    return names


def missing_crds(kube) -> list:
    from kubernetes import client
    have = {c.metadata.name for c in client.ApiextensionsV1Api(kube).list_custom_resource_definition().items}
    return [n for n in crd_names() if n not in have]


def apply_crds(kube) -> None:
    """Install the project's CRDs (server-side apply) and wait until the API server serves them: Established,
    and their objects listed once (a new CRD's storage answers 429 for a moment; kubectl waits that out)."""
    import subprocess
    proc = subprocess.run(["kubectl", "apply", "--server-side", "--force-conflicts", "--field-manager=spo-tests",
                           "-f", CRD_DIR], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    subprocess.run(["kubectl", "wait", "--for=condition=Established", "--timeout=60s", "-f", CRD_DIR],
                   stdout=subprocess.DEVNULL, check=True)
    subprocess.run(["kubectl", "get", "--all-namespaces", "--request-timeout=60s", "-o", "name", ",".join(crd_names())],
                   stdout=subprocess.DEVNULL, check=True)


def delete_crds(kube) -> None:
    import subprocess
    subprocess.run(["kubectl", "delete", "--ignore-not-found", "--wait=true", "--timeout=120s", "-f", CRD_DIR],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def namespace_exists(kube, name: str) -> bool:
    """Whether the namespace ``name`` exists (also while it is Terminating)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    try:
        client.CoreV1Api(kube).read_namespace(name)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def spod_conditions(kube) -> dict:
    """The conditions of the SPOD spod, by type ({} when it has none or is not there)."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    try:
        spod = client.CustomObjectsApi(kube).get_namespaced_custom_object(
            "security-profiles-operator.x-k8s.io", "v1alpha1", OPERATOR_NAMESPACE, "securityprofilesoperatordaemons",
            "spod")
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    return {c["type"]: c for c in (spod.get("status") or {}).get("conditions") or []}


def spod_settled(kube, timeout: float = 180.0) -> dict:
    """The SPOD's conditions once ansible-operator's run has ended with success: the role writes its state during
    the run, ansible-operator Successful after it, and sets Successful False at the start of each run. Until its
    next event or reconcilePeriod (5 min) the operator then changes nothing."""
    def successful() -> dict:
        conditions = spod_conditions(kube)
        return conditions if conditions.get("Successful", {}).get("status") == "True" else {}
    return wait_for(successful, timeout, 1.0, "the SPOD's run to end with Successful=True")


def operator_deployed(kube) -> bool:
    """Whether the operator's namespace exists (playbooks/deploy.yml creates it, undeploy.yml removes it)."""
    return namespace_exists(kube, OPERATOR_NAMESPACE)


def profile_file(namespace: str, name: str) -> str:
    """The node's file of the SeccompProfile ``namespace/name``."""
    return os.path.join(KUBELET_DIR, "seccomp", "operator", namespace, name + ".json")


def expected_seccomp_json(doc) -> bytes:
    """What the operator writes for the SeccompProfile ``doc`` (the collection's own compiler)."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import compile_profiles
    return compile_profiles([doc])[0].data


def ensure_namespace(kube, name: str) -> None:
    """The privileged test namespace ``name`` (created unless it exists), with its default service account."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    labels = {"security.openshift.io/scc.podSecurityLabelSync": "false", "spo.x-k8s.io/test": "true",
              "pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "privileged",
              "pod-security.kubernetes.io/audit": "privileged"}
    try:
        client.CoreV1Api(kube).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
    except ApiException as exc:
        if exc.status != 409:
            raise
    wait_for(lambda: _has_default_sa(kube, name), 60, what="service account default in " + name)
