# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The label sync's Deployment, built from the SPOD's ``spec.podSecurityLabelSync`` (pure; roles/spod
applies what :func:`deployment` returns, or removes the Deployment when :func:`settings` says off).

``spec.podSecurityLabelSync``: ``enable`` (bool, default false), ``reportOnly`` (bool, default false),
``source`` (auto | workloads | scc, default auto).  One replica, ``Recreate`` (two controllers at
once would only duplicate events), service account ``spo-label-sync`` (config/rbac), the pod
restricted (non-root, RuntimeDefault seccomp, no capabilities, read-only root), probes on /healthz
and /readyz (ready after the first list of every cache).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, NamedTuple

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spod import DEFAULT_IMAGE, owner_references, spod_ref
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

NAME = "spo-label-sync"
SERVICE_ACCOUNT = "spo-label-sync"
HEALTH_PORT = 8086
FIELD = "spec.podSecurityLabelSync"
_SOURCES = ("auto", "workloads", "scc")


class Settings(NamedTuple):
    enable: bool
    report_only: bool
    source: str


def settings(spod: Mapping[str, Any]) -> Settings:
    """The SPOD's label sync settings, validated (errors name the SPOD and the field)."""
    ref = spod_ref(spod)
    spec = spod.get("spec") or {}
    if not isinstance(spec, dict):
        raise SpoError("must be an object", ref, "spec")
    value = spec.get("podSecurityLabelSync")
    if value is None:
        return Settings(False, False, "auto")
    if not isinstance(value, dict):
        raise SpoError("must be an object", ref, FIELD)
    unknown = sorted(set(value) - {"enable", "reportOnly", "source"})
    if unknown:
        raise SpoError("unknown field(s) %s (known: enable, reportOnly, source)" % ", ".join(unknown), ref, FIELD)
    flags = {}
    for key in ("enable", "reportOnly"):
        flag = value.get(key, False)
        if flag is None:
            flag = False
        if not isinstance(flag, bool):
            raise SpoError("must be true or false, got %r" % (flag,), ref, "%s.%s" % (FIELD, key))
        flags[key] = flag
    source = value.get("source") or "auto"
    if source not in _SOURCES:
        raise SpoError("must be one of %s, got %r" % (", ".join(_SOURCES), source), ref, FIELD + ".source")
    return Settings(flags["enable"], flags["reportOnly"], source)


def deployment(spod: Mapping[str, Any], image: str = DEFAULT_IMAGE, dry_run: bool = True) -> Dict[str, Any]:
    """The Deployment ``spo-label-sync`` in the SPOD's namespace (built even when disabled: the role
    then removes it by name).  ``dry_run`` false (no admission policy limits its creates to dry runs,
    see ``guard``): the controller runs with ``--no-dry-run``."""
    ref = spod_ref(spod)
    if not isinstance(image, str) or not image:
        raise SpoError("the image must be a non-empty string", ref)
    if not isinstance(dry_run, bool):
        raise SpoError("dry_run must be true or false, got %r" % (dry_run,), ref)
    wanted = settings(spod)
    meta = spod.get("metadata") or {}
    namespace = meta.get("namespace")
    if not namespace:
        raise SpoError("must be set", ref, "metadata.namespace")
    labels = {"app": "security-profiles-operator", "name": NAME}
    owner = owner_references(spod)
    probe = {"httpGet": {"path": "/healthz", "port": HEALTH_PORT}, "periodSeconds": 10, "failureThreshold": 6}
    container = {
        "name": "label-sync", "image": image, "imagePullPolicy": "IfNotPresent",
        "command": ["spo-label-sync"],
        "args": ["--health-port", str(HEALTH_PORT)] + ([] if dry_run else ["--no-dry-run"]),
        "env": [{"name": "LABEL_SYNC_SOURCE", "value": wanted.source},
                {"name": "LABEL_SYNC_REPORT_ONLY", "value": "true" if wanted.report_only else "false"}],
        "ports": [{"name": "health", "containerPort": HEALTH_PORT}],
        "livenessProbe": probe,
        "readinessProbe": dict(probe, httpGet={"path": "/readyz", "port": HEALTH_PORT}, periodSeconds=5),
        "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(labels),
                     **({"ownerReferences": owner} if owner else {})},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "terminationGracePeriodSeconds": 10,
                    "containers": [container],
                },
            },
        },
    }
