# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit records -> seccomp / AVC events and per-process syscall sets.

Understood inputs (one record per line):

* auditd's log, raw or enriched format (enriched fields follow a 0x1d byte)::

    type=SECCOMP msg=audit(1795468297.047:1166): auid=0 uid=0 gid=0 ses=3 pid=30948 comm="sh" \
exe="/bin/busybox" sig=0 arch=c000003e syscall=3 compat=0 ip=0x40828e code=0x7ffc0000

* the kernel log (dmesg, /dev/kmsg, syslog, the journal) when no auditd runs: the same fields after
  ``audit: type=1326 audit(TS:SERIAL):`` with any prefix before ``audit:``;
* AVC records (``type=AVC`` / ``audit: type=1400``): ``avc:  denied  { perms } for ... scontext=
  tcontext= tclass= permissive=``.

Two doors over one grammar: :class:`Scanner` works on large byte buffers (a compiled bytes regex,
raw matches deduplicated with a Counter *before* anything is decoded, names resolved only for the
unique ones) and is what every caller uses for volume; :func:`parse_line` is the exact per-line
parse (every field of one record) for the few records where details matter (AVCs, tests, debugging).

Damaged input is never fatal: garbage, truncated and non-UTF-8 lines are skipped and counted.
Syscall numbers become names through libseccomp for the record's architecture (``arch=c000003e``
is the AUDIT_ARCH token libseccomp uses for x86_64).
"""
from __future__ import annotations

import multiprocessing
import os
import re
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import libseccomp

UNSET_ID = 4294967295  # (u32)-1: auid / ses not set
MARKER = b"spo-record-done"  # text of the `auditctl -m` record that closes a recording

# ---------------------------------------------------------------------------------------------
# The grammar (bytes).  A value of comm= / exe= is "quoted", HEX-encoded (the kernel hex-encodes
# strings with spaces, quotes or control bytes) or (null).
_VALUE = rb'(?:"[^"\n\x1d]*"|[0-9A-Fa-f]+|\(null\))'
_STAMP = rb"audit\((\d+\.\d+):(\d+)\): "


def _seccomp_body(capture_all: bool) -> bytes:
    def grp(pattern: bytes, keep: bool) -> bytes:
        return (b"(" if keep else b"(?:") + pattern + b")"
    return (rb"(?:auid=\d+ )?uid=" + grp(rb"\d+", capture_all) + rb" gid=\d+ ses=(\d+) (?:subj=\S+ )?"
            rb"pid=(\d+) comm=(" + _VALUE + rb") exe=(" + _VALUE + rb") (?:sig=\d+ )?arch=([0-9a-f]+) syscall=(\d+)"
            rb" compat=\d+ ip=0x[0-9a-f]+ code=" + grp(rb"0x[0-9a-f]+", capture_all) + rb"(?=[\x1d\r\n ]|\Z)")


# Bulk pattern: a literal anchor, then the key stretch as ONE group of loose tokens (no timestamp
# or serial, so equal records deduplicate as raw bytes); the record must go on to ``compat=``
# (a record cut before that is truncated).  Keys are checked exactly by _KEY_STRICT, once each.
def _keys_pattern(token: bytes) -> "re.Pattern[bytes]":
    return re.compile(rb" ses=(" + token + rb" (?:subj=" + token + rb" )?pid=" + token + rb" comm=" + token +
                      rb" exe=" + token + rb" sig=" + token + rb" arch=" + token + rb" syscall=" + token + rb") compat=")


# ``[^ ]+`` is the regex engine's fastest repeat (a byte loop); it could run over the end of a
# damaged line, so a buffer where a key holds a newline is scanned again with ``[^ \n]+``.
_KEYS = _keys_pattern(rb"[^ ]+")
_KEYS_SAFE = _keys_pattern(rb"[^ \n]+")
_KEY_STRICT = re.compile(rb"(\d+) (?:subj=\S+ )?pid=(\d+) comm=(" + _VALUE + rb") exe=(" + _VALUE +
                         rb") sig=\d+ arch=([0-9a-f]+) syscall=(\d+)")
# Exact pattern: groups ts, serial, uid, ses, pid, comm, exe, arch, syscall, code.
_FULL = re.compile(rb"(?:type=SECCOMP msg=|audit: type=1326 )" + _STAMP + _seccomp_body(True))
_AVC = re.compile(rb"(?:type=AVC msg=|audit: type=1400 )" + _STAMP +
                  rb"avc:\s+(denied|granted)\s+\{ ([^}\n]*?) \} for\s+(.*?)(?=[\x1d\r\n]|\Z)")
_AVC_FIELD = re.compile(rb"(?:^| )(pid|comm|scontext|tcontext|tclass|permissive)=(\"[^\"\n]*\"|\S+)")
_AVC_LINE = re.compile(rb"[^\n]*avc:[^\n]*")
_MARKER_RE = re.compile(MARKER + rb" session=(\d+)")

_SECCOMP_CLAIMS = (b"type=SECCOMP msg=audit(", b"type=1326 audit(")
_AVC_CLAIMS = (b"type=AVC msg=audit(", b"type=1400 audit(")
_RECORD_CLAIMS = (b"msg=audit(", b"audit: type=")


def decode_value(raw: bytes) -> Optional[str]:
    """A comm=/exe= value as text: quoted, hex-encoded or (null). None if damaged."""
    if raw == b"(null)":
        return None
    if raw[:1] == b'"':
        data = raw[1:-1]
    else:
        try:
            data = bytes.fromhex(raw.decode("ascii"))
        except ValueError:
            return None
    return data.decode("utf-8", "replace")


def arch_name(token: int) -> str:
    """Arch token -> OCI name (SCMP_ARCH_X86_64), or the token in hex when unknown."""
    return libseccomp.token_to_oci_arch(token) or "0x%x" % token


def _session(raw: bytes) -> Optional[int]:
    value = int(raw)
    return None if value == UNSET_ID else value


# ---------------------------------------------------------------------------------------------
# Exact per-line parse


def parse_line(line: Any) -> Optional[Dict[str, Any]]:
    """Every field of one SECCOMP or AVC record (bytes or str); None if the line is neither/damaged."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = _FULL.search(line)
    if match:
        ts, serial, uid, ses, pid, comm, exe, arch, nr, code = match.groups()
        token, number = int(arch, 16), int(nr)
        return {"type": "SECCOMP", "timestamp": ts.decode(), "serial": int(serial), "uid": int(uid),
                "ses": _session(ses), "pid": int(pid), "comm": decode_value(comm), "exe": decode_value(exe),
                "arch": arch_name(token), "arch_token": token, "syscall_nr": number,
                "syscall": libseccomp.syscall_name(token, number), "code": code.decode()}
    match = _AVC.search(line)
    if match:
        return _avc_event(match)
    return None


