# -*- coding: utf-8 -*-
"""Every pod the project deploys is as tight as its job allows (issue 16, "Node pods as tight as upstream's").

Data-driven: each workload as it is rendered (the SPOD DaemonSet in every combination of its containers, the
webhook and label sync Deployments, the operator Deployment of config/manager and of the OLM bundle) is read pod
by pod and container by container, and compared with REVIEWED, the reviewed list of what each container may
hold and why (README "The SPOD's pods").  A new container, a capability added back, a privileged flag or a
writable root filesystem fails here until it is reviewed.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, NamedTuple, Tuple

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment as labelsync
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import manifests as webhook

from crd import ROOT

NS = "security-profiles-operator"


class Allowed(NamedTuple):
    root: bool          # may run as uid 0 (else: non-root, enforced by runAsNonRoot)
    privileged: bool    # may be privileged (then the kernel gives it every capability)
    add: frozenset      # capabilities added back after dropping ALL
    why: str


REVIEWED: Dict[str, Allowed] = {
    "node-agent": Allowed(True, False, frozenset(),
                          "writes root's host dirs (kubelet seccomp dir, selinux drop-in) and reads the policy store "
                          "(mode 0700) as their owner; owner bits need no capability"),
    "selinuxd": Allowed(True, False, frozenset(),
                        "semodule rebuilds root's policy store as its owner (measured with an empty capability set); "
                        "loading the policy is an SELinux permission, not a capability"),
    "log-enricher": Allowed(True, True, frozenset(),
                            "reads /dev/kmsg (a device: privileged only), audit netlink control and marker, "
                            "proc connector in the host netns, /proc of every pid (hostPID)"),
    "bpf-recorder": Allowed(True, True, frozenset(),
                            "loads BPF programs onto tracepoints (bpf(), perf_event_open: CAP_BPF/CAP_PERFMON/"
                            "CAP_SYS_ADMIN, no seccomp), mounts tracefs in its own mount namespace, /proc of every "
                            "pid (hostPID)"),
    "webhook": Allowed(False, False, frozenset(), "serves HTTPS on a high port"),
    "label-sync": Allowed(False, False, frozenset(), "API client only"),
    "manager": Allowed(False, False, frozenset(), "API client running Ansible locally"),
    "ensure-spod": Allowed(False, False, frozenset(), "API client only"),
}


def _spod(**spec: Any) -> Dict[str, Any]:
    return {"apiVersion": spod.SPOD_API_VERSION, "kind": spod.SPOD_KIND,
            "metadata": {"name": "spod", "namespace": NS, "uid": "u-1"}, "spec": spec}


def _yaml_docs(path: str) -> List[Dict[str, Any]]:
    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _operator_from_config() -> Dict[str, Any]:
    return next(d for d in _yaml_docs("config/manager/manager.yaml") if d.get("kind") == "Deployment")


def _operator_from_bundle() -> Dict[str, Any]:
    csv = _yaml_docs("bundle/manifests/security-profiles-operator.clusterserviceversion.yaml")[0]
    deployments = csv["spec"]["install"]["spec"]["deployments"]
    assert deployments, "the CSV installs the operator Deployment"
    return {"kind": "Deployment", "spec": deployments[0]["spec"]}


WORKLOADS: List[Tuple[str, Any]] = [
    ("spod", lambda: spod.daemonset(_spod())),
    ("spod+selinuxd", lambda: spod.daemonset(_spod(enableSelinux=True))),
    ("spod+log-enricher", lambda: spod.daemonset(_spod(enableLogEnricher=True))),
    ("spod+bpf-recorder", lambda: spod.daemonset(_spod(enableBpfRecorder=True))),
    ("spod+json-file", lambda: spod.daemonset(_spod(enableJsonEnricher=True, jsonEnricherOptions={
        "auditLogPath": "/var/log/spo/audit.json"}))),
    ("spod+all", lambda: spod.daemonset(_spod(enableSelinux=True, enableLogEnricher=True, enableBpfRecorder=True,
                                              verbosity=1))),
    ("webhook", lambda: webhook.deployment(_spod(), "img:1")),
    ("label-sync", lambda: labelsync.deployment(_spod(podSecurityLabelSync={"enable": True}), "img:1")),
    ("operator (config/manager)", _operator_from_config),
    ("operator (bundle CSV)", _operator_from_bundle),
]


def _containers(pod: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    for key in ("initContainers", "containers"):
        yield from pod.get(key) or []


def _cases() -> Iterator[Any]:
    for name, build in WORKLOADS:
        pod = build()["spec"]["template"]["spec"]
        for container in _containers(pod):
            yield pytest.param(pod, container, id="%s/%s" % (name, container["name"]))


def _pods() -> Iterator[Any]:
    for name, build in WORKLOADS:
        yield pytest.param(build()["spec"]["template"]["spec"], id=name)


@pytest.mark.parametrize("pod", list(_pods()))
def test_pod_runs_under_a_seccomp_profile_and_bounds_its_scratch_volumes(pod):
    profile = (pod.get("securityContext") or {}).get("seccompProfile") or {}
    assert profile.get("type") in ("RuntimeDefault", "Localhost"), pod.get("securityContext")
    for volume in pod.get("volumes") or []:
        if "emptyDir" in volume:
            assert (volume["emptyDir"] or {}).get("sizeLimit"), "emptyDir %r has no sizeLimit" % volume["name"]
    assert not pod.get("hostNetwork") and not pod.get("hostIPC")
    names = {c["name"] for c in _containers(pod)}
    # the host's pids only for the containers that read their /proc
    assert bool(pod.get("hostPID")) == bool({"log-enricher", "bpf-recorder"} & names)


@pytest.mark.parametrize("pod, container", list(_cases()))
def test_container_holds_only_what_was_reviewed(pod, container):
    name = container["name"]
    assert name in REVIEWED, "container %r is not in the reviewed list: review its privileges first" % name
    allowed = REVIEWED[name]
    pod_sc = pod.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    assert sc.get("readOnlyRootFilesystem") is True, name
    assert bool(sc.get("privileged")) == allowed.privileged, name
    assert (sc.get("seccompProfile") or {}).get("type") != "Unconfined", name
    if not allowed.privileged:
        assert sc.get("allowPrivilegeEscalation") is False, name
        caps = sc.get("capabilities") or {}
        assert caps.get("drop") == ["ALL"], name
        assert frozenset(caps.get("add") or ()) == allowed.add, name
    run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if allowed.root:
        assert run_as_user == 0, "%s: uid 0 is reviewed, so it is stated, not inherited from the image" % name
    else:
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, name
        assert run_as_user != 0, name


def test_the_containers_of_one_pod_share_no_scratch_volume():
    pod = spod.daemonset(_spod(enableSelinux=True, enableLogEnricher=True))["spec"]["template"]["spec"]
    scratch = {v["name"] for v in pod["volumes"] if "emptyDir" in v} - {"selinuxd-socket"}
    users: Dict[str, List[str]] = {}
    for container in pod["containers"]:
        for mount in container["volumeMounts"]:
            if mount["name"] in scratch:
                users.setdefault(mount["name"], []).append(container["name"])
    assert users and all(len(names) == 1 for names in users.values()), users


def test_selinuxd_reads_the_drop_in_dir_it_does_not_write():
    pod = spod.daemonset(_spod(enableSelinux=True))["spec"]["template"]["spec"]
    selinuxd = next(c for c in pod["containers"] if c["name"] == "selinuxd")
    mount = next(m for m in selinuxd["volumeMounts"] if m["name"] == "selinux-drop-in")
    assert mount.get("readOnly") is True
