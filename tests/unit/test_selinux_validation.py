# -*- coding: utf-8 -*-
"""SelinuxProfile / RawSelinuxProfile validation and CIL translation (data-driven)."""
from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from docedit import set_at  # pylint: disable=import-error

API = "security-profiles-operator.x-k8s.io/v1alpha2"


ALL_TEMPLATES = selinux.Denylist.allowing(system_profiles=selinux_templates.TEMPLATE_NAMES)


def errorlogger(name="errorlogger", namespace="my-namespace", **spec):
    base = {
        "inherit": [{"name": "container"}],
        "allow": {"var_log_t": {
            "dir": ["open", "read", "getattr", "lock", "search", "ioctl", "add_name", "remove_name", "write"],
            "file": ["getattr", "read", "write", "append", "ioctl", "lock", "map", "open", "create"],
            "sock_file": ["getattr", "read", "write", "append", "open"]}},
    }
    base.update(spec)
    return {"apiVersion": API, "kind": "SelinuxProfile", "metadata": {"name": name, "namespace": namespace}, "spec": base}


def raw(policy, name="rawone", namespace="my-namespace"):
    return {"apiVersion": API, "kind": "RawSelinuxProfile", "metadata": {"name": name, "namespace": namespace},
            "spec": {"policy": policy}}


EXPECTED_ERRORLOGGER = """\
; SelinuxProfile my-namespace/errorlogger (spo.security_profiles)
(block errorlogger_my-namespace
    (blockinherit container)
    (allow process var_log_t (dir (add_name getattr ioctl lock open read remove_name search write)))
    (allow process var_log_t (file (append create getattr ioctl lock map open read write)))
    (allow process var_log_t (sock_file (append getattr open read write)))
)
"""


def test_errorlogger_translation_is_exact_and_deterministic():
    profile = selinux.parse_profile(errorlogger())
    assert profile.usage == "errorlogger_my-namespace.process"
    assert selinux_cil.profile_cil(profile) == EXPECTED_ERRORLOGGER
    shuffled = errorlogger()
    shuffled["spec"]["allow"]["var_log_t"] = dict(reversed(list(shuffled["spec"]["allow"]["var_log_t"].items())))
    for perms in shuffled["spec"]["allow"]["var_log_t"].values():
        perms.reverse()
    assert selinux_cil.profile_cil(selinux.parse_profile(shuffled)) == EXPECTED_ERRORLOGGER


def test_defaults_permissive_self_and_inherit_profile():
    parent = errorlogger()
    child = errorlogger(name="child", inherit=[{"kind": "SelinuxProfile", "name": "errorlogger"}, {"name": "net_container"}],
                        permissive=True, allow={"@self": {"file": ["read"]}})
    ordered = selinux.parse_profiles([child, parent], ALL_TEMPLATES)
    assert [p.name for p in ordered] == ["errorlogger", "child"]
    text = selinux_cil.profile_cil(ordered[1])
    assert "(blockinherit errorlogger_my-namespace)\n    (blockinherit net_container)" in text
    assert "(typepermissive process)" in text
    assert "(allow process child_my-namespace.process (file (read)))" in text  # @self: the profile's own type
    bare = errorlogger(name="bare")
    del bare["spec"]["inherit"]
    assert "(blockinherit container)" in selinux_cil.profile_cil(selinux.parse_profile(bare))


INJECTIONS = ["a)(allow x y (file (read)))", "a b", "a;b", 'a"b', "(a", "a)", "a\nb", "", "1abc", "a/b", "a\tb",
              "all", "self"]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("where", ["type", "class", "perm"])
