# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The node agent's node writer: what the planner decided, made true on the node's disk.

Seccomp: the bytes the planner compiled go to ``<kubelet>/seccomp/operator/<namespace>/<file>``
(:mod:`seccomp_paths`), only where they differ, all in one atomic batch (:func:`nodefs.atomic_write_many`).
SELinux: ``<policy>.cil`` files (and the template modules they build on) go into selinuxd's drop-in
directory, and selinuxd's status of each policy is read back.  At start, files of profiles that no longer
exist are removed (:meth:`NodeWriter.remove_orphans`).
"""
from __future__ import annotations

import glob
import os
from typing import Callable, Collection, Dict, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import model as selinux_model
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import templates as selinux_templates
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import paths as seccomp_paths
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import nodestatus as ns
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.metrics import AgentMetrics
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent_plan import (
    RAW_KIND, SECCOMP_KIND, SELINUX_KIND, Key, Outcome)
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp.install import profiles_root
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.store import cil_checksum

SELINUX_POLL = 1.0  # s: selinuxd is asked again this long after a policy was handed to it


class NodeWriter(object):
    def __init__(self, kubelet_dir: str = "/var/lib/kubelet", selinux_dir: str = selinuxd.DEFAULT_DIR,
                 selinuxd_socket: str = selinuxd.DEFAULT_SOCKET, selinux_compat: str = "auto",
                 selinux_store: str = "/var/lib/selinux", namespace: Optional[str] = None,
                 metrics: Optional[AgentMetrics] = None, log: Callable[[str], None] = lambda m: None,
                 debug: Callable[[str], None] = lambda m: None) -> None:
        self.kubelet_dir = kubelet_dir
        self.root = profiles_root(kubelet_dir)
        self.selinux_dir = selinux_dir
        self.selinuxd_socket = selinuxd_socket
        self.selinux_compat = selinux_compat
        self.selinux_store = selinux_store
        self.namespace = namespace  # only this namespace's files are cleaned up (tests, benchmarks); None: all
        self.metrics = metrics or AgentMetrics()
        self.log = log
        self.debug = debug

    # ------------------------------------------------------------------ seccomp
    def seccomp_path(self, key: Key) -> str:
        return seccomp_paths.profile_path(self.root, key[1], key[2])

    def seccomp_file(self, key: Key) -> str:
        """:meth:`seccomp_path` without its checks, only to look at the file ("" when the name has none)."""
        try:
            return os.path.join(self.root, key[1], seccomp_paths.file_name(key[2]))
        except SpoError:
            return ""

    def has_file(self, key: Key) -> bool:
        return os.path.exists(self.seccomp_file(key))

    def write_seccomp(self, outcomes: Dict[Key, Outcome], file_owner: Callable[[Key], Optional[Key]]) -> None:
        """Install the compiled bytes of the outcomes to write (one batch; one file at a time when the batch
        fails), remove the files of those to remove unless another profile has the file (``file_owner``)."""
        writes: List[Tuple[Key, str, bytes]] = []
        for key, out in outcomes.items():
            if not out.write or out.data is None:
                continue
            try:
                path = self.seccomp_path(key)
                if nodefs.read_bytes(path) != out.data:
                    writes.append((key, path, out.data))
            except SpoError as exc:
                self._cannot_save(out, SpoError(exc.message, "%s %s/%s" % key, "metadata.name"))
            except OSError as exc:
                self._cannot_save(out, exc)
        try:
            self._write([(path, data) for _key, path, data in writes])
            for _write in writes:
                self.metrics.seccomp.inc(operation="update")
        except Exception as exc:  # pylint: disable=broad-except
            self.log("installing %d profiles in one call failed (%s); installing them one by one" % (len(writes), exc))
            for key, path, data in writes:
                try:
                    self._write([(path, data)])
                    self.metrics.seccomp.inc(operation="update")
                except Exception as one:  # pylint: disable=broad-except
                    self._cannot_save(outcomes[key], one)
        for key, out in outcomes.items():
            if out.remove_file and file_owner(key) is None:
                try:
                    if nodefs.remove(self.seccomp_path(key)):
                        self.metrics.seccomp.inc(operation="delete")
                        self.debug("removed %s" % self.seccomp_path(key))
                except (OSError, SpoError) as exc:
                    out.state, out.message, out.delete = ns.ERROR, "cannot remove the profile file: %s" % exc, False
                    out.reason = "CannotRemoveProfile"
            if out.refused:
                self.metrics.seccomp_errors.inc(reason=out.reason)

    @staticmethod
    def _write(writes: List[Tuple[str, bytes]]) -> None:
        for directory in sorted({os.path.dirname(path) for path, _data in writes}):
            nodefs.makedirs(directory)
        nodefs.atomic_write_many(writes)

    @staticmethod
    def _cannot_save(out: Outcome, exc: Exception) -> None:
        out.state, out.message, out.write, out.refused, out.reason = ns.ERROR, str(exc), False, True, "CannotSaveProfile"

    # ------------------------------------------------------------------ SELinux
    def selinux_path(self, key: Key) -> str:
        return nodefs.safe_join(self.selinux_dir, selinux_model.policy_name(key[2], key[1]) + ".cil")

    def compat_needed(self) -> bool:
        """The project's container-selinux stand-in is needed where container-selinux is not installed
        (``auto``: looked up in the node's policy store when it is visible here; not visible: no)."""
        if self.selinux_compat in ("always", "never"):
            return self.selinux_compat == "always"
        found = glob.glob(os.path.join(self.selinux_store, "*", "active", "modules", "*", "*"))
        if not found:
            return False
        return not any(os.path.basename(path) == selinux_templates.CONTAINER_SELINUX_MODULE for path in found)

    def system_module_writes(self) -> List[Tuple[str, bytes]]:
        """The template modules every SelinuxProfile builds on, as files of the drop-in directory."""
        writes = []
        for name, text in selinux_templates.system_modules(self.compat_needed()).items():
            path = os.path.join(self.selinux_dir, name + ".cil")
            data = text.encode("utf-8")
            if nodefs.read_bytes(path) != data:
                writes.append((path, data))
        return writes

    def write_selinux(self, outcomes: Dict[Key, Outcome], enable_selinux: bool) -> List[Key]:
        """Write the CIL of the outcomes to write, read selinuxd's state of those unchanged, remove files;
        returns the profiles to look at again in :data:`SELINUX_POLL` (selinuxd is still at work)."""
        writes = []
        if any(out.write for out in outcomes.values()):
            writes.extend(self.system_module_writes())
        written = []
        for key, out in outcomes.items():
            if out.write and out.data is not None:
                path = self.selinux_path(key)
                if nodefs.read_bytes(path) != out.data:
                    writes.append((path, out.data))
                    written.append(out)
                    continue
                out.state, out.message = self.selinuxd_state(selinux_model.policy_name(key[2], key[1]),
                                                             cil_checksum(out.data.decode("utf-8")))
        if writes:
            nodefs.makedirs(self.selinux_dir)
            nodefs.atomic_write_many(writes)
            for out in written:
                self.metrics.selinux.inc(operation="update")
                out.state, out.message = ns.IN_PROGRESS, "selinuxd is installing the policy"
            if written:
                self.log("wrote %d SELinux policies into %s" % (len(written), self.selinux_dir))
        again = []
        for key, out in outcomes.items():
            if out.write and out.state == ns.IN_PROGRESS:
                again.append(key)
            if out.remove_file:
                try:
                    if nodefs.remove(self.selinux_path(key)):
                        self.metrics.selinux.inc(operation="delete")
                except (OSError, SpoError) as exc:
                    out.state, out.message, out.delete = ns.ERROR, "cannot remove the policy file: %s" % exc, False
            if out.delete and enable_selinux and os.path.exists(self.selinuxd_socket):
                policy = selinux_model.policy_name(key[2], key[1])
                try:
                    code, _body = selinuxd.query(self.selinuxd_socket, "/policies/" + policy, timeout=5)
                except OSError:
                    code = 404
                if code == 200:  # selinuxd has not removed it yet: keep the finalizer a little longer
                    out.delete = False
                    again.append(key)
            if out.refused:
                self.metrics.selinux_errors.inc(reason=out.reason)
        return again

    def selinuxd_state(self, policy: str, checksum: str) -> Tuple[str, str]:
        try:
            code, body = selinuxd.query(self.selinuxd_socket, "/policies/" + policy, timeout=5)
        except (OSError, ValueError) as exc:
            return ns.IN_PROGRESS, "selinuxd is not reachable at %s: %s" % (self.selinuxd_socket, exc)
        if code != 200 or not isinstance(body, dict) or body.get("checksum") != checksum:
            return ns.IN_PROGRESS, "selinuxd is installing the policy"
        if body.get("status") == selinuxd.INSTALLED:
            return ns.INSTALLED, ""
        if body.get("status") == selinuxd.FAILED:
            self.metrics.selinux_errors.inc(reason="CannotInstallPolicy")
            return ns.ERROR, "selinuxd could not install policy %s: %s" % (policy, body.get("message", ""))
        return ns.IN_PROGRESS, "selinuxd is installing the policy"

    # ------------------------------------------------------------------ removals
    def remove_gone(self, key: Key, shared: bool) -> None:
        """Remove the file of a profile that no longer exists, unless ``shared`` (another live profile has the
        seccomp file, or the other SELinux kind of the same name has the policy)."""
        if shared:
            return
        try:
            if key[0] == SECCOMP_KIND:
                if nodefs.remove(self.seccomp_path(key)):
                    self.metrics.seccomp.inc(operation="delete")
            elif nodefs.remove(self.selinux_path(key)):
                self.metrics.selinux.inc(operation="delete")
        except SpoError:
            pass

    def remove_orphans(self, seccomp: Collection[Tuple[str, str]], policies: Collection[str],
                       in_use: Callable[[Key], bool]) -> None:
        """Remove files under ``<kubelet>/seccomp/operator/`` that match no SeccompProfile of ``seccomp``
        ((namespace, name)) and no pod's profile (``in_use``), and this project's CIL files of no policy of
        ``policies``."""
        for path in glob.glob(os.path.join(self.root, self.namespace or "*", "*.json")):
            namespace = os.path.basename(os.path.dirname(path))
            names = seccomp_paths.names_of_file(os.path.basename(path))  # p1.json: the file of p1 and of p1.json
            if any((namespace, name) in seccomp or in_use((SECCOMP_KIND, namespace, name)) for name in names):
                continue
            self.log("removing %s: no SeccompProfile %s" % (path, " or ".join("%s/%s" % (namespace, n) for n in names)))
            nodefs.remove(path)
            self.metrics.seccomp.inc(operation="delete")
        for directory in glob.glob(os.path.join(self.root, self.namespace or "*")):
            try:
                os.rmdir(directory)  # only when empty
            except OSError:
                pass
        if os.path.isdir(self.selinux_dir):
            for path in glob.glob(os.path.join(self.selinux_dir, "*.cil")):
                policy = os.path.basename(path)[:-4]
                if self.namespace and not policy.endswith("_" + self.namespace):
                    continue
                if policy in policies or not self.ours(path):
                    continue
                self.log("removing %s: no SelinuxProfile or RawSelinuxProfile for it" % path)
                nodefs.remove(path)
                self.metrics.selinux.inc(operation="delete")

    @staticmethod
    def ours(path: str) -> bool:
        """A CIL file this project wrote for a profile (first line ``; <Kind> ns/name (spo.security_profiles)``)."""
        data = nodefs.read_bytes(path) or b""
        first = data.split(b"\n", 1)[0]
        return first.endswith(b"(spo.security_profiles)") and (first.startswith(b"; SelinuxProfile ")
                                                               or first.startswith(b"; RawSelinuxProfile "))


def other_selinux_kind(kind: str) -> str:
    """SelinuxProfile and RawSelinuxProfile of one name share a policy (and its file)."""
    return SELINUX_KIND if kind == RAW_KIND else RAW_KIND
