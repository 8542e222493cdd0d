# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RuntimeDefault seccomp defaulting (``/mutate-v1-pod-runtime-default``), pure functions.

A pod created without a pod-level seccomp profile (no ``spec.securityContext.seccompProfile`` and no legacy
``seccomp.security.alpha.kubernetes.io/pod`` annotation) gets ``seccompProfile: {type: RuntimeDefault}`` at pod
level. Containers naming their own profile (field or legacy container annotation) keep it: a container-level
profile wins over the pod-level one, so explicit profiles are never changed.

Which namespaces: the webhook configuration sends pods of namespaces labelled
``spo.x-k8s.io/enable-runtime-default: "true"`` and, when the SPOD's ``runtimeDefault.allNamespaces`` is true,
of every namespace not labelled ``"false"``. :func:`namespace_wanted` is the server's own check: a namespace
labelled ``"true"`` always, one labelled ``"false"`` never, system namespaces (``kube-*``, ``openshift-*``,
``default``) and the operator's namespace only when labelled ``"true"``.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import (
    SECCOMP_POD_ANNOTATION, get_path, json_copy, security_context)

LABEL = "spo.x-k8s.io/enable-runtime-default"
SYSTEM_PREFIXES = ("kube-", "openshift-")
SYSTEM_NAMESPACES = ("default", "openshift")


def is_system_namespace(name: str, operator_namespace: str = "") -> bool:
    return name.startswith(SYSTEM_PREFIXES) or name in SYSTEM_NAMESPACES or (bool(operator_namespace)
                                                                             and name == operator_namespace)


def namespace_wanted(name: str, labels: Optional[Mapping[str, str]], operator_namespace: str = "") -> bool:
    value = (labels or {}).get(LABEL)
    if value == "true":
        return True
    if value == "false":
        return False
    return not is_system_namespace(name, operator_namespace)


def has_pod_profile(pod: Mapping[str, Any]) -> bool:
    return bool(get_path(pod, "spec", "securityContext", "seccompProfile")) or bool(
        (get_path(pod, "metadata", "annotations") or {}).get(SECCOMP_POD_ANNOTATION))


def mutate(pod: Mapping[str, Any], operation: str = "CREATE") -> Optional[Dict[str, Any]]:
    """The pod with a pod-level RuntimeDefault profile, or None when it is left as it is."""
    if operation != "CREATE" or not isinstance(pod.get("spec"), Mapping) or has_pod_profile(pod):
        return None
    new = json_copy(pod)
    security_context(new["spec"])["seccompProfile"] = {"type": "RuntimeDefault"}
    return new
