# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exec events from audit records: one event per successful ``execve``/``execveat`` (pure parsing).

The kernel writes an exec, when an audit rule asks for it (:mod:`auditrule`), as records of one event that share
``audit(<time>:<serial>)``: ``SYSCALL`` (type 1300: ``arch``, ``syscall``, ``success``, ``ppid``, ``pid``,
``auid``, ``uid``, ``gid``, ``ses``, ``comm``, ``exe``), ``EXECVE`` (type 1309: ``argc`` and the arguments
``a0``.. , each quoted or hex-encoded; a long one as ``aN_len=`` and chunks ``aN[i]=``; a very long command line
continues in further EXECVE records), ``CWD``, ``PATH`` and last ``PROCTITLE`` (auditd adds ``EOE``).

Records are read only where the kernel puts them, at the start of a line, with the openings of
:mod:`audit` (auditd's ``type=SYSCALL msg=audit(``, the kernel log's ``audit: type=1300 audit(``): text in a
user message (``msg='...'``, which any process with CAP_AUDIT_WRITE may send) is never a record.

:class:`ExecParser` joins the records of an event; an event is complete at its ``PROCTITLE`` or ``EOE``, or
``linger`` seconds after its last record.  Arguments are bounded (:data:`MAX_ARGS`, :data:`MAX_ARG_BYTES`), and so
are events waiting for their end (:data:`MAX_PENDING`, the oldest is completed early).
"""
from __future__ import annotations

import functools
import re
import time
from typing import Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.audit import _record_start, arch_name, decode_value

MAX_ARGS = 64               # arguments kept per exec (the rest counted in args_dropped)
MAX_ARG_BYTES = 4096        # bytes of arguments kept per exec, in all
MAX_PENDING = 4096          # events waiting for their last record
EXEC_SYSCALLS = ("execve", "execveat")

_TYPES = {b"SYSCALL": 1300, b"EXECVE": 1309, b"PROCTITLE": 1327, b"EOE": 1320}
_RECORD = re.compile(rb"(?m)^(?:" + rb"|".join(
    rb"(?P<%s>%s)" % (name.lower(), _record_start(name, number)) for name, number in _TYPES.items())
    + rb")" + rb"(?P<ts>\d+\.\d+):(?P<serial>\d+)\): (?P<body>[^\n\x1d]*)")
_FIELD = re.compile(rb"(?:^| )([a-z_0-9]+(?:\[\d+\])?)=(\"[^\"\n]*\"|[^ \n]*)")
_ARG = re.compile(rb"^a(\d+)(?:\[(\d+)\]|(_len))?$")


class ExecEvent(object):
    """One exec: who (pid, ppid, uid, gid, auid, ses), what (exe, comm, args), when (audit time stamp)."""

    __slots__ = ("stamp", "serial", "syscall", "arch", "success", "pid", "ppid", "uid", "gid", "auid", "ses",
                 "comm", "exe", "argc", "args", "chunks", "args_dropped", "args_over", "seen", "is_exec")

    def __init__(self, stamp: str, serial: int) -> None:
        self.stamp = stamp
        self.serial = serial
        self.syscall = ""
        self.arch = ""
        self.success = False
        self.pid = self.ppid = -1
        self.uid = self.gid = self.auid = self.ses = -1
        self.comm: Optional[str] = None
        self.exe: Optional[str] = None
        self.argc = 0
        self.args: Dict[int, str] = {}
        self.chunks: Dict[int, Dict[int, bytes]] = {}
        self.args_dropped = 0
        self.args_over = 0  # arguments past MAX_ARGS
        self.seen = time.monotonic()
        self.is_exec = False

    def argv(self) -> List[str]:
        """The arguments in order, bounded: at most :data:`MAX_ARG_BYTES` characters in all (the argument cut
        there ends with ``...``, later ones are counted in ``args_dropped``)."""
        out: List[str] = []
        room = MAX_ARG_BYTES
        self.args_dropped = self.args_over
        for index in sorted(set(self.args) | set(self.chunks)):
            if index in self.args:
                value = self.args[index]
            else:
                value = b"".join(part for _i, part in sorted(self.chunks[index].items())).decode("utf-8", "replace")
            if room <= 0:
                self.args_dropped += 1
                continue
            if len(value) > room:
                value = value[:room] + "..."
            room -= len(value)
            out.append(value)
        return out

    def _keep(self, index: int, value: Optional[str]) -> None:
        if value is None:
            return
        if len(self.args) + len(self.chunks) >= MAX_ARGS:
            self.args_over += 1
            return
        self.args[index] = value[:MAX_ARG_BYTES + 1]

    def add_execve(self, body: bytes) -> None:
        for key, raw in _FIELD.findall(body):
            if key == b"argc":
                self.argc = int(raw) if raw.isdigit() else 0
                continue
            match = _ARG.match(key)
            if not match:
                continue
            index = int(match.group(1))
            if match.group(3):  # aN_len: the chunks follow
                continue
            if match.group(2) is not None:  # aN[i]: a chunk of a long argument (hex or quoted)
                part = _raw(raw)
                if index not in self.chunks and len(self.args) + len(self.chunks) >= MAX_ARGS:
                    self.args_over += 1
                    continue
                parts = self.chunks.setdefault(index, {})
                if part is not None and len(parts) < 64 and sum(len(p) for p in parts.values()) <= MAX_ARG_BYTES:
                    parts[int(match.group(2))] = part
                continue
            self._keep(index, decode_value(raw))

    def add_syscall(self, body: bytes) -> None:
        fields = dict(_FIELD.findall(body))
        try:
            token, number = int(fields[b"arch"], 16), int(fields[b"syscall"])
        except (KeyError, ValueError):
            return
        name = _syscall_name(token, number)
        self.syscall = name
        self.arch = arch_name(token)
        self.is_exec = name in EXEC_SYSCALLS
        self.success = fields.get(b"success") == b"yes"
        for attr in ("pid", "ppid", "uid", "gid", "auid", "ses"):
            raw = fields.get(attr.encode("ascii"), b"")
            setattr(self, attr, int(raw) if raw.isdigit() else -1)
        self.comm = decode_value(fields[b"comm"]) if b"comm" in fields else None
        self.exe = decode_value(fields[b"exe"]) if b"exe" in fields else None


def _raw(value: bytes) -> Optional[bytes]:
    if value[:1] == b'"':
        return value[1:-1]
    try:
        return bytes.fromhex(value.decode("ascii"))
    except ValueError:
        return None


class ExecParser(object):
    """Joins SYSCALL/EXECVE/PROCTITLE records into :class:`ExecEvent` s of successful execs."""

    def __init__(self, linger: float = 1.0) -> None:
        self.linger = linger
        self.pending: Dict[Tuple[str, int], ExecEvent] = {}
        self.overflow = 0  # events completed early because too many were waiting

    def feed(self, buf: bytes) -> List[ExecEvent]:
        """Read whole lines of ``buf``; return the exec events completed by them."""
        done: List[ExecEvent] = []
        for match in _RECORD.finditer(buf):
            key = (match.group("ts").decode("ascii"), int(match.group("serial")))
            body = match.group("body")
            if match.group("proctitle") is not None or match.group("eoe") is not None:
                event = self.pending.pop(key, None)
                if event is not None and event.is_exec and event.success:
                    done.append(event)
                continue
            event = self.pending.get(key)
            if event is None:
                if match.group("execve") is None and not _maybe_exec(body):
                    continue  # a SYSCALL record of another syscall: nothing to keep
                if len(self.pending) >= MAX_PENDING:
                    self.overflow += 1
                    done.extend(self._complete([min(self.pending, key=lambda k: self.pending[k].seen)]))
                event = self.pending[key] = ExecEvent(*key)
            event.seen = time.monotonic()
            if match.group("syscall") is not None:
                event.add_syscall(body)
                if event.syscall and not event.is_exec:
                    self.pending.pop(key, None)
            else:
                event.add_execve(body)
        return done

    def expire(self, now: Optional[float] = None) -> List[ExecEvent]:
        """Events whose last record is ``linger`` seconds old (their PROCTITLE was lost or is not written)."""
        now = time.monotonic() if now is None else now
        return self._complete([k for k, e in self.pending.items() if now - e.seen >= self.linger])

    def _complete(self, keys: List[Tuple[str, int]]) -> List[ExecEvent]:
        out = []
        for key in keys:
            event = self.pending.pop(key)
            if event.is_exec and event.success:
                out.append(event)
        return out


def _maybe_exec(body: bytes) -> bool:
    """Whether a SYSCALL record's body may be an exec (a cheap test before the exact one)."""
    match = re.search(rb"(?:^| )arch=([0-9a-f]+) syscall=(\d+) ", body)
    if not match:
        return False
    return _syscall_name(int(match.group(1), 16), int(match.group(2))) in EXEC_SYSCALLS


@functools.lru_cache(maxsize=1024)
def _syscall_name(token: int, number: int) -> str:
    return libseccomp.syscall_name(token, number) or ""
