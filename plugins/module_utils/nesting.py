# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bounded nesting of profile documents (YAML / JSON text, and the objects built from it).

Parsers and walkers recurse once per level: libyaml's composer crashes the process (SIGSEGV) on a
flow sequence nested 100000 levels deep, PyYAML's and the json module's raise RecursionError near
1000.  No profile needs more than a few levels, so text and objects nested deeper than
:data:`MAX_DEPTH` are refused before anything recursive sees them.
"""
from __future__ import annotations

from typing import Any, List, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

MAX_DEPTH = 64
_OPEN = frozenset("[{")
_CLOSE = frozenset("]}")


def check_text(text: str, what: str) -> None:
    """Refuse YAML/JSON text whose flow collections (``[``, ``{``) nest deeper than MAX_DEPTH.

    Counted over the raw characters (quoted ones too): an over-count can only refuse a file holding
    more than MAX_DEPTH unclosed brackets inside strings, which no profile does.
    """
    depth = 0
    for char in text:
        if char in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise SpoError("%s nests collections more than %d levels deep" % (what, MAX_DEPTH))
        elif char in _CLOSE and depth:
            depth -= 1


def check_object(value: Any, what: str) -> None:
    """Refuse a loaded value nested deeper than MAX_DEPTH (iterative: any depth is measured safely)."""
    stack: List[Tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= MAX_DEPTH:
            raise SpoError("%s nests collections more than %d levels deep" % (what, MAX_DEPTH))
        stack.extend((child, depth + 1) for child in children)
