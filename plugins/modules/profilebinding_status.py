#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: profilebinding_status
short_description: Write a ProfileBinding's status (its profile installed, Pod Security baseline, active workloads)
version_added: 0.4.0
description:
  - Reads the profile a ProfileBinding names, the pods of its namespace and the namespace, and writes the binding's
    C(status.activeWorkloads) and its C(Ready) and C(PodSecurityBaseline) conditions, in one process (the
    profilebinding role's reconcile).
  - The status is written only when it changes; every name taken from the binding is sent percent-encoded.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes.cluster
  - spo.security_profiles.attributes
options:
  binding:
    description: The ProfileBinding object (as ansible-operator passes it to the role).
    type: dict
    required: true
  kubeconfig:
    description:
      - Path of a kubeconfig. By default C(K8S_AUTH_KUBECONFIG), then C(KUBECONFIG), then the pod's service account.
    type: path
requirements:
  - kubernetes (Python client)
attributes:
  check_mode:
    support: full
    details: Nothing is written; RV(status) is the status the binding would get.
  diff_mode:
    support: full
    details: The status before and after.
seealso:
  - module: spo.security_profiles.k8s_status
"""

EXAMPLES = r"""
- name: Write the binding's status
  spo.security_profiles.profilebinding_status:
    binding: "{{ _security_profiles_operator_x_k8s_io_profilebinding }}"
"""

RETURN = r"""
status:
  description: The binding's computed C(activeWorkloads) and C(conditions).
  returned: success
  type: dict
result:
  description: The binding after the call (in check mode, with the status it would get).
  returned: success
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import module_kube
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import bindingsync


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(binding=dict(type="dict", required=True), kubeconfig=dict(type="path")),
        supports_check_mode=True,
    )
    params = module.params
    try:
        kube = module_kube(params["kubeconfig"], "spo-profilebinding-status")
        outcome = bindingsync.sync(kube, params["binding"], module.check_mode)
    except SpoError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except  # the client's configuration errors
        module.fail_json(msg="cannot reach the API server: %s" % exc)
    result = dict(changed=outcome["changed"], status=outcome["status"], result=outcome["result"])
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = dict(before={"status": outcome["before"]}, after={"status": outcome["after"]})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
