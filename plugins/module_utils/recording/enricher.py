# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Log enricher engine: tail the audit log, attribute SECCOMP records, keep per-target sets.

* :class:`Tailer` follows one log file from its end.  It survives rotation by rename (the old
  file is drained to its end before the new one is read from 0) and by copytruncate (the bytes
  between the last position and the truncation are read from the copy, ``<log>.1``, when its
  content matches), and saves ``{dev, inode, offset, fingerprint}`` so a restart resumes at the
  exact line (also when the file was rotated while it was down).  Only whole lines are consumed;
  a line longer than :data:`MAX_READ` (no audit record comes near it) is skipped to its end, counted
  in ``skipped`` and logged, and reading goes on with the next line.
* :class:`Enricher` feeds the lines to :class:`audit.Scanner` and attributes each unique record:
  to its audit session (``ses=``, exact for a local recording whose runc got a fresh session) and
  to its container (pid -> ``/proc/<pid>/cgroup`` -> container ID, cached at first sight).  A
  record with neither is dropped after one dict lookup.  Per target it keeps the syscall set and
  writes it as JSON (atomically) to ``<state_dir>/sessions/<ses>.json`` and
  ``<state_dir>/containers/<id>.json``: ``{"syscalls": [...], "architectures": [...],
  "executables": [...], "records": N, "markers": [...]}``; ``markers`` holds the nonces of the end
  markers of that session read so far (``spo-record-done session=N nonce=X``, a user audit message
  sent by the recorder, see :func:`audit.marker_text`; the last :data:`MAX_MARKERS`): once the
  recorder's own nonce is there, every record the kernel queued before it has been seen.  Anyone
  with CAP_AUDIT_WRITE can send a marker, but not one with the recorder's secret nonce, so a
  forged marker ends no recording (:func:`wait_session` waits for its own nonce); a marker for a
  session without records creates no file.  The sets are flushed before the position is saved,
  so a crash can only re-read lines (sets are unions: no change), never lose them.
