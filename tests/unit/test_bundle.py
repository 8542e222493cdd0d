# -*- coding: utf-8 -*-
"""The checked-in OLM bundle is what `make bundle` (operator-sdk) generates now, and it deploys what config/ deploys.

When config/ changes, run `make bundle` and commit bundle/ and bundle.Dockerfile.
What config/ deploys is taken from the pinned kustomize (`kustomize build config/default`).
The tests that run kustomize or operator-sdk build them from their Go modules when they
are not cached yet (hack/go_tools.py); they skip only where there is no Go at all.
"""
from __future__ import annotations

import base64
import glob
import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

from crd import ROOT


def _load_module(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "hack", file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle = _load_module("spo_bundle", "bundle.py")
go_tools = _load_module("spo_go_tools_for_bundle", "go_tools.py")

CSV_PATH = os.path.join(ROOT, "bundle", "manifests", "security-profiles-operator.clusterserviceversion.yaml")
BASE_PATH = os.path.join(ROOT, "config", "manifests", "bases", "security-profiles-operator.clusterserviceversion.yaml")
SPNS_SAMPLE = os.path.join(ROOT, "config", "samples", "security-profiles-operator.x-k8s.io_v1alpha1_securityprofilenodestatus.yaml")


def _tools():
    cache = os.environ.get("SPO_TOOLS_CACHE", go_tools.DEFAULT_CACHE)
    cached = all(os.access(go_tools.cached_path(cache, name, go_tools.PINS[name]), os.X_OK)
                 for name in ("kustomize", "operator-sdk"))
    if not cached and not (shutil.which("go") or os.access("/usr/local/go/bin/go", os.X_OK)):
        pytest.skip(reason="kustomize/operator-sdk are not built and there is no Go toolchain to build them")
    return bundle.tools()


def _tree(root):
    found = {}
    for dirpath, _dirs, names in os.walk(os.path.join(root, "bundle")):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path) as handle:
                found[os.path.relpath(path, root)] = handle.read()
    with open(os.path.join(root, "bundle.Dockerfile")) as handle:
        found["bundle.Dockerfile"] = handle.read()
    return found


def test_checked_in_bundle_is_what_make_bundle_generates(tmp_path):
    _tools()
    # the checked-in bundle as the previous one (its createdAt is kept when nothing else changed), plus a stale file
    shutil.copytree(os.path.join(ROOT, "bundle"), tmp_path / "bundle")
    (tmp_path / "bundle" / "manifests" / "gone_crd.yaml").write_text("kind: Gone\n")
    bundle.generate(str(tmp_path))
    fresh, checked_in = _tree(str(tmp_path)), _tree(ROOT)
    assert sorted(fresh) == sorted(checked_in), "bundle/ is stale: run make bundle"
    stale = [path for path in fresh if fresh[path] != checked_in[path]]
    assert stale == [], "bundle/ is stale (%s): run make bundle" % ", ".join(stale)
    assert [p for p in os.listdir(tmp_path) if p.startswith(".bundle.")] == []  # the scratch directory is gone


def test_created_at_is_kept_only_when_nothing_else_changed():
    old = 'metadata:\n  annotations:\n    createdAt: "2026-01-01T00:00:00Z"\n  name: x.v1\n'
    same = old.replace("2026-01-01", "2026-12-31")
    changed = same.replace("x.v1", "x.v2")
    assert bundle.keep_created_at(old, same) == old
    assert bundle.keep_created_at(old, changed) == changed
    assert bundle.keep_created_at(None, same) == same


