# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SelinuxProfile / RawSelinuxProfile: model and validation (stdlib only).

Everything a user writes ends up inside CIL text, so every identifier is
checked against a whitelist before translation: CIL injection is impossible
because no accepted identifier can carry a parenthesis, whitespace, quote or
semicolon.  Raw CIL bodies are parsed into a token tree, checked statement by
statement and re-rendered from the tree (see :func:`parse_raw_cil`), so what
is installed is exactly what was validated; then what the body does is proven
on the compiled policy (module_utils/selinux/effect.py).

Decisions (documented here, relied on by the tests):

* The policy (CIL block and store module) of a profile is ``<name>_<namespace>``.
  Kubernetes names never contain ``_``, so the split is unambiguous and the
  project's own modules (``spo_system_templates``, ``spo_container_compat``,
  two underscores) can never collide with a profile.  A profile name may not
  contain ``.`` (the CIL namespace separator).
* ``inherit`` of kind SelinuxProfile resolves among the profiles given in
  the same call (same namespace); System names one of the shipped templates.
  The base template ``container`` is always part of the result: it is added
  first unless listed or brought by a SelinuxProfile parent.
* The denylist applies to SelinuxProfile fields and to every symbol of a
  RawSelinuxProfile body; ``allowed`` (types/classes/permissions) lifts
  entries, as the operator configuration does upstream.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import effect as selinux_effect
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.templates import (
    RECORDING_BLOCK, TEMPLATE_NAMES, TEMPLATES)
from ansible_collections.spo.security_profiles.plugins.module_utils.validation import (
    check_known_keys, expect_type, object_identity)

API_VERSIONS = (api.SELINUX_PROFILE.api_version,)
KIND = "SelinuxProfile"
RAW_KIND = "RawSelinuxProfile"
SELF = "@self"
MODES = ("Permissive", "Enforcing")
DEFAULT_INHERIT = "container"
RAW_MAX_CHARS = 500000
# How deeply a raw profile's CIL may nest lists.  Real statements need 4 levels (allowx with a range), attribute
# expressions a few more; the bound keeps every walk over the tree (and the compiler's) far from any recursion limit.
RAW_MAX_DEPTH = 32
# Attributes a raw profile may declare: the compiled policy lists each attribute's members, so this bounds the
# cost of proving what the profile does (module_utils/selinux/effect.py) to attributes x types.
RAW_MAX_ATTRIBUTES = 32

# Would let a container take over the node (SPEC): refused unless allowed.
DENIED_TYPES = frozenset(["kernel_t", "kmem_t", "security_t", "shadow_t"])
DENIED_CLASSES = frozenset(["capability", "capability2", "security", "system"])
DENIED_PERMISSIONS = frozenset(["load_policy", "mac_admin", "mounton", "relabelto", "relabelfrom",
                                "setbool", "setenforce", "setsecparam"])

# Permissions of class process that act on the target domain's processes: a transition into, or
# control of, another (global) domain would take the profile's process out of its own confinement or
# into other containers' processes.  Only @self (the profile's own type) is safe for them.
SELF_ONLY_PROCESS_PERMISSIONS = frozenset(["transition", "dyntransition", "ptrace", "setcurrent", "setexec"])
CIL_SELF = "self"

# A CIL name: starts with a letter, then letters, digits, '_' and '-'.
# Types may be qualified (``block.name``; leading '.' = global namespace).
_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
TYPE_RE = re.compile(r"\A\.?%s(\.%s)*\Z" % (_NAME, _NAME))
CLASS_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9_]*\Z")
PERM_RE = CLASS_RE
MAX_IDENTIFIER = 255
# Words CIL gives a meaning of their own inside rules and expressions.
# Block names of the node's own policy modules: a profile's block ``<name>_<namespace>`` may not be one.
RESERVED_BLOCKS = frozenset(TEMPLATE_NAMES) | frozenset([RECORDING_BLOCK])
RESERVED = frozenset(["self", "all", "and", "or", "not", "xor", "eq", "neq", "dom", "domby", "incomp", "range"])


