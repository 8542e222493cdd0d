#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: oci_run
short_description: Run a one-shot command in a runc container under a seccomp profile
version_added: 0.1.0
description:
  - Runs one command to completion in an OCI container started by C(runc), with a busybox-static root
    filesystem (or a given one), under a seccomp profile named the way a pod names it
    (O(localhost_profile), relative to C(<kubelet_dir>/seccomp)), or by an absolute path (O(profile_path)), or none.
  - Meant to prove that an installed profile is enforced by the runtime that consumes it,
    in demos and tests, on a host without a cluster.
  - A non-zero exit status of the command does B(not) fail the task (a denied operation is the expected
    outcome when proving a profile); set O(expect_rc) to fail when the status differs.
  - The container has its own pid, network (loopback only), ipc, uts and mount namespaces, runs as root
    with C(noNewPrivileges) and a small default capability set (see O(extra_caps)); C(/tmp) is a tmpfs.
  - B(changed) is reported truthfully. Running a throwaway container leaves nothing behind on the host
    (its bundle and runc state are removed when it exits), so a run by itself is not a change.
    The only lasting effect is the busybox root filesystem prepared under O(workdir) when O(workdir) is set;
    the task reports changed when that root had to be created or completed, and unchanged once it is in place.
    Without O(workdir) the root is built in a temporary directory that is removed afterwards, so the task
    is never changed. In check mode nothing is run.
author:
  - Security Profiles Operator Ansible edition team (@spo-ansible)
options:
  command:
    description:
      - The command to run in the container.
      - A string is run by C(/bin/sh -c); a list is the argv itself (the first item is looked up in C(/bin)).
    type: raw
    required: true
  localhost_profile:
    description:
      - The seccomp profile as a pod names it in C(securityContext.seccompProfile.localhostProfile),
        relative to C(<kubelet_dir>/seccomp), for example C(operator/security-profiles-operator/profile-complain-block-high-risk.json).
      - C(..) components and absolute paths are refused.
      - Mutually exclusive with O(profile_path). Without either the container runs with no seccomp filter.
    type: str
  profile_path:
    description:
      - Absolute path of an OCI seccomp JSON file to run under.
      - Mutually exclusive with O(localhost_profile).
    type: path
  kubelet_dir:
    description:
      - The kubelet directory O(localhost_profile) is relative to (its C(seccomp) subdirectory).
    type: path
    default: /var/lib/kubelet
  rootfs:
    description:
      - An existing root filesystem to run in, used as it is.
      - Without it a busybox-static root is prepared (under O(workdir), or in a temporary directory).
    type: path
  workdir:
    description:
      - A directory on the target kept between runs; the busybox root is prepared once in C(<workdir>/rootfs)
        and reused, and the short-lived OCI bundle is written there.
      - Without it a temporary directory is used and removed when the container exits.
    type: path
  extra_caps:
    description:
      - Capabilities added to the container's default set (C(CAP_AUDIT_WRITE), C(CAP_KILL), C(CAP_NET_BIND_SERVICE)),
        for example C(CAP_SYS_ADMIN) so that a denied C(mount) or C(unshare) is denied by seccomp, not by a missing capability.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for the container; it is killed and the task fails after that.
    type: float
    default: 60
  expect_rc:
    description:
      - When set, the task fails unless the command exits with this status.
    type: int
extends_documentation_fragment:
  - spo.security_profiles.attributes
attributes:
  check_mode:
    support: full
    details: Nothing is run; changed tells whether the busybox root under O(workdir) would be prepared.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
notes:
  - Needs root and C(runc) on the target, and C(busybox-static) unless O(rootfs) is given.
seealso:
  - module: spo.security_profiles.seccomp_profile
"""

EXAMPLES = r"""
- name: Install the shipped profiles
  spo.security_profiles.seccomp_profile:
    src: profiles/seccomp
  register: installed

- name: An allowed operation works under the profile
  spo.security_profiles.oci_run:
    localhost_profile: operator/security-profiles-operator/profile-complain-block-high-risk.json
    command: echo hello && ls / && echo data > /tmp/file && cat /tmp/file
    expect_rc: 0

- name: A high-risk syscall is denied by seccomp (not by a missing capability)
  spo.security_profiles.oci_run:
    localhost_profile: operator/security-profiles-operator/profile-complain-block-high-risk.json
    command: [unshare, --mount, "true"]
    extra_caps: [CAP_SYS_ADMIN]
  register: denied

- name: Show the denial
  ansible.builtin.assert:
    that:
      - denied.rc != 0
      - "'Operation not permitted' in denied.stderr"

- name: Run under a JSON file given by path, reusing a prepared root
  spo.security_profiles.oci_run:
    profile_path: /tmp/profile.json
    workdir: /var/tmp/spo-oci
    command: id
"""

RETURN = r"""
rc:
  description: Exit status of the command (of runc, which passes the container's status on).
  returned: when run (not in check mode)
  type: int
  sample: 1
stdout:
  description: Standard output of the container.
  returned: when run (not in check mode)
  type: str
  sample: "hello\n"
stderr:
  description: Standard error of the container (and of runc).
  returned: when run (not in check mode)
  type: str
  sample: "unshare: unshare(0x20000): Operation not permitted\n"
stdout_lines:
  description: RV(stdout) split into lines.
  returned: when run (not in check mode)
  type: list
  elements: str
  sample: [hello]
stderr_lines:
  description: Standard error split into lines.
  returned: when run (not in check mode)
  type: list
  elements: str
  sample: ["unshare: unshare(0x20000): Operation not permitted"]
cmd:
  description: The argv run in the container.
  returned: always
  type: list
  elements: str
  sample: [/bin/sh, -c, echo hello]
profile:
  description: Path of the seccomp JSON the container ran under, or null for none.
  returned: always
  type: str
  sample: /var/lib/kubelet/seccomp/operator/security-profiles-operator/profile-complain-block-high-risk.json
rootfs:
  description: The root filesystem used (absent when a temporary one was used and removed).
  returned: when O(rootfs) or O(workdir) is set
  type: str
  sample: /var/tmp/spo-oci/rootfs
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def run_module(module):
    params = module.params
    return oci.run_task(params["command"], localhost_profile=params["localhost_profile"],
                        profile_path=params["profile_path"], kubelet_dir=params["kubelet_dir"],
                        rootfs=params["rootfs"], workdir=params["workdir"], extra_caps=params["extra_caps"],
                        timeout=params["timeout"], expect_rc=params["expect_rc"], check_mode=module.check_mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="raw", required=True),
            localhost_profile=dict(type="str"),
            profile_path=dict(type="path"),
            kubelet_dir=dict(type="path", default="/var/lib/kubelet"),
            rootfs=dict(type="path"),
            workdir=dict(type="path"),
            extra_caps=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=60),
            expect_rc=dict(type="int"),
        ),
        mutually_exclusive=[("localhost_profile", "profile_path")],
        supports_check_mode=True,
    )
    try:
        result = run_module(module)
    except SpoError as exc:
        module.fail_json(msg=str(exc))
    if result["failed"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
