# -*- coding: utf-8 -*-
"""A RawSelinuxProfile changes nothing outside its own block — proved with secilc and seinfo/sesearch.

The rule (module_utils/selinux/model.py, ``_check_locality``): a statement that changes a type or attribute
(typepermissive, typeattributeset, expandtypeattribute, typealiasactual, roletype, the source of every
AV / type rule) may only name the profile's own types and attributes: declared in its body, or
process/socket of an inherited System template.  For every statement kind the validator lets through,
a policy is compiled with and without the profile and every global type is compared: its rules, its
attributes and whether it is permissive stay the same.  The refused forms are shown to be real:
compiled unvalidated, they change the global type.
"""
from __future__ import annotations

import os
import subprocess
import tempfile

import pytest

from conftest import require_tools
from test_selinux_compile import SYSTEM, profile, write_cil

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import effect as selinux_effect
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

API = "security-profiles-operator.x-k8s.io/v1alpha2"
BLOCK = "rawone_ns"
# a profile that makes the support policy declare the types and permissions the raw bodies use
REFERENCE = selinux_cil.profile_cil(selinux.parse_profile(profile("ref", {
    "etc_t": {"file": ["create", "execute", "ioctl", "open", "read", "write"]},
    "tmp_t": {"file": ["create", "ioctl", "read"]}, "var_log_t": {"file": ["append"]}})))
# a rule of a global attribute, so that a type added to it shows as a new rule of that type
REFERENCE += "(allow container_domain etc_t (file (read)))\n"

ACCEPTED = {
    "allow": "(allow process etc_t (file (read)))",
    "auditallow": "(auditallow process etc_t (file (read)))",
    "dontaudit": "(dontaudit process etc_t (file (write)))",
    "neverallow": "(neverallow process etc_t (file (execute)))",
    "allowx": "(allowx process etc_t (ioctl file (range 0x8900 0x8905)))",
    "auditallowx": "(auditallowx process etc_t (ioctl file (0x8906)))",
    "dontauditx": "(dontauditx process etc_t (ioctl file (0x8907)))",
    "neverallowx": "(neverallowx process tmp_t (ioctl file (0x8908)))",
    "type": "(type helper) (roletype system_r helper) (allow helper etc_t (file (read)))",
    "typealias": "(typealias al) (typealiasactual al process) (allow al tmp_t (file (read)))",
    "typealiasactual": "(typealias al2) (typealiasactual al2 socket)",
    "typeattribute": "(type helper) (typeattribute mine) (typeattributeset mine (process helper))"
                     " (allow mine etc_t (file (open)))",
    "typeattributeset": "(typeattribute both) (typeattributeset both (and process (not socket)))",
    "expandtypeattribute": "(typeattribute mine) (typeattributeset mine (process)) (expandtypeattribute (mine) true)",
    "roletype": "(type helper) (roletype system_r helper)",
    "typepermissive": "(typepermissive process)",
    "typetransition": "(type helper) (typetransition process tmp_t file helper)",
    "typechange": "(type helper) (typechange process etc_t file helper)",
    "typemember": "(type helper) (typemember process etc_t file helper)",
    "blockinherit": "(blockinherit net_container)",
}

REFUSED = [
    ("(typepermissive container_t)", "typepermissive names container_t"),
    ("(typeattributeset container_domain (process))", "typeattributeset names container_domain"),
    ("(typeattribute mine) (typeattributeset mine (container_t))", "typeattributeset names container_t"),
    ("(typeattribute mine) (typeattributeset mine (all))", "typeattributeset names all"),
    ("(expandtypeattribute (container_domain) true)", "expandtypeattribute names container_domain"),
    ("(typealias al) (typealiasactual al container_t)", "typealiasactual names container_t"),
    ("(roletype system_r container_runtime_t)", "roletype names container_runtime_t"),
    ("(allow container_t etc_t (file (write)))", "allow names container_t"),
    ("(dontaudit container_t etc_t (file (write)))", "dontaudit names container_t"),
    ("(allowx container_t etc_t (ioctl file (0x8900)))", "allowx names container_t"),
    ("(typetransition container_t tmp_t file etc_t)", "typetransition names container_t"),
    ("(typechange container_t etc_t file tmp_t)", "typechange names container_t"),
    ("(typemember container_t etc_t file tmp_t)", "typemember names container_t"),
    ("(type .global_t)", "declares one unqualified name"),
    ("(allow .container_t etc_t (file (write)))", "allow names .container_t"),
]


def raw(body):
    return {"apiVersion": API, "kind": "RawSelinuxProfile", "metadata": {"name": "rawone", "namespace": "ns"},
            "spec": {"policy": "(blockinherit container)\n" + body}}


