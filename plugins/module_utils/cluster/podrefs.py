# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which operator profiles a pod uses (pure functions over pod dicts as the API returns them).

* seccomp: ``securityContext.seccompProfile`` of type ``Localhost`` with a ``localhostProfile`` of
  the form ``operator/<namespace>/<file>`` (the ref names the file: see seccomp_paths), at pod level or on any container, init container
  or ephemeral container (the legacy ``seccomp.security.alpha.kubernetes.io/pod`` and
  ``container.seccomp.security.alpha.kubernetes.io/*`` annotations with ``localhost/...`` too);
* SELinux: ``securityContext.seLinuxOptions.type`` of the form ``<name>_<namespace>.process`` at
  pod or container level.

A pod uses a profile while it is not finished (phase other than Succeeded / Failed).
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths

SECCOMP = "seccomp"
SELINUX = "selinux"
FINISHED_PHASES = ("Succeeded", "Failed")

Ref = Tuple[str, str, str]  # (SECCOMP, namespace, file name) | (SELINUX, namespace, name)


def parse_localhost_profile(path: Any) -> Optional[Tuple[str, str]]:
    """``operator/<ns>/<file>`` -> (ns, file): a seccomp ref names the FILE (``p1.json`` is the file of the
    profiles ``p1`` and ``p1.json``, see seccomp_paths); anything else -> None."""
    return seccomp_paths.parse_localhost_profile(path)


def parse_selinux_type(value: Any) -> Optional[Tuple[str, str]]:
    """``<name>_<namespace>.process`` -> (namespace, name); anything else -> None."""
    if not isinstance(value, str) or not value.endswith(".process"):
        return None
    policy = value[:-len(".process")]
    if policy.count("_") != 1:
        return None
    name, namespace = policy.split("_")
    if not name or not namespace:
        return None
    return namespace, name


def _contexts(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    spec = pod.get("spec") or {}
    yield spec.get("securityContext") or {}
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            if isinstance(container, dict):
                yield container.get("securityContext") or {}


def pod_refs(pod: Mapping[str, Any]) -> List[Ref]:
    """The operator profiles ``pod`` names (sorted, unique); [] for a finished pod."""
    if (pod.get("status") or {}).get("phase") in FINISHED_PHASES:
        return []
    refs = set()
    for context in _contexts(pod):
        seccomp = context.get("seccompProfile") or {}
        if seccomp.get("type") == "Localhost":
            found = parse_localhost_profile(seccomp.get("localhostProfile"))
            if found:
                refs.add((SECCOMP,) + found)
        selinux = context.get("seLinuxOptions") or {}
        found = parse_selinux_type(selinux.get("type"))
        if found:
            refs.add((SELINUX,) + found)
    for key, value in ((pod.get("metadata") or {}).get("annotations") or {}).items():
        if key == "seccomp.security.alpha.kubernetes.io/pod" or key.startswith("container.seccomp.security.alpha.kubernetes.io/"):
            if isinstance(value, str) and value.startswith("localhost/"):
                found = parse_localhost_profile(value[len("localhost/"):])
                if found:
                    refs.add((SECCOMP,) + found)
    return sorted(refs)


def slim_pod(pod: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """What the node agent keeps of a pod: its name and the profiles it uses (None when it uses none)."""
    refs = pod_refs(pod)
    if not refs:
        return None
    meta = pod.get("metadata") or {}
    return {"metadata": {"name": meta.get("name"), "namespace": meta.get("namespace")}, "refs": refs}
