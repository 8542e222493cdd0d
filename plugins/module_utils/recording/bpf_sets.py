# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The eBPF recorder's syscall sets per container on a node (``spo-bpf-recorder``).

The recorder prints a line per new (cgroup id, syscall number) pair with the pid that made the call
(:mod:`bpf_program`); here the cgroup id is turned into a container ID once, from that pid's
``/proc/<pid>/cgroup`` (:mod:`cgroup`: containerd, CRI-O, runc layouts), and remembered.  A pair whose
process is already gone waits (bounded) under its cgroup id until another process of the same cgroup
names the container; the recorder prints every pair of a live cgroup again after each clear of its map.

It offers what :class:`~.recorder.NodeRecorder` asks of the log enricher (``target``, ``forget``,
``keys``, ``lock``), so the same recorder writes the profiles: ``<recording>-<container>``, same base
profile, same merge.  Memory is bounded: at most ``max_containers`` sets (the oldest unused go first) and
``max_cgroups`` cgroup ids remembered.

With a ``state_dir`` the sets survive the recorder's restart (:mod:`bpf_state`): :meth:`restore` reads them back at
start, :meth:`flush` (called about once a second: debounced) writes the sets that gained a syscall since the last
flush, of the containers ``persist`` names (the recorded ones; all when None), and :meth:`forget` removes a
container's file with its set.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Set

from ansible_collections.spo.security_profiles.plugins.module_utils.host import cgroup
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_state import SetStore
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp

Reader = Callable[[int], Optional[str]]


def read_proc_cgroup(pid: int, proc: str = "/proc") -> Optional[str]:
    try:
        with open("%s/%d/cgroup" % (proc, pid)) as handle:
            return handle.read()
    except OSError:
        return None