@dataclass(frozen=True)
class Inherit:
    kind: str
    name: str


class _PolicyNames:
    """The policy (CIL block) name ``<name>_<namespace>`` and its usage type, for both kinds."""

    name: str
    namespace: str

    @property
    def policy_name(self) -> str:
        return policy_name(self.name, self.namespace)

    @property
    def usage(self) -> str:
        return self.policy_name + ".process"


@dataclass
class SelinuxProfile(_PolicyNames):
    name: str
    namespace: str
    ref: str
    inherit: List[Inherit]
    allow: Dict[str, Dict[str, List[str]]]
    permissive: bool = False
    disabled: bool = False
    kind: str = KIND


@dataclass
class RawSelinuxProfile(_PolicyNames):
    name: str
    namespace: str
    ref: str
    statements: List[Any] = field(default_factory=list)
    disabled: bool = False
    kind: str = RAW_KIND


Profile = Union[SelinuxProfile, RawSelinuxProfile]


@dataclass(frozen=True)
class Denylist:
    """What profiles may not name, and which System templates they may inherit (node settings).

    As upstream's SPOD options: the built-in denylist, minus what ``allowed`` lifts, plus what
    ``denied`` adds (a denied entry beats an allowed one); ``system_profiles`` is upstream's
    ``allowedSystemProfiles`` (default: ``container`` only).
    """
    types: frozenset = DENIED_TYPES
    classes: frozenset = DENIED_CLASSES
    permissions: frozenset = DENIED_PERMISSIONS
    system_profiles: frozenset = frozenset([DEFAULT_INHERIT])

    @classmethod
    def allowing(cls, allowed: Optional[Dict[str, Iterable[str]]] = None,
                 denied: Optional[Dict[str, Iterable[str]]] = None,
                 system_profiles: Optional[Iterable[str]] = None) -> "Denylist":
        """The SPEC denylist minus what ``allowed`` lifts, plus what ``denied`` adds."""
        allowed = allowed or {}
        denied = denied or {}
        check_known_keys(allowed, ["types", "classes", "permissions"], "", "allowed")
        check_known_keys(denied, ["types", "classes", "permissions"], "", "denied")
        for key, pattern, what in (("types", TYPE_RE, "type"), ("classes", CLASS_RE, "class"),
                                   ("permissions", PERM_RE, "permission")):
            for index, value in enumerate(denied.get(key) or ()):
                _identifier(value, pattern, what, "", "denied.%s[%d]" % (key, index))
        systems = [DEFAULT_INHERIT] if system_profiles is None else list(system_profiles)
        for index, value in enumerate(systems):
            if value not in TEMPLATE_NAMES:
                raise SpoError("unknown System template %r; known: %s" % (value, ", ".join(TEMPLATE_NAMES)),
                               field="allowed_system_profiles[%d]" % index)
        return cls(types=(DENIED_TYPES - frozenset(allowed.get("types") or ())) | frozenset(denied.get("types") or ()),
                   classes=(DENIED_CLASSES - frozenset(allowed.get("classes") or ()))
                   | frozenset(denied.get("classes") or ()),
                   permissions=(DENIED_PERMISSIONS - frozenset(allowed.get("permissions") or ()))
                   | frozenset(denied.get("permissions") or ()),
                   system_profiles=frozenset(systems))

    def words(self) -> frozenset:
        return self.types | self.classes | self.permissions


def policy_name(name: str, namespace: str) -> str:
    return "%s_%s" % (name, namespace)


def _identifier(value: Any, regex: "re.Pattern[str]", what: str, ref: str, fld: str) -> str:
    if not isinstance(value, str):
        raise SpoError("%s must be a string, got %s" % (what, type(value).__name__), ref, fld)
    if len(value) > MAX_IDENTIFIER or not regex.match(value):
        raise SpoError("%r is not a valid SELinux %s (a CIL identifier: a letter, then letters, digits, '_'%s; "
                       "no parentheses, whitespace, quotes or semicolons)"
                       % (value, what, ", '-' and '.'-separated parts" if what == "type" else ""), ref, fld)
    if value.lstrip(".") in RESERVED:
        raise SpoError("%r is a reserved CIL word, not a %s name" % (value, what), ref, fld)
    return value


