# -*- coding: utf-8 -*-
"""Small helpers of the cluster suite: custom objects, pods that run to completion, logs."""
from __future__ import annotations

import os
import subprocess
import uuid
from typing import Any, Dict, List, Optional

import yaml

from clusterlib import GROUP, ROOT, VENV_BIN, wait_for  # pylint: disable=import-error

PLURALS = {"SeccompProfile": ("v1beta1", "seccompprofiles"), "SelinuxProfile": ("v1alpha2", "selinuxprofiles"),
           "RawSelinuxProfile": ("v1alpha2", "rawselinuxprofiles"), "ProfileBinding": ("v1alpha1", "profilebindings"),
           "ProfileRecording": ("v1alpha1", "profilerecordings"),
           "SecurityProfileNodeStatus": ("v1alpha1", "securityprofilenodestatuses"),
           "SecurityProfilesOperatorDaemon": ("v1alpha1", "securityprofilesoperatordaemons")}
BUSYBOX = "docker.io/library/busybox:local"


def load_yaml(path: str) -> Any:
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def custom(kube):
    from kubernetes import client
    return client.CustomObjectsApi(kube)


def core(kube):
    from kubernetes import client
    return client.CoreV1Api(kube)


def apps(kube):
    from kubernetes import client
    return client.AppsV1Api(kube)


def get_obj(kube, kind: str, namespace: str, name: str) -> Optional[Dict[str, Any]]:
    from kubernetes.client.rest import ApiException
    version, plural = PLURALS[kind]
    try:
        return custom(kube).get_namespaced_custom_object(GROUP, version, namespace, plural, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def list_objs(kube, kind: str, namespace: Optional[str] = None, selector: str = "") -> List[Dict[str, Any]]:
    version, plural = PLURALS[kind]
    api = custom(kube)
    if namespace:
        return api.list_namespaced_custom_object(GROUP, version, namespace, plural, label_selector=selector)["items"]
    return api.list_cluster_custom_object(GROUP, version, plural, label_selector=selector)["items"]


def create_obj(kube, obj: Dict[str, Any], namespace: Optional[str] = None) -> Dict[str, Any]:
    version, plural = PLURALS[obj["kind"]]
    ns = namespace or obj["metadata"]["namespace"]
    obj = dict(obj, metadata=dict(obj["metadata"], namespace=ns))
    return custom(kube).create_namespaced_custom_object(GROUP, version, ns, plural, obj)


def patch_obj(kube, kind: str, namespace: str, name: str, patch: Dict[str, Any]) -> Dict[str, Any]:
    version, plural = PLURALS[kind]
    return custom(kube).patch_namespaced_custom_object(GROUP, version, namespace, plural, name, patch)


def delete_obj(kube, kind: str, namespace: str, name: str) -> None:
    from kubernetes.client.rest import ApiException
    version, plural = PLURALS[kind]
    try:
        custom(kube).delete_namespaced_custom_object(GROUP, version, namespace, plural, name)
    except ApiException as exc:
        if exc.status != 404:
            raise


def status_of(kube, kind: str, namespace: str, name: str) -> str:
    obj = get_obj(kube, kind, namespace, name)
    return ((obj or {}).get("status") or {}).get("status", "")


def wait_status(kube, kind: str, namespace: str, name: str, want: str, timeout: float = 60.0) -> Dict[str, Any]:
    wait_for(lambda: status_of(kube, kind, namespace, name) == want, timeout,
             what="%s %s/%s status %s" % (kind, namespace, name, want))
    return get_obj(kube, kind, namespace, name) or {}


def wait_gone(kube, kind: str, namespace: str, name: str, timeout: float = 60.0) -> None:
    wait_for(lambda: get_obj(kube, kind, namespace, name) is None, timeout,
             what="%s %s/%s to be gone" % (kind, namespace, name))


def pod_manifest(name: str, script: str, image: str = BUSYBOX, seccomp: Optional[Dict[str, str]] = None,
                 labels: Optional[Dict[str, str]] = None, restart: str = "Never") -> Dict[str, Any]:
    security: Dict[str, Any] = {}
    if seccomp:
        security["seccompProfile"] = seccomp
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}, "annotations": {"openshift.io/required-scc": "privileged"}},
            "spec": {"restartPolicy": restart, "terminationGracePeriodSeconds": 0, "securityContext": security,
                     "containers": [{"name": "main", "image": image, "imagePullPolicy": "IfNotPresent",
                                     "command": ["/bin/sh", "-c", script]}]}}


def localhost(namespace: str, name: str) -> Dict[str, str]:
    return {"type": "Localhost", "localhostProfile": "operator/%s/%s.json" % (namespace, name)}


def pod_phase(kube, namespace: str, name: str) -> str:
    return core(kube).read_namespaced_pod(name, namespace).status.phase or ""


def run_pod(kube, namespace: str, script: str, seccomp: Optional[Dict[str, str]] = None, timeout: float = 90.0,
            name: Optional[str] = None) -> str:
    """Run ``script`` in a busybox pod to completion; return its log (fails when the pod does not finish)."""
    name = name or "run-" + uuid.uuid4().hex[:6]
    core(kube).create_namespaced_pod(namespace, pod_manifest(name, script, seccomp=seccomp))
    phase = wait_for(lambda: pod_phase(kube, namespace, name) in ("Succeeded", "Failed") and pod_phase(kube, namespace, name),
                     timeout, 1.0, "pod %s/%s to finish" % (namespace, name))
    log = core(kube).read_namespaced_pod_log(name, namespace)
    core(kube).delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    assert phase in ("Succeeded", "Failed")
    return log


def start_pod(kube, namespace: str, name: str, seccomp: Optional[Dict[str, str]] = None, timeout: float = 90.0) -> None:
    """A long-running busybox pod, waited for to be Running."""
    core(kube).create_namespaced_pod(namespace, pod_manifest(name, "sleep 3600", seccomp=seccomp))
    wait_for(lambda: pod_phase(kube, namespace, name) == "Running", timeout, 1.0, "pod %s/%s Running" % (namespace, name))


def delete_pod(kube, namespace: str, name: str, wait: bool = True) -> None:
    from kubernetes.client.rest import ApiException
    try:
        core(kube).delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except ApiException as exc:
        if exc.status == 404:
            return
        raise
    if wait:
        def gone() -> bool:
            try:
                core(kube).read_namespaced_pod(name, namespace)
                return False
            except ApiException as exc:
                return exc.status == 404
        wait_for(gone, 90, 1.0, "pod %s/%s to be deleted" % (namespace, name))


def playbook(name: str, *extra: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run one of the project's playbooks with the project's ansible-playbook; fail with its output."""
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0")
    proc = subprocess.run([os.path.join(VENV_BIN, "ansible-playbook"), os.path.join(ROOT, "playbooks", name), *extra],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, "%s failed:\n%s" % (name, proc.stdout[-6000:])
    return proc
