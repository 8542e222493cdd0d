# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The extra variables a watched object's role receives, as upstream's ansible-operator builds them.

* every key of ``spec`` (recursively, also inside lists) converted camelCase -> snake_case
  with upstream's rules (``enableSelinux`` -> ``enable_selinux``, ``JSONData`` -> ``_json_data``,
  ``egressIPs`` -> ``egress_ips``), unless the watch sets ``snakeCaseParameters: false``;
* ``ansible_operator_meta: {name, namespace}``;
* ``_<group>_<kind>`` (the whole object as read) and ``_<group>_<kind>_spec`` (the raw spec),
  with ``.`` and ``-`` of the group as ``_`` and the kind in lower case;
* the watch's ``vars``, then (on a finalizer run) the finalizer's ``vars``, overriding the above;
* with ``markUnsafe: true`` every string of the spec-derived values wrapped as
  ``{"__ansible_unsafe": ...}`` so Jinja never evaluates user input.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional

_NUMBER_SEQUENCE = re.compile(r"([a-zA-Z])(\d+)([a-zA-Z](\d+))")
# upstream's special words: the lower-case key and the spelling it looks for
WORD_MAPPING = {"http": "HTTP", "url": "URL", "ip": "IP"}
_SPECIAL_ORDER = ("HTTP", "URL", "IP")


def _add_word_boundaries_to_numbers(text: str) -> str:
    return _NUMBER_SEQUENCE.sub(r"\1 \2 \3", text)


def _preprocess_word_mapping(value: str) -> str:
    """Isolate HTTP/URL/IP (and their plurals) with underscores, as upstream does."""
    for word in _SPECIAL_ORDER:
        idx = value.find(word)
        if idx < 0:
            continue
        end = idx + len(word)
        if end - 1 == len(value) - 1:
            value = value[:idx] + "_" + value[idx:]
        elif value[end] == "s":
            if end == len(value) - 1:
                value = value[:idx] + "_" + value[idx:end] + "S"
            elif idx == 0:
                value = value[:end] + "S" + "_" + value[end + 1:]
            else:
                value = value[:idx] + "_" + value[idx:end] + "S" + "_" + value[end + 1:]
        elif idx == 0:
            value = value[:end] + "_" + value[end:]
        else:
            value = value[:idx] + "_" + value[idx:end] + "_" + value[end:]
    return value


def _upper(char: str) -> bool:
    return "A" <= char <= "Z"


def _lower(char: str) -> bool:
    return "a" <= char <= "z"


def to_snake(text: str) -> str:
    """camelCase -> snake_case exactly as operator-sdk's paramconv.ToSnake."""
    text = _add_word_boundaries_to_numbers(text).strip(" ")
    if not text:
        return text
    prefix = "_" if _upper(text[0]) else ""
    text = _preprocess_word_mapping(text)
    bits = []
    current = ""
    i_real = -1
    for i, char in enumerate(text):
        i_real += 1
        case_changes = False
        if i + 1 < len(text):
            nxt = text[i + 1]
            case_changes = (_upper(char) and _lower(nxt)) or (_lower(char) and _upper(nxt))
        if i_real > 0 and current and current[-1] != "_" and case_changes:
            if _upper(char):
                bits.append(current.lower())
                current = char
                i_real = 0
            elif _lower(char):
                bits.append((current + char).lower())
                current = ""
                i_real = -1
        elif char in (" ", "_", "-"):
            bits.append(current.lower())
            current = ""
            i_real = -1
        else:
            current += char
    bits.append(current.lower())
    joined = "_".join(bits)
    if bits[0] not in WORD_MAPPING:
        return prefix + joined
    return joined


def convert_keys(value: Any) -> Any:
    """``value`` with every mapping key converted by :func:`to_snake`, through nested lists and mappings."""
    if isinstance(value, dict):
        return {to_snake(k) if isinstance(k, str) else k: convert_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_keys(v) for v in value]
    return value


def mark_unsafe(value: Any) -> Any:
    """Every string inside ``value`` as ``{"__ansible_unsafe": string}`` (Ansible's unsafe marker in JSON)."""
    if isinstance(value, dict):
        return {k: mark_unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mark_unsafe(v) for v in value]
    if isinstance(value, str):
        return {"__ansible_unsafe": value}
    return value


def escape_key(key: str) -> str:
    """A variable name Ansible can reach: ``.`` and ``-`` become ``_``."""
    return key.replace(".", "_").replace("-", "_")


def object_var_name(group: str, kind: str) -> str:
    """``_<group>_<kind>``: the variable holding the whole watched object."""
    return escape_key("_%s_%s" % (group, kind.lower()))


def extra_vars(obj: Mapping[str, Any], group: str, kind: str, snake_case: bool = True, unsafe: bool = False,
               watch_vars: Optional[Mapping[str, Any]] = None,
               finalizer_vars: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The extra vars of one run for ``obj`` (``finalizer_vars`` only on a finalizer run)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    if snake_case:
        params: Dict[str, Any] = convert_keys(spec)
    else:
        params = dict(spec)
    if unsafe:
        params = {k: mark_unsafe(v) for k, v in params.items()}
    metadata = obj.get("metadata") or {}
    params["ansible_operator_meta"] = {"name": metadata.get("name", ""), "namespace": metadata.get("namespace", "")}
    obj_key = object_var_name(group, kind)
    params[obj_key] = mark_unsafe(dict(obj)) if unsafe else dict(obj)
    params[obj_key + "_spec"] = mark_unsafe(spec) if unsafe else spec
    params.update(watch_vars or {})
    params.update(finalizer_vars or {})
    return params
