# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ProfileBinding's status read and written in one process: the profilebinding role's one task.

:func:`read_inputs` makes the three reads the status needs (the bound profile, the pods of the binding's namespace,
the namespace's labels), :func:`sync` computes the status with :mod:`bindingstatus` (pure) and writes it with
:mod:`operator.k8s_status` (a merge of ``activeWorkloads`` and the two conditions, written only when they change).
One module run instead of four (three ``k8s_info`` and a status write) per reconcile: each Ansible module run is a
process that imports its client, and a binding is reconciled every ``reconcilePeriod``.

Every name in a request path comes from the tenant's object and is sent percent-encoded: a profile name holding
``/`` or ``..`` names no other resource.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import quote

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import KubeError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import k8s_status
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import binding as bindingmod
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import bindingstatus
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import get_path

Obj = Dict[str, Any]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _get_or_none(kube: Any, path: str, what: str) -> Optional[Obj]:
    try:
        found = kube.get(path)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise SpoError("cannot read %s: %s" % (what, exc.message or exc))
    return found if isinstance(found, dict) else None


def read_inputs(kube: Any, binding: Mapping[str, Any]) -> Tuple[Optional[Obj], List[Obj], Dict[str, str]]:
    """``(profile or None, pods of the namespace, the namespace's labels)`` of ``binding``."""
    namespace = get_path(binding, "metadata", "namespace")
    if not isinstance(namespace, str) or not namespace:
        raise SpoError("a ProfileBinding is namespaced: metadata.namespace is missing", field="metadata.namespace")
    _name, kind, profile_name, _image = bindingmod.binding_ref(binding)
    profile = None
    if kind in bindingmod.KINDS and profile_name:
        served = api.kind(kind)
        profile = _get_or_none(kube, "/apis/%s/%s/namespaces/%s/%s/%s" % (
            api.GROUP, served.version, _segment(namespace), served.plural, _segment(profile_name)),
            "%s %s/%s" % (kind, namespace, profile_name))
    try:
        listed = kube.list("/api/v1/namespaces/%s/pods" % _segment(namespace))
    except KubeError as exc:
        raise SpoError("cannot list the pods of namespace %s: %s" % (namespace, exc.message or exc))
    pods = [pod for pod in (listed or {}).get("items") or [] if isinstance(pod, dict)]
    ns_obj = _get_or_none(kube, "/api/v1/namespaces/%s" % _segment(namespace), "namespace %s" % namespace)
    labels = get_path(ns_obj, "metadata", "labels") if ns_obj else None
    return profile, pods, dict(labels) if isinstance(labels, Mapping) else {}


def sync(kube: Any, binding: Mapping[str, Any], check_mode: bool = False) -> Obj:
    """Compute and write ``binding``'s status; :func:`k8s_status.apply`'s outcome plus the computed ``status``."""
    where = "ProfileBinding %s/%s" % (get_path(binding, "metadata", "namespace"), get_path(binding, "metadata", "name"))
    try:
        profile, pods, labels = read_inputs(kube, binding)
    except SpoError as exc:
        raise SpoError(exc.message, obj=where, field=exc.field) from None
    computed = bindingstatus.status(binding, profile, pods, labels)
    outcome = k8s_status.apply(kube, api.PROFILE_BINDING.api_version, api.PROFILE_BINDING.kind,
                               str(get_path(binding, "metadata", "name")), str(get_path(binding, "metadata", "namespace")),
                               {"activeWorkloads": computed["activeWorkloads"]}, computed["conditions"],
                               check_mode=check_mode)
    outcome["status"] = computed
    return outcome
