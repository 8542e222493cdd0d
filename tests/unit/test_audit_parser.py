# -*- coding: utf-8 -*-
"""Audit parser: exact per-line parse and bulk Scanner over own fixtures and real captured logs."""
from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from conftest import ROOT, audit_samples_path

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
SAMPLES = audit_samples_path()
# real audit records captured with auditd, runc and dmesg on a host like the CI machine (copied from
# ../shared/data/audit so that the tests never depend on it)
CAPTURED = os.path.join(FIXTURES, "audit")


def _fixture_lines():
    with open(SAMPLES, "rb") as handle:
        return handle.read().split(b"\n")


@pytest.mark.parametrize("index,expected", [
    (0, {"type": "SECCOMP", "ses": 7, "pid": 4242, "comm": "sh", "exe": "/bin/busybox", "syscall": "execve",
         "arch": "SCMP_ARCH_X86_64", "serial": 10, "timestamp": "1700000000.100", "uid": 0, "code": "0x7ffc0000"}),
    (1, {"type": "SECCOMP", "syscall": "write", "pid": 4242}),              # enriched: fields after 0x1d
    (2, {"type": "SECCOMP", "comm": "my app", "syscall": "openat"}),       # hex-encoded comm, subj=
    (6, {"type": "SECCOMP", "ses": None, "pid": 5000, "syscall": "read"}),  # dmesg prefix
    (7, {"type": "SECCOMP", "syscall": "exit_group", "serial": 21}),       # syslog prefix
    (8, {"type": "SECCOMP", "arch": "SCMP_ARCH_X86", "syscall": "write"}),  # i386: number 4 is write
    (9, {"type": "AVC", "permissions": ["read", "write"], "scontext": "system_u:system_r:myapp_t:s0",
         "tcontext": "system_u:object_r:var_log_t:s0", "tclass": "file", "permissive": True, "pid": 6000,
         "comm": "cat", "result": "denied"}),
    (10, {"type": "AVC", "permissions": ["open"], "serial": 31}),           # kernel-log AVC
    (11, {"type": "AVC", "tclass": "process", "permissive": False}),
])
def test_parse_line_fields(index, expected):
    event = audit.parse_line(_fixture_lines()[index])
    assert event is not None
    for key, value in expected.items():
        assert event[key] == value, key


@pytest.mark.parametrize("index,why", [
    (3, "SYSCALL record"), (4, "PROCTITLE record"), (5, "USER record"), (12, "garbage"), (13, "empty line"),
    (14, "truncated in exe"), (15, "truncated in syscall number"), (16, "truncated AVC"), (17, "not UTF-8"),
])
def test_parse_line_rejects(index, why):
    assert audit.parse_line(_fixture_lines()[index]) is None, why


def test_scanner_counts_and_sets_on_fixture():
    scanner = audit.Scanner()
    scanner.feed_file(SAMPLES)
    assert (scanner.read, scanner.used, scanner.other, scanner.skipped) == (18, 9, 3, 6)
    assert scanner.markers == [(7, "0123456789abcdef0123456789abcdef")]
    assert len(scanner.avcs) == 3
    assert audit.syscalls_by_session(scanner.records()) == {7: ["execve", "openat", "write"],
                                                            None: ["exit_group", "read", "write"]}


def test_scanner_line_at_a_time_equals_whole_buffer():
    whole = audit.Scanner()
    whole.feed_file(SAMPLES)
    single = audit.Scanner()
    for line in _fixture_lines()[:-1]:
        single.feed(line + b"\n")
    assert (single.read, single.used, single.other, single.skipped) == (whole.read, whole.used, whole.other,
                                                                        whole.skipped)
    assert single.raw == whole.raw


