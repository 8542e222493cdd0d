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
        """Rules ``profile`` gets from its bases, after the union with its own rules (see :func:`union`)."""
        return self.effective(profile)[1]

    def effective(self, profile: SeccompProfile) -> Tuple[List[SyscallRule], List[SyscallRule]]:
        """(own rules kept, base rules kept): the union of ``profile``'s rules with its bases' rules."""
        chain = self.chain(profile)
        if len(chain) == 1:
            return list(profile.syscalls), []
        return union(profile.syscalls, self._effective(chain[1:]))

    def _effective(self, chain: List[SeccompProfile]) -> List[SyscallRule]:
        head = chain[0]
        memo = self._memo.get(head.key)
        if memo is not None:
            return memo
        rules = list(head.syscalls)
        if len(chain) > 1:
            own, base = union(head.syscalls, self._effective(chain[1:]))
            rules = own + base
        self._memo[head.key] = rules
        return rules


# How much an action lets a call do, most permissive first (upstream's union keeps the less
# restrictive action when a profile and its base disagree).
_PERMISSIVENESS = {"SCMP_ACT_ALLOW": 0, "SCMP_ACT_LOG": 1, "SCMP_ACT_NOTIFY": 2, "SCMP_ACT_TRACE": 3,
                   "SCMP_ACT_ERRNO": 4, "SCMP_ACT_TRAP": 5, "SCMP_ACT_KILL_THREAD": 6, "SCMP_ACT_KILL": 6,
                   "SCMP_ACT_KILL_PROCESS": 7}


def _strictness(rule: SyscallRule) -> int:
    return _PERMISSIVENESS.get(rule.action, 8)


def _unconditional(rules: List[SyscallRule]) -> Dict[str, int]:
    """Per name, the least restrictive unconditional action of ``rules``."""
    found: Dict[str, int] = {}
    for rule in rules:
        if not rule.args:
            level = _strictness(rule)
            for name in rule.names:
                if level < found.get(name, 99):
                    found[name] = level
    return found


def union(own: List[SyscallRule], base: List[SyscallRule]) -> Tuple[List[SyscallRule], List[SyscallRule]]:
    """The rules of a profile unioned with those of its base: it allows at least what the base allows.

    * every rule of both is kept, argument rules included (several per syscall);
    * where both give a syscall an unconditional action and the actions differ, the less
      restrictive one is kept (on a tie, the profile's own);
    * a rule with arguments that is at least as restrictive as an unconditional rule of the
      other side for the same syscall is dropped: the runtime lets the unconditional rule decide
      (a base allowing ``clone`` keeps allowing it, whatever condition the profile adds).
    """
    own_levels, base_levels = _unconditional(own), _unconditional(base)

    def keep(rules: List[SyscallRule], mine: Dict[str, int], other: Dict[str, int], wins_ties: bool) -> List[SyscallRule]:
        out = []
        for rule in rules:
            level = _strictness(rule)
            if rule.args:
                kept = [n for n in rule.names if n not in other or level < other[n]]
            else:
                kept = [n for n in rule.names if n not in other or level < other[n]
                        or (level == other[n] and (wins_ties or mine.get(n) != level))]
            if len(kept) == len(rule.names):
                out.append(rule)
            elif kept:
                out.append(SyscallRule(kept, rule.action, rule.errno_ret, rule.args, rule.field))
        return out

    return keep(own, own_levels, base_levels, True), keep(base, base_levels, own_levels, False)
