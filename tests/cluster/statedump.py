# -*- coding: utf-8 -*-
"""What the cluster suite prints when a test fails (conftest.py's report hook), as awx-operator's molecule dumps
its logs: the operator's and the node agents' logs, the project's objects and the events of the namespaces
involved, so a CI failure can be read from the log alone. Each part is bounded; a part that cannot be read says
why and the others still come."""
from __future__ import annotations

import subprocess
from typing import Iterable, List

from clusterlib import OPERATOR_NAMESPACE  # pylint: disable=import-error

PART_LIMIT = 30000  # characters of one part (its tail is kept: the latest lines matter most)
PROJECT_KINDS = ("securityprofilesoperatordaemons,seccompprofiles,selinuxprofiles,rawselinuxprofiles,"
                 "profilebindings,profilerecordings,securityprofilenodestatuses")


def _run(args: List[str]) -> str:
    try:
        proc = subprocess.run(["kubectl", "--request-timeout=15s"] + args, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=30, check=False)
        text = proc.stdout
    except (OSError, subprocess.SubprocessError) as exc:
        text = "(could not run kubectl: %s)" % exc
    if len(text) > PART_LIMIT:
        text = "(... %d characters cut)\n%s" % (len(text) - PART_LIMIT, text[-PART_LIMIT:])
    return text


def _pods(namespace: str) -> List[str]:
    out = _run(["get", "pods", "-n", namespace, "-o", "name"])
    return [line for line in out.split() if line.startswith("pod/")]


def cluster_state(namespaces: Iterable[str] = ()) -> str:
    """The cluster as a failed test left it: the operator's namespace (workloads, events, every container's log
    tail) and each of ``namespaces`` (pods, the project's objects in YAML, events, each container's log tail)."""
    parts = [("workloads of %s" % OPERATOR_NAMESPACE,
              ["get", "deployments,daemonsets,pods", "-n", OPERATOR_NAMESPACE, "-o", "wide"]),
             ("events of %s" % OPERATOR_NAMESPACE, ["get", "events", "-n", OPERATOR_NAMESPACE, "--sort-by=.lastTimestamp"]),
             ("the project's objects", ["get", PROJECT_KINDS, "--all-namespaces"])]
    for pod in _pods(OPERATOR_NAMESPACE):
        parts.append(("log of %s" % pod, ["logs", "-n", OPERATOR_NAMESPACE, pod, "--all-containers", "--prefix",
                                          "--tail=150"]))
    for namespace in namespaces:
        parts.append(("pods of %s" % namespace, ["get", "pods", "-n", namespace, "-o", "wide"]))
        parts.append(("the project's objects in %s" % namespace, ["get", PROJECT_KINDS, "-n", namespace, "-o", "yaml"]))
        parts.append(("events of %s" % namespace, ["get", "events", "-n", namespace, "--sort-by=.lastTimestamp"]))
        for pod in _pods(namespace):
            parts.append(("log of %s in %s" % (pod, namespace), ["logs", "-n", namespace, pod, "--all-containers",
                                                                 "--prefix", "--tail=50"]))
    return "\n".join("=== %s (kubectl %s)\n%s" % (title, " ".join(args), _run(args)) for title, args in parts)
