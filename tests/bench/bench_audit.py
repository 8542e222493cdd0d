# -*- coding: utf-8 -*-
"""Benchmark of the audit parser (make bench).

Builds a 1,000,000-line audit log by replicating real captured SECCOMP records
(tests/unit/fixtures/audit) with varied pids and syscall numbers, then in the same run:

* parses it into per-process syscall sets (audit.Scanner.feed_file + processes), and times
  ``grep -c type=SECCOMP`` on the same file: lines/s (target >= 2,000,000) and the ratio (<= 8x);
  the parse is timed with the C speed-up (spo_linecut, built by `make setup`; the target applies
  to it) and again in pure Python, as the parser runs on a managed node without the speed-up;
* parses the same records with auditd's other record types (SYSCALL, PROCTITLE, CONFIG_CHANGE,
  ...) interleaved, as a real audit.log is while recording (no target: shown for comparison);
* times the command a user runs, ``spo-enricher --once FILE > out.json`` end to end (interpreter
  start, imports, parse, JSON), against ``grep -c type=SECCOMP FILE > count`` (targets: >= 2,000,000
  lines/s and <= 5x grep, issue 19),
  on the file above and on a user's file: every line of the captured logs repeated to 1,000,000
  lines, split on newlines only (``str.splitlines`` would also split at the 0x1d separator of
  auditd's enriched lines);
* runs ``spo-enricher`` tailing a log while 1,000,000 lines are appended and reports its peak RSS
  (target <= 64 MB) beside the RSS of an idle python interpreter.
"""
from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CAPTURED = os.path.join(ROOT, "tests", "unit", "fixtures", "audit")  # real captured audit records
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
LINES = 1000000
RUNS = 5

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit  # noqa: E402


def sample_lines():
    lines = []
    for name in ("runc-web.audit.log", "kmsg-seccomp.log"):
        with open(os.path.join(CAPTURED, name), "rb") as handle:
            lines += [line for line in handle.read().split(b"\n") if b"type=SECCOMP" in line]
    return lines


