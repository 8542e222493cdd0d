# -*- coding: utf-8 -*-
"""hack/olm.py and hack/olm_images.py: OLM's manifests with only the images changed, the bundle and catalog
images, the generated upgrade bundle. (OLM itself runs in tests/cluster/test_olm.py.)"""
from __future__ import annotations

import os
import sys

import pytest
import yaml

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "hack"))
import go_tools  # noqa: E402  pylint: disable=import-error,wrong-import-position
import oci_image  # noqa: E402  pylint: disable=import-error,wrong-import-position
import olm  # noqa: E402  pylint: disable=import-error,wrong-import-position
import olm_images  # noqa: E402  pylint: disable=import-error,wrong-import-position


def _built(name: str) -> bool:
    return os.access(go_tools.cached_path(os.environ.get("SPO_TOOLS_CACHE", go_tools.DEFAULT_CACHE), name,
                                          go_tools.PINS[name]), os.X_OK)


def _need(*names: str) -> None:
    missing = [n for n in names if not _built(n)]
    if missing:
        pytest.skip(reason="not built yet (hack/olm.py images builds them): " + ", ".join(missing))


@pytest.fixture
def image_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPO_IMAGE_CACHE", str(tmp_path / "images"))


def test_bundle_image_labels_are_the_bundle_annotations():
    labels = olm_images.dockerfile_labels(os.path.join(ROOT, "bundle.Dockerfile"))
    with open(os.path.join(ROOT, "bundle", "metadata", "annotations.yaml")) as handle:
        assert labels == yaml.safe_load(handle)["annotations"]


def test_next_version_replaces_the_first_and_leaves_bundle_alone(tmp_path):
    bundle = olm.Bundle(os.path.join(ROOT, "bundle"), str(tmp_path))
    before = bundle.csv()
    target = bundle.at_version("9.9.9", replaces=before["metadata"]["name"], skip_range=">=0.0.1 <9.9.9")
    with open(bundle.csv_path(target)) as handle:
        csv = yaml.safe_load(handle)
    assert csv["metadata"]["name"] == "security-profiles-operator.v9.9.9"
    assert csv["spec"]["version"] == "9.9.9"
    assert csv["spec"]["replaces"] == before["metadata"]["name"]
    assert csv["metadata"]["annotations"]["olm.skipRange"] == ">=0.0.1 <9.9.9"
    assert csv["spec"]["install"] == before["spec"]["install"]  # the same code
    assert bundle.csv() == before
    assert sorted(os.listdir(os.path.join(target, "manifests"))) == \
        sorted(os.listdir(os.path.join(ROOT, "bundle", "manifests")))


def test_bundle_image_holds_manifests_and_metadata_and_is_named_by_digest(image_cache):
    labels = olm_images.dockerfile_labels(os.path.join(ROOT, "bundle.Dockerfile"))
    image = olm_images.bundle_image(os.path.join(ROOT, "bundle"), labels, olm.BUNDLE_REPO, "vtest")
    archive = oci_image.read_archive(image.archive)
    assert archive.refs == [olm.BUNDLE_REPO + ":vtest", olm.BUNDLE_REPO + "@" + archive.manifest_digest]
    assert image.digest_ref.endswith(archive.manifest_digest)
    names = set(archive.all_entries())
    want = {"manifests/" + f for f in os.listdir(os.path.join(ROOT, "bundle", "manifests"))}
    want |= {"metadata/annotations.yaml"}
    assert want <= names
    assert archive.config["config"]["Labels"] == labels


def test_subscription_doc_uses_the_operators_namespace_labels():
    with open(os.path.join(ROOT, "docs", "olm-subscription.yaml")) as handle:
        docs = {d["kind"]: d for d in yaml.safe_load(handle)["items"]}
    with open(os.path.join(ROOT, "config", "manager", "namespace.yaml")) as handle:
        assert docs["Namespace"]["metadata"] == yaml.safe_load(handle)["metadata"]
    # OwnNamespace: the group targets the operator's namespace only (the CSV's only install mode)
    assert docs["OperatorGroup"]["spec"] == {"targetNamespaces": [docs["Namespace"]["metadata"]["name"]]}
    assert docs["OperatorGroup"]["metadata"]["namespace"] == docs["Namespace"]["metadata"]["name"]
    assert docs["Subscription"]["spec"]["source"] == olm.CATALOG


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _leaves(value, path + (key,))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _leaves(value, path + (index,))
    else:
        yield path, obj


def test_olm_manifests_differ_from_the_release_only_in_images():
    """helm template of OLM's chart with its own upstream values vs. ours: only image references, pull
    policies, the image flags of the catalog operator and its workload uid (left to OpenShift's SCCs) differ,
    and the quay.io CatalogSource is gone."""
    _need("helm")
    olm_image = olm_images.Image("", "localhost/spo/olm:v0", "localhost/spo/olm@sha256:0", "sha256:0")
    opm_image = olm_images.Image("", "localhost/spo/opm:v1", "localhost/spo/opm@sha256:1", "sha256:1")
    ours = olm.render(olm_image, opm_image)
    module = olm.olm_module_dir()
    import subprocess
    out = subprocess.run([olm_images.tools(["helm"])["helm"], "template", "olm", os.path.join(module, "deploy", "chart"),
                          "--include-crds", "-f", os.path.join(module, "deploy", "upstream", "values.yaml")],
                         capture_output=True, text=True, check=True).stdout
    upstream = [d for d in yaml.safe_load_all(out) if d]

    def key(doc):
        return doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]
    dropped = [key(d) for d in upstream if d["kind"] in olm.DROPPED_KINDS]
    assert dropped == [("CatalogSource", "olm", "operatorhubio-catalog")]
    assert sorted(map(key, ours)) == sorted(key(d) for d in upstream if d["kind"] not in olm.DROPPED_KINDS)
    theirs = {key(d): d for d in upstream}
    changed = set()
    for doc in ours:
        a, b = dict(_leaves(doc)), dict(_leaves(theirs[key(doc)]))
        for path in set(a) | set(b):
            if a.get(path) != b.get(path):
                if path[-1] == "pod-security.kubernetes.io/enforce" and key(doc) == ("Namespace", "", "olm"):
                    assert (a.get(path), b.get(path)) == ("baseline", "restricted")
                    continue
                changed.add((key(doc)[2], path[-1] if path[-1] in ("image", "imagePullPolicy") else str(a.get(path))))
    local = olm_image.tag_ref
    assert changed, "nothing differs: the images were not replaced"
    for name, what in sorted(changed):
        assert what in ("image", "imagePullPolicy", local, "--opmImage=" + opm_image.tag_ref,
                        "--configmapServerImage=" + opm_image.tag_ref, "--set-workload-user-id=false"), (name, what)
    for doc in ours:
        for path, value in _leaves(doc):
            if path[-1] == "image" or (isinstance(value, str) and value.startswith("--") and "Image=" in value):
                assert "localhost/spo/" in value, (key(doc), path, value)
            if path[-1] == "imagePullPolicy":
                assert value == "IfNotPresent", (key(doc), path)
