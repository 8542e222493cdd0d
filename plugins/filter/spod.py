# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters spod_daemonset, spod_state and spod_field_report (docs: spod_daemonset.yml, spod_state.yml,
spod_field_report.yml)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod, spodfields
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def spod_daemonset(obj: Dict[str, Any], image: str = spod.DEFAULT_IMAGE,
                   kubelet_dir: str = spod.DEFAULT_KUBELET_DIR) -> Dict[str, Any]:
    """The DaemonSet a SecurityProfilesOperatorDaemon object asks for."""
    try:
        return spod.daemonset(obj, image or spod.DEFAULT_IMAGE, kubelet_dir or spod.DEFAULT_KUBELET_DIR)
    except SpoError as exc:
        raise AnsibleFilterError("spod_daemonset: %s" % exc)


def spod_state(daemonset: Optional[Dict[str, Any]], previous: Optional[str] = None,
               desired: Optional[Dict[str, Any]] = None) -> str:
    """The SPOD's status.state from its DaemonSet (None or {} when there is none).

    With ``desired`` (the DaemonSet about to be applied): the state to report while it is applied.
    """
    if desired:
        return spod.state_before_apply(daemonset or None, desired, previous)
    return spod.state(daemonset or None, previous)


def spod_field_report(obj: Dict[str, Any], apparmor: Optional[bool] = None) -> Dict[str, Any]:
    """The SPOD fields set that this edition does not honour: the condition NotHonoured and one Event each.

    ``apparmor``: whether the node's kernel runs AppArmor; by default this node's sysfs tells.
    """
    if not isinstance(obj, dict):
        raise AnsibleFilterError("spod_field_report: the SPOD must be an object")
    if apparmor is None:
        apparmor = spodfields.apparmor_enabled()
    return spodfields.field_report(obj, spodfields.Facts(apparmor=bool(apparmor)))


class FilterModule(object):
    """SPOD filters."""

    def filters(self):
        return {"spod_daemonset": spod_daemonset, "spod_state": spod_state, "spod_field_report": spod_field_report}
