# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter seccomp_json: a SeccompProfile object -> its OCI seccomp object (docs: seccomp_json.yml)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import to_oci
from ansible_collections.spo.security_profiles.plugins.plugin_utils.seccomp_shipped import shipped_profiles


def seccomp_json(profile: Dict[str, Any], others: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """Validate ``profile`` and return the OCI seccomp object (bases from ``others`` or the shipped ones)."""
    if others is not None and not isinstance(others, list):
        raise AnsibleFilterError("seccomp_json: the second argument must be a list of SeccompProfile objects")
    try:
        return to_oci(profile, others or [], shipped_profiles())
    except SpoError as exc:
        raise AnsibleFilterError("seccomp_json: %s" % exc)


class FilterModule(object):
    """SeccompProfile filters."""

    def filters(self):
        return {"seccomp_json": seccomp_json}
