# -*- coding: utf-8 -*-
"""Nothing silent: every field of the SPOD's schema (the CRD file, both spellings) is honoured or reported.

* every field of the schema has an entry in ``spodfields.FIELDS`` (itself or an ancestor), and every entry is a field;
* an ``Honoured`` claim is checked: rendering what it names (the DaemonSet, the node agent's settings, the webhook
  objects, the label sync Deployment) with the field set gives something else than without it;
* a ``Reported`` field set to a value that asks for something is named in the condition and an Event; unset, not.
"""
from __future__ import annotations

import copy
import glob
import os

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import spod, spodfields, spodsettings
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync import deployment as labelsync
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import manifests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRD = glob.glob(os.path.join(ROOT, "config/crd/bases/*_securityprofilesoperatordaemons.yaml"))[0]
IMAGE = "img:1"

# Honoured fields: (value, what else the SPOD needs for the field to matter) - the claim is checked with both
_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]}]}}}
_FILTERS = '[{"priority": 1, "level": "None", "matchKeys": ["executable"]}]'
_JSON_FILE = "/var/log/spo-json/audit.log"
_JSON_FLAT = {"enableJsonEnricher": True, "jsonEnricherOptions": {"auditLogPath": _JSON_FILE}}
_JSON_GROUPED = {"enricher": _JSON_FLAT}
SAMPLES = {
    "spec.verbosity": (1, {}),
    "spec.hostProcVolumePath": ("/host/proc", {"enableLogEnricher": True}),
    "spec.imagePullSecrets": ([{"name": "pull"}], {}),
    "spec.daemonResourceRequirements": ({"limits": {"memory": "1Gi"}}, {}),
    "spec.enableSelinux": (True, {}),
    "spec.enableLogEnricher": (True, {}),
    "spec.enableJsonEnricher": (True, {}),
    "spec.jsonEnricherFilters": (_FILTERS, {"enableJsonEnricher": True}),
    "spec.jsonEnricherOptions.auditLogIntervalSeconds": (5, {"enableJsonEnricher": True}),
    "spec.jsonEnricherOptions.auditLogPath": (_JSON_FILE, {"enableJsonEnricher": True}),
    "spec.jsonEnricherOptions.auditLogMaxSize": (5, _JSON_FLAT),
    "spec.jsonEnricherOptions.auditLogMaxBackups": (3, _JSON_FLAT),
    "spec.jsonEnricherOptions.auditLogMaxAge": (2, _JSON_FLAT),
    "spec.enableBpfRecorder": (True, {}),
    "spec.tolerations": ([{"operator": "Exists"}], {}),
    "spec.affinity": (_AFFINITY, {}),
    "spec.nodeSelector": ({"a": "b"}, {}),
    "spec.priorityClassName": ("high", {}),
    "spec.staticWebhookConfig": (True, {}),
    "spec.webhookOptions": ([{"name": manifests.WEBHOOK_NAMES[0], "failurePolicy": "Ignore"}], {}),
    "spec.allowedSyscalls": (["read"], {}),
    "spec.allowedSeccompActions": (["SCMP_ACT_ALLOW"], {"allowedSyscalls": ["read"]}),
    "spec.selinux.enable": (True, {}),
    "spec.enricher.enableLogEnricher": (True, {}),
    "spec.enricher.enableJsonEnricher": (True, {}),
    "spec.enricher.jsonEnricherFilters": (_FILTERS, {"enricher": {"enableJsonEnricher": True}}),
    "spec.enricher.jsonEnricherOptions.auditLogIntervalSeconds": (5, {"enricher": {"enableJsonEnricher": True}}),
    "spec.enricher.jsonEnricherOptions.auditLogPath": (_JSON_FILE, {"enricher": {"enableJsonEnricher": True}}),
    "spec.enricher.jsonEnricherOptions.auditLogMaxSize": (5, _JSON_GROUPED),
    "spec.enricher.jsonEnricherOptions.auditLogMaxBackups": (3, _JSON_GROUPED),
    "spec.enricher.jsonEnricherOptions.auditLogMaxAge": (2, _JSON_GROUPED),
    "spec.enricher.enableBpfRecorder": (True, {}),
    "spec.webhook.staticConfig": (True, {}),
    "spec.webhook.options": ([{"name": manifests.WEBHOOK_NAMES[0], "failurePolicy": "Ignore"}], {}),
    "spec.runtimeDefault.allNamespaces": (True, {}),
    "spec.scheduling.tolerations": ([{"operator": "Exists"}], {}),
    "spec.scheduling.affinity": (_AFFINITY, {}),
    "spec.scheduling.nodeSelector": ({"a": "b"}, {}),
    "spec.scheduling.priorityClassName": ("high", {}),
    "spec.security.allowedSyscalls": (["read"], {}),
    "spec.security.allowedSeccompActions": (["SCMP_ACT_ALLOW"], {"security": {"allowedSyscalls": ["read"]}}),
    "spec.podSecurityLabelSync.enable": (True, {}),
    "spec.podSecurityLabelSync.reportOnly": (True, {"podSecurityLabelSync": {"enable": True}}),
    "spec.podSecurityLabelSync.source": ("scc", {"podSecurityLabelSync": {"enable": True}}),
}
# Reported fields whose asking value is not the schema type's first guess
ASKING = {"spec.selinux.enableRawSelinuxProfiles": False, "spec.enableInsecureMetricsAccess": False}


