# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SecurityProfilesOperatorDaemon (SPOD) as a node DaemonSet, and the SPOD's state.

``daemonset()`` turns a SPOD object into the DaemonSet ``spod`` (node agent, and selinuxd / the log
enricher when the SPOD enables them); ``state()`` reads the DaemonSet's status back as the SPOD's
``status.state``. Both are pure: the role applies and reports what they return.
"""
from __future__ import annotations

import copy
import hashlib
import json
import posixpath
from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import jsonfilter, jsonoptions
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodspec import field_name, flat_spec
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

GROUP = api.GROUP
SPOD_NAME = "spod"
SPOD_API_VERSION = GROUP + "/v1alpha1"
SPOD_KIND = "SecurityProfilesOperatorDaemon"
SERVICE_ACCOUNT = "spod"
DEFAULT_IMAGE = "localhost/spo/security-profiles-operator:dev"
DEFAULT_KUBELET_DIR = "/var/lib/kubelet"
SELINUX_DROPIN_DIR = "/etc/selinux.d"
SELINUXD_SOCKET_DIR = "/var/run/selinuxd"
# the eBPF recorder's syscall sets of the recorded containers, on the node: they outlive the recorder's container
# and pod (a crash, an OOM kill, the DaemonSet's rollout), so a restarted recorder loses nothing it had recorded
BPF_RECORDER_STATE_DIR = "/var/lib/spo-bpf-recorder"
# the log enricher's: the per-container sets, auditd's log position, the kernel log's last record read
LOG_ENRICHER_STATE_DIR = "/var/lib/spo-log-enricher"
HEALTH_PORT = 8085
METRICS_PORT = 9443
CONFIG_HASH_ANNOTATION = "spo.x-k8s.io/config-hash"
# upstream's defaults: control-plane nodes run the pods too (profiles are needed everywhere) and a pod stays on a
# node that turns not-ready; every other taint keeps the pods off
DEFAULT_TOLERATIONS = ({"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"},
                       {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                       {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"})

PENDING = "Pending"
CREATING = "Creating"
UPDATING = "Updating"
RUNNING = "Running"
ERROR = "Error"

_VERBOSITY = (0, 1)


def default_spod(namespace: str) -> Dict[str, Any]:
    """The SPOD the operator creates when none exists: seccomp only, as upstream's default."""
    return {"apiVersion": SPOD_API_VERSION, "kind": SPOD_KIND,
            "metadata": {"name": SPOD_NAME, "namespace": namespace},
            "spec": {"enableSelinux": False, "enableLogEnricher": False, "verbosity": 0}}


def spod_ref(spod: Mapping[str, Any]) -> str:
    """How errors name the SPOD: ``SecurityProfilesOperatorDaemon <namespace>/<name>``."""
    meta = spod.get("metadata") or {}
    return "%s %s/%s" % (SPOD_KIND, meta.get("namespace", ""), meta.get("name", ""))


def _bool(spec: Mapping[str, Any], key: str, ref: str, default: bool = False) -> bool:
    value = spec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SpoError("must be true or false, got %r" % (value,), ref, "spec." + key)
    return value


def _list(spec: Mapping[str, Any], key: str, ref: str) -> List[Any]:
    value = spec.get(key) or []
    if not isinstance(value, list):
        raise SpoError("must be a list", ref, "spec." + key)
    return copy.deepcopy(value)


def _dict(spec: Mapping[str, Any], key: str, ref: str) -> Dict[str, Any]:
    value = spec.get(key) or {}
    if not isinstance(value, dict):
        raise SpoError("must be an object", ref, "spec." + key)
    return copy.deepcopy(value)


