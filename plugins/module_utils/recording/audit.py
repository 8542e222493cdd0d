# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit records -> seccomp / AVC events and per-process syscall sets.

Understood inputs (one record per line):

* auditd's log, raw or enriched format (enriched fields follow a 0x1d byte)::

    type=SECCOMP msg=audit(1795468297.047:1166): auid=0 uid=0 gid=0 ses=3 pid=30948 comm="sh" \
exe="/bin/busybox" sig=0 arch=c000003e syscall=3 compat=0 ip=0x40828e code=0x7ffc0000

* the kernel log (dmesg, /dev/kmsg, syslog, the journal) when no auditd runs: the same fields after
  ``audit: type=1326 audit(TS:SERIAL):``;
* AVC records (``type=AVC`` / ``audit: type=1400``): ``avc:  denied  { perms } for ... scontext=
  tcontext= tclass= permissive=``.

A record is read only where the kernel puts it: at the start of a line (auditd: ``type=SECCOMP
msg=audit(`` after at most auditd's ``node=NAME``; kernel log: ``audit: type=1326 audit(`` after at
most a timestamp prefix of dmesg, syslog or the journal, see :data:`KERNEL_LOG_PREFIX`).  Text that
only looks like a record inside another one, e.g. in the ``msg='...'`` of a user message that any
process with CAP_AUDIT_WRITE may send (a container's root has it by default), is never a record,
so no container can add syscalls to another workload's recording.  The end-of-recording marker
(:func:`marker_text`) is accepted only as the whole text of a user message (``type=USER`` /
``type=1005``), and carries a secret nonce of the recorder: a waiter takes only the (session,
nonce) it sent, so no forged marker ends a recording early.  Lines of a file that mixes formats are
taken at their word: ``dmesg --notime`` prints the lines of a multi-line message unindented, so
read the kernel log from ``/dev/kmsg`` (escaped) or with timestamps, never from such a file.

Two doors over one grammar: :class:`Scanner` works on large byte buffers (each record's key cut
out and counted by C-level bytes searches, or a compiled bytes regex for mixed input; keys are
deduplicated *before* anything is decoded, and each distinct process half and syscall half of a
key is checked and named once) and is what every caller uses for volume; :func:`parse_line` is the
exact per-line parse (every field of one record) for the few records where details matter (AVCs,
tests, debugging).  Where the project's optional C speed-up ``spo_linecut`` (native/) is built,
it cuts and counts the keys of SECCOMP-only buffers; without it (as on a managed node) the same
contract is met with ``bytes`` methods, with identical results.

Damaged input is never fatal: garbage, truncated and non-UTF-8 lines are skipped and counted.
Syscall numbers become names through libseccomp for the record's architecture (``arch=c000003e``
is the AUDIT_ARCH token libseccomp uses for x86_64).
"""
from __future__ import annotations

import functools
import gc
import os
import pickle
import re
import secrets
from collections import Counter
from itertools import islice, repeat
from operator import itemgetter
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp

UNSET_ID = 4294967295  # (u32)-1: auid / ses not set
MARKER = b"spo-record-done"  # text of the user audit message that closes a recording (see marker_text)
NONCE_BYTES = 16

# ---------------------------------------------------------------------------------------------
# The grammar (bytes).  A value of comm= / exe= is "quoted", HEX-encoded (the kernel hex-encodes
# any string holding a space, a quote, a control or a non-ASCII byte) or (null).
_VALUE = rb'(?:"[!#-~]*"|[0-9A-Fa-f]+|\(null\))'
_STAMP = rb"(\d+\.\d+):(\d+)\): "  # after a record's opening ``...audit(``
# What may come before ``audit: type=NNNN`` on a kernel-log line: nothing (/dev/kmsg text, dmesg
# --notime), dmesg's ``[  12.345678] `` or ``[Mon Dec  7 12:00:00 2026] ``, and syslog / journal
# headers ``Dec  7 12:00:00 HOST kernel: `` or ``2026-12-07T12:00:00.123+00:00 HOST kernel: ``
# (optionally followed by dmesg's bracket).  Nothing else: a record in a message is no record.
_SYSLOG_HEADER = (rb"(?:[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d(?:\.\d+)?"
                  rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) [^ \n]+ kernel: ")
_DMESG_STAMP = rb"(?:\[[ 0-9.]+\] |\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}\] )"
KERNEL_LOG_PREFIX = rb"(?:" + _SYSLOG_HEADER + rb")?" + _DMESG_STAMP + rb"?"
_AUDITD_NODE = rb"node=[^ \n]+ "  # auditd's name_format


class _Lazy(object):
    """A pattern compiled at its first use: the rare ones cost ``spo-enricher --once`` (timed against
    grep, interpreter start included) nothing when its input has no use for them."""

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.compiled: Optional["re.Pattern[bytes]"] = None

    def __getattr__(self, name: str) -> Any:
        if self.compiled is None:
            self.compiled = re.compile(self.source)
        return getattr(self.compiled, name)


def _record_start(name: bytes, number: int) -> bytes:
    """Pattern of the opening of a record of type ``name`` / ``number`` at the start of a line."""
    return (rb"(?:(?:" + _AUDITD_NODE + rb")?type=" + name + rb" msg=|" + KERNEL_LOG_PREFIX + rb"audit: type=%d )" % number
            + rb"audit\(")


def _seccomp_body(capture_all: bool) -> bytes:
    def grp(pattern: bytes, keep: bool) -> bytes:
        return (b"(" if keep else b"(?:") + pattern + b")"
    return (rb"(?:auid=\d+ )?uid=" + grp(rb"\d+", capture_all) + rb" gid=\d+ ses=(\d+) (?:subj=\S+ )?"
            rb"pid=(\d+) comm=(" + _VALUE + rb") exe=(" + _VALUE + rb") (?:sig=\d+ )?arch=([0-9a-f]+) syscall=(\d+)"
            rb" compat=\d+ ip=0x[0-9a-f]+ code=" + grp(rb"0x[0-9a-f]+", capture_all) + rb"(?=[\x1d\r\n ]|\Z)")


# Bulk patterns, run over the buffer with a newline put before it: a line that opens as a SECCOMP
# record, then from its first `` ses=`` the key stretch of loose tokens as two groups, the process
# half and the syscall half (no timestamp or serial, so equal records deduplicate as raw bytes);
# the record must go on to ``compat=`` (a record cut before that is truncated).  The halves are
# checked exactly by _HEAD and _TAIL, once each.  One pattern per opening: a pattern that starts
# with a literal is searched for as fast as `` ses=`` alone; the rare openings (auditd's node=, a
# kernel-log timestamp) are searched only in a buffer that has a record opening inside a line.
def _keys_pattern(opening: bytes) -> bytes:
    token = rb"[^ \n]+"
    return (rb"\n" + opening + rb"[^ \n]*(?: (?!ses=)[^ \n]*)* ses=(" + token + rb" (?:subj=" + token + rb" )?pid=" +
            token + rb" comm=" + token + rb" exe=" + token + rb") sig=(" + token + rb" arch=" + token + rb" syscall=" +
            token + rb") compat=")


# The openings of a SECCOMP record at a line start that the fast path takes (auditd's without
# node=, /dev/kmsg's); lines with other openings go to the general path.
SECCOMP_OPENINGS = (b"type=SECCOMP msg=audit(", b"audit: type=1326 audit(")
_KEYS = tuple(re.compile(_keys_pattern(re.escape(opening))) for opening in SECCOMP_OPENINGS)
_KEYS_PREFIXED: Any = _Lazy(_keys_pattern(rb"(?:" + _AUDITD_NODE + rb"type=SECCOMP msg=|(?:" + _SYSLOG_HEADER + _DMESG_STAMP +
                                          rb"?|" + _DMESG_STAMP + rb")audit: type=1326 )audit\("))
# A key is checked exactly in two halves, split at " sig=": the process half and the syscall half.
_HEAD = re.compile(rb"(\d+) (?:subj=\S+ )?pid=(\d+) comm=(" + _VALUE + rb") exe=(" + _VALUE + rb")")
_TAIL = re.compile(rb"\d+ arch=([0-9a-f]+) syscall=(\d+)")
_HEADS: Dict[bytes, Any] = {}  # half -> decoded tuple, None if not in the grammar
_TAILS: Dict[bytes, Any] = {}
_CACHE_MAX = 1 << 17
# Exact patterns, matched at the start of a line.  _FULL: groups ts, serial, uid, ses, pid, comm,
# exe, arch, syscall, code.
_FULL: Any = _Lazy(_record_start(b"SECCOMP", 1326) + _STAMP + _seccomp_body(True))
_AVC: Any = _Lazy(_record_start(b"AVC", 1400) + _STAMP +
                  rb"avc:\s+(denied|granted)\s+\{ ([^}\n]*?) \} for\s+(.*?)(?=[\x1d\r\n]|\Z)")
_AVC_FIELD = re.compile(rb"(?:^| )(pid|comm|scontext|tcontext|tclass|permissive)=(\"[^\"\n]*\"|\S+)")
_AVC_LINE: Any = _Lazy(rb"\n(" + _record_start(b"AVC", 1400) + rb"[^\n]*)")  # over a newline + the buffer
# The end marker: a user message (AUDIT_USER) whose whole text is the marker.  The kernel writes
# ``pid= uid= auid= ses=`` (and ``subj=``) of the sender before the sender's ``msg='...'``.
_MARKER_RE: Any = _Lazy(rb"\n" + _record_start(b"USER", 1005) + rb"\d+\.\d+:\d+\): pid=\d+ uid=\d+ auid=\d+ ses=\d+ "
                        rb"(?:[^ \n']+ )*?msg='" + MARKER + rb" session=(\d+) nonce=([0-9a-f]{%d})'(?=[\x1d\r\n]|\Z)"
                        % (2 * NONCE_BYTES))
_SECCOMP_CLAIMS = (b"type=SECCOMP msg=audit(", b"type=1326 audit(")
_AVC_CLAIMS = (b"type=AVC msg=audit(", b"type=1400 audit(")
_RECORD_CLAIMS = (b"msg=audit(", b"audit: type=")


def new_nonce() -> str:
    """A fresh secret for one end marker (hex)."""
    return secrets.token_hex(NONCE_BYTES)


def marker_text(session: int, nonce: str) -> bytes:
    """The text of the end marker of ``session`` with the recorder's ``nonce`` (:func:`new_nonce`).

    Read back as ``(session, nonce)`` in :attr:`Scanner.markers` only from a user message whose
    whole text it is; a waiter takes only its own pair.
    """
    if not re.fullmatch(r"[0-9a-f]{%d}" % (2 * NONCE_BYTES), nonce):
        raise ValueError("an end marker's nonce is %d hex digits" % (2 * NONCE_BYTES))
    return b"%s session=%d nonce=%s" % (MARKER, session, nonce.encode("ascii"))


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


_arch_name = functools.lru_cache(maxsize=64)(arch_name)


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
    match = _FULL.match(line)
    if match:
        ts, serial, uid, ses, pid, comm, exe, arch, nr, code = match.groups()
        token, number = int(arch, 16), int(nr)
        return {"type": "SECCOMP", "timestamp": ts.decode(), "serial": int(serial), "uid": int(uid),
                "ses": _session(ses), "pid": int(pid), "comm": decode_value(comm), "exe": decode_value(exe),
                "arch": arch_name(token), "arch_token": token, "syscall_nr": number,
                "syscall": libseccomp.syscall_name(token, number), "code": code.decode()}
    match = _AVC.match(line)
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


class _GcPaused(object):
    """Pause the cyclic GC while building many small containers (nothing here makes cycles)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: Any) -> None:
        if self.was:
            gc.enable()


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


