# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-enricher: the log enricher daemon, and a one-shot audit log reader.

    spo-enricher --once FILE         print JSON: per process (pid, exe, session, container ID where
                                     known) the sorted syscalls seen, and the line counts
    spo-enricher [--audit-log PATH] [--state-dir DIR] [--metrics-address HOST:PORT]
                                     tail the audit log; per audit session / container syscall sets
                                     in DIR/sessions/<ses>.json, DIR/containers/<id>.json; metrics
                                     on http://HOST:PORT/metrics
    spo-enricher --cluster [--audit-source auto|kmsg|file] [--state-dir DIR]
                                     the SPOD DaemonSet's log enricher: the same, plus ProfileRecording on
                                     this node (pods of NODE_NAME watched, recorded profiles written as
                                     SeccompProfile / SelinuxProfile objects when a recorded pod ends);
                                     source auto = both auditd's log and /dev/kmsg (the kernel writes
                                     to the one or the other, whether an auditd runs or not)
    spo-enricher --cluster --json-enricher [--json-enricher-filters JSON] [--json-interval SECONDS]
                 [--json-log-file PATH [--json-log-max-size MB] [--json-log-max-backups N] [--json-log-max-age DAYS]]
                 [--no-recording]
                                     also the JSON enricher: one JSON line per process a container of this node
                                     starts (an exec audit rule is added while it runs), on standard output or,
                                     with --json-log-file, in that file (rotated); a process's execs of one
                                     command within --json-interval seconds are one line;
                                     --no-recording: the JSON enricher only

The engine is plugins/module_utils/{audit,enricher,cgroup}.py; this is only the door.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, List, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.recording import audit
from ansible_collections.spo.security_profiles.plugins.module_utils.host.cgroup import CgroupCache
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from spo_cli import stop_on_signals

# The daemon's modules (http.server, threading, the enricher) are imported by the daemon only:
# `--once` is a command users time against grep, and they cost it a fifth of its run.

DEFAULT_LOG = "/var/log/audit/audit.log"
DEFAULT_STATE_DIR = "/var/lib/spo-enricher"


def once(path: str) -> int:
    scanner = audit.Scanner()
    try:
        scanner.feed_file(path)
    except OSError as exc:
        sys.stderr.write("spo-enricher: %s: %s\n" % (path, exc.strerror or exc))
        return 2
    cgroups = CgroupCache()
    processes = scanner.processes()
    for entry in processes:
        entry["container_id"] = cgroups.lookup(entry["pid"])
    result = {"file": path, "processes": processes,
              "counts": {"read": scanner.read, "used": scanner.used, "skipped": scanner.skipped,
                         "other": scanner.other},
              "avc": scanner.avcs}
    sys.stdout.write(_json_one_process_a_line(result))
    return 0


def _json_one_process_a_line(result: dict) -> str:
    """The JSON of ``result`` with one line per process (json's indenting encoder is pure Python:
    on a log of many processes it cost a quarter of the run)."""
    processes = result.pop("processes")
    head = json.dumps(result, sort_keys=True)[:-1]
    body = ",\n".join(json.dumps(entry, sort_keys=True) for entry in processes)
    return '%s, "processes": [\n%s\n]}\n' % (head, body)


def _serve_metrics(enricher: Any, address: str, json_enricher: Any = None) -> Any:
    from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics

    source = enricher
    if json_enricher is not None:
        from prometheus_client import CollectorRegistry
        source = CollectorRegistry()
        source.register(enricher)
        source.register(json_enricher)
    host, dummy, port = address.rpartition(":")
    return metrics.serve(int(port), {"/metrics": lambda headers: metrics.exposition(source, headers),
                                     "/healthz": metrics.health_routes(lambda: True, "")["/healthz"]}, host or "127.0.0.1")


def daemon(args: argparse.Namespace) -> int:
    import threading
    import time

    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import Enricher, Tailer

    state_file = os.path.join(args.state_dir, "position.json")
    tailer = Tailer(args.audit_log, state_file, from_start=args.from_start)
    enricher = Enricher(args.state_dir, node=args.node_name)
    server = _serve_metrics(enricher, args.metrics_address) if args.metrics_address else None
    stop = threading.Event()
    stop_on_signals(stop.set)
    sys.stderr.write("spo-enricher: tailing %s, state in %s\n" % (args.audit_log, args.state_dir))
    sys.stderr.flush()
    last_save = 0.0
    while not stop.is_set():
        buffers = tailer.poll()
        for buf in buffers:
            enricher.process(buf)
        enricher.count_skipped(tailer.take_skipped())
        for event in tailer.events:
            sys.stderr.write("spo-enricher: %s\n" % event)
        tailer.events = []
        if buffers or time.monotonic() - last_save > 5:
            enricher.flush()  # sets first, then the position: a crash re-reads, never loses
            tailer.save()
            last_save = time.monotonic()
        if not buffers:
            stop.wait(args.interval)
    enricher.flush()
    tailer.save()
    if server is not None:
        server.shutdown()
    return 0


