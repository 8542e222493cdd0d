# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ProfileBinding pod mutation (``/mutate-v1-pod-binding``), a pure function.

Rules (upstream's binding webhook, with the choices this edition makes explicit):

* A binding names a profile of its own namespace (``spec.profileRef``: SeccompProfile or SelinuxProfile) and an
  image (``spec.image``). Every container, init container and ephemeral container whose image matches gets the
  profile in its ``securityContext``: SeccompProfile -> ``seccompProfile: {type: Localhost, localhostProfile:
  operator/<ns>/<name>.json}`` (the profile's ``status.localhostProfile`` when set); SelinuxProfile ->
  ``seLinuxOptions.type: <name>_<ns>.process`` (the profile's ``status.usage`` when set). A container-level value
  already there is replaced (a binding is enforced: a pod cannot opt out with ``Unconfined``).
* Images match as written, or as the same fully qualified reference (``nginx:1.19.1`` is
  ``docker.io/library/nginx:1.19.1``).
* ``image: "*"`` sets the pod-level field, only for pods where no binding of the same profile kind matched a
  container, and never replaces a pod-level value (or the legacy pod seccomp annotation).
* Bindings are taken in name order; when two bindings of one kind match the same container the first wins and
  the other is reported in a warning. Bindings being deleted are skipped.
* A binding whose profile does not exist (or is being deleted) is skipped with a warning: admission is never
  blocked by a binding (the binding's status says why, see ``bindingstatus``). A profile that exists but is not
  installed yet is applied: the kubelet starts the container once the node has the profile.
* CREATE mutates the pod; UPDATE of the ``ephemeralcontainers`` subresource mutates only the ephemeral containers
  the update adds. Nothing else is mutated.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import (
    SECCOMP_POD_ANNOTATION, containers, get_path, image_matches, json_copy, security_context)

Obj = Dict[str, Any]
ProfileLookup = Callable[[str, str, str], Optional[Obj]]

SECCOMP = "SeccompProfile"
SELINUX = "SelinuxProfile"
KINDS = (SECCOMP, SELINUX)
ALL_IMAGES = "*"


class Result(object):
    """A mutated pod (``pod``), the bindings applied (``applied``: name -> container paths) and ``warnings``."""

    __slots__ = ("pod", "applied", "warnings")

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.applied: Dict[str, List[str]] = {}
        self.warnings: List[str] = []

    def note(self, binding: str, where: str) -> None:
        self.applied.setdefault(binding, []).append(where)


def seccomp_localhost(namespace: str, name: str) -> str:
    """The profile's file as pods name it (the same function as the node agent's and the module's)."""
    return seccomp_paths.localhost_profile(namespace, name)


def selinux_usage(namespace: str, name: str) -> str:
    return "%s_%s.process" % (name, namespace)


def profile_value(kind: str, namespace: str, name: str, profile: Optional[Mapping[str, Any]]) -> str:
    """What a pod names for a profile: the Localhost path (seccomp) or the process type (SELinux)."""
    status = (profile or {}).get("status") or {}
    if kind == SECCOMP:
        value = status.get("localhostProfile") if isinstance(status, Mapping) else None
        return value if isinstance(value, str) and value else seccomp_localhost(namespace, name)
    value = status.get("usage") if isinstance(status, Mapping) else None
    return value if isinstance(value, str) and value else selinux_usage(namespace, name)


def binding_ref(binding: Mapping[str, Any]) -> Tuple[str, str, str, str]:
    """``(name, profile kind, profile name, image)`` of a binding ('' for what is missing)."""
    spec = binding.get("spec") if isinstance(binding.get("spec"), dict) else {}
    ref = spec.get("profileRef") if isinstance(spec.get("profileRef"), dict) else {}
    meta = binding.get("metadata") if isinstance(binding.get("metadata"), dict) else {}

    def text(value: Any) -> str:
        return value if isinstance(value, str) else ""
    return text(meta.get("name")), text(ref.get("kind")), text(ref.get("name")), text(spec.get("image"))


def _live(obj: Optional[Mapping[str, Any]]) -> bool:
    return obj is not None and not get_path(obj, "metadata", "deletionTimestamp")


def _set_container(container: Obj, kind: str, value: str) -> bool:
    sc = security_context(container)
    if kind == SECCOMP:
        want = {"type": "Localhost", "localhostProfile": value}
        if sc.get("seccompProfile") == want:
            return False
        sc["seccompProfile"] = want
        return True
    opts = sc.get("seLinuxOptions")
    if not isinstance(opts, dict):
        opts = {}
        sc["seLinuxOptions"] = opts
    if opts.get("type") == value:
        return False
    opts["type"] = value
    return True


def _pod_level_set(pod: Obj, kind: str) -> bool:
    spec = pod.get("spec") or {}
    if kind == SECCOMP:
        return bool(get_path(spec, "securityContext", "seccompProfile")) or bool(
            (get_path(pod, "metadata", "annotations") or {}).get(SECCOMP_POD_ANNOTATION))
    return bool(get_path(spec, "securityContext", "seLinuxOptions", "type"))


def _set_pod(pod: Obj, kind: str, value: str) -> None:
    sc = security_context(pod.setdefault("spec", {}))
    if kind == SECCOMP:
        sc["seccompProfile"] = {"type": "Localhost", "localhostProfile": value}
    else:
        opts = sc.get("seLinuxOptions")
        if not isinstance(opts, dict):
            opts = {}
            sc["seLinuxOptions"] = opts
        opts["type"] = value


def mutate(pod: Mapping[str, Any], namespace: str, bindings: List[Mapping[str, Any]], profiles: ProfileLookup,
           operation: str = "CREATE", old_pod: Optional[Mapping[str, Any]] = None,
           subresource: str = "") -> Result:
    """Apply the ``bindings`` of ``namespace`` to ``pod`` (not modified: the result holds a copy).

    ``profiles(kind, namespace, name)`` returns the profile object (or None). For an UPDATE of the
    ``ephemeralcontainers`` subresource, ``old_pod`` is the pod before it.
    """
    result = Result(json_copy(pod))
    ephemeral_update = operation == "UPDATE" and subresource == "ephemeralcontainers"
    if operation != "CREATE" and not ephemeral_update:
        return result
    spec = result.pod.get("spec")
    if not isinstance(spec, dict):
        return result
    lists: Tuple[str, ...] = ("initContainers", "containers", "ephemeralContainers")
    old_ephemeral: Set[str] = set()
    if ephemeral_update:
        lists = ("ephemeralContainers",)
        old_ephemeral = {c.get("name") for _l, _i, c in containers((old_pod or {}).get("spec") or {}, lists)}

    live = sorted((binding_ref(b) for b in bindings if isinstance(b, dict) and _live(b)), key=lambda r: r[0])
    claimed: Dict[Tuple[str, str, int], str] = {}  # (kind, list, index) -> binding name
    matched_kinds: Set[str] = set()
    defaults: Dict[str, Tuple[str, str]] = {}  # kind -> (binding name, value)
    for name, kind, profile_name, image in live:
        if kind not in KINDS or not profile_name or not image:
            result.warnings.append("ProfileBinding %s/%s: profileRef.kind must be SeccompProfile or SelinuxProfile "
                                   "with a name, and image must be set; skipped" % (namespace, name))
            continue
        profile = profiles(kind, namespace, profile_name)
        if not _live(profile):
            result.warnings.append("ProfileBinding %s/%s: %s %s/%s %s; not applied" % (
                namespace, name, kind, namespace, profile_name,
                "does not exist" if profile is None else "is being deleted"))
            continue
        value = profile_value(kind, namespace, profile_name, profile)
        if image == ALL_IMAGES:
            if kind not in defaults:
                defaults[kind] = (name, value)
            else:
                result.warnings.append("ProfileBinding %s/%s: ProfileBinding %s already binds a %s to image \"*\"; "
                                       "not applied" % (namespace, name, defaults[kind][0], kind))
            continue
        for list_name, index, container in containers(spec, lists):
            if not image_matches(image, container.get("image")):
                continue
            if ephemeral_update and container.get("name") in old_ephemeral:
                continue
            matched_kinds.add(kind)
            where = "%s[%d]" % (list_name, index)
            first = claimed.get((kind, list_name, index))
            if first is not None:
                result.warnings.append("ProfileBinding %s/%s: container %r already has the %s of ProfileBinding %s; "
                                       "not applied" % (namespace, name, container.get("name"), kind, first))
                continue
            claimed[(kind, list_name, index)] = name
            _set_container(container, kind, value)
            result.note(name, where)
    if not ephemeral_update:
        for kind, (name, value) in sorted(defaults.items()):
            if kind in matched_kinds or _pod_level_set(result.pod, kind):
                continue
            _set_pod(result.pod, kind, value)
            result.note(name, "pod")
    return result


def bound_pod(binding: Mapping[str, Any], pod: Mapping[str, Any], profile: Optional[Mapping[str, Any]]) -> bool:
    """Whether ``pod`` runs with the profile of ``binding`` where the binding puts it (for activeWorkloads)."""
    name, kind, profile_name, image = binding_ref(binding)
    del name
    namespace = get_path(binding, "metadata", "namespace") or get_path(pod, "metadata", "namespace") or ""
    if kind not in KINDS or not profile_name or not image:
        return False
    value = profile_value(kind, namespace, profile_name, profile)
    spec = pod.get("spec") or {}

    def has(node: Any) -> bool:
        sc = node.get("securityContext") if isinstance(node, Mapping) else None
        if not isinstance(sc, Mapping):
            return False
        if kind == SECCOMP:
            sp = sc.get("seccompProfile") or {}
            return isinstance(sp, Mapping) and sp.get("type") == "Localhost" and sp.get("localhostProfile") == value
        return get_path(sc, "seLinuxOptions", "type") == value

    if image == ALL_IMAGES:
        return has(spec)
    return any(image_matches(image, c.get("image")) and has(c) for _l, _i, c in containers(spec))
