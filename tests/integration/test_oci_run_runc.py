# -*- coding: utf-8 -*-
"""oci_run through ansible-playbook with the real runc and a busybox-static root.

One playbook run exercises the module end to end; its assert tasks are the
checks, so a wrong result fails the playbook and this test.
"""
from __future__ import annotations

import json
import os
import re
import subprocess

from conftest import ansible_playbook, require_root, require_tools

PLAYBOOK = """
- name: oci_run end to end
  hosts: localhost
  gather_facts: false
  vars:
    work: {work}
  tasks:
    - name: Check mode prepares and runs nothing
      spo.security_profiles.oci_run:
        workdir: "{{{{ work }}}}/oci"
        command: echo run > /root/marker
      check_mode: true
      register: check

    - name: Rootfs is absent after check mode
      ansible.builtin.stat:
        path: "{{{{ work }}}}/oci/rootfs"
      register: check_stat

    - name: First real run prepares the root (changed) and writes the marker
      spo.security_profiles.oci_run:
        workdir: "{{{{ work }}}}/oci"
        command: echo run > /root/marker && cat /root/marker
        expect_rc: 0
      register: first

    - name: Second run reuses the root (not changed); no profile, so unshare works
      spo.security_profiles.oci_run:
        workdir: "{{{{ work }}}}/oci"
        command: [unshare, --mount, "true"]
        extra_caps: [CAP_SYS_ADMIN]
      register: noprofile

    - name: Under a localhost profile that denies unshare with EPERM
      spo.security_profiles.oci_run:
        kubelet_dir: "{{{{ work }}}}/kubelet"
        localhost_profile: operator/ns/deny-unshare.json
        workdir: "{{{{ work }}}}/oci"
        command: echo allowed; unshare --mount true
        extra_caps: [CAP_SYS_ADMIN]
      register: denied

    - name: Under an absolute profile_path, errnoRet is what the command sees
      spo.security_profiles.oci_run:
        profile_path: "{{{{ work }}}}/kubelet/seccomp/operator/ns/deny-unshare.json"
        command: [mkdir, /tmp/x]
      register: mkdir_denied

    - name: A throwaway root (no workdir) reports no change
      spo.security_profiles.oci_run:
        command: [id, -u]
        expect_rc: 0
      register: throwaway

    - name: expect_rc mismatch fails the task
      spo.security_profiles.oci_run:
        workdir: "{{{{ work }}}}/oci"
        command: exit 3
        expect_rc: 0
      register: mismatch
      ignore_errors: true

    - name: Timeout kills the container and fails
      spo.security_profiles.oci_run:
        workdir: "{{{{ work }}}}/oci"
        command: [sleep, "30"]
        timeout: 1
      register: timed_out
      ignore_errors: true

    - name: Results
      ansible.builtin.assert:
        that:
          - check is changed
          - check.rc is not defined
          - not check_stat.stat.exists
          - first is changed
          - first.stdout == "run\\n"
          - noprofile is not changed
          - noprofile.rc == 0
          - noprofile.profile is none
          - denied.rc == 1
          - denied.stdout_lines == ['allowed']
          - "'Operation not permitted' in denied.stderr"
          - mkdir_denied.rc != 0
          - "'No space left on device' in mkdir_denied.stderr"
          - throwaway is not changed
          - throwaway.stdout == "0\\n"
          - throwaway.rootfs is not defined
          - mismatch is failed
          - mismatch.rc == 3
          - "'expected 0' in mismatch.msg"
          - timed_out is failed
          - "'did not finish' in timed_out.msg"
"""

DENY_UNSHARE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        {"names": ["unshare"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
    ],
}


def test_oci_run_end_to_end(tmp_path):
    require_root()
    require_tools("runc", "busybox")
    profile_dir = tmp_path / "kubelet" / "seccomp" / "operator" / "ns"
    profile_dir.mkdir(parents=True)
    (profile_dir / "deny-unshare.json").write_text(json.dumps(DENY_UNSHARE))
    playbook = tmp_path / "oci_run.yml"
    playbook.write_text(PLAYBOOK.format(work=str(tmp_path)))
    proc = ansible_playbook(str(playbook))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recap = re.search(r"localhost\s*:\s*ok=\d+\s+changed=(\d+).*failed=(\d+)", proc.stdout)
    assert recap and recap.group(2) == "0"
    # the marker written by the container is in the prepared root, the bundles are gone
    assert (tmp_path / "oci" / "rootfs" / "root" / "marker").read_text() == "run\n"
    assert [e for e in os.listdir(tmp_path / "oci") if e.startswith("bundle-")] == []
    # and runc keeps no state of them (the timed-out container was killed: its state is deleted too)
    listed = subprocess.run(["runc", "list", "--format", "json"], capture_output=True, text=True, check=True).stdout
    left = [c["id"] for c in json.loads(listed or "null") or [] if c.get("bundle", "").startswith(str(tmp_path))]
    assert left == [], "runc still holds containers of this run: %s" % left


def test_module_examples_run_as_written(tmp_path):
    """The oci_run EXAMPLES (all but the last, which needs a file of the user's) run as a user pastes them,
    from the repository root; only the kubelet directory is redirected, by module_defaults."""
    require_root()
    require_tools("runc", "busybox")
    import yaml

    from ansible_collections.spo.security_profiles.plugins.modules import oci_run

    tasks = [task for task in yaml.safe_load(oci_run.EXAMPLES) if "profile_path" not in task.get(
        "spo.security_profiles.oci_run", {})]
    kubelet = str(tmp_path / "kubelet")
    play = [{"name": "oci_run EXAMPLES", "hosts": "localhost", "gather_facts": False, "tasks": tasks,
             "module_defaults": {"spo.security_profiles.seccomp_profile": {"kubelet_dir": kubelet},
                                 "spo.security_profiles.oci_run": {"kubelet_dir": kubelet,
                                                                   "workdir": str(tmp_path / "oci")}}}]
    playbook = tmp_path / "examples.yml"
    playbook.write_text(yaml.safe_dump(play))
    # `src: profiles/seccomp` is found beside the playbook, as the user's copy of the shipped profiles
    os.symlink(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            "profiles"), str(tmp_path / "profiles"))
    proc = ansible_playbook(str(playbook))
    assert proc.returncode == 0, proc.stdout + proc.stderr