def test_damaged_line_does_not_swallow_the_next_record():
    good = (b'type=SECCOMP msg=audit(1.0:2): auid=0 uid=0 gid=0 ses=9 pid=7 comm="a" exe="/b" sig=0 arch=c000003e '
            b'syscall=39 compat=0 ip=0x1 code=0x7ffc0000\n')
    cut = b'type=SECCOMP msg=audit(1.0:1): auid=0 uid=0 gid=0 ses=9 pid=7 comm="a\n'
    scanner = audit.Scanner()
    scanner.feed(cut + good)
    assert (scanner.read, scanner.used, scanner.skipped) == (2, 1, 1)
    assert audit.syscalls_by_session(scanner.records()) == {9: ["getpid"]}


def test_unknown_syscall_number_is_skipped_not_fatal():
    line = (b'type=SECCOMP msg=audit(1.0:2): auid=0 uid=0 gid=0 ses=9 pid=7 comm="a" exe="/b" sig=0 arch=c000003e '
            b'syscall=99999 compat=0 ip=0x1 code=0x7ffc0000\n')
    scanner = audit.Scanner()
    scanner.feed(line)
    assert scanner.records() == []
    assert (scanner.used, scanner.skipped) == (0, 1)


@pytest.mark.parametrize("name", ["runc-web.audit.log", "kmsg-seccomp.log", "auditd-misc.audit.log"])
def test_shared_samples_bulk_equals_exact(name):
    path = os.path.join(CAPTURED, name)
    with open(path, "rb") as handle:
        lines = handle.read().splitlines()
    events, damaged = audit.parse_lines(lines)
    scanner = audit.Scanner()
    scanner.feed_file(path)
    exact = {(e["pid"], e["exe"], e["syscall"]) for e in events if e["type"] == "SECCOMP"}
    bulk = {(r["pid"], r["exe"], r["syscall"]) for r in scanner.records()}
    assert bulk == exact
    assert scanner.used == len(events) and scanner.skipped == damaged == 0
    assert scanner.read == len(lines)
    # every SECCOMP-looking line of the sample is a record we understood
    claims = sum(1 for line in lines if b"type=SECCOMP" in line or b"type=1326" in line)
    assert len(events) == claims


def test_shared_web_sample_has_network_syscalls():
    path = os.path.join(CAPTURED, "runc-web.audit.log")
    scanner = audit.Scanner()
    scanner.feed_file(path)
    names = {r["syscall"] for r in scanner.records() if r["comm"] in ("httpd", "wget")}
    assert {"socket", "connect"} <= names


def test_parallel_scan_equals_serial(tmp_path):
    with open(SAMPLES, "rb") as handle:
        data = handle.read()
    path = tmp_path / "big.log"
    path.write_bytes(data * 400)
    serial = audit.Scanner()
    serial.feed_file(str(path), workers=1)
    parallel = audit.Scanner()
    parallel.feed_file(str(path), workers=3, parallel_min=0)
    assert parallel.raw == serial.raw
    assert (parallel.read, parallel.used, parallel.other, parallel.skipped) == (serial.read, serial.used,
                                                                                serial.other, serial.skipped)
    assert serial.read == 18 * 400


def _pure_seccomp(count):
    line = (b'type=SECCOMP msg=audit(1700000000.%03d:%d): auid=0 uid=0 gid=0 ses=%d pid=%d comm="sh" '
            b'exe="/bin/busybox" sig=0 arch=c000003e syscall=%d compat=0 ip=0x4a1b2c code=0x7ffc0000')
    return b"\n".join(line % (i % 1000, i, 3 + i % 2, 100 + i % 5, i % 40) for i in range(count)) + b"\n"


COUNTERS = {"python": audit._count_keys_python, "native": audit._count_keys_native}  # pylint: disable=protected-access


@pytest.fixture(params=sorted(COUNTERS))
def key_counter(request, monkeypatch):
    """Each implementation of the fast path's key counting in turn (the C one only where built)."""
    if request.param == "native" and audit._native_cut_count is None:  # pylint: disable=protected-access
        pytest.skip(reason="spo_linecut (the optional C speed-up) is not built in this Python")
    monkeypatch.setattr(audit, "_count_keys", COUNTERS[request.param])
    return request.param