def _log(message: str) -> None:
    sys.stderr.write("spo-enricher: %s\n" % message)
    sys.stderr.flush()


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _json_enricher(args: argparse.Namespace, enricher: Any) -> Tuple[Any, Any]:
    """The JSON enricher when asked for (its exec audit rule added) and its file (None: standard output); else
    (None, None), and a rule an earlier run left is removed."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.host import auditrule
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording import jsonfilter
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.jsonenricher import JsonEnricher

    if not args.json_enricher:
        try:
            if auditrule.remove():
                _log("json enricher: removed the exec audit rule an earlier run left")
        except SpoError as exc:
            _log("json enricher: %s" % exc)
        return None, None
    filters = jsonfilter.parse(args.json_enricher_filters, "--json-enricher-filters")
    log = None
    write = _write_line
    if args.json_log_file:
        from ansible_collections.spo.security_profiles.plugins.module_utils.recording.rotatinglog import host_symlink, open_log
        if args.json_log_host_root:
            try:
                link = host_symlink(args.json_log_host_root, args.json_log_file)
            except OSError as exc:
                _log("json enricher: cannot look for symlinks on the node in %s: %s" % (args.json_log_file, exc))
            else:
                if link:
                    raise SpoError("its directory %s is a symlink on the node (the kubelet followed it): refused"
                                   % link, args.json_log_file)
        log = open_log(args.json_log_file, args.json_log_max_size, args.json_log_max_backups, args.json_log_max_age)
        write = log.write
    auditrule.add()
    _log("json enricher: logging every exec of this node's containers (%d filters) to %s, interval %ss"
         % (len(filters), args.json_log_file or "standard output", args.json_interval))
    return JsonEnricher(args.node_name, enricher.cgroups.lookup, enricher.resolve, write,  # the pod index's
                        filters, interval=args.json_interval), log


def cluster_daemon(args: argparse.Namespace) -> int:
    """The SPOD's log enricher: audit records of this node's containers -> recorded profiles (and JSON lines)."""
    import threading
    import time

    from ansible_collections.spo.security_profiles.plugins.module_utils.recording import local as recording_local
    from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube as kubeapi
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.cluster import NodeRecorder
    from ansible_collections.spo.security_profiles.plugins.module_utils.host.cgroup import ForkWatcher
    from ansible_collections.spo.security_profiles.plugins.module_utils.host.nodefs import atomic_write, makedirs
    from ansible_collections.spo.security_profiles.plugins.module_utils.recording.enricher import (
        Enricher, KernelLog, Tailer, load_position)

    # auto: both. The kernel hands each audit record either to a registered auditd (its log) or, without one, to
    # the kernel log; reading both follows an auditd that starts or stops while recordings run.
    source = args.audit_source
    enricher = Enricher(args.state_dir, node=args.node_name, defer_unknown=3.0, sessions=False)
    forks = ForkWatcher(enricher.cgroups, log=_log).start()
    reader = tailer = None
    kmsg_position = os.path.join(args.state_dir, "kmsg-position.json")
    if source in ("auto", "kmsg"):
        resume, problem = load_position(kmsg_position)
        if problem:
            _log(problem)
        reader = KernelLog(args.kmsg, first_sight=enricher.cgroups.lookup, resume=resume)
        if reader.resumed:
            _log("kernel log: going on after record %d (read before the restart)" % reader.resumed_after)
    if source in ("auto", "file"):
        tailer = Tailer(args.audit_log, os.path.join(args.state_dir, "position.json"), from_start=args.from_start)
    recorder = NodeRecorder(kubeapi.connect(user_agent="spo-enricher/" + args.node_name), enricher, args.node_name,
                            _log, kernel_log=reader is not None, marker=recording_local.send_marker,
                            record=not args.no_recording).start()
    json_enricher, json_log = _json_enricher(args, enricher)
    recorder.keep_auditing = json_enricher is not None
    server = _serve_metrics(enricher, args.metrics_address, json_enricher) if args.metrics_address else None
    stop = threading.Event()
    stop_on_signals(stop.set)
    sources = " and ".join(([args.kmsg] if reader else []) + ([args.audit_log + " (when auditd runs)"] if tailer else []))
    followed = "" if forks.error else ", new processes followed by process events"
    _log("recording on node %s from %s, state in %s%s" % (args.node_name, sources, args.state_dir, followed))
    last_save = last_sweep = 0.0
    saved_position: Any = None
    reported_gap = False

    def save_position() -> None:  # after the sets are flushed: a crash re-reads records, never skips them
        nonlocal saved_position
        position = reader.position() if reader is not None else None
        if position is not None and position != saved_position:
            try:
                makedirs(args.state_dir)
                atomic_write(kmsg_position, json.dumps(position).encode("utf-8"))
                saved_position = position
            except OSError as exc:
                _log("cannot save the kernel log position: %s" % exc)

    while not stop.is_set():
        data = b""
        if tailer is not None:
            data = b"".join(tailer.poll())
            enricher.count_skipped(tailer.take_skipped())
            for event in tailer.events:
                _log(event)
            tailer.events = []
        if reader is not None:
            data += reader.take(0.0 if data else args.interval)
            if reader.error:
                _log(reader.error)
                return 1
        if data:
            enricher.process(data)
            if json_enricher is not None:
                json_enricher.feed(data)
        enricher.retry()
        if json_enricher is not None:
            json_enricher.tick()
        if json_log is not None:
            json_log.tick()
        recorder.tick()
        now = time.monotonic()
        if now - last_save > 1.0:
            enricher.flush()
            if tailer is not None:
                tailer.save()
            save_position()
            for problem in enricher.problems:
                _log("state %s" % problem)
            enricher.problems = []
            if reader is not None and reader.gap and not reported_gap:
                _log("kernel log: %d records logged while the enricher was down were overwritten before it read them"
                     % reader.gap)
                reported_gap = True
            last_save = now
        if now - last_sweep > 60.0:
            recorder.sweep()
            last_sweep = now
        if not data and reader is None:
            stop.wait(args.interval)
    enricher.flush()
    if tailer is not None:
        tailer.save()
    save_position()
    if json_enricher is not None:
        from ansible_collections.spo.security_profiles.plugins.module_utils.host import auditrule
        auditrule.remove()
        json_enricher.flush()
    if json_log is not None:
        json_log.close()
    recorder.switch.off()
    if server is not None:
        server.shutdown()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="spo-enricher", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--once", metavar="FILE", help="read an audit log or kernel log file, print JSON and exit")
    parser.add_argument("--audit-log", default=DEFAULT_LOG, help="log to tail (default %(default)s)")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help="position and syscall sets (default %(default)s)")
    parser.add_argument("--metrics-address", default="127.0.0.1:9111",
                        help="HOST:PORT of the Prometheus endpoint; empty to disable (default %(default)s)")
    parser.add_argument("--node-name", default=os.environ.get("NODE_NAME") or os.uname().nodename)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls when idle")
    parser.add_argument("--from-start", action="store_true",
                        help="without a saved position, read the log from its start instead of its end")
    parser.add_argument("--cluster", action="store_true",
                        help="the SPOD's log enricher: record the ProfileRecordings of this node's pods")
    parser.add_argument("--audit-source", choices=("auto", "kmsg", "file"), default="auto",
                        help="--cluster: where audit records are read (default %(default)s: auditd's log and the "
                             "kernel log)")
    parser.add_argument("--json-enricher", action="store_true",
                        help="--cluster: also write one JSON line per exec of this node's containers (stdout)")
    parser.add_argument("--json-enricher-filters", default="",
                        help="the JSON enricher's filters, upstream's jsonEnricherFilters format (a JSON array)")
    parser.add_argument("--json-interval", type=int, default=0, metavar="SECONDS",
                        help="a process's execs of one command within SECONDS are one line, written when they end "
                             "(upstream's auditLogIntervalSeconds; default 0: each at once)")
    parser.add_argument("--json-log-file", default="", metavar="PATH",
                        help="write the JSON lines to PATH (rotated) instead of standard output")
    parser.add_argument("--json-log-max-size", type=int, default=100, metavar="MB",
                        help="rotate the file when it would pass MB megabytes (default %(default)s)")
    parser.add_argument("--json-log-max-backups", type=int, default=0, metavar="N",
                        help="rotated files kept (default 0: all)")
    parser.add_argument("--json-log-max-age", type=int, default=0, metavar="DAYS",
                        help="days a rotated file is kept (default 0: forever)")
    parser.add_argument("--json-log-host-root", default="", metavar="DIR",
                        help="the node's root as this container sees it (/proc/1/root): refuse a --json-log-file whose "
                             "directory is a symlink on the node")
    parser.add_argument("--no-recording", action="store_true",
                        help="--cluster: record no ProfileRecording (the JSON enricher only)")
    parser.add_argument("--kmsg", default="/dev/kmsg", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.once:
            return once(args.once)
        if args.cluster:
            return cluster_daemon(args)
        return daemon(args)
    except SpoError as exc:
        sys.stderr.write("spo-enricher: %s\n" % exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
