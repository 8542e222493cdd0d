# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record a command on a host: run it in a runc container under a log-everything seccomp
profile with a fresh audit session, collect that session's SECCOMP records, build a profile.

Attribution is exact: runc is started with a new audit session id (oci.run new_audit_session),
which every process of the container inherits and the kernel writes as ``ses=`` in each record.
The end of the records is exact too: after the container exits a user audit message
``spo-record-done session=N nonce=X`` is sent over the audit netlink socket; it is queued behind
every record the container caused, so once it is read, all of them have been read.  ``X`` is a
fresh secret of this recording: a process that may send user audit messages (a container's root)
can send the text, but not with that nonce, so it cannot end the recording early; and records
are read only where the kernel puts them (:mod:`audit`), so it cannot add to it either.

Sources of the records (``source``):

* ``audit_log``: auditd's log, read from the position noted before the run (rotation followed);
* ``enricher``: the sets the spo-enricher daemon keeps (``<state_dir>/sessions/<N>.json``);
* ``kernel_log``: ``/dev/kmsg`` when auditd is not running (the kernel then prints the records);
  ``kernel.printk_ratelimit`` is set to 0 for the run and restored, otherwise records are dropped;
* ``auto``: ``audit_log`` when an auditd process runs, else ``kernel_log``.

Kernel auditing must be on for any record (and the end marker) to be queued: a machine booted
with auditing off (``audit: initializing netlink subsys (disabled)``, ``auditctl -s`` shows
``enabled 0``) drops them silently.  The recorder therefore turns auditing on (``auditctl -e 1``)
when it is off, raises a small backlog limit to :data:`MIN_BACKLOG`, and leaves both so (another
recording may be running); it fails at once, saying what to do, when it may not (auditing
locked off, no CAP_AUDIT_CONTROL), or when ``audit_log`` is asked for and auditd is not running.
"""
from __future__ import annotations

import errno
import os
import shutil
import socket
import struct
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import profiles as recording
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_local as recording_bpf
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import Tailer, wait_session
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import atomic_write, makedirs, read_bytes

DEFAULT_AUDIT_LOG = "/var/log/audit/audit.log"
DEFAULT_ENRICHER_DIR = "/var/lib/spo-enricher"
SOURCES = ("auto", "audit_log", "enricher", "kernel_log", "bpf")
NETLINK_AUDIT = 9
AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_USER = 1005
AUDIT_STATUS_ENABLED = 0x1
AUDIT_STATUS_BACKLOG_LIMIT = 0x10
MIN_BACKLOG = 8192
NLMSG_ERROR = 2
_STATUS_FIELDS = ("mask", "enabled", "failure", "pid", "rate_limit", "backlog_limit", "lost", "backlog")
PRINTK_RATELIMIT = "/proc/sys/kernel/printk_ratelimit"


def previous_profile(text: bytes, name: str, namespace: str) -> Optional[Dict[str, Any]]:
    """The SeccompProfile a recording wrote before (our own YAML is JSON-compatible per scalar), or None.

    Only files this module wrote are understood (no YAML library on targets): anything else is None.
    """
    names: List[str] = []
    seen = {"name": None, "namespace": None, "kind": None, "arches": []}
    section = None
    for line in text.decode("utf-8", "replace").splitlines():
        stripped = line.strip()
        if line.startswith("kind: "):
            seen["kind"] = stripped[6:]
        elif line.startswith("  name: "):
            seen["name"] = stripped[6:]
        elif line.startswith("  namespace: "):
            seen["namespace"] = stripped[11:]
        elif stripped in ("architectures:", "names:"):
            section = stripped
        elif stripped.startswith("- ") and section is not None and ":" not in stripped:
            (names if section == "names:" else seen["arches"]).append(stripped[2:])
        else:
            section = None
    if seen["kind"] != "SeccompProfile" or seen["name"] != name or seen["namespace"] != namespace or not names:
        return None
    return recording.seccomp_profile(name, namespace, names, seen["arches"] or None)


def logging_profile() -> Dict[str, Any]:
    """OCI seccomp object that allows and logs every syscall."""
    return {"defaultAction": "SCMP_ACT_LOG", "architectures": [libseccomp.native_oci_arch()], "syscalls": []}


def auditd_running() -> bool:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/comm" % entry) as handle:
                    if handle.read().strip() == "auditd":
                        return True
            except OSError:
                continue
    return False


def _audit_request(msg_type: int, payload: bytes, reply_type: Optional[int] = None) -> List[bytes]:
    """Send one audit netlink request asking for an ACK; the payloads of ``reply_type`` replies.

    Reads until the ACK arrived and, when ``reply_type`` is given, one such reply (the kernel may
    send the reply after the ACK).
    """
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    replies: List[bytes] = []
    acked = False
    try:
        sock.bind((0, 0))
        header = struct.pack("=IHHII", 16 + len(payload), msg_type, 0x1 | 0x4, 1, 0)  # NLM_F_REQUEST|NLM_F_ACK
        sock.sendto(header + payload, (0, 0))
        sock.settimeout(5)
        while not acked or (reply_type is not None and not replies):
            data = sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind = struct.unpack_from("=IH", data, offset)
                body = data[offset + 16:offset + max(length, 16)]
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", body, 0)
                    if code != 0:
                        raise OSError(-code, os.strerror(-code))
                    acked = True
                elif kind == reply_type:
                    replies.append(body)
                offset += (max(length, 16) + 3) & ~3
        return replies
    finally:
        sock.close()


def audit_status() -> Dict[str, int]:
    """The kernel's audit status (``auditctl -s``): enabled (0 off, 1 on, 2 locked), pid, backlog_limit, ..."""
    try:
        replies = _audit_request(AUDIT_GET, b"", AUDIT_GET)
    except OSError as exc:
        raise SpoError("cannot read the kernel's audit status (root / CAP_AUDIT_CONTROL needed): %s" % exc)
    for body in replies:
        if len(body) >= 4 * len(_STATUS_FIELDS):
            return dict(zip(_STATUS_FIELDS, struct.unpack_from("=%dI" % len(_STATUS_FIELDS), body, 0)))
    raise SpoError("the kernel sent no audit status")


def _audit_set(mask: int, enabled: int = 0, backlog_limit: int = 0) -> None:
    values = dict.fromkeys(_STATUS_FIELDS, 0)
    values.update(mask=mask, enabled=enabled, backlog_limit=backlog_limit)
    _audit_request(AUDIT_SET, struct.pack("=%dI" % len(_STATUS_FIELDS), *[values[f] for f in _STATUS_FIELDS])
                   + b"\0" * 12)


def ensure_auditing() -> List[str]:
    """Make kernel auditing usable for a recording; the changes made, as ``auditctl`` would say them.

    Turns auditing on when it is off and raises a backlog limit below :data:`MIN_BACKLOG` (a busy
    workload otherwise loses records); raises a clear error when that is not possible.
    """
    status = audit_status()
    changes: List[str] = []
    try:
        if status["enabled"] == 0:
            _audit_set(AUDIT_STATUS_ENABLED, enabled=1)
            changes.append("auditctl -e 1")
        if status["backlog_limit"] < MIN_BACKLOG:
            _audit_set(AUDIT_STATUS_BACKLOG_LIMIT, backlog_limit=MIN_BACKLOG)
            changes.append("auditctl -b %d" % MIN_BACKLOG)
    except OSError as exc:
        raise SpoError("kernel auditing is off (auditctl -s: enabled %d) and could not be turned on: %s; "
                       "run `auditctl -e 1` as root (or start auditd), then record again" % (status["enabled"], exc))
    if audit_status()["enabled"] == 0:
        raise SpoError("kernel auditing stays off after `auditctl -e 1`; the kernel drops every record: "
                       "boot without audit=0, then record again")
    return changes


def send_marker(session: int, nonce: str) -> None:
    """Queue the user audit record ``spo-record-done session=N nonce=X`` (needs CAP_AUDIT_WRITE)."""
    text = audit.marker_text(session, nonce) + b"\0"
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
    try:
        sock.bind((0, 0))
        header = struct.pack("=IHHII", 16 + len(text), AUDIT_USER, 0x1 | 0x4, 1, 0)  # NLM_F_REQUEST|NLM_F_ACK
        sock.sendto(header + text, (0, 0))
        sock.settimeout(5)
        reply = sock.recv(65536)
        if len(reply) >= 20:
            (code,) = struct.unpack_from("=i", reply, 16)
            if struct.unpack_from("=H", reply, 4)[0] == 2 and code != 0:  # NLMSG_ERROR
                raise SpoError("the kernel refused the audit marker: %s" % os.strerror(-code))
    except OSError as exc:
        raise SpoError("cannot write to the audit netlink socket (root / CAP_AUDIT_WRITE needed): %s" % exc)
    finally:
        sock.close()


class _KernelLog(object):
    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def read(self) -> bytes:
        out: List[bytes] = []
        while True:
            try:
                record = os.read(self.fd, 8192)
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    break
                if exc.errno == errno.EPIPE:  # overwritten records: go on with the next ones
                    continue
                raise
            if not record:
                break
            out.append(record.split(b";", 1)[-1].split(b"\n", 1)[0] + b"\n")
        return b"".join(out)

    def close(self) -> None:
        os.close(self.fd)


def _collect(scanner: audit.Scanner, read: Any, session: int, nonce: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (session, nonce) not in scanner.markers:
        data = read()
        if data:
            scanner.feed(data)
            continue
        if time.monotonic() > deadline:
            raise SpoError("the end marker of audit session %d did not arrive within %ss" % (session, timeout))
        time.sleep(0.05)


def record(name: str, namespace: str, command: str, rootfs: Optional[str] = None, source: str = "auto",
           audit_log: str = DEFAULT_AUDIT_LOG, enricher_dir: str = DEFAULT_ENRICHER_DIR,
           base_profile_name: Optional[str] = None, extra_caps: Sequence[str] = (), timeout: float = 120.0,
           collect_timeout: float = 60.0, cgroups_path: Optional[str] = None) -> Dict[str, Any]:
    """Run ``/bin/sh -c command`` recorded; return the profile and what was seen.

    ``cgroups_path`` puts the container in a cgroup of the caller's (the eBPF recorder may then watch the
    same run: the test that both recorders see the same syscalls); ``source=bpf`` makes its own.
    """
    ref = "SeccompProfile %s/%s" % (namespace, name)
    recording.profile_name(name, "x")  # validates the name early
    if source not in SOURCES:
        raise SpoError("must be one of %s" % ", ".join(SOURCES), ref, "source")
    if source == "bpf":
        return recording_bpf.record(name, namespace, command, rootfs=rootfs, base_profile_name=base_profile_name,
                                    extra_caps=extra_caps, timeout=timeout)
    running = auditd_running()
    if source == "auto":
        source = "audit_log" if running else "kernel_log"
    elif source == "audit_log" and not running:
        raise SpoError("auditd is not running, so nothing is written to %s: start it (`auditd`, or "
                       "`systemctl start auditd`), or use source=auto / kernel_log" % audit_log, ref, "source")
    audit_changes = ensure_auditing()
    workdir = tempfile.mkdtemp(prefix="spo-record-")
    tailer = kmsg = None
    ratelimit = None
    try:
        if source == "audit_log":
            if not os.path.exists(audit_log):
                raise SpoError("audit log %s does not exist (is auditd running?)" % audit_log, ref, "audit_log")
            tailer = Tailer(audit_log)  # positioned at the end before the run
        elif source == "kernel_log":
            kmsg = _KernelLog()
            with open(PRINTK_RATELIMIT) as handle:
                ratelimit = handle.read()
            with open(PRINTK_RATELIMIT, "w") as handle:
                handle.write("0")
        result = oci.run_once(["/bin/sh", "-c", command], logging_profile(), workdir, rootfs=rootfs,
                              extra_caps=extra_caps, timeout=timeout, new_audit_session=True,
                              cgroups_path=cgroups_path)
        session = result.audit_session
        if session is None:
            raise SpoError("runc got no audit session id (is /proc/self/loginuid writable, auditing enabled?)", ref)
        nonce = audit.new_nonce()
        send_marker(session, nonce)
        scanner = audit.Scanner()
        if source == "enricher":
            data = wait_session(enricher_dir, session, nonce, timeout=collect_timeout)
            syscalls = list(data.get("syscalls", []))
            records = int(data.get("records", 0))
        else:
            _collect(scanner, tailer.read_all if tailer is not None else kmsg.read, session, nonce, collect_timeout)
            mine = [r for r in scanner.records() if r["ses"] == session]
            syscalls = sorted({r["syscall"] for r in mine})
            records = sum(r["count"] for r in mine)
        if base_profile_name == "auto":
            base_profile_name = oci.runtime_base_profile_name()
        profile = recording.seccomp_profile(name, namespace, syscalls, base_profile_name=base_profile_name or None)
        return {"profile": profile, "syscalls": profile["spec"]["syscalls"][0]["names"], "session": session,
                "source": source, "records": records, "audit_changes": audit_changes, "rc": result.rc, "stdout": result.stdout,
                "stderr": result.stderr}
    finally:
        if ratelimit is not None:
            with open(PRINTK_RATELIMIT, "w") as handle:
                handle.write(ratelimit)
        if kmsg is not None:
            kmsg.close()
        if tailer is not None:
            for opened in tailer.files:
                opened.handle.close()
        shutil.rmtree(workdir, ignore_errors=True)


def record_to_file(output: str, name: str, namespace: str, command: str, rootfs: Optional[str] = None,
                   expect_rc: Optional[int] = 0, merge: bool = False, check_mode: bool = False,
                   diff: bool = False, **record_options: Any) -> Dict[str, Any]:
    """Record ``command`` and write the SeccompProfile YAML to ``output`` (atomically, only if it differs).

    ``merge`` unions the recording with the same profile already in ``output``.  In check mode the
    workload still runs in a temporary root (recording changes nothing) and only the write is
    skipped; with a given ``rootfs`` it is not run and a change is predicted.
    """
    before = read_bytes(output)
    result: Dict[str, Any] = {"changed": False, "path": output}
    if check_mode and rootfs is not None:
        result["changed"] = True
        result["msg"] = "check mode: the workload is not run in a given rootfs; a recording would be written"
        return result
    rec = record(name, namespace, command, rootfs=rootfs, **record_options)
    if expect_rc is not None and rec["rc"] != expect_rc:
        raise SpoError("the command exited with %d, expected %d; nothing written (stderr: %s)"
                       % (rec["rc"], expect_rc, rec["stderr"].strip()[-500:]),
                       "SeccompProfile %s/%s" % (namespace, name), "command")
    if merge and before:
        previous = previous_profile(before, name, namespace)
        if previous is not None:
            rec["profile"] = recording.merge_seccomp(name, [rec["profile"], previous])
            rec["syscalls"] = rec["profile"]["spec"]["syscalls"][0]["names"]
    result.update(rec)
    result["changed"] = bool(rec["audit_changes"])
    text = recording.to_yaml(rec["profile"]).encode("utf-8")
    if before != text:
        result["changed"] = True
        if diff:
            result["diff"] = {"before": (before or b"").decode("utf-8", "replace"), "after": text.decode("utf-8"),
                              "before_header": output, "after_header": output}
        if not check_mode:
            makedirs(os.path.dirname(os.path.abspath(output)))
            atomic_write(output, text)
    return result
