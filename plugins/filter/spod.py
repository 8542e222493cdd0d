# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters spod_daemonset and spod_state (docs: spod_daemonset.yml, spod_state.yml)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod
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


class FilterModule(object):
    """SPOD filters."""

    def filters(self):
        return {"spod_daemonset": spod_daemonset, "spod_state": spod_state}