def test_extra_service_accounts_are_those_no_deployment_runs_as():
    def deployment(account):
        return {"kind": "Deployment", "spec": {"template": {"spec": {"serviceAccountName": account}}}}
    objects = [{"kind": "ServiceAccount", "metadata": {"name": n}} for n in ("op", "spod", "hook")]
    assert bundle.extra_service_accounts(objects + [deployment("op")]) == ["hook", "spod"]
    assert bundle.extra_service_accounts(objects) == ["hook", "op", "spod"]


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _kustomize(directory, *flags):
    out = subprocess.run([_tools()["kustomize"], "build", *flags, os.path.join(ROOT, directory)],
                         capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def deployed():
    return _kustomize("config/default")


@pytest.fixture(scope="module")
def csv():
    return _load(CSV_PATH)


def _key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def _as_written(crd):
    """A CRD of config/ as operator-sdk writes it: with the empty creationTimestamp and status of its Go type."""
    crd = json.loads(json.dumps(crd))
    crd["metadata"]["creationTimestamp"] = None
    crd["status"] = {"acceptedNames": {"kind": "", "plural": ""}, "conditions": None, "storedVersions": None}
    return crd


def test_same_crds(deployed, csv):
    crds = sorted((o for o in deployed if o["kind"] == "CustomResourceDefinition"), key=lambda o: o["metadata"]["name"])
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "bundle", "manifests")) if not f.endswith("clusterserviceversion.yaml"))
    manifests = [_load(os.path.join(ROOT, "bundle", "manifests", f)) for f in files]
    assert [m for m in manifests if m["kind"] == "CustomResourceDefinition"] == [_as_written(c) for c in crds]
    # anything else operator-sdk copies beside the CSV (a Service, a ConfigMap ...) is an object config/ deploys
    others = {(m["kind"], m["metadata"]["name"]) for m in manifests if m["kind"] != "CustomResourceDefinition"}
    assert others <= {(o["kind"], o["metadata"]["name"]) for o in deployed}
    owned = sorted((o["name"], o["version"], o["kind"]) for o in csv["spec"]["customresourcedefinitions"]["owned"])
    assert owned == sorted((c["metadata"]["name"], v["name"], c["spec"]["names"]["kind"]) for c in crds for v in c["spec"]["versions"])
    assert all(o["displayName"] and o["description"] and o["resources"] for o in csv["spec"]["customresourcedefinitions"]["owned"])


def _bound_rules(deployed, role_kind, binding_kind):
    roles = {o["metadata"]["name"]: o["rules"] for o in deployed if o["kind"] == role_kind}
    rules = {}
    for binding in (o for o in deployed if o["kind"] == binding_kind):
        for subject in binding["subjects"]:
            rules.setdefault(subject["name"], []).extend(roles[binding["roleRef"]["name"]])
    return rules


def _as_set(rules):
    return sorted(json.dumps(rule, sort_keys=True) for rule in rules)


def test_same_rules(deployed, csv):
    install = csv["spec"]["install"]["spec"]
    cluster = {p["serviceAccountName"]: _as_set(p["rules"]) for p in install["clusterPermissions"]}
    expected = _bound_rules(deployed, "ClusterRole", "ClusterRoleBinding")
    assert cluster == {account: _as_set(rules) for account, rules in expected.items()}
    assert {p["serviceAccountName"]: _as_set(p["rules"]) for p in install["permissions"]} == \
        {account: _as_set(rules) for account, rules in _bound_rules(deployed, "Role", "RoleBinding").items()}
    # every account, also those of the workloads the operator creates itself (--extra-service-accounts)
    accounts = {o["metadata"]["name"] for o in deployed if o["kind"] == "ServiceAccount"}
    assert accounts == set(cluster) >= {"security-profiles-operator", "spod", "spo-label-sync",
                                        "security-profiles-operator-webhook"}
    assert json.dumps({"apiGroups": ["security.openshift.io"], "resourceNames": ["privileged"],
                       "resources": ["securitycontextconstraints"], "verbs": ["use"]}, sort_keys=True) in cluster["spod"]


def _outside_pod(deployment_spec):
    return {k: v for k, v in deployment_spec.items() if k not in ("template", "strategy")}


def _without_env(pod):
    return [{k: v for k, v in c.items() if k != "env"} for c in pod["containers"] + pod.get("initContainers", [])]


def test_same_deployment(deployed, csv):
    [deployment] = [o for o in deployed if o["kind"] == "Deployment"]
    [entry] = csv["spec"]["install"]["spec"]["deployments"]
    assert entry["name"] == deployment["metadata"]["name"] == "security-profiles-operator"
    assert entry["label"] == deployment["metadata"]["labels"]
    assert _outside_pod(entry["spec"]) == _outside_pod(deployment["spec"])
    assert entry["spec"]["template"]["metadata"] == deployment["spec"]["template"]["metadata"]
    pod, csv_pod = deployment["spec"]["template"]["spec"], entry["spec"]["template"]["spec"]
    # no WATCH_NAMESPACE (operator-sdk would point it at OLM's target namespaces, the operator's own under the
    # CSV's OwnNamespace mode): the operator watches every namespace however OLM installs it
    assert [c["env"] for c in csv_pod["containers"]] == [c["env"] for c in pod["containers"]]
    assert "WATCH_NAMESPACE" not in {e["name"] for c in csv_pod["containers"] for e in c.get("env", [])}
    assert _without_env(csv_pod) == _without_env(pod)
    assert {k: v for k, v in csv_pod.items() if k not in ("containers", "initContainers")} == \
        {k: v for k, v in pod.items() if k not in ("containers", "initContainers")}
    related = {e["value"] for c in pod["containers"] + pod.get("initContainers", []) for e in c.get("env", [])
               if e["name"].startswith("RELATED_IMAGE_")}
    assert related and {i["image"] for i in csv["spec"]["relatedImages"]} == related