def verbosity(spec: Mapping[str, Any], ref: str = SPOD_KIND) -> int:
    value = spec.get("verbosity", 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value not in _VERBOSITY:
        raise SpoError("must be 0 (normal) or 1 (debug), got %r" % (value,), ref, "spec.verbosity")
    return value


def _host_path(name: str, path: str, kind: str = "DirectoryOrCreate") -> Dict[str, Any]:
    return {"name": name, "hostPath": {"path": path, "type": kind}}


def _empty_dir(name: str, size: str) -> Dict[str, Any]:
    """A scratch volume with a bound: a container that fills it is evicted, the node's disk is not."""
    return {"name": name, "emptyDir": {"sizeLimit": size}}


# What each container may do, and why (README "The SPOD's pods"; tests/unit/test_workload_security.py holds the
# reviewed list). Every container drops ALL capabilities; none adds one back:
# - node-agent and selinuxd run as uid 0 only because every host path they touch is root's (the kubelet's
#   seccomp dir, the drop-in dir the kubelet creates, the policy store /var/lib/selinux/<type>/active, mode 0700):
#   the owner's permission bits let uid 0 in without CAP_DAC_OVERRIDE, CAP_FOWNER or CAP_CHOWN, which would open
#   every other file on those mounts. Neither chowns, chmods a file it does not own, or binds a port below 1024.
#   semodule installs and removes modules with an empty capability set as the store's owner (measured with
#   setpriv --bounding-set=-all on a copy of the store). Loading the new policy into a running SELinux kernel is a
#   write to selinuxfs, checked by SELinux (security:load_policy), not by a capability.
# - spc_t: on an SELinux-enforcing node container_t may not write the kubelet's or the policy store's files; the
#   type is upstream's for the same containers (privileged containers get it anyway).
# - log-enricher is privileged: it reads the kernel log /dev/kmsg (a device a non-privileged container has
#   neither in its /dev nor in its device cgroup; the kernel's audit records go there on a node without auditd),
#   turns auditing on and writes the end-of-recording marker over the audit netlink socket (CAP_AUDIT_CONTROL,
#   CAP_AUDIT_WRITE), enters the host's network namespace to follow forks on the proc connector (CAP_SYS_ADMIN,
#   CAP_NET_ADMIN), reads /dev/kmsg under dmesg_restrict (CAP_SYSLOG), and reads /proc/<pid>/cgroup of every
#   process of the node (hostPID). Upstream's log enricher is privileged for the same reasons.
# - bpf-recorder is privileged: it loads BPF programs onto tracepoints (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN on
#   kernels that ask for it), mounts tracefs in its own mount namespace when /sys/kernel/tracing is empty, and
#   reads /proc/<pid>/cgroup of every process of the node (hostPID). Upstream's bpf recorder is privileged too.
_NO_CAPABILITIES = {"drop": ["ALL"]}
_SPC_T = {"type": "spc_t"}


def _confined(read_only_root: bool = True) -> Dict[str, Any]:
    return {"runAsUser": 0, "runAsGroup": 0, "allowPrivilegeEscalation": False, "privileged": False,
            "readOnlyRootFilesystem": read_only_root, "capabilities": dict(_NO_CAPABILITIES),
            "seLinuxOptions": dict(_SPC_T)}


def _common_env(level: int) -> List[Dict[str, Any]]:
    return [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "OPERATOR_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "SPO_VERBOSITY", "value": str(level)}]


def _node_agent(image: str, level: int, kubelet_dir: str, selinux: bool,
                resources: Dict[str, Any]) -> Dict[str, Any]:
    args = ["--kubelet-dir", kubelet_dir, "--health-port", str(HEALTH_PORT), "--metrics-port", str(METRICS_PORT),
            "--verbosity", str(level)]
    mounts = [{"name": "seccomp-operator", "mountPath": kubelet_dir + "/seccomp/operator"}]
    if selinux:
        args += ["--selinux-dir", SELINUX_DROPIN_DIR, "--selinuxd-socket", SELINUXD_SOCKET_DIR + "/selinuxd.sock"]
        # the policy store, read-only: the agent sees whether container-selinux is installed (else it ships
        # the project's stand-in module with the System templates)
        mounts += [{"name": "selinux-drop-in", "mountPath": SELINUX_DROPIN_DIR},
                   {"name": "selinuxd-socket", "mountPath": SELINUXD_SOCKET_DIR},
                   {"name": "selinux-var", "mountPath": "/var/lib/selinux", "readOnly": True}]
    probe = {"httpGet": {"path": "/readyz", "port": HEALTH_PORT}, "periodSeconds": 2, "failureThreshold": 5}
    return {
        "name": "node-agent", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["spo-node-agent"], "args": args, "env": _common_env(level),
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT}, {"name": "health", "containerPort": HEALTH_PORT}],
        "readinessProbe": probe,
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": HEALTH_PORT}, "periodSeconds": 10,
                          "failureThreshold": 6, "initialDelaySeconds": 10},
        "resources": resources or {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": _confined(),
        "volumeMounts": mounts + [{"name": "tmp-node-agent", "mountPath": "/tmp"}],
    }