class BpfContainerSets(object):
    """container ID -> syscall names seen, fed by the recorder's new-pair lines."""

    def __init__(self, read_cgroup: Reader = read_proc_cgroup, arch_token: Optional[int] = None,
                 max_containers: int = 4096, max_cgroups: int = 65536, max_pending: int = 1024,
                 log: Optional[Callable[[str], None]] = None, state_dir: Optional[str] = None) -> None:
        self.read_cgroup = read_cgroup
        self.arch_token = libseccomp.native_arch_token() if arch_token is None else arch_token
        self.arch = libseccomp.token_to_oci_arch(self.arch_token)
        self.max_containers = max_containers
        self.max_cgroups = max_cgroups
        self.max_pending = max_pending
        self.log = log or (lambda message: None)
        self.lock = threading.Lock()
        self.io_lock = threading.Lock()  # a flush's write vs. forget's removal: a forgotten set is never written back
        self.by_cgroup: "collections.OrderedDict[int, Optional[str]]" = collections.OrderedDict()
        self.pending: Dict[int, Set[int]] = {}
        self.sets: "collections.OrderedDict[str, Dict[str, Any]]" = collections.OrderedDict()
        self.markers_seen: Set[Any] = set()  # the recorder has no end marker: NodeRecorder waits a moment instead
        self.state_dir = state_dir or "/nonexistent"
        self.store = SetStore(state_dir) if state_dir else None
        self.dirty: Set[str] = set()  # containers whose set gained a syscall since it was last written
        self.resolve: Any = None
        self.pairs = 0
        self.unknown_numbers = 0

    # -- fed by bpftrace's output thread ----------------------------------------------------------------
    def on_pair(self, cgroup_id: int, number: int, pid: int) -> None:
        with self.lock:
            self.pairs += 1
            cid = self._container(cgroup_id, pid)
            if cid is _UNRESOLVED:
                if cgroup_id in self.pending or len(self.pending) < self.max_pending:
                    self.pending.setdefault(cgroup_id, set()).add(number)
                return
            waiting = self.pending.pop(cgroup_id, set())
            if cid is None:
                return
            for each in sorted(waiting | {number}):
                self._add(cid, each)

    def _container(self, cgroup_id: int, pid: int) -> Any:
        if cgroup_id in self.by_cgroup:
            return self.by_cgroup[cgroup_id]
        text = self.read_cgroup(pid) if pid > 0 else None
        if text is None:
            return _UNRESOLVED
        found = cgroup.container_id(text)
        self.by_cgroup[cgroup_id] = found
        while len(self.by_cgroup) > self.max_cgroups:
            self.by_cgroup.popitem(last=False)
        return found

    def _add(self, cid: str, number: int) -> None:
        name = libseccomp.syscall_name(self.arch_token, number)
        if name is None:
            self.unknown_numbers += 1
            return
        entry = self.sets.get(cid)
        if entry is None:
            entry = self.sets[cid] = {"syscalls": set(), "records": 0}
            self._bound()
        else:
            self.sets.move_to_end(cid)
        if name not in entry["syscalls"]:
            entry["syscalls"].add(name)
            self.dirty.add(cid)
        entry["records"] += 1
        entry["updated"] = time.time()

    def _bound(self) -> None:
        while len(self.sets) > self.max_containers:
            dropped, dummy = self.sets.popitem(last=False)
            self.dirty.discard(dropped)
            if self.store is not None:
                self.store.remove(dropped)
            self.log("bpf recorder: more than %d containers; forgot %s" % (self.max_containers, dropped))

    # -- on the node's disk -------------------------------------------------------------------------------
    def restore(self) -> int:
        """Read the sets an earlier run of the recorder wrote (bad files are logged and removed); returns how
        many were restored.  Called once, before the recorder's output is fed."""
        if self.store is None:
            return 0
        found, problems = self.store.load(limit=self.max_containers)
        for problem in problems:
            self.log("bpf recorder: state %s" % problem)
        with self.lock:
            for cid, entry in sorted(found.items(), key=lambda item: item[1]["updated"]):
                known = self.sets.get(cid)
                if known is not None:
                    known["syscalls"] |= entry["syscalls"]
                    known["records"] += entry["records"]
                    self.dirty.add(cid)
                else:
                    self.sets[cid] = entry
                    self.sets.move_to_end(cid, last=False)
            self._bound()
        return len(found)

    def flush(self, persist: Optional[Callable[[], Set[str]]] = None) -> int:
        """Write the changed sets of the containers ``persist()`` names (all when None); returns how many were
        written.  A failed write is logged and retried at the next flush."""
        if self.store is None or not self.dirty:
            return 0
        wanted = persist() if persist is not None else None
        with self.io_lock:
            with self.lock:
                chosen = {cid: {"syscalls": set(self.sets[cid]["syscalls"]), "records": self.sets[cid]["records"],
                                "updated": self.sets[cid].get("updated", 0.0)}
                          for cid in self.dirty if cid in self.sets and (wanted is None or cid in wanted)}
                self.dirty -= set(chosen)
            if not chosen:
                return 0
            try:
                self.store.save(chosen)
            except OSError as exc:
                self.log("bpf recorder: cannot write the sets to %s (retried): %s" % (self.state_dir, exc))
                with self.lock:
                    self.dirty |= {cid for cid in chosen if cid in self.sets}
                return 0
        return len(chosen)

    def age(self, cid: str, now: Optional[float] = None) -> float:
        """Seconds since the set of ``cid`` last changed (0 when there is none)."""
        with self.lock:
            entry = self.sets.get(cid)
            return 0.0 if entry is None else max(0.0, (time.time() if now is None else now) - entry.get("updated", 0.0))

    # -- what NodeRecorder asks of an enricher ----------------------------------------------------------
    def target(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        if kind != "containers":
            return None
        with self.lock:
            entry = self.sets.get(key)
            if entry is None:
                return None
            return {"syscalls": sorted(entry["syscalls"]), "architectures": [self.arch] if self.arch else [],
                    "records": entry["records"]}

    def forget(self, kind: str, key: str) -> None:
        if kind == "containers":
            with self.lock:
                self.sets.pop(key, None)
                self.dirty.discard(key)
            if self.store is not None:
                with self.io_lock:
                    self.store.remove(key)

    def keys(self, kind: str) -> List[str]:
        with self.lock:
            return list(self.sets) if kind == "containers" else []

    def containers(self) -> Iterable[str]:
        return self.keys("containers")


_UNRESOLVED = object()
