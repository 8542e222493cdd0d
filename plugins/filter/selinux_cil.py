# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter selinux_cil: a SelinuxProfile / RawSelinuxProfile object -> CIL text (docs: selinux_cil.yml)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.cil import profile_cil


def selinux_cil(profile: Dict[str, Any], others: Optional[List[Dict[str, Any]]] = None,
                allowed_system_profiles: Optional[List[str]] = None) -> str:
    """Validate ``profile`` (inherits resolved against ``others``) and return its CIL module text."""
    if others is not None and not isinstance(others, list):
        raise AnsibleFilterError("selinux_cil: the second argument must be a list of SelinuxProfile objects")
    try:
        deny = selinux.Denylist.allowing(system_profiles=allowed_system_profiles)
        parsed = selinux.parse_profiles([profile] + list(others or []), deny)
        wanted = selinux.parse_profile(profile, deny).policy_name
        return profile_cil(next(p for p in parsed if p.policy_name == wanted))
    except SpoError as exc:
        raise AnsibleFilterError("selinux_cil: %s" % exc)


def selinux_system_modules(semodule_list: Any = "", compat: str = "auto") -> Dict[str, str]:
    """The project's store modules (templates, compatibility when needed) as ``{name: CIL text}``.

    ``semodule_list`` is the output of ``semodule -l`` on the node (decides ``compat=auto``).
    """
    if compat not in ("auto", "always", "never"):
        raise AnsibleFilterError("selinux_system_modules: compat must be auto, always or never")
    names = [line.split()[0] for line in str(semodule_list or "").splitlines() if line.strip()]
    return selinux_templates.system_modules(selinux_templates.compat_needed(compat, names))


class FilterModule(object):
    """SELinux profile filters."""

    def filters(self):
        return {"selinux_cil": selinux_cil, "selinux_system_modules": selinux_system_modules}
