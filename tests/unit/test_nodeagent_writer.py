# -*- coding: utf-8 -*-
"""The node agent's node writer: it installs the bytes the planner compiled (never compiling again), only
where they differ; one unsaveable file fails alone; removals spare a file another profile has; SELinux
policies are handed to selinuxd's directory and looked at again."""
from __future__ import annotations

import os

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import engine as seccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.metrics import AgentMetrics
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import slim_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    SECCOMP_KIND, SELINUX_KIND, Outcome, Planner, Snapshot)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_writer import NodeWriter
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import settings
from seccomp_objects import allow, profile


def _writer(tmp_path):
    return NodeWriter(str(tmp_path / "kubelet"), selinux_dir=str(tmp_path / "selinux.d"),
                      selinuxd_socket=str(tmp_path / "no-selinuxd.sock"), selinux_compat="never",
                      metrics=AgentMetrics())


def _planned(names):
    objs = [slim_profile(profile(name, syscalls=[allow("read", "write")])) for name in names]
    snap = Snapshot({SECCOMP_KIND: {("ns", o["metadata"]["name"]): o for o in objs}})
    keys = [(SECCOMP_KIND, "ns", name) for name in names]
    return keys, Planner().plan(snap, dict(zip(keys, objs)))


def test_the_writer_installs_what_the_planner_compiled_and_compiles_nothing(tmp_path, monkeypatch):
    keys, outcomes = _planned(["a", "b"])
    writer = _writer(tmp_path)

    def no_compile(*args):
        raise AssertionError("the writer compiled a profile again")
    monkeypatch.setattr(seccomp.Engine, "compile", no_compile)
    writer.write_seccomp(outcomes, lambda key: None)
    for key in keys:
        with open(writer.seccomp_path(key), "rb") as handle:
            assert handle.read() == outcomes[key].data
        assert writer.has_file(key)
    assert 'operation="update"} 2.0' in writer.metrics.render()
    before = {key: os.stat(writer.seccomp_path(key)).st_ino for key in keys}
    writer.write_seccomp(outcomes, lambda key: None)  # unchanged: nothing rewritten
    assert before == {key: os.stat(writer.seccomp_path(key)).st_ino for key in keys}
    assert 'operation="update"} 2.0' in writer.metrics.render()


def test_an_unsaveable_file_fails_alone(tmp_path):
    keys, outcomes = _planned(["good", "bad"])
    writer = _writer(tmp_path)
    os.makedirs(os.path.join(writer.root, "ns", "bad.json"))  # a directory where the file goes
    writer.write_seccomp(outcomes, lambda key: None)
    assert outcomes[keys[0]].state == ns.INSTALLED and writer.has_file(keys[0])
    bad = outcomes[keys[1]]
    assert bad.state == ns.ERROR and bad.reason == "CannotSaveProfile" and bad.refused and not bad.write


def test_a_removal_spares_a_file_another_profile_has(tmp_path):
    keys, outcomes = _planned(["p1"])
    writer = _writer(tmp_path)
    writer.write_seccomp(outcomes, lambda key: None)
    gone = (SECCOMP_KIND, "ns", "p1.json")  # the same file as p1's
    out = Outcome(ns.DISABLED)
    out.remove_file = True
    writer.write_seccomp({gone: out}, lambda key: keys[0])
    assert writer.has_file(keys[0])
    writer.write_seccomp({gone: out}, lambda key: None)
    assert not writer.has_file(keys[0]) and 'operation="delete"} 1.0' in writer.metrics.render()


def test_selinux_policies_go_to_selinuxd_and_are_looked_at_again(tmp_path):
    obj = slim_profile({"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha2", "kind": SELINUX_KIND,
                        "metadata": {"name": "errorlogger", "namespace": "ns", "uid": "u", "generation": 1},
                        "spec": {"allow": {"var_log_t": {"file": ["read"]}}}})
    key = (SELINUX_KIND, "ns", "errorlogger")
    snap = Snapshot({SELINUX_KIND: {("ns", "errorlogger"): obj}}, settings=settings({"spec": {"enableSelinux": True}}))
    outcomes = Planner().plan(snap, {key: obj})
    writer = _writer(tmp_path)
    assert writer.write_selinux(outcomes, True) == [key]
    written = sorted(os.listdir(writer.selinux_dir))
    assert "errorlogger_ns.cil" in written and len(written) > 1  # with the template modules
    with open(writer.selinux_path(key), "rb") as handle:
        assert handle.read() == outcomes[key].data
    assert outcomes[key].state == ns.IN_PROGRESS and outcomes[key].message == "selinuxd is installing the policy"
    again = Planner().plan(snap, {key: obj})  # unchanged file: selinuxd is asked (not running here)
    assert writer.write_selinux(again, True) == [key]
    assert again[key].message.startswith("selinuxd is not reachable at ")


@pytest.mark.parametrize("first_line, ours", [
    (b"; SelinuxProfile ns/p (spo.security_profiles)", True),
    (b"; RawSelinuxProfile ns/p (spo.security_profiles)", True),
    (b"; SelinuxProfile ns/p", False),
    (b"(block p_ns)", False),
])
def test_orphan_cleanup_removes_only_this_projects_policies(tmp_path, first_line, ours):
    writer = _writer(tmp_path)
    os.makedirs(writer.selinux_dir)
    path = os.path.join(writer.selinux_dir, "p_ns.cil")
    with open(path, "wb") as handle:
        handle.write(first_line + b"\n(block p_ns)\n")
    writer.remove_orphans(set(), {"other_ns"}, lambda key: False)
    assert os.path.exists(path) is not ours