def _avc_event(match: "re.Match[bytes]") -> Optional[Dict[str, Any]]:
    ts, serial, result, perms, rest = match.groups()
    fields: Dict[str, bytes] = {}
    for key, value in _AVC_FIELD.findall(rest):
        fields.setdefault(key.decode(), value)
    if not all(k in fields for k in ("scontext", "tcontext", "tclass")):
        return None
    permissive = fields.get("permissive")
    comm = fields.get("comm")
    return {"type": "AVC", "timestamp": ts.decode(), "serial": int(serial), "result": result.decode(),
            "permissions": sorted(set(perms.decode().split())),
            "pid": int(fields["pid"]) if fields.get("pid", b"").isdigit() else None,
            "comm": decode_value(comm) if comm else None,
            "scontext": fields["scontext"].decode(), "tcontext": fields["tcontext"].decode(),
            "tclass": fields["tclass"].decode(),
            "permissive": None if permissive is None else permissive == b"1"}


def parse_lines(lines: Iterable[Any]) -> Tuple[List[Dict[str, Any]], int]:
    """Exact parse of many lines: (events, number of SECCOMP/AVC-looking lines skipped as damaged)."""
    events: List[Dict[str, Any]] = []
    skipped = 0
    for line in lines:
        event = parse_line(line)
        if event is not None:
            events.append(event)
        else:
            raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
            if any(claim in raw for claim in _SECCOMP_CLAIMS + _AVC_CLAIMS):
                skipped += 1
    return events, skipped