def _render_daemonset(obj):
    """The DaemonSet without its config hash: a field must change what the pods run, not only the hash of the
    fields the pods depend on."""
    rendered = spod.daemonset(obj, IMAGE)
    del rendered["spec"]["template"]["metadata"]["annotations"][spod.CONFIG_HASH_ANNOTATION]
    return rendered


def _render_node_agent(obj):
    return spodsettings.settings(obj).key()


def _render_webhook(obj):
    settings = manifests.Settings(obj)
    return ({name: getattr(settings, name) for name in manifests.Settings.__slots__},
            manifests.objects(obj, IMAGE), manifests.webhook_configuration(obj))


def _render_label_sync(obj):
    return labelsync.settings(obj), labelsync.deployment(obj, IMAGE)


RENDER = {spodfields.DAEMONSET: _render_daemonset, spodfields.NODE_AGENT: _render_node_agent,
          spodfields.WEBHOOK: _render_webhook, spodfields.LABEL_SYNC: _render_label_sync}


def _schema():
    with open(CRD) as handle:
        crd = yaml.safe_load(handle)
    schemas = [v["schema"]["openAPIV3Schema"]["properties"]["spec"] for v in crd["spec"]["versions"]]
    assert schemas
    return schemas


def _fields(schema, prefix="spec"):
    """(path, schema) of every field; a field with properties is walked into, the others are leaves."""
    for name, sub in sorted((schema.get("properties") or {}).items()):
        path = prefix + "." + name
        yield path, sub
        yield from _fields(sub, path)


def _leaves():
    return sorted({path for schema in _schema() for path, sub in _fields(schema) if not sub.get("properties")})


def _all_paths():
    return {path: sub for schema in _schema() for path, sub in _fields(schema)}


def _spod_with(spec):
    return {"apiVersion": spod.SPOD_API_VERSION, "kind": spod.SPOD_KIND,
            "metadata": {"name": "spod", "namespace": "security-profiles-operator", "uid": "u-1"},
            "spec": copy.deepcopy(spec)}


def _set(spec, path, value):
    parts = path.split(".")[1:]
    target = spec
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
    return spec


def _guess(sub):
    kind = sub.get("type")
    if kind == "boolean":
        return True
    if kind == "integer":
        return 7
    if kind == "string":
        return "something"
    if kind == "array":
        return [_guess(sub.get("items") or {"type": "string"})]
    props = sub.get("properties") or {}
    if props:
        name = sorted(props)[0]
        return {name: _guess(props[name])}
    return {"key": "value"}


def test_the_schema_is_walked():
    leaves = _leaves()
    assert len(leaves) > 60
    assert "spec.enableAppArmor" in leaves and "spec.enricher.jsonEnricherOptions.auditLogMaxAge" in leaves


@pytest.mark.parametrize("path", _leaves())
def test_every_field_is_honoured_or_reported(path):
    assert spodfields.entry(path) is not None, \
        "%s is neither honoured nor reported: add it to spodfields.FIELDS" % path


def test_every_entry_is_a_field_of_the_schema():
    paths = _all_paths()
    stale = [path for path in spodfields.FIELDS if path not in paths]
    assert not stale, "entries for fields the SPOD does not have: %s" % stale


