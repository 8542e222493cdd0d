# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OCI runtime-spec seccomp object (what runc, crun and CRI-O read).

Output is canonical, so the same profile always gives the same bytes:
rules with the same action, errnoRet and argument comparisons are merged,
names are sorted and de-duplicated, rules are sorted, architectures and
flags are sorted, and :func:`dumps` fixes key order, separators and the
trailing newline.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import SeccompProfile, SyscallRule

RuleKey = Tuple[str, int, Tuple[Tuple[int, int, int, str], ...]]


def canonical_rules(rules: List[SyscallRule]) -> List[Dict[str, Any]]:
    """Merge and sort rules into OCI ``syscalls`` entries."""
    groups: Dict[RuleKey, set] = {}
    for rule in rules:
        key = (rule.action, -1 if rule.errno_ret is None else rule.errno_ret, tuple(sorted(arg.key() for arg in rule.args)))
        groups.setdefault(key, set()).update(rule.names)
    result = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2], sorted(groups[k]))):
        action, errno_ret, args = key
        entry: Dict[str, Any] = {"names": sorted(groups[key]), "action": action}
        if errno_ret >= 0:
            entry["errnoRet"] = errno_ret
        if args:
            entry["args"] = [{"index": i, "value": v, "valueTwo": v2, "op": op} for i, v, v2, op in args]
        result.append(entry)
    return result


def render(profile: SeccompProfile, rules: List[SyscallRule]) -> Dict[str, Any]:
    """The OCI seccomp object of ``profile`` with the effective ``rules`` (own + inherited)."""
    oci: Dict[str, Any] = {"defaultAction": profile.default_action}
    if profile.default_errno_ret is not None:
        oci["defaultErrnoRet"] = profile.default_errno_ret
    if profile.architectures:
        oci["architectures"] = sorted(profile.architectures)
    if profile.flags:
        oci["flags"] = sorted(profile.flags)
    if profile.listener_path is not None:
        oci["listenerPath"] = profile.listener_path
    if profile.listener_metadata is not None:
        oci["listenerMetadata"] = profile.listener_metadata
    oci["syscalls"] = canonical_rules(rules)
    return oci


def dumps(oci: Dict[str, Any]) -> bytes:
    """Identical bytes for identical input: sorted keys, fixed separators, trailing newline."""
    return (json.dumps(oci, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n").encode("ascii")