def test_suggested_namespace_is_the_operators(deployed, csv):
    [namespace] = [o for o in deployed if o["kind"] == "Namespace"]
    annotations = csv["metadata"]["annotations"]
    template = json.loads(annotations["operatorframework.io/suggested-namespace-template"])
    assert annotations["operatorframework.io/suggested-namespace"] == namespace["metadata"]["name"]
    assert template["metadata"] == {"name": namespace["metadata"]["name"], "labels": namespace["metadata"]["labels"]}
    assert template["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_examples_are_the_samples_and_the_internal_objects_sample(csv):
    examples = json.loads(csv["metadata"]["annotations"]["alm-examples"])
    internal = json.loads(csv["metadata"]["annotations"]["operators.operatorframework.io/internal-objects"])
    assert internal == ["securityprofilenodestatuses.security-profiles-operator.x-k8s.io"]
    spns = _load(SPNS_SAMPLE)
    # scorecard reads every example's status as an object: the node status's state string is left out
    assert isinstance(spns.pop("status"), str)
    spns["spec"] = {}
    assert sorted(examples, key=_key) == sorted(_kustomize("config/samples") + [spns], key=_key)
    owned = {(o["name"].split(".", 1)[1], o["version"], o["kind"]) for o in csv["spec"]["customresourcedefinitions"]["owned"]}
    assert {tuple(e["apiVersion"].split("/")) + (e["kind"],) for e in examples} == owned
    assert all(isinstance(e.get("spec"), dict) and isinstance(e.get("status", {}), dict) for e in examples)


def _schema(kind):
    for path in glob.glob(os.path.join(ROOT, "config", "crd", "bases", "*.yaml")):
        crd = _load(path)
        if crd["spec"]["names"]["kind"] == kind:
            return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    raise AssertionError("no CRD of kind %s" % kind)


def test_descriptors_name_fields_of_the_crds_and_cover_the_examples(csv):
    """What scorecard's olm-spec-descriptors asks, checked here in a second; and no descriptor of a field that is not there."""
    owned = {o["kind"]: o for o in csv["spec"]["customresourcedefinitions"]["owned"]}
    for kind, entry in owned.items():
        schema = _schema(kind)
        for part, key in (("spec", "specDescriptors"), ("status", "statusDescriptors")):
            fields = (schema.get(part) or {}).get("properties", {})
            paths = [d["path"] for d in entry.get(key, [])]
            assert set(paths) <= set(fields), (kind, key, sorted(set(paths) - set(fields)))
            assert all(d["displayName"] and d["description"] for d in entry.get(key, []))
            if fields and part == "status":
                assert paths, "%s: no status descriptor" % kind
    for example in json.loads(csv["metadata"]["annotations"]["alm-examples"]):
        described = {d["path"] for d in owned[example["kind"]].get("specDescriptors", [])}
        assert set(example["spec"]) <= described, (example["kind"], sorted(set(example["spec"]) - described))


def test_icon_is_the_svg(csv):
    with open(os.path.join(ROOT, "config", "manifests", "icon.svg"), "rb") as handle:
        svg = handle.read()
    for document in (csv, _load(BASE_PATH)):
        [icon] = document["spec"]["icon"]
        assert base64.b64decode(icon["base64data"]) == svg and icon["mediatype"] == "image/svg+xml"


def test_operatorhub_fields(csv):
    spec = csv["spec"]
    assert all(m["name"] and re.fullmatch(r"[^@\s]+@[^@\s]+", m["email"]) for m in spec["maintainers"])
    assert spec["provider"]["name"] and spec["links"] and spec["keywords"] and spec["description"]
    assert spec["minKubeVersion"] and csv["metadata"]["annotations"]["capabilities"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", csv["metadata"]["annotations"]["createdAt"])
    [spod] = [o for o in spec["customresourcedefinitions"]["owned"] if o["kind"] == "SecurityProfilesOperatorDaemon"]
    assert {r["kind"] for r in spod["resources"]} >= {"DaemonSet", "Deployment", "PodDisruptionBudget", "CronJob"}


def test_version_and_metadata(csv):
    version = _load(os.path.join(ROOT, "galaxy.yml"))["version"]
    assert csv["metadata"]["name"] == "security-profiles-operator.v" + version and csv["spec"]["version"] == version
    # OwnNamespace only: under AllNamespaces OLM lifts the namespaced permissions (Secrets) cluster-wide
    assert [m["type"] for m in csv["spec"]["installModes"] if m["supported"]] == ["OwnNamespace"]
    annotations = _load(os.path.join(ROOT, "bundle", "metadata", "annotations.yaml"))["annotations"]
    with open(os.path.join(ROOT, "bundle.Dockerfile")) as handle:
        labels = dict(re.findall(r"^LABEL ([^=\s]+)=(\S+)$", handle.read(), re.M))
    assert labels == annotations
    assert annotations["operators.operatorframework.io.bundle.package.v1"] == "security-profiles-operator"
    assert annotations["operators.operatorframework.io.bundle.mediatype.v1"] == "registry+v1"
    assert annotations["operators.operatorframework.io.metrics.project_layout"] == "ansible.sdk.operatorframework.io/v1"
    assert annotations["operators.operatorframework.io.test.config.v1"] == "tests/scorecard/"
    sdk = go_tools.PINS["operator-sdk"].version
    assert annotations["operators.operatorframework.io.metrics.builder"] == "operator-sdk-" + sdk


def test_project_file_lists_the_crds():
    project = _load(os.path.join(ROOT, "PROJECT"))
    assert project["projectName"] == "security-profiles-operator"
    assert project["layout"] == ["ansible.sdk.operatorframework.io/v1"]
    listed = sorted((r["group"] + "." + r["domain"], r["version"], r["kind"]) for r in project["resources"])
    crds = [_load(p) for p in glob.glob(os.path.join(ROOT, "config", "crd", "bases", "*.yaml"))]
    assert listed == sorted((c["spec"]["group"], v["name"], c["spec"]["names"]["kind"]) for c in crds for v in c["spec"]["versions"])


def test_scorecard_runs_the_basic_and_olm_suites_from_the_pinned_image():
    config = _load(os.path.join(ROOT, "bundle", "tests", "scorecard", "config.yaml"))
    tests = [t for stage in config["stages"] for t in stage["tests"]]
    assert {t["labels"]["suite"] for t in tests} == {"basic", "olm"}
    assert {t["entrypoint"][1] for t in tests} == {
        "basic-check-spec", "olm-bundle-validation", "olm-crds-have-validation", "olm-crds-have-resources",
        "olm-spec-descriptors", "olm-status-descriptors"}
    image = "localhost/spo/scorecard-test:" + go_tools.PINS["operator-sdk"].version
    assert {t["image"] for t in tests} == {image}


@pytest.mark.parametrize("path, old, new, message", [
    ("config/rbac/kustomization.yaml", "  - role.yaml\n", "  - missing.yaml\n", "kustomize build config/manifests failed"),
    ("galaxy.yml", "version: ", "versions: ", "galaxy.yml: version is missing"),
    ("galaxy.yml", "version: ", "version: x", "operator-sdk generate bundle failed"),
])
def test_bad_config_is_refused_naming_the_step(tmp_path, path, old, new, message):
    _tools()
    root = tmp_path / "project"
    shutil.copytree(os.path.join(ROOT, "config"), root / "config")
    for name in ("PROJECT", "galaxy.yml"):
        shutil.copy(os.path.join(ROOT, name), root / name)
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new, 1))
    (tmp_path / "out").mkdir()
    with pytest.raises(bundle.BundleError, match=re.escape(message)) as raised:
        bundle.generate(str(tmp_path / "out"), root=str(root))
    if "missing.yaml" in new:
        assert "missing.yaml" in str(raised.value)
    assert os.listdir(tmp_path / "out") == []  # nothing half written
