# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JSON enricher's line filters, in upstream's format (the SPOD's ``jsonEnricherFilters``, a JSON string).

A JSON array of filters ``{"priority": int, "level": "Metadata"|"None", "matchKeys": [key, ...],
"matchValues": [text, ...]}``.  Filters are tried by ascending priority (lower first; equal priorities keep their
order); the first one with a matching key decides: ``Metadata`` logs the line, ``None`` drops it.  No match: the
line is logged.  A key names a field of the line; ``a/b`` a field ``b`` of the object ``a`` (``resource/pod``).
Without ``matchValues`` the key's presence matches; with them, the field's value must equal one of the texts (a
number equals a text that reads as that integer).

The text comes from a SPOD: it is bounded (:data:`MAX_TEXT`, :data:`MAX_FILTERS`, :data:`MAX_ITEMS` keys and values
per filter) and every error names the field.
"""
from __future__ import annotations

import json
from typing import Any, List, Mapping, Optional, Sequence

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

METADATA = "Metadata"
NONE = "None"
MAX_TEXT = 64 << 10
MAX_FILTERS = 64
MAX_ITEMS = 256
MAX_DEPTH = 4


class Filter(object):
    __slots__ = ("priority", "level", "keys", "values")

    def __init__(self, priority: int, level: str, keys: Sequence[Sequence[str]], values: Optional[Sequence[str]]) -> None:
        self.priority = priority
        self.level = level
        self.keys = [list(k) for k in keys]
        self.values = list(values) if values else None

    def matches(self, line: Mapping[str, Any]) -> bool:
        return any(self._match(path, line) for path in self.keys)

    def _match(self, path: Sequence[str], line: Mapping[str, Any]) -> bool:
        value: Any = line
        for part in path:
            if not isinstance(value, Mapping) or part not in value:
                return False
            value = value[part]
        if self.values is None:
            return True
        return any(_equal(value, text) for text in self.values)


def _equal(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return value == text
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return int(text, 10) == value
        except ValueError:
            return False
    return False


def parse(text: Optional[str], field: str = "spec.jsonEnricherFilters", ref: str = "") -> List[Filter]:
    """The filters of ``text`` sorted by priority (empty or None: no filter)."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return []
    if not isinstance(text, str):
        raise SpoError("must be a JSON text (a string)", ref, field)
    if len(text) > MAX_TEXT:
        raise SpoError("is longer than %d characters" % MAX_TEXT, ref, field)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SpoError("is not JSON: %s" % exc, ref, field)
    if not isinstance(data, list):
        raise SpoError("must be a JSON array of filters", ref, field)
    if len(data) > MAX_FILTERS:
        raise SpoError("has more than %d filters" % MAX_FILTERS, ref, field)
    found: List[Filter] = []
    for index, item in enumerate(data):
        where = "%s[%d]" % (field, index)
        if not isinstance(item, dict):
            raise SpoError("must be an object", ref, where)
        unknown = sorted(set(item) - {"priority", "level", "matchKeys", "matchValues"})
        if unknown:
            raise SpoError("unknown key(s) %s" % ", ".join(unknown), ref, where)
        priority = item.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise SpoError("must be an integer", ref, where + ".priority")
        level = item.get("level")
        if level not in (METADATA, NONE):
            raise SpoError("must be Metadata or None, got %r" % (level,), ref, where + ".level")
        keys = item.get("matchKeys")
        if not isinstance(keys, list) or not keys or len(keys) > MAX_ITEMS \
                or not all(isinstance(k, str) and k for k in keys):
            raise SpoError("must be a list of 1 to %d non-empty strings" % MAX_ITEMS, ref, where + ".matchKeys")
        paths = [key.split("/", MAX_DEPTH - 1) for key in keys]
        values = item.get("matchValues")
        if values is not None and (not isinstance(values, list) or len(values) > MAX_ITEMS
                                   or not all(isinstance(v, str) for v in values)):
            raise SpoError("must be a list of at most %d strings" % MAX_ITEMS, ref, where + ".matchValues")
        found.append(Filter(priority, level, paths, values))
    return sorted(found, key=lambda f: f.priority)


def level(line: Mapping[str, Any], filters: Sequence[Filter]) -> str:
    """``Metadata`` (log the line) or ``None`` (drop it): the first filter, by priority, whose key matches."""
    for item in filters:
        if item.matches(line):
            return item.level
    return METADATA