_DENIED_MESSAGE = ("%s %s is not allowed (it would let a container take over the node; "
                   "allow it explicitly in the operator configuration)")


def _check_allowed(value: Any, pattern: Any, what: str, denied: Any, ref: str, fld: str) -> str:
    _identifier(value, pattern, what, ref, fld)
    if value.lstrip(".") in denied:
        raise SpoError(_DENIED_MESSAGE % (what, value), ref, fld)
    return value


def check_type(value: Any, deny: Denylist, ref: str, fld: str) -> str:
    if value == SELF:
        return value
    return _check_allowed(value, TYPE_RE, "type", deny.types, ref, fld)


def check_class(value: Any, deny: Denylist, ref: str, fld: str) -> str:
    return _check_allowed(value, CLASS_RE, "class", deny.classes, ref, fld)


def check_permission(value: Any, deny: Denylist, ref: str, fld: str) -> str:
    return _check_allowed(value, PERM_RE, "permission", deny.permissions, ref, fld)


def _identity(doc: Any, kind: str) -> Tuple[str, str, str, Dict[str, Any]]:
    namespace, name, ref = object_identity(doc, kind, API_VERSIONS)
    if "." in name:
        raise SpoError("%r may not contain '.': the name becomes a CIL block name (<name>_<namespace>)" % name,
                       ref, "metadata.name")
    if not re.match(r"\A[a-z0-9][a-z0-9-]*_[a-z0-9][a-z0-9-]*\Z", policy_name(name, namespace)):
        # defence in depth: the DNS-1123 checks above already refuse this
        raise SpoError("name and namespace must be DNS-1123 labels", ref, "metadata")
    if len(policy_name(name, namespace)) > MAX_IDENTIFIER:
        raise SpoError("name and namespace together are too long for a policy name", ref, "metadata.name")
    if policy_name(name, namespace) in RESERVED_BLOCKS:
        # the node's System template block of that name would be declared twice: the templates module (and
        # with it every profile of every tenant on the node) would no longer compile
        raise SpoError("profile %s in namespace %s would be the policy block %s, the name of a System template; "
                       "choose another profile name" % (name, namespace, policy_name(name, namespace)),
                       ref, "metadata.name")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise SpoError("spec must be a mapping", ref, "spec")
    return namespace, name, ref, spec


