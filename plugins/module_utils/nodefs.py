# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Safe paths and atomic writes of profile files on a node.

A profile file is never half-written: content goes to a temporary file in
the destination directory, is fsync'ed, then renamed over the target, and
the directory is fsync'ed.  A killed writer leaves at most a stray
``.<name>.*.tmp`` file (cleaned up on the next write), never a partial or
empty profile.
"""
from __future__ import annotations

import errno
import os
import tempfile
from typing import Iterable, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

TMP_SUFFIX = ".tmp"


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


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(directory: str, name: str) -> None:
    prefix = "." + name + "."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefix) and entry.endswith(TMP_SUFFIX):
            try:
                os.unlink(os.path.join(directory, entry))
            except OSError:
                pass


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync dir)."""
    atomic_write_many([(path, data)], mode=mode)


def atomic_write_many(items: Iterable[Tuple[str, bytes]], mode: int = 0o644) -> None:
    """Write many files, each atomically; directories are fsync'ed once each.

    Every file is complete on disk before it is renamed into place, so a
    crash at any point leaves each target either old or new, never partial.
    """
    directories = set()
    for path, data in items:
        directory, name = os.path.split(path)
        _remove_stale_temps(directory, name)
        fd, tmp = tempfile.mkstemp(prefix="." + name + ".", suffix=TMP_SUFFIX, dir=directory)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fchmod(fd, mode)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        directories.add(directory)
    for directory in directories:
        _fsync_dir(directory)


def remove(path: str) -> bool:
    """Remove ``path`` if present (and fsync its directory); True if it existed."""
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise
    _fsync_dir(os.path.dirname(path))
    return True
