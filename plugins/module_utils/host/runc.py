# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One-shot OCI containers run by runc: a busybox-static root and a bundle.

Used to prove profiles with the runtime that consumes them (tests, demo) and
to record a workload on a host (record playbook).  Nothing here needs an
image registry: the root filesystem is the host's busybox-static.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import atomic_write, makedirs, read_bytes, safe_join

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
ROOTFS_DIRS = ("bin", "dev", "proc", "sys", "tmp", "etc", "var", "var/www", "root")


class RunResult(object):
    """Outcome of one container run."""

    def __init__(self, rc: int, stdout: str, stderr: str, audit_session: Optional[int]) -> None:
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.audit_session = audit_session

    def as_dict(self) -> Dict[str, Any]:
        return {"rc": self.rc, "stdout": self.stdout, "stderr": self.stderr, "audit_session": self.audit_session}


def find_busybox() -> str:
    for candidate in BUSYBOX_CANDIDATES:
        if os.path.isfile(candidate):
            return candidate
    raise SpoError("busybox not found (install busybox-static)")


def _is_static(path: str) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    return b"/lib64/ld-linux" not in head and b"/lib/ld-linux" not in head


def prepare_busybox_rootfs(rootfs: str) -> bool:
    """Make ``rootfs`` a busybox-static root (idempotent). True if it changed."""
    busybox = find_busybox()
    if not _is_static(busybox):
        raise SpoError("%s is dynamically linked; install busybox-static" % busybox)
    changed = False
    for directory in ROOTFS_DIRS:
        if not os.path.isdir(os.path.join(rootfs, directory)):
            makedirs(os.path.join(rootfs, directory))
            changed = True
    target = os.path.join(rootfs, "bin", "busybox")
    if not os.path.isfile(target) or os.path.getsize(target) != os.path.getsize(busybox):
        shutil.copy2(busybox, target + ".new")
        os.rename(target + ".new", target)
        changed = True
    # the applets of the host's binary (same bytes): executing the fresh copy can fail with ETXTBSY while a
    # process forked by another thread during the copy still holds it open for writing
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        link = os.path.join(rootfs, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
            changed = True
    for name, content in (("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"), ("etc/group", "root:x:0:\n"),
                          ("etc/hosts", "127.0.0.1 localhost\n")):
        path = os.path.join(rootfs, name)
        if not os.path.exists(path):
            atomic_write(path, content.encode("ascii"))
            changed = True
    return changed


def bundle_config(args: Sequence[str], seccomp: Optional[Dict[str, Any]] = None, rootfs: str = "rootfs",
                  extra_caps: Sequence[str] = (), hostname: str = "spo", env: Sequence[str] = (),
                  cgroups_path: Optional[str] = None) -> Dict[str, Any]:
    """An OCI runtime config for a one-shot, non-interactive container.

    ``seccomp`` is the OCI seccomp object (what a SeccompProfile becomes), or
    None for no filter.  The container has its own pid, network (loopback
    only), ipc, uts and mount namespaces.  ``cgroups_path`` (``linux.cgroupsPath``)
    puts it in a cgroup of the caller's choice (default: runc's ``/<container id>``).
    """
    caps = sorted(set(DEFAULT_CAPS) | set(extra_caps))
    config: Dict[str, Any] = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": ["PATH=/bin", "HOME=/root"] + list(env),
            "cwd": "/",
            "capabilities": {key: caps for key in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": False},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if seccomp is not None:
        config["linux"]["seccomp"] = seccomp
    if cgroups_path is not None:
        config["linux"]["cgroupsPath"] = cgroups_path
    return config


def write_bundle(bundle: str, config: Dict[str, Any]) -> str:
    """Write ``config.json`` into ``bundle``; return its path."""
    makedirs(bundle)
    path = os.path.join(bundle, "config.json")
    atomic_write(path, json.dumps(config, indent=2, sort_keys=True).encode("utf-8"))
    return path


def _new_audit_session() -> None:  # runs in the child between fork and exec
    # Setting the login uid gives this process a fresh audit session id that
    # every descendant (runc, the container's processes) inherits; the kernel
    # writes it as ses= into each SECCOMP/AVC record, which attributes records
    # to this run exactly, even for processes that exit at once.
    with open("/proc/self/loginuid", "w") as handle:
        handle.write("0")


def run(bundle: str, container_id: Optional[str] = None, timeout: float = 120.0, new_audit_session: bool = False,
        runc: str = "runc", state_root: Optional[str] = None) -> RunResult:
    """``runc run`` the bundle to completion; return rc, output and audit session."""
    if shutil.which(runc) is None:
        raise SpoError("runc not found (install runc)")
    container_id = container_id or "spo-" + uuid.uuid4().hex[:12]
    base: List[str] = [runc] + (["--root", state_root] if state_root else [])
    cmd = base + ["run", "--bundle", bundle, container_id]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_new_audit_session if new_audit_session else None)
    session: Optional[int] = None
    if new_audit_session:
        try:
            with open("/proc/%d/sessionid" % proc.pid) as handle:
                session = int(handle.read().strip())
        except (IOError, ValueError):
            session = None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        subprocess.run(base + ["kill", container_id, "KILL"], capture_output=True, check=False)
        proc.kill()
        out, err = proc.communicate()
        _remove(base, container_id)
        raise SpoError("container %s did not finish within %ss" % (container_id, timeout))
    return RunResult(proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), session)