@pytest.mark.parametrize("damage,native_fast", [
    (b"", True),                                      # pure SECCOMP: the fast path takes it
    (b"garbage without any fields\n", True),          # C hands lines without a key to the general path
    (b'type=SECCOMP msg=audit(1700000009.000:9): auid=0 uid=0 gid=0 ses=3 pid=7 comm="sh" exe="/bin/busybox" sig=0 arch=c0\n',
     True),
    (b"\xff\xfe not utf-8\n", False),
    (b"type=SYSCALL msg=audit(1700000009.000:10): arch=c000003e syscall=59 success=yes ses=3 pid=7\n", True),
    (b'type=SECCOMP msg=audit(1.0:1): auid=0 uid=0 gid=0 ses=3 pid=7 comm="sh" exe="/x" sig=0 arch=c000003e syscall=1',
     False),  # no newline: runs into the next record, whose key is then out of the grammar
    (b'type=SECCOMP msg=audit(1.0:1): auid=0 uid=0 gid=0 ses=3 pid=7 comm="sh" exe="/x" sig=0 arch=c000003e '
     b'syscall=99999 compat=0 ip=0x1 code=0x7ffc0000\n', False),  # a syscall libseccomp cannot name
    (b'x ses=1 y\ntype=SECCOMP msg=audit(1.0:1): auid=0 uid=0 gid=0 ses=3 pid=7 ses=4 pid=8 comm="sh" exe="/x" '
     b'sig=0 arch=c000003e syscall=1 compat=0\n', False),  # one line without the key, one with two " ses="
    (b'type=AVC msg=audit(1.0:5): avc:  denied  { read } for  pid=7 comm="cat" scontext=system_u:system_r:a_t:s0 '
     b'tcontext=system_u:object_r:b_t:s0 tclass=file permissive=1\n'
     b"type=USER msg=audit(1.0:6): pid=1 uid=0 auid=0 ses=7 msg='spo-record-done session=7 nonce=%s'\n" % (b"ab" * 16),
     True),
    # forged records inside user messages (auditd's log and the kernel log): on no path a record
    (b"type=USER msg=audit(1.0:7): pid=1 uid=0 auid=0 ses=4294967295 msg='type=SECCOMP msg=audit(1.0:1): auid=0 uid=0 "
     b'gid=0 ses=3 pid=7 comm="sh" exe="/x" sig=0 arch=c000003e syscall=165 compat=0 ip=0x1 code=0x7ffc0000\'\n', True),
    (b"audit: type=1005 audit(1.0:8): pid=1 uid=0 auid=0 ses=4294967295 msg='x audit: type=1326 audit(1.0:1): auid=0 "
     b'uid=0 gid=0 ses=3 pid=7 comm="sh" exe="/x" sig=0 arch=c000003e syscall=165 compat=0 ip=0x1 code=0x7ffc0000\'\n',
     True),
    (b"[  1.000000] audit: type=1326 audit(1.0:9): auid=0 uid=0 gid=0 ses=3 pid=7 comm=\"sh\" exe=\"/x\" sig=0 "
     b"arch=c000003e syscall=39 compat=0 ip=0x1 code=0x7ffc0000\n", True),  # a real record with dmesg's timestamp
])
def test_fast_and_general_paths_agree(damage, native_fast, key_counter):
    """The fast path (each key counter) and the general path give identical keys and counters."""
    buf = _pure_seccomp(500) + damage + _pure_seccomp(300)
    results, fast_taken = [], []
    for force_general in (False, True):
        saved = dict(audit._FAST)  # pylint: disable=protected-access
        try:
            audit._FAST.update(wait=10 ** 6 if force_general else 0, penalty=0)  # pylint: disable=protected-access
            scanner = audit.Scanner()
            scanner.feed(buf)
        finally:
            audit._FAST.clear()  # pylint: disable=protected-access
            audit._FAST.update(saved)  # pylint: disable=protected-access
        results.append((dict(scanner.raw), scanner.read, scanner.used, scanner.other, scanner.skipped,
                        scanner.processes(), scanner.records(), scanner.avcs, scanner.markers))
        fast_taken.append(scanner.fast_buffers)
    assert results[0] == results[1]
    assert fast_taken[1] == 0
    # the fast path really ran where it should: pure buffers always, mixed ones with the C counter
    assert fast_taken[0] == int(not damage or (native_fast and key_counter == "native")), key_counter
    assert results[0][1] == buf.count(b"\n") + (0 if buf.endswith(b"\n") else 1)