# ---------------------------------------------------------------------------------------------
# Bulk scan


def _drop_non_utf8(buf: bytes) -> Tuple[bytes, int]:
    """``buf`` without its non-UTF-8 lines (fast when the buffer is ASCII, as audit logs are)."""
    if buf.isascii():
        return buf, 0
    try:
        buf.decode("utf-8")
        return buf, 0
    except UnicodeDecodeError:
        pass
    kept: List[bytes] = []
    bad = 0
    for line in buf.split(b"\n"):
        try:
            line.decode("utf-8")
            kept.append(line)
        except UnicodeDecodeError:
            bad += 1
    return b"\n".join(kept), bad


def _chunks(handle: Any, start: int, end: int, chunk_size: int) -> Iterable[bytes]:
    """Buffers of whole lines from ``start`` to ``end`` (a last line without newline included)."""
    handle.seek(start)
    rest = b""
    left = end - start
    while left > 0:
        block = handle.read(min(chunk_size, left))
        if not block:
            break
        left -= len(block)
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if cut:
            yield block[:cut]
    if rest:
        yield rest


class Scanner(object):
    """Accumulates SECCOMP records (deduplicated raw), AVC events and counts over buffers.

    Feed it buffers of whole lines (a final line without newline counts as a line).
    ``read`` = lines seen; ``used`` = SECCOMP/AVC records parsed; ``other`` = well-formed
    audit records of other types (ignored); ``skipped`` = the rest: garbage, truncated or
    non-UTF-8 lines, kernel-log lines that are no audit record, syscalls libseccomp cannot name.

    The hot loop is one ``findall`` of a loose pattern anchored on `` ses=`` (the same for auditd
    and kernel-log records) whose single group is the record's key stretch ``ses pid comm exe sig
    arch syscall``; the keys are counted with a Counter, and only the unique ones are checked
    against the exact grammar and decoded (:func:`resolve`).  The other passes are
    ``bytes.count``; AVC lines are searched only when a buffer holds records other than SECCOMP.
    """

    def __init__(self) -> None:
        self.raw: Counter = Counter()
        self.avcs: List[Dict[str, Any]] = []
        self.markers: List[int] = []
        self.read = 0
        self.used = 0
        self.other = 0
        self.skipped = 0

    def feed(self, buf: bytes) -> Counter:
        """Scan ``buf``; return this buffer's raw key Counter (also merged into ``self.raw``)."""
        if not buf:
            return Counter()
        lines = buf.count(b"\n") + (0 if buf.endswith(b"\n") else 1)
        buf, bad = _drop_non_utf8(buf)
        found = Counter(_KEYS.findall(buf))
        if any(b"\n" in key for key in found):
            found = Counter(_KEYS_SAFE.findall(buf))
        seccomp = sum(found.values())
        avcs = 0
        # A buffer of nothing but valid SECCOMP records (the common case while recording) needs no
        # further pass; otherwise count records of other types, damaged claims, AVCs, markers.
        records = seccomp
        if lines - bad != seccomp:
            records = buf.count(b"msg=audit(") + buf.count(b"audit: type=")
        if records > seccomp or lines - bad != seccomp:
            claims = sum(buf.count(c) for c in _SECCOMP_CLAIMS)
            avc_claims = sum(buf.count(c) for c in _AVC_CLAIMS)
            if avc_claims:
                for line in _AVC_LINE.findall(buf):
                    match = _AVC.search(line)
                    event = _avc_event(match) if match else None
                    if event is not None:
                        self.avcs.append(event)
                        avcs += 1
            if MARKER in buf:
                self.markers.extend(int(m) for m in _MARKER_RE.findall(buf))
            other = max(0, records - claims - avc_claims)
        else:
            other = 0
        self.read += lines
        self.used += seccomp + avcs
        self.other += other
        self.skipped += max(0, lines - bad - seccomp - avcs - other) + bad
        self.raw.update(found)
        return found

    def merge(self, other: "Scanner") -> None:
        self.raw.update(other.raw)
        self.avcs.extend(other.avcs)
        self.markers.extend(other.markers)
        self.read += other.read
        self.used += other.used
        self.other += other.other
        self.skipped += other.skipped

    def feed_range(self, path: str, start: int = 0, end: Optional[int] = None, chunk_size: int = 16 << 20) -> None:
        """Scan bytes ``start``..``end`` of a file (``start`` must be a line start)."""
        with open(path, "rb") as handle:
            if end is None:
                end = os.fstat(handle.fileno()).st_size
            for block in _chunks(handle, start, end, chunk_size):
                self.feed(block)

    def feed_file(self, path: str, workers: Optional[int] = None, parallel_min: int = 64 << 20) -> None:
        """Scan a whole file; files over ``parallel_min`` bytes are split over ``workers`` processes."""
        size = os.path.getsize(path)
        workers = workers or os.cpu_count() or 1
        if workers < 2 or size < parallel_min:
            self.feed_range(path, 0, size)
            return
        bounds = _line_bounds(path, size, workers)
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(len(bounds)) as pool:
            for part in pool.starmap(_scan_part, [(path, s, e) for s, e in bounds]):
                self.merge(part)

    def records(self) -> List[Dict[str, Any]]:
        """Unique (session, pid, comm, exe, arch, syscall) with counts, decoded and resolved."""
        return resolve(self.raw, self)


