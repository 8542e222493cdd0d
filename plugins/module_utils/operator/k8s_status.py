# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Custom status written by a role, as ``operator_sdk.util.k8s_status`` writes it.

``status`` is merged into the object's ``.status`` with JSON merge-patch rules (RFC 7386: mappings
merge recursively, ``null`` removes a key, anything else replaces), and ``conditions`` are merged
by ``type`` into ``.status.conditions``: a condition of a new type is appended, one of a known type
replaced.  A condition given without ``lastTransitionTime`` keeps the one it had while its
``status`` stays the same and gets the current time when it changes.  With ``force`` the whole
status is replaced.  The object is written through the status subresource only when the result
differs from what it has, so ``changed`` is truthful and a second identical call writes nothing.
"""
from __future__ import annotations

import copy
import datetime
import re
from typing import Any, Dict, List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import KubeError, is_conflict
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.resource import discover

CONDITION_KEYS = ("type", "status", "reason", "message", "lastHeartbeatTime", "lastTransitionTime", "observedGeneration")
CONDITION_STATUSES = ("True", "False", "Unknown")
_REASON = re.compile(r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
_RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\.\d+)?(([+-]\d\d:\d\d)|Z)$")


def now_rfc3339(when: Optional[datetime.datetime] = None) -> str:
    """A metav1.Time: RFC 3339, UTC, whole seconds."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate_conditions(conditions: Any) -> List[Dict[str, Any]]:
    """The conditions, checked as Kubernetes API conventions want them (booleans become "True"/"False")."""
    if not isinstance(conditions, list):
        raise SpoError("must be a list of conditions", field="conditions")
    checked = []
    seen = set()
    for i, item in enumerate(conditions):
        here = "conditions[%d]" % i
        if not isinstance(item, dict):
            raise SpoError("must be a mapping with type and status", field=here)
        cond = dict(item)
        if isinstance(cond.get("status"), bool):
            cond["status"] = "True" if cond["status"] else "False"
        for key in cond:
            if key not in CONDITION_KEYS:
                raise SpoError("unknown field (a condition has %s)" % ", ".join(CONDITION_KEYS), field="%s.%s" % (here, key))
        for key in ("type", "status"):
            if not isinstance(cond.get(key), str) or not cond[key]:
                raise SpoError("must be set", field="%s.%s" % (here, key))
        if cond["status"] not in CONDITION_STATUSES:
            raise SpoError("must be one of True, False, Unknown, not %r" % cond["status"], field=here + ".status")
        if cond.get("reason") and not (isinstance(cond["reason"], str) and _REASON.match(cond["reason"])):
            raise SpoError("must be a single CamelCase word, not %r" % (cond["reason"],), field=here + ".reason")
        if "message" in cond and not isinstance(cond["message"], str):
            raise SpoError("must be a string", field=here + ".message")
        for key in ("lastHeartbeatTime", "lastTransitionTime"):
            if cond.get(key) and not (isinstance(cond[key], str) and _RFC3339.match(cond[key])):
                raise SpoError("must be an RFC 3339 date-time such as 2026-01-31T12:00:00Z", field="%s.%s" % (here, key))
        if cond["type"] in seen:
            raise SpoError("type %s is given twice" % cond["type"], field=here + ".type")
        seen.add(cond["type"])
        checked.append(cond)
    return checked


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch of ``patch`` onto ``target`` (neither is modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def merge_conditions(old: Any, new: List[Dict[str, Any]], now: Optional[str] = None) -> List[Dict[str, Any]]:
    """``old`` conditions with ``new`` ones merged in by type (see the module's documentation)."""
    now = now or now_rfc3339()
    merged = [copy.deepcopy(c) for c in (old if isinstance(old, list) else [])]
    for cond in new:
        cond = dict(cond)
        index = next((i for i, c in enumerate(merged) if isinstance(c, dict) and c.get("type") == cond["type"]), None)
        previous = merged[index] if index is not None else None
        if not cond.get("lastTransitionTime"):
            if previous is not None and previous.get("status") == cond["status"] and previous.get("lastTransitionTime"):
                cond["lastTransitionTime"] = previous["lastTransitionTime"]
            else:
                cond["lastTransitionTime"] = now
        if index is None:
            merged.append(cond)
        else:
            merged[index] = cond
    return merged


def desired_status(current: Any, status: Optional[Dict[str, Any]], conditions: Optional[List[Dict[str, Any]]],
                   force: bool = False, now: Optional[str] = None) -> Dict[str, Any]:
    """The status the object should have after the call."""
    current = current if isinstance(current, dict) else {}
    status = dict(status or {})
    if conditions and "conditions" in status:
        raise SpoError("give conditions either in status or in conditions, not both", field="status.conditions")
    if "conditions" in status and status["conditions"] is not None:
        conditions = status.pop("conditions")
    if conditions:
        conditions = validate_conditions(conditions)
    if force:
        result = copy.deepcopy(status)
        if conditions:
            result["conditions"] = merge_conditions([], conditions, now)
        return result
    result = merge_patch(current, status)
    if conditions:
        result["conditions"] = merge_conditions(current.get("conditions"), conditions, now)
    return result


def status_patch(current: Any, desired: Dict[str, Any]) -> Dict[str, Any]:
    """A merge patch turning ``current`` status into ``desired`` (removed keys become null)."""
    current = current if isinstance(current, dict) else {}
    patch: Dict[str, Any] = {}
    for key in current:
        if key not in desired:
            patch[key] = None
    for key, value in desired.items():
        if current.get(key) != value:
            if isinstance(value, dict) and isinstance(current.get(key), dict):
                patch[key] = status_patch(current[key], value)
            else:
                patch[key] = value
    return patch


def split_api_version(api_version: str) -> List[str]:
    """``group/version`` (or ``v1``) as [group, version]."""
    if not isinstance(api_version, str) or not api_version or api_version.count("/") > 1:
        raise SpoError("must be group/version (or v1 for the core group), not %r" % (api_version,), field="api_version")
    parts = api_version.rpartition("/")
    return [parts[0], parts[2]]


def apply(kube: Any, api_version: str, kind: str, name: str, namespace: Optional[str],
          status: Optional[Dict[str, Any]], conditions: Optional[List[Dict[str, Any]]], force: bool = False,
          check_mode: bool = False, attempts: int = 5) -> Dict[str, Any]:
    """Write the status of one object; returns ``changed``, ``before`` and ``after`` statuses and the object."""
    if not status and not conditions:
        raise SpoError("one of status or conditions is required", field="status")
    desired_status({}, status, conditions)  # bad input fails before any request
    group, version = split_api_version(api_version)
    where = "%s %s" % (kind, "%s/%s" % (namespace, name) if namespace else name)
    try:
        resource = discover(kube, group, version, kind)
    except KubeError as exc:
        raise SpoError("the API server does not serve %s %s: %s" % (api_version, kind, exc.message or exc), obj=where)
    if not resource.has_status:
        raise SpoError("%s.%s does not have the status subresource" % (resource.plural, group or "core"), obj=where)
    if resource.namespaced and not namespace:
        raise SpoError("%s is namespaced: namespace is required" % kind, obj=where, field="namespace")
    path = resource.path(namespace, name)
    for attempt in range(attempts):
        try:
            obj = kube.get(path)
        except KubeError as exc:
            raise SpoError("cannot read the object: %s" % (exc.message or exc), obj=where)
        before = obj.get("status") if isinstance(obj.get("status"), dict) else {}
        after = desired_status(before, status, conditions, force)
        if after == before:
            return {"changed": False, "before": before, "after": after, "result": obj}
        if check_mode:
            preview = dict(obj)
            preview["status"] = after
            return {"changed": True, "before": before, "after": after, "result": preview}
        body = {"metadata": {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion")},
                "status": after if force else status_patch(before, after)}
        try:
            if force:
                replaced = dict(obj)
                replaced["status"] = after
                result = kube._send("PUT", resource.path(namespace, name, "status"), body=replaced,  # pylint: disable=protected-access
                                    verb="update")
            else:
                result = kube.merge_patch(resource.path(namespace, name, "status"), body)
        except KubeError as exc:
            if is_conflict(exc) and attempt < attempts - 1:
                continue
            raise SpoError("cannot write the status: %s" % (exc.message or exc), obj=where)
        return {"changed": True, "before": before, "after": (result or {}).get("status") or after, "result": result}
    raise SpoError("the object kept changing while its status was written", obj=where)


EVENT_TYPES = ("Normal", "Warning")


def validate_events(events: Any) -> List[Dict[str, str]]:
    """Events to record with a status change: each ``type`` (Normal, Warning), ``reason`` (CamelCase), ``message``."""
    if events is None:
        return []
    if not isinstance(events, list):
        raise SpoError("must be a list of events", field="events")
    checked = []
    for i, item in enumerate(events):
        here = "events[%d]" % i
        if not isinstance(item, dict):
            raise SpoError("must be a mapping with type, reason and message", field=here)
        kind, reason, message = item.get("type", "Normal"), item.get("reason"), item.get("message")
        if kind not in EVENT_TYPES:
            raise SpoError("must be Normal or Warning, got %r" % (kind,), field=here + ".type")
        if not isinstance(reason, str) or not _REASON.match(reason):
            raise SpoError("must be one CamelCase word, got %r" % (reason,), field=here + ".reason")
        if not isinstance(message, str) or not message:
            raise SpoError("must be a non-empty string", field=here + ".message")
        checked.append({"type": kind, "reason": reason, "message": message})
    return checked


def record_events(kube: Any, obj: Dict[str, Any], events: List[Dict[str, str]], component: str) -> None:
    """Record core/v1 Events about ``obj`` (the object the status was written on)."""
    for event in events:
        try:
            kube.warning_event(obj, event["reason"], event["message"], component, event_type=event["type"])
        except KubeError as exc:
            raise SpoError("cannot record the event %s: %s" % (event["reason"], exc.message or exc),
                           obj="%s %s" % (obj.get("kind"), (obj.get("metadata") or {}).get("name")))
