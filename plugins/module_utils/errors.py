# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one exception type of the engine.

Every validation or runtime error raised by ``module_utils`` is a
:class:`SpoError`.  Doors (modules, filters, daemons) turn it into
``fail_json`` / ``AnsibleFilterError`` / a log line at their top level.
The message always names the object (``Kind namespace/name``) and the field
(a JSONPath-like ``spec.syscalls[2].names[0]``) when they are known.
"""
from __future__ import annotations

from typing import Optional


class SpoError(Exception):
    """An error the user can act on: names the object and the field."""

    def __init__(self, message: str, obj: Optional[str] = None, field: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj
        self.field = field

    def __str__(self) -> str:
        parts = []
        if self.obj:
            parts.append(self.obj)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)

    def within(self, obj: Optional[str] = None, field_prefix: Optional[str] = None) -> "SpoError":
        """Return a copy located inside ``obj`` and below ``field_prefix``."""
        field = self.field
        if field_prefix:
            field = field_prefix + ("." + field if field and not field.startswith("[") else (field or ""))
        return SpoError(self.message, obj=self.obj or obj, field=field)
