# -*- coding: utf-8 -*-
"""The JSON enricher in the real cluster: the SPOD's ``enableJsonEnricher`` (with ``jsonEnricherFilters`` and
``jsonEnricherOptions``) -> one JSON line per process a container starts, with the pod's names, in the file on the
node that ``auditLogPath`` names (this test runs on the node, so it reads the hostPath file itself), not in the
container's log.

The kernel writes each exec as audit records under the rule the enricher adds (``-S execve,execveat -F success=1
-F key=spo-json-enricher``); on this node no auditd runs, so they go to the kernel log, which the enricher reads.
A busybox pod runs three commands (and a fourth, ``sleep 0.3``, that a filter drops); the test finds a line for
each of the three, with the pod's namespace, pod and container, the executable and the arguments, none for the
filtered one, and the counts in the enricher's metrics. Turning the JSON enricher off removes the audit rule.
A path outside the allowed directories is refused by the API server (the CRD's pattern and rule), naming the field,
in both spellings.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import urllib.request
import uuid

import pytest
from clusterlib import GROUP, OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import PLURALS, core, custom, patch_obj, pod_manifest, pod_phase  # pylint: disable=import-error

COMMANDS = [["cat", "/etc/hostname"], ["sleep", "0.2"], ["cat", "/proc/version"]]
FILTERED = ["sleep", "0.3"]
FILTERS = json.dumps([{"priority": 10, "level": "None", "matchKeys": ["cmdLine"], "matchValues": [" ".join(FILTERED)]}])
RULE_KEY = "key=spo-json-enricher"
LOG_DIR = "/var/log/spo-json-test-" + uuid.uuid4().hex[:8]
LOG_FILE = LOG_DIR + "/audit.json"
OPTIONS = {"auditLogPath": LOG_FILE, "auditLogIntervalSeconds": 2, "auditLogMaxSize": 1, "auditLogMaxBackups": 2,
           "auditLogMaxAge": 1}


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


def _json_lines(text_lines):
    found = []
    for text in text_lines:
        if text.startswith("{"):
            try:
                found.append(json.loads(text))
            except ValueError:
                pass
    return found


def _file_lines():
    try:
        with open(LOG_FILE) as handle:
            return _json_lines(handle.read().splitlines())
    except FileNotFoundError:
        return []


def _log_lines(kube, pod):
    log = core(kube).read_namespaced_pod_log(pod.metadata.name, OPERATOR_NAMESPACE, container="log-enricher")
    return _json_lines(log.splitlines())


def test_every_exec_of_a_container_is_one_json_line(operator, namespace):
    kube = operator
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
              {"spec": {"enableJsonEnricher": True, "jsonEnricherFilters": FILTERS, "jsonEnricherOptions": OPTIONS}})
    try:
        enricher = wait_for(lambda: _enricher_pod(kube, "to %s, interval 2s" % LOG_FILE), 240, 2.0,
                            "a ready log-enricher container running the JSON enricher into %s" % LOG_FILE)
        assert RULE_KEY in _rules()
        name = "execs-" + uuid.uuid4().hex[:6]
        script = "; ".join(" ".join(c) for c in COMMANDS[:2] + [FILTERED] + COMMANDS[2:])
        core(kube).create_namespaced_pod(namespace, pod_manifest(name, script))
        wait_for(lambda: pod_phase(kube, namespace, name) == "Succeeded", 120, 1.0, "pod %s to finish" % name)

        def mine():
            lines = [entry for entry in _file_lines() if entry.get("resource", {}).get("pod") == name]
            return lines if all(any(e["args"] == c for e in lines) for c in COMMANDS) else None
        lines = wait_for(mine, 60, 1.0, "JSON lines of the three commands in %s" % LOG_FILE)
        info = os.stat(LOG_FILE, follow_symlinks=False)
        assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600, oct(info.st_mode)
        assert not _log_lines(kube, enricher), "with auditLogPath, no JSON line goes to the container's log"
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
                  {"spec": {"enableJsonEnricher": None, "jsonEnricherFilters": None, "jsonEnricherOptions": None}})
    wait_for(lambda: RULE_KEY not in _rules(), 180, 2.0, "the exec audit rule removed once the JSON enricher is off")
    shutil.rmtree(LOG_DIR, ignore_errors=True)


_FLAT_ENRICHER = ("enableLogEnricher", "logEnricherFilters", "logEnricherSource", "enableJsonEnricher",
                  "jsonEnricherFilters", "jsonEnricherOptions", "enableBpfRecorder")


@pytest.mark.parametrize("path", ["/etc/cron.d/spo", "/var/log/spo/../../../etc/cron.d/spo", "/var/log/spo.json",
                                  "/var/log/audit/spo.json", "/var/log/pods/x/y.log"])
def test_a_json_log_path_outside_the_allowed_directories_is_refused(operator, path):
    from kubernetes.client.rest import ApiException

    version, plural = PLURALS["SecurityProfilesOperatorDaemon"]
    for grouped in (False, True):
        if grouped:  # a dry run of the grouped spelling alone (the flat fields cleared: the spellings do not mix)
            patch = {"spec": dict({key: None for key in _FLAT_ENRICHER},
                                  enricher={"jsonEnricherOptions": {"auditLogPath": path}})}
            field = "spec.enricher.jsonEnricherOptions.auditLogPath"
        else:
            patch = {"spec": {"enricher": None, "jsonEnricherOptions": {"auditLogPath": path}}}
            field = "spec.jsonEnricherOptions.auditLogPath"
        with pytest.raises(ApiException) as refused:
            custom(operator).patch_namespaced_custom_object(GROUP, version, OPERATOR_NAMESPACE, plural, "spod", patch,
                                                            dry_run="All")
        print("%s (%s): %s" % (path, field, json.loads(refused.value.body).get("message")))
        assert refused.value.status == 422 and field in refused.value.body, refused.value.body
