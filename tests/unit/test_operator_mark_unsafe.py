# -*- coding: utf-8 -*-
"""The project's watches.yaml hands every tenant string to the roles as data, never as a template.

Each watched kind's extra vars are built from a hostile object exactly as the operator builds them (the watch's
own settings) and given to a real ansible-runner run whose play reads every variable the operator passes, the way
the roles read them (directly, through a task var and through set_fact). A template in the object would run a
``pipe`` lookup that creates a file, and turn ``{{ 7*7 }}`` into ``49``.
"""
from __future__ import annotations

import json
import os

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.operator import runner, vars as opvars, watches

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def project_watches():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    return watches.load(os.path.join(ROOT, "watches.yaml"), ROOT, env)


def test_every_watch_marks_user_input_unsafe():
    found = project_watches()
    assert {w.gvk.kind for w in found} == {"SecurityProfilesOperatorDaemon", "ProfileBinding", "ProfileRecording"}
    assert [w.gvk.kind for w in found if not w.mark_unsafe] == []


def hostile(kind: str, canary: str) -> dict:
    pipe = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % canary
    return {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": kind,
            "metadata": {"name": "x", "namespace": "tenant", "annotations": {"a": pipe, "b": "{{ 7*7 }}"}},
            "spec": {"image": pipe, "profileRef": {"kind": "SeccompProfile", "name": "{{ 7*7 }}"},
                     "list": [pipe, {"deep": pipe}], "calc": "{{ 7*7 }}"}}


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: every variable as the roles read them
      ansible.builtin.debug:
        msg: "{{ names | map('extract', vars) | list }}"
      vars:
        names: %s
    - name: the object through set_fact
      ansible.builtin.set_fact:
        copied: "{{ vars[obj] }}"
    - name: and written out
      ansible.builtin.copy:
        content: "{{ {'direct': names | map('extract', vars) | list, 'copied': copied} | to_json }}"
        dest: %s
      vars:
        names: %s
"""


@pytest.mark.parametrize("watch", project_watches(), ids=lambda w: w.gvk.kind)
def test_hostile_object_is_data_in_a_real_run(watch, tmp_path):
    canary = str(tmp_path / "pwned")
    params = opvars.extra_vars(hostile(watch.gvk.kind, canary), watch.gvk.group, watch.gvk.kind,
                               watch.snake_case_parameters, watch.mark_unsafe, watch.vars)
    obj = opvars.object_var_name(watch.gvk.group, watch.gvk.kind)
    play = tmp_path / "play.yml"
    out = tmp_path / "out.json"
    names = json.dumps(sorted(params))
    play.write_text(PLAY % (names, out, names))
    params["obj"] = obj
    result = runner.AnsibleRunner(base_dir=str(tmp_path / "runs")).run("t", params, playbook=str(play))
    assert result.successful, (result.failure_messages, result.stdout)
    assert not os.path.exists(canary), "a tenant's string ran as a template in the %s run" % watch.gvk.kind
    written = json.loads(out.read_text())
    text = json.dumps(written)
    assert "49" not in text and "{{ 7*7 }}" in text
    assert written["copied"]["metadata"]["annotations"] == hostile(watch.gvk.kind, canary)["metadata"]["annotations"]