def _remove(runc_cmd: List[str], container_id: str, attempts: int = 50) -> None:
    """Delete the container's state until runc no longer knows it (a killed ``runc run`` leaves it behind, and
    ``delete --force`` can come before the killed container is reaped)."""
    for dummy in range(attempts):
        subprocess.run(runc_cmd + ["delete", "--force", container_id], capture_output=True, check=False)
        if subprocess.run(runc_cmd + ["state", container_id], capture_output=True, check=False).returncode != 0:
            return
        time.sleep(0.1)


def run_once(args: Sequence[str], seccomp: Optional[Dict[str, Any]], workdir: str, rootfs: Optional[str] = None,
             extra_caps: Sequence[str] = (), timeout: float = 120.0, new_audit_session: bool = False,
             cgroups_path: Optional[str] = None) -> RunResult:
    """Prepare a busybox root (unless ``rootfs`` is given), write a bundle, run it."""
    if rootfs is None:
        rootfs = os.path.join(workdir, "rootfs")
        prepare_busybox_rootfs(rootfs)
    bundle = os.path.join(workdir, "bundle-" + uuid.uuid4().hex[:8])
    write_bundle(bundle, bundle_config(args, seccomp, rootfs=os.path.abspath(rootfs), extra_caps=extra_caps,
                                       cgroups_path=cgroups_path))
    try:
        return run(bundle, timeout=timeout, new_audit_session=new_audit_session)
    finally:
        shutil.rmtree(bundle, ignore_errors=True)


# --- Added for the oci_run module (playbooks/demo/molecule area) -------------

def command_args(command: Any) -> List[str]:
    """A container command as argv: a string runs under ``/bin/sh -c``, a list is the argv itself."""
    if isinstance(command, str):
        if not command.strip():
            raise SpoError("must not be empty", field="command")
        return ["/bin/sh", "-c", command]
    if isinstance(command, (list, tuple)):
        if not command:
            raise SpoError("must not be an empty list", field="command")
        argv = []
        for index, item in enumerate(command):
            if isinstance(item, (dict, list, tuple)) or item is None:
                raise SpoError("must be a string, got %s" % type(item).__name__, field="command[%d]" % index)
            argv.append(str(item))
        return argv
    raise SpoError("must be a string (run by /bin/sh -c) or a list (argv), got %s" % type(command).__name__,
                   field="command")


def localhost_profile_path(kubelet_dir: str, localhost_profile: str) -> str:
    """Path of a pod's ``localhostProfile`` (relative to ``<kubelet_dir>/seccomp``), refusing escapes."""
    if not localhost_profile or localhost_profile.startswith("/"):
        raise SpoError("%r must be a path relative to <kubelet_dir>/seccomp, e.g. operator/<namespace>/<name>.json"
                       % (localhost_profile,), field="localhost_profile")
    parts = localhost_profile.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise SpoError("%r must not contain empty, '.' or '..' components" % (localhost_profile,),
                       field="localhost_profile")
    try:
        return safe_join(os.path.join(kubelet_dir, "seccomp"), *parts)
    except SpoError as exc:
        raise SpoError(exc.message, field="localhost_profile")


def load_seccomp_json(path: str, field: str) -> Dict[str, Any]:
    """The OCI seccomp object stored at ``path`` (what runc reads as linux.seccomp)."""
    data = read_bytes(path)
    if data is None:
        raise SpoError("%s does not exist (is the profile installed?)" % path, field=field)
    try:
        obj = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpoError("%s is not valid JSON: %s" % (path, exc), field=field)
    if not isinstance(obj, dict) or "defaultAction" not in obj:
        raise SpoError("%s is not an OCI seccomp profile (a JSON object with defaultAction)" % path, field=field)
    return obj


