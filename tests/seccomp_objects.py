# -*- coding: utf-8 -*-
"""Builders of SeccompProfile objects shared by the seccomp tests."""
from __future__ import annotations

API = "security-profiles-operator.x-k8s.io/v1beta1"


def profile(name="p", namespace="ns", **spec):
    spec.setdefault("defaultAction", "SCMP_ACT_ERRNO")
    return {"apiVersion": API, "kind": "SeccompProfile", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def allow(*names, **extra):
    rule = {"action": "SCMP_ACT_ALLOW", "names": list(names)}
    rule.update(extra)
    return rule
