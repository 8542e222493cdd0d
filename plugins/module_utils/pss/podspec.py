# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find the pod (metadata, spec) of a manifest and check the shape of the fields Pod Security reads.

Kinds with a pod: Pod, and the pod template of PodTemplate, ReplicationController, ReplicaSet,
Deployment, DaemonSet, StatefulSet, Job and CronJob (``spec.jobTemplate.spec.template``), exactly
the kinds the API server's Pod Security admission judges.  A workload without a template (a
ReplicationController may omit it) has nothing to judge.

Fields are read the way the API server decodes them: a missing key and ``null`` are the same
(Go's nil / zero value).  A field of the wrong type (``privileged: "yes"``) is an error that names
the object and the field, as the API server would refuse the object.

For kind Pod, ``pod_as_admitted`` also applies the two rewrites the API server makes to a new pod
before Pod Security sees it (pod strategy, Kubernetes 1.36): the deprecated seccomp annotations and
fields are synchronised (pod level both ways, container level annotation to field) and the
deprecated AppArmor container annotations are copied to fields that are unset.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

Obj = Dict[str, Any]

# kind -> path of the pod template (None: the object is the pod)
TEMPLATE_PATHS: Dict[str, Optional[Tuple[str, ...]]] = {
    "Pod": None,
    "PodTemplate": ("template",),
    "ReplicationController": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Deployment": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")

SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_CONTAINER_PREFIX = "container.apparmor.security.beta.kubernetes.io/"


def object_name(obj: Obj) -> str:
    """``Kind namespace/name`` (or ``Kind name``) for messages."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    kind = obj.get("kind") or "object"
    name = meta.get("name") or meta.get("generateName") or "<unnamed>"
    namespace = meta.get("namespace")
    return "%s %s/%s" % (kind, namespace, name) if namespace else "%s %s" % (kind, name)


def has_pod(obj: Obj) -> bool:
    return obj.get("kind") in TEMPLATE_PATHS


def extract(obj: Obj) -> Optional[Tuple[Obj, Obj, str]]:
    """(pod metadata, pod spec, field path of the spec) of ``obj``; None when a workload has no template."""
    kind = obj.get("kind")
    if kind not in TEMPLATE_PATHS:
        raise SpoError("kind %r has no pod to judge (kinds: %s)" % (kind, ", ".join(sorted(TEMPLATE_PATHS))),
                       obj=object_name(obj), field="kind")
    path = TEMPLATE_PATHS[kind]
    node: Any = obj
    where = ""
    for key in path or ():
        if not isinstance(node, dict):
            raise SpoError("must be a mapping", obj=object_name(obj), field=where)
        node = node.get(key)
        where = key if not where else where + "." + key
        if node is None:
            return None  # no template: nothing to judge (as the API server)
    if not isinstance(node, dict):
        raise SpoError("must be a mapping, got %s" % type(node).__name__, obj=object_name(obj), field=where or None)
    prefix = where + "." if where else ""
    meta = node.get("metadata")
    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise SpoError("must be a mapping", obj=object_name(obj), field=prefix + "metadata")
    spec = node.get("spec")
    if spec is None:
        spec = {}
    elif not isinstance(spec, dict):
        raise SpoError("must be a mapping", obj=object_name(obj), field=prefix + "spec")
    try:
        _check_meta(meta, prefix + "metadata")
        _check_spec(spec, prefix + "spec")
    except SpoError as exc:
        raise exc.within(obj=object_name(obj))
    return meta, spec, prefix + "spec"


def pod_as_admitted(meta: Obj, spec: Obj) -> Tuple[Obj, Obj]:
    """The pod as Pod Security admission sees it on create (see the module docstring); inputs unchanged."""
    annotations = meta.get("annotations") or {}
    if not any(key.startswith(("seccomp.", "container.seccomp.", APPARMOR_CONTAINER_PREFIX)) for key in annotations):
        pod_sc = spec.get("securityContext") or {}
        if pod_sc.get("seccompProfile") is None:
            return meta, spec
    annotations = dict(annotations)
    spec = dict(spec)
    pod_sc = dict(spec.get("securityContext") or {})
    changed_sc = False
    # seccomp, pod level: both ways
    field = pod_sc.get("seccompProfile")
    if field is not None and SECCOMP_POD_ANNOTATION not in annotations:
        value = _seccomp_annotation_for_field(field)
        if value:
            annotations[SECCOMP_POD_ANNOTATION] = value
    elif field is None and SECCOMP_POD_ANNOTATION in annotations:
        new = _seccomp_field_for_annotation(annotations[SECCOMP_POD_ANNOTATION])
        if new is not None:
            pod_sc["seccompProfile"] = new
            changed_sc = True
    if changed_sc or spec.get("securityContext") is not None:
        spec["securityContext"] = pod_sc
    pod_apparmor = pod_sc.get("appArmorProfile")
    windows = isinstance(spec.get("os"), dict) and spec["os"].get("name") == "windows"
    for list_name in CONTAINER_LISTS:
        containers = spec.get(list_name)
        if not containers:
            continue
        new_list = []
        for container in containers:
            name = container.get("name") or ""
            sc = container.get("securityContext")
            new_sc = None
            seccomp_key = SECCOMP_CONTAINER_PREFIX + name
            if seccomp_key in annotations and (sc or {}).get("seccompProfile") is None:
                new = _seccomp_field_for_annotation(annotations[seccomp_key])
                if new is not None:
                    new_sc = dict(sc or {})
                    new_sc["seccompProfile"] = new
            apparmor_key = APPARMOR_CONTAINER_PREFIX + name
            if not windows and apparmor_key in annotations and (sc or {}).get("appArmorProfile") is None:
                new = _apparmor_field_for_annotation(annotations[apparmor_key])
                if new is not None and new != pod_apparmor:
                    new_sc = dict(new_sc or sc or {})
                    new_sc["appArmorProfile"] = new
            if new_sc is not None:
                container = dict(container)
                container["securityContext"] = new_sc
            new_list.append(container)
        spec[list_name] = new_list
    meta = dict(meta)
    meta["annotations"] = annotations
    return meta, spec


def _seccomp_annotation_for_field(field: Obj) -> str:
    kind = field.get("type")
    if kind == "Unconfined":
        return "unconfined"
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Localhost" and field.get("localhostProfile"):
        return "localhost/" + field["localhostProfile"]
    return ""


def _seccomp_field_for_annotation(value: str) -> Optional[Obj]:
    if value == "unconfined":
        return {"type": "Unconfined"}
    if value in ("runtime/default", "docker/default"):
        return {"type": "RuntimeDefault"}
    if value.startswith("localhost/"):
        return {"type": "Localhost", "localhostProfile": value[len("localhost/"):]}
    return None


def _apparmor_field_for_annotation(value: str) -> Optional[Obj]:
    if value == "unconfined":
        return {"type": "Unconfined"}
    if value == "runtime/default":
        return {"type": "RuntimeDefault"}
    if value.startswith("localhost/") and value[len("localhost/"):].strip():
        return {"type": "Localhost", "localhostProfile": value[len("localhost/"):]}
    return None


# ---- shape checks of the fields Pod Security reads -------------------------------------------

def _fail(field: str, want: str, value: Any) -> SpoError:
    return SpoError("must be %s, got %s %r" % (want, type(value).__name__, value), field=field)


def _mapping(node: Obj, key: str, where: str) -> Optional[Obj]:
    value = node.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise _fail(where + "." + key, "a mapping", value)


def _list(node: Obj, key: str, where: str) -> Optional[List[Any]]:
    value = node.get(key)
    if value is None or isinstance(value, list):
        return value
    raise _fail(where + "." + key, "a list", value)


def _scalar(node: Obj, key: str, where: str, kind: type, want: str) -> None:
    value = node.get(key)
    if value is None:
        return
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(where + "." + key, want, value)
    elif not isinstance(value, kind):
        raise _fail(where + "." + key, want, value)


def _bool(node: Obj, key: str, where: str) -> None:
    _scalar(node, key, where, bool, "true or false")


def _str(node: Obj, key: str, where: str) -> None:
    _scalar(node, key, where, str, "a string")


def _check_meta(meta: Obj, where: str) -> None:
    annotations = _mapping(meta, "annotations", where)
    for key, value in (annotations or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise _fail("%s.annotations[%s]" % (where, key), "a string", value)


def _check_spec(spec: Obj, where: str) -> None:
    for key in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"):
        _bool(spec, key, where)
    os_ = _mapping(spec, "os", where)
    if os_:
        _str(os_, "name", where + ".os")
    sc = _mapping(spec, "securityContext", where)
    if sc:
        _check_security_context(sc, where + ".securityContext", pod=True)
    for index, volume in enumerate(_list(spec, "volumes", where) or []):
        vwhere = "%s.volumes[%d]" % (where, index)
        if not isinstance(volume, dict):
            raise _fail(vwhere, "a mapping", volume)
        _str(volume, "name", vwhere)
    for list_name in CONTAINER_LISTS:
        for index, container in enumerate(_list(spec, list_name, where) or []):
            cwhere = "%s.%s[%d]" % (where, list_name, index)
            if not isinstance(container, dict):
                raise _fail(cwhere, "a mapping", container)
            _check_container(container, cwhere)


def _check_security_context(sc: Obj, where: str, pod: bool) -> None:
    _bool(sc, "runAsNonRoot", where)
    _scalar(sc, "runAsUser", where, int, "an integer")
    for key in ("seLinuxOptions", "seccompProfile", "appArmorProfile", "windowsOptions"):
        sub = _mapping(sc, key, where)
        if not sub:
            continue
        if key == "seLinuxOptions":
            for name in ("type", "user", "role"):
                _str(sub, name, where + "." + key)
        elif key == "windowsOptions":
            _bool(sub, "hostProcess", where + "." + key)
        else:
            _str(sub, "type", where + "." + key)
    if pod:
        for index, sysctl in enumerate(_list(sc, "sysctls", where) or []):
            swhere = "%s.sysctls[%d]" % (where, index)
            if not isinstance(sysctl, dict):
                raise _fail(swhere, "a mapping", sysctl)
            _str(sysctl, "name", swhere)
        return
    for key in ("privileged", "allowPrivilegeEscalation"):
        _bool(sc, key, where)
    _str(sc, "procMount", where)
    caps = _mapping(sc, "capabilities", where)
    if caps:
        for key in ("add", "drop"):
            for index, cap in enumerate(_list(caps, key, where + ".capabilities") or []):
                if not isinstance(cap, str):
                    raise _fail("%s.capabilities.%s[%d]" % (where, key, index), "a string", cap)


def _check_container(container: Obj, where: str) -> None:
    _str(container, "name", where)
    sc = _mapping(container, "securityContext", where)
    if sc:
        _check_security_context(sc, where + ".securityContext", pod=False)
    for index, port in enumerate(_list(container, "ports", where) or []):
        pwhere = "%s.ports[%d]" % (where, index)
        if not isinstance(port, dict):
            raise _fail(pwhere, "a mapping", port)
        _scalar(port, "hostPort", pwhere, int, "an integer")
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = _mapping(container, key, where)
        if probe:
            _check_handler(probe, where + "." + key)
    lifecycle = _mapping(container, "lifecycle", where)
    if lifecycle:
        for key in ("postStart", "preStop"):
            handler = _mapping(lifecycle, key, where + ".lifecycle")
            if handler:
                _check_handler(handler, "%s.lifecycle.%s" % (where, key))


def _check_handler(handler: Obj, where: str) -> None:
    for key in ("httpGet", "tcpSocket"):
        sub = _mapping(handler, key, where)
        if sub:
            _str(sub, "host", where + "." + key)
