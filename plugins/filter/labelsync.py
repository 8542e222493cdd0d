# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters labelsync_deployment and labelsync_settings (docs: labelsync_deployment.yml, labelsync_settings.yml)."""
from __future__ import annotations

from typing import Any, Dict

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment as ls


def labelsync_deployment(obj: Dict[str, Any], image: str = ls.DEFAULT_IMAGE) -> Dict[str, Any]:
    """The label sync Deployment a SecurityProfilesOperatorDaemon object asks for."""
    try:
        return ls.deployment(obj, image or ls.DEFAULT_IMAGE)
    except SpoError as exc:
        raise AnsibleFilterError("labelsync_deployment: %s" % exc)


def labelsync_settings(obj: Dict[str, Any]) -> Dict[str, Any]:
    """The SPOD's spec.podSecurityLabelSync, validated, with defaults."""
    try:
        found = ls.settings(obj)
    except SpoError as exc:
        raise AnsibleFilterError("labelsync_settings: %s" % exc)
    return {"enable": found.enable, "report_only": found.report_only, "source": found.source}


class FilterModule(object):
    """Label sync filters."""

    def filters(self):
        return {"labelsync_deployment": labelsync_deployment, "labelsync_settings": labelsync_settings}
