# -*- coding: utf-8 -*-
"""watches.yaml parsing: upstream's fields and defaults, role lookup, clear errors naming the field."""
from __future__ import annotations

import os

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import watches


@pytest.fixture
def root(tmp_path):
    (tmp_path / "roles" / "local" / "tasks").mkdir(parents=True)
    (tmp_path / "elsewhere" / "other" / "tasks").mkdir(parents=True)
    (tmp_path / "colls" / "ansible_collections" / "ns" / "coll" / "roles" / "spod" / "tasks").mkdir(parents=True)
    (tmp_path / "site.yml").write_text("- hosts: localhost\n  tasks: []\n")
    return str(tmp_path)


def env(root, **extra):
    base = {"ANSIBLE_COLLECTIONS_PATH": os.path.join(root, "colls"), "HOME": root}
    base.update(extra)
    return base


def load(text, root, **extra):
    return watches.loads(text, root, env(root, **extra), max_concurrent_default=3)


def test_defaults(root):
    [w] = load("- {version: v1, group: g.example.com, kind: Thing, role: local}", root)
    assert w.gvk == watches.GVK("g.example.com", "v1", "Thing")
    assert w.role == os.path.join(root, "roles", "local")
    assert (w.manage_status, w.watch_dependent_resources, w.watch_cluster_scoped_resources) == (True, True, False)
    assert (w.snake_case_parameters, w.watch_annotations_changes, w.mark_unsafe) == (True, False, False)
    assert (w.reconcile_period, w.max_runner_artifacts, w.selector, w.finalizer) == (0.0, 20, "", None)
    assert w.max_concurrent_reconciles == 3 and w.ansible_verbosity == 2


def test_every_field(root):
    text = """
- version: v1alpha1
  group: security-profiles-operator.x-k8s.io
  kind: SecurityProfilesOperatorDaemon
  role: ns.coll.spod
  reconcilePeriod: 1h30m
  manageStatus: false
  watchDependentResources: false
  watchClusterScopedResources: true
  snakeCaseParameters: false
  watchAnnotationsChanges: true
  markUnsafe: true
  maxRunnerArtifacts: 3
  vars: {state: present}
  selector:
    matchLabels: {app: spo}
    matchExpressions:
    - {key: tier, operator: In, values: [a, b]}
    - {key: legacy, operator: DoesNotExist}
  blacklist:
  - {group: apps, version: v1, kind: ReplicaSet}
  finalizer:
    name: security-profiles-operator.x-k8s.io/finalizer
    playbook: site.yml
    vars: {state: absent}
- version: v1
  group: g.example.com
  kind: Other
  playbook: site.yml
  finalizer: {name: f, vars: {state: absent}}
"""
    spod, other = load(text, root, MAX_CONCURRENT_RECONCILES_SECURITYPROFILESOPERATORDAEMON_SECURITY_PROFILES_OPERATOR_X_K8S_IO="4",
                       ANSIBLE_VERBOSITY_OTHER_G_EXAMPLE_COM="0")
    assert spod.role == os.path.join(root, "colls", "ansible_collections", "ns", "coll", "roles", "spod")
    assert spod.reconcile_period == 5400
    assert (spod.manage_status, spod.watch_dependent_resources, spod.watch_cluster_scoped_resources) == (False, False, True)
    assert (spod.snake_case_parameters, spod.watch_annotations_changes, spod.mark_unsafe) == (False, True, True)
    assert spod.max_runner_artifacts == 3 and spod.vars == {"state": "present"}
    assert spod.selector == "app=spo,tier in (a,b),!legacy"
    assert spod.blacklist == [watches.GVK("apps", "v1", "ReplicaSet")]
    assert spod.finalizer.name == "security-profiles-operator.x-k8s.io/finalizer"
    assert spod.finalizer.playbook == os.path.join(root, "site.yml") and spod.finalizer.vars == {"state": "absent"}
    assert spod.max_concurrent_reconciles == 4
    assert other.playbook == os.path.join(root, "site.yml") and other.ansible_verbosity == 0
    assert (other.finalizer.role, other.finalizer.playbook, other.finalizer.vars) == ("", "", {"state": "absent"})


def test_upstream_env_name_keeps_dashes(root):
    text = "- {version: v1, group: a-b.example.com, kind: Thing, role: local}"
    [w] = load(text, root, **{"MAX_CONCURRENT_RECONCILES_THING_A-B_EXAMPLE_COM": "7"})
    assert w.max_concurrent_reconciles == 7
    [w] = load(text, root, WORKER_THING_A_B_EXAMPLE_COM="5")  # deprecated name, shell spelling
    assert w.max_concurrent_reconciles == 5


