# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SeccompProfile objects: parse and validate the shape of one manifest.

This file checks structure only (types, enums, ranges, unknown fields,
size bounds); syscall names are resolved by ``seccomp.names`` and base
profiles by ``seccomp.base``.  Stdlib only: it runs on target hosts.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.libseccomp import (
    OCI_ARCHITECTURES, native_oci_arch, oci_arch_to_token)
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.paths import file_name
from ansible_collections.spo.security_profiles.plugins.module_utils.validation import (
    check_dns1123_subdomain,
    check_known_keys,
    expect_type,
    object_identity,
)

KIND = "SeccompProfile"
API_VERSIONS = (api.SECCOMP_PROFILE.api_version,)

# Actions of the OCI runtime spec (config-linux.md, seccomp).
ACTIONS = (
    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP", "SCMP_ACT_TRACE", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
)
# Actions that carry a return value (errnoRet): the errno, or the tracer's message number.
ERRNO_ACTIONS = {"SCMP_ACT_ERRNO": 4095, "SCMP_ACT_TRACE": 65535}
OPERATORS = (
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
)
# Filter flags of the OCI runtime spec (and upstream's CRD); WAIT_KILLABLE_RECV is applied by runc >= 1.2
# and crun, older runtimes refuse the profile when they load it.
FLAGS = ("SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
         "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
# SCMP_ARCH_NATIVE (upstream's CRD accepts it) is written as the node's own architecture.
NATIVE_ARCH = "SCMP_ARCH_NATIVE"
ARCHITECTURES = OCI_ARCHITECTURES + (NATIVE_ARCH,)

MAX_ARGS = 6
MAX_ARG_INDEX = 5
UINT64_MAX = (1 << 64) - 1
# Size bounds: Linux has ~450 syscalls per architecture, so these leave room for
# every architecture and many conditional rules while refusing runaway input.
MAX_RULES = 4096
MAX_NAMES = 16384
MAX_NAME_LENGTH = 64
MAX_JSON_BYTES = 1 << 20  # the rendered OCI JSON

TOP_KEYS = ["apiVersion", "kind", "metadata", "spec", "status"]
SPEC_KEYS = ["defaultAction", "defaultErrnoRet", "architectures", "syscalls", "flags", "baseProfileName",
             "disabled", "listenerPath", "listenerMetadata"]
RULE_KEYS = ["names", "action", "errnoRet", "args"]
ARG_KEYS = ["index", "value", "valueTwo", "op"]


class SeccompArg(object):
    """One argument comparison of a rule."""

    __slots__ = ("index", "value", "value_two", "op")

    def __init__(self, index: int, value: int, value_two: int, op: str) -> None:
        self.index = index
        self.value = value
        self.value_two = value_two
        self.op = op

    def key(self) -> Tuple[int, int, int, str]:
        return (self.index, self.value, self.value_two, self.op)


class SyscallRule(object):
    """One entry of ``spec.syscalls``; ``field`` locates it for messages."""

    __slots__ = ("names", "action", "errno_ret", "args", "field")

    def __init__(self, names: List[str], action: str, errno_ret: Optional[int], args: List[SeccompArg], field: str) -> None:
        self.names = names
        self.action = action
        self.errno_ret = errno_ret
        self.args = args
        self.field = field

    def verdict(self) -> Tuple[str, int]:
        """What the rule does to a matching call (errnoRet -1 when unset)."""
        return (self.action, -1 if self.errno_ret is None else self.errno_ret)


class SeccompProfile(object):
    """A validated SeccompProfile (structure only; names not resolved yet)."""

    def __init__(self, namespace: str, name: str, ref: str) -> None:
        self.namespace = namespace
        self.name = name
        self.ref = ref
        self.default_action = "SCMP_ACT_ERRNO"
        self.default_errno_ret: Optional[int] = None
        self.architectures: List[str] = []
        self.flags: List[str] = []
        self.syscalls: List[SyscallRule] = []
        self.base_profile_name: Optional[str] = None
        self.disabled = False
        self.listener_path: Optional[str] = None
        self.listener_metadata: Optional[str] = None

    @property
    def key(self) -> Tuple[str, str]:
        return (self.namespace, self.name)


def _uint(value: Any, maximum: int, ref: str, field: str) -> int:
    expect_type(value, (int,), "an integer", ref, field)
    if value < 0 or value > maximum:
        raise SpoError("must be between 0 and %d, got %d" % (maximum, value), ref, field)
    return value


def _enum(value: Any, allowed: Tuple[str, ...], what: str, ref: str, field: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise SpoError("unknown %s %r; expected one of %s" % (what, value, ", ".join(allowed)), ref, field)
    return value


def _errno_ret(value: Any, action: str, ref: str, field: str) -> Optional[int]:
    """The return value of an ERRNO/TRACE rule, or None.

    As upstream: an errnoRet of 0 means "not set" (omitted from the JSON, so SCMP_ACT_ERRNO
    fails the call with EPERM; written as 0 the call would "succeed" without running), and an
    errnoRet on an action without a return value (ALLOW, LOG, KILL, ...) is ignored.
    """
    if value is None:
        return None
    if action not in ERRNO_ACTIONS:
        _uint(value, (1 << 31) - 1, ref, field)
        return None
    value = _uint(value, ERRNO_ACTIONS[action], ref, field)
    return value or None


def _list(value: Any, ref: str, field: str) -> List[Any]:
    if value is None:
        return []
    return expect_type(value, (list,), "a list", ref, field)


def parse_arg(raw: Any, ref: str, field: str) -> SeccompArg:
    expect_type(raw, (dict,), "a mapping", ref, field)
    check_known_keys(raw, ARG_KEYS, ref, field)
    if "index" not in raw:
        raise SpoError("index is required", ref, field + ".index")
    if "op" not in raw:
        raise SpoError("op is required", ref, field + ".op")
    index = _uint(raw["index"], MAX_ARG_INDEX, ref, field + ".index")
    value = _uint(raw.get("value", 0), UINT64_MAX, ref, field + ".value")
    value_two = _uint(raw.get("valueTwo", 0), UINT64_MAX, ref, field + ".valueTwo")
    op = _enum(raw["op"], OPERATORS, "operator", ref, field + ".op")
    return SeccompArg(index, value, value_two, op)


def parse_rule(raw: Any, ref: str, field: str) -> SyscallRule:
    expect_type(raw, (dict,), "a mapping", ref, field)
    check_known_keys(raw, RULE_KEYS, ref, field)
    if "action" not in raw:
        raise SpoError("action is required", ref, field + ".action")
    action = _enum(raw["action"], ACTIONS, "action", ref, field + ".action")
    names = _list(raw.get("names"), ref, field + ".names")
    if not names:
        raise SpoError("names must list at least one syscall", ref, field + ".names")
    for index, name in enumerate(names):
        if name.__class__ is str and 0 < len(name) <= MAX_NAME_LENGTH:
            continue  # the common case: no field path spelled out
        name_field = "%s.names[%d]" % (field, index)
        expect_type(name, (str,), "a syscall name (string)", ref, name_field)
        if not name or len(name) > MAX_NAME_LENGTH:
            raise SpoError("must be a syscall name of 1 to %d characters" % MAX_NAME_LENGTH, ref, name_field)
    errno_ret = _errno_ret(raw.get("errnoRet"), action, ref, field + ".errnoRet")
    raw_args = _list(raw.get("args"), ref, field + ".args")
    if len(raw_args) > MAX_ARGS:
        raise SpoError("at most %d argument comparisons per rule, got %d" % (MAX_ARGS, len(raw_args)), ref, field + ".args")
    args = [parse_arg(item, ref, "%s.args[%d]" % (field, index)) for index, item in enumerate(raw_args)]
    return SyscallRule(list(names), action, errno_ret, args, field)


def check_unconditional_conflicts(rules: List[SyscallRule], ref: str) -> None:
    """Refuse one syscall under two unconditional rules that do different things.

    libseccomp keeps the first such rule it is given and runc skips a rule whose action is the
    default one, so which of the two applies would depend on the written order (upstream writes
    both and leaves it to the runtime; its merger, for a profile with a base, picks the less
    restrictive): the profile is ambiguous, and refused with both fields named.  The same rule
    twice, and argument rules beside an unconditional one, are fine.
    """
    seen: Dict[str, SyscallRule] = {}
    for rule in rules:
        if rule.args:
            continue
        verdict = rule.verdict()
        for index, name in enumerate(rule.names):
            first = seen.setdefault(name, rule)
            if first is not rule and first.verdict() != verdict:
                where = "%s.names[%d]" % (first.field, first.names.index(name))
                raise SpoError("syscall %r has two unconditional actions: %s here and %s at %s; the runtime would "
                               "apply whichever is written first, so give each syscall one unconditional action"
                               % (name, _verdict_text(verdict), _verdict_text(first.verdict()), where),
                               ref, "%s.names[%d]" % (rule.field, index))


def _verdict_text(verdict: Tuple[str, int]) -> str:
    action, errno_ret = verdict
    return action if errno_ret < 0 else "%s (errnoRet %d)" % (action, errno_ret)


def parse_profile(doc: Any) -> SeccompProfile:
    """Validate the structure of one SeccompProfile manifest (raises SpoError)."""
    namespace, name, ref = object_identity(doc, KIND, API_VERSIONS)
    check_known_keys(doc, TOP_KEYS, ref, "")
    profile = SeccompProfile(namespace, name, ref)
    try:
        file_name(name)  # must fit a file name on the node
    except SpoError as exc:
        raise SpoError(exc.message, ref, "metadata.name")
    spec = doc.get("spec")
    if spec is None:
        raise SpoError("spec is required", ref, "spec")
    expect_type(spec, (dict,), "a mapping", ref, "spec")
    check_known_keys(spec, SPEC_KEYS, ref, "spec")
    if "defaultAction" not in spec:
        raise SpoError("defaultAction is required", ref, "spec.defaultAction")
    profile.default_action = _enum(spec["defaultAction"], ACTIONS, "action", ref, "spec.defaultAction")
    profile.default_errno_ret = _errno_ret(spec.get("defaultErrnoRet"), profile.default_action, ref, "spec.defaultErrnoRet")

    for index, arch in enumerate(_list(spec.get("architectures"), ref, "spec.architectures")):
        field = "spec.architectures[%d]" % index
        _enum(arch, ARCHITECTURES, "architecture", ref, field)
        if arch == NATIVE_ARCH:
            arch = native_oci_arch()
        if oci_arch_to_token(arch) == 0:
            raise SpoError("architecture %s is not supported by this host's libseccomp" % arch, ref, field)
        if arch not in profile.architectures:
            profile.architectures.append(arch)
    for index, flag in enumerate(_list(spec.get("flags"), ref, "spec.flags")):
        _enum(flag, FLAGS, "flag", ref, "spec.flags[%d]" % index)
        if flag not in profile.flags:
            profile.flags.append(flag)

    raw_rules = _list(spec.get("syscalls"), ref, "spec.syscalls")
    if len(raw_rules) > MAX_RULES:
        raise SpoError("too many rules: %d (limit %d)" % (len(raw_rules), MAX_RULES), ref, "spec.syscalls")
    total = sum(len(rule["names"]) for rule in raw_rules if isinstance(rule, dict) and isinstance(rule.get("names"), list))
    if total > MAX_NAMES:
        raise SpoError("too many syscall names: %d over all rules (limit %d)" % (total, MAX_NAMES), ref, "spec.syscalls")
    profile.syscalls = [parse_rule(rule, ref, "spec.syscalls[%d]" % index) for index, rule in enumerate(raw_rules)]
    check_unconditional_conflicts(profile.syscalls, ref)

    base = spec.get("baseProfileName")
    if base not in (None, ""):
        profile.base_profile_name = check_dns1123_subdomain(base, ref, "spec.baseProfileName")
    disabled = spec.get("disabled", False)
    profile.disabled = expect_type(disabled, (bool,), "a boolean", ref, "spec.disabled")
    for key, attr in (("listenerPath", "listener_path"), ("listenerMetadata", "listener_metadata")):
        if spec.get(key) is not None:
            setattr(profile, attr, expect_type(spec[key], (str,), "a string", ref, "spec." + key))
    return profile
