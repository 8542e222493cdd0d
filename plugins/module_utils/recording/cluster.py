# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ProfileRecording on a node: the cluster half of the log enricher (``spo-enricher --cluster``).

The recording webhook gives each recorded container a logging profile (seccomp ``SCMP_ACT_LOG`` for every call,
or the permissive SELinux type ``selinuxrecording.process``) and the pod an annotation naming the recording:
``io.containers.trace-logs/<container>`` (seccomp) or ``io.containers.trace-avcs/<container>`` (SELinux), value
``<recording>_<container>_<nonce>_<unix time>``.  Here, on every node:

* the pods of this node are list+watched (``fieldSelector spec.nodeName=<node>``); their container IDs
  (``containerd://<id>``, ``cri-o://<id>``, restarts' ``lastState`` too) name the pod and container of each
  cgroup's records, for the metric labels and for the profiles;
* audit records reach the :class:`~..enricher.Enricher` (attribution pid -> ``/proc/<pid>/cgroup`` -> container
  ID, per container syscall / AVC sets kept in the state dir);
* the audit sources: auditd's log and the kernel log (``/dev/kmsg``), both: the kernel hands each record to a
  registered auditd or, without one, prints it to the kernel log.  While a recorded pod lives on the node,
  kernel auditing is kept on (``auditctl -e 1``, backlog >= 8192: nodes may boot with auditing off) and, for the
  kernel log, ``kernel.printk_ratelimit`` is kept at 0 (otherwise the kernel drops all but ten records per five
  seconds); the previous ratelimit is put back when no recorded pod is left;
* when a recorded pod ends (deleted, or phase ``Succeeded``), an end marker is queued to the audit subsystem
  (``spo-record-done session=<n> nonce=<secret>``, a user message; only this recorder's nonce counts, so a
  container that sends the text ends nothing); once it is read back every record the pod caused before
  has been read, and the profile ``<recording>-<container>`` is written in the pod's namespace (a pod of a
  controller, i.e. with ``generateName``: ``-<n>``, the first free n), labelled ``spo.x-k8s.io/recording-id``,
  ``spo.x-k8s.io/container-id`` and, with ``mergeStrategy: containers``, ``spo.x-k8s.io/partial: "true"``
  (the node agent does not install partial profiles; the operator's role ``profilerecording`` merges them when
  the recording is deleted).  The pod's UID is kept in the annotation ``spo.x-k8s.io/recorded-pod-uid``, so a
  restarted enricher never writes the same pod twice.
* a recorded SeccompProfile names the shipped base ``runc-recorded-v1.1.5`` in ``spec.baseProfileName``: the
  syscalls the OCI runtime's own init makes after loading the filter (the Go runtime's futex waits, signals)
  show up in some runs only, so a recording alone can miss them and the bound pod would then die in runc init.
  The base lists those calls and nothing a workload needs (crun makes fewer still); the recorded list stays
  the workload's own.

