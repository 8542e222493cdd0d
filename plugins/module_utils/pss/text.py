# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small text rules of the API server's Pod Security messages.

* ``quote`` is Go's ``strconv.Quote`` (what ``%q`` prints): double quotes, backslash escapes for
  ``"`` and ``\\``, the named escapes ``\\a \\b \\f \\n \\r \\t \\v``, ``\\xNN`` for other ASCII
  control characters and DEL, ``\\uNNNN`` / ``\\UNNNNNNNN`` for other non-printable characters;
  printable Unicode is kept as is (Go's and Python's notion of printable agree: letters, marks,
  numbers, punctuation, symbols and the ASCII space).
* ``join_quote`` wraps each item in plain double quotes (no escaping) and joins with ``, ``.
* ``pluralize`` picks the singular for exactly one item.
"""
from __future__ import annotations

from typing import Iterable, List

_NAMED = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
          "\\": "\\\\", '"': '\\"'}


def quote(text: str) -> str:
    """Go ``strconv.Quote``."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out: List[str] = ['"']
    for char in text:
        named = _NAMED.get(char)
        if named is not None:
            out.append(named)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code < 0x20 or code == 0x7F:
                out.append("\\x%02x" % code)
            elif code < 0x10000:
                out.append("\\u%04x" % code)
            else:
                out.append("\\U%08x" % code)
    out.append('"')
    return "".join(out)


def join_quote(items: Iterable[str]) -> str:
    """``"a", "b"`` (each item in double quotes, no escaping); empty for no items."""
    items = list(items)
    if not items:
        return ""
    return '"' + '", "'.join(items) + '"'


def pluralize(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural
