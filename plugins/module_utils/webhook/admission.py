# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AdmissionReview v1 in and out, and the three pod mutations behind one entry point (pure, no I/O).

:func:`review` takes the raw request body and a :class:`State` (what the caches know) and returns the
AdmissionReview to answer. It never raises: a body that is not an AdmissionReview of a pod gets
``allowed: false`` with a message saying what is wrong (HTTP 200, so the API server shows the message);
a failure inside a mutation is ``allowed: false`` naming the error.
"""
from __future__ import annotations

import base64
import json
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import binding, recording, runtimedefault
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook.podutil import json_patch

Obj = Dict[str, Any]

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
BINDING, RECORDING, RUNTIME_DEFAULT = "/mutate-v1-pod-binding", "/mutate-v1-pod-recording", "/mutate-v1-pod-runtime-default"
PATHS = (BINDING, RECORDING, RUNTIME_DEFAULT)
WARNING_LIMIT = 10


class ReviewError(ValueError):
    """A request that is not a usable AdmissionReview; ``uid`` when it could be read."""

    def __init__(self, message: str, uid: str = "", api_version: str = API_VERSIONS[0]) -> None:
        super().__init__(message)
        self.uid = uid
        self.api_version = api_version


class State(object):
    """What the mutations read, as plain callables (the server plugs its caches in; tests plug dicts)."""

    def __init__(self, bindings: Callable[[str], List[Obj]] = lambda ns: [],
                 recordings: Callable[[str], List[Obj]] = lambda ns: [],
                 profiles: Callable[[str, str, str], Optional[Obj]] = lambda kind, ns, name: None,
                 namespace_labels: Callable[[str], Optional[Mapping[str, str]]] = lambda ns: None,
                 operator_namespace: str = "security-profiles-operator",
                 nonce: Optional[Callable[[], str]] = None, now: Optional[Callable[[], int]] = None) -> None:
        import random
        import string
        import time
        self.bindings = bindings
        self.recordings = recordings
        self.profiles = profiles
        self.namespace_labels = namespace_labels
        self.operator_namespace = operator_namespace
        alphabet = string.ascii_lowercase + string.digits
        rng = random.SystemRandom()
        self.nonce = nonce or (lambda: "".join(rng.choice(alphabet) for unused in range(5)))
        self.now = now or (lambda: int(time.time()))


def _no_constant(name: str) -> Any:
    raise ReviewError("the request body is not JSON: %s is not a JSON value" % name)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ReviewError("the request body holds the number %s, beyond what JSON numbers carry" % text[:64])
    return value


def parse(body: bytes) -> Tuple[str, Obj]:
    """``(apiVersion, request)`` of an AdmissionReview of a core/v1 Pod; :class:`ReviewError` otherwise.

    Only JSON is accepted: no ``NaN`` or ``Infinity`` (Python's decoder takes them; a patch built from them could
    not be answered as JSON), no number that overflows to infinity, no nesting deeper than the decoder's bound.
    """
    try:
        doc = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
    except ReviewError:
        raise
    except RecursionError:
        raise ReviewError("the request body is not an AdmissionReview: JSON nested too deeply")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReviewError("the request body is not JSON: %s" % exc)
    if not isinstance(doc, dict):
        raise ReviewError("the request body is not an AdmissionReview (a JSON object expected, got %s)"
                          % type(doc).__name__)
    api_version = doc.get("apiVersion")
    if doc.get("kind") != "AdmissionReview" or api_version not in API_VERSIONS:
        raise ReviewError("the request body is not an AdmissionReview (apiVersion %r, kind %r; expected "
                          "admission.k8s.io/v1 AdmissionReview)" % (api_version, doc.get("kind")))
    req = doc.get("request")
    if not isinstance(req, dict):
        raise ReviewError("AdmissionReview.request: must be an object", api_version=api_version)
    uid = req.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError("AdmissionReview.request.uid: must be a non-empty string", api_version=api_version)
    kind = req.get("kind") if isinstance(req.get("kind"), dict) else {}
    if (kind.get("group", ""), kind.get("kind")) != ("", "Pod"):
        raise ReviewError("AdmissionReview.request.kind: this webhook handles core/v1 Pods, got %s"
                          % json.dumps(req.get("kind")), uid, api_version)
    operation = req.get("operation")
    if not isinstance(operation, str):
        raise ReviewError("AdmissionReview.request.operation: must be a string", uid, api_version)
    for key in ("object", "oldObject"):
        value = req.get(key)
        if value is not None and not isinstance(value, dict):
            raise ReviewError("AdmissionReview.request.%s: must be an object" % key, uid, api_version)
    if operation in ("CREATE", "UPDATE"):
        obj = req.get("object")
        if not obj:
            raise ReviewError("AdmissionReview.request.object: required for %s" % operation, uid, api_version)
        if not isinstance(obj.get("spec"), dict):
            raise ReviewError("AdmissionReview.request.object.spec: must be an object (a Pod)", uid, api_version)
        meta = obj.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise ReviewError("AdmissionReview.request.object.metadata: must be an object", uid, api_version)
    namespace = req.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise ReviewError("AdmissionReview.request.namespace: must be a string", uid, api_version)
    return api_version, req


def answer(uid: str, api_version: str = API_VERSIONS[0], allowed: bool = True, message: str = "",
           code: int = 0, patch: Optional[List[Obj]] = None, warnings: Optional[List[str]] = None) -> Obj:
    """An AdmissionReview response."""
    response: Obj = {"uid": uid, "allowed": allowed}
    if not allowed or message:
        response["status"] = {"code": code or (200 if allowed else 400), "message": message}
        if not allowed:
            response["status"]["reason"] = "BadRequest" if (code or 400) < 500 else "InternalError"
    if patch:
        response["patchType"] = "JSONPatch"
        text = json.dumps(patch, separators=(",", ":"), allow_nan=False)  # JSON has no NaN: raise rather than emit it
        response["patch"] = base64.b64encode(text.encode("utf-8")).decode("ascii")
    if warnings:
        response["warnings"] = [w[:512] for w in warnings[:WARNING_LIMIT]]
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


def _mutate(path: str, req: Obj, state: State) -> Tuple[Optional[Obj], List[str]]:
    operation = req.get("operation")
    pod = req.get("object") or {}
    namespace = req.get("namespace") or ((pod.get("metadata") or {}).get("namespace")) or ""
    if path == BINDING:
        result = binding.mutate(pod, namespace, state.bindings(namespace), state.profiles, operation,
                                req.get("oldObject"), req.get("subResource") or "")
        return result.pod, result.warnings
    if path == RECORDING:
        rec = recording.mutate(pod, namespace, state.recordings(namespace), state.operator_namespace, state.nonce,
                               state.now(), operation)
        return rec.pod, rec.warnings
    if req.get("subResource"):
        return None, []
    if not runtimedefault.namespace_wanted(namespace, state.namespace_labels(namespace), state.operator_namespace):
        return None, []
    return runtimedefault.mutate(pod, operation), []


def review(path: str, body: bytes, state: State) -> Obj:
    """The AdmissionReview answering ``body`` posted to ``path`` (one of :data:`PATHS`); never raises."""
    try:
        api_version, req = parse(body)
    except ReviewError as exc:
        return answer(exc.uid, exc.api_version, False, "spo-webhook %s: %s" % (path, exc), 400)
    uid = req["uid"]
    if path not in PATHS:
        return answer(uid, api_version, False, "spo-webhook: no webhook at %s" % path, 404)
    try:
        new, warnings = _mutate(path, req, state)
        patch = json_patch(req.get("object") or {}, new) if new is not None else []
        return answer(uid, api_version, True, patch=patch, warnings=warnings)
    except RecursionError:
        return answer(uid, api_version, False, "spo-webhook %s: the pod is nested too deeply to be mutated" % path, 400)
    except Exception as exc:  # pylint: disable=broad-except
        return answer(uid, api_version, False, "spo-webhook %s: internal error: %s: %s"
                      % (path, type(exc).__name__, exc), 500)
