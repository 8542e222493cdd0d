# -*- coding: utf-8 -*-
"""The roles' filters take markUnsafe values: ansible-core before 2.19 hands a role every string of the watched
object as ``AnsibleUnsafeText`` (a ``str`` subclass marked ``__UNSAFE__``) under upstream's ansible-operator; 2.19
hands plain strings. The filters give the same result for both."""
from __future__ import annotations

import copy
import os
from typing import Any

import yaml

from ansible_collections.spo.security_profiles.plugins.filter import labelsync, spod, webhook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Unsafe(str):
    """What ansible-core < 2.19 makes of ``{"__ansible_unsafe": ...}``."""
    __UNSAFE__ = True


def unsafe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unsafe(v) for v in value]
    if isinstance(value, str):
        return Unsafe(value)
    return value


def fixture(name: str) -> Any:
    with open(os.path.join(ROOT, "tests", "unit", "fixtures", name)) as handle:
        return yaml.safe_load(handle)


def test_spod_filters_take_unsafe_values():
    for name in ("spod-flat.yaml", "spod-grouped.yaml"):
        obj = fixture(name)
        wrapped = unsafe(copy.deepcopy(obj))
        assert spod.spod_daemonset(wrapped, "img:1", "/var/lib/kubelet") == spod.spod_daemonset(obj, "img:1", "/var/lib/kubelet")
        assert labelsync.labelsync_settings(wrapped) == labelsync.labelsync_settings(obj)
        assert labelsync.labelsync_deployment(wrapped, "img:1") == labelsync.labelsync_deployment(obj, "img:1")
        plain = webhook.webhook_plan(obj, "img:1", {}, tls=False)
        assert webhook.webhook_plan(wrapped, "img:1", {}, tls=False) == plain


def test_binding_status_takes_unsafe_values():
    binding = fixture("spec-profilebinding.yaml")
    binding["metadata"].setdefault("namespace", "tenant")
    profile = {"apiVersion": "security-profiles-operator.x-k8s.io/v1beta1", "kind": "SeccompProfile",
               "metadata": {"name": binding["spec"]["profileRef"]["name"], "namespace": "tenant"},
               "status": {"status": "Installed"}}
    pods = [{"metadata": {"name": "p", "namespace": "tenant", "annotations": {"a": "{{ 7*7 }}"}},
             "spec": {"containers": [{"name": "c", "image": binding["spec"]["image"]}]}, "status": {"phase": "Running"}}]
    namespace = {"metadata": {"name": "tenant", "labels": {"x": "y"}}}
    plain = webhook.webhook_binding_status(binding, [profile], pods, [namespace])
    wrapped = webhook.webhook_binding_status(unsafe(binding), unsafe([profile]), unsafe(pods), unsafe([namespace]))
    assert wrapped == plain and plain["conditions"]
