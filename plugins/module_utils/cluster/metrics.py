# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus text exposition (format 0.0.4) and a tiny HTTP endpoint, standard library only.

Counters carry labels; gauges are read from callables at scrape time.  The node agent's metric
names are upstream's: ``security_profiles_operator_seccomp_profile_total{operation}``,
``..._seccomp_profile_error_total{reason}`` and the same for ``selinux_profile``.
"""
from __future__ import annotations

import http.server
import socketserver
import threading
from typing import Callable, Dict, List, Optional, Tuple

PREFIX = "security_profiles_operator_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Tuple[str, ...], values: Tuple[str, ...]) -> str:
    if not names:
        return ""
    return "{" + ",".join('%s="%s"' % (n, _escape(v)) for n, v in zip(names, values)) + "}"


class Counter(object):
    def __init__(self, name: str, help_text: str, labels: Tuple[str, ...] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = labels
        self.values: Dict[Tuple[str, ...], float] = {}
        self.lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(str(labels.get(n, "")) for n in self.label_names)
        with self.lock:
            self.values[key] = self.values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        key = tuple(str(labels.get(n, "")) for n in self.label_names)
        with self.lock:
            return self.values.get(key, 0.0)

    def render(self) -> List[str]:
        lines = ["# HELP %s %s" % (self.name, self.help), "# TYPE %s counter" % self.name]
        with self.lock:
            items = sorted(self.values.items())
        lines.extend("%s%s %s" % (self.name, _labels(self.label_names, k), _num(v)) for k, v in items)
        return lines


class Gauge(object):
    def __init__(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        self.name = name
        self.help = help_text
        self.read = read

    def render(self) -> List[str]:
        return ["# HELP %s %s" % (self.name, self.help), "# TYPE %s gauge" % self.name,
                "%s %s" % (self.name, _num(self.read()))]


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Registry(object):
    def __init__(self) -> None:
        self.metrics: List[object] = []

    def counter(self, name: str, help_text: str, labels: Tuple[str, ...] = ()) -> Counter:
        metric = Counter(name, help_text, labels)
        self.metrics.append(metric)
        return metric

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> Gauge:
        metric = Gauge(name, help_text, read)
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        lines: List[str] = []
        for metric in self.metrics:
            lines.extend(metric.render())  # type: ignore[attr-defined]
        return "\n".join(lines) + "\n"


class AgentMetrics(object):
    """The node agent's metrics."""

    def __init__(self, requests: Callable[[], float] = lambda: 0.0) -> None:
        self.registry = Registry()
        self.seccomp = self.registry.counter(PREFIX + "seccomp_profile_total",
                                             "Seccomp profile operations on this node (update, delete).", ("operation",))
        self.seccomp_errors = self.registry.counter(PREFIX + "seccomp_profile_error_total",
                                                    "Seccomp profiles refused or failed on this node.", ("reason",))
        self.selinux = self.registry.counter(PREFIX + "selinux_profile_total",
                                             "SELinux profile operations on this node (update, delete).", ("operation",))
        self.selinux_errors = self.registry.counter(PREFIX + "selinux_profile_error_total",
                                                    "SELinux profiles refused or failed on this node.", ("reason",))
        self.api_requests = self.registry.gauge(PREFIX + "node_agent_api_requests",
                                                "Requests this node agent sent to the API server.", requests)

    def render(self) -> str:
        return self.registry.render()


Route = Callable[[], Tuple[int, str, str]]  # -> (HTTP status, content type, body)


def health_routes(ready: Callable[[], bool], not_ready: str) -> Dict[str, Route]:
    """``/healthz`` (ok while the process serves) and ``/readyz`` (ok once ``ready()``, else 503 ``not_ready``)."""
    return {"/healthz": lambda: (200, "text/plain", "ok\n"),
            "/readyz": lambda: (200, "text/plain", "ready\n") if ready() else (503, "text/plain", not_ready + "\n")}


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(port: int, routes: Dict[str, Route], host: str = "") -> Optional[_Server]:
    """Serve ``routes`` (path -> callable) over HTTP on ``port`` in a thread; None when ``port`` is 0."""
    if not port:
        return None

    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "spo-node-agent/1"

        def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
            return

        def do_GET(self) -> None:  # noqa: N802
            route = routes.get(self.path.split("?", 1)[0])
            if route is None:
                code, ctype, body = 404, "text/plain", "not found\n"
            else:
                code, ctype, body = route()
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = _Server((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="http-%d" % port, daemon=True).start()
    return server
