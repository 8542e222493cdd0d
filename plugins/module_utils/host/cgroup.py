# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pid -> container ID, from ``/proc/<pid>/cgroup``.

Layouts understood (cgroup v1 ``N:controllers:/path`` and v2 ``0::/path`` lines):

* runc / containerd / CRI-O with the cgroupfs driver: ``.../<64 hex id>`` as the last component,
  e.g. ``/kubepods/besteffort/pod<uid>/<id>``, ``/docker/<id>``, ``/<runc id>``;
* the systemd driver: ``.../cri-containerd-<id>.scope``, ``crio-<id>.scope``, ``docker-<id>.scope``,
  ``libpod-<id>.scope`` (and CRI-O's ``crio-conmon-<id>.scope`` is the monitor, not the container);
* runc started by hand with an id of its own (``runc run NAME`` puts it in ``/NAME`` or
  ``/user.slice/.../NAME``) is matched by :func:`container_id` ``known_ids``.

A process' cgroup is read once and cached (a process may exit right after its first record);
``CgroupCache`` keeps negative answers too, so records of host processes cost one dict lookup.
"""
from __future__ import annotations

import errno
import os
import re
import struct
import threading
from typing import Any, Dict, Iterable, List, Optional, Tuple

_HEX64 = r"[0-9a-f]{64}"
_SCOPE = re.compile(r"(?:^|/)(?:cri-containerd|crio|docker|libpod)-(" + _HEX64 + r")\.scope(?:/|$)")
_CONMON = re.compile(r"crio-conmon-" + _HEX64)
_PLAIN = re.compile(r"(?:^|/)(" + _HEX64 + r")(?:/|$)")
_POD = re.compile(r"pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})")


def parse_cgroup_path(path: str, known_ids: Iterable[str] = ()) -> Optional[str]:
    """Container ID named by one cgroup path, or None."""
    if _CONMON.search(path):
        return None
    match = _SCOPE.search(path)
    if match:
        return match.group(1)
    matches = _PLAIN.findall(path)
    if matches:
        return matches[-1]
    parts = [p for p in path.split("/") if p]
    for known in known_ids:
        if known in parts:
            return known
    return None


def container_id(cgroup_text: str, known_ids: Iterable[str] = ()) -> Optional[str]:
    """Container ID from the whole content of ``/proc/<pid>/cgroup`` (v1 or v2), or None."""
    known = list(known_ids)
    for line in cgroup_text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        found = parse_cgroup_path(parts[2], known)
        if found:
            return found
    return None


def pod_uid(cgroup_text: str) -> Optional[str]:
    """Kubernetes pod UID from a kubepods cgroup path (``_`` of the systemd driver turned to ``-``)."""
    match = _POD.search(cgroup_text)
    return match.group(1).replace("_", "-") if match else None


class CgroupCache(object):
    """pid -> container ID (or None), read at first sight and remembered."""

    def __init__(self, proc: str = "/proc", known_ids: Iterable[str] = (), max_entries: int = 65536) -> None:
        self.proc = proc
        self.known_ids = list(known_ids)
        self.max_entries = max_entries
        self.cache: Dict[int, Optional[str]] = {}

    def lookup(self, pid: int) -> Optional[str]:
        if pid in self.cache:
            return self.cache[pid]
        try:
            with open("%s/%d/cgroup" % (self.proc, pid)) as handle:
                text = handle.read()
        except (IOError, OSError):
            text = ""
        found = container_id(text, self.known_ids) if text else None
        if len(self.cache) >= self.max_entries:
            self.cache.clear()
        self.cache[pid] = found
        return found

    def forget(self, pid: int) -> None:
        self.cache.pop(pid, None)


# ---------------------------------------------------------------------------------------------
# Short-lived processes: the kernel's process events (proc connector)

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_FORK = 0x00000001
CLONE_NEWNET = 0x40000000
PROC_NET_INIT_INO = 0xEFFFFFF9


def parse_proc_events(data: bytes) -> List[Tuple[int, int]]:
    """(parent tgid, child tgid) of every new process (not thread) in one read of the proc connector socket."""
    out: List[Tuple[int, int]] = []
    offset = 0
    while offset + 16 <= len(data):
        length = struct.unpack_from("=I", data, offset)[0]
        if length < 16:
            break
        body = offset + 16 + 20  # nlmsghdr, cn_msg; then proc_event: what, cpu, timestamp, event data
        if body + 32 <= min(offset + length, len(data)):
            what = struct.unpack_from("=I", data, body)[0]
            if what == PROC_EVENT_FORK:
                _ppid, ptgid, _cpid, ctgid = struct.unpack_from("=4I", data, body + 16)
                if ctgid != ptgid:
                    out.append((ptgid, ctgid))
        offset += (length + 3) & ~3
    return out


class ForkWatcher(object):
    """Attribute each new process to its parent's container the moment it is forked.

    An audit record reaches the enricher after the kernel's audit thread and log path; a short-lived process
    (``mkdir`` run by a shell) has exited by then and its ``/proc/<pid>/cgroup`` is gone.  The proc connector
    tells of every fork synchronously; the child is entered in the :class:`CgroupCache` under its parent's
    container (the parent is alive: it is forking, or was cached before).  The connector serves the initial
    network namespace only: the watcher's thread enters ``netns`` (``/proc/1/ns/net``; needs CAP_SYS_ADMIN
    and the host's PID namespace) before it opens its socket.
    """

    def __init__(self, cache: "CgroupCache", netns: Optional[str] = "/proc/1/ns/net",
                 log: Any = None) -> None:
        self.cache = cache
        self.netns = netns
        self.log = log or (lambda message: None)
        self.forks = 0
        self.attributed = 0
        self.error: Optional[str] = None
        self.namespace: Optional[str] = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="proc-events", daemon=True)

    def start(self) -> "ForkWatcher":
        self.thread.start()
        self.ready.wait(5)
        return self

    def _candidates(self) -> List[str]:
        """Network namespaces to try: ``netns``, then one process of each namespace, the initial one's first
        (its inode is PROC_NET_INIT_INO on current kernels); only the initial namespace serves the connector."""
        found: List[str] = [self.netns] if self.netns else []
        seen: Dict[int, str] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            path = "/proc/%s/ns/net" % entry
            try:
                inode = os.stat(path).st_ino
            except OSError:
                continue
            seen.setdefault(inode, path)
        for inode in sorted(seen, key=lambda ino: (ino != PROC_NET_INIT_INO, ino)):
            found.append(seen[inode])
        return found

    def _socket(self) -> Any:
        import ctypes
        import socket  # only the daemon follows process events (`spo-enricher --once` imports this module)
        libc = ctypes.CDLL(None, use_errno=True)
        errors = []
        for path in (self._candidates() if self.netns else [None]):
            if path:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError as exc:
                    errors.append("%s: %s" % (path, exc.strerror))
                    continue
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        errors.append("setns %s: %s" % (path, os.strerror(ctypes.get_errno())))
                        continue
                finally:
                    os.close(fd)
            try:
                sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
            except OSError as exc:
                errors.append("%s: %s" % (path or "own namespace", exc.strerror))
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            except OSError:
                pass
            sock.bind((0, CN_IDX_PROC))
            portid = sock.getsockname()[0]
            payload = struct.pack("=I", PROC_CN_MCAST_LISTEN)
            cn_msg = struct.pack("=IIIIHH", CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
            sock.send(struct.pack("=IHHII", 16 + len(cn_msg), 3, 0, 0, portid) + cn_msg)  # NLMSG_DONE
            self.namespace = path
            return sock
        raise OSError(errno.EPROTONOSUPPORT, "no network namespace serves the proc connector (%s)"
                      % "; ".join(errors[-3:]))

    def _run(self) -> None:
        try:
            sock = self._socket()
        except OSError as exc:
            self.error = "process events unavailable (short-lived processes may go unattributed): %s" % exc
            self.log(self.error)
            self.ready.set()
            return
        self.ready.set()
        lookup, cache = self.cache.lookup, self.cache.cache
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # overrun: some forks were missed
                    continue
                self.error = "process events: %s" % exc
                self.log(self.error)
                return
            for parent, child in parse_proc_events(data):
                self.forks += 1
                found = lookup(parent)
                if found:
                    cache[child] = found
                    self.attributed += 1
                else:
                    cache.pop(child, None)  # a reused pid: look it up afresh


# ---------------------------------------------------------------------------------------------
# cgroup v2 ids (what bpf_get_current_cgroup_id returns: the kernfs id, the directory's inode number)

def unified_mount(mountinfo: str = "/proc/self/mountinfo") -> Optional[str]:
    """Mount point of the cgroup v2 hierarchy (``/sys/fs/cgroup``, or ``/sys/fs/cgroup/unified`` in hybrid mode)."""
    try:
        with open(mountinfo) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        head, sep, tail = line.partition(" - ")
        if sep and tail.split(" ", 1)[0] == "cgroup2":
            fields = head.split(" ")
            if len(fields) >= 5:
                return fields[4].replace("\\040", " ")
    return None


def v2_path(cgroup_text: str) -> Optional[str]:
    """The cgroup v2 path (the ``0::/path`` line) of ``/proc/<pid>/cgroup``, or None."""
    for line in cgroup_text.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def cgroup_id(mount: str, path: str) -> Optional[int]:
    """The id of cgroup ``path`` (relative to the v2 ``mount``), or None when it is gone."""
    try:
        return os.stat(os.path.join(mount, path.lstrip("/"))).st_ino
    except OSError:
        return None