Pure parts (annotations, container IDs, profile objects, naming) are functions; :class:`NodeRecorder` does I/O.
"""
from __future__ import annotations

import json
import os
import queue
import random
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Set, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import profiles as recording
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

GROUP = api.GROUP
TRACE_PREFIX = {"io.containers.trace-logs/": "SeccompProfile", "io.containers.trace-avcs/": "SelinuxProfile"}
# the eBPF recorder's pods (ProfileRecording recorder: bpf): recorded by spo-bpf-recorder, not by the log enricher
BPF_TRACE_PREFIX = {"io.containers.trace-bpf/": "SeccompProfile"}
LABEL_RECORDING = "spo.x-k8s.io/recording-id"
LABEL_CONTAINER = "spo.x-k8s.io/container-id"
LABEL_PARTIAL = "spo.x-k8s.io/partial"
ANNOTATION_POD_UID = "spo.x-k8s.io/recorded-pod-uid"
ANNOTATION_POD = "spo.x-k8s.io/recorded-pod"
FINALIZER = "spo.x-k8s.io/has-unmerged-profiles"
SELINUX_RECORDING_TYPE = "selinuxrecording.process"
KINDS = {"SeccompProfile": ("v1beta1", "seccompprofiles"), "SelinuxProfile": ("v1alpha2", "selinuxprofiles")}
RECORDINGS = ("v1alpha1", "profilerecordings")
MAX_REPLICAS = 1000
RUNTIME_BASE = "runc-recorded-v1.1.5"

Obj = Dict[str, Any]


# ---------------------------------------------------------------------------------------------- pure parts

def recorded_containers(pod: Mapping[str, Any], prefixes: Optional[Mapping[str, str]] = None) -> Dict[str, Tuple[str, str]]:
    """container name -> (profile kind, recording name), from the pod's trace annotations.

    A value that is not ``<recording>_<container>_<nonce>_<time>`` for the annotated container is ignored (the
    webhook overwrites whatever a pod sets itself, so such a value was not written by it).
    """
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    found: Dict[str, Tuple[str, str]] = {}
    for key, value in sorted(annotations.items()):
        for prefix, kind in (TRACE_PREFIX if prefixes is None else prefixes).items():
            if not key.startswith(prefix) or not isinstance(value, str):
                continue
            container = key[len(prefix):]
            parts = value.split("_")
            if len(parts) != 4 or parts[1] != container or not parts[0]:
                continue
            found[container] = (kind, parts[0])
    return found


def strip_runtime(container_id: str) -> str:
    """``containerd://<id>`` / ``cri-o://<id>`` / ``docker://<id>`` -> ``<id>``."""
    return container_id.split("://", 1)[-1]


def container_ids(pod: Mapping[str, Any]) -> Dict[str, List[str]]:
    """container name -> IDs (current and previous runs) from the pod's status, init containers included."""
    status = pod.get("status") or {}
    out: Dict[str, List[str]] = {}
    for field in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        for entry in status.get(field) or []:
            name = entry.get("name")
            ids = out.setdefault(name, [])
            for raw in (entry.get("containerID"),
                        ((entry.get("lastState") or {}).get("terminated") or {}).get("containerID")):
                if raw and strip_runtime(raw) not in ids:
                    ids.append(strip_runtime(raw))
    return out


def pod_ended(event: str, pod: Mapping[str, Any]) -> bool:
    """A pod is done recording when deleted or Succeeded (upstream's rule; a Failed pod is recorded on deletion)."""
    return event == "DELETED" or (pod.get("status") or {}).get("phase") == "Succeeded"


def is_replica(pod: Mapping[str, Any]) -> bool:
    """Pods of a controller (Deployment, ReplicaSet, Job, ...) have generated names: their profiles get ``-<n>``."""
    return bool((pod.get("metadata") or {}).get("generateName"))


