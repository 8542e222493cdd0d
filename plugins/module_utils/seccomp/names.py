# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Syscall names of a SeccompProfile, resolved by the host's libseccomp.

How names are judged, for the architectures a profile lists (none listed:
the host's native architecture):

* a name libseccomp knows on no architecture at all (``-1``, e.g. the typo
  ``opne``) is an error naming the rule and the name;
* a name libseccomp knows only on other architectures (a pseudo number on
  every listed one, e.g. ``vm86old``, ``stime`` or ``umount`` on x86_64) is
  KEPT in the JSON and reported as a warning: runc and crun skip names
  unknown to an architecture when they load the filter, so the profile means
  the same on every node and one manifest can serve several architectures
  (this is what the SPEC's seed profile needs);
* a name libseccomp does not know at all but the kernel's syscall table
  (:mod:`seccomp.syscall_table`, generated from a maintained package) has, is newer
  than the host's libseccomp (``statmount``, ``mseal``, ...): it is KEPT with a
  warning too, as runc and crun skip names their libseccomp does not know
  (well-known profiles such as Docker's default list such names);
* a name with a real number on at least one listed architecture is fine.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.syscall_table import NAMES as KERNEL_NAMES
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.libseccomp import (
    NR_SCMP_ERROR,
    native_oci_arch,
    oci_arch_to_token,
    syscall_number,
)

UNKNOWN = "unknown"
FOREIGN = "foreign"
NEWER = "newer"
NATIVE = "ok"

_CACHE: Dict[Tuple[Tuple[int, ...], str], str] = {}


def arch_tokens(architectures: Iterable[str]) -> Tuple[int, ...]:
    """Tokens of the listed OCI architectures, or of the native one when none are listed."""
    archs = list(architectures) or [native_oci_arch()]
    return tuple(oci_arch_to_token(arch) for arch in archs)


def classify(tokens: Tuple[int, ...], name: str) -> str:
    """UNKNOWN (no architecture has it), FOREIGN (none of ``tokens`` has it) or NATIVE."""
    key = (tokens, name)
    found = _CACHE.get(key)
    if found is not None:
        return found
    result = FOREIGN
    unknown = True
    for token in tokens:
        number = syscall_number(token, name)
        if number >= 0:
            result = NATIVE
            unknown = False
            break
        if number != NR_SCMP_ERROR:
            unknown = False
    if unknown:
        result = NEWER if name in KERNEL_NAMES else UNKNOWN
    _CACHE[key] = result
    return result


def check_names(names_by_field: Iterable[Tuple[Any, str]], architectures: Iterable[str], ref: str) -> List[str]:
    """Resolve ``(field, name)`` pairs; raise on a typo; return the names kept with a warning (sorted, unique):
    those of other architectures only, and those newer than the host's libseccomp.

    A field may be given as ``(rule_field, index)``: it is only spelled out for an error.
    """
    tokens = arch_tokens(architectures)
    foreign = set()
    for field, name in names_by_field:
        kind = classify(tokens, name)
        if kind == UNKNOWN:
            if isinstance(field, tuple):
                field = "%s.names[%d]" % field
            raise SpoError("unknown syscall %r (no architecture has it: neither the host's libseccomp nor the "
                           "kernel's syscall table knows it)" % name, ref, field)
        if kind in (FOREIGN, NEWER):
            foreign.add(name)
    return sorted(foreign)
