# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe endpoint of the runner, as upstream's ``--health-probe-bind-address`` (``:6789``).

``GET /healthz`` answers ``ok`` while the process runs; ``GET /readyz`` answers ``ok`` once every
controller has listed its kind (503 before).  Anything else is 404.  Served by ``httpserver`` (aiohttp, with
its timeouts and connection cap) from a thread of its own.
"""
from __future__ import annotations

from typing import Callable, Dict, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import httpserver


def parse_address(address: str, default_port: int = 6789) -> Tuple[str, int]:
    """``host:port`` / ``:port`` (all interfaces) / ``0`` (disabled: port 0 is refused by the caller)."""
    host, port = address.rsplit(":", 1) if ":" in address else ("", address)
    if not port.isdigit():
        raise ValueError("address %r is not host:port or :port" % address)
    return (host.strip("[]") or "0.0.0.0"), int(port or default_port)


def routes(ready: Callable[[], bool]) -> Dict[str, httpserver.Route]:
    def alive(unused: object) -> httpserver.Reply:
        return httpserver.text(200, "ok")

    def synced(unused: object) -> httpserver.Reply:
        return httpserver.text(200, "ok") if ready() else httpserver.text(503, "controllers not synced")

    table: Dict[str, httpserver.Route] = {}
    for path in ("/healthz", "/healthz/ping", "/ping"):
        table[path] = table[path + "/"] = alive
    for path in ("/readyz", "/readyz/ping"):
        table[path] = table[path + "/"] = synced
    return table


def serve(address: str, ready: Callable[[], bool]) -> httpserver.ThreadedServer:
    """Start the probe server in a daemon thread; returns it (``shutdown()`` to stop)."""
    host, port = parse_address(address)
    return httpserver.ThreadedServer(routes(ready), host, port, name="probes")
