# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install and remove compiled seccomp profiles under a kubelet directory.

``<kubelet_dir>/seccomp/operator/<namespace>/<name>.json`` (:mod:`seccomp.paths`).  A batch is
validated entirely before the node is touched; each file is then compared
byte for byte and only rewritten (atomically) when it differs, so a second
run writes nothing.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import (
    atomic_write_many,
    makedirs,
    read_bytes,
    remove,
)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.engine import Engine
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.paths import (
    LOCALHOST_PREFIX, localhost_profile, profile_path)
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.model import API_VERSIONS, KIND
from ansible_collections.spo.security_profiles.plugins.module_utils.validation import object_identity

INSTALLED = "installed"
ABSENT = "absent"
DISABLED = "disabled"


def profiles_root(kubelet_dir: str) -> str:
    """The directory every operator profile lives below."""
    return os.path.join(kubelet_dir, "seccomp", LOCALHOST_PREFIX)


def _targets(docs: List[Any], state: str, shipped: Iterable[Any]) -> List[Tuple[str, str, str, Optional[bytes], List[str]]]:
    """(namespace, name, state, wanted bytes or None, warnings) per profile, all validated."""
    if state == "absent":
        targets = []
        seen = set()
        for index, doc in enumerate(docs):
            try:
                namespace, name, ref = object_identity(doc, KIND, API_VERSIONS)
            except SpoError as exc:
                raise exc if exc.obj else SpoError(exc.message, obj="definition[%d]" % index, field=exc.field)
            if (namespace, name) in seen:
                raise SpoError("defined twice in one call", ref)
            seen.add((namespace, name))
            targets.append((namespace, name, ABSENT, None, []))
        return targets
    result = []
    for compiled in Engine(docs, shipped).compile_all():
        profile = compiled.profile
        if profile.disabled:
            result.append((profile.namespace, profile.name, DISABLED, None, compiled.warnings))
        else:
            result.append((profile.namespace, profile.name, INSTALLED, compiled.data, compiled.warnings))
    return result


def _text(data: Optional[bytes]) -> str:
    return "" if data is None else data.decode("utf-8", "replace")


def install(docs: List[Any], kubelet_dir: str, state: str = "present", shipped: Iterable[Any] = (),
            check_mode: bool = False, diff: bool = False) -> Dict[str, Any]:
    """Make the node match ``docs``; returns ``changed``, ``profiles``, ``warnings`` and (if asked) ``diff``.

    ``warnings`` holds the warnings of the profiles written (or removed) this run, so a profile's
    warning is said once, when it lands; each entry of ``profiles`` keeps its own always.
    """
    targets = _targets(docs, state, shipped)
    root = profiles_root(kubelet_dir)
    writes: List[Tuple[str, bytes]] = []
    removals: List[str] = []
    profiles: List[Dict[str, Any]] = []
    diffs: List[Dict[str, str]] = []
    warnings: List[str] = []
    written_by: Dict[str, str] = {}
    for namespace, name, target_state, wanted, profile_warnings in targets:
        ref = "%s %s/%s" % (KIND, namespace, name)
        try:
            path = profile_path(root, namespace, name)
        except SpoError as exc:
            raise SpoError(exc.message, ref, "metadata.name")
        if path in written_by:
            raise SpoError("would be written to the same file as %s (%s)" % (written_by[path], path), ref, "metadata.name")
        written_by[path] = ref
        current = read_bytes(path)
        changed = current != wanted
        if changed:
            if wanted is None:
                removals.append(path)
            else:
                writes.append((path, wanted))
            if diff:
                diffs.append({"before_header": path, "after_header": path, "before": _text(current), "after": _text(wanted)})
        if changed:  # said when the file is written; an unchanged file keeps them in profiles[].warnings only
            warnings.extend(profile_warnings)
        profiles.append({"name": name, "namespace": namespace, "path": path,
                         "localhost_profile": localhost_profile(namespace, name), "changed": changed,
                         "state": target_state, "warnings": profile_warnings})
    if not check_mode:
        for directory in sorted({os.path.dirname(path) for path, _data in writes}):
            makedirs(directory)
        atomic_write_many(writes)
        for path in removals:
            remove(path)
    result: Dict[str, Any] = {"changed": bool(writes or removals), "profiles": profiles, "warnings": warnings,
                              "profiles_dir": root}
    if diff:
        result["diff"] = diffs
    return result