@pytest.mark.parametrize("path", sorted(p for p, e in spodfields.FIELDS.items() if isinstance(e, spodfields.Honoured)))
def test_an_honoured_field_changes_what_it_is_honoured_by(path):
    where = spodfields.FIELDS[path].where
    assert path in SAMPLES, "no sample value to check that %s is honoured by %s" % (path, where)
    value, needs = SAMPLES[path]
    base = _spod_with(needs)
    changed = _spod_with(_set(copy.deepcopy(needs), path, value))
    render = RENDER[where]
    assert render(changed) != render(base), "%s is said to be honoured by %s, which it does not change" % (path, where)
    assert path not in spodfields.field_report(changed)["fields"]


@pytest.mark.parametrize("path", sorted(p for p, e in spodfields.FIELDS.items() if isinstance(e, spodfields.Reported)))
def test_a_reported_field_is_named_in_the_condition_and_an_event(path):
    value = ASKING[path] if path in ASKING else _guess(_all_paths()[path])
    facts = spodfields.Facts(apparmor=False)
    quiet = spodfields.field_report(_spod_with({}), facts)
    assert path not in quiet["fields"]
    assert quiet["condition"]["status"] == "False"
    report = spodfields.field_report(_spod_with(_set({}, path, value)), facts)
    assert report["fields"] == [path]
    cond = report["condition"]
    assert cond["type"] == "NotHonoured" and cond["status"] == "True" and cond["reason"] == "FieldNotHonoured"
    assert cond["message"].startswith(path + ": ") and len(cond["message"]) > len(path) + 10
    assert [e["message"].split(" ")[0] for e in report["events"]] == [path]
    assert report["events"][0]["type"] == "Warning"


def test_enable_apparmor_says_why_by_the_kernel():
    spec = {"enableAppArmor": True}
    without = spodfields.field_report(_spod_with(spec), spodfields.Facts(apparmor=False))
    assert "kernel has no AppArmor" in without["condition"]["message"]
    assert spodfields.APPARMOR_ENABLED in without["events"][0]["message"]
    with_kernel = spodfields.field_report(_spod_with(spec), spodfields.Facts(apparmor=True))
    assert "kernel" not in with_kernel["condition"]["message"]
    assert "no AppArmor profiles" in with_kernel["condition"]["message"]
    assert spodfields.field_report(_spod_with({"enableAppArmor": False}))["fields"] == []


def test_apparmor_enabled_reads_the_module_parameter(tmp_path):
    param = tmp_path / "enabled"
    assert spodfields.apparmor_enabled(str(param)) is False  # absent: no AppArmor in the kernel
    param.write_text("Y\n")
    assert spodfields.apparmor_enabled(str(param)) is True
    param.write_text("N\n")
    assert spodfields.apparmor_enabled(str(param)) is False


def test_several_fields_are_all_named_in_one_condition():
    report = spodfields.field_report(_spod_with({"enableAppArmor": True, "enableProfiling": True,
                                                 "verbosity": 1}), spodfields.Facts(apparmor=False))
    assert report["fields"] == ["spec.enableProfiling", "spec.enableAppArmor"]
    assert len(report["events"]) == 2
    assert "spec.verbosity" not in report["condition"]["message"]


@pytest.mark.parametrize("spec,reported", [
    ({"allowedSeccompActions": ["SCMP_ACT_ERRNO", "SCMP_ACT_LOG"]}, ["spec.allowedSeccompActions"]),
    ({"security": {"allowedSeccompActions": ["SCMP_ACT_ALLOW"]}}, ["spec.security.allowedSeccompActions"]),
    ({"allowedSeccompActions": ["SCMP_ACT_ALLOW"], "allowedSyscalls": ["read"]}, []),
    ({"security": {"allowedSeccompActions": ["SCMP_ACT_ALLOW"], "allowedSyscalls": ["read"]}}, []),
    ({"allowedSeccompActions": [], "allowedSyscalls": []}, []),
])
def test_allowed_seccomp_actions_without_allowed_syscalls_is_reported(spec, reported):
    """Upstream's allowedSeccompActions only says which actions allowedSyscalls bounds: set alone it bounds
    nothing, and the SPOD says so (an admin reading it as "the actions profiles may use" is not left believing it)."""
    report = spodfields.field_report(_spod_with(spec))
    assert report["fields"] == reported
    if reported:
        assert "without allowedSyscalls it bounds nothing" in report["condition"]["message"]
        assert report["events"][0]["message"].startswith(reported[0] + " is not honoured: without allowedSyscalls")
