# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe paths and atomic writes of profile files on a node.

A profile file is never half-written: content goes to a temporary file in
the destination directory, is flushed to disk (fsync, or one syncfs for a
batch), then renamed over the target, and the directory is fsync'ed.  A
killed writer leaves at most a stray ``.<name>.*.tmp`` file (cleaned up on
the next write), never a partial or empty profile.  The temporary name is cut to fit NAME_MAX
whatever the target's name (a 255-byte file name still gets a 255-byte temporary one).
"""
from __future__ import annotations

import errno
import os
import tempfile
from typing import Dict, Iterable, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

TMP_SUFFIX = ".tmp"
NAME_MAX = 255  # bytes of one file name (Linux)
# a temporary name is "." + (the target's name, cut) + "." + mkstemp's 8 random characters + ".tmp"
_TEMP_STEM_MAX = NAME_MAX - len("..") - 8 - len(TMP_SUFFIX)


def temp_prefix(name: str) -> str:
    """The prefix of ``name``'s temporary files: the name cut so the temporary name fits NAME_MAX."""
    stem = name.encode("utf-8")[:_TEMP_STEM_MAX].decode("utf-8", "ignore")
    return "." + stem + "."


def safe_join(root: str, *parts: str) -> str:
    """Join ``parts`` under ``root``, refusing anything that could leave it.

    Each part must be a single, non-empty path component without '/', NUL,
    or a leading '.'; the callers validate names as DNS-1123 first, this is
    the last line of defence.
    """
    for part in parts:
        if not part or "/" in part or "\0" in part or part.startswith("."):
            raise SpoError("unsafe path component %r" % (part,))
    path = os.path.join(root, *parts)
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(os.path.dirname(path))
    if real_parent != real_root and not real_parent.startswith(real_root.rstrip("/") + "/"):
        raise SpoError("path %s resolves outside %s" % (path, root))
    return path


def read_bytes(path: str) -> Optional[bytes]:
    """Content of ``path``, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IOError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise


def makedirs(path: str, mode: int = 0o755) -> List[str]:
    """Create ``path`` and missing parents; return the directories created."""
    created = []
    missing = []
    head = os.path.abspath(path)
    while head and not os.path.isdir(head):
        missing.append(head)
        head = os.path.dirname(head)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, mode)
            created.append(directory)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
    return created


def _fsync_path(path: str) -> None:
    """fsync a file or a directory."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(directory: str, names: Iterable[str]) -> None:
    """Remove the temporary files a killed writer of ``names`` left in ``directory`` (one listing)."""
    prefixes = tuple(temp_prefix(name) for name in names)
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefixes) and entry.endswith(TMP_SUFFIX):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def _syncfs(directory: str) -> bool:
    """Flush the filesystem holding ``directory`` (Linux ``syncfs``); False where that is not available."""
    func = getattr(_libc(), "syncfs", None)
    if func is None:
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        return func(fd) == 0
    finally:
        os.close(fd)


_LIBC: List[object] = []


def _libc() -> object:
    if not _LIBC:
        try:
            import ctypes
            _LIBC.append(ctypes.CDLL(None, use_errno=True))
        except (ImportError, OSError):
            _LIBC.append(None)
    return _LIBC[0]


# below this many files, one fsync each costs less than flushing the whole filesystem
SYNCFS_FROM = 16


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync dir)."""
    atomic_write_many([(path, data)], mode=mode)


def atomic_write_many(items: Iterable[Tuple[str, bytes]], mode: int = 0o644) -> None:
    """Write many files, each atomically; directories are listed and fsync'ed once each.

    Every file is complete on disk before any is renamed into place (a batch is flushed with one
    ``syncfs`` per filesystem instead of one fsync per file), so a crash at any point leaves each
    target either old or new, never partial; a failed write renames nothing.
    """
    items = list(items)
    by_directory: Dict[str, List[str]] = {}
    for path, _data in items:
        directory, name = os.path.split(path)
        by_directory.setdefault(directory, []).append(name)
    for directory, names in by_directory.items():
        _remove_stale_temps(directory, names)
    batch = len(items) >= SYNCFS_FROM
    temps: List[Tuple[str, str]] = []
    try:
        for path, data in items:
            directory, name = os.path.split(path)
            fd, tmp = tempfile.mkstemp(prefix=temp_prefix(name), suffix=TMP_SUFFIX, dir=directory)
            temps.append((tmp, path))
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fchmod(fd, mode)
                if not batch:
                    os.fsync(fd)
            finally:
                os.close(fd)
        if batch:
            devices = {os.stat(directory).st_dev: directory for directory in by_directory}
            if not all(_syncfs(directory) for directory in devices.values()):
                for tmp, _path in temps:
                    _fsync_path(tmp)
        for index, (tmp, path) in enumerate(temps):
            os.rename(tmp, path)
            temps[index] = ("", path)
    except BaseException:
        for tmp, _path in temps:
            if tmp:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
        raise
    for directory in by_directory:
        _fsync_path(directory)


def remove(path: str) -> bool:
    """Remove ``path`` if present (and fsync its directory); True if it existed."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    _fsync_path(os.path.dirname(path))
    return True