def compile_policy(modules, tmp):
    paths = write_cil(modules, tmp)
    out = os.path.join(tmp, "policy")
    # -X: every attribute expanded into its member types, so each rule is shown per type
    proc = subprocess.run(["secilc", "-X", "65535", "-o", out, "-f", "/dev/null"] + paths, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _lines(*argv):
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=True)
    return [line.strip() for line in proc.stdout.splitlines() if line.strip()]


def global_view(policy):
    """What the policy says about its global types: their rules (attributes expanded), permissive, roles."""
    types = {t for t in _lines("seinfo", policy, "-t")[1:] if not t.startswith(BLOCK + ".")}
    rules = set()
    for rule in _lines("sesearch", policy, "-A", "--auditallow", "--dontaudit", "-T", "--allowxperm",
                       "--auditallowxperm", "--dontauditxperm"):
        words = rule.split()
        source, target = words[1], words[2].split(":")[0]
        if source in types and not target.startswith(BLOCK + "."):  # a global type's rule, not about the profile
            rules.add(rule)
    permissive = {t for t in _lines("seinfo", policy, "--permissive")[1:] if t in types}
    role_types = {t for t in " ".join(_lines("seinfo", policy, "-r", "system_r", "-x")).replace("{", " ").replace(
        "}", " ").split() if t in types}
    return {"rules": rules, "permissive": permissive, "roles": role_types, "types": types}


@pytest.fixture(autouse=True)
def _tools():
    require_tools("secilc", "seinfo", "sesearch")


@pytest.fixture(scope="module")
def baseline():
    with tempfile.TemporaryDirectory() as tmp:
        yield global_view(compile_policy(SYSTEM + [REFERENCE], tmp))


@pytest.mark.parametrize("kind", sorted(ACCEPTED))
def test_every_accepted_statement_kind_leaves_global_types_unchanged(kind, baseline, tmp_path):
    assert kind in selinux.RAW_STATEMENTS
    all_templates = selinux.Denylist.allowing(system_profiles=selinux_templates.TEMPLATE_NAMES)
    cil = selinux_cil.profile_cil(selinux.parse_profile(raw(ACCEPTED[kind]), all_templates))
    view = global_view(compile_policy(SYSTEM + [REFERENCE, cil], str(tmp_path)))
    assert baseline["types"] <= view["types"]
    for key in ("rules", "permissive", "roles"):
        assert {x for x in view[key] if x.split()[0] in baseline["types"] or key == "rules"} == baseline[key], key


def test_every_raw_statement_kind_is_proved():
    assert set(ACCEPTED) == set(selinux.RAW_STATEMENTS)


@pytest.mark.parametrize("body,message", REFUSED)
def test_statements_changing_a_global_type_are_refused(body, message):
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(raw(body))
    assert message in str(err.value) and str(err.value).startswith("RawSelinuxProfile ns/rawone: spec.policy")


def test_the_refused_forms_would_change_the_global_type(baseline, tmp_path):
    """Compiled without the validator, the issue's example makes every container_t process permissive."""
    cil = "(block %s (blockinherit container) (typepermissive container_t)" \
          " (typeattributeset container_domain (process)) (allow container_t etc_t (file (write))))\n" % BLOCK
    view = global_view(compile_policy(SYSTEM + [REFERENCE, cil], str(tmp_path)))
    assert "container_t" in view["permissive"] and "container_t" not in baseline["permissive"]
    assert "allow container_t etc_t:file { read write };" in view["rules"] - baseline["rules"]


