# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The eBPF recorder's program (a bpftrace script) and how it is started.

Needs only what every distribution kernel since 4.x has: the BPF syscall, BPF programs on
tracepoints (``raw_syscalls:sys_enter``/``sys_exit``, ``sched:sched_process_fork``/``exit``, read
through tracefs) and cgroup v2 (unified or hybrid) for ``bpf_get_current_cgroup_id``.  No BTF, no
kprobes, no kernel headers: the tracepoints' formats are read from tracefs.

What is recorded, per task, in the kernel (so a process that exits at once loses nothing):

* a task starts being recorded when the runtime hands over: when it loads a seccomp filter
  (``seccomp(SECCOMP_SET_MODE_FILTER)`` or ``prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`` returned 0;
  from there on the kernel's audit would log its calls under a logging profile, so both recorders
  see the same calls), or when runc's init (``runc:[2:INIT]``) executes the container's process
  (for a container without a seccomp profile);
* every task it forks or clones afterwards is recorded too (``sched_process_fork``);
  a filter loaded with ``SECCOMP_FILTER_FLAG_TSYNC`` records every thread of the process;
* a recorder that starts while containers it records already run (its own restart) is given their tasks
  (``seed_tids``, read from ``/proc``): the first syscall of such a task arms its cgroup (``@arm``), and from
  then on every task of that cgroup is recorded, except the runtime's own stages (``runc:[...]``, which
  start being recorded the usual way), so the children forked while bpftrace was starting are not missed;
* each recorded syscall adds one to ``@sc[cgroup id, syscall number]``; the first time a pair is
  seen a line ``<cgroup id> <syscall nr> <pid>`` is printed, so a daemon learns new containers at
  once (while their processes live) without reading the maps.

Cost is bounded: every map holds at most :data:`MAP_KEYS_MAX` keys; an insert that fails because a
map is full is counted in ``@dropped`` (the recording is then incomplete and says so); output is one
line per new (cgroup, syscall) pair, and in daemon mode ``@sc`` is printed whole and cleared every
``clear_seconds`` (userspace reads the map itself, so a pair whose line the ring dropped is still seen),
so a node's ever new containers cannot fill it (pairs of live containers are printed again).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, Iterable, List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.seccomp import libseccomp
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

MAP_KEYS_MAX = 65536
PERF_RB_PAGES = 256
RUNC_INIT_COMM = "runc:[2:INIT]"
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_TSYNC = 1
TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
EVENTS = ("raw_syscalls/sys_enter", "raw_syscalls/sys_exit", "sched/sched_process_fork", "sched/sched_process_exit")

_TEMPLATE = r"""
tracepoint:raw_syscalls:sys_enter
{
  $id = args->id;
  if (($id == %(seccomp)d && args->args[0] == %(set_mode_filter)d) ||
      ($id == %(prctl)d && args->args[0] == %(pr_set_seccomp)d && args->args[1] == %(mode_filter)d)) {
    @pend[tid] = 1;
    if ($id == %(seccomp)d && (args->args[1] & %(tsync)d)) { @pend[tid] = 2; }
  }
  if (($id == %(execve)d || $id == %(execveat)d) && comm == "%(runc_init)s") { @on[tid] = 1; }
%(seeded)s  if (@on[tid] || @onp[pid]%(armed)s) {
    $c = @sc[cgroup, $id];
    if ($c == 0) {
      printf("%%llu %%d %%d\n", cgroup, $id, pid);
      @sc[cgroup, $id] = 1;
      if (@sc[cgroup, $id] == 0) { @dropped = count(); }
    } else {
      @sc[cgroup, $id] = $c + 1;
    }
  }
}

tracepoint:raw_syscalls:sys_exit
/@pend[tid]/
{
  if (args->ret == 0) {
    @on[tid] = 1;
    if (@on[tid] == 0) { @dropped = count(); }
    if (@pend[tid] == 2) { @onp[pid] = 1; }
  }
  delete(@pend[tid]);
}

tracepoint:sched:sched_process_fork
/@on[args->parent_pid] || @onp[pid]/
{
  @on[args->child_pid] = 1;
  if (@on[args->child_pid] == 0) { @dropped = count(); }
}

tracepoint:sched:sched_process_exit
/@on[tid] || @onp[pid]/
{
  delete(@on[tid]);
  if (tid == pid) { delete(@onp[pid]); }
}
%(seed_probes)s%(interval)s
END
{
  clear(@on);
  clear(@onp);
  clear(@pend);%(seed_clear)s
}
"""

_SEEDED = """  if (@seed[tid]) { @arm[cgroup] = 1; }
"""
_ARMED = """ || (@arm[cgroup] && strncmp(comm, "runc:[", 6) != 0)"""
_SEED_PROBES = r"""
BEGIN
{
%s
}

tracepoint:sched:sched_process_exit
/@seed[tid]/
{
  delete(@seed[tid]);
}
"""
_SEED_CLEAR = """
  clear(@seed);
  clear(@arm);"""
MAX_SEEDS = 8192

_INTERVAL = r"""
interval:s:%d
{
  print(@sc);
  clear(@sc);
  print(@dropped);
}
"""