def test_injection_in_every_allow_field_is_refused(payload, where):
    doc = errorlogger()
    allow = {"var_log_t": {"file": ["read"]}}
    if where == "type":
        allow = {payload: {"file": ["read"]}}
    elif where == "class":
        allow = {"var_log_t": {payload: ["read"]}}
    else:
        allow = {"var_log_t": {"file": ["read", payload]}}
    doc["spec"]["allow"] = allow
    if where == "type" and payload == "self":  # CIL's self as a target type: upstream-valid, the process itself
        assert "(allow process self (file (read)))" in selinux_cil.profile_cil(selinux.parse_profile(doc))
        return
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(doc)
    msg = str(err.value)
    assert msg.startswith("SelinuxProfile my-namespace/errorlogger: spec.allow")
    if where == "perm":
        assert "spec.allow.var_log_t.file[1]" in msg


@pytest.mark.parametrize("path,value,field", [
    (("metadata", "name"), "bad)(name", "metadata.name"),
    (("metadata", "name"), "dotted.name", "metadata.name"),
    (("metadata", "namespace"), "ns (x)", "metadata.namespace"),
    (("spec", "inherit"), [{"name": "container)(x"}], "spec.inherit[0].name"),
    (("spec", "inherit"), [{"kind": "SelinuxProfile", "name": "a)(b"}], "metadata.name"),
    (("spec", "inherit"), [{"kind": "Evil", "name": "container"}], "spec.inherit[0].kind"),
    (("spec", "inherit"), [{"name": "no_such_template"}], "spec.inherit[0].name"),
    (("spec", "inherit"), [{"name": "container", "extra": 1}], "spec.inherit[0]"),
    (("spec", "permissive"), "yes", "spec.permissive"),
    (("spec", "allow"), {"var_log_t": {"file": []}}, "spec.allow.var_log_t.file"),
    (("spec", "allow"), {"var_log_t": ["file"]}, "spec.allow.var_log_t"),
    (("spec", "allows"), {}, "spec"),
])
def test_bad_fields_name_object_and_field(path, value, field):
    doc = set_at(errorlogger(), path, value)
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(doc)
    assert err.value.field and err.value.field.startswith(field), str(err.value)
    assert err.value.obj and err.value.obj.startswith("SelinuxProfile ")


@pytest.mark.parametrize("allow,word", [
    ({"shadow_t": {"file": ["read"]}}, "shadow_t"),
    ({"kernel_t": {"file": ["read"]}}, "kernel_t"),
    ({".kmem_t": {"file": ["read"]}}, ".kmem_t"),
    ({"security_t": {"file": ["read"]}}, "security_t"),
    ({"@self": {"capability": ["chown"]}}, "capability"),
    ({"@self": {"capability2": ["syslog"]}}, "capability2"),
    ({"var_log_t": {"security": ["read"]}}, "security"),
    ({"var_log_t": {"system": ["reboot"]}}, "system"),
] + [({"var_log_t": {"file": [perm]}}, perm) for perm in sorted(selinux.DENIED_PERMISSIONS)])
def test_denylist(allow, word):
    doc = errorlogger(allow=allow)
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(doc)
    assert word in str(err.value) and "not allowed" in str(err.value)
    lifted = selinux.Denylist.allowing({"types": [word.lstrip(".")], "classes": [word], "permissions": [word]})
    assert selinux.parse_profile(doc, lifted).allow


def test_unknown_inherit_and_cycles():
    child = errorlogger(name="child", inherit=[{"kind": "SelinuxProfile", "name": "ghost"}])
    with pytest.raises(SpoError, match="spec.inherit\\[0\\].name: inherits SelinuxProfile my-namespace/ghost"):
        selinux.parse_profiles([child])
    other_ns = errorlogger(name="ghost", namespace="other")
    with pytest.raises(SpoError, match="not among the given profiles"):
        selinux.parse_profiles([child, other_ns])
    a = errorlogger(name="a", inherit=[{"kind": "SelinuxProfile", "name": "b"}])
    b = errorlogger(name="b", inherit=[{"kind": "SelinuxProfile", "name": "c"}])
    c = errorlogger(name="c", inherit=[{"kind": "SelinuxProfile", "name": "a"}])
    with pytest.raises(SpoError, match="inherit cycle: SelinuxProfile my-namespace/a -> .*b -> .*c -> .*a"):
        selinux.parse_profiles([a, b, c])
    with pytest.raises(SpoError, match="cannot inherit itself"):
        selinux.parse_profiles([errorlogger(name="a", inherit=[{"kind": "SelinuxProfile", "name": "a"}])])
    with pytest.raises(SpoError, match="given more than once"):
        selinux.parse_profiles([errorlogger(), copy.deepcopy(errorlogger())])


