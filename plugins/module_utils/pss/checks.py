# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks of the Pod Security Standards, one function per check version.

Each function takes the pod's metadata and spec (manifest dicts, shapes already checked by
``podspec``) and returns None when the pod passes, else ``(reason, detail)``: the two parts the API
server prints as ``reason (detail)``.  Which function runs at which level and version is decided
by ``registry``.  Messages, sets, sort orders and plural forms follow the API server
(k8s.io/pod-security-admission, Kubernetes 1.36): sets are printed sorted (byte order), lists of
containers in visiting order (init containers, containers, ephemeral containers).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.pss.podspec import CONTAINER_LISTS
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.text import join_quote, pluralize, quote

Obj = Dict[str, Any]
Result = Optional[Tuple[str, str]]
CheckFn = Callable[[Obj, Obj], Result]

_EMPTY: Obj = {}


def containers(spec: Obj) -> Iterator[Obj]:
    for list_name in CONTAINER_LISTS:
        yield from spec.get(list_name) or ()


def _name(container: Obj) -> str:
    return container.get("name") or ""


def _sc(node: Obj) -> Optional[Obj]:
    return node.get("securityContext")


def _containers_phrase(names: List[str]) -> str:
    return "%s %s" % (pluralize("container", "containers", len(names)), join_quote(names))


def _user_namespace(spec: Obj) -> bool:
    return spec.get("hostUsers") is False


def _windows(spec: Obj) -> bool:
    os_ = spec.get("os")
    return bool(os_) and os_.get("name") == "windows"


# ---- baseline ---------------------------------------------------------------------------------

def privileged_1_0(meta: Obj, spec: Obj) -> Result:
    bad = [_name(c) for c in containers(spec) if (_sc(c) or _EMPTY).get("privileged") is True]
    if bad:
        return "privileged", "%s must not set securityContext.privileged=true" % _containers_phrase(bad)
    return None


_APPARMOR_TYPES = ("RuntimeDefault", "Localhost")


def _apparmor_annotation_ok(value: str) -> bool:
    return not value or value == "runtime/default" or value.startswith("localhost/")


def app_armor_profile_1_0(meta: Obj, spec: Obj) -> Result:
    setters: List[str] = []
    bad_values = set()
    profile = (_sc(spec) or _EMPTY).get("appArmorProfile")
    if profile is not None and profile.get("type") not in _APPARMOR_TYPES:
        setters.append("pod")
        bad_values.add(profile.get("type") or "")
    bad_containers = []
    for container in containers(spec):
        profile = (_sc(container) or _EMPTY).get("appArmorProfile")
        if profile is not None and profile.get("type") not in _APPARMOR_TYPES:
            bad_containers.append(_name(container))
            bad_values.add(profile.get("type") or "")
    if bad_containers:
        setters.append(_containers_phrase(bad_containers))
    annotations = meta.get("annotations") or _EMPTY
    forbidden = sorted("%s=%s" % (key, quote(value)) for key, value in annotations.items()
                       if key.startswith("container.apparmor.security.beta.kubernetes.io/")
                       and not _apparmor_annotation_ok(value))
    values = sorted(bad_values)
    if forbidden:
        values.extend(forbidden)
        setters.append(pluralize("annotation", "annotations", len(forbidden)))
    if setters:
        return (pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
                "%s must not set AppArmor profile type to %s" % (" and ".join(setters), join_quote(values)))
    return None


_DEFAULT_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))


def capabilities_baseline_1_0(meta: Obj, spec: Obj) -> Result:
    bad = []
    caps_seen = set()
    for container in containers(spec):
        caps = (_sc(container) or _EMPTY).get("capabilities")
        if not caps:
            continue
        extra = [cap for cap in caps.get("add") or () if cap not in _DEFAULT_CAPABILITIES]
        if extra:
            caps_seen.update(extra)
            bad.append(_name(container))
    if bad:
        return ("non-default capabilities", "%s must not include %s in securityContext.capabilities.add"
                % (_containers_phrase(bad), join_quote(sorted(caps_seen))))
    return None