def parse_selinux_profile(doc: Any, deny: Optional[Denylist] = None) -> SelinuxProfile:
    """Validate a SelinuxProfile manifest; return the model (inherits not yet resolved)."""
    deny = deny or Denylist()
    namespace, name, ref, spec = _identity(doc, KIND)
    check_known_keys(spec, ["inherit", "allow", "permissive", "mode", "disabled"], ref, "spec")
    inherits: List[Inherit] = []
    raw_inherit = spec.get("inherit")
    if raw_inherit is None:
        raw_inherit = []
    expect_type(raw_inherit, (list,), "a list", ref, "spec.inherit")
    seen = set()
    for index, item in enumerate(raw_inherit):
        fld = "spec.inherit[%d]" % index
        expect_type(item, (dict,), "a mapping {kind, name}", ref, fld)
        check_known_keys(item, ["kind", "name"], ref, fld)
        kind = item.get("kind") or "System"
        if kind not in ("System", KIND):
            raise SpoError("kind must be System or SelinuxProfile, got %r" % (kind,), ref, fld + ".kind")
        iname = item.get("name")
        if kind == "System":
            if not isinstance(iname, str) or iname not in TEMPLATE_NAMES:
                raise SpoError("unknown System template %r; known: %s" % (iname, ", ".join(TEMPLATE_NAMES)),
                               ref, fld + ".name")
            if iname not in deny.system_profiles:
                raise SpoError("System template %s is not in this node's allowed system profiles (%s); a node "
                               "administrator allows it (allowed_system_profiles / allowedSystemProfiles)"
                               % (iname, ", ".join(sorted(deny.system_profiles))), ref, fld + ".name")
        else:
            if not isinstance(iname, str) or not iname or "." in iname:
                raise SpoError("must name a SelinuxProfile of namespace %s" % namespace, ref, fld + ".name")
            object_identity({"apiVersion": API_VERSIONS[0], "kind": KIND,
                             "metadata": {"name": iname, "namespace": namespace}}, KIND, API_VERSIONS)
            if iname == name:
                raise SpoError("a profile cannot inherit itself", ref, fld + ".name")
        entry = Inherit(kind, iname)
        if entry in seen:
            continue  # the same parent listed twice is inherited once (upstream deduplicates it too)
        seen.add(entry)
        inherits.append(entry)
    if not any(e.kind == KIND or e.name == DEFAULT_INHERIT for e in inherits):
        # The add-on templates (net_container, ...) extend the base: they use
        # the ``process`` type that ``container`` declares.  A SelinuxProfile
        # parent brings the base along already.
        inherits.insert(0, Inherit("System", DEFAULT_INHERIT))
    allow_in = spec.get("allow")
    if allow_in is None:
        allow_in = {}
    expect_type(allow_in, (dict,), "a mapping type -> class -> permissions", ref, "spec.allow")
    allow: Dict[str, Dict[str, List[str]]] = {}
    for tname, classes in allow_in.items():
        valid = isinstance(tname, str) and (TYPE_RE.match(tname) or tname in (SELF, CIL_SELF))
        tfield = "spec.allow.%s" % tname if valid else "spec.allow[%r]" % (tname,)
        if tname != CIL_SELF:  # CIL's own `self` (the process itself) is accepted, as upstream does
            check_type(tname, deny, ref, tfield)
        expect_type(classes, (dict,), "a mapping class -> permissions", ref, tfield)
        for cname, perms in classes.items():
            cvalid = isinstance(cname, str) and CLASS_RE.match(cname)
            cfield = "%s.%s" % (tfield, cname) if cvalid else "%s[%r]" % (tfield, cname)
            check_class(cname, deny, ref, cfield)
            expect_type(perms, (list,), "a list of permissions", ref, cfield)
            if not perms:
                raise SpoError("must list at least one permission", ref, cfield)
            for pindex, perm in enumerate(perms):
                check_permission(perm, deny, ref, "%s[%d]" % (cfield, pindex))
                if cname in ("process", "process2") and perm in SELF_ONLY_PROCESS_PERMISSIONS \
                        and tname not in (SELF, CIL_SELF, "process"):
                    raise SpoError("%s:%s on %s would let the profile's process become or control processes of "
                                   "another domain (%s); it is allowed on @self only"
                                   % (cname, perm, tname, tname), ref, "%s[%d]" % (cfield, pindex))
            allow.setdefault(tname, {})[cname] = sorted(set(perms))
    permissive = spec.get("permissive", False)
    expect_type(permissive, (bool,), "a boolean", ref, "spec.permissive")
    mode = spec.get("mode")
    if mode is not None:  # the newer field upstream: Permissive | Enforcing, the same as `permissive`
        if mode not in MODES:
            raise SpoError("must be one of %s, got %r" % (", ".join(MODES), mode), ref, "spec.mode")
        if "permissive" in spec and permissive != (mode == "Permissive"):
            raise SpoError("mode %s contradicts permissive: %s; give one of them" % (mode, str(permissive).lower()),
                           ref, "spec.mode")
        permissive = mode == "Permissive"
    disabled = spec.get("disabled", False)
    expect_type(disabled, (bool,), "a boolean", ref, "spec.disabled")
    return SelinuxProfile(name=name, namespace=namespace, ref=ref, inherit=inherits, allow=allow,
                          permissive=permissive, disabled=disabled)


