# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters labelsync_deployment, labelsync_settings and labelsync_guard (docs: labelsync_*.yml)."""
from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment as ls
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import guard


def labelsync_deployment(obj: Dict[str, Any], image: str = ls.DEFAULT_IMAGE, dry_run: bool = True) -> Dict[str, Any]:
    """The label sync Deployment a SecurityProfilesOperatorDaemon object asks for."""
    try:
        return ls.deployment(obj, image or ls.DEFAULT_IMAGE, dry_run)
    except SpoError as exc:
        raise AnsibleFilterError("labelsync_deployment: %s" % exc)


def labelsync_settings(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The SPOD's spec.podSecurityLabelSync, validated, with defaults."""
    try:
        found = ls.settings(obj)
    except SpoError as exc:
        raise AnsibleFilterError("labelsync_settings: %s" % exc)
    return {"enable": found.enable, "report_only": found.report_only, "source": found.source}


def labelsync_guard(obj: Dict[str, Any], served: bool) -> Dict[str, Any]:
    """The admission policy and binding that limit the label sync's pod creates to dry runs (in the SPOD's
    namespace's terms), whether dry runs may be used (``served``: the API serves the policy kind) and the
    SPOD condition saying so."""
    if not isinstance(served, bool):
        raise AnsibleFilterError("labelsync_guard: served must be true or false, got %r" % (served,))
    try:
        namespace = ((obj or {}).get("metadata") or {}).get("namespace")
        return {"objects": guard.objects(namespace), "dry_run": served, "condition": guard.condition(served)}
    except SpoError as exc:
        raise AnsibleFilterError("labelsync_guard: %s" % exc)


class FilterModule(object):
    """Label sync filters."""

    def filters(self):
        return {"labelsync_deployment": labelsync_deployment, "labelsync_settings": labelsync_settings,
                "labelsync_guard": labelsync_guard}