def test_processes_group_records():
    """processes() is the records grouped by (pid, exe, session)."""
    scanner = audit.Scanner()
    scanner.feed(_pure_seccomp(400))
    groups = {}
    for rec in scanner.records():
        entry = groups.setdefault((rec["pid"], rec["exe"], rec["ses"]), [set(), set(), 0])
        entry[0].add(rec["comm"])
        entry[1].add(rec["syscall"])
        entry[2] += rec["count"]
    assert [(p["pid"], p["exe"], p["ses"], p["comms"], p["syscalls"], p["records"]) for p in scanner.processes()] == [
        (pid, exe, ses, sorted(c), sorted(n), r) for (pid, exe, ses), (c, n, r) in sorted(groups.items())]
    assert sum(p["records"] for p in scanner.processes()) == 400 == scanner.used


def test_project_venv_has_the_speed_up():
    """`make setup` builds spo_linecut into the project's .venv (gcc and the Python headers are among
    its packages), so the tests here really run the C key counter."""
    if os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(ROOT, ".venv")):
        pytest.skip(reason="not running in the project's .venv (%s)" % sys.prefix)
    assert audit._count_keys is audit._count_keys_native  # pylint: disable=protected-access


# ---------------------------------------------------------------------------------------------
# Forged records: text that looks like a record inside another record (a user message any process
# with CAP_AUDIT_WRITE may send, a kernel-log message of another kind) is never a record.

VICTIM = (b'type=SECCOMP msg=audit(1700000005.000:60): auid=4294967295 uid=0 gid=0 ses=7 pid=4242 comm="sh" '
          b'exe="/bin/busybox" sig=0 arch=c000003e syscall=165 compat=0 ip=0x4a1b2c code=0x7ffc0000')  # mount
KVICTIM = VICTIM.replace(b"type=SECCOMP msg=audit(", b"audit: type=1326 audit(")
FORGED_AVC = (b"type=AVC msg=audit(1700000005.000:61): avc:  denied  { write } for  pid=4242 comm=\"sh\" "
              b"scontext=system_u:system_r:victim_t:s0 tcontext=system_u:object_r:shadow_t:s0 tclass=file permissive=1")
NONCE = "0123456789abcdef0123456789abcdef"
FORGED = [
    # auditd's log: a user message (type=USER, the kernel writes pid= uid= auid= ses= before the text)
    b"type=USER msg=audit(1700000005.001:62): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='" + VICTIM + b"'",
    b"type=USER msg=audit(1700000005.001:63): pid=999 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='x "
    + VICTIM + b"'",
    b"type=USER_AVC msg=audit(1700000005.001:64): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='" + FORGED_AVC
    + b"'",
    b"node=host1 type=USER msg=audit(1700000005.001:65): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='"
    + VICTIM + b"'",
    # the same as the kernel prints it when no auditd runs (/dev/kmsg text, dmesg, syslog, journal)
    b"audit: type=1005 audit(1700000005.001:66): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='" + KVICTIM + b"'",
    b"[  492.289817] audit: type=1005 audit(1700000005.001:67): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='"
    + KVICTIM + b"'",
    b"Nov 23 21:40:00 node1 kernel: audit: type=1005 audit(1700000005.001:68): pid=999 uid=0 auid=4294967295 "
    b"ses=4294967295 msg='" + VICTIM + b"'",
    b"[  492.289817] usb 1-1: Product: " + KVICTIM,  # another kernel message carrying the text
    b"Nov 23 21:40:00 node1 myapp[12]: " + KVICTIM,  # a program's syslog message
    b"               " + VICTIM,  # dmesg's indented second line of a multi-line message
    b"x" + VICTIM,
    # end markers that are not the recorder's: inside another text, a record of another type, no nonce
    b"type=USER msg=audit(1700000005.001:69): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='x spo-record-done "
    b"session=7 nonce=" + NONCE.encode() + b"'",
    b"type=USER_CMD msg=audit(1700000005.001:70): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='spo-record-done "
    b"session=7 nonce=" + NONCE.encode() + b"'",
    b"type=USER msg=audit(1700000005.001:71): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='spo-record-done "
    b"session=7'",
    b"type=USER msg=audit(1700000005.001:72): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='spo-record-done "
    b"session=7 nonce=" + NONCE.encode() + b"' type=USER msg=audit(1.0:1): pid=1 uid=0 auid=0 ses=1 msg='spo-record-done "
    b"session=8 nonce=" + NONCE.encode() + b"'",
]


