#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: seccomp_profile
short_description: Install SeccompProfile objects as OCI seccomp JSON files on a node
version_added: 0.1.0
description:
  - Validates SeccompProfile objects (C(security-profiles-operator.x-k8s.io/v1beta1)) and writes each as the
    OCI runtime-spec seccomp JSON that runc, crun and CRI-O read, at
    C(<kubelet_dir>/seccomp/operator/<namespace>/<name>.json).
  - Pods use it with C(seccompProfile.type=Localhost) and C(localhostProfile=operator/<namespace>/<name>.json).
  - Every profile of the call is validated before any file is touched; one bad profile fails the task naming
    the profile and the field, and leaves the node exactly as it was.
  - Files are written atomically (temporary file in the same directory, fsync, rename) and only when their
    bytes differ, so a second run reports no change. The JSON is canonical (sorted rules, names and keys).
  - Syscall names are resolved with the target's libseccomp for each listed architecture (the native one
    when none is listed). A name libseccomp knows on no architecture (a typo such as C(opne)) is an error.
    A name that exists only on other architectures (C(vm86old), C(stime) or C(umount) on x86_64) is kept in
    the JSON, because runc and crun skip names unknown to the architecture when they load the filter, and
    is reported in the profile's RV(profiles[].warnings); it is shown as a task warning only in the run that
    writes the file, not on every later run.
  - C(spec.baseProfileName) unions the syscalls of another profile, given in the same call in the same
    namespace, or shipped with the collection (C(profiles/seccomp/), matched by name from any namespace, for
    example upstream's runc base profile C(runc-v1.1.5), or C(runc-recorded-v1.1.5) recorded by this project).
    The union follows upstream's current merger. A syscall named by one side keeps that side's rules. A
    syscall named by both, decided unconditionally by at least one of them, gets ONE unconditional rule with
    the least restrictive action of the candidates (ranked KILL_PROCESS, KILL_THREAD = KILL, TRAP, ERRNO, NOTIFY,
    TRACE, LOG, ALLOW), the base's rule and errnoRet on a tie, and no argument condition (a base's
    unconditional action is not narrowed by the child's argument rule). Where both give only argument rules,
    every rule of both is kept. Chains may be 10 deep; cycles are refused.
  - One syscall under two unconditional rules with different actions (or errnoRet) in one profile is
    refused, naming both fields, because the runtime applies whichever is written first.
  - The target needs only Python 3 and C(libseccomp.so.2); YAML is read on the controller.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes
  - spo.security_profiles.definition
options:
  kubelet_dir:
    description:
      - The kubelet root directory; profiles go below its C(seccomp/operator/) directory.
    type: path
    default: /var/lib/kubelet
  base_profiles:
    description:
      - More SeccompProfile objects that C(spec.baseProfileName) may name (matched by name, any namespace);
        they are not installed.
      - The action plugin always adds the profiles shipped in the collection's C(profiles/seccomp/) directory.
      - A list of objects, or a JSON text of such a list.
    type: raw
    default: []
notes:
  - With O(state=absent) only C(apiVersion), C(kind) and C(metadata) of each object are needed.
  - A profile with C(spec.disabled=true) is validated and its file removed (state V(disabled)).
  - Bounds per profile are 4096 rules, 16384 syscall names and 1 MiB of JSON.
seealso:
  - name: OCI runtime spec, seccomp
    description: The format of the files this module writes.
    link: https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md#seccomp
"""

EXAMPLES = r"""
- name: Install the profiles of a YAML file (read on the controller)
  spo.security_profiles.seccomp_profile:
    src: profiles/seccomp/profile-complain-block-high-risk.yaml

- name: Install an allow-list profile on top of the runc base profile into a test kubelet directory
  spo.security_profiles.seccomp_profile:
    kubelet_dir: /tmp/kubelet
    definition:
      apiVersion: security-profiles-operator.x-k8s.io/v1beta1
      kind: SeccompProfile
      metadata:
        name: sleeper
        namespace: my-namespace
      spec:
        defaultAction: SCMP_ACT_ERRNO
        baseProfileName: runc-v1.1.5
        syscalls:
          - action: SCMP_ACT_ALLOW
            names: [nanosleep, clock_nanosleep, exit_group]

- name: Remove a profile
  spo.security_profiles.seccomp_profile:
    state: absent
    definition:
      apiVersion: security-profiles-operator.x-k8s.io/v1beta1
      kind: SeccompProfile
      metadata:
        name: sleeper
        namespace: my-namespace
"""

RETURN = r"""
profiles:
  description: One entry per profile, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(metadata.name).
      type: str
      sample: profile-complain-block-high-risk
    namespace:
      description: C(metadata.namespace) (V(default) when not set).
      type: str
      sample: my-namespace
    path:
      description: The profile's file on the node.
      type: str
      sample: /var/lib/kubelet/seccomp/operator/my-namespace/profile-complain-block-high-risk.json
    localhost_profile:
      description: What a pod puts in C(securityContext.seccompProfile.localhostProfile).
      type: str
      sample: operator/my-namespace/profile-complain-block-high-risk.json
    changed:
      description: Whether the file was (or, in check mode, would be) written or removed.
      type: bool
      sample: true
    state:
      description: V(installed), V(absent) (removed on request) or V(disabled) (C(spec.disabled), removed).
      type: str
      sample: installed
    warnings:
      description: Syscall names kept although they do not exist on the profile's architectures.
      type: list
      elements: str
      sample: []
profiles_dir:
  description: The directory below which profiles are installed.
  returned: always
  type: str
  sample: /var/lib/kubelet/seccomp/operator
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.args import (
    DEFINITION_ARG_SPEC,
    DEFINITION_MUTUALLY_EXCLUSIVE,
    DEFINITION_REQUIRED_ONE_OF,
    definitions_list,
)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import install

MAX_WARNINGS_SHOWN = 5


def main() -> None:
    argument_spec = dict(DEFINITION_ARG_SPEC)
    argument_spec.update(
        kubelet_dir={"type": "path", "default": "/var/lib/kubelet"},
        base_profiles={"type": "raw", "default": []},
    )
    module = AnsibleModule(argument_spec=argument_spec, mutually_exclusive=DEFINITION_MUTUALLY_EXCLUSIVE,
                           required_one_of=DEFINITION_REQUIRED_ONE_OF, supports_check_mode=True)
    try:
        result = install(definitions_list(module.params["definition"]), module.params["kubelet_dir"],
                         state=module.params["state"], shipped=definitions_list(module.params["base_profiles"], "base_profiles"),
                         check_mode=module.check_mode, diff=module._diff)
    except SpoError as exc:
        module.fail_json(msg=str(exc), obj=exc.obj, field=exc.field)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write profiles below %s: %s" % (module.params["kubelet_dir"], exc))
    warnings = result.pop("warnings")
    for warning in warnings[:MAX_WARNINGS_SHOWN]:
        module.warn(warning)
    if len(warnings) > MAX_WARNINGS_SHOWN:
        module.warn("%d more profiles keep syscall names unknown to their architectures (see profiles[].warnings)"
                    % (len(warnings) - MAX_WARNINGS_SHOWN))
    # Echo the options but not the (possibly thousands of) objects back to the controller.
    result["invocation"] = {"module_args": {key: value for key, value in module.params.items()
                                            if key not in ("definition", "base_profiles")}}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
