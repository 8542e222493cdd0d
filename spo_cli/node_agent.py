# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-node-agent: install the cluster's security profiles on this node (docs/cluster-design.md).

    spo-node-agent --node-name NODE [--kubelet-dir /var/lib/kubelet] [--kubeconfig PATH] ...

Runs in the SPOD DaemonSet (in-cluster credentials, NODE_NAME from the downward API) or out of
cluster with a kubeconfig.  SIGTERM/SIGINT: the current batch is finished, then it exits and logs
the number of API requests it sent.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
from typing import List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster.nodeagent import NodeAgent
from spo_cli import report_stats, stop_on_signals


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="spo-node-agent", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--node-name", default=env("NODE_NAME"), help="this node's name (env NODE_NAME)")
    parser.add_argument("--kubelet-dir", default=env("KUBELET_DIR", "/var/lib/kubelet"),
                        help="kubelet directory; profiles go to <dir>/seccomp/operator (env KUBELET_DIR)")
    parser.add_argument("--selinux-dir", default=selinuxd.DEFAULT_DIR, help="selinuxd drop-in directory")
    parser.add_argument("--selinuxd-socket", default=selinuxd.DEFAULT_SOCKET, help="selinuxd status socket")
    parser.add_argument("--selinux-compat", choices=["auto", "always", "never"], default="auto",
                        help="also install the container-selinux stand-in module (auto: when the node's policy "
                             "store, if visible at /var/lib/selinux, has no container module)")
    parser.add_argument("--operator-namespace", default=env("OPERATOR_NAMESPACE", "security-profiles-operator"),
                        help="namespace of the SPOD 'spod' (env OPERATOR_NAMESPACE)")
    parser.add_argument("--metrics-port", type=int, default=int(env("METRICS_PORT", "0")),
                        help="serve Prometheus metrics on /metrics (0: off)")
    parser.add_argument("--health-port", type=int, default=int(env("HEALTH_PORT", "0")),
                        help="serve /healthz and /readyz (0: off)")
    parser.add_argument("--namespace", default=env("WATCH_NAMESPACE") or None,
                        help="only the profiles of this namespace (tests, benchmarks; env WATCH_NAMESPACE); "
                             "default: all namespaces")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (else $KUBECONFIG, else in-cluster)")
    parser.add_argument("--verbosity", type=int, default=int(env("SPO_VERBOSITY", "0")), help="0 normal, 1 debug")
    parser.add_argument("--batch-window", type=float, default=0.15,
                        help="seconds events are coalesced into one batch")
    parser.add_argument("--stats-file", default=None,
                        help="write API request counts and peak RSS as JSON here at exit")
    args = parser.parse_args(argv)
    if not args.node_name:
        parser.error("--node-name (or NODE_NAME) is required")
    return args


def _peak_rss_kb() -> int:
    """Peak resident memory of this program: VmHWM (getrusage's ru_maxrss also counts the parent's
    memory copied by fork before exec)."""
    try:
        with open("/proc/self/status", "r", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread its own malloc arena, where a dozen threads that parse JSON can keep
    freed memory; two arenas (M_ARENA_MAX) keep the RSS closer to the live data."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)
    except (OSError, AttributeError):
        pass


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    _limit_malloc_arenas()

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()

    connection = kube.connect(args.kubeconfig, user_agent="spo-node-agent/%s" % args.node_name)
    agent = NodeAgent(connection, args.node_name, kubelet_dir=args.kubelet_dir, selinux_dir=args.selinux_dir,
                      selinuxd_socket=args.selinuxd_socket, operator_namespace=args.operator_namespace,
                      window=args.batch_window, log=log, verbosity=args.verbosity, namespace=args.namespace,
                      selinux_compat=args.selinux_compat)
    servers = []
    if args.metrics_port:
        servers.append(metrics.serve(args.metrics_port, {"/metrics": agent.metrics.route}))
    if args.health_port:
        servers.append(metrics.serve(args.health_port, metrics.health_routes(agent.ready.is_set, "first sync not done")))
    done = threading.Event()
    stop_on_signals(done.set)
    agent.log("node %s, kubelet dir %s, operator namespace %s" % (args.node_name, args.kubelet_dir,
                                                                  args.operator_namespace))
    agent.start()
    while not done.wait(1.0):
        if not agent.worker.is_alive():
            agent.log("the reconcile loop ended unexpectedly")
            return 1
    agent.log("stopping: finishing the current batch")
    agent.shutdown()
    for server in servers:
        if server is not None:
            server.shutdown()
    stats = {"node": args.node_name, "requests": connection.requests, "by_verb": connection.by_verb, "by_resource": connection.by_resource,
             "batches": agent.batches, "errors": agent.errors,
             "max_rss_kb": _peak_rss_kb(),
             "cpu_s": round(resource.getrusage(resource.RUSAGE_SELF).ru_utime
                            + resource.getrusage(resource.RUSAGE_SELF).ru_stime, 2)}
    report_stats(agent.log, stats, args.stats_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