def test_raw_profile_is_rendered_from_validated_tokens():
    body = '(blockinherit container)\n; a comment with ) and (\n(allow process etc_t (file (read open)))\n' \
           '(typetransition process tmp_t file "x.log" var_log_t)\n'
    profile = selinux.parse_profile(raw(body))
    assert selinux_cil.profile_cil(profile) == (
        "; RawSelinuxProfile my-namespace/rawone (spo.security_profiles)\n(block rawone_my-namespace\n"
        "    (blockinherit container)\n    (allow process etc_t (file (read open)))\n"
        '    (typetransition process tmp_t file "x.log" var_log_t)\n)\n')


@pytest.mark.parametrize("body,message", [
    ("(allow process etc_t (file (read))", "unbalanced parentheses: 1"),
    ("(allow process etc_t (file (read))))", "unbalanced parentheses: ')'"),
    (")(type global_t)(", "unbalanced"),
    ("(type x)) (type global_t) ((type y)", "unbalanced"),
    ("(class evil (read))", "statement 'class' is not allowed"),
    ("(in container (allow process shadow_t (file (read))))", "statement 'in' is not allowed"),
    ("(block inner (type x))", "statement 'block' is not allowed"),
    ("(type x)\n(portcon tcp 80 (u r t ((s0) (s0))))", "statement 'portcon'"),
    ("(allow process shadow_t (file (read)))", "shadow_t is not allowed"),
    ("(allow process etc_t (capability (sys_admin)))", "capability is not allowed"),
    ("(allow process .kernel_t (file (read)))", ".kernel_t is not allowed"),
    ("(allow process etc_t (file (read)))\n(call evil (process))", "statement 'call'"),
    ('(typetransition process tmp_t file "a b" var_log_t)', "only plain names"),
    ("(allow process etc_t (file (read)))\x00", "unexpected"),
    ("allow process etc_t", "must be a CIL statement"),
    ("", "has no CIL statements"),
    ("; only a comment\n", "has no CIL statements"),
    ("(type x)" * 70000, "at most 500000"),
])
def test_raw_profile_checks(body, message):
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(raw(body))
    assert message in str(err.value)
    assert str(err.value).startswith("RawSelinuxProfile my-namespace/rawone: spec.policy")


def test_templates_cover_the_advertised_set():
    assert set(selinux_templates.TEMPLATE_NAMES) == {
        "container", "net_container", "restricted_net_container", "log_container", "log_rw_container",
        "log_manage_container", "home_container", "home_rw_container", "home_manage_container", "tmp_container",
        "tmp_rw_container", "config_container", "config_rw_container", "config_manage_container", "tty_container",
        "x_container", "virt_container"}


@pytest.mark.parametrize("name,read_only", [("log_container", True), ("tmp_container", True),
                                            ("config_container", True), ("home_container", True),
                                            ("log_rw_container", False), ("tmp_rw_container", False)])
def test_templates_mean_what_udicas_of_the_same_name_mean(name, read_only):
    """udica's log_container and tmp_container only read; the _rw variants write."""
    text = selinux_templates.TEMPLATES[name]
    writes = re.findall(r"\((?:[^()]*\b(?:write|append|create|unlink|add_name)\b[^()]*)\)", text)
    assert (not writes) == read_only, writes


@pytest.mark.parametrize("target,perm", [("container_t", "transition"), ("unconfined_t", "dyntransition"),
                                         ("container_t", "ptrace"), (".container_t", "transition")])
