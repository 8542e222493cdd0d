# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The status upstream's ansible-operator manages on a watched object (``manageStatus: true``).

Three conditions, with upstream's reasons and messages:

* before a run:  ``Running`` True/Running "Running reconciliation"; ``Successful`` (if present) False;
* after success: ``Running`` True/Successful "Awaiting next reconciliation" (with ``ansibleResult``),
  ``Successful`` True/Successful "Last reconciliation succeeded", ``Failure`` False;
* after failure: ``Running`` False (reason kept), ``Failure`` True/Failed with the failed tasks'
  messages (with ``ansibleResult``), ``Successful`` False;
* on an error before the run (a bad annotation): ``Failure`` True/Failed with the error.

A condition is replaced only when its status or reason changes (``Failure`` always is), and its
``lastTransitionTime`` is kept while its status stays the same.  Every other key of ``status``,
and conditions of other types (what a role wrote with ``k8s_status``), are kept untouched: the
functions here return only the new ``conditions`` list, which the controller merges into the status.
"""
from __future__ import annotations

import copy
import datetime
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

RUNNING = "Running"
SUCCESSFUL = "Successful"
FAILURE = "Failure"

RUNNING_REASON = "Running"
SUCCESSFUL_REASON = "Successful"
FAILED_REASON = "Failed"

RUNNING_MESSAGE = "Running reconciliation"
AWAITING_MESSAGE = "Awaiting next reconciliation"
SUCCESSFUL_MESSAGE = "Last reconciliation succeeded"


def now_rfc3339(when: Optional[datetime.datetime] = None) -> str:
    """A metav1.Time: RFC 3339, UTC, whole seconds."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def completion_time(when: Optional[datetime.datetime] = None) -> str:
    """``ansibleResult.completion`` as upstream renders it (fractional seconds, ``+00:00``)."""
    when = (when or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
    fraction = ("%06d" % when.microsecond).rstrip("0")
    return when.strftime("%Y-%m-%dT%H:%M:%S") + ("." + fraction if fraction else "") + "+00:00"


@dataclass
class AnsibleResult:
    ok: int = 0
    changed: int = 0
    skipped: int = 0
    failures: int = 0
    completion: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return {"ok": self.ok, "changed": self.changed, "skipped": self.skipped,
                "failures": self.failures, "completion": self.completion}


def condition(ctype: str, status: str, reason: str, message: str, now: str,
              result: Optional[AnsibleResult] = None) -> Dict[str, Any]:
    cond: Dict[str, Any] = {"type": ctype, "status": status, "lastTransitionTime": now,
                            "reason": reason, "message": message}
    if result is not None:
        cond["ansibleResult"] = result.as_dict()
    return cond


def get_condition(conditions: List[Dict[str, Any]], ctype: str) -> Optional[Dict[str, Any]]:
    for cond in conditions:
        if isinstance(cond, dict) and cond.get("type") == ctype:
            return cond
    return None


def set_condition(conditions: List[Dict[str, Any]], new: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Upstream's SetCondition: replace the condition of ``new``'s type unless nothing meaningful changed."""
    current = get_condition(conditions, new["type"])
    if (current is not None and new["type"] != FAILURE and current.get("status") == new["status"]
            and current.get("reason", "") == new["reason"]):
        return conditions
    new = dict(new)
    if current is not None and current.get("status") == new["status"] and current.get("lastTransitionTime"):
        new["lastTransitionTime"] = current["lastTransitionTime"]
    return [c for c in conditions if not (isinstance(c, dict) and c.get("type") == new["type"])] + [new]


def _with_status(cond: Dict[str, Any], status: str, now: str) -> Dict[str, Any]:
    """A copy of ``cond`` with another status; it transitions now (upstream keeps reason and message)."""
    changed = dict(cond)
    changed["status"] = status
    changed["lastTransitionTime"] = now
    return changed


def _conditions(status: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    conds = (status or {}).get("conditions")
    if not isinstance(conds, list):
        return []
    return [copy.deepcopy(c) for c in conds if isinstance(c, dict)]


def running(status: Optional[Mapping[str, Any]], now: Optional[str] = None) -> List[Dict[str, Any]]:
    """The conditions while a run is about to start."""
    now = now or now_rfc3339()
    conds = _conditions(status)
    success = get_condition(conds, SUCCESSFUL)
    if success is not None:
        conds = set_condition(conds, _with_status(success, "False", now))
    return set_condition(conds, condition(RUNNING, "True", RUNNING_REASON, RUNNING_MESSAGE, now))


def done(status: Optional[Mapping[str, Any]], result: AnsibleResult, failure_messages: List[str],
         now: Optional[str] = None) -> List[Dict[str, Any]]:
    """The conditions after a run: success when ``failure_messages`` is empty."""
    now = now or now_rfc3339()
    conds = _conditions(status)
    if not failure_messages:
        conds = set_condition(conds, condition(RUNNING, "True", SUCCESSFUL_REASON, AWAITING_MESSAGE, now, result))
        conds = set_condition(conds, condition(SUCCESSFUL, "True", SUCCESSFUL_REASON, SUCCESSFUL_MESSAGE, now))
        return set_condition(conds, condition(FAILURE, "False", "", "", now))
    current = get_condition(conds, RUNNING)
    if current is not None:
        conds = set_condition(conds, _with_status(current, "False", now))
    conds = set_condition(conds, condition(FAILURE, "True", FAILED_REASON, "\n".join(failure_messages), now, result))
    return set_condition(conds, condition(SUCCESSFUL, "False", "", "", now))


def error(status: Optional[Mapping[str, Any]], message: str, now: Optional[str] = None) -> List[Dict[str, Any]]:
    """The conditions when reconciling could not even start (``message`` says why)."""
    now = now or now_rfc3339()
    conds = _conditions(status)
    for ctype in (RUNNING, SUCCESSFUL):
        current = get_condition(conds, ctype)
        if current is not None:
            conds = set_condition(conds, _with_status(current, "False", now))
    return set_condition(conds, condition(FAILURE, "True", FAILED_REASON, message, now))