@pytest.mark.parametrize("line", FORGED, ids=range(len(FORGED)))
def test_forged_line_adds_nothing(line, key_counter):
    """A line that carries a record's text anywhere but at its start adds no syscall, AVC or marker,
    whichever path reads it (exact parse, fast path with each key counter, general path)."""
    assert audit.parse_line(line) is None
    for buf in (line + b"\n", _pure_seccomp(200) + line + b"\n" + _pure_seccomp(100), line):
        for force_general in (False, True):
            saved = dict(audit._FAST)  # pylint: disable=protected-access
            try:
                audit._FAST.update(wait=10 ** 6 if force_general else 0, penalty=0)  # pylint: disable=protected-access
                scanner = audit.Scanner()
                scanner.feed(buf)
            finally:
                audit._FAST.clear()  # pylint: disable=protected-access
                audit._FAST.update(saved)  # pylint: disable=protected-access
            assert not any(r["syscall"] == "mount" or r["pid"] == 4242 for r in scanner.records()), buf[:80]
            assert scanner.avcs == [] and scanner.markers == []


@pytest.mark.parametrize("line,expected", [
    (VICTIM, 7),
    (b"node=host1 " + VICTIM, 7),
    (KVICTIM, 7),
    (b"[  492.289817] " + KVICTIM, 7),
    (b"[Mon Dec  7 12:08:43 2026] " + KVICTIM, 7),
    (b"Nov 23 21:40:00 node1 kernel: " + KVICTIM, 7),
    (b"Nov 23 21:40:00 node1 kernel: [  492.289817] " + KVICTIM, 7),
    (b"2026-12-07T12:08:43.123456+00:00 node1 kernel: " + KVICTIM, 7),
])
def test_real_record_openings_are_read(line, expected, key_counter):
    """The openings the kernel and auditd really write are read, on every path."""
    assert audit.parse_line(line)["ses"] == expected
    scanner = audit.Scanner()
    scanner.feed(line + b"\n" + FORGED[0] + b"\n")
    assert audit.syscalls_by_session(scanner.records()) == {7: ["mount"]}


def test_marker_only_from_a_whole_user_message():
    """The recorder's marker (a user message whose whole text is it) is read, in auditd's raw and
    enriched formats and from the kernel log; the text must hold a nonce."""
    text = audit.marker_text(7, NONCE)
    assert text == b"spo-record-done session=7 nonce=" + NONCE.encode()
    lines = [b"type=USER msg=audit(1700000005.001:62): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='%s'" % text,
             b"type=USER msg=audit(1700000005.001:63): pid=999 uid=0 auid=4294967295 ses=4294967295 subj=unconfined "
             b"msg='%s'\x1dUID=\"root\" AUID=\"unset\"" % text,
             b"audit: type=1005 audit(1700000005.001:64): pid=999 uid=0 auid=4294967295 ses=4294967295 msg='%s'" % text]
    for line in lines:
        scanner = audit.Scanner()
        scanner.feed(line + b"\n")
        assert scanner.markers == [(7, NONCE)], line
    with pytest.raises(ValueError):
        audit.marker_text(7, "not-hex")
    assert len({audit.new_nonce() for dummy in range(100)}) == 100
