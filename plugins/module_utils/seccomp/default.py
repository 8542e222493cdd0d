# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the seccomp_default role changes on a host: whether CRI-O gets the drop-in, which units restart."""
from __future__ import annotations

from typing import Any, Iterable, List, Mapping

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

TRUE = ("true", "yes", "on", "1")
FALSE = ("false", "no", "off", "0")
AUTO = "auto"
ROLE = "role spo.security_profiles.seccomp_default"


def use_crio(setting: Any, crio_dir_exists: bool) -> bool:
    """``seccomp_default_crio`` (true, false or auto, as YAML or text) decided: auto means CRI-O's
    configuration directory exists."""
    value = str(setting).strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    if value == AUTO:
        return bool(crio_dir_exists)
    raise SpoError("must be true, false or auto, not %r" % (setting,), ROLE, "seccomp_default_crio")


def loaded_units(results: Iterable[Mapping[str, Any]]) -> List[str]:
    """The units of a looped ``systemctl show --property=LoadState --value UNIT`` whose state is loaded (each
    result's ``item`` names the unit; results of a skipped loop have no ``stdout``)."""
    return [str(r.get("item")) for r in results or [] if isinstance(r, Mapping) and r.get("stdout") == "loaded"]
