# -*- coding: utf-8 -*-
"""k8s_status ``events``: checked before anything is sent, and recorded about the object the status was written on."""
from __future__ import annotations

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import k8s_status


class _Recorder(object):
    def __init__(self):
        self.sent = []

    def warning_event(self, obj, reason, message, component, event_type="Warning"):
        self.sent.append((obj["metadata"]["name"], reason, message, component, event_type))


def test_events_are_checked():
    assert k8s_status.validate_events(None) == []
    assert k8s_status.validate_events([{"reason": "Fine", "message": "m"}]) == [
        {"type": "Normal", "reason": "Fine", "message": "m"}]
    for bad, field in (([{"type": "Error", "reason": "R", "message": "m"}], "events[0].type"),
                       ([{"type": "Warning", "reason": "two words", "message": "m"}], "events[0].reason"),
                       ([{"type": "Warning", "reason": "R", "message": ""}], "events[0].message"),
                       ("x", "events")):
        with pytest.raises(SpoError) as err:
            k8s_status.validate_events(bad)
        assert field in str(err.value)


def test_events_are_recorded_about_the_object():
    kube = _Recorder()
    obj = {"apiVersion": "v1", "kind": "X", "metadata": {"name": "spod", "namespace": "ns"}}
    k8s_status.record_events(kube, obj, k8s_status.validate_events(
        [{"type": "Warning", "reason": "FieldNotHonoured", "message": "spec.a is not honoured: why"}]), "spo-operator")
    assert kube.sent == [("spod", "FieldNotHonoured", "spec.a is not honoured: why", "spo-operator", "Warning")]
