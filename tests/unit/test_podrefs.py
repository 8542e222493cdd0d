# -*- coding: utf-8 -*-
"""Which profiles a pod uses (podrefs): pod and container level, the legacy annotation, finished pods."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.podrefs import (
    parse_localhost_profile, parse_selinux_type, pod_refs, slim_pod)


@pytest.mark.parametrize("path, expected", [
    ("operator/ns/p.json", ("ns", "p.json")),  # the file: profile p's, and profile p.json's
    ("operator/ns/p", None),
    ("other/ns/p.json", None),
    ("operator/ns/sub/p.json", None),
    ("operator//p.json", None),
    (None, None),
])
def test_parse_localhost_profile(path, expected):
    assert parse_localhost_profile(path) == expected


@pytest.mark.parametrize("value, expected", [
    ("errorlogger_my-ns.process", ("my-ns", "errorlogger")),
    ("container_t", None),
    ("a_b_c.process", None),
    ("_ns.process", None),
])
def test_parse_selinux_type(value, expected):
    assert parse_selinux_type(value) == expected


def _pod(phase="Running", pod_sc=None, containers=(), annotations=None):
    return {"metadata": {"name": "p", "namespace": "ns", "annotations": annotations or {}},
            "spec": {"securityContext": pod_sc or {},
                     "containers": [{"name": "c%d" % i, "securityContext": sc} for i, sc in enumerate(containers)]},
            "status": {"phase": phase}}


def test_pod_refs_pod_and_container_level():
    pod = _pod(pod_sc={"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/a/one.json"}},
               containers=[{"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/b/two.json"}},
                           {"seccompProfile": {"type": "RuntimeDefault"}},
                           {"seLinuxOptions": {"type": "pol_ns.process"}}])
    assert pod_refs(pod) == [("seccomp", "a", "one.json"), ("seccomp", "b", "two.json"), ("selinux", "ns", "pol")]
    assert slim_pod(pod) == {"metadata": {"name": "p", "namespace": "ns"}, "refs": pod_refs(pod)}


def test_pod_refs_legacy_annotation_and_finished_pods():
    pod = _pod(annotations={"seccomp.security.alpha.kubernetes.io/pod": "localhost/operator/a/x.json"})
    assert pod_refs(pod) == [("seccomp", "a", "x.json")]
    assert pod_refs(_pod(phase="Succeeded", annotations=pod["metadata"]["annotations"])) == []
    assert slim_pod(_pod()) is None  # uses no operator profile: not cached
