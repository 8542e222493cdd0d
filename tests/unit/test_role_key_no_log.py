# -*- coding: utf-8 -*-
"""The webhook's private keys never reach a run's events, artifacts or output: every task of the roles that reads,
makes or applies them has ``no_log``, and the plan without certificates (shown on error) holds none."""
from __future__ import annotations

import base64
import glob
import os

import yaml

from ansible_collections.spo.security_profiles.plugins.filter.webhook import webhook_plan

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# what holds a private key: the Secrets as read, the plan with certificates, its Secrets
KEY_HOLDERS = ("spod_webhook_ca", "spod_webhook_cert", "spod_webhook.secrets", "spo.security_profiles.webhook_plan(")


def tasks(node):
    for task in node or []:
        yield task
        for key in ("block", "rescue", "always"):
            yield from tasks(task.get(key))


def holds_key(task) -> bool:
    text = yaml.safe_dump({k: v for k, v in task.items() if k not in ("name", "block", "rescue", "always")})
    if "webhook_plan(" in text and "tls=false" in text:
        return any(h in text for h in KEY_HOLDERS[:3])
    return any(h in text for h in KEY_HOLDERS)


def test_every_task_that_holds_a_private_key_has_no_log():
    checked = []
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))):
        with open(path) as handle:
            for task in tasks(yaml.safe_load(handle)):
                if holds_key(task):
                    checked.append(task["name"])
                    assert task.get("no_log") is True, "%s: task %r handles a private key without no_log" % (
                        os.path.relpath(path, ROOT), task["name"])
    assert len(checked) >= 4, checked  # CA and cert read, plan, Secrets applied


def test_plan_without_certificates_holds_no_key():
    spod = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SecurityProfilesOperatorDaemon",
            "metadata": {"name": "spod", "namespace": "security-profiles-operator"}, "spec": {}}
    plain = webhook_plan(spod, "img:1", {}, tls=False)
    assert plain["secrets"] == [] and plain["objects"] and "PRIVATE KEY" not in repr(plain)
    full = webhook_plan(spod, "img:1", {})
    keys = [base64.b64decode(v) for s in full["secrets"] for k, v in s["data"].items() if k.endswith(".key")]
    assert len(keys) == 2 and all(b"PRIVATE KEY" in k for k in keys)
    assert not [k for k in keys if k.decode() in repr(plain)]
