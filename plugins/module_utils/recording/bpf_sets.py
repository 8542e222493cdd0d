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
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Set

from ansible_collections.spo.security_profiles.plugins.module_utils.host import cgroup
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
                 log: Optional[Callable[[str], None]] = None) -> None:
        self.read_cgroup = read_cgroup
        self.arch_token = libseccomp.native_arch_token() if arch_token is None else arch_token
        self.arch = libseccomp.token_to_oci_arch(self.arch_token)
        self.max_containers = max_containers
        self.max_cgroups = max_cgroups
        self.max_pending = max_pending
        self.log = log or (lambda message: None)
        self.lock = threading.Lock()
        self.by_cgroup: "collections.OrderedDict[int, Optional[str]]" = collections.OrderedDict()
        self.pending: Dict[int, Set[int]] = {}
        self.sets: "collections.OrderedDict[str, Dict[str, Any]]" = collections.OrderedDict()
        self.markers_seen: Set[Any] = set()  # the recorder has no end marker: NodeRecorder waits a moment instead
        self.state_dir = "/nonexistent"  # nothing is kept on disk: a restarted recorder starts afresh
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
            while len(self.sets) > self.max_containers:
                dropped, dummy = self.sets.popitem(last=False)
                self.log("bpf recorder: more than %d containers; forgot %s" % (self.max_containers, dropped))
        else:
            self.sets.move_to_end(cid)
        entry["syscalls"].add(name)
        entry["records"] += 1
        entry["updated"] = time.time()

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

    def keys(self, kind: str) -> List[str]:
        with self.lock:
            return list(self.sets) if kind == "containers" else []

    def containers(self) -> Iterable[str]:
        return self.keys("containers")


_UNRESOLVED = object()
