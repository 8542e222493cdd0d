# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter pod_security: judge a pod or workload against a Pod Security level (docs: pod_security.yml)."""
from __future__ import annotations

from typing import Any, Dict, List, Union

from ansible.errors import AnsibleFilterError

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.evaluate import evaluate, evaluate_many


def pod_security(objects: Union[Dict[str, Any], List[Dict[str, Any]]], level: str = "restricted",
                 version: str = "latest") -> Union[Dict[str, Any], List[Dict[str, Any]]]:
    """One object -> its verdict; a list -> the verdicts of the objects that have a pod."""
    try:
        if isinstance(objects, dict):
            return evaluate(objects, level, version).to_dict()
        if isinstance(objects, list):
            return [verdict.to_dict() for verdict in evaluate_many(objects, level, version)["verdicts"]]
    except SpoError as exc:
        raise AnsibleFilterError("pod_security: %s" % exc)
    raise AnsibleFilterError("pod_security: the input must be a Kubernetes object or a list of them, got %s"
                             % type(objects).__name__)


class FilterModule(object):
    """Pod Security filters."""

    def filters(self):
        return {"pod_security": pod_security}