# ---------------------------------------------------------------- raw CIL

# Statements a RawSelinuxProfile body may contain: all stay inside the
# profile's own block (declarations are namespaced by it; rules name types).
RAW_STATEMENTS = frozenset([
    "allow", "auditallow", "dontaudit", "neverallow", "allowx", "auditallowx", "dontauditx", "neverallowx",
    "type", "typealias", "typealiasactual", "typeattribute", "typeattributeset", "expandtypeattribute",
    "roletype", "typepermissive", "typetransition", "typechange", "typemember", "blockinherit",
])
_SYMBOL_RE = re.compile(r"\A[A-Za-z0-9_.@*-]+\Z")
_STRING_RE = re.compile(r'\A"[A-Za-z0-9_.-]*"\Z')
_TOKEN_RE = re.compile(r'\s+|;[^\n]*|\(|\)|"[^"\n]*"|[^\s()";]+|.', re.S)


def tokenize_cil(text: str, ref: str, fld: str) -> List[Any]:
    """Parse CIL text into nested lists of symbols (comments dropped).

    Refuses unbalanced parentheses, nesting deeper than :data:`RAW_MAX_DEPTH`, symbols outside
    ``[A-Za-z0-9_.@*-]`` and quoted strings other than plain names.
    """
    stack: List[List[Any]] = [[]]
    line = 1
    for match in _TOKEN_RE.finditer(text):
        tok = match.group(0)
        where = "line %d" % line
        line += tok.count("\n")
        if tok.isspace() or tok.startswith(";"):
            continue
        if tok == "(":
            if len(stack) > RAW_MAX_DEPTH:
                raise SpoError("nests lists more than %d levels deep at %s" % (RAW_MAX_DEPTH, where), ref, fld)
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise SpoError("unbalanced parentheses: ')' without '(' at %s" % where, ref, fld)
            done = stack.pop()
            stack[-1].append(done)
        elif tok.startswith('"'):
            if not _STRING_RE.match(tok):
                raise SpoError("string %s at %s: only plain names are allowed in quotes" % (tok, where), ref, fld)
            stack[-1].append(tok)
        elif _SYMBOL_RE.match(tok):
            stack[-1].append(tok)
        else:
            raise SpoError("unexpected %r at %s (only CIL lists, symbols and plain strings are allowed)"
                           % (tok[:20], where), ref, fld)
    if len(stack) != 1:
        raise SpoError("unbalanced parentheses: %d '(' not closed" % (len(stack) - 1), ref, fld)
    return stack[0]


def _walk_symbols(node: Any) -> Iterable[str]:
    if isinstance(node, list):
        for child in node:
            yield from _walk_symbols(child)
    else:
        yield node


def parse_raw_cil(text: Any, deny: Denylist, ref: str, fld: str = "spec.policy") -> List[Any]:
    """Validate a RawSelinuxProfile body; return its statements as a token tree."""
    if not isinstance(text, str):
        raise SpoError("must be a string of CIL statements", ref, fld)
    if len(text) > RAW_MAX_CHARS:
        raise SpoError("is %d characters long; at most %d allowed" % (len(text), RAW_MAX_CHARS), ref, fld)
    tree = tokenize_cil(text, ref, fld)
    if not tree:
        raise SpoError("has no CIL statements", ref, fld)
    attributes = sum(1 for stmt in tree if isinstance(stmt, list) and stmt and stmt[0] == "typeattribute")
    if attributes > RAW_MAX_ATTRIBUTES:
        raise SpoError("declares %d attributes; at most %d allowed" % (attributes, RAW_MAX_ATTRIBUTES), ref, fld)
    words = deny.words()
    for index, stmt in enumerate(tree):
        sfield = "%s statement %d" % (fld, index + 1)
        if not isinstance(stmt, list) or not stmt or not isinstance(stmt[0], str):
            raise SpoError("every top-level item must be a CIL statement (keyword ...), got %r" % (stmt,), ref, sfield)
        keyword = stmt[0]
        if keyword not in RAW_STATEMENTS:
            raise SpoError("statement %r is not allowed: only statements that stay inside the profile's own block "
                           "(%s)" % (keyword, ", ".join(sorted(RAW_STATEMENTS))), ref, sfield)
        for symbol in _walk_symbols(stmt[1:]):
            if symbol.startswith('"'):
                continue
            if symbol.lstrip(".") in words:
                raise SpoError("%s is not allowed (it would let a container take over the node; "
                               "allow it explicitly in the operator configuration)" % symbol, ref, sfield)
            if symbol.lstrip(".") in ("block", "in", "macro", "call"):
                raise SpoError("%s may not appear in a raw profile" % symbol, ref, sfield)
    _check_locality(tree, ref, fld)
    return tree