def slim_pod(pod: Mapping[str, Any]) -> Obj:
    """What the recorder keeps of a pod."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    keep_meta = {k: meta[k] for k in ("name", "namespace", "uid", "generateName", "annotations", "labels",
                                      "deletionTimestamp") if k in meta}
    if isinstance(keep_meta.get("annotations"), dict):
        keep_meta["annotations"] = {k: v for k, v in keep_meta["annotations"].items()
                                    if any(k.startswith(p) for p in list(TRACE_PREFIX) + list(BPF_TRACE_PREFIX))}
    statuses = {}
    for field in ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses"):
        entries = []
        for entry in status.get(field) or []:
            item = {"name": entry.get("name"), "containerID": entry.get("containerID")}
            last = ((entry.get("lastState") or {}).get("terminated") or {}).get("containerID")
            if last:
                item["lastState"] = {"terminated": {"containerID": last}}
            entries.append(item)
        if entries:
            statuses[field] = entries
    return {"metadata": keep_meta, "status": dict(statuses, phase=status.get("phase"))}


def profile_labels(recording_name: str, container: str, partial: bool) -> Dict[str, str]:
    labels = {LABEL_RECORDING: recording_name, LABEL_CONTAINER: container}
    if partial:
        labels[LABEL_PARTIAL] = "true"
    return labels


def build_profile(kind: str, recording_name: str, container: str, namespace: str, data: Mapping[str, Any],
                  name: str, partial: bool = False, disabled: bool = False,
                  pod: Optional[Mapping[str, Any]] = None) -> Obj:
    """The SeccompProfile / SelinuxProfile recorded for one container (``data``: the enricher's set)."""
    labels = profile_labels(recording_name, container, partial)
    if kind == "SeccompProfile":
        obj = recording.seccomp_profile(name, namespace, data.get("syscalls") or [],
                                        sorted(data.get("architectures") or []) or None, base_profile_name=RUNTIME_BASE,
                                        labels=labels)
    elif kind == "SelinuxProfile":
        obj = recording.selinux_profile(name, namespace, data.get("avcs") or [], self_type=SELINUX_RECORDING_TYPE,
                                        labels=labels)
    else:
        raise SpoError("must be SeccompProfile or SelinuxProfile, got %r" % (kind,),
                       "ProfileRecording %s/%s" % (namespace, recording_name), "spec.kind")
    if disabled:
        obj["spec"]["disabled"] = True
    if pod is not None:
        meta = pod.get("metadata") or {}
        obj["metadata"]["annotations"] = {ANNOTATION_POD: "%s/%s" % (meta.get("namespace"), meta.get("name")),
                                          ANNOTATION_POD_UID: meta.get("uid") or ""}
    return obj


def union(sets: List[Mapping[str, Any]]) -> Obj:
    """The union of several enricher sets of one container (its restarts)."""
    out: Obj = {"syscalls": set(), "architectures": set(), "avcs": [], "records": 0}
    seen: Set[str] = set()
    for data in sets:
        out["syscalls"].update(data.get("syscalls") or [])
        out["architectures"].update(data.get("architectures") or [])
        out["records"] += int(data.get("records") or 0)
        for avc in data.get("avcs") or []:
            key = json.dumps(avc, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out["avcs"].append(avc)
    out["syscalls"] = sorted(out["syscalls"])
    out["architectures"] = sorted(out["architectures"])
    return out


def avc_events(avcs: List[Mapping[str, Any]]) -> List[Obj]:
    """Enricher AVC entries as :func:`recording.selinux_profile` events (all were denials the kernel logged)."""
    return [dict(a, result="denied") for a in avcs]


# ---------------------------------------------------------------------------------------------- writing

def _collection(kind: str, namespace: str) -> str:
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import custom_path
    version, plural = KINDS[kind]
    return custom_path(GROUP, version, plural, namespace)


def find_recorded(kube: Any, kind: str, namespace: str, recording_name: str, container: str,
                  pod_uid: str) -> Optional[str]:
    """Name of a profile already written for this pod's container, or None."""
    selector = "%s=%s,%s=%s" % (LABEL_RECORDING, recording_name, LABEL_CONTAINER, container)
    listing = kube.list(_collection(kind, namespace), {"labelSelector": selector})
    for item in listing.get("items") or []:
        meta = item.get("metadata") or {}
        if pod_uid and (meta.get("annotations") or {}).get(ANNOTATION_POD_UID) == pod_uid:
            return meta.get("name")
    return None


def write_profile(kube: Any, obj: Obj, replica: bool, recording_name: str, container: str) -> Tuple[str, str]:
    """Create the profile (replicas: first free ``-<n>``; otherwise create or replace ``<recording>-<container>``).

    Returns (name, "created" | "updated" | "exists").
    """
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import KubeError
    kind, meta = obj["kind"], obj["metadata"]
    namespace = meta["namespace"]
    path = _collection(kind, namespace)
    uid = (meta.get("annotations") or {}).get(ANNOTATION_POD_UID, "")
    done = find_recorded(kube, kind, namespace, recording_name, container, uid)
    if done:
        return done, "exists"
    if not replica:
        try:
            kube.create(path, obj)
            return meta["name"], "created"
        except KubeError as exc:
            if exc.status != 409:
                raise
        current = kube.get(path + "/" + meta["name"])
        spec_patch: Obj = dict(obj["spec"])
        for key in (current.get("spec") or {}):
            spec_patch.setdefault(key, None)
        kube.merge_patch(path + "/" + meta["name"], {"metadata": {"labels": meta.get("labels"),
                                                                  "annotations": meta.get("annotations")},
                                                     "spec": spec_patch})
        return meta["name"], "updated"
    for replica_n in range(1, MAX_REPLICAS + 1):
        name = recording.profile_name(recording_name, container, replica_n)
        body = dict(obj, metadata=dict(meta, name=name))
        try:
            kube.create(path, body)
            return name, "created"
        except KubeError as exc:
            if exc.status != 409:
                raise
    raise SpoError("more than %d replicas recorded" % MAX_REPLICAS, "ProfileRecording %s/%s" % (namespace, recording_name))


# ---------------------------------------------------------------------------------------------- the daemon part

class PodIndex(object):
    """container ID -> (namespace, pod, container) for this node's pods; ended pods are remembered a while."""

    def __init__(self, keep: int = 4096) -> None:
        self.keep = keep
        self.by_id: Dict[str, Tuple[str, str, str]] = {}
        self.retired: List[str] = []
        self.lock = threading.Lock()

    def update(self, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        with self.lock:
            for container, ids in container_ids(pod).items():
                for cid in ids:
                    self.by_id[cid] = (meta.get("namespace") or "", meta.get("name") or "", container or "")

    def retire(self, pod: Mapping[str, Any]) -> None:
        with self.lock:
            for ids in container_ids(pod).values():
                self.retired.extend(ids)
            while len(self.retired) > self.keep:
                self.by_id.pop(self.retired.pop(0), None)

    def resolve(self, cid: str) -> Optional[Tuple[str, str, str]]:
        return self.by_id.get(cid)


class AuditSwitch(object):
    """Kernel auditing (and, for the kernel log, an unlimited printk rate) while recordings run on the node."""

    def __init__(self, kernel_log: bool, log: Callable[[str], None],
                 ratelimit_path: str = "/proc/sys/kernel/printk_ratelimit") -> None:
        self.kernel_log = kernel_log
        self.log = log
        self.path = ratelimit_path
        self.saved: Optional[str] = None
        self.active = False
        self.last_check = 0.0

    def on(self) -> None:
        from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local
        now = time.monotonic()
        if self.active and now - self.last_check < 2.0:
            return
        self.last_check = now
        try:
            changes = recording_local.ensure_auditing()
            if changes:
                self.log("recording: kernel auditing turned on (%s)" % ", ".join(changes))
        except SpoError as exc:
            self.log("recording: %s" % exc)
        if self.kernel_log:
            try:
                with open(self.path) as handle:
                    value = handle.read().strip()
                if value != "0":
                    if self.saved is None:
                        self.saved = value
                    with open(self.path, "w") as handle:
                        handle.write("0")
                    self.log("recording: kernel.printk_ratelimit %s -> 0 while recorded pods run" % value)
            except OSError as exc:
                self.log("recording: cannot set kernel.printk_ratelimit (records will be dropped): %s" % exc)
        self.active = True

    def off(self) -> None:
        if not self.active:
            return
        self.active = False
        if self.saved is not None:
            try:
                with open(self.path, "w") as handle:
                    handle.write(self.saved)
                self.log("recording: kernel.printk_ratelimit back to %s" % self.saved)
            except OSError as exc:
                self.log("recording: cannot restore kernel.printk_ratelimit: %s" % exc)
            self.saved = None


class NodeRecorder(object):
    """Watches this node's pods and writes the recorded profiles of the ones that end."""

    def __init__(self, kube: Any, enricher: Any, node: str, log: Callable[[str], None],
                 kernel_log: bool = True, marker: Optional[Callable[[int, str], None]] = None,
                 marker_timeout: float = 10.0, switch: Optional[AuditSwitch] = None, record: bool = True,
                 prefixes: Optional[Mapping[str, str]] = None) -> None:
        """``record`` False: only the pod index (the JSON enricher's names), no recording."""
        self.kube = kube
        self.record = record
        self.keep_auditing = False  # the JSON enricher needs auditing on whether recorded pods run or not
        self.enricher = enricher
        self.node = node
        self.log = log
        self.index = PodIndex()
        self.marker = marker
        self.marker_timeout = marker_timeout
        self.switch = switch or AuditSwitch(kernel_log, log)
        self.prefixes = prefixes  # the pod annotations this recorder records (None: the log enricher's)
        self.live: Dict[str, Obj] = {}  # uid -> recorded pod (slim), while it runs
        self.done: Dict[str, float] = {}  # uids written (or being written)
        self.work: "queue.Queue[Tuple[Obj, float]]" = queue.Queue()
        self.written: List[Dict[str, Any]] = []  # (for metrics/tests) what was written
        self.lock = threading.Lock()
        self.reflector: Any = None
        enricher.resolve = self.index.resolve

    # -- pods -------------------------------------------------------------------------------------
    def start(self) -> "NodeRecorder":
        from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Reflector, core_path
        self.reflector = Reflector(self.kube, "pods", core_path("pods"), self.on_pod,
                                   query={"fieldSelector": "spec.nodeName=%s" % self.node}, slim=slim_pod,
                                   log=self.log)
        self.reflector.start()
        threading.Thread(target=self._worker, name="recorder", daemon=True).start()
        return self

    def on_pod(self, event: str, key: Tuple[str, str], old: Optional[Obj], new: Optional[Obj]) -> None:
        pod = new if new is not None else old
        if pod is None:
            return
        self.index.update(pod)
        uid = (pod.get("metadata") or {}).get("uid") or ""
        if not self.record or not recorded_containers(pod, self.prefixes):
            if event == "DELETED":
                self.index.retire(pod)
            return
        with self.lock:
            if uid in self.done:
                return
            if pod_ended(event, pod):
                self.done[uid] = time.monotonic()
                self.live.pop(uid, None)
                self.work.put((pod, time.monotonic()))
                if event == "DELETED":
                    self.index.retire(pod)
            else:
                self.live[uid] = pod
        if self.live:
            self.switch.on()

    def tick(self) -> None:
        """Called by the daemon's loop: keep auditing on while recorded pods run, off when none is left."""
        with self.lock:
            running = bool(self.live) or not self.work.empty() or self.keep_auditing
        if running:
            self.switch.on()
        else:
            self.switch.off()

    # -- collecting -------------------------------------------------------------------------------
    def _wait_marker(self) -> bool:
        if self.marker is None:
            return False
        number = random.randint(1 << 30, (1 << 31) - 1)
        nonce = audit.new_nonce()
        try:
            self.marker(number, nonce)
        except SpoError as exc:
            self.log("recording: end marker not sent (%s); waiting %.0fs instead" % (exc, self.marker_timeout))
            return False
        deadline = time.monotonic() + self.marker_timeout
        while time.monotonic() < deadline:
            with self.enricher.lock:
                seen = (number, nonce) in self.enricher.markers_seen
                if seen:
                    self.enricher.markers_seen.remove((number, nonce))
            if seen:
                self.enricher.forget("sessions", str(number))
                self._settle()
                return True
            time.sleep(0.05)
        self.log("recording: end marker %d not read back within %.0fs; writing what was seen" % (number, self.marker_timeout))
        return False

    def _settle(self, limit: float = 3.0) -> None:
        """Wait (up to ``limit``) until the records deferred for an unknown process are attributed or dropped."""
        deadline = time.monotonic() + limit
        while getattr(self.enricher, "pending", None) and time.monotonic() < deadline:
            time.sleep(0.1)

    def _worker(self) -> None:
        while True:
            pod, ended = self.work.get()
            try:
                if not self._wait_marker():
                    time.sleep(max(0.0, 2.0 - (time.monotonic() - ended)))
                self.collect(pod, ended)
            except Exception as exc:  # pylint: disable=broad-except
                meta = pod.get("metadata") or {}
                self.log("recording: pod %s/%s: %s" % (meta.get("namespace"), meta.get("name"), exc))

    def _recording(self, namespace: str, name: str) -> Optional[Obj]:
        from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import custom_path, is_not_found
        try:
            return self.kube.get(custom_path(GROUP, RECORDINGS[0], RECORDINGS[1], namespace, name))
        except Exception as exc:  # pylint: disable=broad-except
            if is_not_found(exc):
                return None
            raise

    def collect(self, pod: Obj, ended: float) -> List[Dict[str, Any]]:
        """Write the profiles of one ended pod; forget its containers' sets."""
        meta = pod.get("metadata") or {}
        namespace, pod_name = meta.get("namespace") or "", meta.get("name") or ""
        ids = container_ids(pod)
        results = []
        for container, (kind, rec_name) in sorted(recorded_containers(pod, self.prefixes).items()):
            already = find_recorded(self.kube, kind, namespace, rec_name, container, meta.get("uid") or "")
            if already:  # written before a restart of the enricher
                for cid in ids.get(container, []):
                    self.enricher.forget("containers", cid)
                results.append({"pod": "%s/%s" % (namespace, pod_name), "container": container, "kind": kind,
                                "recording": rec_name, "name": already, "action": "exists"})
                continue
            sets = [s for s in (self.enricher.target("containers", cid) for cid in ids.get(container, [])) if s]
            data = union(sets)
            rec = self._recording(namespace, rec_name)
            spec = (rec or {}).get("spec") or {}
            partial = spec.get("mergeStrategy") == "containers"
            entry: Dict[str, Any] = {"pod": "%s/%s" % (namespace, pod_name), "container": container, "kind": kind,
                                     "recording": rec_name, "records": data["records"]}
            try:
                if kind == "SelinuxProfile":
                    data["avcs"] = avc_events(data["avcs"])
                obj = build_profile(kind, rec_name, container, namespace, data,
                                    recording.profile_name(rec_name, container), partial=partial,
                                    disabled=bool(spec.get("disableProfileAfterRecording")), pod=pod)
                name, action = write_profile(self.kube, obj, is_replica(pod), rec_name, container)
                entry.update(name=name, action=action, seconds=round(time.monotonic() - ended, 3),
                             syscalls=len(data["syscalls"]), avcs=len(data["avcs"]), partial=partial)
                self.log("recording: %s %s %s/%s (%d syscalls, %d AVCs, %d records) from pod %s/%s container %s"
                         % (action, kind, namespace, name, len(data["syscalls"]), len(data["avcs"]),
                            data["records"], namespace, pod_name, container))
            except SpoError as exc:
                entry.update(error=str(exc))
                self.log("recording: pod %s/%s container %s: %s" % (namespace, pod_name, container, exc))
                try:
                    self.kube.warning_event({"apiVersion": "v1", "kind": "Pod", "metadata": meta}, "ProfileNotRecorded",
                                            "container %s: %s" % (container, exc), "spo-enricher", self.node)
                except Exception:  # pylint: disable=broad-except
                    pass
            for cid in ids.get(container, []):
                self.enricher.forget("containers", cid)
            results.append(entry)
        self.written.extend(results)
        return results

    def _container_ids(self) -> Tuple[Set[str], Set[str]]:
        """(container IDs of the recorded pods of this node, of all its pods) as known now."""
        recorded: Set[str] = set()
        known: Set[str] = set()
        with self.lock:
            live = list(self.live.values())
        for pod in self.reflector.items() if self.reflector is not None else []:
            ids = {cid for group in container_ids(pod).values() for cid in group}
            known.update(ids)
            if recorded_containers(pod, self.prefixes):
                recorded.update(ids)
        for pod in live:
            recorded.update(cid for group in container_ids(pod).values() for cid in group)
        return recorded, known

    def recorded_ids(self) -> Set[str]:
        """Container IDs of the recorded pods of this node (running, or ended and not deleted yet)."""
        return self._container_ids()[0]

    def sweep(self, max_age: float = 600.0) -> int:
        """Forget sets of containers that belong to no recorded pod of this node (checked ``max_age`` after their
        pod ended or when their pod is not recorded); returns how many were dropped."""
        if self.reflector is None or not self.reflector.synced.is_set():
            return 0
        recorded, known = self._container_ids()
        dropped = 0
        now = time.time()
        own_age = getattr(self.enricher, "age", None)  # the eBPF recorder's sets know when they last changed
        for cid in self.enricher.keys("containers"):
            if cid in recorded:
                continue
            if own_age is not None:
                age = own_age(cid, now)
            else:
                path = os.path.join(self.enricher.state_dir, "containers", cid + ".json")
                try:
                    age = now - os.path.getmtime(path)
                except OSError:
                    age = max_age + 1 if cid in known else 0.0
            if cid in known or age > max_age:
                self.enricher.forget("containers", cid)
                dropped += 1
        return dropped


# ---------------------------------------------------------------------------------------------- merging

def plan_merge(recording_name: str, partials: List[Mapping[str, Any]]) -> Dict[str, Obj]:
    """merged profile name -> the union of the partial profiles of each container (``mergeStrategy: containers``).

    Partials are grouped by their ``spo.x-k8s.io/container-id`` label; the merged profile is
    ``<recording>-<container>``, labelled with the recording and container, not partial, installable.
    """
    groups: Dict[str, List[Mapping[str, Any]]] = {}
    for prof in sorted(partials, key=lambda p: (p.get("metadata") or {}).get("name") or ""):
        labels = (prof.get("metadata") or {}).get("labels") or {}
        groups.setdefault(labels.get(LABEL_CONTAINER) or (prof.get("metadata") or {}).get("name") or "", []).append(prof)
    merged: Dict[str, Obj] = {}
    for container, group in sorted(groups.items()):
        name = recording.profile_name(recording_name, container)
        slim = [{"apiVersion": p.get("apiVersion"), "kind": p.get("kind"), "spec": p.get("spec") or {},
                 "metadata": {"name": (p.get("metadata") or {}).get("name"),
                              "namespace": (p.get("metadata") or {}).get("namespace")}} for p in group]
        if group[0].get("kind") == "SelinuxProfile":
            obj = recording.merge_selinux(name, slim)
        else:
            obj = recording.merge_seccomp(name, slim)
        obj["metadata"] = {"name": name, "namespace": slim[0]["metadata"]["namespace"],
                           "labels": profile_labels(recording_name, container, False),
                           "annotations": {"spo.x-k8s.io/merged-from": ",".join(p["metadata"]["name"] for p in slim)}}
        if any((p.get("spec") or {}).get("disabled") for p in group):
            obj["spec"]["disabled"] = True
        merged[name] = obj
    return merged


def _drop_recording_owner(kube: Any, path: str, created: Any, recording_name: str) -> None:
    """A merged profile outlives its recording: ansible-operator's proxy gives what a run creates an owner
    reference to the run's object (here the ProfileRecording being finalized), which would have the garbage
    collector delete the profile once the recording is gone.  The reference is removed again; the recording
    stays until this run ends (its finalizer), so the collector never sees the profile owned by a gone object."""
    refs = ((created or {}).get("metadata") or {}).get("ownerReferences") or []
    kept = [ref for ref in refs if not (ref.get("kind") == "ProfileRecording" and ref.get("name") == recording_name)]
    if len(kept) != len(refs):
        kube.merge_patch(path, {"metadata": {"ownerReferences": kept or None}})


def merge_partials(kube: Any, namespace: str, recording_name: str, kind: str, check_mode: bool = False) -> Obj:
    """Merge the partial profiles of a recording into one per container, then delete the partials."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import KubeError
    if kind not in KINDS:
        raise SpoError("must be SeccompProfile or SelinuxProfile, got %r" % (kind,),
                       "ProfileRecording %s/%s" % (namespace, recording_name), "spec.kind")
    path = _collection(kind, namespace)
    selector = "%s=%s,%s=true" % (LABEL_RECORDING, recording_name, LABEL_PARTIAL)
    partials = kube.list(path, {"labelSelector": selector}).get("items") or []
    result: Obj = {"changed": False, "merged": [], "deleted": [], "partials": len(partials)}
    if not partials:
        return result
    plan = plan_merge(recording_name, partials)
    result["changed"] = True
    result["merged"] = sorted(plan)
    result["deleted"] = sorted(n for n in ((p.get("metadata") or {}).get("name") for p in partials) if n not in plan)
    result["profiles"] = [plan[name] for name in sorted(plan)]
    if check_mode:
        return result
    for name, obj in sorted(plan.items()):
        try:
            created = kube.create(path, obj)
            _drop_recording_owner(kube, path + "/" + name, created, recording_name)
        except KubeError as exc:
            if exc.status != 409:
                raise
            current = kube.get(path + "/" + name)
            spec_patch: Obj = dict(obj["spec"])
            for key in (current.get("spec") or {}):
                spec_patch.setdefault(key, None)
            labels: Dict[str, Optional[str]] = dict(obj["metadata"]["labels"])
            labels[LABEL_PARTIAL] = None
            patch = {"metadata": {"labels": labels, "annotations": obj["metadata"]["annotations"]},
                     "spec": spec_patch}
            kube.merge_patch(path + "/" + name, patch)
    for name in result["deleted"]:
        kube.delete(path + "/" + name)
    return result
