#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_status
short_description: Write custom status and conditions on a Kubernetes object, as an Ansible operator's role does
version_added: 0.2.0
description:
  - Sets fields of the C(status) of an object through its status subresource, for roles run by an Ansible
    operator (operator-sdk's C(ansible-operator)), with the options of C(operator_sdk.util.k8s_status).
  - O(status) is merged into the object's status as a JSON merge patch (mappings merge, C(null) removes a key);
    other keys, such as the conditions the operator manages, stay as they are.
  - O(conditions) are merged by C(type) into C(status.conditions). A condition given without C(lastTransitionTime)
    keeps the one it had while its C(status) stays the same, and gets the current time when it changes.
  - The object is written only when its status would change, so C(changed) is truthful and a repeated call is a no-op.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes.cluster
  - spo.security_profiles.attributes
options:
  api_version:
    description: The object's C(apiVersion), for example C(security-profiles-operator.x-k8s.io/v1alpha1).
    type: str
    required: true
    aliases: [apiVersion]
  kind:
    description: The object's kind.
    type: str
    required: true
  name:
    description: The object's name.
    type: str
    required: true
  namespace:
    description: The object's namespace (required for namespaced kinds).
    type: str
  status:
    description:
      - Keys merged into the object's C(status). One of O(status) or O(conditions) is required.
    type: dict
  conditions:
    description:
      - Conditions merged by C(type) into C(status.conditions). Each has C(type) and C(status) (C(True), C(False) or
        C(Unknown)), and optionally C(reason) (one CamelCase word), C(message), C(lastTransitionTime),
        C(lastHeartbeatTime) (RFC 3339) and C(observedGeneration).
    type: list
    elements: dict
  events:
    description:
      - Events recorded about the object (core/v1 C(Event) in its namespace) when this call changes its status, so
        a status that stays the same is not announced again. Each has C(type) (C(Normal), the default, or
        C(Warning)), C(reason) (one CamelCase word) and C(message).
    type: list
    elements: dict
    version_added: 0.3.0
  force:
    description: Replace the whole status with O(status) and O(conditions) instead of merging.
    type: bool
    default: false
  kubeconfig:
    description:
      - Path of a kubeconfig. By default C(K8S_AUTH_KUBECONFIG), then C(KUBECONFIG), then the pod's service account.
    type: path
requirements:
  - kubernetes (Python client)
attributes:
  check_mode:
    support: full
    details: Nothing is written; RV(result) shows the object with the status it would get.
  diff_mode:
    support: full
    details: The status before and after.
notes:
  - The kind must have the status subresource.
seealso:
  - module: spo.security_profiles.k8s_cleanup
"""

EXAMPLES = r"""
- name: Report the state of the SPOD
  spo.security_profiles.k8s_status:
    api_version: security-profiles-operator.x-k8s.io/v1alpha1
    kind: SecurityProfilesOperatorDaemon
    name: "{{ ansible_operator_meta.name }}"
    namespace: "{{ ansible_operator_meta.namespace }}"
    status:
      state: Running
    conditions:
      - type: Ready
        status: "True"
        reason: Available
        message: Every node runs the daemon
"""

RETURN = r"""
result:
  description: The object after the call (in check mode, with the status it would get).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import module_kube
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import k8s_status


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(api_version=dict(type="str", required=True, aliases=["apiVersion"]),
                           kind=dict(type="str", required=True),
                           name=dict(type="str", required=True),
                           namespace=dict(type="str"),
                           status=dict(type="dict"),
                           conditions=dict(type="list", elements="dict"),
                           events=dict(type="list", elements="dict"),
                           force=dict(type="bool", default=False),
                           kubeconfig=dict(type="path")),
        required_one_of=[("status", "conditions")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        events = k8s_status.validate_events(params["events"])
        kube = module_kube(params["kubeconfig"], "spo-k8s-status")
        outcome = k8s_status.apply(kube, params["api_version"], params["kind"], params["name"], params["namespace"],
                                   params["status"], params["conditions"], params["force"], module.check_mode)
        if outcome["changed"] and not module.check_mode:
            k8s_status.record_events(kube, outcome["result"], events, "spo-operator")
    except SpoError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except  # the client's configuration errors
        module.fail_json(msg="cannot reach the API server: %s" % exc)
    result = dict(changed=outcome["changed"], result=outcome["result"])
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = dict(before={"status": outcome["before"]}, after={"status": outcome["after"]})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