def _chunks(fd: int, start: int, end: int, chunk_size: int) -> Iterator[Tuple[bytes, int]]:
    """``(block, cut)`` over bytes ``start``..``end`` of a file: ``block[:cut]`` are whole lines.

    ``block[cut:]`` is the start of the next line, read again with the next block (so no bytes are
    copied to join lines across blocks); the range's last line counts even without a newline.  A
    line longer than a block doubles the block.
    """
    pos = start
    size = chunk_size
    while pos < end:
        want = min(size, end - pos)
        block = os.pread(fd, want, pos)
        if not block:
            return
        if len(block) < want or pos + len(block) >= end:
            yield block, len(block)
            return
        cut = block.rfind(b"\n") + 1
        if not cut:
            size *= 2
            continue
        yield block, cut
        pos += cut
        size = chunk_size


def _head(head: bytes) -> Optional[Tuple[Optional[int], int, Optional[str], Optional[str]]]:
    """``ses [subj=..] pid= comm= exe=`` of a key -> (ses, pid, comm, exe); None if not the grammar."""
    match = _HEAD.fullmatch(head)
    value = None
    if match is not None:
        ses, pid, comm, exe = match.groups()
        value = (_session(ses), int(pid), decode_value(comm), decode_value(exe))
    if len(_HEADS) >= _CACHE_MAX:
        _HEADS.clear()
    _HEADS[head] = value
    return value


