# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPOD settings a node agent obeys, and the ``allowedSyscalls`` / ``allowedSeccompActions`` check (pure functions).

Both spellings of the SPOD are read (``spodspec.flat_spec``): ``spec.enableSelinux`` (``spec.selinux.enable``),
``spec.allowedSyscalls`` (``spec.security.allowedSyscalls``), ``spec.allowedSeccompActions``
(``spec.security.allowedSeccompActions``), ``spec.verbosity``.  Without a SPOD: SELinux off, no syscall restriction,
verbosity 0.

The check follows upstream's semantics (security-profiles-operator, the seccomp profile daemon):
``allowedSeccompActions`` names the actions that let a syscall run and so are bounded by ``allowedSyscalls``
(absent or empty: SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_TRACE and SCMP_ACT_NOTIFY, which are also the only
values it may list).  Without ``allowedSyscalls`` nothing is restricted.  With it, a profile is refused when its
effective rules (its own and those inherited through ``baseProfileName``) let a syscall outside ``allowedSyscalls``
run under one of those actions, or when its ``defaultAction`` is one of them (it lets every unlisted syscall run).
A SPOD listing another action (SCMP_ACT_ERRNO, a kill, SCMP_ACT_TRAP) refuses every profile, as upstream does.
"""
from __future__ import annotations

from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodspec import GROUPS, flat_spec
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

# the actions that let a syscall run: upstream's default for allowedSeccompActions, and the only values it may list
RUNNING_ACTIONS: Tuple[str, ...] = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY")
BASE_FIELD = "spec.baseProfileName"
MAX_LISTED = 10  # syscalls named in one refusal; the rest are counted


class Settings(object):
    __slots__ = ("enable_selinux", "allowed_syscalls", "allowed_actions", "verbosity")

    def __init__(self, enable_selinux: bool = False, allowed_syscalls: Optional[FrozenSet[str]] = None,
                 verbosity: int = 0, allowed_actions: Optional[Tuple[str, ...]] = None) -> None:
        self.enable_selinux = enable_selinux
        self.allowed_syscalls = allowed_syscalls  # None: no restriction
        self.allowed_actions = allowed_actions    # None: RUNNING_ACTIONS (the list as the SPOD orders it)
        self.verbosity = verbosity

    @property
    def bounded_actions(self) -> Tuple[str, ...]:
        """The actions whose syscalls ``allowed_syscalls`` bounds."""
        return self.allowed_actions or RUNNING_ACTIONS

    def key(self) -> tuple:
        return (self.enable_selinux, tuple(sorted(self.allowed_syscalls)) if self.allowed_syscalls is not None else None,
                self.verbosity, tuple(sorted(set(self.allowed_actions))) if self.allowed_actions else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Settings) and self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())


def settings(spod: Optional[Mapping[str, Any]]) -> Settings:
    """Settings from a SPOD object (None: the defaults)."""
    spec = (spod or {}).get("spec") or {}
    # a group that is no object (the API server's schema refuses it) leaves its fields unset
    spec = flat_spec({k: v for k, v in spec.items() if k not in GROUPS or isinstance(v, Mapping)}) \
        if isinstance(spec, Mapping) else {}
    enable = spec.get("enableSelinux")
    allowed = spec.get("allowedSyscalls")
    actions = spec.get("allowedSeccompActions")
    verbosity = spec.get("verbosity")
    listed = tuple(a for a in actions if isinstance(a, str)) if isinstance(actions, list) else ()
    return Settings(enable_selinux=enable is True,
                    allowed_syscalls=frozenset(a for a in allowed if isinstance(a, str)) if isinstance(allowed, list) and allowed else None,
                    verbosity=verbosity if isinstance(verbosity, int) and not isinstance(verbosity, bool) else 0,
                    allowed_actions=listed or None)


def _names(names: List[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown + (" and %d more" % (len(names) - MAX_LISTED) if len(names) > MAX_LISTED else "")


def check_allowed(oci: Mapping[str, Any], limits: Settings, ref: str,
                  own: Iterable[Tuple[str, str, Iterable[str]]] = ()) -> None:
    """Refuse a compiled profile (``oci``: its effective rules, bases included) the SPOD's limits forbid.

    ``own`` is the profile's own rules as ``(field, action, names)`` (``spec.syscalls[2]``, ...): a syscall one of
    them lets run is blamed on that rule's ``.action``; one only an inherited rule lets run on
    ``spec.baseProfileName``.  The error names the first such field and lists every one.
    """
    allowed = limits.allowed_syscalls
    if allowed is None:
        return
    bounded = limits.bounded_actions
    stray = [action for action in bounded if action not in RUNNING_ACTIONS]
    if stray:
        raise SpoError("not installed: the SPOD's allowedSeccompActions lists %s, which lets no syscall run; it may "
                       "only list %s (the actions whose syscalls allowedSyscalls bounds), and while it lists another "
                       "action every profile is refused" % (", ".join(stray), ", ".join(RUNNING_ACTIONS)),
                       ref)
    default = oci.get("defaultAction")
    if default in bounded:
        raise SpoError("%s lets every syscall the profile does not list run, and the SPOD bounds the syscalls "
                       "under %s to its allowedSyscalls" % (default, ", ".join(bounded)), ref, "spec.defaultAction")
    blame: Dict[Tuple[str, str], str] = {}
    for field, action, names in own:
        for name in names:
            blame.setdefault((action, name), field + ".action")
    refused: Dict[Tuple[str, str], List[str]] = {}  # (field, action) -> syscalls, in the order found
    for rule in oci.get("syscalls") or []:
        action = rule.get("action")
        if action not in bounded:
            continue
        for name in rule.get("names") or []:
            if name in allowed:
                continue
            field = blame.get((action, name), BASE_FIELD)
            found = refused.setdefault((field, action), [])
            if name not in found:
                found.append(name)
    if not refused:
        return
    order = sorted(refused, key=lambda item: (item[0] == BASE_FIELD, _index(item[0]), item[1]))
    parts = []
    for index, (field, action) in enumerate(order):
        inherited = " (a rule inherited through the base profile)" if field == BASE_FIELD else ""
        parts.append("%s%s%s lets %s run" % ("" if index == 0 else field + ": ", action, inherited,
                                             _names(refused[(field, action)])))
    raise SpoError("%s, not in the SPOD's allowedSyscalls (which bounds the syscalls under %s)"
                   % ("; ".join(parts), ", ".join(bounded)), ref, order[0][0])


def _index(field: str) -> int:
    """The rule's index in ``spec.syscalls[N].action`` (for a stable order)."""
    try:
        return int(field.split("[", 1)[1].split("]", 1)[0])
    except (IndexError, ValueError):
        return -1
