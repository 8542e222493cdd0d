# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The eBPF recorder's syscall sets on the node's disk, so a restarted recorder goes on where it was.

One small file per recorded container: ``<state_dir>/containers/<container ID>.json`` =
``{"syscalls": [names], "records": N, "updated": <unix time>}``, written atomically (temporary file, fsync,
rename, fsync of the directory: :func:`nodefs.atomic_write_many`), so a crash at any moment leaves the old or
the new set, never a torn one.  :meth:`SetStore.load` reads them back at start; a file that is not a set (not
JSON, wrong shape, over :data:`MAX_FILE` bytes, more than :data:`MAX_NAMES` names, a name that is no syscall
name, a file name that is no container ID) is reported and removed, never fatal.  Size is bounded: names are
syscall names (a few hundred exist), files are at most one per container the recorder keeps.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import (
    TMP_SUFFIX, atomic_write_many, makedirs)

MAX_FILE = 64 << 10
MAX_NAMES = 1024
SUFFIX = ".json"
_CID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.-]{0,127}$")
_SYSCALL = re.compile(r"^[a-z0-9_]{1,64}$")

Entry = Dict[str, Any]


def valid_key(cid: str) -> bool:
    """A container ID that may name a file (runtimes' IDs are 64 hex digits)."""
    return isinstance(cid, str) and bool(_CID.match(cid)) and not cid.endswith(SUFFIX)


def encode(entry: Mapping[str, Any]) -> bytes:
    return json.dumps({"syscalls": sorted(entry["syscalls"]), "records": int(entry.get("records", 0)),
                       "updated": float(entry.get("updated", 0.0))}, sort_keys=True).encode("utf-8")


def decode(raw: bytes) -> Entry:
    """The entry in ``raw``; ValueError saying what is wrong."""
    if len(raw) > MAX_FILE:
        raise ValueError("over %d bytes" % MAX_FILE)
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise ValueError("not JSON (%s)" % exc)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    names = data.get("syscalls")
    if not isinstance(names, list) or len(names) > MAX_NAMES:
        raise ValueError("syscalls: not a list of at most %d names" % MAX_NAMES)
    for name in names:
        if not isinstance(name, str) or not _SYSCALL.match(name):
            raise ValueError("syscalls: %r is no syscall name" % (name,))
    records, updated = data.get("records", 0), data.get("updated", 0.0)
    if isinstance(records, bool) or not isinstance(records, int) or records < 0:
        raise ValueError("records: not a count")
    if isinstance(updated, bool) or not isinstance(updated, (int, float)) or updated < 0:
        raise ValueError("updated: not a time")
    return {"syscalls": set(names), "records": records, "updated": float(updated)}


class SetStore(object):
    """Per-container sets of one recorder under ``state_dir``/containers."""

    def __init__(self, state_dir: str) -> None:
        self.state_dir = state_dir
        self.directory = os.path.join(state_dir, "containers")

    def path(self, cid: str) -> str:
        if not valid_key(cid):
            raise ValueError("not a container ID: %r" % (cid,))
        return os.path.join(self.directory, cid + SUFFIX)

    def save(self, entries: Mapping[str, Mapping[str, Any]]) -> None:
        """Write the sets of ``entries`` (container ID -> entry), each file atomically; OSError when it fails."""
        items: List[Tuple[str, bytes]] = [(self.path(cid), encode(entry)) for cid, entry in sorted(entries.items())
                                          if valid_key(cid)]
        if not items:
            return
        makedirs(self.directory, 0o700)
        atomic_write_many(items, mode=0o600)

    def remove(self, cid: str) -> None:
        if not valid_key(cid):
            return
        try:
            os.unlink(self.path(cid))
        except OSError:
            pass

    def load(self, limit: Optional[int] = None) -> Tuple[Dict[str, Entry], List[str]]:
        """(container ID -> entry, problems). Bad files are removed and named in the problems; at most ``limit``
        entries (the most recently updated) are returned, the others' files removed."""
        found: Dict[str, Entry] = {}
        problems: List[str] = []
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return found, problems
        for name in names:
            path = os.path.join(self.directory, name)
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                _unlink(path)  # a write a crash cut short: the file it was for is whole (old or new)
                continue
            cid = name[:-len(SUFFIX)] if name.endswith(SUFFIX) else ""
            try:
                if not valid_key(cid):
                    raise ValueError("not <container ID>%s" % SUFFIX)
                found[cid] = decode(_read_bounded(path))
            except (OSError, ValueError) as exc:
                problems.append("%s: %s; ignored and removed" % (path, exc))
                _unlink(path)
        if limit is not None and len(found) > limit:
            keep = sorted(found, key=lambda c: found[c]["updated"], reverse=True)[:limit]
            for cid in set(found) - set(keep):
                problems.append("%s: more than %d sets kept; removed" % (self.path(cid), limit))
                self.remove(cid)
                del found[cid]
        return found, problems

    def keys(self) -> Iterable[str]:
        try:
            return [n[:-len(SUFFIX)] for n in os.listdir(self.directory) if n.endswith(SUFFIX)]
        except OSError:
            return []


def _read_bounded(path: str) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise ValueError("over %d bytes" % MAX_FILE)
    return data


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