def _tail(tail: bytes) -> Optional[Tuple[str, str]]:
    """``sig arch= syscall=`` of a key -> (arch name, syscall name); None if not the grammar or if
    libseccomp knows no such syscall on that arch."""
    match = _TAIL.fullmatch(tail)
    value = None
    if match is not None:
        arch, nr = match.groups()
        token = int(arch, 16)
        name = libseccomp.syscall_name(token, int(nr))
        value = None if name is None else (_arch_name(token), name)
    if len(_TAILS) >= _CACHE_MAX:
        _TAILS.clear()
    _TAILS[tail] = value
    return value


def _valid(cache: Dict[bytes, Any], decode: Any, halves: Sequence[bytes]) -> bool:
    """Whether every half is valid (in the exact grammar; a syscall half names a syscall libseccomp
    knows), each decoded once and cached.  Halves already cached as valid cost one C-level map."""
    if None not in map(cache.get, halves):
        return True
    return all((cache.get(half) or decode(half)) is not None for half in halves)


# The fast path's primitive: count the key of every line that has one (a line that opens as a
# SECCOMP record, SECCOMP_OPENINGS; its key between its first " ses=" and the next " compat=",
# holding a " sig="), split at its last " sig=" into the process half and the syscall half, into a
# dict of dicts; hand back the other lines.  Two implementations with one
# contract: the optional C speed-up (native/spo_linecut.c, built into the project's .venv by
# `make setup`), and bytes searches with Counter here, which decline a buffer unless every line
# has a key (the general path then scans it whole).
_START, _MIDDLE, _STOP = b" ses=", b" sig=", b" compat="
try:
    from spo_linecut import cut_count as _native_cut_count
