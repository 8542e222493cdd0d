# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe endpoint of the runner, as upstream's ``--health-probe-bind-address`` (``:6789``).

``GET /healthz`` answers ``ok`` while the process runs; ``GET /readyz`` answers ``ok`` once every
controller has listed its kind (503 before).  Anything else is 404.
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Tuple


def parse_address(address: str, default_port: int = 6789) -> Tuple[str, int]:
    """``host:port`` / ``:port`` (all interfaces) / ``0`` (disabled: port 0 is refused by the caller)."""
    host, port = address.rsplit(":", 1) if ":" in address else ("", address)
    if not port.isdigit():
        raise ValueError("address %r is not host:port or :port" % address)
    return (host.strip("[]") or "0.0.0.0"), int(port or default_port)


def serve(address: str, ready: Callable[[], bool]) -> ThreadingHTTPServer:
    """Start the probe server in a daemon thread; returns it (``shutdown()`` to stop)."""
    host, port = parse_address(address)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in ("/healthz", "/healthz/ping", "/ping"):
                code, body = 200, b"ok"
            elif path in ("/readyz", "/readyz/ping"):
                code, body = (200, b"ok") if ready() else (503, b"controllers not synced")
            else:
                code, body = 404, b"not found"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # probes every few seconds: no access log
            return

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
