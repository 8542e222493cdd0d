# -*- coding: utf-8 -*-
"""Benchmark: a workload's wall time unrecorded, under the eBPF recorder and under audit recording.

Run from the repository root as root (``make bench``)::

    .venv/bin/python tests/bench/bench_bpf_recorder.py [--runs 3] [--count 20000] [--execs 100]

The workload runs in a runc container (busybox): ``dd bs=1`` copies ``--count`` bytes one byte per
``read``/``write`` (a syscall-bound load), and ``--execs`` short processes are started one after the other.
Timed is the container's run alone (``runc run`` to its exit), in one run of this script:

* unrecorded: under an allow-everything seccomp profile, no recorder;
* bpf: ``recording_local.record(source=bpf)`` (the recorder's start and final read are not in the figure);
* audit: ``recording_local.record(source=audit_log)`` under auditd with a backlog of 65536 and no rate limit
  (so the kernel drops no record; auditd is started for it when it is not running and stopped again, and the
  kernel's audit settings are put back as they were).

Also printed: the syscalls the eBPF recorder counted for the container per second of the run (the events it
kept), the lines its output ring lost (bpftrace's ``lost_events``; the recording itself is read from the
kernel-side map) and the inserts a full map refused, beside the audit recording's record count. Exits non-zero
only on a correctness failure (the two recordings disagree, bpf lost or dropped something, counts below what
the workload must make); speed is reported, not asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, ".collections"))

from ansible_collections.spo.security_profiles.plugins.module_utils.host import runc as oci
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_local as recording_bpf
from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local


class Timed(object):
    """Wraps oci.run_once: the wall time of each container run."""

    def __init__(self) -> None:
        self.original = oci.run_once
        self.times: List[float] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return self.original(*args, **kwargs)
        finally:
            self.times.append(time.monotonic() - started)


def start_auditd() -> Optional[subprocess.Popen]:
    """auditd (started in the foreground when none runs, so it can be stopped again), no record dropped."""
    started = None
    if not recording_local.auditd_running():
        started = subprocess.Popen(["auditd", "-n"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not recording_local.auditd_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        while not os.path.exists(recording_local.DEFAULT_AUDIT_LOG) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    subprocess.run(["auditctl", "-e", "1", "-b", "65536", "-r", "0"], check=True, capture_output=True)
    return started


def workload(count: int, execs: int) -> str:
    return ("dd if=/dev/zero of=/dev/null bs=1 count=%d 2>/dev/null; i=0; while [ $i -lt %d ]; do /bin/true; "
            "i=$((i+1)); done; echo done" % (count, execs))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--execs", type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bpf recorder bench skipped: needs root (runc, bpftrace, audit)")
        return 0
    try:
        recording_bpf.bpf_program.find_bpftrace()
    except recording_bpf.SpoError as exc:
        print("bpf recorder bench skipped: %s" % exc)
        return 0
    command = workload(args.count, args.execs)
    timed = Timed()
    oci.run_once = timed
    status_before = recording_local.audit_status()
    auditd_started = start_auditd()
    failed = False
    walls: Dict[str, List[float]] = {"unrecorded": [], "bpf": [], "audit": []}
    kept: List[float] = []
    lost = 0
    bpf_events = audit_records = 0
    sets: Dict[str, List[str]] = {}
    workdir = tempfile.mkdtemp(prefix="spo-bench-bpf-")
    rootfs = os.path.join(workdir, "rootfs")
    oci.prepare_busybox_rootfs(rootfs)
    try:
        for dummy in range(args.runs):
            for mode in ("unrecorded", "bpf", "audit"):
                if mode == "unrecorded":
                    result = oci.run_once(["/bin/sh", "-c", command], recording_bpf.allow_profile(), workdir,
                                          rootfs=rootfs)
                    if result.rc != 0:
                        print("unrecorded run failed: %s" % result.stderr)
                        return 1
                else:
                    rec = recording_local.record("bench", "default", command, rootfs=rootfs,
                                                 source="bpf" if mode == "bpf" else "audit_log", base_profile_name="")
                    sets.setdefault(mode, rec["syscalls"])
                    if mode == "bpf":
                        lost += rec["lost_events"]
                        bpf_events = rec["records"]
                        kept.append(rec["records"] / timed.times[-1])
                    else:
                        audit_records = rec["records"]
                walls[mode].append(timed.times[-1])
    finally:
        oci.run_once = timed.original
        if auditd_started is not None:
            auditd_started.terminate()
            auditd_started.wait(10)
        subprocess.run(["auditctl", "-e", str(status_before["enabled"]), "-b", str(status_before["backlog_limit"]),
                        "-r", str(status_before["rate_limit"])], check=True, capture_output=True)
    base = statistics.median(walls["unrecorded"])
    print("workload: dd bs=1 count=%d (%d read+write) and %d execs in runc; median of %d runs, %d CPUs"
          % (args.count, 2 * args.count, args.execs, args.runs, os.cpu_count() or 0))
    print("unrecorded: %.3f s (baseline)" % base)
    for mode in ("bpf", "audit"):
        wall = statistics.median(walls[mode])
        print("under the %s recorder: %.3f s = %.2fx unrecorded" % (mode, wall, wall / base))
    print("bpf/audit: %.2fx" % (statistics.median(walls["bpf"]) / statistics.median(walls["audit"])))
    print("bpf recorder kept %.0f syscall events/s (median; %d events in the last run; audit recorded %d records); "
          "lost output lines: %d (a full map fails the recording)" % (statistics.median(kept), bpf_events,
                                                                      audit_records, lost))
    # separate runs: a signal may arrive in one and not the other (tests/integration/test_record_bpf.py compares
    # both recorders on one run)
    print("syscall sets of the first runs: bpf %d, audit %d; bpf-only %s, audit-only %s"
          % (len(sets["bpf"]), len(sets["audit"]), sorted(set(sets["bpf"]) - set(sets["audit"])),
             sorted(set(sets["audit"]) - set(sets["bpf"]))))
    if bpf_events < 2 * args.count or lost:
        print("FAILED: the bpf recorder counted %d events (at least %d made), lost %d"
              % (bpf_events, 2 * args.count, lost))
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
