# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A log file rotated by size, with a bounded number and age of rotated files (the JSON enricher's file).

Upstream's semantics (its writer is lumberjack): lines are appended to the file (an existing file is continued);
a line that would take the file past ``max_bytes`` first moves the file aside as ``<stem>-<UTC time><ext>``
(``audit-2026-12-07T22-15-04.123.log``) and starts a new one; then rotated files whose name's time is older than
``max_age`` seconds are removed, and of the rest only the newest ``max_backups`` are kept (0: no limit by count, no
limit by age). A single line longer than ``max_bytes`` is written whole into a fresh file.

Nothing is followed: the directory is opened with ``O_NOFOLLOW`` and every file operation is relative to it
(a symlink in the directory's place, or at the file's name, is refused, ``ELOOP``); the file must be a regular
file (a FIFO or device at its name is refused, never blocked on). Files are created mode 0600 (the lines carry
command lines). Rotated files are found by name only (``<stem>-<time><ext>``), so other files of the directory are
never touched. Also :meth:`prune` runs from time to time (``prune_every``), so an idle log's old files go too.

In the DaemonSet the directory is a hostPath volume, and the kubelet follows a symlink on the node when it mounts
one: :func:`host_symlink` looks at the node's own tree (``/proc/1/root`` of the host's PID namespace) for a symlink
among the directory's components, and the log enricher refuses to start on one.
"""
from __future__ import annotations

import datetime
import errno
import os
import re
import stat
import time
from typing import Callable, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

TIME_FORMAT = "%Y-%m-%dT%H-%M-%S"


def _now() -> float:
    return time.time()


class RotatingLog(object):
    """Appends lines to ``path`` with rotation; ``clock`` (seconds since the epoch) for tests."""

    def __init__(self, path: str, max_bytes: int, max_backups: int = 0, max_age: float = 0.0,
                 clock: Callable[[], float] = _now, prune_every: float = 3600.0) -> None:
        if max_bytes <= 0:
            raise SpoError("the maximum size must be positive", path)
        self.path = path
        self.directory, self.name = os.path.split(path)
        if not self.directory or not self.name:
            raise SpoError("must be a file in a directory", path)
        self.stem, self.ext = os.path.splitext(self.name)
        self.max_bytes = max_bytes
        self.max_backups = max_backups
        self.max_age = max_age
        self.clock = clock
        self.prune_every = prune_every
        stamp = r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3})"
        self._backup = re.compile("^%s-%s%s\\Z" % (re.escape(self.stem), stamp, re.escape(self.ext)))
        self.dir_fd = self._open_dir()
        self.fd = -1
        self.size = 0
        self.rotations = 0
        self.last_prune = self.clock()
        self._open()
        self.prune()

    def _open_dir(self) -> int:
        try:
            return os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise SpoError("cannot open its directory (a symlink is refused): %s" % (exc.strerror or exc), self.path)

    def _open(self) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        try:
            fd = os.open(self.name, flags, 0o600, dir_fd=self.dir_fd)
        except OSError as exc:
            why = "a symlink is refused" if exc.errno == errno.ELOOP else (exc.strerror or str(exc))
            raise SpoError("cannot open: %s" % why, self.path)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise SpoError("is not a regular file", self.path)
        os.set_blocking(fd, True)
        self.fd = fd
        self.size = info.st_size

    def write(self, line: str) -> None:
        """Append ``line`` and a newline, rotating first when it would not fit."""
        data = line.encode("utf-8") + b"\n"
        if self.size > 0 and self.size + len(data) > self.max_bytes:
            self.rotate()
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)

    def tick(self) -> None:
        """Prune now and then, so that old rotated files of a quiet log go too."""
        if self.max_age > 0 and self.clock() - self.last_prune >= self.prune_every:
            self.prune()

    def rotate(self) -> None:
        """Move the file aside under a time-stamped name and start a new one; prune."""
        os.close(self.fd)
        self.fd = -1
        moment = self.clock()
        while True:
            target = self.backup_name(moment)
            try:
                os.stat(target, dir_fd=self.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                break
            moment += 0.001  # two rotations in one millisecond: the next free name
        os.rename(self.name, target, src_dir_fd=self.dir_fd, dst_dir_fd=self.dir_fd)
        self.rotations += 1
        self._open()
        self.prune()

    def backup_name(self, moment: float) -> str:
        when = datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc)
        return "%s-%s.%03d%s" % (self.stem, when.strftime(TIME_FORMAT), when.microsecond // 1000, self.ext)

    def backups(self) -> List[Tuple[float, str]]:
        """The rotated files of this log, ``(time in the name, name)``, newest first."""
        found = []
        for name in os.listdir(self.dir_fd):
            match = self._backup.match(name)
            if not match:
                continue
            stamp = datetime.datetime.strptime(match.group(1), TIME_FORMAT + ".%f")
            found.append((stamp.replace(tzinfo=datetime.timezone.utc).timestamp(), name))
        return sorted(found, reverse=True)

    def prune(self) -> List[str]:
        """Remove rotated files older than ``max_age`` and past the newest ``max_backups``; the names removed."""
        self.last_prune = self.clock()
        if not self.max_backups and not self.max_age:
            return []
        removed = []
        now = self.clock()
        for index, (moment, name) in enumerate(self.backups()):
            if (self.max_age and now - moment > self.max_age) or (self.max_backups and index >= self.max_backups):
                try:
                    os.unlink(name, dir_fd=self.dir_fd)
                    removed.append(name)
                except FileNotFoundError:
                    pass
        return removed

    def close(self) -> None:
        for fd in (self.fd, self.dir_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.dir_fd = -1


def host_symlink(host_root: str, path: str) -> Optional[str]:
    """The first component of ``path``'s directory that is a symlink in the tree at ``host_root`` (None: none, or
    not there yet); OSError when the tree cannot be read."""
    current = ""
    for part in os.path.dirname(path).strip("/").split("/"):
        current += "/" + part
        try:
            info = os.lstat(host_root.rstrip("/") + current)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            return current
    return None


def open_log(path: str, max_megabytes: int, max_backups: int, max_days: int,
             clock: Optional[Callable[[], float]] = None) -> RotatingLog:
    """The JSON enricher's file with the SPOD's units (megabytes, days)."""
    return RotatingLog(path, max_megabytes * 1024 * 1024, max_backups, max_days * 86400.0, clock or _now)
