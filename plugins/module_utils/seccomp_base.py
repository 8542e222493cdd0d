# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``spec.baseProfileName``: union a profile's rules with its base's, recursively.

The base is a SeccompProfile of the same namespace given in the same call,
or else a profile shipped with the collection (matched by name, whatever
its namespace).  The profile's own rules win: every syscall name the
profile mentions in any of its rules is taken out of the base's rules.
The base's defaultAction, architectures and flags are not inherited.
Chains are followed to MAX_DEPTH levels; a cycle is an error listing it.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp_model import SeccompProfile, SyscallRule

MAX_DEPTH = 10

Lookup = Callable[[str, str], Optional[SeccompProfile]]


class BaseResolver(object):
    """Effective rules of profiles, memoised per profile (bases are shared by many)."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self._memo: Dict[Tuple[str, str], List[SyscallRule]] = {}

    def chain(self, profile: SeccompProfile) -> List[SeccompProfile]:
        """``[profile, base, base of base, ...]``; raises on a missing base, a cycle or too deep a chain."""
        chain = [profile]
        current = profile
        while current.base_profile_name:
            base = self.lookup(current.namespace, current.base_profile_name)
            if base is None:
                where = "" if current is profile else " (base of %s/%s)" % (current.namespace, current.name)
                raise SpoError("base profile %r%s not found: it must be a SeccompProfile of namespace %s given in the "
                               "same call, or a profile shipped with the collection"
                               % (current.base_profile_name, where, current.namespace),
                               profile.ref, "spec.baseProfileName")
            if any(base is seen or base.key == seen.key for seen in chain):
                names = " -> ".join("%s/%s" % item.key for item in chain + [base])
                raise SpoError("baseProfileName cycle: %s" % names, profile.ref, "spec.baseProfileName")
            chain.append(base)
            current = base
            if len(chain) - 1 > MAX_DEPTH:
                raise SpoError("baseProfileName chain deeper than %d: %s"
                               % (MAX_DEPTH, " -> ".join("%s/%s" % item.key for item in chain)),
                               profile.ref, "spec.baseProfileName")
        return chain

    def inherited(self, profile: SeccompProfile) -> List[SyscallRule]:
        """Rules ``profile`` gets from its bases (own names already taken out)."""
        chain = self.chain(profile)
        if len(chain) == 1:
            return []
        return _without(self._effective(chain[1:]), _names(profile.syscalls))

    def _effective(self, chain: List[SeccompProfile]) -> List[SyscallRule]:
        head = chain[0]
        memo = self._memo.get(head.key)
        if memo is not None:
            return memo
        rules = list(head.syscalls)
        if len(chain) > 1:
            rules.extend(_without(self._effective(chain[1:]), _names(head.syscalls)))
        self._memo[head.key] = rules
        return rules


def _names(rules: List[SyscallRule]) -> set:
    return {name for rule in rules for name in rule.names}


def _without(rules: List[SyscallRule], names: set) -> List[SyscallRule]:
    if not names:
        return list(rules)
    result = []
    for rule in rules:
        kept = [name for name in rule.names if name not in names]
        if len(kept) == len(rule.names):
            result.append(rule)
        elif kept:
            result.append(SyscallRule(kept, rule.action, rule.errno_ret, rule.args, rule.field))
    return result
