# -*- coding: utf-8 -*-
"""The host's SELinux policy store as CIL, for tests that compile against the node's real policy."""
from __future__ import annotations

import bz2
import os
from typing import List, Tuple

import pytest

STORE_MODULES = "/var/lib/selinux/default/active/modules"


def store_modules() -> List[Tuple[str, bytes]]:
    """CIL of the enabled modules of the policy store (highest priority each), the project's left out."""
    root = STORE_MODULES
    if not os.path.isdir(root):
        pytest.skip(reason="no SELinux reference policy store at %s (Debian selinux-policy-default)" % root)
    if not os.access(root, os.R_OK | os.X_OK):
        pytest.skip(reason="the policy store %s is root's (mode 0700); CI runs as root" % root)
    disabled_dir = os.path.join(root, "disabled")
    disabled = set(os.listdir(disabled_dir)) if os.path.isdir(disabled_dir) else set()
    chosen = {}
    for prio in sorted((p for p in os.listdir(root) if p.isdigit()), key=int):
        for name in os.listdir(os.path.join(root, prio)):
            chosen[name] = os.path.join(root, prio, name, "cil")
    texts = []
    for name, path in sorted(chosen.items()):
        if name in disabled or name.startswith("spo_"):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        texts.append((name, bz2.decompress(data) if data[:3] == b"BZh" else data))
    return texts
