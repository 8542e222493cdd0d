# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-operator: run a watches.yaml (operator-sdk Ansible operator contract) with ansible-runner.

    spo-operator [--watches-file watches.yaml] [--kubeconfig FILE] [--max-concurrent-reconciles N]
                 [--health-probe-bind-address :6789] [--leader-elect --leader-election-id ID] ...

Takes upstream ``ansible-operator run``'s flags and environment (WATCHES_FILE, WATCH_NAMESPACE,
ANSIBLE_ROLES_PATH, ANSIBLE_COLLECTIONS_PATH, MAX_CONCURRENT_RECONCILES_<KIND>_<GROUP>,
ANSIBLE_VERBOSITY_<KIND>_<GROUP>, ANSIBLE_GATHERING, OPERATOR_NAME).  Flags of upstream's that
concern its API proxy and metrics server are accepted and ignored with a warning.  The API
server is reached with --kubeconfig, else KUBECONFIG, else the pod's service account, else
~/.kube/config; roles get the same kubeconfig (KUBECONFIG, K8S_AUTH_KUBECONFIG) or run in-cluster.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from typing import Dict, List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.client import api_client
from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Kube
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.operator import health, leader, watches
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.controller import Controller
from ansible_collections.spo.security_profiles.plugins.module_utils.operator.runner import AnsibleRunner
from spo_cli import stop_on_signals

LOG = logging.getLogger("spo-operator")
IGNORED_FLAGS = ("--metrics-bind-address", "--metrics-addr", "--metrics-secure", "--metrics-require-rbac",
                 "--inject-owner-ref", "--proxy-port", "--ansible-log-events", "--enable-http2",
                 "--leader-elect-resource-lock", "--zap-log-level", "--zap-devel", "--zap-encoder",
                 "--zap-stacktrace-level", "--zap-time-encoding")


