# -*- coding: utf-8 -*-
"""One tenant's SELinux profile cannot stall or break the node for the others (issue 16).

* policy text nested a thousand levels deep is refused with the object's field named (it raised an
  uncaught RecursionError, and the node agent retried its whole batch every 2 s);
* the node agent's batch isolates ANY exception raised while validating one object: that object
  gets its Error status, the other profiles (seccomp ones included) are installed;
* a profile whose block ``<name>_<namespace>`` is a System template's name is refused;
* the same ``inherit`` entry listed twice is inherited once (upstream deduplicates it).
"""
from __future__ import annotations

import copy
import os

import pytest
import yaml

from conftest import require_tools

from ansible_collections.spo.security_profiles.plugins.module_utils import args
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import cil as selinux_cil
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.metrics import AgentMetrics
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_cache import slim_profile
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    RAW_KIND, SECCOMP_KIND, SELINUX_KIND, Planner, Snapshot)
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_writer import NodeWriter
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.spodsettings import settings
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

API = "security-profiles-operator.x-k8s.io/v1alpha2"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PROFILE = os.path.join(ROOT, "tests", "unit", "fixtures", "spec-seccompprofile.yaml")
DEEP = "(blockinherit container)\n(allow process etc_t " + "(" * 1000 + ")" * 1000 + ")"


def _doc(kind, name, spec, namespace="ns"):
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


# ---------------------------------------------------------------- deep nesting
@pytest.mark.parametrize("depth", [40, 1000, 100000])
def test_deeply_nested_policy_text_is_refused_naming_the_field(depth):
    body = "(blockinherit container)\n(allow process etc_t " + "(" * depth + ")" * depth + ")"
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(_doc(RAW_KIND, "deep", {"policy": body}))
    assert str(err.value).startswith("RawSelinuxProfile ns/deep: spec.policy: nests lists more than 32 levels")


def test_nesting_up_to_the_bound_is_parsed():
    node = selinux.tokenize_cil("(a " + "(" * 31 + ")" * 31 + ")", "o", "f")
    for _level in range(32):
        assert isinstance(node, list) and len(node) in (1, 2)
        node = node[-1]
    assert node == []
    with pytest.raises(SpoError):
        selinux.tokenize_cil("(a " + "(" * 32 + ")" * 32 + ")", "o", "f")


def test_deeply_nested_definition_json_is_a_clear_error():
    """The modules' JSON door (the action plugins hand objects over as one JSON text): json.loads raised
    RecursionError (not a ValueError) at 1000 levels."""
    for text in ("[" * 100000 + "]" * 100000, '{"kind": "SelinuxProfile", "spec": ' + "[" * 70 + "]" * 70 + "}"):
        with pytest.raises(SpoError) as err:
            args.definitions_list(text)
        assert str(err.value) == "definition: the JSON text nests collections more than 64 levels deep"


def _deep_value(depth):
    value = []
    for _level in range(depth):
        value = [value]
    return value


def test_deeply_nested_definition_objects_are_a_clear_error():
    with pytest.raises(SpoError) as err:
        args.definitions_list({"kind": "SeccompProfile", "spec": {"syscalls": _deep_value(5000)}})
    assert str(err.value) == "definition: the value nests collections more than 64 levels deep"


