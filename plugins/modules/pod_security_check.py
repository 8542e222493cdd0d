#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: pod_security_check
short_description: Judge pods and workloads against the Pod Security Standards, with the API server's messages
version_added: 0.1.0
description:
  - Evaluates Pods and the pod templates of Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs,
    ReplicationControllers and PodTemplates against a Pod Security Standards level (V(privileged), V(baseline),
    V(restricted)) at a policy version (V(latest) or V(v1.N)), with every check of Kubernetes up to 1.36 and the
    versions at which each changed.
  - >-
    Each verdict carries the texts the Kubernetes API server prints, byte for byte, as
    RV(verdicts[].enforce_message) (what it answers when it enforces the level) and
    RV(verdicts[].warning) (what it prints when it warns, and records when it audits),
    and the least privileged level that admits the object.
  - Pods are judged as the API server sees them on create (the deprecated seccomp and AppArmor annotations
    synchronised with the fields). Namespace, user and runtime class exemptions are not applied.
  - Objects of other kinds (Services, ConfigMaps, ...) are listed in RV(skipped).
  - Nothing is changed on the target; the module only reads its arguments.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes
options:
  definition:
    description:
      - One Kubernetes object (a manifest as a dict), a list of them, a C(List) kind, or a JSON text of those.
      - Mutually exclusive with O(src).
    type: raw
  src:
    description:
      - Path on the controller of a YAML file with one or more manifests (C(---) separated), or of a directory of
        such files (every C(*.yaml) and C(*.yml), not recursive). Read by the action plugin on the controller.
      - Mutually exclusive with O(definition).
    type: path
  level:
    description: The Pod Security level to judge against.
    type: str
    choices: [privileged, baseline, restricted]
    default: restricted
  version:
    description:
      - The policy version, as the C(pod-security.kubernetes.io/*-version) namespace labels spell it
        (V(latest) or V(v1.N)). Versions newer than the newest change of the checks mean the newest.
    type: str
    default: latest
  enforce:
    description:
      - Fail the task when an object violates the level (the message lists each object's enforce message).
      - When false the task succeeds and reports the verdicts.
    type: bool
    default: false
attributes:
  diff_mode:
    support: none
notes:
  - The same engine backs the filter P(spo.security_profiles.pod_security#filter) and the command C(spo-pss).
  - The messages are proven against a Kubernetes 1.36 API server by a corpus of pods (tests/data/pss).
"""

EXAMPLES = r"""
- name: Judge every manifest of a directory against restricted
  spo.security_profiles.pod_security_check:
    src: manifests/
    level: restricted
  register: pss

- name: Show what the API server would print
  ansible.builtin.debug:
    msg: "{{ pss.verdicts | map(attribute='warning') | select | list }}"

- name: Fail when a pod would be refused by a baseline namespace at Kubernetes 1.30
  spo.security_profiles.pod_security_check:
    definition:
      apiVersion: v1
      kind: Pod
      metadata:
        name: fedora
      spec:
        containers:
          - name: fedora
            image: fedora:latest
            securityContext:
              privileged: true
    level: baseline
    version: v1.30
    enforce: true
"""

RETURN = r"""
verdicts:
  description: One entry per object with a pod, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    object:
      description: The object as C(Kind namespace/name).
      type: str
      sample: Pod default/fedora
    policy:
      description: The level and version judged, as the API server prints them.
      type: str
      sample: restricted:latest
    allowed:
      description: Whether the level admits the object.
      type: bool
      sample: false
    judged:
      description: False when a workload has no pod template (nothing to judge, admitted).
      type: bool
      sample: true
    violations:
      description: The failed checks in the API server's order (C(check) ID, C(reason), C(detail)).
      type: list
      elements: dict
      sample: [{"check": "privileged", "reason": "privileged",
                "detail": "container \"fedora\" must not set securityContext.privileged=true"}]
    detail:
      description: The violations joined as the API server joins them; empty when allowed.
      type: str
    enforce_message:
      description: What the API server answers when it enforces the policy; empty when allowed.
      type: str
      sample: 'violates PodSecurity "restricted:latest": privileged (container "fedora" must not set securityContext.privileged=true), ...'
    warning:
      description: What the API server prints as a warning (and records as audit annotation); empty when allowed.
      type: str
      sample: 'would violate PodSecurity "restricted:latest": privileged (container "fedora" must not set securityContext.privileged=true), ...'
    minimum_level:
      description: The least privileged level that admits the object at this version.
      type: str
      sample: privileged
skipped:
  description: Objects without a pod (other kinds), as C(Kind namespace/name).
  returned: always
  type: list
  elements: str
  sample: [Service default/web]
violations:
  description: Number of objects the level refuses.
  returned: always
  type: int
  sample: 1
minimum_level:
  description: The least privileged level that admits every object given (V(restricted) when none has a pod).
  returned: always
  type: str
  sample: baseline
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.args import definitions_list
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.pss.report import check_objects


def main():
    module = AnsibleModule(
        argument_spec={
            "definition": {"type": "raw"},
            "src": {"type": "path"},
            "level": {"type": "str", "choices": ["privileged", "baseline", "restricted"], "default": "restricted"},
            "version": {"type": "str", "default": "latest"},
            "enforce": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
        mutually_exclusive=[("definition", "src")],
        required_one_of=[("definition", "src")],
    )
    if module.params["src"] is not None:
        module.fail_json(msg="src is read by the action plugin on the controller: call the module by its name "
                             "spo.security_profiles.pod_security_check")
    try:
        docs = definitions_list(module.params["definition"])
        result = check_objects(docs, module.params["level"], module.params["version"])
    except SpoError as exc:
        module.fail_json(msg=str(exc))
    if module.params["enforce"] and result["violations"]:
        refused = ["%s: %s" % (v["object"], v["enforce_message"]) for v in result["verdicts"] if not v["allowed"]]
        module.fail_json(msg="%d of %d objects violate PodSecurity: %s"
                         % (result["violations"], len(result["verdicts"]), "; ".join(refused)), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
