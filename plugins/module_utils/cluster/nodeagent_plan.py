# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node agent's planner: a snapshot of the cache in, one :class:`Outcome` per profile out (no API, no files).

Seccomp: each profile is parsed and compiled once by the engine (:class:`seccomp.Engine`), its bases
resolved from the snapshot (same namespace) or the shipped profiles, with the engine's depth limit; the
outcome carries the bytes the node writer installs.  A refused profile never blocks the others; whatever
one object makes the validation raise becomes that object's Error.  SELinux: the profile with the
SelinuxProfiles it inherits is validated and its CIL text carried to the writer.

Decisions: a refused profile is Error with the engine's message; a refused UPDATE keeps the node's previous
file (``remove_file`` stays False), while a profile refused by the SPOD's ``allowedSyscalls`` (with
``allowedSeccompActions``: :func:`spodsettings.check_allowed`), a disabled one and a partial recording result
are removed from the node.  With SELinux off in the SPOD, SelinuxProfiles
are Pending (saying why).
"""
from __future__ import annotations

from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux_model
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import SECCOMP, SELINUX
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import (
    Settings, check_allowed)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import Engine
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.base import MAX_DEPTH
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import SeccompProfile, parse_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.cil import profile_cil

SECCOMP_KIND, SELINUX_KIND, RAW_KIND = api.SECCOMP_PROFILE.kind, api.SELINUX_PROFILE.kind, api.RAW_SELINUX_PROFILE.kind
KINDS = {k: (api.kind(k).version, api.kind(k).plural) for k in (SECCOMP_KIND, SELINUX_KIND, RAW_KIND)}
SPOD_NAME = api.SPOD_NAME

Key = Tuple[str, str, str]  # (kind, namespace, name)
Ident = Tuple[str, str]     # (namespace, name)
PodRef = Tuple[str, str, str]  # (podrefs.SECCOMP, namespace, file) or (podrefs.SELINUX, namespace, name)


class Outcome(object):
    """What this node ends up with for one profile in a batch."""

    __slots__ = ("state", "message", "write", "data", "remove_file", "need_finalizer", "delete", "refused", "reason")

    def __init__(self, state: str = ns.PENDING, message: str = "") -> None:
        self.state = state
        self.message = message
        self.write = False          # ``data`` is to be written to the node (seccomp JSON, or CIL)
        self.data: Optional[bytes] = None
        self.remove_file = False    # the node's file is to be removed
        self.need_finalizer = False
        self.delete = False         # the profile is being deleted and unused here: clean up all of this node's
        self.refused = False
        self.reason = ""

    def memo(self) -> "Outcome":
        """A copy without the file's bytes, to remember between batches."""
        out = Outcome(self.state, self.message)
        out.refused, out.reason, out.need_finalizer = self.refused, self.reason, self.need_finalizer
        return out


class Snapshot(object):
    """What the planner reads: the cached profiles (kind -> (namespace, name) -> slim object), the pods of this
    node by the profile file or SELinux type they use (:mod:`podrefs`), the SPOD's settings."""

    __slots__ = ("profiles", "pods", "settings", "operator_namespace")

    def __init__(self, profiles: Mapping[str, Mapping[Ident, Dict[str, Any]]],
                 pods: Optional[Mapping[PodRef, Collection[str]]] = None, settings: Optional[Settings] = None,
                 operator_namespace: str = "security-profiles-operator") -> None:
        self.profiles = profiles
        self.pods = pods or {}
        self.settings = settings or Settings()
        self.operator_namespace = operator_namespace

    def get(self, kind: str, namespace: str, name: str) -> Optional[Dict[str, Any]]:
        return (self.profiles.get(kind) or {}).get((namespace, name))

    @staticmethod
    def users_in(pods: Mapping[PodRef, Collection[str]], key: Key) -> List[str]:
        """The pods of ``pods`` that use the profile ``key`` (pods name a seccomp profile by its file, which
        p1 and p1.json share)."""
        kind, namespace, name = key
        if kind == SECCOMP_KIND:
            try:
                ref = (SECCOMP, namespace, seccomp_paths.file_name(name))
            except SpoError:
                return []
        else:
            ref = (SELINUX, namespace, name)
        return sorted(pods.get(ref, ()))

    def users(self, key: Key) -> List[str]:
        return self.users_in(self.pods, key)

    def file_owner(self, key: Key) -> Optional[Key]:
        """The other profile that has ``key``'s file (``p1`` for ``p1.json``), if any."""
        try:
            file = seccomp_paths.file_name(key[2])
        except SpoError:
            return None
        for name in seccomp_paths.names_of_file(file):
            if name != key[2] and self.get(SECCOMP_KIND, key[1], name) is not None:
                return (SECCOMP_KIND, key[1], name)
        return None


