# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One top-level setting of a kubelet's KubeletConfiguration file (``seccompDefault``), edited in place.

Read, compare, write: the file is read, the wanted text computed, and written (atomically, mode
kept) only when it differs, so ``changed`` is truthful and a second run is a no-op.  The edit is
textual so that comments and layout survive: a top-level ``key: value`` line is replaced (or
removed for the reverse), or the line is appended.  The result is parsed again and must equal the
original document with only that key changed — otherwise (flow-style or JSON files, anchors,
multi-line values) the document is rewritten as JSON (valid YAML, which the kubelet reads), keeping
every other key.  A file that is not a KubeletConfiguration mapping is an error naming the file and
the field.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, NamedTuple, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.yaml_input import YamlInputError, load_one

KIND = "KubeletConfiguration"
API_VERSION = "kubelet.config.k8s.io/v1beta1"
ABSENT = object()


class Edit(NamedTuple):
    before: str
    after: str
    previous: Any  # the key's value before (ABSENT: not set)
    changed: bool


def _load(text: str, path: str) -> Dict[str, Any]:
    try:
        doc = load_one(text, path) if text.strip() else {}
    except YamlInputError as exc:
        raise SpoError("is not valid YAML: %s" % str(exc)[len(path) + 2:].replace("\n", " "), obj=path)
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise SpoError("must be a mapping (a KubeletConfiguration), got %s" % type(doc).__name__, obj=path)
    kind = doc.get("kind")
    if kind is not None and kind != KIND:
        raise SpoError("must be %r, got %r" % (KIND, kind), obj=path, field="kind")
    return doc


def _yaml_scalar(value: Any) -> str:
    return json.dumps(value)  # true/false, numbers and quoted strings are YAML too


def edit_text(text: str, key: str, value: Any, path: str = "<kubelet config>") -> str:
    """``text`` with top-level ``key`` set to ``value`` (``ABSENT``: removed)."""
    doc = _load(text, path)
    want = dict(doc)
    if value is ABSENT:
        want.pop(key, None)
    else:
        want[key] = value
    if value is ABSENT and key not in doc:
        return text
    if value is not ABSENT and key in doc and json.dumps(doc[key]) == json.dumps(value):
        return text  # (type-strict: 1 is not true)
    if not text.strip():
        want.setdefault("apiVersion", API_VERSION)
        want.setdefault("kind", KIND)
    pattern = re.compile(r"^%s[ \t]*:[^\n]*(\n|$)" % re.escape(key), re.MULTILINE)
    found = pattern.findall(text)
    if value is ABSENT:
        candidate = pattern.sub("", text, count=1) if len(found) == 1 else None
    elif len(found) == 1:
        candidate = pattern.sub(lambda m: "%s: %s%s" % (key, _yaml_scalar(value), m.group(1)), text, count=1)
    elif not found and text.strip() and not text.lstrip().startswith("{"):
        candidate = text + ("" if text.endswith("\n") else "\n") + "%s: %s\n" % (key, _yaml_scalar(value))
    else:
        candidate = None
    if candidate is not None:
        try:
            if _load(candidate, path) == want:
                return candidate
        except SpoError:
            pass
    return json.dumps(want, indent=2, sort_keys=False) + "\n"


def set_key(path: str, key: str, value: Any, check_mode: bool = False, create: bool = False) -> Edit:
    """Set (or with ``ABSENT`` remove) ``key`` in the kubelet config file at ``path``."""
    raw = nodefs.read_bytes(path)
    if raw is None:
        if not create or value is ABSENT:
            if value is ABSENT:
                return Edit("", "", ABSENT, False)
            raise SpoError("does not exist (set create to make a new KubeletConfiguration)", obj=path)
        before = ""
    else:
        try:
            before = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SpoError("is not UTF-8 text", obj=path)
    doc = _load(before, path)
    previous = doc.get(key, ABSENT)
    after = edit_text(before, key, value, path)
    changed = after != before
    if changed and not check_mode:
        mode = 0o644
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            pass
        nodefs.atomic_write(os.path.realpath(path), after.encode("utf-8"), mode)  # a symlink stays one
    return Edit(before, after, previous, changed)


def value_of(edit: Edit) -> Optional[Any]:
    return None if edit.previous is ABSENT else edit.previous
