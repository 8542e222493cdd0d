# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-label-sync: keep namespaces' Pod Security labels at the level their workloads need.

    spo-label-sync [--source auto|workloads|scc] [--report-only] [--namespace-selector SEL] ...

Runs as the Deployment spo-label-sync (roles/spod, SPOD spec.podSecurityLabelSync) or out of
cluster with a kubeconfig.  The rules are in plugins/module_utils/labelsync/.  SIGTERM/SIGINT stop
it; it then logs how many applies, events and API requests it made.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube
from ansible_collections.spo.security_profiles.plugins.module_utils.labelsync.controller import SOURCES, LabelSync
from spo_cli import report_stats, stop_on_signals


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="spo-label-sync", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--source", choices=SOURCES, default=env("LABEL_SYNC_SOURCE", "auto"),
                        help="where the level comes from: the namespace's workloads, or (OpenShift) the SCCs its "
                             "service accounts may use; auto: scc when the API serves SCCs (env LABEL_SYNC_SOURCE)")
    parser.add_argument("--report-only", action="store_true",
                        default=env("LABEL_SYNC_REPORT_ONLY", "").lower() in ("1", "true", "yes"),
                        help="only record the computed level in the annotation spo.x-k8s.io/pod-security-minimum; "
                             "change no label (env LABEL_SYNC_REPORT_ONLY)")
    parser.add_argument("--version", default=env("LABEL_SYNC_VERSION", "latest"),
                        help="Pod Security version to judge with and to write in the -version labels")
    parser.add_argument("--namespace-selector", default=env("LABEL_SYNC_NAMESPACE_SELECTOR") or None,
                        help="only namespaces matching this label selector (tests, benchmarks)")
    parser.add_argument("--window", type=float, default=0.0,
                        help="seconds to gather changes after the first before dirty namespaces are synced (0: sync "
                             "at once; changes that arrive meanwhile make the next batch)")
    parser.add_argument("--dry-run-cap", type=int, default=int(env("LABEL_SYNC_DRY_RUN_CAP", "32")),
                        help="source workloads: at most this many distinct pod templates per namespace are judged by a "
                             "server-side dry run (as admitted); others as written (env LABEL_SYNC_DRY_RUN_CAP)")
    parser.add_argument("--no-dry-run", action="store_true",
                        help="source workloads: judge pod templates as written, without server-side dry runs")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (else $KUBECONFIG, else in-cluster)")
    parser.add_argument("--health-port", type=int, default=int(env("HEALTH_PORT", "0")),
                        help="serve /healthz and /readyz (0: off)")
    parser.add_argument("--verbose", action="store_true", help="log namespaces left alone and why")
    parser.add_argument("--stats-file", default=None, help="write counts as JSON here at exit")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), message))
        sys.stderr.flush()

    connection = kube.connect(args.kubeconfig, user_agent="spo-label-sync")
    try:
        controller = LabelSync(connection, source=args.source, report_only=args.report_only, version=args.version,
                               namespace_selector=args.namespace_selector, window=args.window, log=log,
                               verbose=args.verbose, dry_run=not args.no_dry_run, dry_run_cap=args.dry_run_cap)
    except Exception as exc:  # pylint: disable=broad-except
        log("spo-label-sync: %s" % exc)
        return 2
    server = None
    if args.health_port:
        server = metrics.serve(args.health_port, metrics.health_routes(lambda: controller.synced_at is not None,
                                                                       "first list not done"))
    stop_on_signals(controller.shutdown)
    worker = threading.Thread(target=controller.run, name="label-sync", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(1.0)
    if server is not None:
        server.shutdown()
    stats = {"applied": controller.applied, "events": controller.events, "errors": controller.errors,
             "requests": connection.requests, "by_verb": connection.by_verb, "source": controller.source}
    if controller.judge is not None:
        stats.update({"dry_runs": controller.judge.dry_runs, "dry_runs_refused": controller.judge.refused,
                      "templates_over_cap": controller.judge.over_cap})
    report_stats(log, stats, args.stats_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
