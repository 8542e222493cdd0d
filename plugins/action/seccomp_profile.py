# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of seccomp_profile: ``src`` YAML and the shipped base profiles, on the controller."""
from __future__ import annotations

from ansible_collections.spo.security_profiles.plugins.plugin_utils.seccomp_shipped import shipped_profiles
from ansible_collections.spo.security_profiles.plugins.plugin_utils.src_action import SrcActionModule, as_json_text


class ActionModule(SrcActionModule):
    """Adds the collection's shipped profiles to ``base_profiles``, then runs the module."""

    def run(self, tmp=None, task_vars=None):
        extra = self._task.args.get("base_profiles")
        bases = list(extra) if isinstance(extra, list) else ([] if extra is None else [extra])
        args = dict(self._task.args)
        args["base_profiles"] = as_json_text(bases + shipped_profiles())
        self._task.args = args
        return super(ActionModule, self).run(tmp, task_vars)
