# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side: the SeccompProfiles shipped in the collection (profiles/seccomp/).

They can be named by ``spec.baseProfileName`` from any namespace.  Read once
per controller process with PyYAML (controller only: the module gets them
as plain data in its ``base_profiles`` option).
"""
from __future__ import annotations

import functools
import os
from typing import Any, Dict, List

from ansible_collections.spo.security_profiles.plugins.plugin_utils.src_action import load_path

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED_DIR = os.path.join(COLLECTION_ROOT, "profiles", "seccomp")


@functools.lru_cache(maxsize=1)
def _shipped() -> tuple:
    if not os.path.isdir(SHIPPED_DIR):
        return ()
    return tuple(load_path(SHIPPED_DIR))


def shipped_profiles() -> List[Dict[str, Any]]:
    """The shipped SeccompProfile manifests (fresh copies the caller may keep)."""
    import copy
    return [copy.deepcopy(doc) for doc in _shipped()]
