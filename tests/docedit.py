# -*- coding: utf-8 -*-
"""Edit a nested document (a manifest as dicts and lists) at a path: the data-driven tests' one way to make a
bad variant of a good object."""
from __future__ import annotations

from typing import Any, Sequence

DELETE = KeyError  # as the value: remove the key instead of setting it


def set_at(doc: Any, path: Sequence[Any], value: Any) -> Any:
    """Set ``doc[path[0]]...[path[-1]] = value`` in place (``DELETE``: remove that key); give ``doc``."""
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc
