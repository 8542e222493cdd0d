# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a RawSelinuxProfile DOES, proven on the compiled policy (the second line after the syntax checks).

The syntax checks (module_utils/selinux/model.py) refuse the statements known to reach outside the profile;
this module closes the class: the profile is compiled by the CIL compiler (``secil2conf``, package
secilc) together with a small base policy, the System templates, the container-selinux stand-in and
declarations of every name the profile references, once with its body and once with only its
``blockinherit`` statements.  The two policies (kernel policy language, every name resolved, every
attribute expression expanded to its member types) are compared.  What the body adds must be its own:

* every type and attribute added is declared in the profile's block;
* a global type joins no attribute; a global attribute gains only the profile's own types;
* every rule added (allow, auditallow, dontaudit, neverallow, their xperm forms, type_transition,
  type_change, type_member) has a source made only of the profile's own types (attributes expanded);
* no rule added gives class ``process`` ``transition``/``dyntransition``/``ptrace``/``setexec``/
  ``setcurrent`` onto a type that is not its own, and no process type_transition/type_change names
  another domain;
* only the profile's own types become permissive or join a role; an alias it adds names its own type.

Cost: two compiler runs of a policy the size of the profile (tens of milliseconds for common profiles,
about 6 s for 11000 rules; bounded by the profile's 500000 characters, at most
``selinux.RAW_MAX_ATTRIBUTES`` attributes, which bounds the expanded output, and :data:`TIMEOUT`).  Without the compiler a raw profile cannot be
proven and is refused (fail closed), saying so.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.templates import (
    COMPAT_CIL, templates_cil)

TIMEOUT = 30.0
TIMED_OUT = -1
COMPILER = "secil2conf"
SELF_ONLY_PROCESS_PERMISSIONS = frozenset(["transition", "dyntransition", "ptrace", "setcurrent", "setexec"])
PROCESS_CLASSES = frozenset(["process", "process2"])
PROBE_CLASS, PROBE_PERMISSION = "spo_effect_probe", "member"
_OPERATORS = frozenset(["and", "or", "not", "xor", "all", "range", "self"])

# The smallest complete MLS policy CIL accepts; ``t`` is a global type of it.
BASE = """\
(handleunknown allow)
(mls true)
(sid kernel)
(sidorder (kernel))
(user u)
(role r)
(role system_r)
(type t)
(userrole u r)
(userrole u system_r)
(roletype r t)
(sensitivity s0)
(sensitivityorder (s0))
(category c0)
(categoryorder (c0))
(sensitivitycategory s0 (c0))
(userlevel u (s0))
(userrange u ((s0) (s0 (c0))))
(sidcontext kernel (u r t ((s0) (s0))))
"""
BASE_DECLARED = frozenset(["t"])
BASE_ROLES = frozenset(["r", "system_r", "object_r"])

# statement -> positions naming types/attributes, and the position of its class (or class-permissions)
_TYPE_POSITIONS = {
    "allow": (1, 2), "auditallow": (1, 2), "dontaudit": (1, 2), "neverallow": (1, 2),
    "allowx": (1, 2), "auditallowx": (1, 2), "dontauditx": (1, 2), "neverallowx": (1, 2),
    "typetransition": (1, 2, -1), "typechange": (1, 2, 4), "typemember": (1, 2, 4),
    "typeattributeset": (1, 2), "typealiasactual": (1, 2), "roletype": (2,), "typepermissive": (1,),
    "expandtypeattribute": (1,), "typebounds": (1, 2),
}
_AV = ("allow", "auditallow", "dontaudit", "neverallow")
_XPERM = ("allowx", "auditallowx", "dontauditx", "neverallowx")


