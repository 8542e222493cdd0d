# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a SeccompProfile lives on a node: the ONE mapping every door uses.

The module, the node agent (writes, removals, the orphan cleanup after a restart), the node
status (``status.localhostProfile``), the webhook's bindings and the pod index all name a
profile's file through these functions, so they can never disagree.

As upstream (``GetProfileFile``): the file is ``<name>.json``, or the name itself when it already
ends in ``.json``; it lies in ``<kubelet>/seccomp/operator/<namespace>/`` and pods name it as
``operator/<namespace>/<file>``.  So the profiles ``p1`` and ``p1.json`` of one namespace share one
file (:func:`names_of_file` gives both).  A file name holds at most NAME_MAX (255) bytes: a name
longer than 250 characters must end in ``.json`` (a Kubernetes name may have 253), and anything
else is refused with a message instead of the kernel's ENAMETOOLONG.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import NAME_MAX, safe_join

LOCALHOST_PREFIX = "operator"
EXT = ".json"


def file_name(name: str) -> str:
    """The profile's file name (raises SpoError when it cannot be a file name on Linux)."""
    result = name if name.endswith(EXT) else name + EXT
    size = len(result.encode("utf-8"))
    if size > NAME_MAX:
        raise SpoError("the profile's file name would be %d bytes (%s...%s) and a file name holds at most %d: a "
                       "SeccompProfile name may have at most %d characters, or end in %s"
                       % (size, result[:16], result[-16:], NAME_MAX, NAME_MAX - len(EXT), EXT))
    return result


def names_of_file(file: str) -> List[str]:
    """The profile names whose file is ``file`` (``p1.json`` -> ``p1`` and ``p1.json``); [] if none can be."""
    if not file.endswith(EXT):
        return []
    stem = file[:-len(EXT)]
    return [stem, file] if stem and not stem.endswith(EXT) else [file]


def localhost_profile(namespace: str, name: str) -> str:
    """What a pod names in ``seccompProfile.localhostProfile`` (relative to ``<kubelet>/seccomp``)."""
    return "%s/%s/%s" % (LOCALHOST_PREFIX, namespace, file_name(name))


def profile_path(root: str, namespace: str, name: str) -> str:
    """The file under ``root`` (``<kubelet>/seccomp/operator``), checked to stay inside it."""
    return safe_join(root, namespace, file_name(name))


def parse_localhost_profile(value: object) -> Optional[Tuple[str, str]]:
    """``operator/<namespace>/<file>`` -> (namespace, file); anything else -> None."""
    if not isinstance(value, str):
        return None
    parts = value.split("/")
    if len(parts) != 3 or parts[0] != LOCALHOST_PREFIX or not parts[1] or not names_of_file(parts[2]):
        return None
    return parts[1], parts[2]
