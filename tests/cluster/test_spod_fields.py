# -*- coding: utf-8 -*-
"""Nothing silent, in the real cluster: a SPOD field this edition does not act on gets the condition NotHonoured on
the SPOD's status naming the field and why, and a Warning Event about the SPOD (roles/spod, spodfields.py).

``enableAppArmor`` on this node's kernel (no AppArmor here: the condition says so by the kernel's own module
parameter) and ``enableProfiling`` (not implemented). Both are removed again at the end: the condition turns False.
"""
from __future__ import annotations

import os

from clusterlib import OPERATOR_NAMESPACE, wait_for  # pylint: disable=import-error
from kubehelp import core, get_obj, patch_obj  # pylint: disable=import-error

APPARMOR = "/sys/module/apparmor/parameters/enabled"


def _condition(kube):
    spod = get_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod") or {}
    for cond in (spod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "NotHonoured":
            return cond
    return None


def _condition_is(kube, status, naming=""):
    cond = _condition(kube)
    return cond if cond and cond["status"] == status and naming in cond["message"] else None


def _events(kube):
    items = core(kube).list_namespaced_event(OPERATOR_NAMESPACE, field_selector="involvedObject.name=spod").items
    return [e for e in items if e.reason == "FieldNotHonoured" and e.involved_object.kind == "SecurityProfilesOperatorDaemon"]


def test_an_unhonoured_field_gets_a_condition_and_an_event(operator):
    kube = operator
    before = {e.metadata.name for e in _events(kube)}
    patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
              {"spec": {"enableAppArmor": True, "enableProfiling": True}})
    try:
        cond = wait_for(lambda: _condition_is(kube, "True", "spec.enableAppArmor"), 180, 2.0,
                        "the condition NotHonoured naming enableAppArmor")
        print("condition NotHonoured: %s" % cond["message"])
        assert cond["reason"] == "FieldNotHonoured"
        assert "spec.enableProfiling: " in cond["message"]
        if not os.path.exists(APPARMOR):
            assert "spec.enableAppArmor: the node's kernel has no AppArmor" in cond["message"]
        events = wait_for(lambda: [e for e in _events(kube) if e.metadata.name not in before] or None, 60, 1.0,
                          "Events about the unhonoured fields")
        fields = sorted(e.message.split(" ")[0] for e in events)
        print("events: %s" % [e.message for e in events])
        assert fields == ["spec.enableAppArmor", "spec.enableProfiling"]
        assert all(e.type == "Warning" for e in events)
    finally:
        patch_obj(kube, "SecurityProfilesOperatorDaemon", OPERATOR_NAMESPACE, "spod",
                  {"spec": {"enableAppArmor": None, "enableProfiling": None}})
    cond = wait_for(lambda: _condition_is(kube, "False"), 180, 2.0, "the condition NotHonoured False once the fields are gone")
    assert cond["reason"] == "AllFieldsHonoured"
