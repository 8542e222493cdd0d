# -*- coding: utf-8 -*-
"""Fixtures of the cluster suite (shared code in clusterlib.py): ``kubeconfig``, ``kube``, ``namespace``."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from clusterlib import (apply_crds, delete_crds, delete_namespace, kubeconfig_path, make_namespace,  # pylint: disable=import-error
                        missing_crds, operator_deployed, unavailable)


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    path = kubeconfig_path()
    if not path or not os.path.exists(path):
        unavailable("no cluster: run through hack/cluster-tests.sh (make test-cluster) or set SPO_TEST_KUBECONFIG")
    return path


@pytest.fixture(scope="session")
def kube(kubeconfig: str):
    """A ``kubernetes.client.ApiClient`` for the test cluster (checked reachable)."""
    from kubernetes import client, config
    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        client.VersionApi(api).get_code(_request_timeout=10)
    except Exception as exc:  # pylint: disable=broad-except
        unavailable("the cluster at %s does not answer: %s" % (kubeconfig, exc))
    return api


@pytest.fixture
def namespace(kube) -> Iterator[str]:
    """A fresh privileged namespace, deleted (and waited for) after the test."""
    name = make_namespace(kube)
    try:
        yield name
    finally:
        delete_namespace(kube, name)


@pytest.fixture(scope="session")
def _crds_at_start(kube) -> Iterator[bool]:
    """The suite leaves the cluster as it found it: the operator is undeployed at the end when it was not
    deployed before (some modules deploy it and leave it for the next), and the CRDs removed when they were
    not installed."""
    had = not missing_crds(kube)
    deployed = operator_deployed(kube)
    yield had
    if not deployed and operator_deployed(kube) and os.environ.get("SPO_TEST_KEEP_DEPLOYED") != "1":
        from kubehelp import playbook  # pylint: disable=import-error
        playbook("undeploy.yml")
    if not had:
        delete_crds(kube)


@pytest.fixture(autouse=True, scope="module")
def crds(request, _crds_at_start):
    """Every test module starts with the project's CRDs served (an undeploy in an earlier module removes them)."""
    kube = request.getfixturevalue("kube")
    if missing_crds(kube):
        apply_crds(kube)