# Where a raw statement would change a type or attribute for the whole node, not only inside the
# profile's block (e.g. ``(typepermissive container_t)`` makes every container permissive): the
# positions that must name a LOCAL type/attribute, i.e. one the body declares (``type``,
# ``typeattribute``, ``typealias``) or a System template it inherits declares (``process``,
# ``socket``).  Unqualified names only: CIL resolves a name the block does not declare globally.
_LOCAL_POSITIONS = {
    "typepermissive": (1,), "typeattributeset": (1, 2), "expandtypeattribute": (1,),
    "typealiasactual": (1, 2), "roletype": (2,),
    "allow": (1,), "auditallow": (1,), "dontaudit": (1,), "neverallow": (1,),
    "allowx": (1,), "auditallowx": (1,), "dontauditx": (1,), "neverallowx": (1,),
    "typetransition": (1,), "typechange": (1,), "typemember": (1,),
}
_DECLARATIONS = ("type", "typeattribute", "typealias")
_EXPRESSION_OPERATORS = frozenset(["and", "or", "not", "xor"])
_TEMPLATE_DECLARED = {
    name: frozenset(re.findall(r"^\s*\((?:type|typeattribute) ([A-Za-z0-9_]+)\)", text, re.M))
    for name, text in TEMPLATES.items()
}


def _check_locality(tree: List[Any], ref: str, fld: str) -> None:
    """Refuse raw statements that change a type or attribute outside the profile's own block."""
    local = set()
    for index, stmt in enumerate(tree):
        if stmt[0] in _DECLARATIONS:
            if len(stmt) != 2 or not isinstance(stmt[1], str) or "." in stmt[1]:
                raise SpoError("%s declares one unqualified name (no '.'), got %s"
                               % (stmt[0], " ".join(map(str, stmt[1:]))), ref, "%s statement %d" % (fld, index + 1))
            local.add(stmt[1])
        elif stmt[0] == "blockinherit" and len(stmt) == 2:
            local.update(_TEMPLATE_DECLARED.get(stmt[1], ()))
    for index, stmt in enumerate(tree):
        for position in _LOCAL_POSITIONS.get(stmt[0], ()):
            if position >= len(stmt):
                continue
            names = list(_walk_symbols(stmt[position]))
            if stmt[0] == "expandtypeattribute" or (stmt[0] == "typeattributeset" and position == 2):
                names = [n for n in names if n not in _EXPRESSION_OPERATORS]
            for symbol in names:
                if symbol not in local:
                    raise SpoError(
                        "%s names %s, which the profile does not declare: it would change %s for the whole node "
                        "(e.g. every container), not only inside the profile; only the profile's own types and "
                        "attributes (declared in it, or process/socket of an inherited System template) may appear "
                        "there" % (stmt[0], symbol, "everything" if symbol == "all" else "that global type"),
                        ref, "%s statement %d" % (fld, index + 1))


