# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON enricher: one JSON line per process a container starts (the SPOD's ``enableJsonEnricher``).

Exec events (:mod:`execlog`, from the audit records the kernel writes under the rule of :mod:`auditrule`) are
attributed as the log enricher attributes its records: pid -> ``/proc/<pid>/cgroup`` -> container ID (the
:class:`~.cgroup.CgroupCache` the fork watcher fills the moment a process is forked) -> namespace, pod and container
(the pods of the node, :class:`~.cluster.recorder.PodIndex`).  Each line carries upstream's field names::

    {"version": "spo/v1_alpha", "auditID": "<uuid>", "timestamp": "2026-12-07T15:20:20.429Z",
     "node": {"name": "<node>"}, "resource": {"namespace": "...", "pod": "...", "container": "..."},
     "pid": 4242, "ppid": 4241, "uid": 0, "gid": 0, "executable": "/bin/cat", "cmdLine": "cat /etc/hostname",
     "args": ["cat", "/etc/hostname"], "syscalls": ["execve"]}

(``argsDropped`` when arguments were cut: at most 64 of them and 4096 bytes in all).  The SPOD's
``jsonEnricherFilters`` (:mod:`jsonfilter`) decide which lines are written.  With an ``interval`` (the SPOD's
``auditLogIntervalSeconds``, :mod:`jsonbatch`) a process's execs of one command are grouped into one line, written
when the interval ends (filters apply to the grouped line, as upstream's do); without one, each line is written
at once.  Processes outside containers are not
logged (counted).  A container whose pod is not known yet (the pod's status names its container ID a moment after
the container starts) is retried for ``defer`` seconds, then its lines are dropped and counted.

Metrics (prometheus_client): ``security_profiles_operator_json_enricher_lines_logged_total``,
``security_profiles_operator_json_enricher_lines_dropped_total{reason="filtered"|"unknown_pod"|"overflow"|"write_error"}``,
``security_profiles_operator_json_enricher_execs_outside_containers_total`` and
``security_profiles_operator_json_enricher_lines_written_early_total`` (lines written before their interval ended
because too many were held).
"""
from __future__ import annotations

import datetime
import json
import time
import uuid
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import jsonfilter
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.jsonbatch import Batcher
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.execlog import ExecEvent, ExecParser

VERSION = "spo/v1_alpha"
MAX_WAITING = 10000
PREFIX = "security_profiles_operator_json_enricher_"


def iso_time(stamp: str) -> str:
    """An audit time stamp (``1796656820.429``) as RFC 3339 UTC with milliseconds."""
    moment = datetime.datetime.fromtimestamp(float(stamp), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def line(event: ExecEvent, node: str, names: Tuple[str, str, str], new_id: Callable[[], str]) -> Dict[str, Any]:
    """The JSON line (as a dict) of one exec of the container ``names`` (namespace, pod, container)."""
    args = event.argv()
    out: Dict[str, Any] = {
        "version": VERSION, "auditID": new_id(), "timestamp": iso_time(event.stamp), "node": {"name": node},
        "resource": {"namespace": names[0], "pod": names[1], "container": names[2]},
        "pid": event.pid, "ppid": event.ppid, "uid": event.uid, "gid": event.gid,
        "executable": event.exe or "", "cmdLine": " ".join(args), "args": args, "syscalls": [event.syscall],
    }
    if event.args_dropped:
        out["argsDropped"] = event.args_dropped
    return out


class JsonEnricher(object):
    """Exec events -> attributed, filtered JSON lines written by ``write``; counts for the metrics."""

    def __init__(self, node: str, lookup: Callable[[int], Optional[str]],
                 resolve: Callable[[str], Optional[Tuple[str, str, str]]], write: Callable[[str], None],
                 filters: Sequence[jsonfilter.Filter] = (), defer: float = 10.0, linger: float = 1.0,
                 new_id: Callable[[], str] = lambda: str(uuid.uuid4()), interval: float = 0.0) -> None:
        self.node = node
        self.lookup = lookup
        self.resolve = resolve
        self.write = write
        self.filters = list(filters)
        self.defer = defer
        self.new_id = new_id
        self.parser = ExecParser(linger)
        self.batch: Optional[Batcher] = Batcher(interval) if interval > 0 else None
        self.waiting: List[Tuple[float, str, ExecEvent]] = []  # (first try, container ID, event)
        self.logged = 0
        self.outside = 0
        self.dropped: Dict[str, int] = {"filtered": 0, "unknown_pod": 0, "overflow": 0, "write_error": 0}

    def feed(self, buf: bytes) -> None:
        """Audit lines (auditd's log or the kernel log) read since the last call."""
        self._take(self.parser.feed(buf))

    def tick(self, now: Optional[float] = None) -> None:
        """Complete events whose last record is old, and retry the ones waiting for their pod."""
        now = time.monotonic() if now is None else now
        self._take(self.parser.expire(now), now)
        self._retry(now)
        if self.batch is not None:
            for entry in self.batch.due(now):
                self._write(entry)

    def flush(self) -> None:
        """Write every line still held for its interval (at exit)."""
        if self.batch is not None:
            for entry in self.batch.drain():
                self._write(entry)

    def _retry(self, now: float) -> None:
        if self.waiting:
            waiting, self.waiting = self.waiting, []
            for first, cid, event in waiting:
                names = self.resolve(cid)
                if names is not None:
                    self._emit(event, names, now)
                elif now - first > self.defer:
                    self.dropped["unknown_pod"] += 1
                else:
                    self.waiting.append((first, cid, event))

    def _take(self, events: List[ExecEvent], now: Optional[float] = None) -> None:
        now = time.monotonic() if now is None else now
        self.dropped["overflow"] += self.parser.overflow
        self.parser.overflow = 0
        for event in events:
            cid = self.lookup(event.pid)
            if not cid:
                self.outside += 1
                continue
            names = self.resolve(cid)
            if names is not None:
                self._emit(event, names, now)
            elif len(self.waiting) < MAX_WAITING:
                self.waiting.append((now, cid, event))
            else:
                self.dropped["overflow"] += 1

    def _emit(self, event: ExecEvent, names: Tuple[str, str, str], now: float) -> None:
        entry = line(event, self.node, names, self.new_id)
        if self.batch is None:
            self._write(entry)
            return
        for early in self.batch.add(entry, now):
            self._write(early)

    def _write(self, entry: Dict[str, Any]) -> None:
        if jsonfilter.level(entry, self.filters) == jsonfilter.NONE:
            self.dropped["filtered"] += 1
            return
        try:
            self.write(json.dumps(entry, sort_keys=True, ensure_ascii=False))
        except OSError:  # the file's disk is full, or it went away: the line is lost, counted, the enricher goes on
            self.dropped["write_error"] += 1
            return
        self.logged += 1

    def collect(self) -> Iterator[Any]:
        """The counts as prometheus_client metric families."""
        from prometheus_client.core import CounterMetricFamily
        yield CounterMetricFamily(PREFIX + "lines_logged", "Exec lines the JSON enricher wrote.", value=self.logged)
        dropped = CounterMetricFamily(PREFIX + "lines_dropped", "Exec lines the JSON enricher did not write, by reason.",
                                      labels=("reason",))
        for reason, value in sorted(self.dropped.items()):
            dropped.add_metric([reason], value)
        yield dropped
        yield CounterMetricFamily(PREFIX + "execs_outside_containers", "Execs of processes in no container (not logged).",
                                  value=self.outside)
        yield CounterMetricFamily(PREFIX + "lines_written_early", "Lines written before their interval ended (too many "
                                  "held).", value=self.batch.early if self.batch is not None else 0)
