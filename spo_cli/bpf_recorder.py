# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-bpf-recorder: the SPOD DaemonSet's eBPF recorder (``enableBpfRecorder``).

    spo-bpf-recorder [--node-name NODE] [--clear-seconds 30] [--state-dir /var/lib/spo-bpf-recorder]

Runs the eBPF recorder (bpftrace, plugins/module_utils/recording/bpf_program.py) on the node, turns its lines into
syscall sets per container (plugins/module_utils/recording/bpf_sets.py), watches this node's pods and, when a
pod a ``recorder: bpf`` ProfileRecording annotated (``io.containers.trace-bpf/<container>``) ends, writes
``<recording>-<container>`` (plugins/module_utils/recording/cluster.py, as the log enricher does). Needs no
audit subsystem. Exits non-zero when bpftrace stops.

The sets of the recorded containers are kept in the state dir (a host path: plugins/module_utils/recording/
bpf_state.py), written within a second of a change and read back at start; the tasks of the recorded containers
that already run are handed to the program (bpf_program.py), so a recorder restarted (crash, OOM, the DaemonSet's
rollout) while a recorded pod runs writes a profile with what it saw before and after.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import List, Optional

from spo_cli import stop_on_signals


def _log(message: str) -> None:
    sys.stderr.write("spo-bpf-recorder: %s\n" % message)
    sys.stderr.flush()


class _NoSwitch(object):
    """The eBPF recorder needs no kernel auditing: nothing to switch."""

    def on(self) -> None:
        return None

    def off(self) -> None:
        return None


def run(args: argparse.Namespace) -> int:
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording import bpf_program
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_recorder import BpftraceProcess
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as kubeapi
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.bpf_sets import BpfContainerSets
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.cluster import (
        BPF_TRACE_PREFIX, NodeRecorder)
    from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError

    if args.ready_file:
        try:  # a restarted container keeps its /tmp: it is not ready until this run's probes are attached
            os.unlink(args.ready_file)
        except OSError:
            pass
    try:
        for change in bpf_program.ensure_tracefs():
            _log("done: %s" % change)
        sets = BpfContainerSets(log=_log, state_dir=args.state_dir or None)
        restored = sets.restore()
        if restored:
            _log("restored the syscall sets of %d containers from %s" % (restored, args.state_dir))
        recorder = NodeRecorder(kubeapi.connect(user_agent="spo-bpf-recorder/" + args.node_name), sets,
                                args.node_name, _log, switch=_NoSwitch(), prefixes=BPF_TRACE_PREFIX).start()
        # the recorded containers that already run (this recorder restarted, or started after them): their tasks
        # are handed to the program, which records them and their cgroups from its start
        if not recorder.reflector.synced.wait(args.sync_seconds):
            _log("this node's pods not listed within %ss: only the containers of the saved sets are resumed"
                 % args.sync_seconds)
        running = set(sets.keys("containers")) | recorder.recorded_ids()
        tasks = bpf_program.container_tasks(running)
        if tasks:
            _log("resuming the recording of %d running containers (%d tasks)" % (len(running), len(tasks)))
        tracer = BpftraceProcess(clear_seconds=args.clear_seconds, on_new_pair=sets.on_pair, seed_tids=tasks).start()
    except SpoError as exc:
        _log(str(exc))
        return 1
    stop = threading.Event()
    stop_on_signals(stop.set)
    _log("recording on node %s with the eBPF recorder (maps cleared every %ds)" % (args.node_name, args.clear_seconds))
    if args.ready_file:
        with open(args.ready_file, "w") as handle:  # the readiness probe: the probes are attached
            handle.write("attached\n")
    last_sweep = time.monotonic()
    reported_lost = reported_dropped = 0
    while not stop.is_set():
        stop.wait(1.0)
        sets.flush(recorder.recorded_ids)  # at most once a second: a burst of new syscalls is one write
        if not tracer.running():
            _log("bpftrace exited (%s): %s" % (tracer.proc.returncode if tracer.proc else "?", tracer.errors()))
            return 1
        if tracer.output.lost > reported_lost:
            _log("bpftrace lost %d output lines (the next map dump has their pairs)"
                 % (tracer.output.lost - reported_lost))
            reported_lost = tracer.output.lost
        if tracer.output.dropped > reported_dropped:
            _log("the recorder's maps were full: %d inserts failed, recordings of this time may be incomplete"
                 % (tracer.output.dropped - reported_dropped))
            reported_dropped = tracer.output.dropped
        if time.monotonic() - last_sweep > 60.0:
            recorder.sweep()
            last_sweep = time.monotonic()
    tracer.stop()
    sets.flush(recorder.recorded_ids)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spo-bpf-recorder", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--node-name", default=os.environ.get("NODE_NAME") or os.uname().nodename)
    parser.add_argument("--clear-seconds", type=int, default=30,
                        help="seconds between clears of the kernel-side map (bounds it on a busy node)")
    parser.add_argument("--state-dir", default="/var/lib/spo-bpf-recorder",
                        help="the recorded containers' sets, kept across restarts (empty: in memory only)")
    parser.add_argument("--sync-seconds", type=float, default=20.0, help=argparse.SUPPRESS)
    parser.add_argument("--ready-file", default="", help="written once the probes are attached (readiness)")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