def test_role_lookup_order(root):
    text = "- {version: v1, kind: Thing, role: other}"
    [w] = load(text, root, ANSIBLE_ROLES_PATH=os.path.join(root, "elsewhere"))
    assert w.role == os.path.join(root, "elsewhere", "other")


def test_env_references_are_expanded(root):
    [w] = load('- {version: v1, kind: Thing, role: ${ROLE}, vars: {x: "$UNSET_ONE"}}', root, ROLE="local")
    assert w.role.endswith("/roles/local") and w.vars == {"x": "${UNSET_ONE}"}


def test_unknown_field_is_a_warning(root):
    [w] = load("- {version: v1, kind: Thing, role: local, reconcilePeriodd: 5s}", root)
    assert w.warnings == ["unknown field reconcilePeriodd (ignored, as upstream does)"]


@pytest.mark.parametrize("text,field,words", [
    ("- {group: g, kind: Thing, role: local}", "version", "must not be empty"),
    ("- {version: v1, role: local}", "kind", "must not be empty"),
    ("- {version: v1, kind: Thing}", "role", "must specify role or playbook"),
    ("- {version: v1, kind: Thing, role: missing}", "role", "role missing was not found"),
    ("- {version: v1, kind: Thing, playbook: nope.yml}", "playbook", "playbook nope.yml"),
    ("- {version: v1, kind: Thing, role: local, playbook: site.yml}", "role", "mutually exclusive"),
    ("- {version: v1, kind: Thing, role: local, reconcilePeriod: soon}", "reconcilePeriod", "invalid duration"),
    ("- {version: v1, kind: Thing, role: local, reconcilePeriod: 30}", "reconcilePeriod", "a duration is a string"),
    ("- {version: v1, kind: Thing, role: local, manageStatus: 'yes'}", "manageStatus", "true or false"),
    ("- {version: v1, kind: Thing, role: local, vars: [a]}", "vars", "mapping"),
    ("- {version: v1, kind: Thing, role: local, maxRunnerArtifacts: -1}", "maxRunnerArtifacts", "non-negative"),
    ("- {version: v1, kind: Thing, role: local, finalizer: {role: local}}", "finalizer.name", "must have a name"),
    ("- {version: v1, kind: Thing, role: local, finalizer: {name: f, role: gone}}", "finalizer.role", "role gone was not found"),
    ("- {version: v1, kind: Thing, role: local, finalizer: {name: f, rol: local}}", "finalizer.rol", "unknown field"),
    ("- {version: v1, kind: Thing, role: local, selector: {matchExpressions: [{key: a, operator: Is}]}}",
     "selector.matchExpressions[0].operator", "must be one of"),
    ("- {version: v1, kind: Thing, role: local, selector: {matchExpressions: [{key: a, operator: In}]}}",
     "selector.matchExpressions[0].values", "must not be empty"),
    ("- {version: v1, kind: Thing, role: local, selector: {matchLabels: {a: 1}}}", "selector.matchLabels.a", "strings"),
])
def test_errors_name_the_field(root, text, field, words):
    with pytest.raises(SpoError) as err:
        load(text, root)
    assert err.value.field == field
    assert words in err.value.message
    assert err.value.obj.startswith("watches.yaml[0] (")


def test_duplicate_gvk(root):
    with pytest.raises(SpoError, match="duplicate GVK g/v1, Kind=Thing"):
        load("- {version: v1, group: g, kind: Thing, role: local}\n- {version: v1, group: g, kind: Thing, role: local}", root)


@pytest.mark.parametrize("text,words", [
    ("{version: v1}", "must be a list"),
    ("- [a]", "each entry must be a mapping"),
    ("- {version: v1\n", "not valid YAML"),
])
def test_file_shape(root, text, words):
    with pytest.raises(SpoError, match=words):
        load(text, root)


def test_load_names_the_file(root, tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text("- {version: v1, kind: Thing}")
    with pytest.raises(SpoError) as err:
        watches.load(str(path), root, env(root))
    assert str(err.value).startswith(str(path) + "[0] (v1, Kind=Thing): role: ")
    with pytest.raises(SpoError, match="cannot read"):
        watches.load(str(tmp_path / "none.yaml"), root, env(root))


@pytest.mark.parametrize("text,seconds", [
    ("0", 0), ("30s", 30), ("1h30m", 5400), ("250ms", 0.25), ("1.5h", 5400), ("10h", 36000), ("2m3s", 123),
])
def test_durations(text, seconds):
    assert watches.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "s", "1d", "1h 2m", "soon"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        watches.parse_duration(text)
