# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Translate validated SELinux profiles (module_utils/selinux/model.py) into CIL text.

Output is deterministic: same profile, same bytes (inherits in the given
order, allow rules sorted by type then class, permissions sorted), so the
store's module checksum tells whether anything changed.
"""
from __future__ import annotations

from typing import Any, List

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.model import (
    KIND, SELF, Profile, RawSelinuxProfile, SelinuxProfile, policy_name)


def _type(name: str, profile: SelinuxProfile) -> str:
    """@self is the profile's own usage type, named in full (upstream): in a parent it stays the
    parent's type when a child inherits the block, where a bare ``process`` would become the child's."""
    return profile.usage if name == SELF else name


def selinux_profile_cil(profile: SelinuxProfile) -> str:
    lines = ["; %s (spo.security_profiles)" % profile.ref, "(block %s" % profile.policy_name]
    for entry in profile.inherit:
        parent = policy_name(entry.name, profile.namespace) if entry.kind == KIND else entry.name
        lines.append("    (blockinherit %s)" % parent)
    if profile.permissive:
        lines.append("    (typepermissive process)")
    for tname in sorted(profile.allow):
        for cname in sorted(profile.allow[tname]):
            perms = " ".join(sorted(profile.allow[tname][cname]))
            lines.append("    (allow process %s (%s (%s)))" % (_type(tname, profile), cname, perms))
    lines.append(")")
    return "\n".join(lines) + "\n"


def render_tree(node: Any) -> str:
    if isinstance(node, list):
        return "(" + " ".join(render_tree(child) for child in node) + ")"
    return node


def raw_profile_cil(profile: RawSelinuxProfile) -> str:
    lines: List[str] = ["; %s (spo.security_profiles)" % profile.ref, "(block %s" % profile.policy_name]
    lines.extend("    " + render_tree(stmt) for stmt in profile.statements)
    lines.append(")")
    return "\n".join(lines) + "\n"


def profile_cil(profile: Profile) -> str:
    """CIL module text of a validated profile."""
    if isinstance(profile, RawSelinuxProfile):
        return raw_profile_cil(profile)
    return selinux_profile_cil(profile)
