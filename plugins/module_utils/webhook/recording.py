# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ProfileRecording pod mutation (``/mutate-v1-pod-recording``), a pure function.

A pod created in a recording's namespace that matches its ``spec.podSelector`` (``{}`` matches every pod) gets,
in every init container and container (only those named in ``spec.containers`` when given):

* kind SeccompProfile: ``seccompProfile: {type: Localhost, localhostProfile:
  operator/<operator namespace>/log-enricher-trace.json}`` (the shipped logging profile, installed by the node
  agent), and the annotation ``io.containers.trace-logs/<container>``;
* kind SelinuxProfile: ``seLinuxOptions.type: selinuxrecording.process`` (the permissive recording type) and the
  annotation ``io.containers.trace-avcs/<container>``.

The annotation's value is ``<recording>_<container>_<nonce>_<unix time>`` (upstream's keys and format): the log
enricher attributes records to the recording through it. A value already there is overwritten, so a pod cannot
steer a recording into a profile of its choosing; a security context already there is overwritten too, with a
warning. Recordings are taken in name order; a container already claimed (same kind) by an earlier recording
keeps it, with a warning. Recordings being deleted are skipped.

``recorder: bpf`` (kind SeccompProfile only; SelinuxProfile with bpf is skipped): the annotation
``io.containers.trace-bpf/<container>`` alone, the container keeps its own seccomp profile (the eBPF recorder,
``spo-bpf-recorder``, counts its syscalls from the moment runc loads that profile, or from runc's exec of the
container's process when it has none).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import (
    SelectorError, containers, get_path, json_copy, security_context, selector_matches)

Obj = Dict[str, Any]

LOG_PROFILE = "log-enricher-trace"
SELINUX_RECORDING_TYPE = "selinuxrecording.process"
ANNOTATION_PREFIX = {"SeccompProfile": "io.containers.trace-logs/", "SelinuxProfile": "io.containers.trace-avcs/"}
BPF_ANNOTATION_PREFIX = "io.containers.trace-bpf/"


class Result(object):
    __slots__ = ("pod", "recorded", "warnings")

    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.recorded: Dict[str, List[str]] = {}  # recording -> container names
        self.warnings: List[str] = []


def annotation(recording: str, container: str, nonce: str, now: int) -> str:
    return "%s_%s_%s_%d" % (recording, container, nonce, now)


def log_profile_path(operator_namespace: str) -> str:
    return "operator/%s/%s.json" % (operator_namespace, LOG_PROFILE)


def mutate(pod: Mapping[str, Any], namespace: str, recordings: List[Mapping[str, Any]], operator_namespace: str,
           nonce: Callable[[], str], now: int, operation: str = "CREATE") -> Result:
    """Apply the matching ``recordings`` of ``namespace`` to ``pod`` (a copy is returned in the result)."""
    result = Result(json_copy(pod))
    spec = result.pod.get("spec")
    if operation != "CREATE" or not isinstance(spec, dict):
        return result
    meta = result.pod.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        result.pod["metadata"] = meta
    labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
    claimed: Dict[Tuple[str, str], str] = {}
    for rec in sorted((r for r in recordings if isinstance(r, Mapping)), key=lambda r: get_path(r, "metadata", "name") or ""):
        name = get_path(rec, "metadata", "name") or ""
        if get_path(rec, "metadata", "deletionTimestamp"):
            continue
        rspec = rec.get("spec") if isinstance(rec.get("spec"), Mapping) else {}
        kind, recorder = rspec.get("kind"), rspec.get("recorder") or "logs"
        if kind not in ANNOTATION_PREFIX or recorder not in ("logs", "bpf") or (
                recorder == "bpf" and kind != "SeccompProfile"):
            continue
        try:
            if not selector_matches(rspec.get("podSelector"), labels, "spec.podSelector"):
                continue
        except SelectorError as exc:
            result.warnings.append("ProfileRecording %s/%s: %s; not applied" % (namespace, name, exc))
            continue
        only = rspec.get("containers")
        wanted: Set[str] = set(only) if isinstance(only, list) and only else set()
        for _list, _index, container in containers(spec, ("initContainers", "containers")):
            cname = container.get("name")
            if not isinstance(cname, str) or (wanted and cname not in wanted):
                continue
            first = claimed.get((kind, cname))
            if first is not None:
                result.warnings.append("ProfileRecording %s/%s: container %r is already recorded by %s; not applied"
                                       % (namespace, name, cname, first))
                continue
            claimed[(kind, cname)] = name
            annotations = meta.get("annotations")
            if not isinstance(annotations, dict):
                annotations = {}
                meta["annotations"] = annotations
            result.recorded.setdefault(name, []).append(cname)
            if recorder == "bpf":  # the eBPF recorder sees the container under its own profile
                annotations[BPF_ANNOTATION_PREFIX + cname] = annotation(name, cname, nonce(), now)
                continue
            sc = security_context(container)
            if kind == "SeccompProfile":
                want = {"type": "Localhost", "localhostProfile": log_profile_path(operator_namespace)}
                if sc.get("seccompProfile") not in (None, want):
                    result.warnings.append("ProfileRecording %s/%s: the seccompProfile of container %r is replaced by "
                                           "the recording profile" % (namespace, name, cname))
                sc["seccompProfile"] = want
            else:
                opts = sc.get("seLinuxOptions") if isinstance(sc.get("seLinuxOptions"), dict) else {}
                if opts.get("type") not in (None, SELINUX_RECORDING_TYPE):
                    result.warnings.append("ProfileRecording %s/%s: the seLinuxOptions.type of container %r is replaced "
                                           "by the recording type" % (namespace, name, cname))
                opts["type"] = SELINUX_RECORDING_TYPE
                sc["seLinuxOptions"] = opts
            annotations[ANNOTATION_PREFIX[kind] + cname] = annotation(name, cname, nonce(), now)
    return result
