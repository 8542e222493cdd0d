# -*- coding: utf-8 -*-
"""The node agent's planner with plain data: a snapshot of cached profiles in, outcomes out.

A refused profile never blocks the others; the bytes it carries are the engine's; each profile is parsed and
compiled once per batch, bases from the snapshot with the engine's one depth limit; an unchanged profile is
not compiled again; deletions, disabled and partial profiles; SELinux outcomes."""
from __future__ import annotations

import copy
import os

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodeagent_plan as plan
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import slim_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    RAW_KIND, SECCOMP_KIND, SELINUX_KIND, Planner, Snapshot, plan_gone)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import settings
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import compile_profiles
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.base import MAX_DEPTH

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PROFILE = os.path.join(ROOT, "tests", "unit", "fixtures", "spec-seccompprofile.yaml")


def _spec(name, **spec):
    with open(SPEC_PROFILE) as handle:
        doc = yaml.safe_load(handle)
    doc["metadata"] = {"name": name, "namespace": "ns", "uid": "u-" + name, "generation": 1}
    doc["spec"].update(spec)
    return slim_profile(doc)


def _selinux(kind, name, spec):
    return slim_profile({"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha2", "kind": kind,
                         "metadata": {"name": name, "namespace": "ns", "uid": "u-" + name, "generation": 1},
                         "spec": spec})


