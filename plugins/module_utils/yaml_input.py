# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""YAML a user wrote, read with bounded cost: every door that loads user YAML goes through here.

YAML aliases share one node, so a few hundred bytes (the "billion laughs" file: ten anchors,
each a list of ten aliases of the previous one) stand for 10**9 items once anything walks the
result (validation, a JSON dump, a cache).  Before a document is built, its composed node graph
is measured as it would be expanded (each node once, memoised, so the measure costs the size of
the file): a document whose aliases add more than :data:`MAX_ALIAS_NODES` nodes to what is
written, that nests deeper than :data:`MAX_DEPTH`, or whose alias refers to itself, is refused
with :class:`YamlInputError` naming the file and the document.  Plain YAML without aliases
(every Kubernetes manifest) is unaffected.
"""
from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.spo.security_profiles.plugins.module_utils import nesting

# Nodes that aliases may add beyond the written ones, per document (a few shared blocks of a
# manifest stay far below; a billion-laughs file is far above at its third level).
MAX_ALIAS_NODES = 10000
# Nesting depth of collections: nesting's bound (Kubernetes objects nest a few tens deep).
MAX_DEPTH = nesting.MAX_DEPTH


class YamlInputError(ValueError):
    """Input refused: malformed YAML, or more costly than its size allows."""


def _yaml() -> Any:
    import yaml  # PyYAML: ansible-core requires it; imported late so targets without it can import this file
    return yaml


def _loader_class() -> Any:
    yaml = _yaml()
    return getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader


def _children(node: Any) -> List[Any]:
    yaml = _yaml()
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def expanded_size(node: Any, where: str) -> int:
    """Nodes of ``node`` once every alias is expanded (iterative; raises on a cycle or too deep nesting)."""
    sizes: Dict[int, int] = {}
    on_path = set()
    stack = [(node, False, 1)]
    while stack:
        current, done, depth = stack.pop()
        key = id(current)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(current))
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YamlInputError("%s: a YAML alias refers to the node that contains it (a recursive structure)" % where)
        if depth > MAX_DEPTH:
            raise YamlInputError("%s: YAML nested deeper than %d levels" % (where, MAX_DEPTH))
        on_path.add(key)
        stack.append((current, True, depth))
        for child in _children(current):
            if id(child) not in sizes:
                stack.append((child, False, depth + 1))
    return sizes[id(node)]


def _written_size(node: Any) -> int:
    seen = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        stack.extend(_children(current))
    return len(seen)


def check_node(node: Any, where: str) -> None:
    """Refuse a composed document whose aliases expand beyond the bound."""
    total = expanded_size(node, where)
    added = total - _written_size(node)
    if added > MAX_ALIAS_NODES:
        raise YamlInputError("%s: YAML aliases would expand the document to %d nodes (%d more than written; "
                             "at most %d may come from aliases): refused before building it"
                             % (where, total, added, MAX_ALIAS_NODES))


def check_depth(text: Any, where: str) -> None:
    """Refuse text whose collections nest deeper than MAX_DEPTH, counted over the parser's events.

    libyaml's parser keeps its own stack, but the composer that builds nodes recurses once per level
    and crashes the process (SIGSEGV) on ``- - - ...`` or ``[[[...`` a hundred thousand deep: the depth
    is known before any node is composed.
    """
    yaml = _yaml()
    loader = _loader_class()(text)
    opening = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
    closing = (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, opening):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlInputError("%s nests collections more than %d levels deep" % (where, MAX_DEPTH))
            elif isinstance(event, closing):
                depth -= 1
    except yaml.YAMLError as exc:
        raise YamlInputError("%s: malformed YAML: %s" % (where, exc))
    finally:
        loader.dispose()


def load_all(text: Any, where: str) -> List[Any]:
    """The documents of ``text`` (str, bytes or a file), each checked before it is built; empty ones dropped.

    ``where`` names the input in messages (a file name).  Raises :class:`YamlInputError`.
    """
    yaml = _yaml()
    if hasattr(text, "read"):
        text = text.read()
    check_depth(text, where)
    loader = _loader_class()(text)
    docs: List[Any] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            check_node(node, "%s: document %d" % (where, index))
            docs.append(loader.construct_document(node))
            index += 1
    except yaml.YAMLError as exc:
        raise YamlInputError("%s: malformed YAML: %s" % (where, exc))
    except RecursionError:
        raise YamlInputError("%s: YAML nested too deeply" % where)
    finally:
        loader.dispose()
    return [doc for doc in docs if doc is not None]


def load_one(text: Any, where: str) -> Any:
    """The single document of ``text`` (None when empty); more than one is an error."""
    docs = load_all(text, where)
    if len(docs) > 1:
        raise YamlInputError("%s: expected one YAML document, found %d" % (where, len(docs)))
    return docs[0] if docs else None