except ImportError:  # a host without the speed-up (modules run on managed nodes): pure Python
    _native_cut_count = None

Counts = Dict[bytes, Dict[bytes, int]]  # process half -> syscall half -> records
# (lines counted, their distinct heads, their distinct tails, the other lines); heads None: declined
Counted = Tuple[int, Optional[List[bytes]], Optional[List[bytes]], bytes]


def _add(raw: Counts, head: bytes, tail: bytes, count: int) -> None:
    inner = raw.get(head)
    if inner is None:
        raw[head] = {tail: count}
    else:
        inner[tail] = inner.get(tail, 0) + count


def _line_count(buf: bytes, size: int) -> int:
    """Lines in ``buf[:size]`` (a last line without newline counts); ``buf[size:]`` holds none."""
    # bytes.replace finds newlines with memchr: faster than bytes.count's byte loop
    return len(buf) - len(buf.replace(b"\n", b"")) + (buf[size - 1] != 10)


def _count_keys_python(raw: Counts, buf: bytes, size: int) -> Counted:
    """``buf[:size]``'s keys counted into ``raw`` (see ``Counted``); declined, with ``raw``
    untouched, unless each line opens as a SECCOMP record and has a key with a `` sig=``.

    ``split`` at `` ses=`` and ``partition`` at `` compat=`` give the keys with no regex; only the
    buffer's distinct keys are split further.  A line without a key makes the piece count differ,
    or leaves a piece whose key runs into the next line (caught by the grammar check of halves).
    """
    lines = _line_count(buf, size)
    # every line must open as a SECCOMP record (one C-level count per opening)
    if sum(buf.count(opening, 0, size) for opening in _LINE_OPENINGS) + buf.startswith(SECCOMP_OPENINGS) != lines:
        return 0, None, None, b""
    pieces = buf.split(_START)
    extra = buf.count(_START, size) if size < len(buf) else 0
    if len(pieces) != lines + 1 + extra:
        return 0, None, None, b""
    if buf[size - 1] != 10 and _STOP not in pieces[lines]:
        return 0, None, None, b""  # a last line cut before " compat="
    found = Counter(map(_FIRST, map(bytes.partition, islice(pieces, 1, lines + 1), repeat(_STOP))))
    split = list(map(bytes.rpartition, found, repeat(_MIDDLE)))
    if not all(map(_SECOND, split)):
        return 0, None, None, b""
    for (head, dummy, tail), count in zip(split, found.values()):
        _add(raw, head, tail, count)
    return lines, list(dict.fromkeys(map(_FIRST, split))), list(dict.fromkeys(map(_THIRD, split))), b""