def _snapshot(objs, spod=None, pods=None):
    profiles = {SECCOMP_KIND: {}, SELINUX_KIND: {}, RAW_KIND: {}}
    for obj in objs:
        profiles[obj.get("kind") or SECCOMP_KIND][(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj
    return Snapshot(profiles, pods or {}, settings(spod))


def _plan(objs, planner=None, **snapshot):
    snap = _snapshot(objs, **snapshot)
    keys = [(obj.get("kind") or SECCOMP_KIND, "ns", obj["metadata"]["name"]) for obj in objs]
    return keys, (planner or Planner()).plan(snap, dict(zip(keys, objs)))


class _Counting(object):
    """Counts the engine's compiles and the planner's parses."""

    def __init__(self, monkeypatch):
        self.compiled, self.parsed = [], []
        compile_one, parse = seccomp.Engine.compile, plan.parse_profile

        def counting_compile(engine, profile):
            self.compiled.append(profile.name)
            return compile_one(engine, profile)

        def counting_parse(doc):
            self.parsed.append(doc["metadata"]["name"])
            return parse(doc)
        monkeypatch.setattr(seccomp.Engine, "compile", counting_compile)
        monkeypatch.setattr(plan, "parse_profile", counting_parse)


# ---------------------------------------------------------------- one bad profile fails alone
def test_a_refused_profile_does_not_block_the_others():
    good, bad = _spec("good"), _spec("bad")
    bad["spec"]["syscalls"][0]["names"] = ["exit", "opne"]
    child = _spec("child", baseProfileName="good", syscalls=[{"action": "SCMP_ACT_ALLOW", "names": ["read"]}])
    orphan = _spec("orphan", baseProfileName="bad")
    keys, outcomes = _plan([good, bad, child, orphan])
    assert [outcomes[key].state for key in keys] == ["Installed", "Error", "Installed", "Error"]
    assert "spec.syscalls[0].names[1]" in outcomes[keys[1]].message and "opne" in outcomes[keys[1]].message
    assert outcomes[keys[3]].message.startswith("SeccompProfile ns/orphan: spec.baseProfileName: base profile 'bad' "
                                                "is refused: ")
    assert outcomes[keys[0]].write and outcomes[keys[0]].need_finalizer
    assert not outcomes[keys[1]].write and not outcomes[keys[1]].remove_file  # a refused update keeps the old file
    assert outcomes[keys[1]].refused and outcomes[keys[1]].reason == "InvalidProfile"


def test_any_exception_of_one_profile_becomes_its_error_and_the_batch_goes_on():
    good, broken = _spec("good"), _spec("broken")
    broken["spec"] = ["not", "a", "mapping"]  # no check foresees it: the validation raises AttributeError
    logged = []
    planner = Planner(log=logged.append)
    keys, outcomes = _plan([good, broken], planner)
    assert outcomes[keys[0]].state == ns.INSTALLED and outcomes[keys[0]].data
    assert outcomes[keys[1]].state == ns.ERROR and outcomes[keys[1]].refused
    assert outcomes[keys[1]].message.startswith("SeccompProfile ns/broken: the profile could not be validated")
    assert planner.errors == 1 and "validation failed unexpectedly" in logged[0]


def test_allowed_syscalls_refusal_removes_the_file():
    keys, outcomes = _plan([_spec("p", defaultAction="SCMP_ACT_ERRNO")],
                           spod={"spec": {"allowedSyscalls": ["exit", "exit_group"]}})
    out = outcomes[keys[0]]
    assert out.state == ns.ERROR and out.remove_file and out.reason == "NotAllowedSyscall" and out.data is None
    assert out.message.startswith("SeccompProfile ns/p: spec.syscalls[0].action: SCMP_ACT_ALLOW lets futex, nanosleep "
                                  "run, not in the SPOD's allowedSyscalls")


# ---------------------------------------------------------------- allowedSyscalls with allowedSeccompActions
def _rules(*rules):
    return [{"action": action, "names": list(names)} for action, names in rules]


TENANT = [  # name -> spec (the shipped fixture's keys replaced); "base" is the base of "child" and "grandchild"
    ("base", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": _rules(("SCMP_ACT_ALLOW", ["read", "write"]),
                                                                    ("SCMP_ACT_LOG", ["mount"]))}),
    ("child", {"defaultAction": "SCMP_ACT_ERRNO", "baseProfileName": "base",
               "syscalls": _rules(("SCMP_ACT_ALLOW", ["exit_group"]))}),
    ("grandchild", {"defaultAction": "SCMP_ACT_ERRNO", "baseProfileName": "child",
                    "syscalls": _rules(("SCMP_ACT_ERRNO", ["reboot"]))}),
    ("logall", {"defaultAction": "SCMP_ACT_LOG", "syscalls": _rules(("SCMP_ACT_ALLOW", ["read"]))}),
    ("allowall", {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": _rules(("SCMP_ACT_ERRNO", ["mount"]))}),
    ("traced", {"defaultAction": "SCMP_ACT_KILL_PROCESS",
                "syscalls": _rules(("SCMP_ACT_ALLOW", ["read"]), ("SCMP_ACT_ERRNO", ["write"]),
                                   ("SCMP_ACT_TRACE", ["ptrace"]))}),
]
CALLS = ["read", "write", "exit_group"]
# (SPOD spec, {profile: None (Installed) or the field its Error names, with the words its message holds})
ACTION_CASES = [
    ({}, {n: None for n, _s in TENANT}),
    ({"allowedSeccompActions": ["SCMP_ACT_ERRNO"]}, {n: None for n, _s in TENANT}),  # no allowedSyscalls: no bound
    ({"allowedSyscalls": CALLS}, {
        "base": ("spec.syscalls[1].action", "SCMP_ACT_LOG lets mount run"),
        "child": ("spec.baseProfileName", "SCMP_ACT_LOG (a rule inherited through the base profile) lets mount run"),
        "grandchild": ("spec.baseProfileName", "lets mount run"),
        "logall": ("spec.defaultAction", "SCMP_ACT_LOG lets every syscall"),
        "allowall": ("spec.defaultAction", "SCMP_ACT_ALLOW lets every syscall"),
        "traced": ("spec.syscalls[2].action", "SCMP_ACT_TRACE lets ptrace run")}),
    ({"allowedSyscalls": CALLS, "allowedSeccompActions": ["SCMP_ACT_ALLOW"]}, {
        "base": None, "child": None, "grandchild": None, "logall": None, "traced": None,
        "allowall": ("spec.defaultAction", "SCMP_ACT_ALLOW lets every syscall")}),
    ({"allowedSyscalls": CALLS + ["mount"], "allowedSeccompActions": ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"]}, {
        "base": None, "child": None, "grandchild": None, "traced": None,
        "logall": ("spec.defaultAction", "SCMP_ACT_LOG"), "allowall": ("spec.defaultAction", "SCMP_ACT_ALLOW")}),
    ({"allowedSyscalls": CALLS, "allowedSeccompActions": ["SCMP_ACT_ERRNO", "SCMP_ACT_LOG"]},
     {n: (None, "allowedSeccompActions lists SCMP_ACT_ERRNO") for n, _s in TENANT}),
]


@pytest.mark.parametrize("spod,expected", ACTION_CASES)
@pytest.mark.parametrize("grouped", [False, True])
def test_allowed_seccomp_actions_refuse_each_profile_alone(spod, expected, grouped):
    """Each profile is judged with what it inherits; a refused one is Error naming its field and removed from the
    node, the others install; both spellings of the SPOD act the same."""
    objs = []
    for name, spec in TENANT:
        obj = _spec(name)
        obj["spec"] = dict(spec, architectures=["SCMP_ARCH_X86_64"])
        objs.append(obj)
    keys, outcomes = _plan(objs, spod={"spec": {"security": spod} if grouped else spod})
    got = {}
    for key in keys:
        out = outcomes[key]
        if out.state == ns.INSTALLED:
            assert out.write and out.data and not out.remove_file
            got[key[2]] = None
            continue
        assert out.state == ns.ERROR and out.remove_file and not out.write and out.reason == "NotAllowedSyscall"
        assert expected[key[2]] is not None, out.message
        field, words = expected[key[2]]
        assert out.message.startswith("SeccompProfile ns/%s: %s" % (key[2], field + ": " if field else "")), out.message
        assert words in out.message, out.message
        got[key[2]] = expected[key[2]]
    assert got == expected


def test_a_change_of_allowed_seccomp_actions_plans_the_profile_again(monkeypatch):
    """Level-based: the memo of a profile holds the SPOD's settings, so a new list re-judges it (no event of the
    profile needed), and a list restored gives the same result again."""
    counting = _Counting(monkeypatch)
    planner = Planner(file_exists=lambda key: True)
    obj = _spec("p", defaultAction="SCMP_ACT_ERRNO",
                syscalls=_rules(("SCMP_ACT_ALLOW", ["read"]), ("SCMP_ACT_LOG", ["mount"])))
    key = (SECCOMP_KIND, "ns", "p")
    results = []
    for actions in (["SCMP_ACT_ALLOW"], ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"], ["SCMP_ACT_ALLOW"], ["SCMP_ACT_ALLOW"]):
        snap = _snapshot([obj], spod={"spec": {"allowedSyscalls": ["read"], "allowedSeccompActions": actions}})
        out = planner.plan(snap, {key: obj})[key]
        planner.record(key, obj, out, snap)
        results.append(out.state)
    assert results == [ns.INSTALLED, ns.ERROR, ns.INSTALLED, ns.INSTALLED]
    assert counting.compiled == ["p", "p", "p"]  # the last batch: same settings, memo


def test_the_planner_carries_what_the_engine_compiles():
    """The bytes the writer installs come from the same engine the collection's modules use."""
    base = _spec("base")
    child = _spec("child", baseProfileName="base", syscalls=[{"action": "SCMP_ACT_ALLOW", "names": ["read"]}])
    keys, outcomes = _plan([child, base])

    def manifest(obj):
        doc = copy.deepcopy({k: obj[k] for k in ("apiVersion", "kind", "spec")})
        doc["metadata"] = {"name": obj["metadata"]["name"], "namespace": "ns"}
        return doc
    compiled = {c.profile.name: c.data for c in compile_profiles([manifest(child), manifest(base)])}
    assert outcomes[keys[0]].data == compiled["child"] and outcomes[keys[1]].data == compiled["base"]
    assert b'"read"' in outcomes[keys[0]].data and b'"futex"' in outcomes[keys[0]].data  # the base's rules


# ---------------------------------------------------------------- compiled once, one depth limit
def test_each_profile_is_parsed_and_compiled_once_per_batch(monkeypatch):
    counting = _Counting(monkeypatch)
    base = _spec("base")
    middle = _spec("middle", baseProfileName="base", syscalls=[{"action": "SCMP_ACT_ALLOW", "names": ["read"]}])
    kids = [_spec("kid%d" % i, baseProfileName="middle", syscalls=[{"action": "SCMP_ACT_ALLOW", "names": ["write"]}])
            for i in range(5)]
    keys, outcomes = _plan(kids + [middle, base])
    assert all(outcomes[key].state == ns.INSTALLED for key in keys)
    assert sorted(counting.compiled) == sorted(o["metadata"]["name"] for o in kids + [middle, base])
    assert sorted(counting.parsed) == sorted(counting.compiled)


def test_a_base_outside_the_batch_comes_from_the_snapshot_parsed_once(monkeypatch):
    counting = _Counting(monkeypatch)
    base = _spec("base")
    kids = [_spec("kid%d" % i, baseProfileName="base") for i in range(3)]
    snap = _snapshot(kids + [base])
    keys = [(SECCOMP_KIND, "ns", k["metadata"]["name"]) for k in kids]
    outcomes = Planner().plan(snap, dict(zip(keys, kids)))  # the base itself is not in this batch
    assert all(outcomes[key].state == ns.INSTALLED for key in keys) and set(outcomes) == set(keys)
    assert counting.parsed.count("base") == 1 and "base" not in counting.compiled


@pytest.mark.parametrize("depth, refused", [(MAX_DEPTH, False), (MAX_DEPTH + 1, True)])
def test_the_base_chain_has_the_engines_depth_limit(depth, refused):
    chain = [_spec("p0")] + [_spec("p%d" % i, baseProfileName="p%d" % (i - 1)) for i in range(1, depth + 1)]
    keys, outcomes = _plan(chain)
    out = outcomes[keys[-1]]
    assert (out.state == ns.ERROR) is refused
    if refused:
        assert "baseProfileName chain deeper than %d" % MAX_DEPTH in out.message


def test_a_deleted_or_disabled_base_is_not_used():
    base = _spec("base")
    base["metadata"]["deletionTimestamp"] = "2026-12-01T09:16:02Z"
    child = _spec("child", baseProfileName="base")
    keys, outcomes = _plan([child, base])
    assert outcomes[keys[0]].state == ns.ERROR and "base profile 'base' not found" in outcomes[keys[0]].message
    base["metadata"].pop("deletionTimestamp")
    base["spec"]["disabled"] = True
    keys, outcomes = _plan([child, base])
    assert outcomes[keys[0]].state == ns.ERROR and outcomes[keys[1]].state == ns.DISABLED


# ---------------------------------------------------------------- memo between batches
def test_an_unchanged_profile_is_not_compiled_again_while_its_file_is_there(monkeypatch):
    counting = _Counting(monkeypatch)
    files = set()
    planner = Planner(file_exists=lambda key: key in files)
    base, child = _spec("base"), _spec("child", baseProfileName="base")
    snap = _snapshot([base, child])
    key = (SECCOMP_KIND, "ns", "child")
    first = planner.plan(snap, {key: child})[key]
    planner.record(key, child, first, snap)
    assert planner.plan(snap, {key: child})[key].state == ns.INSTALLED and counting.compiled == ["child", "child"]
    files.add(key)  # the file is on the node: the memo holds
    again = planner.plan(snap, {key: child})[key]
    assert again.state == ns.INSTALLED and not again.write and counting.compiled == ["child", "child"]
    base["metadata"]["generation"] = 2  # a new base generation: compiled again
    assert planner.plan(snap, {key: child})[key].write and counting.compiled[-1] == "child"
    assert len(counting.compiled) == 3
    planner.forget(key)
    assert key not in planner.done


# ---------------------------------------------------------------- deletion, disabled, partial
def test_deleted_profiles_stay_while_a_pod_of_the_node_uses_them():
    doc = _spec("p")
    doc["metadata"]["deletionTimestamp"] = "2026-12-01T09:16:02Z"
    key = (SECCOMP_KIND, "ns", "p")
    _keys, outcomes = _plan([doc], pods={("seccomp", "ns", "p.json"): {"ns/web"}})
    used = outcomes[key]
    assert (used.state, used.message, used.delete, used.remove_file) == (ns.TERMINATING, "in use by ns/web", False, False)
    _keys, outcomes = _plan([doc])
    assert outcomes[key].delete and outcomes[key].remove_file
    gone = plan_gone(key, _snapshot([]))
    assert gone.state == ns.TERMINATING and gone.delete and gone.remove_file
    assert not plan_gone(key, _snapshot([], pods={("seccomp", "ns", "p.json"): {"ns/web"}})).remove_file


def test_disabled_and_partial_profiles_are_removed_from_the_node():
    disabled = _spec("d", disabled=True)
    partial = _spec("r")
    partial["metadata"]["labels"] = {ns.LABEL_PARTIAL: "true"}
    keys, outcomes = _plan([disabled, partial])
    assert [(outcomes[k].state, outcomes[k].remove_file, outcomes[k].write) for k in keys] == [
        (ns.DISABLED, True, False), (ns.PARTIAL, True, False)]


# ---------------------------------------------------------------- SELinux
def test_selinux_profiles_wait_for_selinux_in_the_spod():
    doc = _selinux(SELINUX_KIND, "errorlogger", {"allow": {"var_log_t": {"file": ["read"]}}})
    keys, outcomes = _plan([doc])
    out = outcomes[keys[0]]
    assert out.state == ns.PENDING and not out.write and "SELinux is not enabled in the SPOD" in out.message


def test_selinux_profile_carries_its_cil_and_a_missing_parent_is_its_error():
    doc = _selinux(SELINUX_KIND, "errorlogger", {"allow": {"var_log_t": {"file": ["read"]}}})
    child = _selinux(SELINUX_KIND, "child", {"inherit": [{"kind": "SelinuxProfile", "name": "nothere"}],
                                             "allow": {"var_log_t": {"file": ["read"]}}})
    keys, outcomes = _plan([doc, child], spod={"spec": {"enableSelinux": True}})
    out = outcomes[keys[0]]
    assert out.state == ns.IN_PROGRESS and out.write and out.message == ""
    assert out.data.startswith(b"; SelinuxProfile ns/errorlogger")
    assert outcomes[keys[1]].state == ns.ERROR and "inherits SelinuxProfile ns/nothere" in outcomes[keys[1]].message
    assert "spec.inherit[0].name" in outcomes[keys[1]].message