def busybox_rootfs_ready(rootfs: str) -> bool:
    """True when prepare_busybox_rootfs(rootfs) would change nothing (read-only check, for check mode)."""
    busybox = find_busybox()
    target = os.path.join(rootfs, "bin", "busybox")
    if any(not os.path.isdir(os.path.join(rootfs, d)) for d in ROOTFS_DIRS):
        return False
    if not os.path.isfile(target) or os.path.getsize(target) != os.path.getsize(busybox):
        return False
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout.split()
    if any(a != "busybox" and not os.path.lexists(os.path.join(rootfs, "bin", a)) for a in applets):
        return False
    return all(os.path.exists(os.path.join(rootfs, name)) for name in ("etc/passwd", "etc/group", "etc/hosts"))


def runtime_base_profile_name(runc: str = "runc") -> str:
    """Name of the project's base profile recorded for the host's runc: ``runc-recorded-v<version>``.

    A base profile holds what the runtime itself calls after the filter is
    loaded; some of those calls (the Go runtime's futex waits and signals)
    happen only in some runs, so a recording alone can miss them.
    """
    try:
        out = subprocess.run([runc, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SpoError("cannot ask runc for its version: %s" % exc)
    for line in out.splitlines():
        if line.startswith("runc version "):
            version = line.split()[2].split("+")[0].split("~")[0]
            return "runc-recorded-v" + version
    raise SpoError("unexpected `runc --version` output: %r" % out[:200])


def _task_profile(localhost_profile: Optional[str], profile_path: Optional[str],
                  kubelet_dir: str) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    if localhost_profile is not None:
        path = localhost_profile_path(kubelet_dir, localhost_profile)
        return path, load_seccomp_json(path, "localhost_profile")
    if profile_path is not None:
        if not os.path.isabs(profile_path):
            raise SpoError("must be an absolute path", field="profile_path")
        return profile_path, load_seccomp_json(profile_path, "profile_path")
    return None, None


def check_caps(caps: Sequence[str]) -> None:
    """Capability names as the OCI spec writes them (CAP_SYS_ADMIN)."""
    for index, cap in enumerate(caps):
        if not cap.startswith("CAP_") or not cap[4:].replace("_", "").isalnum() or cap != cap.upper():
            raise SpoError("%r is not a capability name like CAP_SYS_ADMIN" % cap, field="extra_caps[%d]" % index)


def run_task(command: Any, localhost_profile: Optional[str] = None, profile_path: Optional[str] = None,
             kubelet_dir: str = "/var/lib/kubelet", rootfs: Optional[str] = None, workdir: Optional[str] = None,
             extra_caps: Sequence[str] = (), timeout: float = 60.0, expect_rc: Optional[int] = None,
             check_mode: bool = False) -> Dict[str, Any]:
    """Run ``command`` once in a container under a profile (the oci_run module's job).

    The busybox root is prepared in ``workdir`` (kept, ``changed`` when it had to be made) or in a
    temporary directory (removed); a given ``rootfs`` is used as it is.  A non-zero exit status is
    a result, not a failure, unless ``expect_rc`` says otherwise (``failed`` in the result).
    """
    result: Dict[str, Any] = {"changed": False, "failed": False}
    argv = command_args(command)
    result["cmd"] = argv
    check_caps(extra_caps)
    if timeout <= 0:
        raise SpoError("must be positive", field="timeout")
    result["profile"], seccomp = _task_profile(localhost_profile, profile_path, kubelet_dir)

    given_rootfs = rootfs
    if rootfs is not None:
        if not os.path.isdir(rootfs):
            raise SpoError("%s is not a directory" % rootfs, field="rootfs")
        result["rootfs"] = rootfs
    elif workdir is not None:
        rootfs = os.path.join(workdir, "rootfs")
        result["rootfs"] = rootfs
    if check_mode:
        if given_rootfs is None and workdir is not None:
            result["changed"] = not busybox_rootfs_ready(rootfs)
        return result

    scratch = None
    try:
        if workdir is None:
            workdir = scratch = tempfile.mkdtemp(prefix="spo-oci-run-")
        else:
            makedirs(workdir)
        if rootfs is None:
            rootfs = os.path.join(workdir, "rootfs")
            prepare_busybox_rootfs(rootfs)
        elif given_rootfs is None:
            result["changed"] = prepare_busybox_rootfs(rootfs)
        outcome = run_once(argv, seccomp, workdir, rootfs=rootfs, extra_caps=extra_caps, timeout=timeout)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    result.update(rc=outcome.rc, stdout=outcome.stdout, stderr=outcome.stderr,
                  stdout_lines=outcome.stdout.splitlines(), stderr_lines=outcome.stderr.splitlines())
    if expect_rc is not None and outcome.rc != expect_rc:
        result["failed"] = True
        result["msg"] = "command exited with %d, expected %d" % (outcome.rc, expect_rc)
    return result
