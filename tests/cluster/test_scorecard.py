# -*- coding: utf-8 -*-
"""operator-sdk scorecard (basic and olm suites) on the checked-in bundle, its tests run as pods of the cluster.

The test image is scorecard-test of the pinned operator-sdk module (hack/scorecard_image.py builds it and
imports it into the project's test cluster; no registry). Scorecard unpacks the bundle in each test pod with
an init container running ``tar``: the project's own image serves (Debian's tar; uid 65532, so it passes the
restricted Pod Security level the test namespace enforces, as OpenShift's label syncer sets it). The pods run
as a service account of their own that holds no permission (the tests read only the bundle).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from clusterlib import ROOT, make_namespace  # pylint: disable=import-error

UNTAR_IMAGE = "localhost/spo/security-profiles-operator:dev"
TESTS = {"basic-check-spec", "olm-bundle-validation", "olm-crds-have-validation", "olm-crds-have-resources",
         "olm-spec-descriptors", "olm-status-descriptors"}
ACCOUNT = "scorecard"


@pytest.fixture(scope="module")
def scorecard_image():
    cluster = os.environ.get("SPO_CLUSTER")
    if not cluster:
        pytest.skip(reason="the scorecard-test image is imported into the project's test cluster only "
                           "(hack/cluster-tests.sh sets SPO_CLUSTER); load it into yours with hack/scorecard_image.py")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "hack", "scorecard_image.py"), "--import", "--cluster",
                           cluster, "--json"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["refs"][0]


@pytest.fixture(scope="module")
def operator_sdk():
    done = subprocess.run([sys.executable, os.path.join(ROOT, "hack", "go_tools.py"), "operator-sdk"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


@pytest.fixture
def scorecard_namespace(kube):
    from kubernetes import client
    from clusterlib import delete_namespace  # pylint: disable=import-error
    name = make_namespace(kube, prefix="spo-sc", privileged=False)
    client.CoreV1Api(kube).create_namespaced_service_account(
        name, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=ACCOUNT), automount_service_account_token=False))
    try:
        yield name
    finally:
        delete_namespace(kube, name, wait=0)


def _scorecard(operator_sdk, kubeconfig, bundle_dir, namespace, *flags):
    started = time.monotonic()
    done = subprocess.run([operator_sdk, "scorecard", bundle_dir, "--kubeconfig", kubeconfig, "--namespace", namespace,
                           "--service-account", ACCOUNT, "--pod-security", "restricted", "--untar-image", UNTAR_IMAGE,
                           "--wait-time", "180s", "--output", "json", *flags],
                          capture_output=True, text=True, check=False, timeout=300)
    seconds = time.monotonic() - started
    try:
        results = {r["name"]: r for item in json.loads(done.stdout)["items"] for r in item["status"]["results"]}
    except (ValueError, KeyError, TypeError):
        pytest.fail("operator-sdk scorecard gave no report (exit %d): %s %s"
                    % (done.returncode, done.stdout[-2000:], done.stderr[-2000:]))
    return done.returncode, results, seconds


def test_the_bundle_passes_the_basic_and_olm_suites(kubeconfig, scorecard_image, operator_sdk,
                                                    scorecard_namespace):
    config = os.path.join(ROOT, "bundle", "tests", "scorecard", "config.yaml")
    with open(config) as handle:
        images = {t["image"] for stage in yaml.safe_load(handle)["stages"] for t in stage["tests"]}
    assert images == {scorecard_image}
    code, results, seconds = _scorecard(operator_sdk, kubeconfig, os.path.join(ROOT, "bundle"), scorecard_namespace)
    print("operator-sdk scorecard: %d tests in %.1f s" % (len(results), seconds))
    failed = {name: (r["state"], r.get("errors"), r.get("log", "")[-500:]) for name, r in results.items()
              if r["state"] != "pass"}
    assert failed == {} and code == 0
    assert set(results) == TESTS


def test_a_missing_spec_descriptor_fails(kubeconfig, scorecard_image, operator_sdk, scorecard_namespace,
                                         tmp_path):
    """The same run on a copy of the bundle whose CSV lost one descriptor an example needs: scorecard says so."""
    bundle = tmp_path / "bundle"
    shutil.copytree(os.path.join(ROOT, "bundle"), str(bundle))
    [csv_path] = (bundle / "manifests").glob("*.clusterserviceversion.yaml")
    csv = yaml.safe_load(csv_path.read_text())
    [binding] = [o for o in csv["spec"]["customresourcedefinitions"]["owned"] if o["kind"] == "ProfileBinding"]
    binding["specDescriptors"] = [d for d in binding["specDescriptors"] if d["path"] != "image"]
    csv_path.write_text(yaml.safe_dump(csv))
    code, results, _seconds = _scorecard(operator_sdk, kubeconfig, str(bundle), scorecard_namespace,
                                         "--selector", "test=olm-spec-descriptors-test")
    assert set(results) == {"olm-spec-descriptors"} and code != 0
    assert results["olm-spec-descriptors"]["state"] == "fail"
    assert "image does not have a spec descriptor" in results["olm-spec-descriptors"]["errors"]