def program(clear_seconds: Optional[int] = None, arch_token: Optional[int] = None,
            seed_tids: Iterable[int] = ()) -> str:
    """The bpftrace program text for the node's architecture (syscall numbers from libseccomp).

    ``clear_seconds`` (daemon mode) clears ``@sc`` that often; None keeps it for the final dump.
    ``seed_tids``: tasks of already running containers to record (and, through them, their cgroups); at most
    :data:`MAX_SEEDS`, numbers only.
    """
    token = libseccomp.native_arch_token() if arch_token is None else arch_token
    numbers = {}
    for key, name in (("seccomp", "seccomp"), ("prctl", "prctl"), ("execve", "execve"), ("execveat", "execveat")):
        number = libseccomp.syscall_number(token, name)
        if number < 0:
            raise SpoError("libseccomp knows no syscall %r on this architecture" % name)
        numbers[key] = number
    interval = ""
    if clear_seconds is not None:
        if not isinstance(clear_seconds, int) or isinstance(clear_seconds, bool) or not 1 <= clear_seconds <= 86400:
            raise SpoError("must be a whole number of seconds from 1 to 86400", field="clear_seconds")
        interval = _INTERVAL % clear_seconds
    seeds = sorted({int(tid) for tid in seed_tids if not isinstance(tid, bool) and 0 < int(tid) < (1 << 31)})
    if len(seeds) > MAX_SEEDS:
        raise SpoError("more than %d tasks to resume recording" % MAX_SEEDS, field="seed_tids")
    seeded = {"seeded": "", "armed": "", "seed_probes": "", "seed_clear": ""}
    if seeds:
        seeded = {"seeded": _SEEDED, "armed": _ARMED, "seed_clear": _SEED_CLEAR,
                  "seed_probes": _SEED_PROBES % "\n".join("  @seed[%d] = 1;" % tid for tid in seeds)}
    return _TEMPLATE % dict(numbers, set_mode_filter=SECCOMP_SET_MODE_FILTER, pr_set_seccomp=PR_SET_SECCOMP,
                            mode_filter=SECCOMP_MODE_FILTER, tsync=SECCOMP_FILTER_FLAG_TSYNC,
                            runc_init=RUNC_INIT_COMM, interval=interval, **seeded)


def find_bpftrace() -> str:
    found = shutil.which("bpftrace")
    if found is None:
        raise SpoError("bpftrace not found: install it (Debian/Ubuntu: apt-get install bpftrace; hack/setup.sh does)")
    return found


def command(clear_seconds: Optional[int] = None, seed_tids: Iterable[int] = ()) -> List[str]:
    """argv of the recorder: JSON output (one object per line), the program inline."""
    return [find_bpftrace(), "-f", "json", "-e", program(clear_seconds, seed_tids=seed_tids)]


def container_tasks(container_ids: Iterable[str], proc: str = "/proc") -> List[int]:
    """The task IDs (threads included) of the processes of the containers ``container_ids`` (by each process'
    ``/proc/<pid>/cgroup``), at most :data:`MAX_SEEDS`; processes that exit meanwhile are skipped."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.host import cgroup
    wanted = set(container_ids)
    found: List[int] = []
    if not wanted:
        return found
    try:
        entries = [entry for entry in os.listdir(proc) if entry.isdigit()]
    except OSError:
        return found
    for entry in entries:
        try:
            with open(os.path.join(proc, entry, "cgroup")) as handle:
                if cgroup.container_id(handle.read()) not in wanted:
                    continue
            tasks = [int(tid) for tid in os.listdir(os.path.join(proc, entry, "task")) if tid.isdigit()]
        except OSError:
            continue
        found.extend(tasks[:MAX_SEEDS - len(found)])
        if len(found) >= MAX_SEEDS:
            break
    return sorted(found)


def environment(base: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """bpftrace's environment: bounded maps, a larger output ring per CPU."""
    env = dict(os.environ if base is None else base)
    env["BPFTRACE_MAP_KEYS_MAX"] = str(MAP_KEYS_MAX)
    env["BPFTRACE_PERF_RB_PAGES"] = str(PERF_RB_PAGES)
    return env


def tracefs_dir() -> Optional[str]:
    """The tracefs directory that has the recorder's tracepoints, or None."""
    for directory in TRACEFS_DIRS:
        if all(os.path.isdir(os.path.join(directory, "events", event)) for event in EVENTS):
            return directory
    return None


def ensure_tracefs() -> List[str]:
    """Mount tracefs at /sys/kernel/tracing when no tracefs is mounted; the changes made (commands)."""
    if tracefs_dir() is not None:
        return []
    target = TRACEFS_DIRS[0]
    if not os.path.isdir(target):
        raise SpoError("%s does not exist: the kernel has no tracefs (CONFIG_TRACING), which the eBPF recorder needs"
                       % target)
    done = subprocess.run(["mount", "-t", "tracefs", "tracefs", target], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SpoError("cannot mount tracefs at %s (root needed): %s" % (target, done.stderr.strip()))
    if tracefs_dir() is None:
        raise SpoError("tracefs at %s has no raw_syscalls/sched tracepoints: the kernel needs CONFIG_FTRACE_SYSCALLS "
                       "and CONFIG_BPF_EVENTS for the eBPF recorder" % target)
    return ["mount -t tracefs tracefs %s" % target]
