#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: selinux_policy
short_description: Install SelinuxProfile and RawSelinuxProfile objects into the node's SELinux policy store
version_added: 0.1.0
description:
  - Validates SelinuxProfile and RawSelinuxProfile objects (API group C(security-profiles-operator.x-k8s.io),
    version C(v1alpha2)), translates them to CIL and installs them into the node's policy store with
    C(semodule), all changes in B(one) transaction (one policy rebuild).
  - Each profile becomes the store module and CIL block C(<name>_<namespace>); pods use the type
    C(<name>_<namespace>.process) (returned as RV(policies[].usage)).
  - The project's System template blocks (module C(spo_system_templates)) are installed along as needed; on hosts
    without container-selinux a compatibility module (C(spo_container_compat)) declares the container types the
    templates use. Both stay installed when profiles are removed.
  - The module talks to the store directly (no daemon needed). The spo-selinuxd daemon (role C(spo.security_profiles.selinuxd))
    applies the same engine to a drop-in directory.
  - A profile that fails to compile fails the task with the compiler's message, naming the profile; nothing is
    installed then (the transaction is atomic).
  - Unchanged modules (same checksum in the store) are not reinstalled, so a second run changes nothing and rebuilds nothing.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes
  - spo.security_profiles.definition
options:
  compat_module:
    description:
      - Whether to install the container-selinux compatibility module.
      - V(auto) installs it when the store has no C(container) module (container-selinux).
      - V(always) installs it regardless (fails next to container-selinux); V(never) does not.
    type: str
    choices: [auto, always, never]
    default: auto
  allowed:
    description:
      - Lifts entries of the denylist (types kernel_t, kmem_t, security_t, shadow_t; classes capability,
        capability2, security, system; permissions load_policy, mac_admin, mounton, relabelto, relabelfrom,
        setbool, setenforce, setsecparam), like the operator configuration does.
    type: dict
    suboptions:
      types:
        description: Types to allow.
        type: list
        elements: str
        default: []
      classes:
        description: Classes to allow.
        type: list
        elements: str
        default: []
      permissions:
        description: Permissions to allow.
        type: list
        elements: str
        default: []
  denied:
    description:
      - Adds entries to the denylist (the node's own deny list, upstream's C(deniedTypes), C(deniedClasses),
        C(deniedPermissions)). A denied entry beats an O(allowed) one.
    type: dict
    suboptions:
      types:
        description: Types to deny.
        type: list
        elements: str
        default: []
      classes:
        description: Classes to deny.
        type: list
        elements: str
        default: []
      permissions:
        description: Permissions to deny.
        type: list
        elements: str
        default: []
  allowed_system_profiles:
    description:
      - The System templates a profile may inherit (C(spec.inherit) of kind System, C(blockinherit) in a
        RawSelinuxProfile), as upstream's C(allowedSystemProfiles) node setting. Others are refused.
    type: list
    elements: str
    default: [container]
  reload:
    description:
      - Load the rebuilt policy into the kernel. V(auto) does so when SELinux is enabled on the node.
    type: str
    choices: [auto, 'yes', 'no']
    default: auto
notes:
  - Needs C(semodule) (policycoreutils) and a policy store (for example selinux-policy-default on Debian).
  - O(definition) entries of kind SelinuxProfile may inherit other SelinuxProfiles given in the same task
    (same namespace).
requirements:
  - policycoreutils (semodule)
"""

EXAMPLES = r"""
- name: Install the errorlogger profile
  spo.security_profiles.selinux_policy:
    definition:
      apiVersion: security-profiles-operator.x-k8s.io/v1alpha2
      kind: SelinuxProfile
      metadata:
        name: errorlogger
        namespace: my-namespace
      spec:
        inherit:
          - name: container
        allow:
          var_log_t:
            file: [open, read, write, append, getattr]

- name: Install every profile of a file on the controller
  spo.security_profiles.selinux_policy:
    src: files/selinux-profiles.yaml

- name: Remove it
  spo.security_profiles.selinux_policy:
    definition:
      apiVersion: security-profiles-operator.x-k8s.io/v1alpha2
      kind: SelinuxProfile
      metadata:
        name: errorlogger
        namespace: my-namespace
    state: absent
"""

RETURN = r"""
policies:
  description: One entry per profile, in the order installed (parents first).
  returned: always
  type: list
  elements: dict
  contains:
    object:
      description: The profile as C(Kind namespace/name).
      type: str
      sample: SelinuxProfile my-namespace/errorlogger
    policy:
      description: The store module and CIL block name.
      type: str
      sample: errorlogger_my-namespace
    usage:
      description: The SELinux type to put in C(seLinuxOptions.type).
      type: str
      sample: errorlogger_my-namespace.process
    state:
      description:
        - V(installed), V(unchanged), V(removed) or V(absent) (what happened, or would in check mode).
        - V(disabled) for a profile with C(spec.disabled) that is not installed (V(removed) when it was).
      type: str
      sample: installed
system_modules:
  description: Project modules (templates, compatibility) this run installed or would install.
  returned: always
  type: list
  elements: str
  sample: [spo_container_compat, spo_system_templates]
transactions:
  description: Number of semodule transactions (policy rebuilds) run; 0 when nothing changed or in check mode.
  returned: always
  type: int
  sample: 1
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.args import (
    DEFINITION_ARG_SPEC, DEFINITION_MUTUALLY_EXCLUSIVE, DEFINITION_REQUIRED_ONE_OF, definitions_list)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.install import run_install


def main():
    argument_spec = dict(DEFINITION_ARG_SPEC)
    argument_spec.update(
        compat_module={"type": "str", "choices": ["auto", "always", "never"], "default": "auto"},
        allowed={"type": "dict", "options": {
            "types": {"type": "list", "elements": "str", "default": []},
            "classes": {"type": "list", "elements": "str", "default": []},
            "permissions": {"type": "list", "elements": "str", "default": []},
        }},
        denied={"type": "dict", "options": {
            "types": {"type": "list", "elements": "str", "default": []},
            "classes": {"type": "list", "elements": "str", "default": []},
            "permissions": {"type": "list", "elements": "str", "default": []},
        }},
        allowed_system_profiles={"type": "list", "elements": "str", "default": ["container"]},
        reload={"type": "str", "choices": ["auto", "yes", "no"], "default": "auto"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           mutually_exclusive=DEFINITION_MUTUALLY_EXCLUSIVE,
                           required_one_of=DEFINITION_REQUIRED_ONE_OF)
    try:
        docs = definitions_list(module.params["definition"])
        result = run_install(docs, state=module.params["state"], compat_mode=module.params["compat_module"],
                             allowed=module.params["allowed"], reload=module.params["reload"],
                             denied=module.params["denied"],
                             allowed_system_profiles=module.params["allowed_system_profiles"],
                             check_mode=module.check_mode, want_diff=module._diff)
    except SpoError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
