# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SPOD's two spellings, read in one place: upstream 1.0's grouped fields (``selinux.enable``,
``scheduling.tolerations``, ``webhook.options``, ...) become their flat 0.x twins (``enableSelinux``,
``tolerations``, ``webhookOptions``, ...). The API server refuses an object that sets both (the CRD's rules);
everything that reads a SPOD's settings (the DaemonSet, the node agent's settings, the webhook) reads
:func:`flat_spec`."""
from __future__ import annotations

from typing import Any, Dict, Mapping

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

# flat name -> (group, name in the group)
GROUPED = {"enableSelinux": ("selinux", "enable"), "enableLogEnricher": ("enricher", "enableLogEnricher"),
           "enableJsonEnricher": ("enricher", "enableJsonEnricher"),
           "jsonEnricherFilters": ("enricher", "jsonEnricherFilters"),
           "jsonEnricherOptions": ("enricher", "jsonEnricherOptions"),
           "enableBpfRecorder": ("enricher", "enableBpfRecorder"),
           "tolerations": ("scheduling", "tolerations"), "affinity": ("scheduling", "affinity"),
           "nodeSelector": ("scheduling", "nodeSelector"), "priorityClassName": ("scheduling", "priorityClassName"),
           "allowedSyscalls": ("security", "allowedSyscalls"),
           "allowedSeccompActions": ("security", "allowedSeccompActions"),
           "staticWebhookConfig": ("webhook", "staticConfig"), "webhookOptions": ("webhook", "options")}
GROUPS = frozenset(group for group, _key in GROUPED.values())


def flat_spec(spec: Mapping[str, Any], ref: str = api.SPOD.kind) -> Dict[str, Any]:
    """``spec`` with each grouped field read into its flat twin; an error names a group that is no object."""
    flat = dict(spec)
    for name, (group, key) in GROUPED.items():
        grouped = spec.get(group)
        if grouped is None:
            continue
        if not isinstance(grouped, Mapping):
            raise SpoError("must be an object", ref, "spec." + group)
        if flat.get(name) is None and grouped.get(key) is not None:
            flat[name] = grouped[key]
    return flat


def field_name(spec: Mapping[str, Any], flat: str) -> str:
    """How the SPOD ``spec`` spells the field ``flat`` (for errors): ``spec.<flat>`` or ``spec.<group>.<name>``."""
    if flat in spec or flat not in GROUPED:
        return "spec." + flat
    group, key = GROUPED[flat]
    return "spec.%s.%s" % (group, key) if isinstance(spec.get(group), Mapping) and key in spec[group] else "spec." + flat
