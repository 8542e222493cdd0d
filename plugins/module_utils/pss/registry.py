# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which checks run at which level and version, in which order.

Each check has an ID, a level (baseline or restricted) and the Kubernetes minor versions at which
its behaviour changed (the API server's registry, Kubernetes 1.36).  A restricted check may
override (replace) baseline checks from its version on.  For a level and version:

* baseline runs the baseline checks in effect at that version;
* restricted runs those too, minus the ones overridden by a restricted check in effect, plus the
  restricted checks;
* the order is the baseline IDs sorted, then the restricted IDs sorted (byte order);
* a version newer than the newest change (and ``latest``) means the newest change (1.35).
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.pss import checks as c
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import BASELINE, RESTRICTED, Minor


class CheckVersion(NamedTuple):
    minimum: int                      # Kubernetes 1.<minimum>
    fn: c.CheckFn
    overrides: Tuple[str, ...] = ()


class Check(NamedTuple):
    id: str
    level: str
    versions: Tuple[CheckVersion, ...]


CHECKS: Tuple[Check, ...] = (
    # baseline
    Check("appArmorProfile", BASELINE, (CheckVersion(0, c.app_armor_profile_1_0),)),
    Check("capabilities_baseline", BASELINE, (CheckVersion(0, c.capabilities_baseline_1_0),)),
    Check("hostNamespaces", BASELINE, (CheckVersion(0, c.host_namespaces_1_0),)),
    Check("hostPathVolumes", BASELINE, (CheckVersion(0, c.host_path_volumes_1_0),)),
    Check("hostPorts", BASELINE, (CheckVersion(0, c.host_ports_1_0),)),
    Check("hostProbesAndHostLifecycle", BASELINE, (CheckVersion(34, c.host_probes_and_host_lifecycle_1_34),)),
    Check("privileged", BASELINE, (CheckVersion(0, c.privileged_1_0),)),
    Check("procMount", BASELINE, (CheckVersion(0, c.proc_mount_1_0), CheckVersion(35, c.proc_mount_1_35_baseline))),
    Check("seLinuxOptions", BASELINE, (CheckVersion(0, c.se_linux_options_1_0),
                                       CheckVersion(31, c.se_linux_options_1_31))),
    Check("seccompProfile_baseline", BASELINE, (CheckVersion(0, c.seccomp_profile_baseline_1_0),
                                                CheckVersion(19, c.seccomp_profile_baseline_1_19))),
    Check("sysctls", BASELINE, (CheckVersion(0, c.sysctls_1_0), CheckVersion(27, c.sysctls_1_27),
                                CheckVersion(29, c.sysctls_1_29), CheckVersion(32, c.sysctls_1_32))),
    Check("windowsHostProcess", BASELINE, (CheckVersion(0, c.windows_host_process_1_0),)),
    # restricted
    Check("allowPrivilegeEscalation", RESTRICTED, (CheckVersion(8, c.allow_privilege_escalation_1_8),
                                                   CheckVersion(25, c.allow_privilege_escalation_1_25))),
    Check("capabilities_restricted", RESTRICTED, (
        CheckVersion(22, c.capabilities_restricted_1_22, ("capabilities_baseline",)),
        CheckVersion(25, c.capabilities_restricted_1_25, ("capabilities_baseline",)))),
    Check("procMount_restricted", RESTRICTED, (CheckVersion(35, c.proc_mount_1_0, ("procMount",)),)),
    Check("restrictedVolumes", RESTRICTED, (CheckVersion(0, c.restricted_volumes_1_0, ("hostPathVolumes",)),)),
    Check("runAsNonRoot", RESTRICTED, (CheckVersion(0, c.run_as_non_root_1_0), CheckVersion(35, c.run_as_non_root_1_35))),
    Check("runAsUser", RESTRICTED, (CheckVersion(23, c.run_as_user_1_23), CheckVersion(35, c.run_as_user_1_35))),
    Check("seccompProfile_restricted", RESTRICTED, (
        CheckVersion(19, c.seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
        CheckVersion(25, c.seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)))),
)

# the newest version at which any check changed: "latest" and newer versions evaluate as this one
MAX_MINOR: int = max(check.versions[-1].minimum for check in CHECKS)

_ORDER: List[Check] = (sorted((k for k in CHECKS if k.level == BASELINE), key=lambda k: k.id.encode())
                       + sorted((k for k in CHECKS if k.level == RESTRICTED), key=lambda k: k.id.encode()))

_CACHE: Dict[Tuple[str, int], List[Tuple[str, c.CheckFn]]] = {}


def effective_minor(minor: Minor) -> int:
    return MAX_MINOR if minor is None or minor > MAX_MINOR else minor


def _in_effect(check: Check, minor: int) -> Optional[CheckVersion]:
    found = None
    for entry in check.versions:
        if entry.minimum <= minor:
            found = entry
    return found


def checks_for(level: str, minor: Minor) -> List[Tuple[str, c.CheckFn]]:
    """(check ID, function) in the API server's order, for ``level`` (baseline/restricted) at ``minor``."""
    key_minor = effective_minor(minor)
    key = (level, key_minor)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    active = [(check, _in_effect(check, key_minor)) for check in _ORDER]
    active = [(check, entry) for check, entry in active if entry is not None]
    if level == BASELINE:
        result = [(check.id, entry.fn) for check, entry in active if check.level == BASELINE]
    else:
        overridden = set()
        for check, entry in active:
            if check.level == RESTRICTED:
                overridden.update(entry.overrides)
        result = [(check.id, entry.fn) for check, entry in active if check.id not in overridden]
    _CACHE[key] = result
    return result
