# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters seccomp_default_use_crio and seccomp_default_loaded_units (docs: their .yml files)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import default as seccomp_default
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def seccomp_default_use_crio(setting: Any, crio_dir_exists: bool = False) -> bool:
    """Whether the CRI-O drop-in is wanted."""
    try:
        return seccomp_default.use_crio(setting, crio_dir_exists)
    except SpoError as exc:
        raise AnsibleFilterError("seccomp_default_use_crio: %s" % exc)


def seccomp_default_loaded_units(results: Optional[List[Dict[str, Any]]]) -> List[str]:
    """The units systemd has loaded, from a looped systemctl show."""
    return seccomp_default.loaded_units(results or [])


class FilterModule(object):
    """seccomp_default role filters."""

    def filters(self):
        return {"seccomp_default_use_crio": seccomp_default_use_crio,
                "seccomp_default_loaded_units": seccomp_default_loaded_units}
