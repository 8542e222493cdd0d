# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a pod or a workload's pod template against a Pod Security level and version.

The verdict carries the API server's own texts: the detail (``reason (detail), ...``), the
enforce message ``violates PodSecurity "restricted:latest": ...`` and the warn/audit message
``would violate PodSecurity "restricted:latest": ...``; and the least privileged level that
admits the object at that version.  The version printed is the one asked for (``latest``,
``v1.40``); checks newer than it are left out, as the API server does.
"""
from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss import podspec
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.registry import checks_for
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import (
    BASELINE, LATEST, LEVELS, PRIVILEGED, RESTRICTED, Minor, parse_level, parse_version, version_text)

Obj = Dict[str, Any]


class Violation(NamedTuple):
    check: str
    reason: str
    detail: str

    def text(self) -> str:
        return "%s (%s)" % (self.reason, self.detail) if self.detail else self.reason


def join_violations(violations: List[Violation]) -> str:
    """The API server's ForbiddenDetail: ``reason (detail), reason (detail)``."""
    return ", ".join(v.text() for v in violations)


# The API server's warning recorder: once the warnings of one response exceed 4096 characters
# (runes) in all, each is cut to its first 256 characters (no marker). The audit annotation and the
# enforce message keep the full text.
WARNINGS_TOTAL_LIMIT = 4096
WARNING_TRUNCATED_LENGTH = 256


def as_warning_header(text: str) -> str:
    """``text`` as the API server sends it in a Warning header when it is the response's only warning."""
    return text[:WARNING_TRUNCATED_LENGTH] if len(text) > WARNINGS_TOTAL_LIMIT else text


def check_pod(meta: Obj, spec: Obj, level: str, minor: Minor) -> List[Violation]:
    """Violations of a pod (metadata, spec) at ``level`` and ``minor``; none at privileged."""
    if level == PRIVILEGED:
        return []
    found = []
    for check_id, fn in checks_for(level, minor):
        result = fn(meta, spec)
        if result is not None:
            found.append(Violation(check_id, result[0] or "unknown forbidden reason", result[1]))
    return found


def minimum_level(meta: Obj, spec: Obj, minor: Minor) -> str:
    """The least privileged level that admits the pod at ``minor``."""
    if check_pod(meta, spec, RESTRICTED, minor):
        return BASELINE if not check_pod(meta, spec, BASELINE, minor) else PRIVILEGED
    return RESTRICTED


class Verdict(object):
    """The judgement of one object."""

    __slots__ = ("object", "kind", "name", "namespace", "level", "version", "violations", "minimum_level",
                 "judged")

    def __init__(self, obj: Obj, level: str, version: str, violations: List[Violation],
                 minimum: Optional[str], judged: bool = True) -> None:
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        self.object = podspec.object_name(obj)
        self.kind = obj.get("kind")
        self.name = meta.get("name") or meta.get("generateName") or ""
        self.namespace = meta.get("namespace") or ""
        self.level = level
        self.version = version
        self.violations = violations
        self.minimum_level = minimum
        self.judged = judged

    @property
    def allowed(self) -> bool:
        return not self.violations

    @property
    def policy(self) -> str:
        return "%s:%s" % (self.level, self.version)

    @property
    def detail(self) -> str:
        return join_violations(self.violations)

    @property
    def enforce_message(self) -> str:
        return 'violates PodSecurity "%s": %s' % (self.policy, self.detail) if self.violations else ""

    @property
    def warning(self) -> str:
        return 'would violate PodSecurity "%s": %s' % (self.policy, self.detail) if self.violations else ""

    def to_dict(self) -> Dict[str, Any]:
        return {
            "object": self.object, "kind": self.kind, "name": self.name, "namespace": self.namespace,
            "policy": self.policy, "allowed": self.allowed, "judged": self.judged,
            "violations": [{"check": v.check, "reason": v.reason, "detail": v.detail} for v in self.violations],
            "detail": self.detail, "enforce_message": self.enforce_message, "warning": self.warning,
            "minimum_level": self.minimum_level,
        }


def evaluate(obj: Obj, level: str = RESTRICTED, version: str = LATEST, as_admitted: bool = True) -> Verdict:
    """Judge ``obj`` (a Pod or a workload with a pod template) at ``level`` and ``version``.

    ``as_admitted`` (Pods only) judges the pod as the API server sees it on create, after its
    seccomp/AppArmor annotation and field synchronisation (see ``podspec.pod_as_admitted``).
    A workload without a pod template is admitted (``judged`` False), as by the API server.
    """
    if not isinstance(obj, dict):
        raise SpoError("must be a mapping (a Kubernetes object), got %s" % type(obj).__name__)
    parse_level(level)
    minor = parse_version(version)
    found = podspec.extract(obj)
    if found is None:
        return Verdict(obj, level, version, [], RESTRICTED, judged=False)
    meta, spec, _where = found
    if as_admitted and obj.get("kind") == "Pod":
        meta, spec = podspec.pod_as_admitted(meta, spec)
    violations = check_pod(meta, spec, level, minor)
    if level == RESTRICTED:
        minimum = RESTRICTED if not violations else (
            BASELINE if not check_pod(meta, spec, BASELINE, minor) else PRIVILEGED)
    elif level == BASELINE:
        minimum = PRIVILEGED if violations else (
            RESTRICTED if not check_pod(meta, spec, RESTRICTED, minor) else BASELINE)
    else:
        minimum = minimum_level(meta, spec, minor)
    return Verdict(obj, level, version, violations, minimum)


def evaluate_many(objects: List[Obj], level: str = RESTRICTED, version: str = LATEST,
                  as_admitted: bool = True) -> Dict[str, List[Any]]:
    """Judge every object with a pod; others are listed under ``skipped`` (``Kind namespace/name``)."""
    parse_level(level)
    parse_version(version)
    verdicts: List[Verdict] = []
    skipped: List[str] = []
    for index, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise SpoError("must be a mapping (a Kubernetes object), got %s" % type(obj).__name__,
                           field="[%d]" % index)
        if not podspec.has_pod(obj):
            skipped.append(podspec.object_name(obj))
            continue
        verdicts.append(evaluate(obj, level, version, as_admitted))
    return {"verdicts": verdicts, "skipped": skipped}


__all__ = ["Violation", "Verdict", "evaluate", "as_warning_header", "evaluate_many", "check_pod", "minimum_level", "join_violations",
           "LEVELS", "version_text"]
