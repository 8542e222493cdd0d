# -*- coding: utf-8 -*-
"""The Pod Security engine's rules beyond the corpus: text, versions, kinds, bad input, levels."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss import registry
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import evaluate, evaluate_many
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.text import join_quote, pluralize, quote
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import parse_version

FEDORA = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fedora", "namespace": "demo"},
          "spec": {"containers": [{"name": "fedora", "image": "fedora", "securityContext": {"privileged": True}}]}}
TEMPLATE = copy.deepcopy(FEDORA["spec"])


@pytest.mark.parametrize("text,expected", [
    ("unconfined", '"unconfined"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("tab\there\n", '"tab\\there\\n"'),
    ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
    ("caf\u00e9 \u00a0\u2028", '"caf\u00e9 \\u00a0\\u2028"'),
    ("\U0001F600\U000E0001", '"\U0001F600\\U000e0001"'),
])
def test_quote_is_go_strconv_quote(text, expected):
    assert quote(text) == expected


def test_join_quote_and_pluralize():
    assert join_quote([]) == ""
    assert join_quote(["a"]) == '"a"'
    assert join_quote(["a", "b"]) == '"a", "b"'
    assert pluralize("container", "containers", 1) == "container"
    assert pluralize("container", "containers", 0) == "containers"


@pytest.mark.parametrize("text,minor", [("latest", None), ("v1.0", 0), ("v1.24", 24), ("v1.135", 135)])
def test_versions(text, minor):
    assert parse_version(text) == minor


@pytest.mark.parametrize("text", ["v1.024", "1.24", "v2.0", "v1.", "Latest", "v1.-1", ""])
def test_bad_versions_are_refused_like_the_api_server(text):
    with pytest.raises(SpoError, match='must be "latest" or "v1.x"'):
        parse_version(text)


def test_the_seed_message():
    verdict = evaluate(FEDORA, "restricted", "v1.24")
    assert verdict.warning.startswith('would violate PodSecurity "restricted:v1.24": privileged (container "fedora" '
                                      'must not set securityContext.privileged=true), allowPrivilegeEscalation != '
                                      'false (')
    assert verdict.enforce_message == verdict.warning.replace("would violate", "violates", 1)
    assert verdict.minimum_level == "privileged"
    assert verdict.object == "Pod demo/fedora"
    assert [v.check for v in verdict.violations] == ["privileged", "allowPrivilegeEscalation",
                                                     "capabilities_restricted", "runAsNonRoot",
                                                     "seccompProfile_restricted"]


def test_privileged_level_admits_everything():
    verdict = evaluate(FEDORA, "privileged")
    assert verdict.allowed and verdict.warning == "" and verdict.enforce_message == ""
    assert verdict.minimum_level == "privileged"


@pytest.mark.parametrize("kind,path", [
    ("Deployment", ("spec", "template")), ("ReplicaSet", ("spec", "template")), ("StatefulSet", ("spec", "template")),
    ("DaemonSet", ("spec", "template")), ("Job", ("spec", "template")), ("ReplicationController", ("spec", "template")),
    ("CronJob", ("spec", "jobTemplate", "spec", "template")), ("PodTemplate", ("template",)),
])
def test_workload_templates_are_judged(kind, path):
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "w"}}
    node = obj
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = {"spec": copy.deepcopy(TEMPLATE)}
    verdict = evaluate(obj, "baseline")
    assert verdict.warning == ('would violate PodSecurity "baseline:latest": privileged (container "fedora" must not '
                               'set securityContext.privileged=true)')
    del node[path[-1]]
    assert evaluate(obj, "restricted").judged is False  # no template: nothing to judge, as the API server


def test_ephemeral_containers_are_visited_last():
    pod = copy.deepcopy(FEDORA)
    pod["spec"]["initContainers"] = [{"name": "init", "securityContext": {"privileged": True}}]
    pod["spec"]["ephemeralContainers"] = [{"name": "debug", "securityContext": {"privileged": True}}]
    assert evaluate(pod, "baseline").detail == ('privileged (containers "init", "fedora", "debug" must not set '
                                                'securityContext.privileged=true)')


def test_newer_versions_evaluate_as_the_newest_change():
    assert registry.MAX_MINOR == 35
    pod = {"kind": "Pod", "metadata": {"name": "p"},
           "spec": {"hostUsers": False, "containers": [{"name": "a", "securityContext": {"runAsUser": 0}}]}}
    assert evaluate(pod, "restricted", "v1.34").detail != evaluate(pod, "restricted", "v1.35").detail
    for version in ("v1.36", "v1.99", "latest"):
        assert evaluate(pod, "restricted", version).detail == evaluate(pod, "restricted", "v1.35").detail


def test_check_order_is_baseline_then_restricted_sorted():
    ids = [check_id for check_id, _fn in registry.checks_for("restricted", None)]
    baseline = [i for i in ids if i in {c.id for c in registry.CHECKS if c.level == "baseline"}]
    assert ids[:len(baseline)] == sorted(baseline)
    assert ids[len(baseline):] == sorted(ids[len(baseline):])
    # overridden baseline checks are gone at restricted
    assert "hostPathVolumes" not in ids and "capabilities_baseline" not in ids and "procMount" not in ids
    assert "capabilities_baseline" in [check_id for check_id, _check in registry.checks_for("restricted", 21)]


def test_minimum_level():
    base = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}}
    assert evaluate(base).minimum_level == "baseline"
    restricted = copy.deepcopy(base)
    restricted["spec"]["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    restricted["spec"]["containers"][0]["securityContext"] = {"allowPrivilegeEscalation": False,
                                                              "capabilities": {"drop": ["ALL"]}}
    assert evaluate(restricted).minimum_level == "restricted"
    assert evaluate(restricted, "baseline").minimum_level == "restricted"
    assert evaluate(FEDORA, "baseline").minimum_level == "privileged"


def test_manifest_is_not_changed():
    pod = {"kind": "Pod", "metadata": {"name": "p", "annotations": {
        "container.apparmor.security.beta.kubernetes.io/a": "unconfined",
        "container.seccomp.security.alpha.kubernetes.io/a": "unconfined"}},
        "spec": {"securityContext": {"seccompProfile": {"type": "Unconfined"}}, "containers": [{"name": "a"}]}}
    before = copy.deepcopy(pod)
    evaluate(pod, "baseline", "v1.18")
    assert pod == before


@pytest.mark.parametrize("spec,field", [
    ({"containers": [{"name": "a", "securityContext": {"privileged": "yes"}}]},
     "spec.containers[0].securityContext.privileged"),
    ({"containers": "a"}, "spec.containers"),
    ({"hostNetwork": 1, "containers": []}, "spec.hostNetwork"),
    ({"containers": [{"name": "a", "securityContext": {"runAsUser": True}}]},
     "spec.containers[0].securityContext.runAsUser"),
    ({"containers": [{"name": "a", "ports": [{"hostPort": "80"}]}]}, "spec.containers[0].ports[0].hostPort"),
    ({"securityContext": {"sysctls": [{"name": 5}]}}, "spec.securityContext.sysctls[0].name"),
    ({"volumes": ["x"]}, "spec.volumes[0]"),
    ({"initContainers": [{"name": "i", "securityContext": {"capabilities": {"add": [1]}}}]},
     "spec.initContainers[0].securityContext.capabilities.add[0]"),
])
def test_bad_fields_name_the_object_and_field(spec, field):
    with pytest.raises(SpoError) as info:
        evaluate({"kind": "Pod", "metadata": {"name": "bad", "namespace": "ns"}, "spec": spec})
    assert str(info.value).startswith("Pod ns/bad: %s: must be " % field)


def test_bad_template_names_its_path():
    with pytest.raises(SpoError, match=r"^Deployment d: spec.template.spec.containers\[0\].securityContext: must be a mapping"):
        evaluate({"kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"template": {"spec": {"containers": [{"name": "a", "securityContext": []}]}}}})


def test_unknown_kind_and_bad_level():
    with pytest.raises(SpoError, match="kind 'Service' has no pod"):
        evaluate({"kind": "Service", "metadata": {"name": "s"}})
    with pytest.raises(SpoError, match="must be one of privileged, baseline, restricted"):
        evaluate(FEDORA, "strict")


def test_evaluate_many_skips_other_kinds():
    result = evaluate_many([FEDORA, {"kind": "Service", "metadata": {"name": "web"}}], "baseline")
    assert [v.object for v in result["verdicts"]] == ["Pod demo/fedora"]
    assert result["skipped"] == ["Service web"]
