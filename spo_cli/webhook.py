# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-webhook: the admission webhook server (ProfileBinding, ProfileRecording, RuntimeDefault).

    spo-webhook [--port 9443] [--cert-dir DIR] [--kubeconfig PATH | --objects FILE.yaml] ...

Serves AdmissionReview v1 over HTTPS on /mutate-v1-pod-binding, /mutate-v1-pod-recording and
/mutate-v1-pod-runtime-default, and /healthz, /readyz, /metrics (details:
plugins/module_utils/webhook/server.py). Bindings, recordings, profiles and namespaces come from
list+watch caches (in-cluster credentials, or --kubeconfig / $KUBECONFIG), or from a YAML file of
objects with --objects (no cluster: benchmarks, tests).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import cache, server


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="spo-webhook", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")
    parser.add_argument("--port", type=int, default=server.DEFAULT_PORT, help="HTTPS port (0: any free port)")
    parser.add_argument("--cert-dir", default=env("WEBHOOK_CERT_DIR", "/etc/spo/webhook-tls"),
                        help="directory with tls.crt and tls.key (reloaded when they change)")
    parser.add_argument("--max-body", type=int, default=server.DEFAULT_MAX_BODY, help="largest request body, bytes")
    parser.add_argument("--operator-namespace", default=env("OPERATOR_NAMESPACE", "security-profiles-operator"),
                        help="the operator's namespace (env OPERATOR_NAMESPACE)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig (else $KUBECONFIG, else in-cluster)")
    parser.add_argument("--objects", default=None,
                        help="serve from the objects of this YAML file instead of watching a cluster")
    parser.add_argument("--drain", type=float, default=3.0, help="seconds to keep serving after SIGTERM")
    parser.add_argument("--port-file", default=None, help="write the bound port here once serving")
    parser.add_argument("--verbosity", type=int, default=int(env("SPO_VERBOSITY", "0")),
                        help="0: log refusals only, 1: log every request")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.objects:
        from ansible_collections.spo.security_profiles.plugins.module_utils.yaml_input import YamlInputError, load_all
        try:
            with open(args.objects, "r", encoding="utf-8") as handle:
                objects = [d for d in load_all(handle.read(), args.objects) if isinstance(d, dict)]
        except (OSError, YamlInputError) as exc:
            log("spo-webhook: --objects: %s" % exc)
            return 2
        view = cache.StaticCache(objects, args.operator_namespace)
    else:
        from ansible_collections.spo.security_profiles.plugins.module_utils.k8s import kube
        view = cache.ClusterCache(kube.connect(args.kubeconfig, "spo-webhook"), args.operator_namespace, log).start()
    srv = server.WebhookServer(view, args.cert_dir, args.host, args.port, args.max_body, drain=args.drain, log=log,
                               verbosity=args.verbosity)
    if args.port_file:
        import asyncio
        import signal

        def started(port: int) -> None:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(str(port))
            os.replace(tmp, args.port_file)

        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            loop.run_until_complete(srv.serve(stop, started))
        finally:
            loop.close()
        return 0
    return srv.run()


if __name__ == "__main__":
    sys.exit(main())