def host_namespaces_1_0(meta: Obj, spec: Obj) -> Result:
    used = ["%s=true" % key for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    if used:
        return "host namespaces", ", ".join(used)
    return None


def host_path_volumes_1_0(meta: Obj, spec: Obj) -> Result:
    bad = [v.get("name") or "" for v in spec.get("volumes") or () if v.get("hostPath") is not None]
    if bad:
        return "hostPath volumes", "%s %s" % (pluralize("volume", "volumes", len(bad)), join_quote(bad))
    return None


def host_ports_1_0(meta: Obj, spec: Obj) -> Result:
    bad = []
    ports = set()
    for container in containers(spec):
        used = [str(p["hostPort"]) for p in container.get("ports") or () if p.get("hostPort")]
        if used:
            ports.update(used)
            bad.append(_name(container))
    if bad:
        detail = "%s %s %s %s" % (_containers_phrase(bad), pluralize("uses", "use", len(bad)),
                                  pluralize("hostPort", "hostPorts", len(ports)), ", ".join(sorted(ports)))
        return "hostPort", detail
    return None


def _handler_hosts(handler: Optional[Obj]) -> List[str]:
    if not handler:
        return []
    hosts = []
    for key in ("httpGet", "tcpSocket"):
        sub = handler.get(key)
        if sub and sub.get("host"):
            hosts.append(sub["host"])
    return hosts


def host_probes_and_host_lifecycle_1_34(meta: Obj, spec: Obj) -> Result:
    bad = set()
    hosts = set()
    for container in containers(spec):
        lifecycle = container.get("lifecycle") or _EMPTY
        for handler in (container.get("livenessProbe"), container.get("readinessProbe"),
                        container.get("startupProbe"), lifecycle.get("postStart"), lifecycle.get("preStop")):
            found = _handler_hosts(handler)
            if found:
                bad.add(_name(container))
                hosts.update(found)
    if bad:
        return ("probe or lifecycle host", "%s %s %s %s" % (
            _containers_phrase(sorted(bad)), pluralize("uses", "use", len(bad)),
            pluralize("probe or lifecycle host", "probe or lifecycle hosts", len(hosts)), join_quote(sorted(hosts))))
    return None


def proc_mount_1_0(meta: Obj, spec: Obj) -> Result:
    bad = []
    kinds = set()
    for container in containers(spec):
        sc = _sc(container)
        if sc is None or sc.get("procMount") is None:
            continue
        if sc["procMount"] != "Default":
            bad.append(_name(container))
            kinds.add(sc["procMount"])
    if bad:
        return ("procMount", "%s must not set securityContext.procMount to %s"
                % (_containers_phrase(bad), join_quote(sorted(kinds))))
    return None


def proc_mount_1_35_baseline(meta: Obj, spec: Obj) -> Result:
    if _user_namespace(spec):
        return None
    return proc_mount_1_0(meta, spec)


_SELINUX_TYPES_1_0 = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}


def _se_linux_options(spec: Obj, allowed: frozenset) -> Result:
    setters: List[str] = []
    bad_types = set()
    flags = {"user": False, "role": False}

    def valid(opts: Obj) -> bool:
        ok = True
        kind = opts.get("type") or ""
        if kind not in allowed:
            ok = False
            bad_types.add(kind)
        for key in ("user", "role"):
            if opts.get(key):
                ok = False
                flags[key] = True
        return ok

    opts = (_sc(spec) or _EMPTY).get("seLinuxOptions")
    if opts is not None and not valid(opts):
        setters.append("pod")
    bad = []
    for container in containers(spec):
        opts = (_sc(container) or _EMPTY).get("seLinuxOptions")
        if opts is not None and not valid(opts):
            bad.append(_name(container))
    if bad:
        setters.append(_containers_phrase(bad))
    if setters:
        data = []
        if bad_types:
            data.append("%s %s" % (pluralize("type", "types", len(bad_types)), join_quote(sorted(bad_types))))
        if flags["user"]:
            data.append("user may not be set")
        if flags["role"]:
            data.append("role may not be set")
        return ("seLinuxOptions", "%s set forbidden securityContext.seLinuxOptions: %s"
                % (" and ".join(setters), "; ".join(data)))
    return None


def se_linux_options_1_0(meta: Obj, spec: Obj) -> Result:
    return _se_linux_options(spec, _SELINUX_TYPES_1_0)


def se_linux_options_1_31(meta: Obj, spec: Obj) -> Result:
    return _se_linux_options(spec, _SELINUX_TYPES_1_31)


_SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
_SECCOMP_CONTAINER_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
_SECCOMP_TYPES = ("Localhost", "RuntimeDefault")


