# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pod Security levels and policy versions (``latest`` or ``v1.N``), as the namespace labels spell them."""
from __future__ import annotations

import re
from typing import Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

PRIVILEGED = "privileged"
BASELINE = "baseline"
RESTRICTED = "restricted"
# least to most restrictive
LEVELS: Tuple[str, ...] = (PRIVILEGED, BASELINE, RESTRICTED)
LATEST = "latest"

_VERSION_RE = re.compile(r"^v1\.([0-9]|[1-9][0-9]*)$")

# A version is the minor number of Kubernetes 1.x; None means "latest" (newer than any number).
Minor = Optional[int]


def parse_level(level: str, field: str = "level") -> str:
    if level not in LEVELS:
        raise SpoError("must be one of %s, got %r" % (", ".join(LEVELS), level), field=field)
    return level


def parse_version(version: str, field: str = "version") -> Minor:
    """``latest`` -> None, ``v1.N`` -> N (no leading zeros, as the API server accepts)."""
    if version == LATEST:
        return None
    match = _VERSION_RE.match(version) if isinstance(version, str) else None
    if not match:
        raise SpoError('must be "latest" or "v1.x", got %r' % (version,), field=field)
    return int(match.group(1))


def version_text(minor: Minor) -> str:
    return LATEST if minor is None else "v1.%d" % minor


def level_index(level: str) -> int:
    return LEVELS.index(level)
