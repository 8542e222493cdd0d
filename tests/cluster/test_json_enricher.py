# -*- coding: utf-8 -*-
"""The JSON enricher in the real cluster: the SPOD's ``enableJsonEnricher`` (with ``jsonEnricherFilters``) ->
one JSON line per process a container starts, in the log-enricher container's log, with the pod's names.

The kernel writes each exec as audit records under the rule the enricher adds (``-S execve,execveat -F success=1
-F key=spo-json-enricher``); on this node no auditd runs, so they go to the kernel log, which the enricher reads.
A busybox pod runs three commands (and a fourth, ``sleep 0.3``, that a filter drops); the test finds a line for
each of the three, with the pod's namespace, pod and container, the executable and the arguments, none for the
filtered one, and the counts in the enricher's metrics. Turning the JSON enricher off removes the audit rule.
"""
from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid

from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import core, patch_obj, pod_manifest, pod_phase  # pylint: disable=import-error

COMMANDS = [["cat", "/etc/hostname"], ["sleep", "0.2"], ["cat", "/proc/version"]]
FILTERED = ["sleep", "0.3"]
FILTERS = json.dumps([{"priority": 10, "level": "None", "matchKeys": ["cmdLine"], "matchValues": [" ".join(FILTERED)]}])
RULE_KEY = "key=spo-json-enricher"


def _enricher_pod(kube, ready_text):
    for pod in core(kube).list_namespaced_pod(OPERATOR_NAMESPACE, label_selector="name=spod").items:
        names = [c.name for c in pod.spec.containers]
        ready = {s.name: s.ready for s in pod.status.container_statuses or []}
        if "log-enricher" in names and ready.get("log-enricher") and not pod.metadata.deletion_timestamp:
            log = core(kube).read_namespaced_pod_log(pod.metadata.name, OPERATOR_NAMESPACE, container="log-enricher")
            if ready_text in log:
                return pod
    return None


def _rules():
    return subprocess.run(["auditctl", "-l"], capture_output=True, text=True, check=False).stdout


def _json_lines(kube, pod):
    log = core(kube).read_namespaced_pod_log(pod.metadata.name, OPERATOR_NAMESPACE, container="log-enricher")
    found = []
    for text in log.splitlines():
        if text.startswith("{"):
            try:
                found.append(json.loads(text))
            except ValueError:
                pass
    return found


def test_every_exec_of_a_container_is_one_json_line(operator, namespace):
    kube = operator
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
              {"spec": {"enableJsonEnricher": True, "jsonEnricherFilters": FILTERS}})
    try:
        enricher = wait_for(lambda: _enricher_pod(kube, "json enricher: logging every exec"), 240, 2.0,
                            "a ready log-enricher container running the JSON enricher")
        assert RULE_KEY in _rules()
        name = "execs-" + uuid.uuid4().hex[:6]
        script = "; ".join(" ".join(c) for c in COMMANDS[:2] + [FILTERED] + COMMANDS[2:])
        core(kube).create_namespaced_pod(namespace, pod_manifest(name, script))
        wait_for(lambda: pod_phase(kube, namespace, name) == "Succeeded", 120, 1.0, "pod %s to finish" % name)

        def mine():
            lines = [entry for entry in _json_lines(kube, enricher) if entry.get("resource", {}).get("pod") == name]
            return lines if all(any(e["args"] == c for e in lines) for c in COMMANDS) else None
        lines = wait_for(mine, 60, 1.0, "JSON lines of the three commands")
        for entry in lines:
            print("json line: %s" % json.dumps(entry, sort_keys=True))
        for command in COMMANDS:
            matching = [e for e in lines if e["args"] == command]
            assert len(matching) == 1, (command, matching)
            entry = matching[0]
            assert entry["resource"] == {"namespace": namespace, "pod": name, "container": "main"}
            assert entry["version"] == "spo/v1_alpha" and entry["syscalls"] == ["execve"]
            assert entry["executable"] and entry["cmdLine"] == " ".join(command)
            assert entry["uid"] == 0 and entry["node"]["name"] and entry["pid"] > 0
        assert not [e for e in lines if e["args"] == FILTERED], "the filtered command was logged"

        metrics = urllib.request.urlopen("http://%s:9111/metrics" % enricher.status.pod_ip, timeout=10).read().decode()
        logged = [line for line in metrics.splitlines()
                  if line.startswith("security_profiles_operator_json_enricher_lines_logged_total ")]
        filtered = [line for line in metrics.splitlines() if line.startswith(
            'security_profiles_operator_json_enricher_lines_dropped_total{reason="filtered"} ')]
        print("metrics: %s %s" % (logged, filtered))
        assert logged and float(logged[0].split()[-1]) >= len(COMMANDS)
        assert filtered and float(filtered[0].split()[-1]) >= 1
    finally:
        patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
                  {"spec": {"enableJsonEnricher": None, "jsonEnricherFilters": None}})
    wait_for(lambda: RULE_KEY not in _rules(), 180, 2.0, "the exec audit rule removed once the JSON enricher is off")
