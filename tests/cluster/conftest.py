# -*- coding: utf-8 -*-
"""Fixtures of the cluster suite (shared code in clusterlib.py): ``kubeconfig``, ``kube``, ``namespace``, and
``operator`` (deployed by playbooks/deploy.yml for a module; modules that need more define their own)."""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from clusterlib import (apply_crds, delete_crds, delete_namespace, holds_project_objects,  # pylint: disable=import-error
                        kubeconfig_path, make_namespace, missing_crds, operator_deployed, unavailable)
from kubehelp import playbook  # pylint: disable=import-error
from statedump import cluster_state  # pylint: disable=import-error

# namespaces whose deletion was requested but not awaited (they held none of the project's objects, so nothing
# of the project can hold them up): the suite waits for them all at its end
DELETING = []


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


@pytest.fixture(scope="module")
def operator(kube):
    """The operator deployed for a module's tests (playbooks/deploy.yml: quick when it is there already) and left
    for the next module: a deploy/undeploy cycle is about a minute of CI, and the modules restore what they change
    on the SPOD. The suite undeploys at its end what it deployed (``_crds_at_start``); test_operator_e2e.py proves
    undeploy itself."""
    playbook("deploy.yml")
    return kube


@pytest.fixture
def namespace(kube) -> Iterator[str]:
    """A fresh privileged namespace, deleted after the test: awaited there when it still holds objects of the
    project (their finalizers need the test's agent or operator), else at the end of the suite."""
    name = make_namespace(kube)
    try:
        yield name
    finally:
        if holds_project_objects(kube, name):
            delete_namespace(kube, name)
        else:
            delete_namespace(kube, name, wait=0)
            DELETING.append(name)


@pytest.fixture(scope="session")
def _crds_at_start(kube) -> Iterator[bool]:
    """The suite leaves the cluster as it found it: the operator is undeployed at the end when it was not
    deployed before (some modules deploy it and leave it for the next), and the CRDs removed when they were
    not installed."""
    had = not missing_crds(kube)
    deployed = operator_deployed(kube)
    yield had
    delete_namespace(kube, *DELETING)
    if not deployed and operator_deployed(kube) and os.environ.get("SPO_TEST_KEEP_DEPLOYED") != "1":
        playbook("undeploy.yml")
    if not had:
        delete_crds(kube)


@pytest.fixture(autouse=True, scope="module")
def crds(request, _crds_at_start):
    """Every test module starts with the project's CRDs served (an undeploy in an earlier module removes them)."""
    kube = request.getfixturevalue("kube")
    if missing_crds(kube):
        apply_crds(kube)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    """A failed test's report carries the cluster's state (statedump.py): logs, objects and events."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call") and "kube" in item.fixturenames:
        namespace = item.funcargs.get("namespace")
        report.sections.append(("cluster state at the failure",
                                cluster_state([namespace] if isinstance(namespace, str) else [])))
        local = item.funcargs.get("operator")
        if callable(getattr(local, "log", None)):  # an ansible-operator the module runs out of cluster
            report.sections.append(("its ansible-operator's log (tail)", local.log()[-12000:]))
