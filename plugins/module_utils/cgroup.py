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

import re
from typing import Dict, Iterable, Optional

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
