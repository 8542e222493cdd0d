# -*- coding: utf-8 -*-
"""The doors of the Pod Security engine: spo-pss, the pod_security filter, the pod_security_check module."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from conftest import ROOT, VENV_BIN, ansible_playbook

from ansible_collections.spo.security_profiles.plugins.filter.pod_security import pod_security

FEDORA = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fedora", "namespace": "demo"},
          "spec": {"containers": [{"name": "fedora", "image": "fedora", "securityContext": {"privileged": True}}]}}
GOOD = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "demo"},
        "spec": {"template": {"spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "web", "securityContext": {"allowPrivilegeEscalation": False,
                                                               "capabilities": {"drop": ["ALL"]}}}]}}}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}}
FEDORA_WARNING_V124 = (
    'would violate PodSecurity "restricted:v1.24": privileged (container "fedora" must not set '
    'securityContext.privileged=true), allowPrivilegeEscalation != false (container "fedora" must set '
    'securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "fedora" must set '
    'securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "fedora" must set '
    'securityContext.runAsNonRoot=true), seccompProfile (pod or container "fedora" must set '
    'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')


def spo_pss(*args, stdin=None):
    return subprocess.run([os.path.join(VENV_BIN, "spo-pss"), *args], input=stdin, capture_output=True, text=True,
                          check=False, cwd=ROOT)


@pytest.fixture
def manifests(tmp_path):
    directory = tmp_path / "manifests"
    directory.mkdir()
    (directory / "a.yaml").write_text(yaml.safe_dump_all([FEDORA, SERVICE]))
    (directory / "b.yml").write_text(yaml.safe_dump(GOOD))
    (directory / "notes.txt").write_text("not a manifest")
    return directory


def test_cli_violations_exit_1_with_the_api_server_text(manifests):
    proc = spo_pss("check", "--level", "restricted", "--version", "v1.24", str(manifests))
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Pod demo/fedora: %s [minimum level: privileged]" % FEDORA_WARNING_V124
    assert lines[1] == "Deployment demo/web: ok [minimum level: restricted]"
    assert lines[2] == "Service web: skipped (no pod)"
    assert lines[3].startswith('1 of 2 objects violate PodSecurity "restricted:v1.24"')


def test_cli_json_and_clean_input(manifests):
    proc = spo_pss("check", "--json", "--level", "baseline", str(manifests / "b.yml"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["violations"] == 0 and result["minimum_level"] == "restricted"
    assert result["verdicts"][0]["policy"] == "baseline:latest"
    proc = spo_pss("check", "--json", "-", stdin=json.dumps(FEDORA))
    assert proc.returncode == 1
    verdict = json.loads(proc.stdout)["verdicts"][0]
    assert verdict["enforce_message"].startswith('violates PodSecurity "restricted:latest": privileged (')


@pytest.mark.parametrize("args,stdin,message", [
    (["check", "/nonexistent.yaml"], None, "spo-pss: /nonexistent.yaml: cannot read"),
    (["check", "-"], "kind: Pod\n  bad: [", "spo-pss: <stdin>: malformed YAML"),
    (["check", "-"], "- a\n- b\n", "spo-pss: <stdin>: document 0 must be a mapping"),
    (["check", "-"], "kind: Pod\nmetadata: {name: x}\nspec: {hostPID: 'yes'}\n",
     "spo-pss: Pod x: spec.hostPID: must be true or false"),
    (["check", "--version", "v1.024", "-"], "", 'must be "latest" or "v1.x"'),
    (["check", "--level", "strict", "-"], "", "invalid choice: 'strict'"),
])
def test_cli_bad_input_exit_2(args, stdin, message):
    proc = spo_pss(*args, stdin=stdin)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_filter():
    verdict = pod_security(FEDORA, "restricted", "v1.24")
    assert verdict["warning"] == FEDORA_WARNING_V124 and verdict["minimum_level"] == "privileged"
    verdicts = pod_security([FEDORA, SERVICE, GOOD], "baseline")
    assert [v["object"] for v in verdicts] == ["Pod demo/fedora", "Deployment demo/web"]
    assert [v["allowed"] for v in verdicts] == [False, True]
    with pytest.raises(AnsibleFilterError, match="pod_security: Service web: kind: kind 'Service' has no pod"):
        pod_security(SERVICE)
    with pytest.raises(AnsibleFilterError, match="must be a Kubernetes object or a list"):
        pod_security("text")


PLAYBOOK = """\
- name: Run pod_security_check once per case
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Check
      spo.security_profiles.pod_security_check:
        definition: "{{ item.definition | default(omit) }}"
        src: "{{ item.src | default(omit) }}"
        level: "{{ item.level | default(omit) }}"
        version: "{{ item.version | default(omit) }}"
        enforce: "{{ item.enforce | default(omit) }}"
      check_mode: "{{ item.check | default(false) }}"
      loop: "{{ cases }}"
      register: results
      ignore_errors: true
    - name: The filter in a template
      ansible.builtin.set_fact:
        filtered: "{{ fedora | spo.security_profiles.pod_security('restricted', 'v1.24') }}"
    - name: Save the results
      ansible.builtin.copy:
        content: "{{ {'module': results.results, 'filter': filtered} | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
"""


def test_module_and_filter_through_ansible(tmp_path, manifests):
    cases = [
        {"src": str(manifests), "level": "restricted", "version": "v1.24"},
        {"definition": FEDORA, "level": "baseline", "enforce": True},
        {"definition": [GOOD, SERVICE], "enforce": True, "check": True},
        {"definition": {"kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "a", "ports": 3}]}}},
        {"definition": FEDORA, "version": "1.24"},
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    out = tmp_path / "out.json"
    variables = tmp_path / "vars.json"
    variables.write_text(json.dumps({"cases": cases, "out": str(out), "fedora": FEDORA}))
    proc = ansible_playbook(str(playbook), "-e", "@" + str(variables))
    assert out.exists(), proc.stdout + proc.stderr
    saved = json.loads(out.read_text())
    by_src, enforced, checked, bad, bad_version = saved["module"]
    assert not by_src.get("failed") and by_src["changed"] is False
    assert [v["object"] for v in by_src["verdicts"]] == ["Pod demo/fedora", "Deployment demo/web"]
    assert by_src["verdicts"][0]["warning"] == FEDORA_WARNING_V124
    assert by_src["skipped"] == ["Service web"] and by_src["violations"] == 1 and by_src["minimum_level"] == "privileged"
    assert enforced["failed"] is True
    assert enforced["msg"] == ('1 of 1 objects violate PodSecurity: Pod demo/fedora: violates PodSecurity '
                               '"baseline:latest": privileged (container "fedora" must not set '
                               'securityContext.privileged=true)')
    assert enforced["verdicts"][0]["minimum_level"] == "privileged"
    assert not checked.get("failed") and checked["violations"] == 0 and checked["minimum_level"] == "restricted"
    assert bad["failed"] is True and bad["msg"] == "Pod x: spec.containers[0].ports: must be a list, got int 3"
    assert bad_version["failed"] is True and 'must be "latest" or "v1.x"' in bad_version["msg"]
    assert saved["filter"]["warning"] == FEDORA_WARNING_V124
