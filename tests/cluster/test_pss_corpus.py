# -*- coding: utf-8 -*-
"""The Pod Security engine against the API server itself: every corpus case, byte for byte.

For each policy of the corpus (``level:version``) a namespace is labelled
``pod-security.kubernetes.io/warn=<level>``, ``warn-version=<version>`` (enforce and audit
``privileged``, OpenShift's label syncer off), and each case is created there with a server-side
dry run (``dryRun=All``). The API server's ``would violate PodSecurity ...`` warning (a ``Warning``
response header) must equal the engine's text for the same object, byte for byte.

SCC admission (this cluster is OpenShift-flavoured) would mutate a pod before Pod Security judges
it: every pod is pinned to the ``privileged`` SCC with the ``openshift.io/required-scc``
annotation, which adds nothing to the pod's spec. The engine then judges both the object the dry
run returns (exactly what Pod Security saw, including the API server's own seccomp/AppArmor
annotation-to-field sync of new pods) and the corpus object as written (the engine applies that
sync itself). ``SPO_PSS_RECORD=1`` rewrites tests/data/pss/expected.json from the server's
answers, which the unit tests (no cluster) compare the engine with.
"""
from __future__ import annotations

import json
import os
import re
import sys
import uuid
from typing import Any, Dict, List, Tuple

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "data", "pss"))
import corpus  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import as_warning_header, evaluate  # noqa: E402
from clusterlib import wait_for  # noqa: E402  pylint: disable=import-error

CASES = corpus.load_cases()
POLICIES = sorted({policy for case in CASES for policy in case.policies})
RECORD = os.environ.get("SPO_PSS_RECORD") == "1"
PSS_PREFIX = "would violate PodSecurity "
SCC_ANNOTATION = "openshift.io/required-scc"

# kind -> (API path prefix, plural)
PATHS = {
    "Pod": ("/api/v1", "pods"),
    "PodTemplate": ("/api/v1", "podtemplates"),
    "ReplicationController": ("/api/v1", "replicationcontrollers"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "Job": ("/apis/batch/v1", "jobs"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
}

_WARNING_RE = re.compile(r'^(\d{3}) (\S+) "((?:[^"\\]|\\.)*)"')


def parse_warning(value: str) -> str:
    """The text of one ``Warning: 299 - "..."`` header (RFC 7234 quoted-string)."""
    try:
        value = value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        pass
    match = _WARNING_RE.match(value)
    assert match, "malformed Warning header: %r" % value
    return re.sub(r"\\(.)", r"\1", match.group(3))


def dry_run_create(kube, namespace: str, obj: Dict[str, Any]) -> Tuple[List[str], Dict[str, Any]]:
    """Create ``obj`` with dryRun=All: (the Warning texts, the object the server returned)."""
    prefix, plural = PATHS[obj["kind"]]
    path = "%s/namespaces/%s/%s" % (prefix, namespace, plural)
    method, url, headers, body, _post = kube.param_serialize(
        "POST", path, query_params=[("dryRun", "All")], body=obj, auth_settings=["BearerToken"],
        header_params={"Content-Type": "application/json", "Accept": "application/json"})
    response = kube.call_api(method, url, header_params=headers, body=body)
    response.read()
    if response.status >= 300:
        raise AssertionError("the API server refused %s %s: %s" % (obj["kind"], obj["metadata"]["name"],
                                                                   response.data.decode("utf-8", "replace")))
    warnings = [parse_warning(value) for value in response.headers.getlist("Warning")]
    return warnings, json.loads(response.data)


def ns_name(policy: str) -> str:
    return "pss-%s-%s" % (policy.replace(":", "-").replace(".", "-"), uuid.uuid4().hex[:5])


@pytest.fixture(scope="module")
def policy_namespaces(kube):
    """One namespace per corpus policy, warn=<level> warn-version=<version>; deleted afterwards.

    Only the suite's ``kube`` fixture (tests/cluster/conftest.py) is used; these namespaces need
    labels of their own, so they are made here.
    """
    from kubernetes import client
    core = client.CoreV1Api(kube)
    names: Dict[str, str] = {}
    try:
        for policy in POLICIES:
            level, version = policy.split(":")
            name = ns_name(policy)
            labels = {"spo.x-k8s.io/test": "true",
                      "security.openshift.io/scc.podSecurityLabelSync": "false",
                      "pod-security.kubernetes.io/enforce": "privileged",
                      "pod-security.kubernetes.io/audit": "privileged",
                      "pod-security.kubernetes.io/warn": level,
                      "pod-security.kubernetes.io/warn-version": version}
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels)))
            names[policy] = name
        for name in names.values():
            wait_for(lambda n=name: _has_default_sa(core, n), 60, what="service account default in %s" % name)
        yield names
    finally:
        for name in names.values():
            try:
                core.delete_namespace(name, grace_period_seconds=0)
            except Exception:  # pylint: disable=broad-except
                pass
        for name in names.values():
            wait_for(lambda n=name: _gone(core, n), 180, what="namespace %s to be deleted" % name)


def _gone(core, namespace: str) -> bool:
    from kubernetes.client.rest import ApiException
    try:
        core.read_namespace(namespace)
        return False
    except ApiException as exc:
        return exc.status == 404


def _has_default_sa(core, namespace: str) -> bool:
    from kubernetes.client.rest import ApiException
    try:
        core.read_namespaced_service_account("default", namespace)
        return True
    except ApiException:
        return False


@pytest.fixture(scope="module")
def recorded():
    """The expected texts; with SPO_PSS_RECORD=1 they are collected and written at the end."""
    expected = corpus.load_expected()
    fresh: Dict[str, str] = {}
    yield expected, fresh
    if RECORD and fresh:
        corpus.save_expected(fresh if len(fresh) >= len(expected) else dict(expected, **fresh))


def test_corpus_size():
    assert sum(1 for case in CASES if case.obj["kind"] == "Pod") >= 80
    assert {case.obj["kind"] for case in CASES} == set(PATHS)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_engine_matches_api_server(kube, policy_namespaces, recorded, case):
    expected, fresh = recorded
    obj = json.loads(json.dumps(case.obj))
    if obj["kind"] == "Pod":
        obj["metadata"].setdefault("annotations", {})[SCC_ANNOTATION] = "privileged"
    for policy in case.policies:
        level, version = policy.split(":")
        warnings, returned = dry_run_create(kube, policy_namespaces[policy], obj)
        server = [w for w in warnings if w.startswith(PSS_PREFIX)]
        assert len(server) <= 1, server
        server_text = server[0] if server else ""
        # the header carries the whole text unless it is very long (see as_warning_header)
        seen = as_warning_header(evaluate(returned, level, version, as_admitted=False).warning)
        written = as_warning_header(evaluate(case.obj, level, version).warning)
        assert seen == server_text, "%s at %s: engine on the object Pod Security saw" % (case.name, policy)
        assert written == server_text, "%s at %s: engine on the manifest as written" % (case.name, policy)
        key = corpus.key(case.name, policy)
        if RECORD:
            fresh[key] = server_text
        else:
            assert expected.get(key) == server_text, (
                "%s: tests/data/pss/expected.json differs from the API server (re-record with SPO_PSS_RECORD=1)" % key)