@pytest.mark.parametrize("depth", [1000, 100000])
def test_deeply_nested_yaml_src_is_a_clear_error(tmp_path, depth):
    """The controller's src door: libyaml's composer crashed the controller's process (SIGSEGV) at 100000
    levels; PyYAML raised RecursionError at 1000."""
    import subprocess
    import sys
    path = tmp_path / "deep.yaml"
    path.write_text("apiVersion: %s\nkind: SelinuxProfile\nmetadata: {name: p, namespace: ns}\nspec:\n"
                    "  allow: %s\n" % (API, "[" * depth + "]" * depth))
    code = ("import sys\nfrom ansible.errors import AnsibleActionFail\n"
            "from ansible_collections.spo.security_profiles.plugins.plugin_utils.src_action import load_documents\n"
            "try:\n    load_documents(sys.argv[1])\nexcept AnsibleActionFail as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, SPO_SRC_CACHE_DIR=""), check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "src %s nests collections more than 64 levels deep" % path


@pytest.mark.parametrize("kind", ["SelinuxProfile", "SeccompProfile"])
def test_structured_profiles_refuse_a_nested_value_by_its_type(kind):
    """A structured profile never walks a value recursively: a field nested 5000 levels deep (an object built
    by a caller, not parsed) is refused as the wrong type, naming the field."""
    deep = _deep_value(5000)
    if kind == "SelinuxProfile":
        with pytest.raises(SpoError) as err:
            selinux.parse_profile(_doc(kind, "p", {"allow": {"etc_t": {"file": deep}}}))
        assert "spec.allow.etc_t.file[0]" in str(err.value)
    else:
        from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import parse_profile
        doc = _doc(kind, "p", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"action": "SCMP_ACT_ALLOW",
                                                                               "names": deep}]})
        doc["apiVersion"] = "security-profiles-operator.x-k8s.io/v1beta1"
        with pytest.raises(SpoError) as err:
            parse_profile(doc)
        assert "spec.syscalls[0].names" in str(err.value)


# ---------------------------------------------------------------- the node agent's batch
def _writer(tmp_path):
    return NodeWriter(str(tmp_path / "kubelet"), selinux_dir=str(tmp_path / "selinux.d"),
                      selinuxd_socket=str(tmp_path / "no-selinuxd.sock"), selinux_compat="never",
                      metrics=AgentMetrics())


def _seccomp(name, **spec):
    with open(SPEC_PROFILE) as handle:
        doc = yaml.safe_load(handle)
    doc["metadata"] = {"name": name, "namespace": "ns", "uid": "u-" + name, "generation": 1,
                       "finalizers": [ns.CLEANUP_FINALIZER]}
    doc["spec"].update(spec)
    return slim_profile(doc)


def _cluster_obj(kind, name, spec):
    doc = _doc(kind, name, spec)
    doc["metadata"].update({"uid": "u-" + name, "generation": 1, "finalizers": [ns.CLEANUP_FINALIZER]})
    return slim_profile(doc)


def test_one_bad_object_fails_alone_and_the_rest_of_the_batch_is_installed(tmp_path):
    require_tools("secil2conf")
    good_seccomp = _seccomp("good")
    broken_seccomp = _seccomp("broken")
    broken_seccomp["spec"] = ["not", "a", "mapping"]  # no check foresees it: validation raises AttributeError
    good_selinux = _cluster_obj(SELINUX_KIND, "errorlogger", {"allow": {"var_log_t": {"file": ["read"]}}})
    deep_raw = _cluster_obj(RAW_KIND, "deep", {"policy": DEEP})
    good_raw = _cluster_obj(RAW_KIND, "rawgood", {"policy": "(blockinherit container)\n"
                                                            "(allow process etc_t (file (read)))"})
    present = {}
    for kind, obj in ((SECCOMP_KIND, good_seccomp), (SECCOMP_KIND, broken_seccomp), (SELINUX_KIND, good_selinux),
                      (RAW_KIND, deep_raw), (RAW_KIND, good_raw)):
        present[(kind, "ns", obj["metadata"]["name"])] = obj
    profiles = {kind: {(k[1], k[2]): o for k, o in present.items() if k[0] == kind}
                for kind in (SECCOMP_KIND, SELINUX_KIND, RAW_KIND)}
    snapshot = Snapshot(profiles, settings=settings({"spec": {"enableSelinux": True}}))
    outcomes = Planner().plan(snapshot, present)
    writer = _writer(tmp_path)
    writer.write_seccomp({k: o for k, o in outcomes.items() if k[0] == SECCOMP_KIND}, snapshot.file_owner)
    assert writer.write_selinux({k: o for k, o in outcomes.items() if k[0] != SECCOMP_KIND}, True) == [
        (SELINUX_KIND, "ns", "errorlogger"), (RAW_KIND, "ns", "rawgood")]
    deep = outcomes[(RAW_KIND, "ns", "deep")]
    assert deep.state == ns.ERROR and deep.refused
    assert deep.message.startswith("RawSelinuxProfile ns/deep: spec.policy: nests lists more than 32 levels")
    broken = outcomes[(SECCOMP_KIND, "ns", "broken")]
    assert broken.state == ns.ERROR and broken.refused and "SeccompProfile ns/broken" in broken.message
    assert outcomes[(SECCOMP_KIND, "ns", "good")].state == ns.INSTALLED
    assert os.path.exists(os.path.join(writer.root, "ns", "good.json"))
    assert not os.path.exists(os.path.join(writer.root, "ns", "broken.json"))
    written = sorted(os.listdir(writer.selinux_dir))
    assert "errorlogger_ns.cil" in written and "rawgood_ns.cil" in written and "deep_ns.cil" not in written
    for key in ((SELINUX_KIND, "ns", "errorlogger"), (RAW_KIND, "ns", "rawgood")):
        assert outcomes[key].state == ns.IN_PROGRESS  # handed to selinuxd