def _view(buf: bytes, size: int) -> Any:
    """``buf[:size]`` without a copy."""
    return buf if size == len(buf) else memoryview(buf)[:size]


def _count_keys_native(raw: Counts, buf: bytes, size: int) -> Counted:
    """The keys counted by ``spo_linecut.cut_count`` (one pass in C); it takes every buffer."""
    dummy, cut, heads, tails, rest = _native_cut_count(_view(buf, size), _START, _MIDDLE, _STOP, raw,  # pylint: disable=not-callable
                                                       SECCOMP_OPENINGS)
    return cut, heads, tails, rest


_count_keys = _count_keys_native if _native_cut_count is not None else _count_keys_python


def _uncount_keys(raw: Counts, buf: bytes, size: int) -> None:
    """Take back what counting ``buf[:size]`` added to ``raw`` (counts left at 0 are removed)."""
    mine: Counts = {}
    if _count_keys is _count_keys_native:
        _native_cut_count(_view(buf, size), _START, _MIDDLE, _STOP, mine, SECCOMP_OPENINGS)  # pylint: disable=not-callable
    else:
        _count_keys_python(mine, buf, size)
    for head, tails in mine.items():
        inner = raw[head]
        for tail, count in tails.items():
            left = inner[tail] - count
            if left:
                inner[tail] = left
            else:
                del inner[tail]
        if not inner:
            del raw[head]


def _merge_counts(into: Counts, other: Counts) -> None:
    """``into += other``: per process half, dict.update in C and sums only for the shared keys."""
    for head, tails in other.items():
        mine = into.get(head)
        if mine is None:
            into[head] = tails
            continue
        sums = {tail: mine[tail] + tails[tail] for tail in mine.keys() & tails.keys()}
        mine.update(tails)
        mine.update(sums)


# Fast path backoff, shared by all scanners of the process: after a buffer the fast path could not
# take (other record types, damage), the next ones go straight to the general path, 1, 2, 4 ... 64
# of them, so a log full of other records pays at most ~1/64 extra for the attempts.
_FAST = {"wait": 0, "penalty": 0}


