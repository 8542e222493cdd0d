# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by modules (documented by doc_fragments/definition.py)."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from ansible_collections.spo.security_profiles.plugins.module_utils import nesting
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

DEFINITION_ARG_SPEC: Dict[str, Dict[str, Any]] = {
    "definition": {"type": "raw"},
    "src": {"type": "path"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}

DEFINITION_MUTUALLY_EXCLUSIVE = [("definition", "src")]
DEFINITION_REQUIRED_ONE_OF = [("definition", "src")]


def definitions_list(definition: Any, field: str = "definition") -> List[Dict[str, Any]]:
    """``definition`` as given (a dict, a list of dicts, a List kind, or a JSON text of those) -> list of dicts.

    The action plugins hand objects over as one JSON text: Ansible deep-copies
    nested option values while validating them, which costs far more than
    decoding one string when a call carries thousands of profiles.
    """
    if definition is None:
        return []
    if isinstance(definition, str):
        try:
            nesting.check_text(definition, "the JSON text")
            definition = json.loads(definition)
        except ValueError as exc:
            raise SpoError("a text value must be JSON (profile objects): %s" % exc, field=field)
        except SpoError as exc:
            raise SpoError(exc.message, field=field)
    else:
        try:
            nesting.check_object(definition, "the value")
        except SpoError as exc:
            raise SpoError(exc.message, field=field)
    if isinstance(definition, dict) and definition.get("kind") == "List" and isinstance(definition.get("items"), list):
        definition = definition["items"]
    if isinstance(definition, dict):
        return [definition]
    if isinstance(definition, list):
        for index, item in enumerate(definition):
            if not isinstance(item, dict):
                raise SpoError("must be a mapping (a profile object), got %s" % type(item).__name__,
                               field="%s[%d]" % (field, index))
        return list(definition)
    raise SpoError("must be a profile object or a list of them, got %s" % type(definition).__name__,
                   field=field)
