# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files of the collection a command needs: its imports, followed through the collection, as one unit.

A daemon deployed to hosts (``spo-selinuxd``: roles/selinuxd) is shipped as the closure of its entry file, so no
list of files is kept by hand and a new import is shipped with it. Imports are read from the source (``ast``,
also those inside functions); what is not of the collection (``ansible_collections.spo.security_profiles.*``) or
of ``spo_cli`` is the host's (the standard library). Each package on the way brings its ``__init__.py``.
"""
from __future__ import annotations

import ast
import os
from typing import Dict, List, Optional, Set

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

COLLECTION = "ansible_collections.spo.security_profiles"
LOCAL_PACKAGES = ("spo_cli",)  # top-level packages shipped beside the collection's tree


def _module_file(root: str, dotted: str) -> Optional[str]:
    """The file (relative to ``root``) of a module of the collection or of ``spo_cli``; None for others."""
    if dotted == COLLECTION or dotted.startswith(COLLECTION + "."):
        parts = dotted[len(COLLECTION) + 1:].split(".") if dotted != COLLECTION else []
    elif dotted.split(".")[0] in LOCAL_PACKAGES:
        parts = dotted.split(".")
    else:
        return None
    base = os.path.join(*parts) if parts else ""
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if candidate != ".py" and os.path.isfile(os.path.join(root, candidate)):
            return candidate
    return None


def _imports(path: str) -> Set[str]:
    """Every module ``path`` imports by absolute name; ``from pkg import name`` gives ``pkg`` and ``pkg.name``."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=path)
    found: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(node.module + "." + alias.name for alias in node.names if alias.name != "*")
    return found


def _packages(relative: str) -> List[str]:
    """The ``__init__.py`` of each package directory above ``relative`` that has one (namespace packages have none)."""
    out = []
    directory = os.path.dirname(relative)
    while directory:
        out.append(os.path.join(directory, "__init__.py"))
        directory = os.path.dirname(directory)
    return out


def closure(root: str, entry: str) -> List[str]:
    """The files (relative to the collection's root ``root``) that ``entry`` needs, itself included, sorted."""
    if not os.path.isfile(os.path.join(root, entry)):
        raise SpoError("no such file in the collection at %s" % root, entry)
    seen: Set[str] = set()
    todo = [entry]
    while todo:
        relative = todo.pop()
        if relative in seen:
            continue
        seen.add(relative)
        try:
            names = _imports(os.path.join(root, relative))
        except SyntaxError as exc:
            raise SpoError("cannot be read as Python: %s" % exc, relative) from None
        for name in names:
            found = _module_file(root, name)
            if found and found not in seen:
                todo.append(found)
    for relative in list(seen):
        seen.update(p for p in _packages(relative) if os.path.isfile(os.path.join(root, p)))
    return sorted(seen)


def pythonpath_layout(files: List[str]) -> List[Dict[str, str]]:
    """Where each file of a closure goes in a directory used as ``PYTHONPATH``: ``{src, dest}``, ``src`` relative
    to the collection's root, ``dest`` relative to that directory (the collection's files under
    ``ansible_collections/spo/security_profiles/``, ``spo_cli`` at the top)."""
    prefix = os.path.join(*COLLECTION.split("."))
    return [{"src": f, "dest": f if f.split(os.sep)[0] in LOCAL_PACKAGES else os.path.join(prefix, f)} for f in files]