class Scanner(object):
    """Accumulates SECCOMP records (deduplicated raw), AVC events and counts over buffers.

    Feed it buffers of whole lines (a final line without newline counts as a line).
    ``read`` = lines seen; ``used`` = SECCOMP/AVC records parsed; ``other`` = well-formed
    audit records of other types (ignored); ``skipped`` = the rest: garbage, truncated or
    non-UTF-8 lines, kernel-log lines that are no audit record, syscalls libseccomp cannot name.
    ``raw`` counts each distinct record key as it appears in the log, in two halves: process half
    ``ses [subj] pid comm exe`` -> syscall half ``sig arch syscall`` -> records.  Every half in
    it is in the exact grammar, and every syscall half names a syscall libseccomp knows.

    Fast path (SECCOMP records, most of the log while recording): the key of each line that opens
    as a SECCOMP record (:data:`SECCOMP_OPENINGS`) is counted by :func:`_count_keys` (in C when the
    speed-up is built, else bytes searches and ``Counter``, for buffers of nothing but SECCOMP
    records); the buffer's distinct halves are checked against the exact grammar (decoded once,
    cached), and a buffer where one is not goes to the general path instead.  The lines without a
    key (other records, AVCs, markers, damage) go to the general path.  General path (anything
    else): one ``findall`` of a loose pattern that opens at a line start as a SECCOMP record
    (with auditd's ``node=`` or a kernel-log timestamp, too) and whose two groups are the halves,
    then ``bytes.count`` of record claims, AVC lines and markers searched only when there are
    any, each at a line start.  Both give the same counts.
    """

    def __init__(self) -> None:
        self.raw: Counts = {}
        self.avcs: List[Dict[str, Any]] = []
        self.markers: List[Tuple[int, str]] = []  # (session, nonce) of each end marker read
        self.read = 0
        self.used = 0
        self.other = 0
        self.skipped = 0
        self.fast_buffers = 0  # buffers the fast path took

    def feed(self, buf: bytes) -> None:
        """Scan ``buf`` (whole lines)."""
        if buf:
            self._scan(buf, len(buf))

    def _scan(self, buf: bytes, size: int) -> None:
        """Scan the whole lines ``buf[:size]`` (``size`` > 0; ``buf[size:]`` holds no newline)."""
        state = _FAST
        if state["wait"]:
            state["wait"] -= 1
        elif buf.isascii() or buf[:size].isascii():
            cut, heads, tails, rest = _count_keys(self.raw, buf, size)
            if heads is not None and tails is not None:
                if _valid(_HEADS, _head, heads) and _valid(_TAILS, _tail, tails):
                    state["penalty"] = 0
                    self.read += cut
                    self.used += cut
                    self.fast_buffers += 1
                    if rest:  # other record types, AVCs, markers, damaged lines
                        self._scan_general(rest)
                    return
                _uncount_keys(self.raw, buf, size)
            state["penalty"] = min(64, 2 * state["penalty"] or 1)
            state["wait"] = state["penalty"]
        self._scan_general(buf if size == len(buf) else buf[:size])

    def _scan_general(self, buf: bytes) -> None:
        lines = _line_count(buf, len(buf))
        buf, bad = _drop_non_utf8(buf)
        lined = b"\n" + buf  # the patterns open at a line start: after a newline
        found = Counter()
        for opening, pattern in zip(SECCOMP_OPENINGS, _KEYS):
            if opening in buf:
                found.update(pattern.findall(lined))
        if any(buf.count(opening) > lined.count(b"\n" + opening) for opening in SECCOMP_OPENINGS):
            found.update(_KEYS_PREFIXED.findall(lined))
        seccomp = sum(found.values())
        avcs = 0
        # A buffer of nothing but SECCOMP records needs no further pass; otherwise count
        # records of other types, damaged claims, AVCs, markers.
        records = seccomp
        if lines - bad != seccomp:
            records = buf.count(b"msg=audit(") + buf.count(b"audit: type=")
        if records > seccomp or lines - bad != seccomp:
            claims = sum(buf.count(c) for c in _SECCOMP_CLAIMS)
            avc_claims = sum(buf.count(c) for c in _AVC_CLAIMS)
            if avc_claims:
                for line in _AVC_LINE.findall(lined):
                    match = _AVC.match(line)
                    event = _avc_event(match) if match else None
                    if event is not None:
                        self.avcs.append(event)
                        avcs += 1
            if MARKER in buf:
                self.markers.extend((int(session), nonce.decode("ascii")) for session, nonce in _MARKER_RE.findall(lined))
            other = max(0, records - claims - avc_claims)
        else:
            other = 0
        dropped = 0
        raw = self.raw
        for (head, tail), count in found.items():
            if not (_valid(_HEADS, _head, (head,)) and _valid(_TAILS, _tail, (tail,))):
                dropped += count  # damaged, or a syscall libseccomp cannot name
                continue
            _add(raw, head, tail, count)
        self.read += lines
        self.used += seccomp - dropped + avcs
        self.other += other
        self.skipped += max(0, lines - bad - seccomp - avcs - other) + bad + dropped

    def merge(self, other: "Scanner") -> None:
        _merge_counts(self.raw, other.raw)
        self.avcs.extend(other.avcs)
        self.markers.extend(other.markers)
        self.read += other.read
        self.used += other.used
        self.other += other.other
        self.skipped += other.skipped
        self.fast_buffers += other.fast_buffers

    def feed_range(self, path: str, start: int = 0, end: Optional[int] = None, chunk_size: int = 1 << 20) -> None:
        """Scan bytes ``start``..``end`` of a file (``start`` must be a line start)."""
        with open(path, "rb", buffering=0) as handle, _GcPaused():
            if end is None:
                end = os.fstat(handle.fileno()).st_size
            for block, cut in _chunks(handle.fileno(), start, end, chunk_size):
                self._scan(block, cut)

    def feed_file(self, path: str, workers: Optional[int] = None, parallel_min: int = 64 << 20) -> None:
        """Scan a whole file; files over ``parallel_min`` bytes are split over ``workers`` processes.

        This process scans the first part itself; each other part is scanned by a forked child that
        sends back its counts, keys and decoded key halves through a pipe (a part a child could not
        deliver is scanned here).
        """
        size = os.path.getsize(path)
        workers = workers or os.cpu_count() or 1
        if workers < 2 or size < parallel_min or not hasattr(os, "fork"):
            self.feed_range(path, 0, size)
            return
        bounds = _line_bounds(path, size, workers)
        children = [_fork_part(path, start, end) for start, end in bounds[1:]]
        self.feed_range(path, *bounds[0])
        for child in children:
            with _GcPaused():
                part = _join_part(*child)
            if part is None:
                self.feed_range(path, child[2], child[3])
            else:
                with _GcPaused():
                    self.merge(part)

    def records(self) -> List[Dict[str, Any]]:
        """Each distinct (session, pid, comm, exe, arch, syscall), decoded, with its count."""
        out: List[Dict[str, Any]] = []
        append = out.append
        with _GcPaused():
            for head, tails in self.raw.items():
                ses, pid, comm, exe = _HEADS.get(head) or _head(head)  # type: ignore[misc]
                for tail, count in tails.items():
                    arch, syscall = _TAILS.get(tail) or _tail(tail)  # type: ignore[misc]
                    append({"ses": ses, "pid": pid, "comm": comm, "exe": exe, "arch": arch, "syscall": syscall,
                            "count": count})
        return out

    def processes(self) -> List[Dict[str, Any]]:
        """Per process (pid, exe, session): sorted comms and syscall names, and its record count.

        One step per process half; its syscall halves are named by C-level maps over a table of
        the distinct syscall halves.
        """
        raw = self.raw
        groups: Dict[Tuple[int, str, Optional[int]], Dict[str, Any]] = {}
        with _GcPaused():
            names = {tail: (_TAILS.get(tail) or _tail(tail))[1]  # type: ignore[index]
                     for tail in set().union(*raw.values())}
            for head, tails in raw.items():
                ses, pid, comm, exe = _HEADS.get(head) or _head(head)  # type: ignore[misc]
                entry = groups.get((pid, exe or "", ses))
                if entry is None:
                    entry = groups[(pid, exe or "", ses)] = {"pid": pid, "exe": exe, "ses": ses, "comms": set(),
                                                             "syscalls": set(), "records": 0}
                entry["comms"].add(comm or "")  # no comm (null / damaged hex) sorts as ""
                entry["syscalls"].update(map(names.__getitem__, tails))
                entry["records"] += sum(tails.values())
        result = []
        for key in sorted(groups, key=lambda k: (k[0], k[1], -1 if k[2] is None else k[2])):
            entry = groups[key]
            entry["comms"] = sorted(entry["comms"])
            entry["syscalls"] = sorted(entry["syscalls"])
            result.append(entry)
        return result


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


