# -*- coding: utf-8 -*-
"""Managed conditions (upstream's reasons, messages, transitions), k8s_status merging, run events, work queue."""
from __future__ import annotations

import threading
import time

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import k8s_status, status
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.runner import EventCollector
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.workqueue import WorkQueue

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"
RESULT = status.AnsibleResult(ok=3, changed=1, skipped=0, failures=0, completion="2026-01-01T00:01:00.5+00:00")


def by_type(conds):
    return {c["type"]: c for c in conds}


def test_first_run_then_success():
    conds = status.running({}, T0)
    assert conds == [{"type": "Running", "status": "True", "lastTransitionTime": T0, "reason": "Running",
                      "message": "Running reconciliation"}]
    done = by_type(status.done({"conditions": conds}, RESULT, [], T1))
    assert done["Running"]["reason"] == "Successful" and done["Running"]["message"] == "Awaiting next reconciliation"
    assert done["Running"]["lastTransitionTime"] == T0  # still True: no transition
    assert done["Running"]["ansibleResult"] == RESULT.as_dict()
    assert (done["Successful"]["status"], done["Successful"]["message"]) == ("True", "Last reconciliation succeeded")
    assert (done["Failure"]["status"], done["Failure"]["reason"], done["Failure"]["message"]) == ("False", "", "")


def test_failure_then_recovery_keeps_other_conditions():
    custom = {"type": "Ready", "status": "True", "reason": "Recorded", "message": "", "lastTransitionTime": T0}
    start = {"state": "Running", "conditions": [custom]}
    conds = status.done({"conditions": status.running(start, T0) + [custom]}, RESULT, ["boom", "bang"], T1)
    got = by_type(conds)
    assert got["Ready"] == custom
    assert (got["Running"]["status"], got["Running"]["reason"]) == ("False", "Running")
    assert (got["Failure"]["status"], got["Failure"]["reason"], got["Failure"]["message"]) == ("True", "Failed", "boom\nbang")
    assert got["Successful"]["status"] == "False"
    again = by_type(status.running({"conditions": conds}, T2))
    assert again["Running"]["status"] == "True" and again["Running"]["lastTransitionTime"] == T2
    assert again["Failure"]["lastTransitionTime"] == T1


def test_error_before_run():
    got = by_type(status.error({"conditions": status.running({}, T0)}, "Unable to parse", T1))
    assert (got["Failure"]["status"], got["Failure"]["message"]) == ("True", "Unable to parse")
    assert got["Running"]["status"] == "False"


def test_event_collector_reads_stats_failures_and_requeue():
    col = EventCollector()
    col({"event": "runner_on_failed", "event_data": {"task": "a", "ignore_errors": True, "res": {"msg": "ignored"}}})
    col({"event": "runner_on_failed", "event_data": {"task": "b", "res": {"msg": "it broke"}}})
    col({"event": "runner_on_failed", "event_data": {"task": "c", "res": {}}})
    col({"event": "runner_on_ok", "event_data": {"task_action": "operator_sdk.util.requeue_after", "res": {"period": "90s"}}})
    col({"event": "playbook_on_stats", "created": "2026-01-01T00:00:01.250000",
         "event_data": {"ok": {"localhost": 5}, "changed": {"localhost": 2}, "failures": {"localhost": 2}}})
    run = col.run
    assert run.failure_messages == ["it broke", "unknown playbook failure"]
    assert run.requeue_after == 90 and not run.successful
    assert run.result.as_dict() == {"ok": 5, "changed": 2, "skipped": 0, "failures": 2,
                                    "completion": "2026-01-01T00:00:01.25+00:00"}


def test_run_without_stats_is_not_successful():
    assert not EventCollector().run.successful


# ---------------------------------------------------------------- k8s_status
def test_status_merge_keeps_managed_conditions():
    current = {"conditions": [{"type": "Running", "status": "True", "reason": "Successful", "lastTransitionTime": T0}],
               "state": "Pending", "nodes": {"a": 1}}
    after = k8s_status.desired_status(current, {"state": "Running", "nodes": {"b": 2}}, None)
    assert after == {"conditions": current["conditions"], "state": "Running", "nodes": {"a": 1, "b": 2}}
    assert k8s_status.desired_status(after, {"nodes": {"a": None}}, None)["nodes"] == {"b": 2}


