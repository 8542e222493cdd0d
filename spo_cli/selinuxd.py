# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""spo-selinuxd: keep a drop-in directory of CIL policies installed, in batches.

    spo-selinuxd [--dir /etc/selinux.d] [--socket PATH] [--state PATH]   run the daemon
    spo-selinuxd --once ...        reconcile once, print the status as JSON, exit (1 if any Failed)
    spo-selinuxd --status [NAME]   ask a running daemon over its socket

Runs from the project's .venv or with the host's /usr/bin/python3 (stdlib only;
PYTHONPATH must reach ``ansible_collections/spo/security_profiles``).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import List, Optional

from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.store import Store
from spo_cli import stop_on_signals


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="spo-selinuxd", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dir", default=selinuxd.DEFAULT_DIR, help="drop-in directory of <policy>.cil files (default: %(default)s)")
    parser.add_argument("--socket", default=selinuxd.DEFAULT_SOCKET, help="unix socket of the status API (default: %(default)s)")
    parser.add_argument("--socket-mode", default="0660", help="permissions of the socket, octal (default: %(default)s)")
    parser.add_argument("--state", default=selinuxd.DEFAULT_STATE, help="JSON state file, status across restarts (default: %(default)s)")
    parser.add_argument("--interval", type=float, default=0.5, help="polling interval, seconds (default: %(default)s)")
    parser.add_argument("--quiet-period", type=float, default=1.0,
                        help="changes are applied once the directory was quiet this many seconds, as one batch "
                             "(default: %(default)s)")
    parser.add_argument("--reload", choices=["auto", "yes", "no"], default="auto",
                        help="load the new policy into the kernel (default: %(default)s: when SELinux is enabled)")
    parser.add_argument("--semodule", default=None, help="path of semodule (default: the one on PATH)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="reconcile once, print the status, exit")
    mode.add_argument("--status", nargs="?", const="", metavar="NAME", help="query a running daemon and exit")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.status is not None:
        path = "/policies/%s" % args.status if args.status else "/policies/"
        try:
            code, body = selinuxd.query(args.socket, path)
        except OSError as exc:
            print("spo-selinuxd: cannot reach %s: %s" % (args.socket, exc), file=sys.stderr)
            return 2
        print(json.dumps(body, indent=2, sort_keys=True))
        return 0 if code == 200 else 1
    reload = None if args.reload == "auto" else args.reload == "yes"
    daemon = selinuxd.Daemon(args.dir, args.state, Store(semodule=args.semodule, reload=reload))
    try:
        if args.once:
            daemon.reconcile()
            status = daemon.status()
            print(json.dumps(status, indent=2, sort_keys=True))
            return 1 if any(v.get("status") == selinuxd.FAILED for v in status.values()) else 0
        stop = threading.Event()
        stop_on_signals(stop.set)
        server = selinuxd.serve(daemon, args.socket, int(args.socket_mode, 8))
        print("spo-selinuxd: watching %s, API on %s" % (args.dir, args.socket), flush=True)
        try:
            daemon.run(args.interval, args.quiet_period, stop)
        finally:
            server.shutdown()
            server.server_close()
    except SpoError as exc:
        print("spo-selinuxd: %s" % exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
