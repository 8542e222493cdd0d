# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ProfileBinding's status, for the profilebinding role (pure).

* ``activeWorkloads``: ``<namespace>/<pod>`` of the pods of the binding's namespace that are not finished or being
  deleted and run with the bound profile where the binding puts it (a matching container, or the pod level for
  ``image: "*"``), sorted.
* Condition ``Ready``: True (``ProfileInstalled``) when the profile exists and is Installed; False with reason
  ``ProfileNotFound`` (pods are admitted without it), ``ProfileDeleting``, ``ProfileNotInstalled`` (its status,
  and that bound pods start once their node has it) or ``InvalidBinding``.
* Condition ``PodSecurityBaseline``: False (``ViolatesBaseline``) when a pod bound this way would not pass the
  ``baseline`` Pod Security level (a custom SELinux type does not: PSS's seLinuxOptions check), with the API
  server's own message from ``pss``; and saying so when the namespace enforces baseline or restricted (its pods
  would be refused). True (``Baseline``) otherwise.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.pss import evaluate
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import binding as bindingmod
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import get_path

Obj = Dict[str, Any]
ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"


def _condition(ctype: str, ok: bool, reason: str, message: str) -> Obj:
    return {"type": ctype, "status": "True" if ok else "False", "reason": reason, "message": message}


def sample_pod(binding: Mapping[str, Any], profile: Optional[Mapping[str, Any]]) -> Obj:
    """A pod of the binding's image as the binding webhook leaves it (for the Pod Security check)."""
    _name, kind, profile_name, image = bindingmod.binding_ref(binding)
    namespace = get_path(binding, "metadata", "namespace") or ""
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bound", "namespace": namespace},
                "spec": {"containers": [{"name": "bound", "image": "image" if image == bindingmod.ALL_IMAGES else image}]}}
    result = bindingmod.mutate(pod, namespace, [binding], lambda k, n, p: profile or {}, "CREATE")
    del kind, profile_name
    return result.pod


def status(binding: Mapping[str, Any], profile: Optional[Mapping[str, Any]], pods: List[Mapping[str, Any]],
           namespace_labels: Optional[Mapping[str, str]] = None, version: str = "latest") -> Obj:
    """``{"activeWorkloads": [...], "conditions": [Ready, PodSecurityBaseline]}`` of ``binding``."""
    name, kind, profile_name, image = bindingmod.binding_ref(binding)
    namespace = get_path(binding, "metadata", "namespace") or ""
    ref = "%s %s/%s" % (kind or "profile", namespace, profile_name)
    conditions: List[Obj] = []
    if kind not in bindingmod.KINDS or not profile_name or not image:
        conditions.append(_condition("Ready", False, "InvalidBinding",
                                     "spec.profileRef must name a SeccompProfile or SelinuxProfile and spec.image "
                                     "must be set"))
        return {"activeWorkloads": [], "conditions": conditions}
    state = get_path(profile, "status", "status") or ""
    if profile is None:
        conditions.append(_condition("Ready", False, "ProfileNotFound", "%s does not exist: pods are admitted "
                                     "without it until it does" % ref))
    elif get_path(profile, "metadata", "deletionTimestamp"):
        conditions.append(_condition("Ready", False, "ProfileDeleting", "%s is being deleted: new pods are admitted "
                                     "without it" % ref))
    elif state != "Installed":
        conditions.append(_condition("Ready", False, "ProfileNotInstalled", "%s is %s, not Installed: bound pods "
                                     "start once their node has it" % (ref, state or "not reported yet")))
    else:
        target = "every pod without a specific binding (pod level)" if image == bindingmod.ALL_IMAGES else \
            "containers of image %s" % image
        conditions.append(_condition("Ready", True, "ProfileInstalled", "%s is installed and bound to %s"
                                     % (ref, target)))
    if profile is not None or kind == bindingmod.SELINUX:
        verdict = evaluate.evaluate(sample_pod(binding, profile), "baseline", version)
        if verdict.violations:
            enforce = (namespace_labels or {}).get(ENFORCE_LABEL)
            refused = (" (namespace %s enforces %s: its pods bound this way are refused)" % (namespace, enforce)
                       if enforce in ("baseline", "restricted") else "")
            conditions.append(_condition("PodSecurityBaseline", False, "ViolatesBaseline",
                                         "pods bound by %s %s%s" % (name, verdict.warning, refused)))
        else:
            conditions.append(_condition("PodSecurityBaseline", True, "Baseline",
                                         "pods bound by %s stay within the baseline Pod Security level" % name))
    active = []
    for pod in pods:
        if not isinstance(pod, Mapping):
            continue
        if get_path(pod, "metadata", "deletionTimestamp") or get_path(pod, "status", "phase") in ("Succeeded", "Failed"):
            continue
        if bindingmod.bound_pod(binding, pod, profile):
            active.append("%s/%s" % (get_path(pod, "metadata", "namespace") or namespace, get_path(pod, "metadata", "name")))
    return {"activeWorkloads": sorted(set(active)), "conditions": conditions}
