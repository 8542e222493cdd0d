# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of modules that take ``src``: read the YAML there.

The YAML file (or a directory of them) lives on the controller (like ``copy``'s src); it is parsed
here and handed to the module as ``definition``, so targets need only the
system Python.  Malformed YAML fails the task naming the file and position.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.spo.security_profiles.plugins.module_utils import nesting
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core requires PyYAML
    yaml = None


YAML_SUFFIXES = (".yaml", ".yml")
# libyaml's loader when PyYAML has it: ~10x faster on big batches (1000 profiles).
_SAFE_LOADER = getattr(yaml, "CSafeLoader", None) or getattr(yaml, "SafeLoader", None)


def load_path(path: str) -> List[Dict[str, Any]]:
    """Documents of a YAML file, or of every *.yaml/*.yml file of a directory (sorted, not recursive)."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, entry) for entry in os.listdir(path) if entry.endswith(YAML_SUFFIXES))
        if not files:
            raise AnsibleActionFail("src %s: directory has no *.yaml or *.yml files" % path)
        docs: List[Dict[str, Any]] = []
        for name in files:
            docs.extend(load_documents(name))
        return docs
    return load_documents(path)


def load_documents(path: str) -> List[Dict[str, Any]]:
    """All non-empty YAML documents of the file ``path`` (controller side)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except (IOError, OSError) as exc:
        raise AnsibleActionFail("src %s: cannot read: %s" % (path, exc))
    cached = _cache_get(data)
    if cached is not None:
        return cached
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AnsibleActionFail("src %s: not UTF-8 text: %s" % (path, exc))
    try:
        nesting.check_text(text, "src %s" % path)  # before libyaml, which crashes on deep nesting
        docs = [doc for doc in yaml.load_all(text, Loader=_SAFE_LOADER) if doc is not None]
        nesting.check_object(docs, "src %s" % path)
    except yaml.YAMLError as exc:
        raise AnsibleActionFail("src %s: malformed YAML: %s" % (path, exc))
    except (SpoError, RecursionError) as exc:
        raise AnsibleActionFail("%s" % exc if isinstance(exc, SpoError)
                                else "src %s: nested too deeply to be read" % path)
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise AnsibleActionFail("src %s: document %d must be a mapping (a profile object), got %s"
                                    % (path, index, type(doc).__name__))
    if not docs:
        raise AnsibleActionFail("src %s: no YAML documents found" % path)
    _cache_put(data, docs)
    return docs


# Parsed documents are kept on the controller keyed by the SHA-256 of the file's bytes, so an
# unchanged file is never parsed twice (libyaml builds Python objects at a few MB/s: 0.4 s for
# 1000 profiles) and a changed one can never be served stale.  SPO_SRC_CACHE_DIR names the
# directory; empty disables the cache.  Only documents that survive a JSON round trip unchanged
# are kept (a YAML date or a non-string key would not).
CACHE_MAX_ENTRIES = 20000


def _cache_dir() -> str:
    configured = os.environ.get("SPO_SRC_CACHE_DIR")
    if configured is not None:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "spo.security_profiles", "src")


def _cache_path(data: bytes) -> str:
    directory = _cache_dir()
    return os.path.join(directory, hashlib.sha256(data).hexdigest() + ".json") if directory else ""


def _cache_get(data: bytes) -> Optional[List[Dict[str, Any]]]:
    path = _cache_path(data)
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            docs = json.loads(handle.read())
    except (IOError, OSError, ValueError):
        return None
    return docs if isinstance(docs, list) and docs and all(isinstance(d, dict) for d in docs) else None


def _cache_put(data: bytes, docs: List[Dict[str, Any]]) -> None:
    path = _cache_path(data)
    if not path:
        return
    try:
        text = json.dumps(docs, separators=(",", ":"))
        if json.loads(text) != docs:
            return
        directory = os.path.dirname(path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
        _cache_prune(directory)
    except (IOError, OSError, TypeError, ValueError):
        return


def _cache_prune(directory: str) -> None:
    """Keep the cache bounded: past CACHE_MAX_ENTRIES, drop the older half."""
    entries = [entry for entry in os.scandir(directory) if entry.name.endswith(".json")]
    if len(entries) <= CACHE_MAX_ENTRIES:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime)
    for entry in entries[:len(entries) // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def as_json_text(value: Any) -> Any:
    """Objects -> one JSON text for the module (see module_utils/args.py definitions_list)."""
    if isinstance(value, (list, dict)):
        try:
            return json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError):
            return value
    return value


class SrcActionModule(ActionBase):
    """Resolve ``src`` on the controller, then run the module of the same name."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()  # checked by the module itself

    def run(self, tmp=None, task_vars=None):
        result = super(SrcActionModule, self).run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        src = args.pop("src", None)
        if src is not None:
            if args.get("definition") is not None:
                raise AnsibleActionFail("parameters are mutually exclusive: definition|src")
            path = src if os.path.isabs(src) else self._find_needle("files", src)
            args["definition"] = load_path(path)
        if "definition" in args:
            args["definition"] = as_json_text(args["definition"])
        result.update(self._execute_module(module_name=self._task.action, module_args=args, task_vars=task_vars))
        return result