def _seccomp_annotation_ok(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_profile_baseline_1_0(meta: Obj, spec: Obj) -> Result:
    annotations = meta.get("annotations") or _EMPTY
    forbidden = set()
    value = annotations.get(_SECCOMP_POD_ANNOTATION)
    if value is not None and not _seccomp_annotation_ok(value):
        forbidden.add("%s=%s" % (_SECCOMP_POD_ANNOTATION, quote(value)))
    for container in containers(spec):
        key = _SECCOMP_CONTAINER_PREFIX + _name(container)
        value = annotations.get(key)
        if value is not None and not _seccomp_annotation_ok(value):
            forbidden.add("%s=%s" % (key, quote(value)))
    if forbidden:
        return ("seccompProfile", "forbidden %s %s" % (pluralize("annotation", "annotations", len(forbidden)),
                                                       ", ".join(sorted(forbidden))))
    return None


def _seccomp_fields(spec: Obj, restricted: bool) -> Result:
    setters: List[str] = []
    bad_values = set()
    pod_set = False
    profile = (_sc(spec) or _EMPTY).get("seccompProfile")
    if profile is not None:
        if profile.get("type") not in _SECCOMP_TYPES:
            setters.append("pod")
            bad_values.add(profile.get("type") or "")
        else:
            pod_set = True
    explicit = []
    implicit = []
    for container in containers(spec):
        profile = (_sc(container) or _EMPTY).get("seccompProfile")
        if profile is not None:
            if profile.get("type") not in _SECCOMP_TYPES:
                explicit.append(_name(container))
                bad_values.add(profile.get("type") or "")
        elif not pod_set:
            implicit.append(_name(container))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return ("seccompProfile", "%s must not set securityContext.seccompProfile.type to %s"
                % (" and ".join(setters), join_quote(sorted(bad_values))))
    if restricted and implicit:
        return ("seccompProfile", 'pod or %s must set securityContext.seccompProfile.type to "RuntimeDefault" or '
                '"Localhost"' % _containers_phrase(implicit))
    return None


def seccomp_profile_baseline_1_19(meta: Obj, spec: Obj) -> Result:
    return _seccomp_fields(spec, restricted=False)


_SYSCTLS_1_0 = frozenset(("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"))
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                                 "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}


def _sysctls(spec: Obj, allowed: frozenset) -> Result:
    bad = [s.get("name") or "" for s in (_sc(spec) or _EMPTY).get("sysctls") or () if (s.get("name") or "") not in allowed]
    if bad:
        return "forbidden sysctls", ", ".join(bad)
    return None


def sysctls_1_0(meta: Obj, spec: Obj) -> Result:
    return _sysctls(spec, _SYSCTLS_1_0)


def sysctls_1_27(meta: Obj, spec: Obj) -> Result:
    return _sysctls(spec, _SYSCTLS_1_27)


def sysctls_1_29(meta: Obj, spec: Obj) -> Result:
    return _sysctls(spec, _SYSCTLS_1_29)


def sysctls_1_32(meta: Obj, spec: Obj) -> Result:
    return _sysctls(spec, _SYSCTLS_1_32)


def _host_process(sc: Optional[Obj]) -> bool:
    return bool(sc) and (sc.get("windowsOptions") or _EMPTY).get("hostProcess") is True


def windows_host_process_1_0(meta: Obj, spec: Obj) -> Result:
    setters = ["pod"] if _host_process(_sc(spec)) else []
    bad = [_name(c) for c in containers(spec) if _host_process(_sc(c))]
    if bad:
        setters.append(_containers_phrase(bad))
    if setters:
        return ("hostProcess", "%s must not set securityContext.windowsOptions.hostProcess=true" % " and ".join(setters))
    return None


# ---- restricted -------------------------------------------------------------------------------

def allow_privilege_escalation_1_8(meta: Obj, spec: Obj) -> Result:
    bad = [_name(c) for c in containers(spec) if (_sc(c) or _EMPTY).get("allowPrivilegeEscalation") is not False]
    if bad:
        return ("allowPrivilegeEscalation != false",
                "%s must set securityContext.allowPrivilegeEscalation=false" % _containers_phrase(bad))
    return None


def allow_privilege_escalation_1_25(meta: Obj, spec: Obj) -> Result:
    if _windows(spec):
        return None
    return allow_privilege_escalation_1_8(meta, spec)


def capabilities_restricted_1_22(meta: Obj, spec: Obj) -> Result:
    missing_drop = []
    adding = []
    forbidden = set()
    for container in containers(spec):
        caps = (_sc(container) or _EMPTY).get("capabilities")
        if caps is None:
            missing_drop.append(_name(container))
            continue
        if "ALL" not in (caps.get("drop") or ()):
            missing_drop.append(_name(container))
        extra = [cap for cap in caps.get("add") or () if cap != "NET_BIND_SERVICE"]
        if extra:
            forbidden.update(extra)
            adding.append(_name(container))
    details = []
    if missing_drop:
        details.append('%s must set securityContext.capabilities.drop=["ALL"]' % _containers_phrase(missing_drop))
    if adding:
        details.append("%s must not include %s in securityContext.capabilities.add"
                       % (_containers_phrase(adding), join_quote(sorted(forbidden))))
    if details:
        return "unrestricted capabilities", "; ".join(details)
    return None


def capabilities_restricted_1_25(meta: Obj, spec: Obj) -> Result:
    if _windows(spec):
        return None
    return capabilities_restricted_1_22(meta, spec)


# allowed inline volume sources of restricted; the others in the API server's order of report
_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                    "projected", "secret")
_RESTRICTED_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
                       "glusterfs", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile",
                       "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "portworxVolume",
                       "scaleIO", "storageos")


