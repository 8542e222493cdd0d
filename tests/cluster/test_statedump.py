# -*- coding: utf-8 -*-
"""The state a failed cluster test prints (statedump.py via conftest's report hook) holds what a reader needs:
the namespace's pods, their log lines and events, and the operator's namespace."""
from __future__ import annotations

import uuid

from kubehelp import core, pod_manifest, pod_phase  # pylint: disable=import-error
from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from statedump import cluster_state  # pylint: disable=import-error


def test_the_dump_holds_the_namespaces_pods_logs_and_events(kube, namespace):
    line = "dump-marker-%s" % uuid.uuid4().hex[:8]
    core(kube).create_namespaced_pod(namespace, pod_manifest("talker", "echo %s; sleep 3600" % line))
    wait_for(lambda: pod_phase(kube, namespace, "talker") == "Running", 90, 1.0, "pod talker Running")
    wait_for(lambda: line in core(kube).read_namespaced_pod_log("talker", namespace), 30, 0.5, "the pod's log line")
    dump = cluster_state([namespace])
    assert "=== workloads of %s" % OPERATOR_NAMESPACE in dump
    assert "=== pods of %s" % namespace in dump and "talker" in dump
    assert "[pod/talker/main] %s" % line in dump, dump[-3000:]
    events = dump.split("=== events of %s" % namespace, 1)[1]
    assert "Scheduled" in events.split("===", 1)[0]
