# -*- coding: utf-8 -*-
"""Generated CIL compiles with the real CIL compiler (secilc) — property tests.

secilc needs a complete policy, so each check compiles the generated module
together with a tiny base policy of our own plus declarations of every type,
attribute, class and permission the modules reference (derived from the CIL
itself with the project's tokenizer).  One compile takes milliseconds.
"""
from __future__ import annotations

import os
import subprocess
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import require_tools

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

API = "security-profiles-operator.x-k8s.io/v1alpha2"

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
LOCAL = {"process", "socket", "self"}
BASE_TYPES = {"t"}  # declared by BASE: a profile may name it, the support policy must not declare it again
TEMPLATE_BLOCKS = set(selinux_templates.TEMPLATE_NAMES)


def _walk(tree, found):
    for stmt in tree:
        if not isinstance(stmt, list) or not stmt:
            continue
        if stmt[0] == "block":
            _walk(stmt[2:], found)
        elif stmt[0] == "allow":
            src, tgt, perm = stmt[1:]
            found["types"].update(x for x in (src, tgt) if isinstance(x, str))
            found["classes"].setdefault(perm[0], set()).update(perm[1])
        elif stmt[0] == "typeattributeset":
            found["attributes"].add(stmt[1])
        elif stmt[0] in ("type", "typeattribute") and len(stmt) == 2:
            found["declared"].add(stmt[1])
        elif stmt[0] == "blockinherit":
            found["inherits"].add(stmt[1])


def support_policy(modules):
    """Declarations for everything ``modules`` (CIL texts) reference but do not declare."""
    found = {"types": set(), "classes": {}, "attributes": set(), "declared": set(), "inherits": set()}
    for text in modules:
        _walk(selinux.tokenize_cil(text, "test", "cil"), found)
    lines = []
    for attr in sorted(found["attributes"] - found["declared"]):
        lines.append("(typeattribute %s)" % attr)
    for name in sorted(found["types"] - found["declared"] - found["attributes"] - LOCAL - BASE_TYPES):
        if "." in name:
            continue  # qualified: a block-local type (declared by its block)
        lines.append("(type %s)" % name)
        lines.append("(roletype system_r %s)" % name)
    for cls in sorted(found["classes"]):
        lines.append("(class %s (%s))" % (cls, " ".join(sorted(found["classes"][cls]))))
    lines.append("(classorder (%s))" % " ".join(sorted(found["classes"])))
    return "\n".join(lines) + "\n"


def write_cil(modules, tmp):
    """BASE + support + modules as numbered .cil files in ``tmp``; their paths, in order."""
    paths = []
    for index, text in enumerate([BASE, support_policy(modules)] + modules):
        path = os.path.join(tmp, "%02d.cil" % index)
        with open(path, "w") as handle:
            handle.write(text)
        paths.append(path)
    return paths