def test_condition_merge_by_type_and_transition_time():
    current = {"conditions": [{"type": "Ready", "status": "True", "reason": "A", "lastTransitionTime": T0},
                              {"type": "Running", "status": "True", "lastTransitionTime": T0}]}
    same = k8s_status.desired_status(current, None, [{"type": "Ready", "status": True, "reason": "A"}], now=T2)
    assert same == current  # nothing changed: no write
    flipped = k8s_status.desired_status(current, None, [{"type": "Ready", "status": "False", "reason": "B"}], now=T2)
    assert flipped["conditions"][0] == {"type": "Ready", "status": "False", "reason": "B", "lastTransitionTime": T2}
    assert flipped["conditions"][1] == current["conditions"][1]
    added = k8s_status.desired_status(current, None, [{"type": "Synced", "status": "Unknown"}], now=T2)
    assert [c["type"] for c in added["conditions"]] == ["Ready", "Running", "Synced"]
    forced = k8s_status.desired_status(current, {"state": "x"}, None, force=True)
    assert forced == {"state": "x"}


def test_status_patch_round_trip():
    before = {"a": 1, "b": {"c": 2, "d": 3}, "gone": True}
    after = {"a": 1, "b": {"c": 5, "d": 3}, "new": [1]}
    patch = k8s_status.status_patch(before, after)
    assert patch == {"gone": None, "b": {"c": 5}, "new": [1]}
    assert k8s_status.merge_patch(before, patch) == after


@pytest.mark.parametrize("conds,field", [
    ([{"status": "True"}], "conditions[0].type"),
    ([{"type": "A", "status": "Maybe"}], "conditions[0].status"),
    ([{"type": "A", "status": "True", "reason": "two words"}], "conditions[0].reason"),
    ([{"type": "A", "status": "True", "lastTransitionTime": "yesterday"}], "conditions[0].lastTransitionTime"),
    ([{"type": "A", "status": "True", "colour": "red"}], "conditions[0].colour"),
    ([{"type": "A", "status": "True"}, {"type": "A", "status": "False"}], "conditions[1].type"),
])
def test_condition_validation(conds, field):
    with pytest.raises(SpoError) as err:
        k8s_status.validate_conditions(conds)
    assert err.value.field == field


def test_conditions_in_both_places():
    with pytest.raises(SpoError, match="not both"):
        k8s_status.desired_status({}, {"conditions": []}, [{"type": "A", "status": "True"}])


def test_api_version():
    assert k8s_status.split_api_version("v1") == ["", "v1"]
    assert k8s_status.split_api_version("a.b/v1") == ["a.b", "v1"]
    with pytest.raises(SpoError):
        k8s_status.split_api_version("a/b/c")


# ---------------------------------------------------------------- work queue
def test_queue_dedupes_and_never_hands_out_a_key_twice():
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    assert q.get(0) == "a"
    q.add("a")  # while processing: queued again after done
    assert q.get(0) == "b"
    assert q.get(0) is None
    q.done("a")
    assert q.get(0) == "a"


def test_queue_delays_and_backoff():
    q = WorkQueue(base_delay=0.05, max_delay=0.2)
    assert [q.add_rate_limited("k") for _attempt in range(4)] == [0.05, 0.1, 0.2, 0.2]
    q.forget("k")
    assert q.failures("k") == 0
    q2 = WorkQueue()
    q2.add_after("x", 0.2)
    q2.add_after("x", 0.05)  # earlier wins
    start = time.monotonic()
    assert q2.get(1.0) == "x"
    assert 0.03 < time.monotonic() - start < 0.18
    q2.done("x")
    assert q2.get(0.3) is None  # the superseded later add does not fire again


def test_queue_shutdown_wakes_workers():
    q = WorkQueue()
    got = []
    worker = threading.Thread(target=lambda: got.append(q.get()))
    worker.start()
    q.shutdown()
    worker.join(2)
    assert got == [None]
