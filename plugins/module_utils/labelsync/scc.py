# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenShift: a namespace's Pod Security level from the SecurityContextConstraints its service
accounts may use — the rules of OpenShift's own label syncer (cluster-policy-controller,
``pkg/psalabelsyncer``), written anew here.

* Which SCCs a service account may use: every SCC that names it in ``users`` or one of its groups
  (``system:serviceaccounts``, ``system:serviceaccounts:<ns>``, ``system:authenticated``) in
  ``groups``; plus every SCC a Role or ClusterRole allows ``use`` of (apiGroup
  ``security.openshift.io``, resource ``securitycontextconstraints``, ``*`` wildcards, resourceNames)
  when a RoleBinding in the service account's namespace, or a ClusterRoleBinding, binds that role to
  the service account (kind ServiceAccount; a RoleBinding subject without namespace means the
  binding's) or to one of those groups.  User subjects do not count.
* A namespace's SCCs: the union over its service accounts.  A namespace without service accounts,
  or without the ``openshift.io/sa.scc.uid-range`` annotation yet, gets no decision (OpenShift
  waits too).
* An SCC's level (:func:`scc_level`): the most privileged of its parts — host directories/volumes
  (``hostPath``, ``*``), host namespaces and ports, privileged containers, capabilities beyond
  baseline's list, unsafe sysctls, SELinux strategy other than MustRunAs (or with a type outside
  container_t/container_init_t/container_kvm_t, or a user/role), any seccomp profile other than
  runtime/default, docker/default, localhost/* -> privileged; privilege escalation allowed (or
  unset), capabilities beyond NET_BIND_SERVICE or no required drop of ALL, no seccomp profile list,
  RunAsAny (or a range/UID that may start at 0), volume types beyond restricted's list -> baseline;
  else restricted.  A namespace's level: the most privileged of its SCCs' levels.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import (
    BASELINE, PRIVILEGED, RESTRICTED, level_index)

Obj = Dict[str, Any]

SCC_GROUP = "security.openshift.io"
SCC_PATH = "/apis/security.openshift.io/v1/securitycontextconstraints"
UID_RANGE_ANNOTATION = "openshift.io/sa.scc.uid-range"
RBAC_GROUP = "rbac.authorization.k8s.io"
ALL_SERVICE_ACCOUNTS = "system:serviceaccounts"
AUTHENTICATED = "system:authenticated"

_BASELINE_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"))
_SAFE_SYSCTLS = frozenset((
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"))
_RESTRICTED_VOLUMES = frozenset((
    "configMap", "downwardAPI", "emptyDir", "projected", "secret", "csi", "persistentVolumeClaim",
    "ephemeral", "none", "image", "serviceAccountToken"))
_BASELINE_VOLUMES = frozenset((
    "azureFile", "azureDisk", "flocker", "flexVolume", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo",
    "nfs", "iscsi", "glusterfs", "rbd", "cinder", "cephFS", "fc", "vsphere", "quobyte", "photonPersistentDisk",
    "portworxVolume", "scaleIO", "storageOS"))
_SELINUX_TYPES = frozenset(("", "container_t", "container_init_t", "container_kvm_t"))


def _most_privileged(levels: Iterable[str]) -> str:
    result = RESTRICTED
    for level in levels:
        if level_index(level) < level_index(result):
            result = level
    return result


def _uid_block_start(value: str, namespace: str) -> int:
    """The first UID of ``start/size`` or ``start-end`` (the uid-range annotation's two forms)."""
    match = re.match(r"^\s*(\d+)\s*[/-]\s*(\d+)", value or "")
    if not match:
        raise SpoError("annotation %s must be START/SIZE or START-END, got %r" % (UID_RANGE_ANNOTATION, value),
                       obj="Namespace " + namespace, field="metadata.annotations")
    return int(match.group(1))


def _volumes_level(volumes: List[str], ref: str) -> str:
    level: Optional[str] = None
    for volume in volumes:
        if volume in ("*", "hostPath"):
            return PRIVILEGED
        if volume in _RESTRICTED_VOLUMES:
            level = level or RESTRICTED
        elif volume in _BASELINE_VOLUMES:
            level = BASELINE
        else:
            raise SpoError("unknown volume type %r" % (volume,), obj=ref, field="volumes")
    # no volumes at all: none allowed (OpenShift's "unknown" ranks below restricted)
    return level or RESTRICTED


def _run_as_user_level(strategy: Mapping[str, Any], namespace: Obj, ref: str) -> str:
    kind = strategy.get("type")
    if kind == "MustRunAsNonRoot":
        return RESTRICTED
    if kind == "MustRunAs":
        uid = strategy.get("uid")
        return RESTRICTED if isinstance(uid, int) and uid > 0 else BASELINE
    if kind == "MustRunAsRange":
        low, high = strategy.get("uidRangeMin"), strategy.get("uidRangeMax")
        if low is None or high is None:
            meta = namespace.get("metadata") or {}
            value = (meta.get("annotations") or {}).get(UID_RANGE_ANNOTATION)
            if not value:
                raise SpoError("the SCC needs the namespace's %s annotation, which is missing" % UID_RANGE_ANNOTATION,
                               obj=ref, field="runAsUser")
            return RESTRICTED if _uid_block_start(value, meta.get("name", "")) > 0 else BASELINE
        return RESTRICTED if low > 0 else BASELINE
    if kind == "RunAsAny":
        return BASELINE
    raise SpoError("unknown strategy %r" % (kind,), obj=ref, field="runAsUser.type")


def _capabilities_level(allowed: List[str], drops: List[str]) -> str:
    allowed_set = set(allowed or [])
    if not allowed_set <= _BASELINE_CAPABILITIES:
        return PRIVILEGED
    if not allowed_set <= {"NET_BIND_SERVICE"}:
        return BASELINE
    return RESTRICTED if "ALL" in (drops or []) else BASELINE


def _selinux_level(context: Mapping[str, Any]) -> str:
    if context.get("type") != "MustRunAs":
        return PRIVILEGED
    options = context.get("seLinuxOptions")
    if options is None:
        return RESTRICTED
    if options.get("type", "") not in _SELINUX_TYPES or options.get("user") or options.get("role"):
        return PRIVILEGED
    return RESTRICTED


def _seccomp_level(profiles: List[str]) -> str:
    if not profiles:
        return BASELINE
    for profile in profiles:
        if profile not in ("docker/default", "runtime/default") and not profile.startswith("localhost/"):
            return PRIVILEGED
    return RESTRICTED


def scc_level(scc: Obj, namespace: Obj) -> str:
    """The Pod Security level an SCC lets pods of ``namespace`` reach."""
    ref = "SecurityContextConstraints " + ((scc.get("metadata") or {}).get("name") or "")
    volumes = list(scc.get("volumes") or [])
    parts = [
        PRIVILEGED if scc.get("allowHostDirVolumePlugin") or any(v in ("hostPath", "*") for v in volumes)
        else RESTRICTED,
        PRIVILEGED if scc.get("allowHostIPC") or scc.get("allowHostNetwork") or scc.get("allowHostPID")
        else RESTRICTED,
        PRIVILEGED if scc.get("allowHostPorts") else RESTRICTED,
        RESTRICTED if scc.get("allowPrivilegeEscalation") is False else BASELINE,
        PRIVILEGED if scc.get("allowPrivilegedContainer") else RESTRICTED,
        _capabilities_level(scc.get("allowedCapabilities") or [], scc.get("requiredDropCapabilities") or []),
        PRIVILEGED if not set(scc.get("allowedUnsafeSysctls") or []) <= _SAFE_SYSCTLS else RESTRICTED,
    ]
    if PRIVILEGED in parts:
        return PRIVILEGED
    parts += [_volumes_level(volumes, ref), _selinux_level(scc.get("seLinuxContext") or {}),
              _seccomp_level(scc.get("seccompProfiles") or []),
              _run_as_user_level(scc.get("runAsUser") or {}, namespace, ref)]
    return _most_privileged(parts)


# ------------------------------------------------------------------------------------- RBAC
def rules_allow_use(rules: Iterable[Mapping[str, Any]], scc_name: str) -> bool:
    """Whether RBAC ``rules`` allow ``use`` of the SCC named ``scc_name`` (RBAC's matching rules)."""
    for rule in rules or []:
        verbs = rule.get("verbs") or []
        groups = rule.get("apiGroups") or []
        resources = rule.get("resources") or []
        names = rule.get("resourceNames") or []
        if (("*" in verbs or "use" in verbs) and ("*" in groups or SCC_GROUP in groups)
                and ("*" in resources or "securitycontextconstraints" in resources)
                and (not names or scc_name in names)):
            return True
    return False


class Binding(NamedTuple):
    namespace: str  # "" for a ClusterRoleBinding
    role_key: str  # "<ns>/<name>" for a Role, "/<name>" for a ClusterRole
    service_accounts: Tuple[Tuple[str, str], ...]  # (namespace, name)
    groups: Tuple[str, ...]


def binding_of(obj: Obj) -> Optional[Binding]:
    """The parts of a (Cluster)RoleBinding that can give service accounts an SCC (None: none)."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace") or ""
    ref = obj.get("roleRef") or {}
    if ref.get("apiGroup") != RBAC_GROUP or ref.get("kind") not in ("Role", "ClusterRole"):
        return None
    key = ("%s/%s" % (namespace, ref.get("name"))) if ref.get("kind") == "Role" else "/" + str(ref.get("name"))
    sas: List[Tuple[str, str]] = []
    groups: List[str] = []
    for subject in obj.get("subjects") or []:
        kind, api_group = subject.get("kind"), subject.get("apiGroup") or ""
        if kind == "ServiceAccount" and api_group == "":
            sas.append((subject.get("namespace") or namespace, subject.get("name") or ""))
        elif kind == "Group" and api_group == RBAC_GROUP:
            name = subject.get("name") or ""
            if name in (ALL_SERVICE_ACCOUNTS, AUTHENTICATED) or name.startswith(ALL_SERVICE_ACCOUNTS + ":"):
                groups.append(name)
    if not sas and not groups:
        return None
    return Binding(namespace, key, tuple(sas), tuple(groups))


def role_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return "%s/%s" % (meta.get("namespace") or "", meta.get("name") or "")


def service_account_user(namespace: str, name: str) -> str:
    return "system:serviceaccount:%s:%s" % (namespace, name)


def service_account_groups(namespace: str) -> Set[str]:
    return {ALL_SERVICE_ACCOUNTS, ALL_SERVICE_ACCOUNTS + ":" + namespace, AUTHENTICATED}


def namespace_sccs(namespace: str, service_accounts: Iterable[str], sccs: Iterable[Obj],
                   role_rules: Mapping[str, List[Mapping[str, Any]]], bindings: Iterable[Binding]) -> Dict[str, str]:
    """SCC name -> why (which service account, binding or group) for every SCC that some service
    account of ``namespace`` may use."""
    names = set(service_accounts)
    if not names:
        return {}
    groups = service_account_groups(namespace)
    users = {service_account_user(namespace, sa): sa for sa in names}
    scc_list = list(sccs)
    found: Dict[str, str] = {}
    for scc in scc_list:
        scc_name = (scc.get("metadata") or {}).get("name") or ""
        hit_users = sorted(users[u] for u in scc.get("users") or [] if u in users)
        hit_groups = sorted(g for g in scc.get("groups") or [] if g in groups)
        if hit_users:
            found[scc_name] = "SCC %s lists service account %s" % (scc_name, hit_users[0])
        elif hit_groups:
            found[scc_name] = "SCC %s lists group %s" % (scc_name, hit_groups[0])
    for binding in bindings:
        if binding.namespace and binding.namespace != namespace:
            continue
        subjects = [sa for ns, sa in binding.service_accounts if ns == namespace and sa in names]
        hit_groups = [g for g in binding.groups if g in groups]
        if not subjects and not hit_groups:
            continue
        rules = role_rules.get(binding.role_key)
        if not rules:
            continue
        who = ("service account %s" % sorted(subjects)[0]) if subjects else ("group %s" % hit_groups[0])
        for scc in scc_list:
            scc_name = (scc.get("metadata") or {}).get("name") or ""
            if scc_name not in found and rules_allow_use(rules, scc_name):
                found[scc_name] = "%s may use SCC %s (role %s)" % (who, scc_name, binding.role_key.lstrip("/"))
    return found


def namespace_level(namespace: Obj, service_accounts: Iterable[str], sccs: Iterable[Obj],
                    role_rules: Mapping[str, List[Mapping[str, Any]]],
                    bindings: Iterable[Binding]) -> Optional[Tuple[str, str]]:
    """(level, why) from the SCCs the namespace's service accounts may use; None when OpenShift would
    not decide yet (no uid-range annotation, no service accounts).  Raises :class:`SpoError` for an
    SCC that cannot be read (as OpenShift, which then leaves the namespace alone)."""
    meta = namespace.get("metadata") or {}
    if not (meta.get("annotations") or {}).get(UID_RANGE_ANNOTATION):
        return None
    sas = list(service_accounts)
    if not sas:
        return None
    by_name = {(s.get("metadata") or {}).get("name"): s for s in sccs}
    usable = namespace_sccs(meta.get("name") or "", sas, by_name.values(), role_rules, bindings)
    if not usable:
        return None  # OpenShift: no level at all ("unknown"), the namespace is left alone
    level, why = RESTRICTED, ""
    for name in sorted(usable):
        found = scc_level(by_name[name], namespace)
        if not why or level_index(found) < level_index(level):
            level, why = found, usable[name]
        if level == PRIVILEGED:
            break
    return level, why
