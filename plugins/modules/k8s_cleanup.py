#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: k8s_cleanup
short_description: Delete every object of some custom resource kinds, cluster-wide, without hanging
version_added: 0.2.0
description:
  - Deletes every object of each kind of O(kinds) of the API group O(group), kind by kind in the given order, and
    waits up to O(timeout) seconds for each kind's objects to be gone (their finalizers belong to controllers that
    are still running, such as the node agents that remove profile files from the nodes).
  - Whatever still stands after the timeout has its finalizers removed and is reported in RV(forced), so an
    undeploy always ends even when a node never answers.
  - Kinds the API server does not serve (for example before the CRDs were installed) are skipped.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes.cluster
  - spo.security_profiles.attributes
options:
  group:
    description: The API group of the kinds.
    type: str
    default: security-profiles-operator.x-k8s.io
  kinds:
    description: The kinds to delete, in order.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait for each kind's objects to go before their finalizers are removed.
    type: int
    default: 120
  kubeconfig:
    description: Path of a kubeconfig; by default the KUBECONFIG environment variable, then in-cluster configuration.
    type: path
requirements:
  - kubernetes (Python client)
attributes:
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Remove every profile while the node agents still run
  spo.security_profiles.k8s_cleanup:
    kinds: [SeccompProfile, SelinuxProfile, RawSelinuxProfile, SecurityProfileNodeStatus]
    timeout: 120
"""

RETURN = r"""
deleted:
  description: The objects deleted (C(Kind namespace/name)).
  returned: always
  type: list
  elements: str
forced:
  description: The objects whose finalizers were removed after the timeout.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils import api
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import cleanup
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.client import api_client
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Kube


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(group=dict(type="str", default=api.GROUP),
                           kinds=dict(type="list", elements="str", required=True),
                           timeout=dict(type="int", default=120),
                           kubeconfig=dict(type="path")),
        supports_check_mode=True,
    )
    try:
        objects = cleanup.CustomObjects(Kube(api_client(module.params["kubeconfig"]), "spo-undeploy"), module.params["group"])
        result = cleanup.delete_all(objects, module.params["kinds"], module.params["timeout"], module.check_mode)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="cleanup of %s failed: %s" % (module.params["group"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
