# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One result shape for every door (module, filter, spo-pss): verdicts, skipped objects, a summary."""
from __future__ import annotations

from typing import Any, Dict, List

from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import evaluate_many
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.version import LEVELS, RESTRICTED


def check_objects(objects: List[Dict[str, Any]], level: str, version: str) -> Dict[str, Any]:
    """Judge ``objects``: ``verdicts`` (dicts), ``skipped`` (objects without a pod), ``violations`` (count of
    objects that the level refuses), ``minimum_level`` (least privileged level admitting all of them)."""
    result = evaluate_many(objects, level, version)
    verdicts = [verdict.to_dict() for verdict in result["verdicts"]]
    minimum = RESTRICTED
    for verdict in verdicts:
        if verdict["judged"] and LEVELS.index(verdict["minimum_level"]) < LEVELS.index(minimum):
            minimum = verdict["minimum_level"]
    return {
        "verdicts": verdicts,
        "skipped": result["skipped"],
        "violations": sum(1 for verdict in verdicts if not verdict["allowed"]),
        "minimum_level": minimum,
    }
