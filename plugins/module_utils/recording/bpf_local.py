# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record a command on a host with the eBPF recorder (``source=bpf``): no audit subsystem needed.

The container gets a cgroup made for this recording before it starts (``linux.cgroupsPath``), so
its cgroup id, which the recorder's program keys every syscall by, is known in advance and nothing
has to be looked up while the container runs.  The recorder is started and its probes attached
before runc starts; after the container exited it is stopped and its final dump (kernel-side
counts, exact even when printed lines were lost) gives the container's syscalls.  The profile has
the same shape as an audit recording's (:func:`recording.seccomp_profile`): same name, base profile
and merge.
"""
from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_program
from ansible_collections.spo.security_profiles.plugins.module_utils.host import cgroup
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import profiles as recording
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_recorder import BpftraceProcess
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError


def syscall_names(numbers: Sequence[int], arch_token: Optional[int] = None) -> List[str]:
    """Syscall numbers of the node's architecture -> sorted names (libseccomp); unknown numbers are an error."""
    token = libseccomp.native_arch_token() if arch_token is None else arch_token
    names = set()
    for number in numbers:
        name = libseccomp.syscall_name(token, number)
        if name is None:
            raise SpoError("syscall number %d is unknown to libseccomp on this architecture" % number)
        names.add(name)
    return sorted(names)


class RecordingCgroup(object):
    """A cgroup v2 directory made for one recording: its path (for runc) and id (for the recorder)."""

    def __init__(self, prefix: str = "spo-record-") -> None:
        mount = cgroup.unified_mount()
        if mount is None:
            raise SpoError("no cgroup v2 hierarchy is mounted (unified or hybrid mode): the eBPF recorder attributes "
                           "syscalls by cgroup v2 id")
        self.mount = mount
        self.path = "/" + prefix + uuid.uuid4().hex[:12]
        os.mkdir(os.path.join(mount, self.path.lstrip("/")))
        found = cgroup.cgroup_id(mount, self.path)
        if found is None:
            raise SpoError("the cgroup %s made for the recording vanished" % self.path)
        self.id = found

    def remove(self) -> None:
        try:
            os.rmdir(os.path.join(self.mount, self.path.lstrip("/")))
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise


def record(name: str, namespace: str, command: str, rootfs: Optional[str] = None,
           base_profile_name: Optional[str] = None, extra_caps: Sequence[str] = (),
           timeout: float = 120.0) -> Dict[str, Any]:
    """Run ``/bin/sh -c command`` under the eBPF recorder; the profile and what was seen (as recording_local.record)."""
    ref = "SeccompProfile %s/%s" % (namespace, name)
    recording.profile_name(name, "x")
    changes = bpf_program.ensure_tracefs()
    recorder = BpftraceProcess()
    workdir = tempfile.mkdtemp(prefix="spo-record-bpf-")
    group = None
    try:
        group = RecordingCgroup()
        recorder.start()
        try:
            result = oci.run_once(["/bin/sh", "-c", command], allow_profile(), workdir, rootfs=rootfs,
                                  extra_caps=extra_caps, timeout=timeout, cgroups_path=group.path)
        finally:
            output = recorder.stop()
        if output.dropped:
            raise SpoError("the eBPF recorder's maps were full (%d inserts failed): the recording may be incomplete, "
                           "nothing written" % output.dropped, ref)
        if not output.dumped:
            raise SpoError("bpftrace printed no final map dump: %s" % recorder.errors(), ref)
        syscalls = syscall_names(sorted(output.of(group.id)))
        if base_profile_name == "auto":
            base_profile_name = oci.runtime_base_profile_name()
        profile = recording.seccomp_profile(name, namespace, syscalls, base_profile_name=base_profile_name or None)
        return {"profile": profile, "syscalls": profile["spec"]["syscalls"][0]["names"], "session": None,
                "cgroup_id": group.id, "source": "bpf", "records": output.events(group.id),
                "lost_events": output.lost, "audit_changes": [], "bpf_changes": changes, "rc": result.rc,
                "stdout": result.stdout, "stderr": result.stderr}
    finally:
        recorder.kill()
        if group is not None:
            group.remove()
        shutil.rmtree(workdir, ignore_errors=True)


def allow_profile() -> Dict[str, Any]:
    """OCI seccomp object allowing every syscall: the container is recorded from the moment runc loads it
    (the hand-over, where audit's logging profile starts logging), and nothing is written to any log."""
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": [libseccomp.native_oci_arch()], "syscalls": []}