def parse_raw_profile(doc: Any, deny: Optional[Denylist] = None) -> RawSelinuxProfile:
    deny = deny or Denylist()
    namespace, name, ref, spec = _identity(doc, RAW_KIND)
    check_known_keys(spec, ["policy", "disabled"], ref, "spec")
    disabled = spec.get("disabled", False)
    expect_type(disabled, (bool,), "a boolean", ref, "spec.disabled")
    statements = parse_raw_cil(spec.get("policy"), deny, ref)
    for index, stmt in enumerate(statements):
        if stmt[0] == "blockinherit" and len(stmt) == 2 and stmt[1] in TEMPLATE_NAMES \
                and stmt[1] not in deny.system_profiles:
            raise SpoError("System template %s is not in this node's allowed system profiles (%s)"
                           % (stmt[1], ", ".join(sorted(deny.system_profiles))), ref,
                           "spec.policy statement %d" % (index + 1))
    # the syntax checks above are the fast first line; the compiled policy proves what the body does
    selinux_effect.prove_raw(policy_name(name, namespace), statements, tokenize_cil, ref)
    return RawSelinuxProfile(name=name, namespace=namespace, ref=ref, statements=statements, disabled=disabled)


def parse_profile(doc: Any, deny: Optional[Denylist] = None) -> Profile:
    kind = doc.get("kind") if isinstance(doc, dict) else None
    if kind == RAW_KIND:
        return parse_raw_profile(doc, deny)
    return parse_selinux_profile(doc, deny)


def parse_profiles(docs: Sequence[Any], deny: Optional[Denylist] = None) -> List[Profile]:
    """Validate many manifests and resolve their inherits among themselves.

    Returns the profiles ordered so that parents come before children.
    """
    profiles: List[Profile] = []
    by_policy: Dict[str, Profile] = {}
    for index, doc in enumerate(docs):
        try:
            profile = parse_profile(doc, deny)
        except SpoError as exc:
            raise exc.within(field_prefix=None if exc.obj else "definition[%d]" % index)
        if profile.policy_name in by_policy:
            raise SpoError("given more than once", profile.ref)
        by_policy[profile.policy_name] = profile
        profiles.append(profile)
    return resolve_inherits(profiles)


def resolve_inherits(profiles: Sequence[Profile]) -> List[Profile]:
    """Check SelinuxProfile inherits resolve (same namespace) without cycles; parents first."""
    by_policy = {p.policy_name: p for p in profiles}
    ordered: List[Profile] = []
    state: Dict[str, int] = {}  # 1 visiting, 2 done

    def visit(profile: Profile, chain: List[str]) -> None:
        key = profile.policy_name
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            cycle = chain[chain.index(profile.ref):] + [profile.ref]
            raise SpoError("inherit cycle: %s" % " -> ".join(cycle), profile.ref, "spec.inherit")
        state[key] = 1
        if isinstance(profile, SelinuxProfile):
            for index, entry in enumerate(profile.inherit):
                if entry.kind != KIND:
                    continue
                parent = by_policy.get(policy_name(entry.name, profile.namespace))
                if parent is None or not isinstance(parent, SelinuxProfile):
                    raise SpoError("inherits SelinuxProfile %s/%s, which is not among the given profiles"
                                   % (profile.namespace, entry.name), profile.ref, "spec.inherit[%d].name" % index)
                visit(parent, chain + [profile.ref])
        state[key] = 2
        if isinstance(profile, SelinuxProfile):
            # a System template a parent (transitively) inherits is not inherited again: the block would
            # be declared twice (`Re-declaration of type process`); upstream drops `container` likewise
            through_parents = set()
            for entry in profile.inherit:
                if entry.kind == KIND:
                    through_parents |= systems[policy_name(entry.name, profile.namespace)]
            profile.inherit = [e for e in profile.inherit if e.kind == KIND or e.name not in through_parents]
            systems[key] = through_parents | {e.name for e in profile.inherit if e.kind != KIND}
        ordered.append(profile)

    systems: Dict[str, set] = {}
    for profile in profiles:
        visit(profile, [])
    return ordered