def _line_bounds(path: str, size: int, parts: int) -> List[Tuple[int, int]]:
    """Split a file into ``parts`` byte ranges that start at line starts."""
    cuts = [0]
    with open(path, "rb") as handle:
        for index in range(1, parts):
            handle.seek(max(cuts[-1], size * index // parts))
            handle.readline()
            cuts.append(min(size, handle.tell()))
    cuts.append(size)
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _scan_part(path: str, start: int, end: int) -> Scanner:
    part = Scanner()
    part.feed_range(path, start, end)
    return part


def resolve(raw: Counter, stats: Optional[Scanner] = None) -> List[Dict[str, Any]]:
    """Decode unique raw SECCOMP keys; unresolvable ones are moved from ``used`` to ``skipped``."""
    out: List[Dict[str, Any]] = []
    for key, count in raw.items():
        match = _KEY_STRICT.fullmatch(key)
        if match is None:
            if stats is not None:
                stats.used -= count
                stats.skipped += count
            continue
        ses, pid, comm, exe, arch, nr = match.groups()
        token, number = int(arch, 16), int(nr)
        name = libseccomp.syscall_name(token, number)
        if name is None or (comm[:1] == b'"') != (comm[-1:] == b'"') or (exe[:1] == b'"') != (exe[-1:] == b'"'):
            if stats is not None:
                stats.used -= count
                stats.skipped += count
            continue
        out.append({"ses": _session(ses), "pid": int(pid), "comm": decode_value(comm), "exe": decode_value(exe),
                    "arch": arch_name(token), "syscall": name, "count": count})
    return out


def per_process(records: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Group resolved records by (pid, exe, ses): sorted syscall names each, ordered by pid."""
    groups: Dict[Tuple[int, str, Optional[int]], Dict[str, Any]] = {}
    for rec in records:
        key = (rec["pid"], rec["exe"] or "", rec["ses"])
        entry = groups.setdefault(key, {"pid": rec["pid"], "exe": rec["exe"], "ses": rec["ses"],
                                        "comms": set(), "syscalls": set(), "records": 0})
        entry["comms"].add(rec["comm"] or "")
        entry["syscalls"].add(rec["syscall"])
        entry["records"] += rec["count"]
    result = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2])):
        entry = groups[key]
        entry["comms"] = sorted(entry["comms"])
        entry["syscalls"] = sorted(entry["syscalls"])
        result.append(entry)
    return result


def syscalls_by_session(records: Iterable[Dict[str, Any]]) -> Dict[Optional[int], List[str]]:
    """Sorted syscall names per audit session id (None = no session)."""
    sessions: Dict[Optional[int], set] = {}
    for rec in records:
        sessions.setdefault(rec["ses"], set()).add(rec["syscall"])
    return {ses: sorted(names) for ses, names in sessions.items()}
