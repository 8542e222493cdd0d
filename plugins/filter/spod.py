# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters spod_daemonset, spod_state, spod_field_report, spod_account_uids and spod_account_stamped (docs: one
.yml file each beside this one)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import accounts, spod, spodfields
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


def spod_account_uids(results: Any) -> Dict[str, str]:
    """The results of k8s_info reads of ServiceAccounts (a loop's results, or one read) -> {name: uid}."""
    if isinstance(results, dict):
        results = [results]
    if not isinstance(results, list):
        raise AnsibleFilterError("spod_account_uids: expected the results of k8s_info reads")
    found = [obj for result in results if isinstance(result, dict) for obj in result.get("resources") or []]
    return accounts.account_uids(found)


def spod_account_stamped(obj: Dict[str, Any], uids: Dict[str, str]) -> Dict[str, Any]:
    """A DaemonSet or Deployment with the uid of its service account on its pod template; other objects as they are."""
    if not isinstance(obj, dict) or not isinstance(uids, dict):
        raise AnsibleFilterError("spod_account_stamped: expected an object and a {name: uid} mapping")
    return accounts.stamped(obj, uids)


class FilterModule(object):
    """SPOD filters."""

    def filters(self):
        return {"spod_daemonset": spod_daemonset, "spod_state": spod_state, "spod_field_report": spod_field_report,
                "spod_account_uids": spod_account_uids, "spod_account_stamped": spod_account_stamped}
