# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``spec.baseProfileName``: union a profile's rules with its base's, recursively.

The base is a SeccompProfile of the same namespace given in the same call,
or else a profile shipped with the collection (matched by name, whatever
its namespace).  The result allows at least what the base allows: per
syscall the less restrictive decision of the two stays (see :func:`union`
for the exact rule, which follows upstream's current merger).  The base's
defaultAction, architectures and flags are not inherited.
Chains are followed to MAX_DEPTH levels; a cycle is an error listing it.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import SeccompProfile, SyscallRule

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


# Restrictiveness of each action, most restrictive first, as upstream's merger ranks them
# (security-profiles-merger, seccomp/action.go): NOTIFY holds the call until a supervisor decides,
# so it ranks as more restrictive than TRACE.  A higher level lets a call do more.
LEVELS = {"SCMP_ACT_KILL_PROCESS": 0, "SCMP_ACT_KILL_THREAD": 1, "SCMP_ACT_KILL": 1, "SCMP_ACT_TRAP": 2,
          "SCMP_ACT_ERRNO": 3, "SCMP_ACT_NOTIFY": 4, "SCMP_ACT_TRACE": 5, "SCMP_ACT_LOG": 6, "SCMP_ACT_ALLOW": 7}


def level(action: str) -> int:
    """How much ``action`` lets a call do (an unknown action counts as a kill, as upstream)."""
    return LEVELS.get(action, -1)


class _Side(object):
    """One side of a union, indexed per syscall name."""

    def __init__(self, rules: List[SyscallRule]) -> None:
        self.rules = rules
        self.unconditional: Dict[str, SyscallRule] = {}
        self.conditional: Dict[str, List[SyscallRule]] = {}
        for rule in rules:
            for name in rule.names:
                if rule.args:
                    self.conditional.setdefault(name, []).append(rule)
                else:
                    self.unconditional.setdefault(name, rule)

    def candidates(self, name: str) -> List[SyscallRule]:
        """What this side does to ``name``: its unconditional rule, or else its argument rules."""
        rule = self.unconditional.get(name)
        return [rule] if rule is not None else self.conditional.get(name, [])

    def has(self, name: str) -> bool:
        return name in self.unconditional or name in self.conditional


def union(own: List[SyscallRule], base: List[SyscallRule]) -> Tuple[List[SyscallRule], List[SyscallRule]]:
    """The rules of a profile unioned with those of its base, as upstream's current merger does.

    Per syscall name:

    * named by one side only: that side's rules, unchanged;
    * named by both, and at least one side decides it unconditionally: ONE unconditional rule,
      with the least restrictive of the candidates (each side's unconditional rule, or, for a side
      without one, its argument rules) by :data:`LEVELS`; on a tie the base's rule, errnoRet
      included.  The result has no arguments: an unconditional action is never narrowed to the
      other side's condition, and a less restrictive argument rule widens to the whole syscall
      (OCI rules cannot say "this action, or that one under a condition");
    * named by both with argument rules only: every rule of both is kept (the runtime ORs them;
      upstream's merger instead drops differing conditions, which allows more than either side).

    Returns (own rules kept, base rules kept), the decided rules placed on their side.
    """
    mine, theirs = _Side(own), _Side(base)
    decided: Dict[str, Tuple[bool, SyscallRule]] = {}
    for name in set(mine.unconditional) | set(theirs.unconditional):
        if not (mine.has(name) and theirs.has(name)):
            continue
        best, best_is_base = None, True
        for is_base, side in ((True, theirs), (False, mine)):
            for rule in side.candidates(name):
                if best is None or level(rule.action) > level(best.action):
                    best, best_is_base = rule, is_base
        if best is not None:
            decided[name] = (best_is_base, SyscallRule([name], best.action, best.errno_ret, [], best.field))

    def keep(rules: List[SyscallRule], is_base: bool) -> List[SyscallRule]:
        out = []
        for rule in rules:
            kept = [name for name in rule.names if name not in decided]
            if len(kept) == len(rule.names):
                out.append(rule)
            elif kept:
                out.append(SyscallRule(kept, rule.action, rule.errno_ret, rule.args, rule.field))
        out.extend(rule for name, (side, rule) in sorted(decided.items()) if side == is_base)
        return out

    return keep(own, False), keep(base, True)