# ---------------------------------------------------------------- names of the node's own blocks
@pytest.mark.parametrize("kind", [SELINUX_KIND, RAW_KIND])
@pytest.mark.parametrize("name,namespace", [("net", "container"), ("log", "container"), ("virt", "container")])
def test_a_profile_named_like_a_system_template_is_refused(kind, name, namespace):
    spec = {"policy": "(blockinherit container)"} if kind == RAW_KIND else {}
    with pytest.raises(SpoError) as err:
        selinux.parse_profile(_doc(kind, name, spec, namespace=namespace))
    assert str(err.value).startswith("%s %s/%s: metadata.name: " % (kind, namespace, name))
    assert "System template" in str(err.value)


def test_a_template_named_profile_would_break_the_templates_module(tmp_path):
    """Why it is refused: compiled next to the templates, the node's policy no longer builds at all."""
    require_tools("secilc")
    from test_selinux_compile import SYSTEM, secilc
    text = "(block net_container (blockinherit container) (allow process etc_t (file (read))))\n"
    rc, out = secilc(SYSTEM + [text])
    assert rc != 0 and "Re-declaration of block net_container" in out


def test_other_names_in_a_templates_namespace_are_accepted():
    assert selinux.parse_profile(_doc(SELINUX_KIND, "web", {}, namespace="container")).policy_name == "web_container"


# ---------------------------------------------------------------- duplicate inherit
def test_a_duplicate_inherit_entry_is_inherited_once():
    doc = _doc(SELINUX_KIND, "dup", {"inherit": [{"name": "container"}, {"name": "container"},
                                                 {"kind": "System", "name": "container"}],
                                     "allow": {"var_log_t": {"file": ["read"]}}})
    profile = selinux.parse_profile(doc)
    assert [(e.kind, e.name) for e in profile.inherit] == [("System", "container")]
    assert selinux_cil.profile_cil(profile).count("(blockinherit container)") == 1


def test_a_duplicate_selinuxprofile_parent_is_inherited_once():
    parent = _doc(SELINUX_KIND, "parent", {"allow": {"var_log_t": {"file": ["read"]}}})
    child = _doc(SELINUX_KIND, "child", {"inherit": [{"kind": SELINUX_KIND, "name": "parent"}] * 2})
    texts = {p.name: selinux_cil.profile_cil(p) for p in selinux.parse_profiles([parent, copy.deepcopy(child)])}
    assert texts["child"].count("(blockinherit parent_ns)") == 1
