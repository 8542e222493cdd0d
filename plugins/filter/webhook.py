# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters webhook_plan and webhook_binding_status (docs: webhook_plan.yml, webhook_binding_status.yml)."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import bindingstatus, certs, manifests


def _data(secret: Any) -> Optional[Mapping[str, Any]]:
    if isinstance(secret, list):
        secret = secret[0] if secret else None
    return (secret or {}).get("data") if isinstance(secret, Mapping) else None


def webhook_plan(spod: Dict[str, Any], image: str, apis: Optional[Mapping[str, Any]] = None, ca_secret: Any = None,
                 cert_secret: Any = None, tls: bool = True) -> Dict[str, Any]:
    """What the spod role applies for the webhook server (see webhook_plan.yml); ``tls=False``: without the
    certificates (no private key in the result: the SPOD's settings checked where errors may be shown)."""
    try:
        settings = manifests.Settings(spod)
        provider = manifests.cert_provider(apis)
        plan: Dict[str, Any] = {"static": settings.static, "provider": provider, "secrets": [], "rotated": [],
                                "namespace": settings.namespace, "deployment": manifests.NAME}
        bundle = ""
        if provider == manifests.OWN_CA and tls:
            made = certs.ensure(_data(ca_secret), _data(cert_secret), manifests.NAME, settings.namespace)
            plan["secrets"] = manifests.tls_secrets(spod, made)
            plan["rotated"] = made["rotated"]
            plan["not_after"] = made["not_after"]
            bundle = made["ca_bundle"]
        plan["objects"] = manifests.objects(spod, image, provider)
        plan["configuration"] = manifests.webhook_configuration(spod, bundle, provider)
        return plan
    except SpoError as exc:
        raise AnsibleFilterError("webhook_plan: %s" % exc)


def webhook_binding_status(binding: Dict[str, Any], profile: Any = None, pods: Optional[List[Dict[str, Any]]] = None,
                           namespace: Any = None) -> Dict[str, Any]:
    """A ProfileBinding's activeWorkloads and conditions (see webhook_binding_status.yml)."""
    if isinstance(profile, list):
        profile = profile[0] if profile else None
    if isinstance(namespace, list):
        namespace = namespace[0] if namespace else None
    labels = ((namespace or {}).get("metadata") or {}).get("labels") if isinstance(namespace, Mapping) else None
    try:
        return bindingstatus.status(binding, profile or None, list(pods or []), labels)
    except SpoError as exc:
        raise AnsibleFilterError("webhook_binding_status: %s" % exc)


class FilterModule(object):
    """Webhook filters."""

    def filters(self):
        return {"webhook_plan": webhook_plan, "webhook_binding_status": webhook_binding_status}
