# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON enricher's interval (the SPOD's ``auditLogIntervalSeconds``): a process's events grouped into one line.

Upstream holds each process's events for the interval from its first one and then writes one line for them, with
the syscalls seen in between grouped in ``syscalls``; a longer interval writes fewer lines. Here the events are a
process's execs: events of the same process (pid) running the same program with the same arguments within the
interval are one line (``syscalls`` lists each exec syscall once, in the order seen); a process that execs another
program starts a line of its own, so no command is hidden behind an earlier one. Each line keeps the first
event's time stamp and audit ID and is written when its interval ends (:meth:`Batcher.due`).

Memory is bounded: at most :data:`MAX_GROUPS` lines are held and about :data:`MAX_BYTES` of them; when a new
one would pass either bound, the oldest is written early (counted in ``early``), never dropped.
"""
from __future__ import annotations

import collections
from typing import Any, Dict, List, Tuple

MAX_GROUPS = 4096
MAX_BYTES = 16 * 1024 * 1024

GroupKey = Tuple[int, str, Tuple[str, ...]]


def _size(entry: Dict[str, Any]) -> int:
    """An estimate of what a held line costs (its strings, and a fixed part for the dict and numbers)."""
    return 1024 + sum(len(arg) + 64 for arg in entry.get("args", ())) + len(entry.get("executable", ""))


class Batcher(object):
    """Lines held for ``interval`` seconds from their first event, grouped by process and command."""

    def __init__(self, interval: float, max_groups: int = MAX_GROUPS, max_bytes: int = MAX_BYTES) -> None:
        self.interval = interval
        self.max_groups = max_groups
        self.max_bytes = max_bytes
        # key -> (deadline, entry, size); insertion order is deadline order (one interval for all)
        self.groups: "collections.OrderedDict[GroupKey, Tuple[float, Dict[str, Any], int]]" = collections.OrderedDict()
        self.held_bytes = 0
        self.early = 0

    def add(self, entry: Dict[str, Any], now: float) -> List[Dict[str, Any]]:
        """Hold ``entry`` (a JSON line as a dict); returns lines written early to make room."""
        key: GroupKey = (int(entry.get("pid", -1)), str(entry.get("executable", "")), tuple(entry.get("args", ())))
        held = self.groups.get(key)
        if held is not None:
            syscalls = held[1]["syscalls"]
            for name in entry.get("syscalls", ()):
                if name not in syscalls:
                    syscalls.append(name)
            return []
        size = _size(entry)
        out = []
        while self.groups and (len(self.groups) >= self.max_groups or self.held_bytes + size > self.max_bytes):
            out.append(self._pop())
            self.early += 1
        entry = dict(entry, syscalls=list(entry.get("syscalls", ())))
        self.groups[key] = (now + self.interval, entry, size)
        self.held_bytes += size
        return out

    def due(self, now: float) -> List[Dict[str, Any]]:
        """The lines whose interval has ended, oldest first."""
        out = []
        while self.groups and next(iter(self.groups.values()))[0] <= now:
            out.append(self._pop())
        return out

    def drain(self) -> List[Dict[str, Any]]:
        """Every line held (at exit)."""
        out = []
        while self.groups:
            out.append(self._pop())
        return out

    def _pop(self) -> Dict[str, Any]:
        _key, (_deadline, entry, size) = self.groups.popitem(last=False)
        self.held_bytes -= size
        return entry