def _duration(text: str) -> float:
    try:
        return watches.parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc))


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spo-operator", description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("run", nargs="?", choices=["run"], help=argparse.SUPPRESS)  # `ansible-operator run`
    parser.add_argument("--watches-file", default=os.environ.get("WATCHES_FILE") or "./watches.yaml",
                        help="the watches file (default: $WATCHES_FILE or ./watches.yaml)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: KUBECONFIG, in-cluster, ~/.kube/config)")
    parser.add_argument("--max-concurrent-reconciles", type=int, default=os.cpu_count() or 1,
                        help="reconciles run at once per kind (default: CPUs; MAX_CONCURRENT_RECONCILES_<KIND>_<GROUP> wins)")
    parser.add_argument("--reconcile-period", type=_duration, default=10 * 3600.0,
                        help="default period between reconciles of an object (a watch's reconcilePeriod wins)")
    parser.add_argument("--health-probe-bind-address", default=":6789", help="address of /healthz and /readyz ('0' disables)")
    parser.add_argument("--leader-elect", "--enable-leader-election", dest="leader_elect", action="store_true",
                        help="run only while holding a Lease")
    parser.add_argument("--leader-election-id", default=os.environ.get("OPERATOR_NAME", ""), help="name of the Lease")
    parser.add_argument("--leader-election-namespace", default="", help="namespace of the Lease (default: the pod's)")
    parser.add_argument("--leader-elect-lease-duration", type=_duration, default=15.0)
    parser.add_argument("--leader-elect-renew-deadline", type=_duration, default=10.0)
    parser.add_argument("--graceful-shutdown-timeout", type=_duration, default=30.0,
                        help="how long running reconciles may finish after SIGTERM")
    parser.add_argument("--ansible-verbosity", type=int, default=2, help="ansible-playbook -v count (ANSIBLE_VERBOSITY_<KIND>_<GROUP> wins)")
    parser.add_argument("--ansible-roles-path", default="", help="sets ANSIBLE_ROLES_PATH")
    parser.add_argument("--ansible-collections-path", default="", help="sets ANSIBLE_COLLECTIONS_PATH")
    parser.add_argument("--ansible-args", default="", help="extra ansible-playbook arguments")
    parser.add_argument("--runner-dir", default=None, help="where private data directories of runs are made")
    parser.add_argument("--keep-failed-runs", type=int, default=5, help="private data directories of failed runs kept")
    for flag in IGNORED_FLAGS:
        parser.add_argument(flag, dest="ignored_" + flag[2:].replace("-", "_"), nargs="?", const="true", default=None,
                            help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def collection_root() -> str:
    """The directory holding ``ansible_collections/spo/security_profiles`` (this collection)."""
    import ansible_collections.spo.security_profiles as me  # pylint: disable=import-outside-toplevel
    path = list(me.__path__)[0]
    return os.path.dirname(os.path.dirname(os.path.dirname(path)))


def prepare_environment(args: argparse.Namespace) -> Dict[str, str]:
    """Set ANSIBLE_* from the flags (as upstream), add this collection to the collections path;
    return the variables every run gets besides the process environment."""
    if args.ansible_roles_path:
        os.environ["ANSIBLE_ROLES_PATH"] = args.ansible_roles_path
    if args.ansible_collections_path:
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = args.ansible_collections_path
    paths = watches.collections_paths(os.environ)
    root = collection_root()
    if root not in paths:
        paths.append(root)
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = ":".join(paths)
    envvars: Dict[str, str] = {}
    kubeconfig = args.kubeconfig or os.environ.get("KUBECONFIG")
    if kubeconfig:
        kubeconfig = os.path.abspath(os.path.expanduser(kubeconfig))
        envvars.update({"KUBECONFIG": kubeconfig, "K8S_AUTH_KUBECONFIG": kubeconfig})
    return envvars


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    for key, value in sorted(vars(args).items()):
        if key.startswith("ignored_") and value is not None:
            LOG.warning("--%s is accepted for compatibility and ignored (no API proxy or metrics server here)",
                        key[len("ignored_"):].replace("_", "-"))
    envvars = prepare_environment(args)
    try:
        loaded = watches.load(args.watches_file, max_concurrent_default=max(1, args.max_concurrent_reconciles),
                              verbosity_default=args.ansible_verbosity)
    except SpoError as exc:
        LOG.error("%s", exc)
        return 2
    for watch in loaded:
        for warning in watch.warnings:
            LOG.warning("%s: %s", watch.gvk, warning)
    if not loaded:
        LOG.error("%s: no watches", args.watches_file)
        return 2
    try:
        kube = Kube(api_client(args.kubeconfig), user_agent="spo-operator")
    except Exception as exc:  # pylint: disable=broad-except  # kubeconfig/in-cluster errors of the client
        LOG.error("cannot configure the API client: %s", exc)
        return 2
    namespaces = [n.strip() for n in os.environ.get("WATCH_NAMESPACE", "").split(",") if n.strip()]
    LOG.info("watching %s", ", ".join(namespaces) if namespaces else "all namespaces")

    stop = threading.Event()
    stop_on_signals(stop.set)

    runner = AnsibleRunner(base_dir=args.runner_dir, envvars=envvars, cmdline=args.ansible_args,
                           keep_failed=args.keep_failed_runs, log=LOG.info)
    controllers = [Controller(kube, w, runner, namespaces, args.reconcile_period, log=LOG.info) for w in loaded]
    electors: List[leader.LeaderElector] = []

    def ready() -> bool:
        # a replica waiting for the lease is ready to take over (else a rolling update never ends)
        if electors and not electors[0].leading.is_set():
            return True
        return all(c.synced() for c in controllers)

    probes = None
    if args.health_probe_bind_address not in ("0", ""):
        try:
            probes = health.serve(args.health_probe_bind_address, ready)
        except (OSError, ValueError) as exc:
            LOG.error("cannot serve probes on %s: %s", args.health_probe_bind_address, exc)
            return 2
        LOG.info("probes on %s (/healthz, /readyz)", args.health_probe_bind_address)

    elector = None
    if args.leader_elect:
        namespace = args.leader_election_namespace or leader.in_cluster_namespace()
        if not args.leader_election_id or not namespace:
            LOG.error("--leader-elect needs --leader-election-id (or OPERATOR_NAME) and --leader-election-namespace outside a pod")
            return 2
        elector = leader.LeaderElector(kube, namespace, args.leader_election_id,
                                       lease_duration=args.leader_elect_lease_duration,
                                       renew_deadline=args.leader_elect_renew_deadline, log=LOG.info)
        electors.append(elector)
        if not elector.acquire(stop):
            return 0
    for ctrl in controllers:
        threading.Thread(target=ctrl.start, name="start-" + ctrl.name, daemon=True).start()
    code = 0
    while not stop.wait(1.0):
        if elector is not None and elector.lost.is_set():
            LOG.error("leader election lost; exiting")
            code = 1
            break
    LOG.info("stopping: waiting up to %.0fs for running reconciles", args.graceful_shutdown_timeout)
    for ctrl in controllers:
        ctrl.begin_stop()
    deadline = time.monotonic() + args.graceful_shutdown_timeout
    stopped = [c.stop(max(0.0, deadline - time.monotonic())) for c in controllers]  # every one, even after a failure
    clean = all(stopped)
    if elector is not None and code == 0:
        elector.release()
    if probes is not None:
        probes.shutdown()
    LOG.info("stopped%s", "" if clean else " (some runs were cancelled)")
    return code


if __name__ == "__main__":
    sys.exit(main())
