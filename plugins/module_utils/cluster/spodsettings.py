# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPOD settings a node agent obeys, and the ``allowedSyscalls`` check (pure functions).

Both spellings of the SPOD are read (``spodspec.flat_spec``): ``spec.enableSelinux`` (``spec.selinux.enable``),
``spec.allowedSyscalls`` (``spec.security.allowedSyscalls``), ``spec.verbosity``.  Without a SPOD: SELinux off, no syscall restriction, verbosity 0.
"""
from __future__ import annotations

from typing import Any, FrozenSet, List, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodspec import GROUPS, flat_spec
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


class Settings(object):
    __slots__ = ("enable_selinux", "allowed_syscalls", "verbosity")

    def __init__(self, enable_selinux: bool = False, allowed_syscalls: Optional[FrozenSet[str]] = None,
                 verbosity: int = 0) -> None:
        self.enable_selinux = enable_selinux
        self.allowed_syscalls = allowed_syscalls  # None: no restriction
        self.verbosity = verbosity

    def key(self) -> tuple:
        return (self.enable_selinux, tuple(sorted(self.allowed_syscalls)) if self.allowed_syscalls is not None else None,
                self.verbosity)

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
    verbosity = spec.get("verbosity")
    return Settings(enable_selinux=enable is True,
                    allowed_syscalls=frozenset(a for a in allowed if isinstance(a, str)) if isinstance(allowed, list) and allowed else None,
                    verbosity=verbosity if isinstance(verbosity, int) and not isinstance(verbosity, bool) else 0)


def check_allowed_syscalls(oci: Mapping[str, Any], allowed: Optional[FrozenSet[str]], ref: str) -> None:
    """Refuse an OCI profile (base rules included) that allows a syscall outside ``allowed``.

    A default action of SCMP_ACT_ALLOW allows everything, so it is refused too (as upstream does).
    """
    if allowed is None:
        return
    if oci.get("defaultAction") == "SCMP_ACT_ALLOW":
        raise SpoError("defaultAction SCMP_ACT_ALLOW is not allowed: the SPOD limits allowed syscalls "
                       "(spec.allowedSyscalls)", ref, "spec.defaultAction")
    refused: List[str] = []
    for rule in oci.get("syscalls") or []:
        if rule.get("action") == "SCMP_ACT_ALLOW":
            refused.extend(name for name in rule.get("names") or [] if name not in allowed and name not in refused)
    if refused:
        plural = "s" if len(refused) > 1 else ""
        raise SpoError("syscall%s %s not in the SPOD's allowedSyscalls" % (plural, ", ".join(sorted(refused))),
                       ref, "spec.syscalls")