def _selinuxd(image: str, level: int) -> Dict[str, Any]:
    return {
        "name": "selinuxd", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["spo-selinuxd"],
        "args": ["--dir", SELINUX_DROPIN_DIR, "--socket", SELINUXD_SOCKET_DIR + "/selinuxd.sock",
                 "--state", "/var/lib/spo-selinuxd/state.json"],
        "env": _common_env(level),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": _confined(),
        "volumeMounts": [{"name": "selinux-drop-in", "mountPath": SELINUX_DROPIN_DIR, "readOnly": True},
                         {"name": "selinuxd-socket", "mountPath": SELINUXD_SOCKET_DIR},
                         {"name": "selinux-etc", "mountPath": "/etc/selinux"},
                         {"name": "selinux-var", "mountPath": "/var/lib/selinux"},
                         {"name": "selinuxd-state", "mountPath": "/var/lib/spo-selinuxd"},
                         {"name": "tmp-selinuxd", "mountPath": "/tmp"}],
    }


def _enricher(image: str, level: int, proc_path: str, record: bool = True,
              json_filters: Optional[str] = None, json_options: Optional[jsonoptions.JsonOptions] = None) -> Dict[str, Any]:
    """The log-enricher container: recording (``record``) and/or the JSON enricher (``json_filters`` not None);
    with a JSON file, its directory (only) is mounted at the same path."""
    args = ["--cluster", "--audit-log", "/var/log/audit/audit.log", "--state-dir", LOG_ENRICHER_STATE_DIR,
            "--metrics-address", "0.0.0.0:9111"]
    if not record:
        args.append("--no-recording")
    if json_filters is not None:
        args.append("--json-enricher")
        if json_filters:
            args += ["--json-enricher-filters", json_filters]
        args += (json_options or jsonoptions.JsonOptions()).args()
    mounts = [{"name": "audit-log", "mountPath": "/var/log/audit", "readOnly": True},
              {"name": "host-proc", "mountPath": "/proc-host" if proc_path != "/proc" else "/host/proc", "readOnly": True},
              {"name": "tmp-log-enricher", "mountPath": "/tmp"},
              {"name": "log-enricher-state", "mountPath": LOG_ENRICHER_STATE_DIR}]
    if json_filters is not None and json_options is not None and json_options.path is not None:
        mounts.append({"name": "json-log", "mountPath": posixpath.dirname(json_options.path)})
    return {
        "name": "log-enricher", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["spo-enricher"], "args": args,
        "env": _common_env(level), "ports": [{"name": "enricher-metric", "containerPort": 9111}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": {"privileged": True, "runAsUser": 0, "runAsGroup": 0, "readOnlyRootFilesystem": True},
        "volumeMounts": mounts,
    }


def _bpf_recorder(image: str, level: int) -> Dict[str, Any]:
    return {
        "name": "bpf-recorder", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["spo-bpf-recorder"], "args": ["--ready-file", "/tmp/attached", "--state-dir", BPF_RECORDER_STATE_DIR],
        "env": _common_env(level),
        # ready once bpftrace's probes are attached: a pod started before would be recorded from then on only
        "readinessProbe": {"exec": {"command": ["test", "-e", "/tmp/attached"]}, "periodSeconds": 2},
        # bpftrace compiles its program with LLVM at start (about 100 MiB for a moment); the maps are bounded
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": {"privileged": True, "runAsUser": 0, "runAsGroup": 0, "readOnlyRootFilesystem": True},
        "volumeMounts": [{"name": "tmp-bpf-recorder", "mountPath": "/tmp"},
                         {"name": "bpf-recorder-state", "mountPath": BPF_RECORDER_STATE_DIR}],
    }


def daemonset(spod: Mapping[str, Any], image: str = DEFAULT_IMAGE, kubelet_dir: str = DEFAULT_KUBELET_DIR) -> Dict[str, Any]:
    """The DaemonSet the SPOD ``spod`` asks for (validated; errors name the SPOD's field)."""
    if not isinstance(spod, Mapping):
        raise SpoError("must be an object", SPOD_KIND)
    ref = spod_ref(spod)
    meta = spod.get("metadata") or {}
    namespace = meta.get("namespace")
    if not namespace:
        raise SpoError("is required", ref, "metadata.namespace")
    spec = spod.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise SpoError("must be an object", ref, "spec")
    raw_spec = spec
    spec = flat_spec(spec, ref)
    if not isinstance(image, str) or not image:
        raise SpoError("the daemon image must be a non-empty string", ref)
    level = verbosity(spec, ref)
    selinux = _bool(spec, "enableSelinux", ref)
    enricher = _bool(spec, "enableLogEnricher", ref)
    json_enricher = _bool(spec, "enableJsonEnricher", ref)
    json_filters = spec.get("jsonEnricherFilters") or ""
    if not isinstance(json_filters, str):
        raise SpoError("must be a string (a JSON array of filters)", ref, "spec.jsonEnricherFilters")
    json_options = None
    if json_enricher:
        jsonfilter.parse(json_filters, "spec.jsonEnricherFilters", ref)  # a bad filter fails here, naming the field
        json_options = jsonoptions.parse(spec.get("jsonEnricherOptions"),
                                         field_name(raw_spec, "jsonEnricherOptions"), ref)
    bpf = _bool(spec, "enableBpfRecorder", ref)
    proc_path = spec.get("hostProcVolumePath") or "/proc"
    if not isinstance(proc_path, str) or not proc_path.startswith("/"):
        raise SpoError("must be an absolute path", ref, "spec.hostProcVolumePath")
    priority = spec.get("priorityClassName") or "system-node-critical"
    if not isinstance(priority, str):
        raise SpoError("must be a string", ref, "spec.priorityClassName")

    containers = [_node_agent(image, level, kubelet_dir, selinux, _dict(spec, "daemonResourceRequirements", ref))]
    volumes = [_host_path("seccomp-operator", kubelet_dir + "/seccomp/operator"), _empty_dir("tmp-node-agent", "64Mi")]
    if selinux:
        containers.append(_selinuxd(image, level))
        volumes += [_host_path("selinux-drop-in", SELINUX_DROPIN_DIR), _empty_dir("selinuxd-socket", "1Mi"),
                    _empty_dir("tmp-selinuxd", "256Mi"),
                    _host_path("selinux-etc", "/etc/selinux", "Directory"),
                    _host_path("selinux-var", "/var/lib/selinux", "Directory"),
                    _host_path("selinuxd-state", "/var/lib/spo-selinuxd")]
    if enricher or json_enricher:
        containers.append(_enricher(image, level, proc_path, record=enricher,
                                    json_filters=json_filters if json_enricher else None, json_options=json_options))
        volumes += [_host_path("audit-log", "/var/log/audit"), _host_path("host-proc", proc_path, "Directory"),
                    _empty_dir("tmp-log-enricher", "64Mi"), _host_path("log-enricher-state", LOG_ENRICHER_STATE_DIR)]
        if json_options is not None and json_options.path is not None:
            volumes.append(_host_path("json-log", posixpath.dirname(json_options.path)))
    if bpf:
        containers.append(_bpf_recorder(image, level))
        volumes += [_empty_dir("tmp-bpf-recorder", "64Mi"), _host_path("bpf-recorder-state", BPF_RECORDER_STATE_DIR)]

    labels = {"app": "security-profiles-operator", "name": SPOD_NAME}
    pod_spec: Dict[str, Any] = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "priorityClassName": priority,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers,
        "volumes": volumes,
        "tolerations": _list(spec, "tolerations", ref) or [dict(t) for t in DEFAULT_TOLERATIONS],
        "terminationGracePeriodSeconds": 30,
    }
    if enricher or json_enricher or bpf:
        pod_spec["hostPID"] = True
    for key in ("affinity", "nodeSelector"):
        value = _dict(spec, key, ref)
        if value:
            pod_spec[key] = value
    pulls = _list(spec, "imagePullSecrets", ref)
    if pulls:
        pod_spec["imagePullSecrets"] = pulls
    template_meta = {"labels": dict(labels), "annotations": {
        "openshift.io/required-scc": "privileged",
        CONFIG_HASH_ANNOTATION: config_hash(spec, image, kubelet_dir)}}
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": SPOD_NAME, "namespace": namespace, "labels": dict(labels),
                     "ownerReferences": owner_references(spod)},
        "spec": {"selector": {"matchLabels": dict(labels)},
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                 "template": {"metadata": template_meta, "spec": pod_spec}},
    }


