# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seccomp engine: SeccompProfile manifests -> OCI seccomp JSON bytes.

Pieces (one concern per file of this package):

* ``model``  structure, enums, ranges, size bounds, rule conflicts;
* ``names``  syscall names through libseccomp, per listed architecture
  (a typo is an error; a name of another architecture is kept with a warning,
  as runc and crun skip it: see that module);
* ``base``   ``baseProfileName`` union, depth limit, cycles;
* ``oci``    canonical OCI object and its byte serialisation.

Everything is validated before anything is returned, so a door can refuse
a whole batch when one profile is bad.  Stdlib only (runs on targets).
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.base import BaseResolver, Lookup
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import (
    MAX_JSON_BYTES,
    MAX_NAMES,
    SeccompProfile,
    parse_profile,
)
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.names import check_names
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.oci import dumps, render
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.paths import localhost_profile


class CompiledProfile(object):
    """A validated profile with its OCI object, file bytes and warnings."""

    __slots__ = ("profile", "oci", "data", "warnings")

    def __init__(self, profile: SeccompProfile, oci: Dict[str, Any], data: bytes, warnings: List[str]) -> None:
        self.profile = profile
        self.oci = oci
        self.data = data
        self.warnings = warnings

    @property
    def localhost_profile(self) -> str:
        return localhost_profile(self.profile.namespace, self.profile.name)


def _parse_all(docs: Iterable[Any], what: str, unique: bool = True) -> List[SeccompProfile]:
    profiles: List[SeccompProfile] = []
    seen: Dict[Tuple[str, str], int] = {}
    for index, doc in enumerate(docs):
        try:
            profile = parse_profile(doc)
        except SpoError as exc:
            if exc.obj:
                raise
            raise SpoError(exc.message, obj="%s[%d]" % (what, index), field=exc.field)
        if unique and profile.key in seen:
            raise SpoError("defined twice in one call (%s[%d] and %s[%d])" % (what, seen[profile.key], what, index),
                           profile.ref)
        seen[profile.key] = index
        profiles.append(profile)
    return profiles


class Engine(object):
    """Compile many profiles at once; bases come from the same batch, then from ``lookup`` (a caller's store
    of profiles, e.g. the node agent's cache: it may raise the SpoError of a base it cannot parse), then
    ``shipped`` (by name)."""

    def __init__(self, docs: Iterable[Any], shipped: Iterable[Any] = (), lookup: Optional[Lookup] = None) -> None:
        self.profiles = _parse_all(docs, "definition")
        self.pool = {profile.key: profile for profile in self.profiles}
        self.shipped: Dict[str, SeccompProfile] = {}
        for profile in _parse_all(shipped, "base_profiles", unique=False):
            self.shipped.setdefault(profile.name, profile)
        self.extra = lookup
        self.resolver = BaseResolver(self._lookup)
        self._checked: Dict[Tuple[str, str], List[str]] = {}

    def _lookup(self, namespace: str, name: str) -> Optional[SeccompProfile]:
        found = self.pool.get((namespace, name))
        if found is None and self.extra is not None:
            found = self.extra(namespace, name)
        return found or self.shipped.get(name)

    def _own_foreign(self, profile: SeccompProfile) -> List[str]:
        found = self._checked.get(profile.key)
        if found is None:
            pairs = (((rule.field, index), name) for rule in profile.syscalls for index, name in enumerate(rule.names))
            found = check_names(pairs, profile.architectures, profile.ref)
            self._checked[profile.key] = found
        return found

    def compile(self, profile: SeccompProfile) -> CompiledProfile:
        warnings: List[str] = []
        arch_text = ", ".join(profile.architectures) or "the native architecture"
        foreign = self._own_foreign(profile)
        if foreign:
            warnings.append("%s: spec.syscalls: %s not defined on %s (or newer than this host's libseccomp); kept in "
                            "the JSON (runc and crun skip names unknown to an architecture or to their libseccomp)"
                            % (profile.ref, ", ".join(foreign), arch_text))
        inherited: List[Any] = []
        own = list(profile.syscalls)
        if profile.base_profile_name:
            for base in self.resolver.chain(profile)[1:]:
                self._own_foreign(base)  # a bad base is reported under its own name
            own, inherited = self.resolver.effective(profile)
            pairs = (("spec.baseProfileName", name) for rule in inherited for name in rule.names)
            base_foreign = check_names(pairs, profile.architectures, profile.ref)
            if base_foreign:
                warnings.append("%s: spec.baseProfileName (%s): %s not defined on %s (or newer than this host's "
                                "libseccomp); kept in the JSON (runc and crun skip names unknown to an architecture "
                                "or to their libseccomp)"
                                % (profile.ref, profile.base_profile_name, ", ".join(base_foreign), arch_text))
        rules = own + inherited
        total = sum(len(rule.names) for rule in rules)
        if total > MAX_NAMES:
            raise SpoError("too many syscall names with the base profiles: %d (limit %d)" % (total, MAX_NAMES),
                           profile.ref, "spec.baseProfileName")
        oci = render(profile, rules)
        data = dumps(oci)
        if len(data) > MAX_JSON_BYTES:
            raise SpoError("the OCI JSON would be %d bytes (limit %d)" % (len(data), MAX_JSON_BYTES), profile.ref, "spec.syscalls")
        return CompiledProfile(profile, oci, data, warnings)

    def compile_all(self) -> List[CompiledProfile]:
        """Every profile of the batch, all validated before any is returned."""
        return [self.compile(profile) for profile in self.profiles]


def compile_profiles(docs: Iterable[Any], shipped: Iterable[Any] = ()) -> List[CompiledProfile]:
    """Validate and compile a batch of SeccompProfile manifests (raises SpoError on the first bad one)."""
    return Engine(docs, shipped).compile_all()


def to_oci(doc: Any, others: Iterable[Any] = (), shipped: Iterable[Any] = ()) -> Dict[str, Any]:
    """One manifest -> its OCI seccomp object; ``others`` may hold its bases (same namespace)."""
    profile = parse_profile(doc)
    other_docs = [other for other in others if _identity(other) != profile.key]
    engine = Engine([doc] + other_docs, shipped)
    return engine.compile(engine.pool[profile.key]).oci


def _identity(doc: Any) -> Tuple[str, str]:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict):
        return ("", "")
    return (meta.get("namespace") or "default", meta.get("name") or "")
