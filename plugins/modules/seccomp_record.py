#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: seccomp_record
short_description: Record a SeccompProfile for a command run in a runc container on a host
version_added: 0.1.0
description:
  - Runs C(/bin/sh -c <command>) in a one-shot runc container under a seccomp profile that logs every syscall
    (C(defaultAction=SCMP_ACT_LOG)), with a fresh audit session id that every process of the container inherits.
  - Collects that session's C(SECCOMP) audit records and writes a SeccompProfile
    (C(security-profiles-operator.x-k8s.io/v1beta1)) allowing exactly the syscalls seen
    (C(defaultAction=SCMP_ACT_ERRNO), the node's architecture, one C(SCMP_ACT_ALLOW) rule) as YAML to O(output).
  - The end of the records is known exactly, not guessed, an audit marker sent after the container exits
    is read last.
  - The file is written atomically and only when its content changes, so recording the same workload again
    reports no change. The profile installs unchanged with M(spo.security_profiles.seccomp_profile).
author:
  - SPO Ansible team (@spo-ansible)
extends_documentation_fragment:
  - spo.security_profiles.attributes
attributes:
  check_mode:
    support: full
    details:
      - With the default temporary root the workload is recorded and only the write is skipped, so
        RV(ignore:changed) is exact.
      - With O(rootfs) the workload (which may write into that root) is not run; RV(ignore:changed) is
        predicted V(true).
  diff_mode:
    support: full
  platform:
    platforms: posix
options:
  name:
    description: Name of the recorded profile (C(metadata.name)).
    type: str
    required: true
  namespace:
    description: Namespace of the recorded profile.
    type: str
    default: default
  command:
    description: Shell command line run in the container by C(/bin/sh -c).
    type: str
    required: true
  rootfs:
    description:
      - Root filesystem of the container. It must contain C(/bin/sh).
      - Default is a temporary busybox-static root, removed afterwards.
    type: path
  output:
    description: Path of the YAML file written (on the target).
    type: path
    required: true
  source:
    description:
      - Where the audit records are read.
      - V(audit_log) reads O(audit_log) from the position noted before the run, following a rotation.
      - V(enricher) takes the session's set from the C(spo-enricher) daemon's O(enricher_state_dir).
      - V(kernel_log) reads C(/dev/kmsg), for hosts without auditd. C(kernel.printk_ratelimit) is set
        to 0 while recording and restored, or the kernel drops records.
      - V(auto) is V(audit_log) when auditd runs, else V(kernel_log).
      - V(bpf) needs no audit subsystem at all (auditd may be stopped, kernel auditing off); the eBPF recorder
        (C(bpftrace) on the C(raw_syscalls) tracepoints) counts the container's syscalls by its cgroup v2 id, from
        the moment runc loads the container's seccomp filter, for every process of the container. The container runs
        under an allow-everything profile, so nothing is logged. Needs C(bpftrace), tracefs (mounted at
        C(/sys/kernel/tracing) when missing, reported in RV(bpf_changes)) and a cgroup v2 hierarchy (unified or hybrid).
    type: str
    choices: [auto, audit_log, enricher, kernel_log, bpf]
    default: auto
  audit_log:
    description: The auditd log file.
    type: path
    default: /var/log/audit/audit.log
  enricher_state_dir:
    description: State directory of C(spo-enricher) (its C(--state-dir)), for O(source=enricher).
    type: path
    default: /var/lib/spo-enricher
  base_profile_name:
    description:
      - Sets C(spec.baseProfileName) of the recorded profile (for example C(runc-recorded-v1.1.5)).
      - V(auto) names the collection's base profile recorded for the host's runc (C(runc-recorded-v<version>)). It holds what
        runc itself calls after the filter is loaded; some of those calls (the Go runtime's futex waits and
        signals) happen only in some runs, so a recording alone can miss them and the profile would then
        fail now and then. An empty string records without a base.
    type: str
    default: auto
  extra_caps:
    description: Capabilities added to the container's default set.
    type: list
    elements: str
    default: []
  merge:
    description:
      - Union the recorded syscalls with those of the SeccompProfile already in O(output) (same name and
        namespace), as replicas of one container are merged.
      - Workloads are not always repeatable to the syscall (a signal may or may not arrive, adding
        C(rt_sigreturn)); with V(true) repeated recordings converge, and a run that sees nothing new reports no change.
    type: bool
    default: false
  expect_rc:
    description: Exit status the command must have for the recording to be written; null accepts any.
    type: int
    default: 0
  timeout:
    description: Seconds the command may run.
    type: int
    default: 120
notes:
  - Needs root, C(runc) and the kernel's audit subsystem (or, with O(source=bpf), C(bpftrace)) on the target;
    C(busybox-static) unless O(rootfs) is given.
  - Kernel auditing must be on, or the kernel drops every record. A host booted with auditing off (C(auditctl -s)
    shows C(enabled 0)) gets it turned on (C(auditctl -e 1)), and a backlog limit below 8192 raised, by this module,
    also in check mode (the workload runs then too); both are left so and reported in RV(audit_changes).
    Where that is not allowed the module fails at once saying what to do.
  - O(source=audit_log) needs a running auditd; without one the module fails at once (V(auto) reads the kernel log then).
  - For a busy workload under auditd run C(auditctl -b 65536 -r 0) once, or the kernel may drop records.
seealso:
  - module: spo.security_profiles.seccomp_profile
"""

EXAMPLES = r"""
- name: Record a small web workload
  spo.security_profiles.seccomp_record:
    name: web
    namespace: demo
    command: httpd -p 127.0.0.1:8080 -h /var/www && wget -q -O - http://127.0.0.1:8080/ ; true
    output: /var/tmp/web.yaml

- name: Record through the log enricher daemon
  spo.security_profiles.seccomp_record:
    name: lister
    command: ls -l /
    source: enricher
    output: /var/tmp/lister.yaml
"""

RETURN = r"""
profile:
  description: The recorded SeccompProfile object.
  returned: success
  type: dict
  sample: {apiVersion: security-profiles-operator.x-k8s.io/v1beta1, kind: SeccompProfile}
syscalls:
  description: Sorted names of the syscalls recorded.
  returned: success
  type: list
  elements: str
  sample: [execve, exit_group, write]
session:
  description: Audit session id of the recorded container (null with O(source=bpf)).
  returned: when run
  type: int
  sample: 42
records:
  description: Number of SECCOMP audit records of the session (with O(source=bpf), of syscalls counted).
  returned: when run
  type: int
  sample: 180
cgroup_id:
  description: With O(source=bpf), the cgroup v2 id the container's syscalls were counted by.
  returned: when run with O(source=bpf)
  type: int
  sample: 31356
lost_events:
  description: With O(source=bpf), lines of the recorder's output the kernel's ring dropped (the recording itself is
    read from the recorder's maps and is complete; a full map fails the recording).
  returned: when run with O(source=bpf)
  type: int
  sample: 0
bpf_changes:
  description: With O(source=bpf), what the recording had to change on the host (mounting tracefs), as commands.
  returned: when run with O(source=bpf)
  type: list
  elements: str
  sample: [mount -t tracefs tracefs /sys/kernel/tracing]
source:
  description: Where the records were read (V(audit_log), V(enricher) or V(kernel_log)).
  returned: when run
  type: str
  sample: audit_log
audit_changes:
  description: The kernel audit settings the recording had to change, as C(auditctl) commands (empty when none).
  returned: when run
  type: list
  elements: str
  sample: [auditctl -e 1, auditctl -b 8192]
rc:
  description: Exit status of the command.
  returned: when run
  type: int
  sample: 0
stdout:
  description: Standard output of the command.
  returned: when run
  type: str
  sample: "hello\n"
stderr:
  description: Standard error of the command.
  returned: when run
  type: str
  sample: ""
path:
  description: The output file.
  returned: always
  type: str
  sample: /var/tmp/web.yaml
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def run_module(module):
    params = module.params
    return recording_local.record_to_file(
        params["output"], params["name"], params["namespace"], params["command"], rootfs=params["rootfs"],
        source=params["source"], audit_log=params["audit_log"], enricher_dir=params["enricher_state_dir"],
        base_profile_name=params["base_profile_name"], extra_caps=params["extra_caps"],
        timeout=float(params["timeout"]), expect_rc=params["expect_rc"], merge=params["merge"],
        check_mode=module.check_mode, diff=module._diff)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", default="default"),
            command=dict(type="str", required=True),
            rootfs=dict(type="path"),
            output=dict(type="path", required=True),
            source=dict(type="str", default="auto", choices=list(recording_local.SOURCES)),
            audit_log=dict(type="path", default=recording_local.DEFAULT_AUDIT_LOG),
            enricher_state_dir=dict(type="path", default=recording_local.DEFAULT_ENRICHER_DIR),
            base_profile_name=dict(type="str", default="auto"),
            extra_caps=dict(type="list", elements="str", default=[]),
            merge=dict(type="bool", default=False),
            expect_rc=dict(type="int", default=0),
            timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run_module(module))
    except SpoError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