def owner_references(spod: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The SPOD as the controlling owner of an object built from it (none while it has no uid)."""
    meta = spod.get("metadata") or {}
    if not meta.get("uid"):
        return []
    return [{"apiVersion": spod.get("apiVersion") or SPOD_API_VERSION, "kind": SPOD_KIND, "name": meta.get("name"),
             "uid": meta["uid"], "controller": True, "blockOwnerDeletion": False}]


# the SPOD fields the node DaemonSet's pods depend on; other fields (webhook, label sync, allowedSyscalls, which
# the node agent watches itself) must not roll the node pods
_POD_FIELDS = ("enableSelinux", "enableLogEnricher", "enableJsonEnricher", "jsonEnricherFilters", "jsonEnricherOptions",
               "enableBpfRecorder",
               "verbosity", "tolerations", "affinity", "nodeSelector",
               "priorityClassName", "daemonResourceRequirements", "imagePullSecrets", "hostProcVolumePath")


def config_hash(spec: Mapping[str, Any], image: str, kubelet_dir: str) -> str:
    """A short hash of what the pods depend on: a change rolls the DaemonSet, nothing else does."""
    relevant = {key: spec.get(key) for key in _POD_FIELDS if spec.get(key) is not None}
    blob = json.dumps({"spec": relevant, "image": image, "kubelet": kubelet_dir}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _template_hash(daemonset_obj: Optional[Mapping[str, Any]]) -> Optional[str]:
    template = ((daemonset_obj or {}).get("spec") or {}).get("template") or {}
    return ((template.get("metadata") or {}).get("annotations") or {}).get(CONFIG_HASH_ANNOTATION)


def state_before_apply(current: Optional[Mapping[str, Any]], desired: Mapping[str, Any],
                       previous: Optional[str] = None) -> str:
    """The state to report while ``desired`` is applied over ``current`` (the DaemonSet, or None)."""
    if not current:
        return CREATING
    if _template_hash(current) != _template_hash(desired):
        return UPDATING if previous in (RUNNING, UPDATING, ERROR) else CREATING
    return state(current, previous)


def state(daemonset_obj: Optional[Mapping[str, Any]], previous: Optional[str] = None) -> str:
    """SPOD ``status.state`` from the DaemonSet as the API server reports it.

    No DaemonSet yet: Pending. All scheduled pods updated, available and ready: Running. Otherwise
    Updating when the SPOD was Running or Updating before (a change rolls), else Creating.
    """
    if not daemonset_obj:
        return PENDING
    status = daemonset_obj.get("status") or {}
    meta = daemonset_obj.get("metadata") or {}
    desired = int(status.get("desiredNumberScheduled") or 0)
    ready = int(status.get("numberReady") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    observed = int(status.get("observedGeneration") or 0)
    generation = int(meta.get("generation") or 0)
    if observed >= generation and desired > 0 and ready == desired and updated == desired and available == desired:
        return RUNNING
    if previous in (RUNNING, UPDATING):
        return UPDATING
    return CREATING


def ensure_default(api: Any, namespace: str) -> bool:
    """Create the default SPOD in ``namespace`` when none exists; True when it was created."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException
    custom = client.CustomObjectsApi(api)
    try:
        custom.get_namespaced_custom_object(GROUP, "v1alpha1", namespace, "securityprofilesoperatordaemons", SPOD_NAME)
        return False
    except ApiException as exc:
        if exc.status != 404:
            raise
    try:
        custom.create_namespaced_custom_object(GROUP, "v1alpha1", namespace, "securityprofilesoperatordaemons",
                                               default_spod(namespace))
    except ApiException as exc:
        if exc.status == 409:  # created meanwhile by someone else
            return False
        raise
    return True