def seccomp_doc(obj: Mapping[str, Any]) -> Dict[str, Any]:
    """The manifest the engine reads of a cached SeccompProfile."""
    meta = obj["metadata"]
    return {"apiVersion": obj.get("apiVersion"), "kind": SECCOMP_KIND,
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]}, "spec": obj.get("spec")}


def _usable_base(obj: Optional[Mapping[str, Any]]) -> bool:
    return obj is not None and not obj["metadata"].get("deletionTimestamp") \
        and (obj.get("spec") or {}).get("disabled") is not True


def plan_gone(key: Key, snapshot: Snapshot) -> Outcome:
    """The profile no longer exists (its finalizers were removed by force, or we missed it)."""
    out = Outcome(ns.TERMINATING)
    out.delete = True
    if not snapshot.users(key):
        out.remove_file = True
    return out


def _deleting(key: Key, obj: Mapping[str, Any], snapshot: Snapshot) -> Optional[Outcome]:
    if not obj["metadata"].get("deletionTimestamp"):
        return None
    users = snapshot.users(key)
    out = Outcome(ns.TERMINATING, "in use by %s" % ", ".join(users) if users else "")
    if not users:
        out.delete = True
        out.remove_file = True
    return out


class Planner(object):
    """Plans batches.  Keeps one thing between them: the result of each seccomp profile as compiled last
    (``done``), by what it depends on (:meth:`signature`), so an unchanged profile is not compiled again while
    its file is there (``file_exists``)."""

    def __init__(self, shipped: Sequence[Dict[str, Any]] = (), log: Callable[[str], None] = lambda m: None,
                 file_exists: Callable[[Key], bool] = lambda key: True) -> None:
        self.shipped = list(shipped)
        self.log = log
        self.file_exists = file_exists
        self.done: Dict[Key, Tuple[Any, Outcome]] = {}
        self.errors = 0

    def plan(self, snapshot: Snapshot, present: Mapping[Key, Dict[str, Any]]) -> Dict[Key, Outcome]:
        """The outcome of every present profile.  Whatever one object makes the validation raise (a bug, input
        no check foresaw) becomes that object's Error; the rest of the batch goes on (seccomp profiles are
        planned together for speed, and alone when that fails)."""
        outcomes: Dict[Key, Outcome] = {}
        seccomp_keys = [key for key in present if key[0] == SECCOMP_KIND]
        try:
            outcomes.update(self.plan_seccomp(seccomp_keys, snapshot, present))
        except Exception:  # pylint: disable=broad-except
            for key in seccomp_keys:
                outcomes[key] = self._isolated(key, lambda key=key: self.plan_seccomp([key], snapshot, present)[key])
        for key in present:
            if key[0] != SECCOMP_KIND:
                outcomes[key] = self._isolated(key, lambda key=key: plan_selinux(key, present[key], snapshot))
        return outcomes

    def _isolated(self, key: Key, planner: Callable[[], Outcome]) -> Outcome:
        try:
            return planner()
        except Exception as exc:  # pylint: disable=broad-except
            self.errors += 1
            self.log("%s %s/%s: validation failed unexpectedly: %s: %s"
                     % (key[0], key[1], key[2], type(exc).__name__, exc))
            out = Outcome(ns.ERROR, "%s %s/%s: the profile could not be validated (%s: %s)"
                          % (key[0], key[1], key[2], type(exc).__name__, str(exc)[:300]))
            out.refused, out.reason = True, "InvalidProfile"
            return out

    # ------------------------------------------------------------------ seccomp
    def plan_seccomp(self, keys: List[Key], snapshot: Snapshot,
                     present: Mapping[Key, Dict[str, Any]]) -> Dict[Key, Outcome]:
        outcomes: Dict[Key, Outcome] = {}
        candidates: List[Key] = []
        for key in keys:
            obj = present[key]
            out = _deleting(key, obj, snapshot)
            if out is None:
                spec = obj.get("spec") or {}
                labels = obj["metadata"].get("labels") or {}
                if spec.get("disabled") is True:
                    out = Outcome(ns.DISABLED)
                    out.remove_file = True
                elif labels.get(ns.LABEL_PARTIAL) == "true":
                    out = Outcome(ns.PARTIAL)
                    out.remove_file = True
                else:
                    memo = self.done.get(key)
                    if memo is not None and memo[0] == self.signature(key, obj, snapshot) and (
                            memo[1].state != ns.INSTALLED or self.file_exists(key)):
                        out = memo[1].memo()
                    else:
                        candidates.append(key)
                        continue
            outcomes[key] = out
        if candidates:
            outcomes.update(self.compile_seccomp(candidates, snapshot, present))
        return outcomes

    @staticmethod
    def signature(key: Key, obj: Mapping[str, Any], snapshot: Snapshot) -> Tuple[Any, ...]:
        """What a seccomp profile's result on this node depends on: the object's generation, its base
        chain's generations (to the engine's depth limit, and one more: a chain too deep is refused) and the
        SPOD's settings (allowedSyscalls, allowedSeccompActions)."""
        meta = obj["metadata"]
        chain = []
        current: Optional[Mapping[str, Any]] = obj
        for _depth in range(MAX_DEPTH + 1):
            base = (current.get("spec") or {}).get("baseProfileName") if current else None
            if not base:
                break
            current = snapshot.get(SECCOMP_KIND, key[1], base)
            if current is None:
                chain.append((base, None))
                break
            cmeta = current["metadata"]
            chain.append((base, cmeta.get("uid"), cmeta.get("generation"), bool(cmeta.get("deletionTimestamp"))))
        return (meta.get("uid"), meta.get("generation"), tuple(chain), snapshot.settings.key())

    def record(self, key: Key, obj: Mapping[str, Any], out: Outcome, snapshot: Snapshot) -> None:
        """Remember a seccomp profile's result once it is on the node (or refused as invalid)."""
        self.done[key] = (self.signature(key, obj, snapshot), out.memo())

    def forget(self, key: Key) -> None:
        self.done.pop(key, None)

    def compile_seccomp(self, keys: List[Key], snapshot: Snapshot,
                        present: Mapping[Key, Dict[str, Any]]) -> Dict[Key, Outcome]:
        """Each profile on its own: parse, compile (bases of the same namespace from the snapshot, each parsed
        once), check the SPOD's allowedSyscalls and allowedSeccompActions.  Returns the outcome of each, with the
        bytes to install."""
        parsed: Dict[Ident, Union[SeccompProfile, SpoError]] = {}
        refused_bases: Dict[Ident, str] = {}

        def parse(ident: Ident, obj: Mapping[str, Any]) -> Union[SeccompProfile, SpoError]:
            if ident not in parsed:
                try:
                    parsed[ident] = parse_profile(seccomp_doc(obj))
                except SpoError as exc:
                    parsed[ident] = exc
            return parsed[ident]

        def lookup(namespace: str, name: str) -> Optional[SeccompProfile]:
            """A base from the snapshot; a deleted or disabled one is not there (the shipped ones still are)."""
            obj = snapshot.get(SECCOMP_KIND, namespace, name)
            if not _usable_base(obj):
                return None
            found = parse((namespace, name), obj)
            if isinstance(found, SpoError):
                refused_bases[(namespace, name)] = found.message
                raise found
            return found

        engine = Engine([], self.shipped, lookup=lookup)
        outcomes: Dict[Key, Outcome] = {}
        for key in keys:
            result = parse((key[1], key[2]), present[key])
            out = Outcome(ns.INSTALLED)
            try:
                if isinstance(result, SpoError):
                    raise result
                base = (result.namespace, result.base_profile_name or "")
                if base[1]:
                    try:
                        lookup(*base)
                    except SpoError:
                        raise SpoError("base profile %r is refused: %s" % (base[1], refused_bases[base]),
                                       result.ref, "spec.baseProfileName")
                owner = snapshot.file_owner(key)
                if owner is not None and key[2].endswith(seccomp_paths.EXT):
                    raise SpoError("its file %s is also SeccompProfile %s/%s's (a name's file is <name>.json, or the "
                                   "name when it ends in .json); rename one of them"
                                   % (seccomp_paths.localhost_profile(key[1], key[2]), owner[1], owner[2]),
                                   result.ref, "metadata.name")
                try:
                    compiled = engine.compile(result)
                except SpoError as exc:
                    if exc.obj and exc.obj != result.ref:  # the engine names a bad base under its own name
                        raise SpoError("base profile %r is refused: %s" % (result.base_profile_name, exc),
                                       result.ref, "spec.baseProfileName")
                    raise
                try:
                    check_allowed(compiled.oci, snapshot.settings, result.ref,
                                  ((rule.field, rule.action, rule.names) for rule in result.syscalls))
                except SpoError:
                    out.remove_file = True
                    out.reason = "NotAllowedSyscall"
                    raise
                out.write = True
                out.data = compiled.data
                out.need_finalizer = True
                out.message = "; ".join(compiled.warnings)
            except SpoError as exc:
                out.state = ns.ERROR
                out.message = str(exc)
                out.refused = True
                out.reason = out.reason or "InvalidProfile"
                out.write = False
            outcomes[key] = out
        return outcomes