def _export(part: Scanner) -> bytes:
    """A part's result for the parent: counters, counts, AVCs, markers, and the decoded halves (so
    the parent decodes none again)."""
    return pickle.dumps((part.read, part.used, part.other, part.skipped, part.fast_buffers, part.avcs, part.markers,
                         part.raw, _HEADS, _TAILS), pickle.HIGHEST_PROTOCOL)


def _import(data: bytes) -> Scanner:
    read, used, other, skipped, fast, avcs, markers, raw, heads, tails = pickle.loads(data)
    part = Scanner()
    part.read, part.used, part.other, part.skipped, part.fast_buffers = read, used, other, skipped, fast
    part.avcs, part.markers, part.raw = avcs, markers, raw
    for cache, more in ((_HEADS, heads), (_TAILS, tails)):
        if len(cache) + len(more) <= _CACHE_MAX:
            cache.update(more)
    return part


def _fork_part(path: str, start: int, end: int) -> Tuple[int, int, int, int]:
    """Scan bytes ``start``..``end`` in a forked child: (pid, read end of its pipe, start, end)."""
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return -1, -1, start, end
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.close(read_fd)
            gc.disable()  # it exits when done: no cycles worth collecting, no copy-on-write by the GC
            part = Scanner()
            part.feed_range(path, start, end)
            with os.fdopen(write_fd, "wb") as out:
                out.write(_export(part))
            code = 0
        finally:
            os._exit(code)  # pylint: disable=protected-access
    os.close(write_fd)
    return pid, read_fd, start, end


def _join_part(pid: int, read_fd: int, start: int, end: int) -> Optional[Scanner]:
    """The child's part, or None if it failed (the caller then scans the range itself)."""
    if pid < 0:
        return None
    with os.fdopen(read_fd, "rb") as handle:
        data = handle.read()
    status = os.waitpid(pid, 0)[1]
    if status != 0 or not data:
        return None
    try:
        return _import(data)
    except (pickle.UnpicklingError, ValueError, TypeError, EOFError):
        return None


_FIRST = itemgetter(0)
_SECOND = itemgetter(1)
_THIRD = itemgetter(2)
_LINE_OPENINGS = tuple(b"\n" + opening for opening in SECCOMP_OPENINGS)


def syscalls_by_session(records: Iterable[Dict[str, Any]]) -> Dict[Optional[int], List[str]]:
    """Sorted syscall names per audit session id (None = no session)."""
    sessions: Dict[Optional[int], set] = {}
    for rec in records:
        sessions.setdefault(rec["ses"], set()).add(rec["syscall"])
    return {ses: sorted(names) for ses, names in sessions.items()}