def test_process_class_on_a_global_domain_is_refused(target, perm):
    doc = errorlogger(allow={target: {"process": [perm]}})
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(doc)
    assert "allowed on @self only" in str(err.value) and "spec.allow.%s.process[0]" % target in str(err.value)


def test_process_class_on_self_and_signals_elsewhere_are_accepted():
    for allow in ({"@self": {"process": ["transition", "ptrace"]}}, {"self": {"process": ["ptrace"]}},
                  {"container_runtime_t": {"process": ["sigchld"]}}):
        selinux.parse_profile(errorlogger(allow=allow))
    cil = selinux_cil.profile_cil(selinux.parse_profile(errorlogger(allow={"self": {"file": ["read"]}})))
    assert "(allow process self (file (read)))" in cil


def test_mode_is_the_newer_permissive_field():
    assert selinux.parse_profile(errorlogger(mode="Permissive")).permissive is True
    assert selinux.parse_profile(errorlogger(mode="Enforcing")).permissive is False
    assert selinux.parse_profile(errorlogger(mode="Permissive", permissive=True)).permissive is True
    for bad, message in (({"mode": "Off"}, "must be one of Permissive, Enforcing"),
                         ({"mode": "Enforcing", "permissive": True}, "contradicts")):
        with pytest.raises(SpoError) as err:
            selinux.parse_profile(errorlogger(**bad))
        assert message in str(err.value) and "spec.mode" in str(err.value)


def test_allowed_system_profiles_default_to_container_only():
    doc = errorlogger(inherit=[{"name": "container"}, {"name": "net_container"}])
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(doc)
    assert "spec.inherit[1].name: System template net_container is not in this node's allowed" in str(err.value)
    assert selinux.parse_profile(doc, selinux.Denylist.allowing(system_profiles=["container", "net_container"]))
    with pytest.raises(SpoError, match="statement 2: System template net_container"):
        selinux.parse_profile(raw("(blockinherit container)\n(blockinherit net_container)"))
    with pytest.raises(SpoError, match="unknown System template 'nope'"):
        selinux.Denylist.allowing(system_profiles=["nope"])


def test_user_deny_list_beats_allowed():
    deny = selinux.Denylist.allowing(allowed={"types": ["shadow_t"]},
                                     denied={"types": ["etc_t", "shadow_t"], "classes": ["tcp_socket"],
                                             "permissions": ["execute"]})
    for allow, word in (({"etc_t": {"file": ["read"]}}, "type etc_t"), ({"shadow_t": {"file": ["read"]}}, "type shadow_t"),
                        ({"var_log_t": {"tcp_socket": ["read"]}}, "class tcp_socket"),
                        ({"var_log_t": {"file": ["execute"]}}, "permission execute")):
        with pytest.raises(SpoError) as err:
            selinux.parse_profile(errorlogger(allow=allow), deny)
        assert word + " is not allowed" in str(err.value)
    with pytest.raises(SpoError, match="etc_t is not allowed"):
        selinux.parse_profile(raw("(blockinherit container)\n(allow process etc_t (file (read)))"), deny)
    with pytest.raises(SpoError, match="denied.types"):
        selinux.Denylist.allowing(denied={"types": ["a b"]})


def test_a_system_template_a_parent_brings_is_not_inherited_again():
    parent = errorlogger(inherit=[{"name": "container"}, {"name": "net_container"}])
    child = errorlogger(name="child", inherit=[{"kind": "SelinuxProfile", "name": "errorlogger"},
                                               {"name": "container"}, {"name": "net_container"}])
    grandchild = errorlogger(name="grand", inherit=[{"kind": "SelinuxProfile", "name": "child"}, {"name": "container"}])
    ordered = selinux.parse_profiles([grandchild, child, parent], ALL_TEMPLATES)
    texts = {p.name: selinux_cil.profile_cil(p) for p in ordered}
    assert "(blockinherit container)" in texts["errorlogger"]
    assert "blockinherit container)" not in texts["child"] and "net_container" not in texts["child"]
    assert "blockinherit container)" not in texts["grand"]
