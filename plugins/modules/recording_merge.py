#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: recording_merge
short_description: Merge the partial profiles of a ProfileRecording into one profile per container
version_added: 0.2.0
description:
  - A ProfileRecording with C(mergeStrategy=containers) records each replica of a container as a partial profile
    (label C(spo.x-k8s.io/partial=true), not installed by the node agents). This module unions the partial profiles
    of each container (label C(spo.x-k8s.io/container-id)) into the profile C(<recording>-<container>), labelled
    with the recording (C(spo.x-k8s.io/recording-id)) and installable, then deletes the partial profiles.
  - Run by the role C(spo.security_profiles.profilerecording) when a recording is deleted (its finalizer
    C(spo.x-k8s.io/has-unmerged-profiles)).
  - Seccomp profiles are unioned syscall by syscall (one C(SCMP_ACT_ALLOW) rule, C(defaultAction SCMP_ACT_ERRNO));
    SELinux profiles permission by permission under each target type and class.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes.cluster
  - spo.security_profiles.attributes
options:
  namespace:
    description: Namespace of the recording and its profiles.
    type: str
    required: true
  recording:
    description: Name of the ProfileRecording.
    type: str
    required: true
  kind:
    description: Kind of the recorded profiles (the recording's C(spec.kind)).
    type: str
    choices: [SeccompProfile, SelinuxProfile]
    default: SeccompProfile
  kubeconfig:
    description: Path of a kubeconfig; by default the KUBECONFIG environment variable, then in-cluster configuration.
    type: path
requirements:
  - urllib3, PyYAML (or the kubernetes Python client)
attributes:
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Merge the partial profiles of the recording my-recording
  spo.security_profiles.recording_merge:
    namespace: my-namespace
    recording: my-recording
    kind: SeccompProfile
"""

RETURN = r"""
merged:
  description: Names of the merged profiles written (one per container).
  returned: always
  type: list
  elements: str
deleted:
  description: Names of the partial profiles deleted.
  returned: always
  type: list
  elements: str
partials:
  description: How many partial profiles were found.
  returned: always
  type: int
profiles:
  description: The merged profiles (as written, or as they would be written in check mode).
  returned: when there were partial profiles
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import cluster as recorder


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(namespace=dict(type="str", required=True),
                           recording=dict(type="str", required=True),
                           kind=dict(type="str", default="SeccompProfile", choices=["SeccompProfile", "SelinuxProfile"]),
                           kubeconfig=dict(type="path")),
        supports_check_mode=True,
    )
    params = module.params
    try:
        api = kube.connect(params["kubeconfig"], user_agent="spo-recording-merge")
        result = recorder.merge_partials(api, params["namespace"], params["recording"], params["kind"],
                                         check_mode=module.check_mode)
    except SpoError as exc:
        module.fail_json(msg=str(exc))
    except kube.KubeError as exc:
        module.fail_json(msg="merging the partial profiles of ProfileRecording %s/%s failed: %s"
                         % (params["namespace"], params["recording"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