* AVC records are attributed to containers the same way (``avcs`` in a container's set).
* Prometheus text metrics ``security_profiles_operator_seccomp_profile_audit_total``; the namespace, pod and
  container labels come from ``Enricher.resolve`` (container ID -> names; the cluster recorder sets it from the
  pods of its node), else the container label is the container ID.
* :class:`KernelLog` reads ``/dev/kmsg`` (where the kernel prints audit records when no auditd runs) with blocking
  reads in a thread of its own, so short bursts never overrun the kernel's ring buffer; a ``first_sight`` hook
  sees each record's pid at once (the cgroup of a short-lived process must be read before it exits).
"""
from __future__ import annotations

import errno
import json
import os
import re
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.host.cgroup import CgroupCache
from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import atomic_write, makedirs, read_bytes

FINGERPRINT = 64
MAX_READ = 1 << 20
ROTATED_MAX = 9
MAX_PENDING = 100000
MAX_MARKERS = 64  # nonces kept per session, and (x16) end markers kept for the cluster recorder
METRIC = "security_profiles_operator_seccomp_profile_audit_total"
METRIC_LABELS = ("node", "namespace", "pod", "container", "executable", "syscall")


class _Open(object):
    def __init__(self, path: str, handle: Any, offset: int, in_long_line: bool = False) -> None:
        self.path = path
        self.handle = handle
        self.offset = offset
        self.in_long_line = in_long_line  # the offset is inside a line too long to read: skip to its end
        st = os.fstat(handle.fileno())
        self.ident = (st.st_dev, st.st_ino)
        start = max(0, offset - FINGERPRINT)
        # the bytes just before the position, kept from what was read (the file may be truncated later)
        self.tail = os.pread(handle.fileno(), offset - start, start)

    def advance(self, data: bytes) -> None:
        self.offset += len(data)
        self.tail = (self.tail + data[-FINGERPRINT:])[-FINGERPRINT:]

    def fingerprint(self) -> str:
        return self.tail.hex()


def _fingerprint_matches(path: str, offset: int, fingerprint: str) -> bool:
    try:
        with open(path, "rb") as handle:
            start = max(0, offset - FINGERPRINT)
            if os.fstat(handle.fileno()).st_size < offset:
                return False
            return os.pread(handle.fileno(), offset - start, start).hex() == fingerprint
    except OSError:
        return False


class Tailer(object):
    """Whole-line reader of a growing, rotating log file with a resumable position."""

    def __init__(self, path: str, state_file: Optional[str] = None, from_start: bool = False) -> None:
        self.path = path
        self.state_file = state_file
        self.files: List[_Open] = []  # oldest first; the last one is the live file
        self.events: List[str] = []
        self.skipped = 0  # lines over MAX_READ skipped (the owner may take and reset it)
        self._resume(from_start)

    # -- position ------------------------------------------------------------------------------
    def _open(self, path: str, offset: int, in_long_line: bool = False) -> Optional[_Open]:
        try:
            handle = open(path, "rb")
        except OSError:
            return None
        return _Open(path, handle, offset, in_long_line)

    def _rotated(self) -> List[str]:
        return ["%s.%d" % (self.path, n) for n in range(ROTATED_MAX, 0, -1)]  # oldest first

    def _resume(self, from_start: bool) -> None:
        state = None
        if self.state_file:
            raw = read_bytes(self.state_file)
            if raw:
                try:
                    state = json.loads(raw.decode("utf-8"))
                except ValueError:
                    state = None
        if state:
            ident = (state["dev"], state["inode"])
            chain = self._rotated() + [self.path]
            for index, path in enumerate(chain):
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) != ident:
                    continue
                if _fingerprint_matches(path, state["offset"], state["fingerprint"]):
                    self.events.append("resumed %s at %d" % (path, state["offset"]))
                    self._queue(path, state["offset"], bool(state.get("in_long_line")))
                    for newer in chain[index + 1:]:
                        if os.path.exists(newer):
                            self._queue(newer, 0)
                    return
                break
            # copytruncate while stopped: the old content went to <log>.1
            copy = self.path + ".1"
            if _fingerprint_matches(copy, state["offset"], state["fingerprint"]):
                self.events.append("resumed copy %s at %d" % (copy, state["offset"]))
                self._queue(copy, state["offset"], bool(state.get("in_long_line")))
                self._queue(self.path, 0)
                return
            self.events.append("saved position not found; reading %s from its start" % self.path)
            self._queue(self.path, 0)
            return
        offset = 0
        if not from_start:
            try:
                offset = os.path.getsize(self.path)
            except OSError:
                offset = 0
        self._queue(self.path, offset)

    def _queue(self, path: str, offset: int, in_long_line: bool = False) -> None:
        opened = self._open(path, offset, in_long_line)
        if opened is not None:
            self.files.append(opened)

    def state(self) -> Optional[Dict[str, Any]]:
        if not self.files:
            return None
        current = self.files[0]
        state = {"dev": current.ident[0], "inode": current.ident[1], "offset": current.offset,
                 "fingerprint": current.fingerprint(), "path": current.path}
        if current.in_long_line:
            state["in_long_line"] = True
        return state

    def save(self) -> None:
        state = self.state()
        if self.state_file and state is not None:
            makedirs(os.path.dirname(self.state_file) or ".")
            atomic_write(self.state_file, json.dumps(state, sort_keys=True).encode("utf-8"))

    # -- reading -------------------------------------------------------------------------------
    def _drain(self, opened: _Open, out: List[bytes], budget: int) -> bool:
        """Append whole lines of ``opened`` to ``out`` up to ``budget`` bytes; True when none is left."""
        fd = opened.handle.fileno()
        while budget > 0:
            size = os.fstat(fd).st_size
            if size <= opened.offset:
                return True
            data = os.pread(fd, min(MAX_READ, size - opened.offset), opened.offset)
            if not data:
                return True
            if opened.in_long_line:
                end = data.find(b"\n") + 1
                opened.advance(data[:end] if end else data)
                if end:
                    opened.in_long_line = False
                continue  # skipped bytes are not kept: no budget spent
            cut = data.rfind(b"\n") + 1
            if not cut:
                if len(data) < MAX_READ:
                    return True  # the start of a line still being written
                self._skip_long_line(opened, data)
                continue
            opened.advance(data[:cut])
            out.append(data[:cut])
            budget -= cut
        return False

    def _skip_long_line(self, opened: _Open, data: bytes) -> None:
        """``data`` (MAX_READ bytes without a newline) starts a line too long to read: skip to its end."""
        self.skipped += 1
        self.events.append("skipped a line of more than %d bytes at offset %d of %s" % (MAX_READ, opened.offset,
                                                                                        opened.path))
        opened.advance(data)
        opened.in_long_line = True

    def take_skipped(self) -> int:
        """The lines skipped since the last call."""
        skipped, self.skipped = self.skipped, 0
        return skipped

    def poll(self, budget: int = 2 * MAX_READ) -> List[bytes]:
        """Buffers of new whole lines (about ``budget`` bytes at most), oldest first."""
        out: List[bytes] = []
        while True:
            if not self.files:
                self._queue(self.path, 0)
                if not self.files:
                    return out
            head = self.files[0]
            done = self._drain(head, out, budget - sum(len(b) for b in out))
            if not done:
                return out
            if len(self.files) > 1:
                fd = head.handle.fileno()
                if os.fstat(fd).st_size > head.offset:
                    # a rotated file ending inside a line: that last line is all there will be
                    rest = os.pread(fd, os.fstat(fd).st_size - head.offset, head.offset)
                    head.advance(rest)
                    if not head.in_long_line:
                        out.append(rest + b"\n")
                head.handle.close()
                self.files.pop(0)
                continue
            self._check_rotation(head)
            if len(self.files) == 1 and self.files[0] is head:
                return out

    def read_all(self) -> bytes:
        """All new whole lines as one buffer."""
        return b"".join(self.poll())

    def _check_rotation(self, head: _Open) -> None:
        try:
            st = os.stat(self.path)
        except OSError:
            return  # between rename and re-creation: keep the old file
        if (st.st_dev, st.st_ino) != head.ident:
            self.events.append("rotated: %s renamed, following the new file" % self.path)
            self._queue(self.path, 0)
            return
        if st.st_size < head.offset:
            copy = self.path + ".1"
            if _fingerprint_matches(copy, head.offset, head.fingerprint()):
                self.events.append("copytruncate: reading the rest from %s" % copy)
                opened = self._open(copy, head.offset)
                if opened is not None:
                    head.handle.close()
                    self.files[0] = opened
                    self._queue(self.path, 0)
                    return
            self.events.append("truncated: reading %s from its start" % self.path)
            head.offset = 0
            head.tail = b""
            head.in_long_line = False


AvcKey = Tuple[str, str, str, Tuple[str, ...]]  # scontext, tcontext, tclass, permissions


class _Target(object):
    __slots__ = ("syscalls", "arches", "exes", "records", "markers", "dirty", "avcs")

    def __init__(self) -> None:
        self.syscalls: set = set()
        self.arches: set = set()
        self.exes: set = set()
        self.avcs: set = set()
        self.records = 0
        self.markers: List[str] = []  # nonces of the end markers read, oldest first
        self.dirty = True

    def add_marker(self, nonce: str) -> None:
        if nonce not in self.markers:
            self.markers = (self.markers + [nonce])[-MAX_MARKERS:]
            self.dirty = True

    def as_dict(self) -> Dict[str, Any]:
        out = {"syscalls": sorted(self.syscalls), "architectures": sorted(self.arches),
               "executables": sorted(self.exes), "records": self.records, "markers": list(self.markers)}
        if self.avcs:
            out["avcs"] = [{"scontext": s, "tcontext": t, "tclass": c, "permissions": list(p)}
                           for s, t, c, p in sorted(self.avcs)]
        return out

    @classmethod
    def load(cls, data: Dict[str, Any]) -> "_Target":
        target = cls()
        for field in ("syscalls", "architectures", "executables"):
            value = data.get(field, [])
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ValueError("%s: not a list of strings" % field)
        target.syscalls = set(data.get("syscalls", []))
        target.arches = set(data.get("architectures", []))
        target.exes = set(data.get("executables", []))
        target.avcs = {(a["scontext"], a["tcontext"], a["tclass"], tuple(a["permissions"]))
                       for a in data.get("avcs", []) if isinstance(a, dict)}
        target.records = int(data.get("records", 0))
        target.markers = [str(nonce) for nonce in data.get("markers", []) if isinstance(nonce, str)][-MAX_MARKERS:]
        target.dirty = False
        return target


def target_path(state_dir: str, kind: str, key: str) -> str:
    return os.path.join(state_dir, kind, "%s.json" % key)


class Enricher(object):
    """Attributes audit records to sessions / containers; keeps sets and metrics."""

    def __init__(self, state_dir: str, node: str = "", proc: str = "/proc", defer_unknown: float = 0.0,
                 sessions: bool = True) -> None:
        """``defer_unknown``: seconds a record of a process not (yet) attributed is kept and retried before it is
        dropped (the cluster's fork watcher may enter the process a moment later).  ``sessions`` False: no sets per
        audit session (the cluster recorder records containers only; its end markers are ``markers_seen``)."""
        self.state_dir = state_dir
        self.sessions = sessions
        self.problems: List[str] = []  # state files that were no sets (reported by the daemon, then cleared)
        self.defer_unknown = defer_unknown
        self.pending: List[Tuple[float, Dict[str, Any]]] = []
        self.node = node
        self.cgroups = CgroupCache(proc)
        self.targets: Dict[Tuple[str, str], _Target] = {}
        self.metrics: Dict[Tuple[str, str, str], int] = {}  # (container ID, exe, syscall) -> records
        # (session, nonce) of the end markers read (the last 16 * MAX_MARKERS); the owner takes its own out
        self.markers_seen: List[Tuple[int, str]] = []
        self.resolve: Callable[[str], Optional[Tuple[str, str, str]]] = lambda cid: None
        self.read = self.used = self.skipped = self.dropped = self.avcs_dropped = 0
        self.lock = threading.RLock()  # process/flush/forget vs. metrics and readers in other threads

    def _target(self, kind: str, key: str) -> _Target:
        found = self.targets.get((kind, key))
        if found is None:
            found = self._load(kind, key) or _Target()
            self.targets[(kind, key)] = found
        return found

    def _load(self, kind: str, key: str) -> Optional[_Target]:
        """The set an earlier run wrote, or None; a file that is no set is reported (``problems``) and ignored
        (it is overwritten by the next flush of that key)."""
        path = target_path(self.state_dir, kind, key)
        try:
            raw = read_bytes(path)
        except OSError as exc:
            self._problem("%s: %s; ignored" % (path, exc))
            return None
        if not raw:
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return _Target.load(data)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            self._problem("%s: not a set (%s); ignored" % (path, exc))
            return None

    def _problem(self, text: str) -> None:
        self.problems = (self.problems + [text])[-MAX_MARKERS:]

    def _known(self, kind: str, key: str) -> bool:
        return (kind, key) in self.targets or os.path.exists(target_path(self.state_dir, kind, key))

    def target(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        """The set kept for ``kind``/``key`` (``containers``/<id>, ``sessions``/<n>) as written, or None."""
        with self.lock:
            found = self.targets.get((kind, key)) or self._load(kind, key)
            return None if found is None else found.as_dict()

    def forget(self, kind: str, key: str) -> None:
        """Drop a set (in memory and on disk): its owner is done with it."""
        with self.lock:
            self.targets.pop((kind, key), None)
            try:
                os.unlink(target_path(self.state_dir, kind, key))
            except OSError:
                pass

    def keys(self, kind: str) -> List[str]:
        """Keys of ``kind`` kept in memory or on disk."""
        with self.lock:
            found = {key for k, key in self.targets if k == kind}
            try:
                found.update(name[:-5] for name in os.listdir(os.path.join(self.state_dir, kind))
                             if name.endswith(".json"))
            except OSError:
                pass
            return sorted(found)

    def count_skipped(self, lines: int) -> None:
        """Lines the reader skipped before the scanner saw them (e.g. over-long lines of the tailer)."""
        with self.lock:
            self.skipped += lines

    def process(self, buf: bytes) -> None:
        scan = audit.Scanner()
        scan.feed(buf)
        with self.lock:
            self._attribute(scan)

    def retry(self) -> None:
        """Attribute deferred records whose process is known now; drop the ones older than ``defer_unknown``."""
        if not self.pending:
            return
        with self.lock:
            pending, self.pending = self.pending, []
            now = time.monotonic()
            for stamp, rec in pending:
                cid = self.cgroups.lookup(rec["pid"])
                if cid:
                    self._add_record(rec, [("containers", cid)], cid)
                elif now - stamp > self.defer_unknown:
                    self.dropped += rec["count"]
                else:
                    self.pending.append((stamp, rec))

    def _add_record(self, rec: Dict[str, Any], keys: List[Tuple[str, str]], cid: Optional[str]) -> None:
        for kind, key in keys:
            target = self._target(kind, key)
            target.syscalls.add(rec["syscall"])
            target.arches.add(rec["arch"])
            if rec["exe"]:
                target.exes.add(rec["exe"])
            target.records += rec["count"]
            target.dirty = True
        label = (cid or "", rec["exe"] or "", rec["syscall"])
        self.metrics[label] = self.metrics.get(label, 0) + rec["count"]

    def _attribute(self, scan: audit.Scanner) -> None:
        for rec in scan.records():
            keys = []
            if rec["ses"] is not None and self.sessions:
                keys.append(("sessions", str(rec["ses"])))
            cid = self.cgroups.lookup(rec["pid"])
            if cid:
                keys.append(("containers", cid))
            if not keys:
                if self.defer_unknown > 0 and len(self.pending) < MAX_PENDING:
                    self.pending.append((time.monotonic(), rec))
                else:
                    self.dropped += rec["count"]
                continue
            self._add_record(rec, keys, cid)
        for avc in scan.avcs:
            cid = self.cgroups.lookup(avc["pid"]) if avc.get("pid") is not None else None
            if not cid:
                self.avcs_dropped += 1
                continue
            target = self._target("containers", cid)
            target.avcs.add((avc["scontext"], avc["tcontext"], avc["tclass"], tuple(avc["permissions"])))
            target.records += 1
            target.dirty = True
        for session, nonce in scan.markers:
            if self._known("sessions", str(session)):
                self._target("sessions", str(session)).add_marker(nonce)
        if scan.markers:
            self.markers_seen = (self.markers_seen + scan.markers)[-16 * MAX_MARKERS:]
        self.read += scan.read
        self.used += scan.used
        self.skipped += scan.skipped

    def flush(self) -> int:
        """Write the changed sets (atomically); return how many were written."""
        written = 0
        with self.lock:
            for (kind, key), target in self.targets.items():
                if target.dirty:
                    path = target_path(self.state_dir, kind, key)
                    makedirs(os.path.dirname(path))
                    atomic_write(path, json.dumps(target.as_dict(), sort_keys=True).encode("utf-8"))
                    target.dirty = False
                    written += 1
        return written

    def collect(self) -> Iterator[Any]:
        """The metrics as prometheus_client families (the enricher is the collector: the counts live here)."""
        from prometheus_client.core import CounterMetricFamily
        records = CounterMetricFamily(METRIC, "Seccomp audit records seen per container, executable and syscall.",
                                      labels=METRIC_LABELS)
        with self.lock:
            counts = sorted(self.metrics.items())
        rows: Dict[Tuple[str, ...], int] = {}
        for (cid, exe, syscall), value in counts:
            names = self.resolve(cid) if cid else None
            labels = (self.node,) + (names or ("", "", cid)) + (exe, syscall)
            rows[labels] = rows.get(labels, 0) + value
        for labels, value in sorted(rows.items()):
            records.add_metric(list(labels), value)
        yield records
        for name, value in (("read", self.read), ("used", self.used), ("skipped", self.skipped),
                            ("dropped", self.dropped)):
            yield CounterMetricFamily("security_profiles_operator_enricher_lines_%s_total" % name,
                                      "Audit log lines %s." % name, value=value)

    def metrics_text(self) -> str:
        from prometheus_client import generate_latest
        return generate_latest(self).decode("utf-8")  # type: ignore[arg-type]


def wait_session(state_dir: str, session: int, nonce: str, timeout: float = 30.0,
                 interval: float = 0.1) -> Dict[str, Any]:
    """Wait until the enricher read the end marker of ``session`` with the caller's ``nonce``; return the
    session's set (or raise TimeoutError)."""
    path = target_path(state_dir, "sessions", str(session))
    deadline = time.monotonic() + timeout
    while True:
        raw = read_bytes(path)
        if raw:
            try:
                data = json.loads(raw.decode("utf-8"))
            except ValueError:
                data = {}
            if nonce in data.get("markers", []):
                return data
        if time.monotonic() > deadline:
            raise TimeoutError("the log enricher did not read the end marker of audit session %d within %ss (is spo-enricher "
                               "running with --state-dir %s?)" % (session, timeout, state_dir))
        time.sleep(interval)


_PID = re.compile(rb" pid=(\d+) ")


class KernelLog(object):
    """``/dev/kmsg`` read record by record (blocking) in a thread; lines collected for :meth:`take`.

    Each record's text (after the ``prio,seq,ts,flags;`` prefix) becomes one line.  ``first_sight(pid)`` is
    called in the reading thread for every audit record's ``pid=`` at once.  Records the kernel overwrote
    before they were read (``EPIPE``) are counted in ``lost``.  ``inject`` tests may write lines to the
    kernel log the same way the kernel does (``/dev/kmsg`` is writable by root).
    """

    def __init__(self, path: str = "/dev/kmsg", first_sight: Optional[Callable[[int], Any]] = None,
                 max_buffer: int = 64 << 20, resume: Optional[Mapping[str, Any]] = None,
                 boot_id: Optional[str] = None) -> None:
        """``resume``: a :meth:`position` an earlier reader saved; when it is of this boot (``boot_id``, default the
        kernel's) reading starts after that record, with the records the kernel logged meanwhile (those its ring
        still holds: the others are counted in ``gap``); otherwise reading starts with the next record."""
        self.path = path
        self.first_sight = first_sight
        self.max_buffer = max_buffer
        self.boot_id = boot_id if boot_id is not None else current_boot_id()
        self.fd = os.open(path, os.O_RDONLY)
        self.skip_to: Optional[int] = None
        seq = (resume or {}).get("seq")
        if (resume or {}).get("boot_id") == self.boot_id and self.boot_id and isinstance(seq, int) and seq >= 0 \
                and not isinstance(seq, bool):
            os.lseek(self.fd, 0, os.SEEK_SET)  # from the oldest record the kernel's ring holds
            self.skip_to = seq
        else:
            os.lseek(self.fd, 0, os.SEEK_END)  # only what is written from now on
        self.resumed = self.skip_to is not None
        self.resumed_after = self.skip_to  # (the reading thread clears skip_to once past it)
        self.seq_read: Optional[int] = self.skip_to  # the last record put into ``lines``
        self.seq_taken: Optional[int] = self.skip_to  # the last record handed out by take()
        self.gap = 0  # records logged while no reader ran and overwritten before this one read them
        self.lines: List[bytes] = []
        self.size = 0
        self.lost = 0
        self.overflow = 0
        self.records = 0
        self.error: Optional[str] = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="kmsg", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seen = self.first_sight
        while True:
            try:
                record = os.read(self.fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EPIPE:
                    self.lost += 1
                    continue
                if exc.errno == errno.EINTR:
                    continue
                self.error = "%s: %s" % (self.path, exc)
                with self.cond:
                    self.cond.notify_all()
                return
            if not record:
                continue
            head, dummy, text = record.partition(b";")
            seq = _kmsg_seq(head)
            if self.skip_to is not None and seq is not None:
                if seq <= self.skip_to:
                    continue  # read and handed out before the restart
                self.gap = max(0, seq - self.skip_to - 1)
                self.skip_to = None
            line = text.split(b"\n", 1)[0] + b"\n"
            if seen is not None and b"audit" in line:
                match = _PID.search(line)
                if match:
                    seen(int(match.group(1)))
            with self.cond:
                self.records += 1
                if seq is not None:
                    self.seq_read = seq
                if self.size > self.max_buffer:
                    self.overflow += 1
                    continue
                self.lines.append(line)
                self.size += len(line)
                self.cond.notify_all()

    def take(self, timeout: float = 0.2) -> bytes:
        """The lines read since the last call (waits up to ``timeout`` for the first one)."""
        with self.cond:
            if not self.lines and self.error is None:
                self.cond.wait(timeout)
            data = b"".join(self.lines)
            self.lines = []
            self.size = 0
            self.seq_taken = self.seq_read
        return data

    def position(self) -> Optional[Dict[str, Any]]:
        """Where a restarted reader goes on (save it once what :meth:`take` returned is processed and flushed)."""
        with self.cond:
            if self.seq_taken is None or not self.boot_id:
                return None
            return {"boot_id": self.boot_id, "seq": self.seq_taken}


def current_boot_id(path: str = "/proc/sys/kernel/random/boot_id") -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _kmsg_seq(head: bytes) -> Optional[int]:
    """The sequence number of a ``/dev/kmsg`` record from its prefix ``prio,seq,ts,flags``."""
    fields = head.split(b",")
    if len(fields) < 2 or not fields[1].isdigit():
        return None
    return int(fields[1])


def load_position(path: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """(a saved reader position, or None; a problem to report, or None): a bad file is ignored, never fatal."""
    try:
        raw = read_bytes(path)
        if not raw:
            return None, None
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("boot_id"), str) or \
                not isinstance(data.get("seq"), int) or isinstance(data.get("seq"), bool):
            raise ValueError("not {boot_id, seq}")
        return {"boot_id": data["boot_id"], "seq": data["seq"]}, None
    except (OSError, ValueError) as exc:
        return None, "%s: %s; ignored (reading the kernel log from its end)" % (path, exc)
