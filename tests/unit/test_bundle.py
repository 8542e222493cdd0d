# -*- coding: utf-8 -*-
"""The checked-in OLM bundle is what `make bundle` generates now, and its CSV deploys what config/ deploys.

When config/ changes, run `make bundle` and commit bundle/ and bundle.Dockerfile.
What config/ deploys is taken from kubectl's own kustomize (`kubectl kustomize`),
independently of hack/bundle.py's reader.
"""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from crd import ROOT

_SPEC = importlib.util.spec_from_file_location("spo_bundle", os.path.join(ROOT, "hack", "bundle.py"))
bundle = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bundle)

CSV_PATH = os.path.join(ROOT, "bundle", "manifests", "security-profiles-operator.clusterserviceversion.yaml")


def _tree(root):
    found = {}
    for sub in ("bundle",):
        for dirpath, _dirs, names in os.walk(os.path.join(root, sub)):
            for name in names:
                path = os.path.join(dirpath, name)
                with open(path) as handle:
                    found[os.path.relpath(path, root)] = handle.read()
    with open(os.path.join(root, "bundle.Dockerfile")) as handle:
        found["bundle.Dockerfile"] = handle.read()
    return found


def test_checked_in_bundle_is_what_make_bundle_generates(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "hack", "bundle.py"), "--output", str(tmp_path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    fresh, checked_in = _tree(str(tmp_path)), _tree(ROOT)
    assert sorted(checked_in) == sorted(fresh), "bundle/ is stale: run make bundle"
    stale = [path for path in fresh if fresh[path] != checked_in[path]]
    assert stale == [], "bundle/ is stale (%s): run make bundle" % ", ".join(stale)


def test_generation_is_deterministic():
    assert bundle.files() == bundle.files()


def test_stale_manifests_are_removed(tmp_path):
    manifests = tmp_path / "bundle" / "manifests"
    manifests.mkdir(parents=True)
    (manifests / "old_crd.yaml").write_text("kind: Gone\n")
    bundle.write(str(tmp_path))
    assert not (manifests / "old_crd.yaml").exists()


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _kustomize(directory):
    if not shutil.which("kubectl"):
        pytest.skip(reason="kubectl (with its built-in kustomize) is not on PATH; hack/setup.sh does not install it")
    out = subprocess.run(["kubectl", "kustomize", os.path.join(ROOT, directory)], capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module")
def deployed():
    return _kustomize("config/default")


@pytest.fixture(scope="module")
def csv():
    return _load(CSV_PATH)


def _key(obj):
    return (obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])


def test_the_readers_agree_with_kubectl(deployed):
    assert sorted(map(_key, bundle.kustomize(os.path.join(ROOT, "config", "default")))) == sorted(map(_key, deployed))


def test_same_crds(deployed, csv):
    crds = sorted((o for o in deployed if o["kind"] == "CustomResourceDefinition"), key=lambda o: o["metadata"]["name"])
    files = sorted(f for f in os.listdir(os.path.join(ROOT, "bundle", "manifests")) if not f.endswith("clusterserviceversion.yaml"))
    assert [_load(os.path.join(ROOT, "bundle", "manifests", f)) for f in files] == crds
    owned = sorted((o["name"], o["version"], o["kind"]) for o in csv["spec"]["customresourcedefinitions"]["owned"])
    assert owned == sorted((c["metadata"]["name"], v["name"], c["spec"]["names"]["kind"]) for c in crds for v in c["spec"]["versions"])
    assert all(o["displayName"] and o["description"] for o in csv["spec"]["customresourcedefinitions"]["owned"])


def _bound_rules(deployed, role_kind, binding_kind):
    roles = {o["metadata"]["name"]: o["rules"] for o in deployed if o["kind"] == role_kind}
    rules = {}
    for binding in (o for o in deployed if o["kind"] == binding_kind):
        for subject in binding["subjects"]:
            rules.setdefault(subject["name"], []).extend(roles[binding["roleRef"]["name"]])
    return rules


def test_same_rules(deployed, csv):
    install = csv["spec"]["install"]["spec"]
    cluster = {p["serviceAccountName"]: p["rules"] for p in install["clusterPermissions"]}
    assert cluster == _bound_rules(deployed, "ClusterRole", "ClusterRoleBinding")
    assert {p["serviceAccountName"]: p["rules"] for p in install["permissions"]} == _bound_rules(deployed, "Role", "RoleBinding")
    accounts = {o["metadata"]["name"] for o in deployed if o["kind"] == "ServiceAccount"}
    assert accounts == set(cluster) == {"security-profiles-operator", "spod", "spo-label-sync",
                                        "security-profiles-operator-webhook"}
    assert {"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
            "resourceNames": ["privileged"], "verbs": ["use"]} in cluster["spod"]


def test_same_deployment(deployed, csv):
    [deployment] = [o for o in deployed if o["kind"] == "Deployment"]
    [entry] = csv["spec"]["install"]["spec"]["deployments"]
    assert entry["name"] == deployment["metadata"]["name"] == "security-profiles-operator"
    assert entry["spec"] == deployment["spec"] and entry["label"] == deployment["metadata"]["labels"]
    pod = deployment["spec"]["template"]["spec"]
    images = {c["image"] for c in pod["containers"] + pod.get("initContainers", [])}
    assert images == {csv["metadata"]["annotations"]["containerImage"]} == {i["image"] for i in csv["spec"]["relatedImages"]}
    [namespace] = [o for o in deployed if o["kind"] == "Namespace"]
    template = json.loads(csv["metadata"]["annotations"]["operatorframework.io/suggested-namespace-template"])
    assert template["metadata"] == {"name": namespace["metadata"]["name"], "labels": namespace["metadata"]["labels"]}
    assert template["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_examples_are_the_samples_and_the_internal_objects_sample(csv):
    examples = json.loads(csv["metadata"]["annotations"]["alm-examples"])
    internal = json.loads(csv["metadata"]["annotations"]["operators.operatorframework.io/internal-objects"])
    assert internal == ["securityprofilenodestatuses.security-profiles-operator.x-k8s.io"]
    with open(os.path.join(ROOT, "config", "samples", "security-profiles-operator.x-k8s.io_v1alpha1_securityprofilenodestatus.yaml")) as handle:
        spns = yaml.safe_load(handle)
    assert sorted(examples, key=_key) == sorted(_kustomize("config/samples") + [spns], key=_key)
    owned = {(o["name"].split(".", 1)[1], o["version"], o["kind"]) for o in csv["spec"]["customresourcedefinitions"]["owned"]}
    assert {tuple(e["apiVersion"].split("/")) + (e["kind"],) for e in examples} == owned


def test_icon_is_the_svg(csv):
    [icon] = csv["spec"]["icon"]
    with open(os.path.join(ROOT, "config", "manifests", "icon.svg"), "rb") as handle:
        assert base64.b64decode(icon["base64data"]) == handle.read()
    assert icon["mediatype"] == "image/svg+xml"


def test_operatorhub_fields(csv):
    spec = csv["spec"]
    assert all(m["name"] and re.fullmatch(r"[^@\s]+@[^@\s]+", m["email"]) for m in spec["maintainers"])
    assert spec["provider"]["name"] and spec["links"] and spec["keywords"] and spec["description"]
    assert spec["minKubeVersion"] and csv["metadata"]["annotations"]["capabilities"]
    [spod] = [o for o in spec["customresourcedefinitions"]["owned"] if o["kind"] == "SecurityProfilesOperatorDaemon"]
    assert {r["kind"] for r in spod["resources"]} >= {"DaemonSet", "Deployment", "PodDisruptionBudget", "CronJob"}


def test_version_and_metadata(csv):
    version = _load(os.path.join(ROOT, "galaxy.yml"))["version"]
    assert csv["metadata"]["name"] == "security-profiles-operator.v" + version and csv["spec"]["version"] == version
    assert [m["type"] for m in csv["spec"]["installModes"] if m["supported"]] == ["AllNamespaces"]
    annotations = _load(os.path.join(ROOT, "bundle", "metadata", "annotations.yaml"))["annotations"]
    with open(os.path.join(ROOT, "bundle.Dockerfile")) as handle:
        labels = dict(re.findall(r"^LABEL ([^=\s]+)=(\S+)$", handle.read(), re.M))
    assert labels == annotations
    assert annotations["operators.operatorframework.io.bundle.package.v1"] == "security-profiles-operator"
    assert annotations["operators.operatorframework.io.bundle.mediatype.v1"] == "registry+v1"


def _copy_project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(os.path.join(ROOT, "config"), root / "config")
    shutil.copy(os.path.join(ROOT, "galaxy.yml"), root / "galaxy.yml")
    return root


@pytest.mark.parametrize("edit, message", [
    (("config/rbac/kustomization.yaml", "resources:", "namePrefix: x-\nresources:"),
     "config/rbac/kustomization.yaml: hack/bundle.py does not understand namePrefix"),
    (("config/rbac/kustomization.yaml", "  - role.yaml\n", "  - missing.yaml\n"), "resource missing.yaml does not exist"),
    (("config/rbac/spod_role_binding.yaml", "  name: spod\nsubjects", "  name: nope\nsubjects"), "ClusterRoleBinding spod: roleRef must name a ClusterRole"),
    (("config/rbac/role_binding.yaml", "namespace: security-profiles-operator", "namespace: elsewhere"),
     "ClusterRoleBinding security-profiles-operator: subjects must be ServiceAccounts"),
    (("config/manifests/bases/security-profiles-operator.clusterserviceversion.yaml", "      - kind: ProfileBinding\n", "      - kind: Other\n"),
     "no displayName/description for ProfileBinding"),
    (("config/manifests/bases/security-profiles-operator.clusterserviceversion.yaml",
      "'[\"securityprofilenodestatuses.", "'[\"nothings."), "nothings.security-profiles-operator.x-k8s.io is not a CRD"),
    (("config/manifests/bases/security-profiles-operator.clusterserviceversion.yaml",
      "'[\"securityprofilenodestatuses.", "'[securityprofilenodestatuses."), "internal-objects: not a JSON list"),
    (("config/samples/security-profiles-operator.x-k8s.io_v1alpha1_securityprofilenodestatus.yaml",
      "kind: SecurityProfileNodeStatus", "kind: Other"), "expected one sample of SecurityProfileNodeStatus in config/samples, found 0"),
    (("config/manifests/icon.svg", "<svg", "<png"), "config/manifests/icon.svg: not an SVG image"),
])
def test_bad_config_is_refused_with_the_file_named(tmp_path, edit, message):
    root = _copy_project(tmp_path)
    path, old, new = edit
    text = (root / path).read_text()
    assert old in text
    (root / path).write_text(text.replace(old, new, 1))
    with pytest.raises(bundle.BundleError, match=re.escape(message)):
        bundle.build(str(root))