def _symbols(node: Any) -> Iterable[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not item.startswith('"'):
            yield item


@dataclass
class _Refs:
    names: Set[str] = field(default_factory=set)
    attributes: Set[str] = field(default_factory=set)
    declared: Set[str] = field(default_factory=set)
    classes: Dict[str, Set[str]] = field(default_factory=dict)
    roles: Set[str] = field(default_factory=set)

    def walk(self, statements: List[Any], top: bool) -> None:
        for stmt in statements:
            if not isinstance(stmt, list) or not stmt or not isinstance(stmt[0], str):
                continue
            word = stmt[0]
            if word == "block" and len(stmt) > 2:
                self.walk(stmt[2:], False)
                continue
            if word in ("type", "typeattribute", "typealias") and len(stmt) == 2 and isinstance(stmt[1], str):
                if top:
                    self.declared.add(stmt[1])
                continue
            if word == "typeattributeset" and len(stmt) > 1 and isinstance(stmt[1], str):
                self.attributes.add(stmt[1])
            for position in _TYPE_POSITIONS.get(word, ()):
                if -len(stmt) <= position < len(stmt):
                    self.names.update(s for s in _symbols(stmt[position]) if s not in _OPERATORS)
            if word == "roletype" and len(stmt) == 3 and isinstance(stmt[1], str):
                self.roles.add(stmt[1])
            if word in _AV and len(stmt) == 4 and isinstance(stmt[3], list) and stmt[3] \
                    and isinstance(stmt[3][0], str):
                perms = self.classes.setdefault(stmt[3][0], set())
                perms.update(s for s in _symbols(stmt[3][1:]) if s not in _OPERATORS)
            if word in _XPERM and len(stmt) == 4 and isinstance(stmt[3], list) and len(stmt[3]) > 1 \
                    and all(isinstance(x, str) for x in stmt[3][:2]):
                self.classes.setdefault(stmt[3][1], set()).add(stmt[3][0])
            if word in ("typetransition", "typechange", "typemember") and len(stmt) > 3 \
                    and isinstance(stmt[3], str):
                self.classes.setdefault(stmt[3], set())


def support_policy(system_texts: List[str], block: str, statements: List[Any],
                   tokenize: Any) -> str:
    """Declarations of every global type, attribute, class, permission and role the modules reference."""
    refs = _Refs()
    for text in system_texts:
        refs.walk(tokenize(text, "support", "cil"), True)
    global_declared = set(refs.declared) | set(BASE_DECLARED)
    refs.declared = set()
    body = _Refs()
    body.walk(statements, False)
    local = {s[1] for s in statements if isinstance(s, list) and len(s) == 2 and s[0] in
             ("type", "typeattribute", "typealias") and isinstance(s[1], str)} | {"process", "socket"}
    names = (refs.names | body.names) - global_declared
    attributes = refs.attributes - global_declared
    for name, perms in body.classes.items():
        refs.classes.setdefault(name, set()).update(perms)
    lines: List[str] = []
    nested: Dict[str, Set[str]] = {}
    for name in sorted(names):
        if name.startswith("."):
            name = name[1:]
            if name in global_declared or "." in name:
                continue
        elif "." in name:
            head, _dot, rest = name.partition(".")
            if head != block and "." not in rest:
                nested.setdefault(head, set()).add(rest)
            continue
        elif name in local:
            continue
        if name in attributes:
            lines.append("(typeattribute %s)" % name)
            lines.append("(typeattributeset %s (t))" % name)  # never empty of global types
        elif name not in global_declared:
            lines.append("(type %s)" % name)
            lines.append("(roletype system_r %s)" % name)
        global_declared.add(name)
    for head in sorted(nested):
        lines.append("(block %s %s)" % (head, " ".join("(type %s)" % n for n in sorted(nested[head]))))
    for role in sorted((refs.roles | body.roles) - BASE_ROLES):
        lines.append("(role %s)" % role)
    classes = {name: perms for name, perms in refs.classes.items() if name not in _OPERATORS}
    for name in sorted(classes):
        lines.append("(class %s (%s))" % (name, " ".join(sorted(classes[name])) or "getattr"))
    lines.append("(classorder (%s))" % " ".join(sorted(classes)))
    return "\n".join(lines) + "\n"


def compile_conf(modules: List[str], timeout: float = TIMEOUT) -> Tuple[int, str, str]:
    """Compile CIL ``modules`` with secil2conf: (returncode, policy.conf text, compiler messages).

    The modules are handed over as one in-memory file and the policy read from the compiler's stdout, so
    the proof writes nothing to disk (the node agent's root filesystem may be read-only)."""
    compiler = shutil.which(COMPILER)
    if compiler is None:
        raise SpoError("cannot prove what the raw policy does: %s (package secilc) is not installed on this host; "
                       "RawSelinuxProfiles are refused until it is" % COMPILER)
    data = "\n".join(modules).encode("utf-8")
    try:
        fd = os.memfd_create("spo-effect")
    except (AttributeError, OSError):
        return _compile_from_file(compiler, data, timeout)
    try:
        os.write(fd, data)
        source = "/proc/self/fd/%d" % fd
        return _run(compiler, source, timeout, pass_fds=(fd,))
    finally:
        os.close(fd)


def _compile_from_file(compiler: str, data: bytes, timeout: float) -> Tuple[int, str, str]:
    try:
        handle = tempfile.NamedTemporaryFile(prefix="spo-effect-", suffix=".cil")
    except OSError as exc:
        raise SpoError("cannot prove what the raw policy does: no place for the compiler's input (%s)" % exc)
    with handle:
        handle.write(data)
        handle.flush()
        return _run(compiler, handle.name, timeout)


def _run(compiler: str, source: str, timeout: float, pass_fds: Tuple[int, ...] = ()) -> Tuple[int, str, str]:
    try:
        proc = subprocess.run([compiler, "-o", "/dev/stdout", source], capture_output=True, check=False,
                              timeout=timeout, pass_fds=pass_fds)
    except subprocess.TimeoutExpired:
        return TIMED_OUT, "", "the CIL compiler did not finish within %d s" % timeout
    except OSError as exc:
        raise SpoError("cannot prove what the raw policy does: cannot run %s: %s" % (compiler, exc))
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace").replace(source, "policy")
    if proc.returncode != 0:
        return proc.returncode, "", (err + out.replace(source, "policy"))
    return 0, out, err


_RULE_KEYWORDS = frozenset(["allow", "auditallow", "dontaudit", "neverallow", "allowxperm", "auditallowxperm",
                            "dontauditxperm", "neverallowxperm", "type_transition", "type_change", "type_member"])
_WORD_RE = re.compile(r'"[^"]*"|[{}~*:;,]|[^\s{}~*:;,"]+')


@dataclass
class PolicyView:
    """The parts of a policy.conf (secil2conf's output) that say who may do what."""
    types: Set[str] = field(default_factory=set)
    attributes: Set[str] = field(default_factory=set)
    members: Dict[str, Set[str]] = field(default_factory=dict)   # attribute -> types
    aliases: Dict[str, str] = field(default_factory=dict)        # alias -> type
    permissive: Set[str] = field(default_factory=set)
    role_types: Set[Tuple[str, str]] = field(default_factory=set)
    rules: Set[Tuple[str, ...]] = field(default_factory=set)

    @classmethod
    def parse(cls, conf: str) -> "PolicyView":
        view = cls()
        for line in conf.splitlines():
            words = _WORD_RE.findall(line)
            if not words:
                continue
            head = words[0]
            if head == "type" and len(words) >= 3:
                view.types.add(words[1])
            elif head == "attribute" and len(words) >= 3:
                view.attributes.add(words[1])
            elif head == "typeattribute" and len(words) >= 4:
                for attr in words[2:-1]:
                    if attr != ",":
                        view.members.setdefault(attr, set()).add(words[1])
            elif head == "typealias" and len(words) >= 5 and words[2] == "alias":
                for alias in words[3:-1]:
                    if alias not in ("{", "}"):
                        view.aliases[alias] = words[1]
            elif head == "permissive" and len(words) >= 3:
                view.permissive.add(words[1])
            elif head == "role" and len(words) >= 4 and words[2] == "types":
                for name in words[3:-1]:
                    if name not in ("{", "}"):
                        view.role_types.add((words[1], name))
            elif head in _RULE_KEYWORDS:
                view.rules.add(tuple(words[:-1] if words[-1] == ";" else words))
        return view

    def expand(self, name: str) -> Set[str]:
        name = self.aliases.get(name, name)
        if name in self.attributes:
            # an attribute whose members the output does not show stands for itself (never taken as empty)
            return set(self.members.get(name, ())) or {name}
        return {name}


def _rule_parts(rule: Tuple[str, ...]) -> Tuple[str, str, str, List[str]]:
    """(source, target, class, rest) of a rule's words (single names: secil2conf writes CIL's one name each)."""
    colon = rule.index(":")
    return rule[1], rule[2], rule[colon + 1], [w for w in rule[colon + 2:] if w not in ("{", "}")]


def check_effect(block: str, baseline: PolicyView, policy: PolicyView) -> Optional[str]:
    """Why ``policy`` (with the profile's body) reaches outside block ``block``, or None."""
    prefix = block + "."

    def own(name: str) -> bool:
        return name.startswith(prefix)

    def describe(names: Iterable[str]) -> str:
        shown = sorted(names)
        return ", ".join(shown[:5]) + (" and %d more" % (len(shown) - 5) if len(shown) > 5 else "")

    for name in sorted((policy.types - baseline.types) | (policy.attributes - baseline.attributes)):
        if not own(name):
            return "it declares %s outside its own block" % name
    for alias, actual in sorted(policy.aliases.items()):
        if baseline.aliases.get(alias) != actual and not own(actual):
            return "alias %s names %s, a type that is not the profile's own" % (alias, actual)
    for attr in sorted(policy.attributes):
        added = policy.members.get(attr, set()) - baseline.members.get(attr, set())
        if own(attr):
            continue
        strangers = {t for t in added if not own(t)}
        if strangers:
            return "it adds %s to the global attribute %s" % (describe(strangers), attr)
    for name in sorted(policy.permissive - baseline.permissive):
        if not own(name):
            return "it makes %s permissive, a type that is not the profile's own" % name
    for role, name in sorted(policy.role_types - baseline.role_types):
        if not own(name):
            return "it gives role %s the type %s, which is not the profile's own" % (role, name)
    for rule in sorted(policy.rules - baseline.rules):
        source, target, cls, rest = _rule_parts(rule)
        if cls == PROBE_CLASS:
            continue
        text = " ".join(rule)
        sources = policy.expand(source)
        strangers = {t for t in sources if not own(t)}
        if strangers:
            return ("its rule `%s` applies to %s, not only to the profile's own types (the source covers "
                    "types of the whole node)" % (text, describe(strangers)))
        if cls in PROCESS_CLASSES:
            targets = sources if target == "self" else policy.expand(target)
            if rule[0] in ("type_transition", "type_change", "type_member"):
                targets = policy.expand(rest[0]) if rest else set()
                perms = {"transition"}
            else:
                perms = set(rest) & SELF_ONLY_PROCESS_PERMISSIONS
            foreign = {t for t in targets if not own(t)}
            if perms and foreign and not rule[0].startswith("neverallow") and not rule[0].startswith("dontaudit"):
                return ("its rule `%s` gives the profile's process %s over %s, not its own domain"
                        % (text, "/".join(sorted(perms)), describe(foreign)))
    return None


def render(node: Any) -> str:
    """A token tree as CIL text (the same rendering as module_utils/selinux/cil.py)."""
    if isinstance(node, list):
        return "(" + " ".join(render(child) for child in node) + ")"
    return node


_PROVEN: "OrderedDict[Tuple[str, str], Optional[str]]" = OrderedDict()
_PROVEN_MAX = 4096
_PROVEN_LOCK = threading.Lock()


def prove_raw(block: str, statements: List[Any], tokenize: Any, ref: str, fld: str = "spec.policy") -> None:
    """Compile the raw profile ``block`` (statements: its validated token tree) and refuse what reaches outside.

    Results are remembered per (block, body): the node agent validates a profile again at every event."""
    key = (block, "\n".join(render(s) for s in statements))
    with _PROVEN_LOCK:
        known = key in _PROVEN
        reason = _PROVEN.get(key)
    if not known:
        try:
            reason = _reason(block, statements, tokenize)
        except SpoError as exc:  # no compiler, or it timed out: not remembered
            raise SpoError(exc.message, ref, fld)
        with _PROVEN_LOCK:
            _PROVEN[key] = reason
            while len(_PROVEN) > _PROVEN_MAX:
                _PROVEN.popitem(last=False)
    if reason:
        raise SpoError(reason, ref, fld)


def _reason(block: str, statements: List[Any], tokenize: Any) -> Optional[str]:
    system = [templates_cil(), COMPAT_CIL]
    support = support_policy(system, block, statements, tokenize)
    inherits = [s for s in statements if s and s[0] == "blockinherit"]

    def module(stmts: List[Any]) -> str:
        return "(block %s\n%s)\n" % (block, "\n".join("    " + render(s) for s in stmts))

    # secil2conf writes an attribute's members only when an AV rule uses it: one probe rule per attribute (the
    # global ones in both policies, the body's own in its policy) makes every member visible in both, so a
    # rule of the body that merely names a global attribute is not taken for a change of its members (the
    # probe class is not part of any real policy, and its rules are not judged)
    def probe(name: str) -> str:
        return "(allow %s %s (%s (%s)))" % (name, name, PROBE_CLASS, PROBE_PERMISSION)

    global_attributes = re.findall(r"^\(typeattribute ([A-Za-z0-9_.-]+)\)$", support + COMPAT_CIL, re.M)
    support += "(class %s (%s))\n(classorder (unordered %s))\n%s\n" % (
        PROBE_CLASS, PROBE_PERMISSION, PROBE_CLASS, "\n".join(probe(name) for name in global_attributes))
    probes = [["allow", s[1], s[1], [PROBE_CLASS, [PROBE_PERMISSION]]] for s in statements
              if len(s) == 2 and s[0] == "typeattribute" and isinstance(s[1], str)]
    code, base_conf, messages = compile_conf([BASE, support] + system + [module(inherits)])
    if code != 0:
        return "the System templates it inherits do not compile: %s" % messages.strip()[-500:]
    code, conf, messages = compile_conf([BASE, support] + system + [module(statements + probes)])
    if code == TIMED_OUT:  # remembered like any other answer: the same body costs the same next time
        return "cannot prove what the raw policy does: %s (it is too costly)" % messages
    if code != 0:
        return "the CIL compiler refuses it: %s" % messages.strip()[-500:]
    reason = check_effect(block, PolicyView.parse(base_conf), PolicyView.parse(conf))
    return "reaches outside its own profile: %s" % reason if reason else None
