# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Pod Security level each workload needs, and a namespace's level from its workloads.

A workload is judged once when it is listed or changes (:func:`summarize`); a cache keeps only the
summary (kind, name, level, why), so a namespace's level (:func:`namespace_level`) is a max over
small records.  What counts:

* pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and
  ReplicationControllers (the summary keeps the template: the controller judges it as the API server
  admits it, with a server-side dry run, see ``dryrun``), and pods (every pod, as it was admitted, after
  mutating admission) — finished ones (``Succeeded``/``Failed``) too: the API server's check of a
  namespace's new enforce level counts every pod it lists, whatever its phase;
* not: ReplicaSets/ReplicationControllers scaled to 0 that a controller owns (a Deployment's old
  revisions: the Deployment's own template is what runs; a rollback changes that template first).

A workload the engine cannot read (malformed template) counts as ``privileged`` — never lower a
namespace below what an unreadable workload might need — and says why.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync.dryrun import template_hash
from ansible_collections.spo.security_profiles.plugins.module_utils.pss import podspec
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import evaluate
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import (
    LATEST, PRIVILEGED, RESTRICTED, level_index)

Obj = Dict[str, Any]


class Resource(NamedTuple):
    kind: str
    path: str  # the all-namespaces collection


# Every kind whose pods Pod Security admission judges (the API server judges templates too, as warnings).
RESOURCES: Tuple[Resource, ...] = (
    Resource("Pod", "/api/v1/pods"),
    Resource("ReplicationController", "/api/v1/replicationcontrollers"),
    Resource("Deployment", "/apis/apps/v1/deployments"),
    Resource("ReplicaSet", "/apis/apps/v1/replicasets"),
    Resource("StatefulSet", "/apis/apps/v1/statefulsets"),
    Resource("DaemonSet", "/apis/apps/v1/daemonsets"),
    Resource("Job", "/apis/batch/v1/jobs"),
    Resource("CronJob", "/apis/batch/v1/cronjobs"),
)


class Summary(NamedTuple):
    """What the cache keeps of one workload."""
    kind: str
    namespace: str
    name: str
    level: str
    why: str  # the first violation at the level above, or why it was not judged
    template: Optional[Obj] = None  # a workload's pod template ({metadata, spec}); None for a Pod
    template_key: str = ""  # dryrun.template_hash(template)

    def describe(self) -> str:
        return "%s %s needs %s (%s)" % (self.kind, self.name, self.level, self.why) if self.why else \
            "%s %s needs %s" % (self.kind, self.name, self.level)


def counts(kind: str, obj: Obj) -> bool:
    """Whether ``obj`` (of ``kind``) counts: every pod, and every workload whose pods may still be admitted."""
    if kind in ("ReplicaSet", "ReplicationController"):
        meta = obj.get("metadata") or {}
        owned = any(ref.get("controller") for ref in meta.get("ownerReferences") or [])
        return not (owned and (obj.get("spec") or {}).get("replicas") == 0)
    return True


def summarize(kind: str, obj: Obj, version: str = LATEST) -> Optional[Summary]:
    """The level ``obj`` needs (None: it does not count, see :func:`counts`)."""
    if not counts(kind, obj):
        return None
    meta = obj.get("metadata") or {}
    name, namespace = meta.get("name") or "", meta.get("namespace") or ""
    try:
        verdict = evaluate(dict(obj, kind=kind), RESTRICTED, version, as_admitted=False)
    except SpoError as exc:
        return Summary(kind, namespace, name, PRIVILEGED, "cannot be judged: %s" % exc)
    level = verdict.minimum_level or RESTRICTED
    why = ""
    if level != RESTRICTED:
        # the reason it is not one level more restricted: the first violation there
        above = evaluate(dict(obj, kind=kind), "baseline", version, as_admitted=False) \
            if level == PRIVILEGED else verdict
        why = above.violations[0].text() if above.violations else ""
    if kind == "Pod":
        return Summary(kind, namespace, name, level, why)
    found = podspec.extract(dict(obj, kind=kind))
    if found is None:
        return Summary(kind, namespace, name, level, why)
    template = {"metadata": {k: v for k, v in found[0].items() if k in ("labels", "annotations")}, "spec": found[1]}
    return Summary(kind, namespace, name, level, why, template, template_hash(template))


def namespace_level(summaries: Iterable[Summary]) -> Tuple[str, List[Summary]]:
    """The least privileged level that admits every workload, and the workloads that need it
    (sorted by kind and name; empty when the namespace needs no more than ``restricted``)."""
    level = RESTRICTED
    needing: List[Summary] = []
    for summary in summaries:
        if level_index(summary.level) < level_index(level):
            level, needing = summary.level, [summary]
        elif summary.level == level and level != RESTRICTED:
            needing.append(summary)
    needing.sort(key=lambda s: (s.kind, s.name))
    return level, needing
