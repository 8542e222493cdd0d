# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The eBPF recorder's output (``bpftrace -f json``, one JSON object per line) -> syscalls per cgroup.

Objects understood (anything else is ignored, a line that is not JSON is counted in ``bad_lines``):

* ``{"type": "attached_probes", ...}``: the probes are in place, a workload may start;
* ``{"type": "printf", "data": "<cgroup id> <syscall nr> <pid>\\n"}``: a (cgroup, syscall) pair seen
  for the first time (since the last clear), by process ``pid``;
* ``{"type": "map", "data": {"@sc": {"<cgroup id>,<nr>": count, ...}}}``: the final dump, exact;
  ``{"type": "map", "data": {"@dropped": n}}``: inserts that failed because a map was full;
* ``{"type": "lost_events", "data": {"events": n}}``: printed lines the kernel's ring dropped.

Only numbers are taken from the output: a process cannot put text into it (its name is never printed).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, Optional, Set

NewPair = Callable[[int, int, int], None]


class BpfOutput(object):
    """Accumulates the recorder's output: syscall numbers (and counts) per cgroup id, losses."""

    def __init__(self, on_new_pair: Optional[NewPair] = None, max_cgroups: int = 65536, keep: bool = True) -> None:
        """``keep`` (a recording of one run) keeps the sets and counts here; a daemon passes False: every pair is
        handed to ``on_new_pair`` (which keeps what it needs), nothing accumulates here over the node's life."""
        self.on_new_pair = on_new_pair
        self.max_cgroups = max_cgroups
        self.keep = keep
        self.syscalls: Dict[int, Set[int]] = {}
        self.counts: Dict[int, Dict[int, int]] = {}
        self.attached = False
        self.lost = 0
        self.dropped = 0
        self.bad_lines = 0
        self.dumped = False

    def feed_line(self, line: Any) -> None:
        if isinstance(line, bytes):
            line = line.decode("utf-8", "replace")
        line = line.strip()
        if not line:
            return
        try:
            obj = json.loads(line)
        except ValueError:
            self.bad_lines += 1
            return
        if not isinstance(obj, dict):
            self.bad_lines += 1
            return
        kind = obj.get("type")
        data = obj.get("data")
        if kind == "attached_probes":
            self.attached = True
        elif kind == "printf" and isinstance(data, str):
            for text in data.splitlines():
                self._pair_line(text)
        elif kind == "lost_events" and isinstance(data, dict):
            self.lost += _int(data.get("events"))
        elif kind == "map" and isinstance(data, dict):
            self._map(data)

    def _pair_line(self, text: str) -> None:
        parts = text.split()
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            self.bad_lines += 1
            return
        cgroup, number, pid = (int(p) for p in parts)
        if self._add(cgroup, number) and self.on_new_pair is not None:
            self.on_new_pair(cgroup, number, pid)

    def _add(self, cgroup: int, number: int) -> bool:
        if not self.keep:
            return True
        known = self.syscalls.get(cgroup)
        if known is None:
            if len(self.syscalls) >= self.max_cgroups:
                self.dropped += 1
                return False
            known = self.syscalls[cgroup] = set()
        if number in known:
            return False
        known.add(number)
        return True

    def _map(self, data: Dict[str, Any]) -> None:
        if "@dropped" in data:
            self.dropped = max(self.dropped, _int(data["@dropped"]))
        table = data.get("@sc")
        if not isinstance(table, dict):
            return
        self.dumped = True
        for key, value in table.items():
            parts = str(key).split(",")
            if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
                self.bad_lines += 1
                continue
            cgroup, number = int(parts[0]), int(parts[1])
            if self._add(cgroup, number) and self.on_new_pair is not None:
                self.on_new_pair(cgroup, number, 0)  # pid 0: not known (the pair's line was lost)
            if self.keep:
                per = self.counts.setdefault(cgroup, {})
                per[number] = per.get(number, 0) + _int(value)

    def of(self, cgroup: int) -> Set[int]:
        """The syscall numbers seen in cgroup ``cgroup``."""
        return set(self.syscalls.get(cgroup, ()))

    def events(self, cgroup: int) -> int:
        """Syscalls counted in ``cgroup`` (from the final dump)."""
        return sum(self.counts.get(cgroup, {}).values())


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