# ---------------------------------------------------------------- the effect, proven on the compiled policy
# Bodies every syntax check lets through (each name in a changing position is the profile's own), whose
# compiled effect still reaches outside the profile; each was accepted before the effect proof.  The second
# field says what the body does to the node when compiled unvalidated (proved below).
ATTACKS = {
    "complement attribute": ("(typeattribute mine) (typeattributeset mine (not socket))"
                             " (allow mine etc_t (file (write)))", "global rule"),
    "set expression and/not": ("(typeattribute mine) (typeattributeset mine (and (not socket) (not process)))"
                               " (dontaudit mine etc_t (file (write)))", "global rule"),
    "set expression or/not": ("(typeattribute mine) (typeattributeset mine (or socket (not process)))"
                              " (allow mine etc_t (file (write)))", "global rule"),
    "set expression xor": ("(typeattribute mine) (typeattributeset mine (xor process (not socket)))"
                           " (typetransition mine tmp_t file etc_t)", "global rule"),
    "neverallow over every type": ("(typeattribute mine) (typeattributeset mine (not process))"
                                   " (neverallow mine etc_t (file (read)))", "breaks other modules"),
    "all permissions of process": ("(allow process container_t (process (all)))", "over a domain"),
    "ptrace": ("(allow process container_t (process (ptrace)))", "over a domain"),
    "transition": ("(allow process container_t (process (transition)))", "over a domain"),
    "dyntransition": ("(allow process container_t (process (dyntransition)))", "over a domain"),
    "ptrace through a complement target": ("(typeattribute others) (typeattributeset others (not process))"
                                           " (allow process others (process (ptrace)))", "over a domain"),
    "process type_transition": ("(typetransition process etc_t process container_t)", "over a domain"),
    "a template's name shadowed": ("(typeattribute container_runtime_t)"
                                   " (typeattributeset container_runtime_t (not socket))", "into the profile"),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_bodies_reaching_outside_the_profile_are_refused_by_their_effect(name):
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(raw(ATTACKS[name][0]))
    assert str(err.value).startswith("RawSelinuxProfile ns/rawone: spec.policy: reaches outside its own profile: ")


def _compile_unvalidated(body, tmp):
    """BASE + declarations + templates + REFERENCE + the block, with the engine's own support declarations."""
    system = [selinux_templates.templates_cil(), selinux_templates.COMPAT_CIL, REFERENCE]
    tree = selinux.tokenize_cil("(blockinherit container) " + body, "t", "f")
    support = selinux_effect.support_policy(system, BLOCK, tree, selinux.tokenize_cil)
    block = "(block %s %s)\n" % (BLOCK, " ".join(selinux_effect.render(s) for s in tree))
    paths = []
    for index, text in enumerate([selinux_effect.BASE, support] + system + [block]):
        path = os.path.join(tmp, "%02d.cil" % index)
        with open(path, "w") as handle:
            handle.write(text)
        paths.append(path)
    out = os.path.join(tmp, "policy")
    proc = subprocess.run(["secilc", "-X", "65535", "-o", out, "-f", "/dev/null"] + paths, capture_output=True,
                          text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr, out


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_the_attacks_are_real_when_compiled_unvalidated(name, tmp_path):
    """Compiled as the store would, without the proof, each attack does what its name says."""
    body, effect = ATTACKS[name]
    (tmp_path / "base").mkdir()
    (tmp_path / "attack").mkdir()
    code, out, base_policy = _compile_unvalidated("", str(tmp_path / "base"))
    assert code == 0, out
    code, out, policy = _compile_unvalidated(body, str(tmp_path / "attack"))
    if effect == "breaks other modules":  # every other profile's rule on etc_t now fails the node's build
        assert code != 0 and "neverallow check failed" in out and "ref_ns.process etc_t" in out, out
        return
    assert code == 0, out
    if effect == "global rule":
        added = global_view(policy)["rules"] - global_view(base_policy)["rules"]
        assert any(rule.split()[1] in ("container_t", "etc_t", "container_runtime_t") for rule in added), added
    elif effect == "over a domain":
        rules = _lines("sesearch", policy, "-A", "-T", "-s", BLOCK + ".process", "-c", "process")
        assert any(("container_t" in r or "etc_t" in r) and ("ptrace" in r or "transition" in r or "type_transition"
                                                             in r) for r in rules), rules
    else:  # every domain of the node may now enter or kill the profile's process
        rules = _lines("sesearch", policy, "-A", "-s", "container_t", "-t", BLOCK + ".process", "-c", "process")
        assert any("transition" in r and "sigkill" in r for r in rules), rules


STILL_ACCEPTED = [
    "(typeattribute files) (typeattributeset files (or process socket)) (allow files etc_t (file (read)))",
    "(allow process self (process (ptrace dyntransition)))",
    "(type helper) (roletype system_r helper) (allow process helper (process (transition)))",
    "(typeattribute both) (typeattributeset both (and process (not socket))) (allow both etc_t (file (read)))",
    "(typeattribute notmine) (typeattributeset notmine (not process)) (allow process notmine (file (getattr)))",
    # a global attribute named as a target only: its members do not change (a false alarm before the probes)
    "(allow process container_domain (process (signal)))",
    "(allow process domain (file (read)))",
]


@pytest.mark.parametrize("body", STILL_ACCEPTED)
def test_expressions_over_the_profiles_own_side_stay_accepted(body):
    assert selinux.parse_profile(raw(body)).statements


def test_without_the_compiler_a_raw_profile_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(raw("(allow process etc_t (file (getattr ioctl)))"))
    assert str(err.value).startswith("RawSelinuxProfile ns/rawone: spec.policy: cannot prove what the raw policy "
                                     "does: secil2conf (package secilc) is not installed on this host")


def test_the_proofs_cost_is_bounded_by_the_attribute_count():
    """The compiled policy lists every attribute's members: 33 complement attributes over a few thousand
    types would cost the proof attributes x types, so more than RAW_MAX_ATTRIBUTES is refused at once."""
    body = "".join("(typeattribute a%d) (typeattributeset a%d (not socket))" % (i, i)
                   for i in range(selinux.RAW_MAX_ATTRIBUTES + 1))
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(raw(body))
    assert str(err.value) == "RawSelinuxProfile ns/rawone: spec.policy: declares 33 attributes; at most 32 allowed"