def restricted_volumes_1_0(meta: Obj, spec: Obj) -> Result:
    bad = []
    kinds = set()
    for volume in spec.get("volumes") or ():
        if any(volume.get(key) is not None for key in _ALLOWED_VOLUMES):
            continue
        kind = next((key for key in _RESTRICTED_VOLUMES if volume.get(key) is not None), None)
        if kind is None:
            # no source the API knows: the API server defaults the volume to emptyDir
            continue
        bad.append(volume.get("name") or "")
        kinds.add(kind)
    if bad:
        return ("restricted volume types", "%s %s %s %s %s" % (
            pluralize("volume", "volumes", len(bad)), join_quote(bad), pluralize("uses", "use", len(bad)),
            pluralize("restricted volume type", "restricted volume types", len(kinds)), join_quote(sorted(kinds))))
    return None


def run_as_non_root_1_0(meta: Obj, spec: Obj) -> Result:
    setters: List[str] = []
    pod_true = False
    value = (_sc(spec) or _EMPTY).get("runAsNonRoot")
    if value is not None:
        if not value:
            setters.append("pod")
        else:
            pod_true = True
    explicit = []
    implicit = []
    for container in containers(spec):
        value = (_sc(container) or _EMPTY).get("runAsNonRoot")
        if value is not None:
            if not value:
                explicit.append(_name(container))
        elif not pod_true:
            implicit.append(_name(container))
    if explicit:
        setters.append(_containers_phrase(explicit))
    if setters:
        return "runAsNonRoot != true", "%s must not set securityContext.runAsNonRoot=false" % " and ".join(setters)
    if implicit:
        return ("runAsNonRoot != true",
                "pod or %s must set securityContext.runAsNonRoot=true" % _containers_phrase(implicit))
    return None


def run_as_non_root_1_35(meta: Obj, spec: Obj) -> Result:
    if _user_namespace(spec):
        return None
    return run_as_non_root_1_0(meta, spec)


def run_as_user_1_23(meta: Obj, spec: Obj) -> Result:
    setters = ["pod"] if (_sc(spec) or _EMPTY).get("runAsUser") == 0 else []
    bad = [_name(c) for c in containers(spec) if (_sc(c) or _EMPTY).get("runAsUser") == 0]
    if bad:
        setters.append(_containers_phrase(bad))
    if setters:
        return "runAsUser=0", "%s must not set runAsUser=0" % " and ".join(setters)
    return None


def run_as_user_1_35(meta: Obj, spec: Obj) -> Result:
    if _user_namespace(spec):
        return None
    return run_as_user_1_23(meta, spec)


def seccomp_profile_restricted_1_19(meta: Obj, spec: Obj) -> Result:
    return _seccomp_fields(spec, restricted=True)


def seccomp_profile_restricted_1_25(meta: Obj, spec: Obj) -> Result:
    if _windows(spec):
        return None
    return _seccomp_fields(spec, restricted=True)
