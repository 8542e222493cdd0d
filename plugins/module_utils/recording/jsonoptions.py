# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPOD's ``jsonEnricherOptions``, read and checked: where the JSON enricher writes and how often.

Upstream's meanings and defaults: ``auditLogIntervalSeconds`` (default 60) is the window over which a process's
events are grouped into one line, written when the window closes; ``auditLogPath`` (default: standard output) is
the file the lines go to, instead of standard output; ``auditLogMaxSize`` megabytes (default 100) rotate the file;
``auditLogMaxBackups`` rotated files are kept (default 0: all); ``auditLogMaxAge`` days a rotated file is kept
(default 0: forever). The three rotation fields apply only with a path.

The path is data, even from the cluster admin: it must be absolute and normal (no ``.``/``..`` component, no empty
one, no trailing slash), made of ``[A-Za-z0-9._-]`` names that do not start with a dot, under :data:`ROOT` in a
directory of its own (the DaemonSet mounts that directory, and only it, into the log-enricher container), and not
in a directory another writer owns (:data:`REFUSED_DIRS`). The CRD's schema says the same (pattern and a rule),
so the API server refuses such an object first; this is the check of the operator's side.
"""
from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

ROOT = "/var/log/"
# directories of /var/log whose files other writers own or read as theirs (auditd; the kubelet's pod and
# container logs, which log collectors read; journald)
REFUSED_DIRS = ("audit", "pods", "containers", "journal")
MAX_PATH = 255
PATH_RE = r"/var/log/([A-Za-z0-9_-][A-Za-z0-9._-]*/)+[A-Za-z0-9_-][A-Za-z0-9._-]*"
CRD_PATTERN = "^(|%s)$" % PATH_RE  # the CRD's pattern: the same, or empty (unset)
_PATH = re.compile(PATH_RE)

DEFAULT_INTERVAL = 60
DEFAULT_MAX_SIZE = 100
# schema maximums (the CRD says the same)
MAX_INTERVAL = 3600          # seconds
MAX_SIZE = 10240             # megabytes
MAX_BACKUPS = 1000           # files
MAX_AGE = 3650               # days
HOST_ROOT = "/proc/1/root"  # the node's tree, seen from the log enricher (hostPID)


def check_path(path: Any, field: str, ref: Optional[str] = None) -> str:
    """``path`` when it is a file the JSON enricher may write (see the module's rules); else an error naming it."""
    if not isinstance(path, str):
        raise SpoError("must be a string", ref, field)
    if len(path) > MAX_PATH:
        raise SpoError("must be at most %d characters" % MAX_PATH, ref, field)
    if not _PATH.fullmatch(path):
        raise SpoError("must be a normal absolute path in a directory under %s (names of [A-Za-z0-9._-] not starting "
                       "with a dot, no '..'), got %r" % (ROOT, path), ref, field)
    first = path[len(ROOT):].split("/", 1)[0]
    if first in REFUSED_DIRS:
        raise SpoError("must not be in %s%s (another writer's directory)" % (ROOT, first), ref, field)
    return path


def _int(options: Mapping[str, Any], key: str, low: int, high: int, default: int, field: str,
         ref: Optional[str]) -> int:
    value = options.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpoError("must be an integer", ref, "%s.%s" % (field, key))
    if not low <= value <= high:
        raise SpoError("must be between %d and %d, got %d" % (low, high, value), ref, "%s.%s" % (field, key))
    return value


class JsonOptions(object):
    """The checked options; ``path`` None: standard output."""

    __slots__ = ("interval", "path", "max_size", "max_backups", "max_age")

    def __init__(self, interval: int = DEFAULT_INTERVAL, path: Optional[str] = None,
                 max_size: int = DEFAULT_MAX_SIZE, max_backups: int = 0, max_age: int = 0) -> None:
        self.interval = interval
        self.path = path
        self.max_size = max_size
        self.max_backups = max_backups
        self.max_age = max_age

    def args(self) -> list:
        """The log enricher's command line arguments for these options."""
        out = ["--json-interval", str(self.interval)]
        if self.path is not None:
            out += ["--json-log-file", self.path, "--json-log-host-root", HOST_ROOT,
                    "--json-log-max-size", str(self.max_size), "--json-log-max-backups", str(self.max_backups),
                    "--json-log-max-age", str(self.max_age)]
        return out


def parse(options: Any, field: str = "spec.jsonEnricherOptions", ref: Optional[str] = None) -> JsonOptions:
    """``jsonEnricherOptions`` (None: the defaults) as :class:`JsonOptions`; an error names the bad field."""
    if options is None:
        return JsonOptions()
    if not isinstance(options, Mapping):
        raise SpoError("must be an object", ref, field)
    path = options.get("auditLogPath")
    return JsonOptions(
        interval=_int(options, "auditLogIntervalSeconds", 1, MAX_INTERVAL, DEFAULT_INTERVAL, field, ref),
        path=check_path(path, field + ".auditLogPath", ref) if path not in (None, "") else None,
        max_size=_int(options, "auditLogMaxSize", 1, MAX_SIZE, DEFAULT_MAX_SIZE, field, ref),
        max_backups=_int(options, "auditLogMaxBackups", 0, MAX_BACKUPS, 0, field, ref),
        max_age=_int(options, "auditLogMaxAge", 0, MAX_AGE, 0, field, ref))
