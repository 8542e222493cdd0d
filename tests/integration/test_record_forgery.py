# -*- coding: utf-8 -*-
"""Forged audit records and end markers, sent as an attacker sends them: user audit messages over
the audit netlink socket (any process with CAP_AUDIT_WRITE may send them; a container's root has it
by default), which the real kernel writes to auditd's log or to the kernel log.  Neither adds a
syscall to another session's recording nor ends it; the recorder's own marker does."""
from __future__ import annotations

import os
import socket
import struct
import subprocess
import threading
import time

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local
from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import KernelLog, Tailer
from conftest import AUDIT_LOG

SESSION = 4000000000 + os.getpid() % 1000  # no real session has it: whatever is read for it is forged
RECORD = ('type=SECCOMP msg=audit(1.0:1): auid=0 uid=0 gid=0 ses=%d pid=%d comm="sh" exe="/bin/sh" sig=0 '
          'arch=c000003e syscall=165 compat=0 ip=0x1 code=0x7ffc0000' % (SESSION, os.getpid()))  # mount


def _send_user_message(text):
    """What an attacker runs: AUDIT_USER with any text (the kernel writes its own fields before it)."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, recording_local.NETLINK_AUDIT)
    try:
        sock.bind((0, 0))
        payload = text.encode() + b"\0"
        sock.sendto(struct.pack("=IHHII", 16 + len(payload), recording_local.AUDIT_USER, 0x1 | 0x4, 1, 0) + payload,
                    (0, 0))
        sock.settimeout(5)
        sock.recv(65536)
    finally:
        sock.close()


FORGERIES = [
    RECORD,
    "x " + RECORD,
    "x\n" + RECORD,  # a newline: auditd and /dev/kmsg must not turn it into a line of its own
    "x\n" + RECORD.replace("type=SECCOMP msg=audit(", "audit: type=1326 audit("),
    "x\n[  1.000000] " + RECORD.replace("type=SECCOMP msg=audit(", "audit: type=1326 audit("),
    "spo-record-done session=%d nonce=%s" % (SESSION, "0" * 32),  # the text, without the recorder's nonce
    "spo-record-done session=%d" % SESSION,
    "x\ntype=USER msg=audit(1.0:2): pid=1 uid=0 auid=0 ses=1 msg='spo-record-done session=%d nonce=%s'"
    % (SESSION, "0" * 32),
]


def _attack_then_mark(read):
    scanner = audit.Scanner()
    for text in FORGERIES:
        _send_user_message(text)
    nonce = audit.new_nonce()
    recording_local.send_marker(SESSION, nonce)
    deadline = time.monotonic() + 20
    while (SESSION, nonce) not in scanner.markers:
        assert time.monotonic() < deadline, "the recorder's own marker was not read back: %s" % scanner.markers
        scanner.feed(read())
        time.sleep(0.05)
    scanner.feed(read())
    return scanner, nonce


def test_forged_user_messages_in_auditd_log(auditd):
    tailer = Tailer(AUDIT_LOG)
    scanner, nonce = _attack_then_mark(tailer.read_all)
    assert [r for r in scanner.records() if r["ses"] == SESSION or r["pid"] == os.getpid()] == []
    # the attacker may send the marker's text with a nonce of its choice: read as a marker that no
    # waiter takes (the recorder's nonce is a secret); every other forged marker is none at all
    assert sorted(set(scanner.markers)) == sorted({(SESSION, "0" * 32), (SESSION, nonce)})
    with open(AUDIT_LOG, "rb") as handle:  # the forged texts did reach the log, as user messages
        assert handle.read().count(b"ses=%d" % SESSION) >= 4


def test_forged_user_messages_in_kernel_log(fresh_boot):
    recording_local.ensure_auditing()
    with open(recording_local.PRINTK_RATELIMIT) as handle:
        ratelimit = handle.read()
    with open(recording_local.PRINTK_RATELIMIT, "w") as handle:
        handle.write("0")  # as the recorder does: otherwise the kernel prints 10 records per 5 s
    try:
        reader = KernelLog()
        scanner, nonce = _attack_then_mark(lambda: reader.take(0.05))
    finally:
        with open(recording_local.PRINTK_RATELIMIT, "w") as handle:
            handle.write(ratelimit)
    assert [r for r in scanner.records() if r["ses"] == SESSION or r["pid"] == os.getpid()] == []
    assert sorted(set(scanner.markers)) == sorted({(SESSION, "0" * 32), (SESSION, nonce)})


def _current_session():
    """The audit session the next new session follows (the kernel counts them up for everyone)."""
    out = subprocess.run(["/bin/sh", "-c", "cat /proc/self/sessionid"], preexec_fn=oci._new_audit_session,  # pylint: disable=protected-access
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_recording_under_attack(auditd, busybox_rootfs):
    """While a workload is recorded, another process sends forged SECCOMP records (a syscall the
    workload never makes, for the sessions the recording may get) and forged end markers for them:
    the profile holds the workload's syscalls and no forged one, and the recording was not cut short
    (what the workload did after the forged markers is in it)."""
    first = _current_session() + 1
    stop = threading.Event()

    def attack():
        while not stop.is_set():
            for session in range(first, first + 10):
                record = RECORD.replace("ses=%d" % SESSION, "ses=%d" % session)
                for text in (record, "x\n" + record, "spo-record-done session=%d" % session,
                             "spo-record-done session=%d nonce=%s" % (session, "0" * 32)):
                    _send_user_message(text)
            time.sleep(0.05)
    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        rec = recording_local.record("attacked", "default", "sleep 1 && ls / > /dev/null && sleep 1 && mkdir /tmp/late",
                                     source="audit_log", rootfs=busybox_rootfs, collect_timeout=30)
    finally:
        stop.set()
        attacker.join()
    assert first <= rec["session"] < first + 10, "the workload's session was not among the forged ones"
    assert rec["rc"] == 0, rec["stderr"]
    assert "mount" not in rec["syscalls"]
    assert {"getdents64", "mkdir"} <= set(rec["syscalls"])