def build(path, count):
    base = sample_lines()
    pid = re.compile(rb"pid=\d+")
    nr = re.compile(rb"syscall=\d+")
    out = []
    for index in range(count):
        line = base[index % len(base)]
        # 800 processes of 1250 records each; every 7th record a syscall number of its own
        line = pid.sub(b"pid=%d" % (20000 + index // 1250), line, count=1)
        if index % 7 == 0:
            line = nr.sub(b"syscall=%d" % (index // 7 % 40), line, count=1)
        out.append(line)
    with open(path, "wb") as handle:
        handle.write(b"\n".join(out) + b"\n")


def build_mixed(path, source, every=50):
    """``source`` with one of auditd's other records after every ``every`` lines."""
    with open(os.path.join(CAPTURED, "auditd-misc.audit.log"), "rb") as handle:
        others = [line for line in handle.read().split(b"\n") if line and b"type=SECCOMP" not in line
                  and b"type=1326" not in line]
    with open(source, "rb") as src, open(path, "wb") as out:
        for index, line in enumerate(src):
            out.write(line)
            if index % every == every - 1:
                out.write(others[index // every % len(others)] + b"\n")


def cpu_seconds():
    """User + system CPU seconds of this process and its waited-for children (grep, parse workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(func, runs=RUNS):
    """Run ``func`` ``runs`` times: (best wall s, median wall s, CPU s of the best run, last result).

    Other work on the machine shows up in wall time; CPU time is printed beside it.
    """
    walls, result = [], None
    for dummy in range(runs):
        cpu = cpu_seconds()
        start = time.perf_counter()
        result = func()
        walls.append((time.perf_counter() - start, cpu_seconds() - cpu))
    best = min(walls)
    return best[0], sorted(w for w, c in walls)[len(walls) // 2], best[1], result


def build_user_file(path, count):
    """Every line of the captured logs, in file order, repeated to ``count`` lines (split on b"\\n" only)."""
    lines = []
    for name in sorted(os.listdir(CAPTURED)):
        with open(os.path.join(CAPTURED, name), "rb") as handle:
            lines += [line for line in handle.read().split(b"\n") if line]
    with open(path, "wb") as handle:
        handle.write(b"\n".join(lines[index % len(lines)] for index in range(count)) + b"\n")


def time_commands(path, workdir):
    """Wall seconds (best, median) of `grep -c` and of `spo-enricher --once`, each writing to a file."""
    out = os.path.join(workdir, "out")
    grep = "grep -c type=SECCOMP %s > %s" % (path, out)
    once = "%s --once %s > %s" % (os.path.join(VENV_BIN, "spo-enricher"), path, out)
    grep_best, grep_median = timed(lambda: subprocess.run(grep, shell=True, check=False))[:2]
    once_best, once_median = timed(lambda: subprocess.run(once, shell=True, check=True))[:2]
    return grep_best, grep_median, once_best, once_median


ONCE_TARGET = 5  # spo-enricher --once end to end, times grep -c (issue 19)


def report_commands(label, path, workdir):
    grep, grep_median, once, once_median = time_commands(path, workdir)
    rate = LINES / once
    print("%s: spo-enricher --once end to end %.3f s (median %.3f s) = %.0f lines/s (target >= 2,000,000: %s);"
          " grep -c > file %.3f s (median %.3f s); ratio %.2fx (median %.2fx) (target <= %dx: %s)"
          % (label, once, once_median, rate, "ok" if rate >= 2000000 else "MISSED", grep, grep_median,
             once / grep, once_median / grep_median, ONCE_TARGET, "ok" if once / grep <= ONCE_TARGET else "MISSED"))


def time_grep(path):
    return timed(lambda: subprocess.run(["grep", "-c", "type=SECCOMP", path], check=True, capture_output=True))[:3]


def time_parse(path, counter):
    def parse():
        scanner = audit.Scanner()
        scanner.feed_file(path)
        return scanner, scanner.processes()
    saved = audit._count_keys  # pylint: disable=protected-access
    audit._count_keys = counter  # pylint: disable=protected-access
    try:
        best, median, cpu, (scanner, processes) = timed(parse)
    finally:
        audit._count_keys = saved  # pylint: disable=protected-access
    return best, median, cpu, scanner, processes


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def enricher_rss(workdir, source):
    log = os.path.join(workdir, "tail.log")
    open(log, "wb").close()
    proc = subprocess.Popen([os.path.join(VENV_BIN, "spo-enricher"), "--audit-log", log, "--state-dir",
                             os.path.join(workdir, "state"), "--metrics-address", "", "--interval", "0.02"],
                            stderr=subprocess.DEVNULL)
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    peak = 0
    try:
        time.sleep(1.0)
        with open(source, "rb") as src, open(log, "ab") as dst:
            while True:
                block = src.read(4 << 20)
                if not block:
                    break
                dst.write(block)
                dst.flush()
                peak = max(peak, rss_kb(proc.pid))
                time.sleep(0.01)
        deadline = time.monotonic() + 60
        state = os.path.join(workdir, "state", "position.json")
        size = os.path.getsize(log)
        while time.monotonic() < deadline:
            peak = max(peak, rss_kb(proc.pid))
            try:
                if '"offset": %d' % size in open(state).read():
                    break
            except OSError:
                pass
            time.sleep(0.05)
        idle_rss = rss_kb(idle.pid)
    finally:
        proc.terminate()
        proc.wait()
        idle.kill()
        idle.wait()
    return peak, idle_rss


def main():
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as workdir:
        path = os.path.join(workdir, "audit.log")
        build(path, LINES)
        size = os.path.getsize(path)
        with open(path, "rb") as handle:  # warm the page cache for both contenders
            while handle.read(16 << 20):
                pass
        grep, grep_median, grep_cpu = time_grep(path)
        native = audit._count_keys_native if audit._native_cut_count else None  # pylint: disable=protected-access
        if native is None:
            print("C speed-up spo_linecut NOT built (run `make setup` with gcc): timing pure Python only")
        parse, parse_median, parse_cpu, scanner, processes = time_parse(path, native or audit._count_keys_python)  # pylint: disable=protected-access
        py, py_median, py_cpu, py_scanner, py_processes = time_parse(path, audit._count_keys_python)  # pylint: disable=protected-access
        assert (py_scanner.raw, py_processes) == (scanner.raw, processes), "pure Python and C disagree"
        rate = scanner.read / parse
        print("audit log: %d lines, %.1f MB, %d processes, %d unique records" % (scanner.read, size / 1e6,
                                                                                 len(processes), sum(map(len, scanner.raw.values()))))
        print("counts: read=%d used=%d skipped=%d other=%d" % (scanner.read, scanner.used, scanner.skipped,
                                                               scanner.other))
        print("(best of %d runs; median wall and CPU seconds incl. child processes beside it; %d CPUs)"
              % (RUNS, os.cpu_count() or 1))
        print("grep -c type=SECCOMP: %.3f s (median %.3f s, CPU %.3f s) (baseline)" % (grep, grep_median, grep_cpu))
        print("parse into per-process syscall sets%s: %.3f s (median %.3f s, CPU %.3f s) = %.0f lines/s"
              " (target >= 2,000,000: %s)"
              % (" (C speed-up)" if native else "", parse, parse_median, parse_cpu, rate,
                 "ok" if rate >= 2000000 else "MISSED"))
        print("ratio parse/grep: %.2fx (median %.2fx, CPU %.2fx) (target <= 8x: %s)"
              % (parse / grep, parse_median / grep_median, parse_cpu / max(grep_cpu, 1e-9),
                 "ok" if parse / grep <= 8 else "MISSED"))
        print("same parse in pure Python (a managed node without the speed-up): %.3f s (median %.3f s, CPU %.3f s)"
              " = %.0f lines/s, %.2fx grep, %.2fx the C speed-up's time; same results"
              % (py, py_median, py_cpu, scanner.read / py, py / grep, py / parse))
        mixed = os.path.join(workdir, "mixed.log")
        build_mixed(mixed, path)
        mix, mix_median, mix_cpu, mix_scanner, dummy = time_parse(mixed, native or audit._count_keys_python)  # pylint: disable=protected-access
        mix_py = time_parse(mixed, audit._count_keys_python)[0]  # pylint: disable=protected-access
        print("with other record types interleaved (%d of %d lines): %.3f s (median %.3f s) = %.0f lines/s;"
              " pure Python %.3f s = %.0f lines/s"
              % (mix_scanner.other, mix_scanner.read, mix, mix_median, mix_scanner.read / mix, mix_py,
                 mix_scanner.read / mix_py))
        report_commands("bench log (%d lines)" % LINES, path, workdir)
        user = os.path.join(workdir, "user.log")
        build_user_file(user, LINES)
        report_commands("captured logs repeated (%d lines)" % LINES, user, workdir)
        os.unlink(user)
        peak, idle = enricher_rss(workdir, path)
        print("spo-enricher peak RSS while tailing %d lines: %.1f MB (idle python %.1f MB, ratio %.2fx; target <= 64 MB: %s)"
              % (LINES, peak / 1024.0, idle / 1024.0, peak / max(idle, 1), "ok" if peak <= 64 * 1024 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
