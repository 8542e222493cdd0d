# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter api_version (docs: api_version.yml): the API's names for roles, from module_utils/api.py."""
from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils import api


def api_version(kind: str) -> str:
    """``apiVersion`` of a kind of the security-profiles-operator API."""
    try:
        return api.api_version(kind)
    except KeyError as exc:
        raise AnsibleFilterError("api_version: %s" % exc.args[0])


class FilterModule:
    def filters(self):
        return {"api_version": api_version}
