# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recorded audit events -> SeccompProfile / SelinuxProfile objects, names, merges, YAML text.

A recording of a container yields a syscall set (from SECCOMP records) or a list of AVC events.
The profiles built here are what the upstream operator writes for a ProfileRecording:

* SeccompProfile v1beta1: ``defaultAction: SCMP_ACT_ERRNO``, the node's architecture, one
  ``SCMP_ACT_ALLOW`` rule with every recorded syscall (sorted), ``baseProfileName`` if asked;
* SelinuxProfile v1alpha2: ``allow`` keyed by each denial's target type and class, the
  profile's own (recording) type written ``@self``; ``inherit: [{name: container}]``.

Profiles are named ``<recording>-<container>``; replicas of one container get ``-<n>``
(:func:`profile_name`), and :func:`merge_seccomp` / :func:`merge_selinux` union replicas into one.
:func:`to_yaml` is a small deterministic emitter (targets have no PyYAML).
"""
from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterable, List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.validation import (
    check_dns1123_label, check_dns1123_subdomain)

SECCOMP_API = api.SECCOMP_PROFILE.api_version
SELINUX_API = api.SELINUX_PROFILE.api_version
SELF = "@self"


def profile_name(recording: str, container: str, replica: Optional[int] = None) -> str:
    """``<recording>-<container>`` (+ ``-<n>`` for replica n), a valid object name."""
    name = "%s-%s" % (recording, container) + ("" if replica is None else "-%d" % replica)
    return check_dns1123_subdomain(name, "ProfileRecording %s" % recording, "metadata.name")


def _metadata(name: str, namespace: str, labels: Optional[Dict[str, str]]) -> Dict[str, Any]:
    check_dns1123_subdomain(name, "profile ?/%s" % name, "metadata.name")
    check_dns1123_label(namespace, "profile %s/%s" % (namespace, name), "metadata.namespace")
    meta: Dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = dict(sorted(labels.items()))
    return meta


def seccomp_profile(name: str, namespace: str, syscalls: Iterable[str], architectures: Optional[List[str]] = None,
                    base_profile_name: Optional[str] = None, labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """A SeccompProfile allowing exactly ``syscalls`` (denying the rest with SCMP_ACT_ERRNO)."""
    names = sorted(set(syscalls))
    if not names:
        raise SpoError("nothing was recorded (no SECCOMP audit records); is auditd or the kernel log dropping them?",
                       "SeccompProfile %s/%s" % (namespace, name), "spec.syscalls")
    spec: Dict[str, Any] = {}
    if base_profile_name:
        spec["baseProfileName"] = base_profile_name
    spec["defaultAction"] = "SCMP_ACT_ERRNO"
    spec["architectures"] = list(architectures or [libseccomp.native_oci_arch()])
    spec["syscalls"] = [{"action": "SCMP_ACT_ALLOW", "names": names}]
    return {"apiVersion": SECCOMP_API, "kind": "SeccompProfile", "metadata": _metadata(name, namespace, labels),
            "spec": spec}


def _context_type(context: str) -> str:
    parts = context.split(":")
    return parts[2] if len(parts) >= 3 else context


def selinux_profile(name: str, namespace: str, avcs: Iterable[Dict[str, Any]], self_type: Optional[str] = None,
                    inherit: str = "container", labels: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
    """A SelinuxProfile from AVC events: allow[target type][class] = sorted permissions.

    ``self_type`` is the recording's process type: as a target it is written ``@self``.  When not
    given, the most frequent source type of the denials is taken as the recorded process type.
    """
    events = [a for a in avcs if a.get("result", "denied") == "denied"]
    if not events:
        raise SpoError("nothing was recorded (no AVC denials)", "SelinuxProfile %s/%s" % (namespace, name), "spec.allow")
    if self_type is None:
        counts: Dict[str, int] = {}
        for event in events:
            source = _context_type(event["scontext"])
            counts[source] = counts.get(source, 0) + 1
        self_type = sorted(counts, key=lambda t: (-counts[t], t))[0]
    allow: Dict[str, Dict[str, set]] = {}
    for event in events:
        if _context_type(event["scontext"]) != self_type:
            continue
        target = _context_type(event["tcontext"])
        target = SELF if target == self_type else target
        allow.setdefault(target, {}).setdefault(event["tclass"], set()).update(event["permissions"])
    spec = {"inherit": [{"name": inherit}],
            "allow": {t: {c: sorted(p) for c, p in sorted(classes.items())} for t, classes in sorted(allow.items())}}
    return {"apiVersion": SELINUX_API, "kind": "SelinuxProfile", "metadata": _metadata(name, namespace, labels),
            "spec": spec}


def merge_seccomp(name: str, profiles: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Union replicas' SeccompProfiles (same container) into one named ``name``."""
    if not profiles:
        raise SpoError("no profiles to merge", "SeccompProfile ?/%s" % name)
    first = profiles[0]
    names: set = set()
    arches: List[str] = []
    for prof in profiles:
        for rule in prof["spec"].get("syscalls", []):
            if rule.get("action") == "SCMP_ACT_ALLOW":
                names.update(rule.get("names", []))
        for arch in prof["spec"].get("architectures", []):
            if arch not in arches:
                arches.append(arch)
    meta = first["metadata"]
    return seccomp_profile(name, meta["namespace"], names, arches, first["spec"].get("baseProfileName"),
                           meta.get("labels"))


def merge_selinux(name: str, profiles: List[Dict[str, Any]]) -> Dict[str, Any]:
    """Union replicas' SelinuxProfiles allow maps into one named ``name``."""
    if not profiles:
        raise SpoError("no profiles to merge", "SelinuxProfile ?/%s" % name)
    allow: Dict[str, Dict[str, set]] = {}
    for prof in profiles:
        for target, classes in prof["spec"].get("allow", {}).items():
            for klass, perms in classes.items():
                allow.setdefault(target, {}).setdefault(klass, set()).update(perms)
    first = profiles[0]
    result = json.loads(json.dumps(first))
    result["metadata"]["name"] = name
    result["spec"]["allow"] = {t: {c: sorted(p) for c, p in sorted(cl.items())} for t, cl in sorted(allow.items())}
    return result


# ---------------------------------------------------------------------------------------------
# YAML

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _emit(value: Any, indent: int, out: List[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append("%s%s:" % (pad, _scalar(key)))
                _emit(item, indent + 1 if isinstance(item, dict) else indent, out)
            else:
                out.append("%s%s: %s" % (pad, _scalar(key), _flow_empty(item)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and item:
                sub: List[str] = []
                _emit(item, indent + 1, sub)
                out.append("%s- %s" % (pad, sub[0].lstrip()))
                out.extend(sub[1:])
            elif isinstance(item, list) and item:
                raise SpoError("nested lists are not emitted")
            else:
                out.append("%s- %s" % (pad, _flow_empty(item)))


def _flow_empty(item: Any) -> str:
    if isinstance(item, dict):
        return "{}"
    if isinstance(item, list):
        return "[]"
    return _scalar(item)


def to_yaml(docs: Any) -> str:
    """Deterministic block YAML of one document (a dict) or several (a list -> ``---`` separated)."""
    items = docs if isinstance(docs, list) else [docs]
    parts = []
    for doc in items:
        lines: List[str] = []
        _emit(doc, 0, lines)
        parts.append("\n".join(lines) + "\n")
    return "---\n".join(parts)