def secilc(modules):
    """Compile BASE + support + modules; return (returncode, output)."""
    modules = list(modules)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_cil(modules, tmp)
        proc = subprocess.run(["secilc", "-o", os.path.join(tmp, "policy"), "-f", "/dev/null"] + paths,
                              capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout + proc.stderr


SYSTEM = list(selinux_templates.system_modules(compat=True).values())
ALL_TEMPLATES = selinux.Denylist.allowing(system_profiles=selinux_templates.TEMPLATE_NAMES)


@pytest.fixture(autouse=True)
def _secilc():
    require_tools("secilc")


def profile(name, allow, inherit=None, permissive=False, namespace="ns"):
    spec = {"allow": allow, "permissive": permissive}
    if inherit is not None:
        spec["inherit"] = inherit
    return {"apiVersion": API, "kind": "SelinuxProfile", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_templates_compat_and_all_template_users_compile():
    users = [selinux_cil.profile_cil(p) for p in selinux.parse_profiles([
        profile("every", {"var_log_t": {"file": ["read"]}}, inherit=[{"name": n} for n in selinux_templates.TEMPLATE_NAMES]),
        profile("child", {"@self": {"file": ["write"]}}, inherit=[{"kind": "SelinuxProfile", "name": "every"}],
                permissive=True),
    ], ALL_TEMPLATES)]
    rc, out = secilc(SYSTEM + users)
    assert rc == 0, out


def test_compiler_catches_what_it_should():
    # the harness is not a rubber stamp: an undeclared reference fails
    text = selinux_cil.profile_cil(selinux.parse_profile(profile("p", {"var_log_t": {"file": ["read"]}})))
    rc, out = secilc(SYSTEM + [text, "(block stray (type process) (allow process undeclared_t (file (read))))\n"
                               .replace("undeclared_t", "process.nothing")])
    assert rc != 0, out


_name = st.from_regex(r"\A[a-z][a-z0-9_]{0,12}\Z")
_types = _name.filter(lambda n: n not in LOCAL | TEMPLATE_BLOCKS | selinux.RESERVED and not n.startswith("container"))
_perm = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(lambda n: n not in selinux.RESERVED)
_class = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z").filter(lambda n: n not in selinux.RESERVED)
_allow = st.dictionaries(st.one_of(_types, st.just("@self")),
                         st.dictionaries(_class, st.lists(_perm, min_size=1, max_size=8), min_size=1, max_size=3),
                         max_size=4)
_inherit = st.lists(st.sampled_from(selinux_templates.TEMPLATE_NAMES), unique=True, max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allow=_allow, inherit=_inherit, permissive=st.booleans())
@example(allow={"t": {"a": ["a"]}}, inherit=[], permissive=False)  # a type the harness's BASE declares
def test_any_accepted_profile_compiles(allow, inherit, permissive):
    doc = profile("gen", allow, inherit=[{"name": n} for n in inherit] or None, permissive=permissive)
    try:
        parsed = selinux.parse_profile(doc, ALL_TEMPLATES)
    except SpoError:
        return  # refused (denylist, reserved word, ...): nothing to compile
    text = selinux_cil.profile_cil(parsed)
    assert selinux_cil.profile_cil(selinux.parse_profile(doc, ALL_TEMPLATES)) == text  # deterministic
    rc, out = secilc(SYSTEM + [text])
    assert rc == 0, text + out


_syntax = st.text(alphabet="()\"; \t\n", min_size=1, max_size=3)


@settings(max_examples=150, deadline=None)
@given(prefix=st.text(alphabet="abc_", max_size=4), bad=_syntax, suffix=st.text(alphabet="abc_", max_size=4),
       where=st.sampled_from(["type", "class", "perm", "inherit", "name"]))
def test_identifier_carrying_cil_syntax_is_rejected(prefix, bad, suffix, where):
    ident = "a" + prefix + bad + suffix
    allow = {"var_log_t": {"file": ["read"]}}
    inherit = None
    name = "gen"
    if where == "type":
        allow = {ident: {"file": ["read"]}}
    elif where == "class":
        allow = {"var_log_t": {ident: ["read"]}}
    elif where == "perm":
        allow = {"var_log_t": {"file": [ident]}}
    elif where == "inherit":
        inherit = [{"name": ident}]
    else:
        name = ident
    with pytest.raises(SpoError):
        selinux.parse_profile(profile(name, allow, inherit=inherit))


def test_parent_and_system_container_compile_once():
    """A child listing {kind: System, name: container} next to a SelinuxProfile parent compiled as
    `Re-declaration of type process` before; the parent's template is now not inherited again."""
    docs = [profile("parent", {"var_log_t": {"file": ["read"]}}),
            profile("child", {"etc_t": {"file": ["read"]}}, inherit=[{"kind": "SelinuxProfile", "name": "parent"},
                                                                     {"kind": "System", "name": "container"}])]
    texts = [selinux_cil.profile_cil(p) for p in selinux.parse_profiles(docs)]
    rc, out = secilc(SYSTEM + texts)
    assert rc == 0, out


def test_self_in_a_parent_is_the_parents_type(tmp_path):
    """Upstream: @self names the profile's own usage type, so a child inheriting the parent's
    `@self` rule gets access to the PARENT's type, not to itself."""
    require_tools("sesearch")
    docs = [profile("parent", {"@self": {"file": ["read"]}}),
            profile("child", {}, inherit=[{"kind": "SelinuxProfile", "name": "parent"}])]
    texts = [selinux_cil.profile_cil(p) for p in selinux.parse_profiles(docs)]
    modules = SYSTEM + texts
    paths = []
    for index, text in enumerate([BASE, support_policy(modules)] + modules):
        path = tmp_path / ("%02d.cil" % index)
        path.write_text(text)
        paths.append(str(path))
    subprocess.run(["secilc", "-o", str(tmp_path / "policy"), "-f", "/dev/null"] + paths, check=True,
                   capture_output=True)
    rules = subprocess.run(["sesearch", str(tmp_path / "policy"), "-A", "-s", "child_ns.process", "-c", "file",
                            "-p", "read"], capture_output=True, text=True, check=True).stdout
    assert "allow child_ns.process parent_ns.process:file read;" in rules, rules
    assert "allow child_ns.process child_ns.process:file" not in rules