# ------------------------------------------------------------------ SELinux
def plan_selinux(key: Key, obj: Dict[str, Any], snapshot: Snapshot) -> Outcome:
    out = _deleting(key, obj, snapshot)
    if out is not None:
        return out
    spec = obj.get("spec") or {}
    if spec.get("disabled") is True:
        out = Outcome(ns.DISABLED)
        out.remove_file = True
        return out
    if not snapshot.settings.enable_selinux:
        return Outcome(ns.PENDING, "SELinux is not enabled in the SPOD %s/%s (spec.enableSelinux or "
                                   "spec.selinux.enable); the profile is not installed"
                       % (snapshot.operator_namespace, SPOD_NAME))
    out = Outcome(ns.IN_PROGRESS)
    try:
        target = selinux_chain(obj, snapshot)[-1]
        out.data = profile_cil(target).encode("utf-8")
        out.write = True
        out.need_finalizer = True
    except SpoError as exc:
        out.state, out.message, out.refused, out.reason = ns.ERROR, str(exc), True, "InvalidProfile"
    return out


def _selinux_doc(obj: Mapping[str, Any]) -> Dict[str, Any]:
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]},
            "spec": obj.get("spec")}


def selinux_chain(obj: Mapping[str, Any], snapshot: Snapshot) -> List[Any]:
    """The profile with the SelinuxProfiles it inherits (same namespace), validated; the profile last."""
    docs = [_selinux_doc(obj)]
    profile = selinux_model.parse_profile(docs[0])
    pending = [profile]
    seen = {profile.policy_name}
    while pending:
        current = pending.pop()
        for index, entry in enumerate(getattr(current, "inherit", []) or []):
            if entry.kind != SELINUX_KIND:
                continue
            parent = snapshot.get(SELINUX_KIND, current.namespace, entry.name)
            if parent is None:
                raise SpoError("inherits SelinuxProfile %s/%s, which does not exist" % (current.namespace, entry.name),
                               current.ref, "spec.inherit[%d].name" % index)
            parsed = selinux_model.parse_profile(_selinux_doc(parent))
            if parsed.policy_name not in seen:
                seen.add(parsed.policy_name)
                docs.append(_selinux_doc(parent))
                pending.append(parsed)
    ordered = selinux_model.parse_profiles(docs)
    return [p for p in ordered if p.policy_name != profile.policy_name] + [
        next(p for p in ordered if p.policy_name == profile.policy_name)]
