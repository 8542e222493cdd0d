# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a workload's pod template as the API server admits it: a server-side dry run.

Admission may change a pod before Pod Security judges it (on OpenShift, SCC admission fills in the
securityContext of a template that names none), so the raw template can need a higher level than
the pods the API server actually admits.  :class:`DryRunJudge` creates the template as a Pod with
``dryRun=All`` in the workload's namespace (with the template's own service account; nothing is
stored) and judges the pod the server returns.

Bounded in cost, whatever a tenant creates:

* a cache per namespace keyed by the hash of the template's spec and annotations (and, for a dry
  run that was refused, the namespace's enforce label then): a Deployment and its ReplicaSets share
  one dry run, an unchanged template is never dry-run again (entries expire after ``ttl`` seconds:
  SCC grants may change what admission does);
* at most ``per_namespace`` distinct templates per namespace are dry-run (the cache holds no more for
  it); beyond that a template is judged as written (never lower than before this existed);
* a token bucket per namespace (``namespace_rate`` per second, burst ``per_namespace``) and one for all
  (``rate`` per second, burst ``burst``): when empty the namespace's decision waits (:class:`Throttled`).

When the server refuses the pod the template is judged as written, and when Pod Security refused it
at the namespace's enforce level, at least one level above that (the admitted pod needs more).
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import evaluate
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import (
    BASELINE, LATEST, PRIVILEGED, RESTRICTED, level_index)

Obj = Dict[str, Any]
DRY_RUN_NAME = "spo-label-sync-dry-run"
_PSA_REFUSAL = re.compile(r'violates PodSecurity "(restricted|baseline)[:"]')
_ABOVE = {RESTRICTED: BASELINE, BASELINE: PRIVILEGED, PRIVILEGED: PRIVILEGED}


class Throttled(Exception):
    """No dry run now (rate limit): decide the namespace again in ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__("dry runs rate-limited; again in %.2fs" % delay)
        self.delay = delay


class Judged(NamedTuple):
    level: str
    why: str
    exact: bool  # judged from the pod the API server returned


def template_pod(template: Obj, namespace: str) -> Obj:
    """The Pod the API server would be asked to admit for a workload's pod ``template``."""
    meta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": DRY_RUN_NAME + "-", "namespace": namespace}
    for key in ("labels", "annotations"):
        if meta.get(key):
            pod_meta[key] = meta[key]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}}


def template_hash(template: Obj) -> str:
    """What admission may depend on: the spec (service account included) and the annotations; not the
    labels (a ReplicaSet's pod-template-hash label would split it from its Deployment)."""
    meta = template.get("metadata") or {}
    body = {"spec": template.get("spec") or {}, "annotations": meta.get("annotations") or {}}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()


def judge_pod(pod: Obj, version: str) -> Tuple[str, str]:
    """(level, first violation at the level below) of an admitted pod."""
    verdict = evaluate(dict(pod, kind="Pod"), RESTRICTED, version, as_admitted=False)
    level = verdict.minimum_level or RESTRICTED
    if level == RESTRICTED:
        return level, ""
    above = evaluate(dict(pod, kind="Pod"), BASELINE, version, as_admitted=False) if level == PRIVILEGED else verdict
    return level, above.violations[0].text() if above.violations else ""


class _Bucket(object):
    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def wait(self, now: float) -> float:
        """0 when a token is there (not taken), else seconds until one is."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1.0


class DryRunJudge(object):
    """Server-side dry runs of pod templates, cached and rate-limited (see the module)."""

    def __init__(self, create: Callable[[str, Obj], Obj], version: str = LATEST, per_namespace: int = 32,
                 rate: float = 100.0, burst: int = 200, namespace_rate: float = 2.0, ttl: float = 600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_namespace < 0:
            raise SpoError("must be 0 or more, got %r" % per_namespace, field="per_namespace")
        self.create = create  # (namespace, pod) -> the pod as admitted (dryRun=All); raises on refusal
        self.version = version
        self.per_namespace = per_namespace
        self.namespace_rate = namespace_rate
        self.ttl = ttl
        self.clock = clock
        self.lock = threading.Lock()
        self.cache: Dict[str, "OrderedDict[Tuple[str, str], Tuple[Judged, float]]"] = {}
        self.buckets: Dict[str, _Bucket] = {}
        self.bucket = _Bucket(rate, burst, clock())
        self.dry_runs = 0
        self.refused = 0
        self.over_cap = 0

    def forget(self, namespace: str) -> None:
        with self.lock:
            self.cache.pop(namespace, None)
            self.buckets.pop(namespace, None)

    def _cached(self, namespace: str, key: Tuple[str, str], now: float) -> Optional[Judged]:
        entries = self.cache.get(namespace)
        if not entries or key not in entries:
            return None
        judged, at = entries[key]
        if now - at > self.ttl:
            del entries[key]
            return None
        entries.move_to_end(key)
        return judged

    def judge(self, namespace: str, template: Obj, raw: Tuple[str, str], enforce: str = "",
              in_use: Optional[set] = None) -> Judged:
        """The level the pods of ``template`` need as admitted in ``namespace`` (whose enforce label is
        ``enforce``); ``raw`` is the template's own (level, why).  ``in_use``: the hashes of the templates
        the namespace has now, so that entries of templates gone make room.  Raises :class:`Throttled`."""
        digest = template_hash(template)
        now = self.clock()
        with self.lock:
            for key in (("", digest), (enforce, digest)):  # as admitted; refused at this enforce level
                found = self._cached(namespace, key, now)
                if found is not None:
                    return found
            entries = self.cache.setdefault(namespace, OrderedDict())
            for old in [k for k in entries if k[0] not in ("", enforce) or (in_use is not None and k[1] not in in_use)]:
                del entries[old]  # refused at another enforce level, or its template is gone: makes room
            if len(entries) >= self.per_namespace:
                self.over_cap += 1
                return Judged(raw[0], _as_written(raw[1], "more than %d distinct pod templates in the namespace: "
                                                  "judged as written" % self.per_namespace), False)
            bucket = self.buckets.setdefault(namespace, _Bucket(self.namespace_rate, max(1, self.per_namespace),
                                                                now))
            delay = max(bucket.wait(now), self.bucket.wait(now))
            if delay > 0:
                raise Throttled(delay)
            bucket.take()
            self.bucket.take()
            self.dry_runs += 1
        judged = self._dry_run(namespace, template, raw, enforce)
        with self.lock:
            entries = self.cache.setdefault(namespace, OrderedDict())
            entries[("" if judged.exact else enforce, digest)] = (judged, self.clock())
            while len(entries) > max(1, self.per_namespace):
                entries.popitem(last=False)
        return judged

    def _dry_run(self, namespace: str, template: Obj, raw: Tuple[str, str], enforce: str) -> Judged:
        try:
            admitted = self.create(namespace, template_pod(template, namespace))
        except Exception as exc:  # pylint: disable=broad-except
            self.refused += 1
            message = str(getattr(exc, "message", "") or exc)
            refused = _PSA_REFUSAL.search(message)
            level, why = raw
            if refused and level_index(level) >= level_index(refused.group(1)):
                level = _ABOVE[refused.group(1)]  # as admitted it needs more than the level that refused it
            return Judged(level, _as_written(why, "judged as written: the API server refused the dry run: %s"
                                             % message[:300]), False)
        try:
            level, why = judge_pod(admitted or {}, self.version)
        except SpoError as exc:
            return Judged(PRIVILEGED, "the admitted pod cannot be judged: %s" % exc, False)
        return Judged(level, why, True)


def _as_written(why: str, note: str) -> str:
    return "%s; %s" % (why, note) if why else note
