# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of pod_security_check: ``src`` YAML is read here (see plugin_utils/src_action.py)."""
from __future__ import annotations

from ansible_collections.spo.security_profiles.plugins.plugin_utils.src_action import SrcActionModule


class ActionModule(SrcActionModule):
    pass
