# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Metrics of the daemons (prometheus_client) and their HTTP endpoints (``httpserver``).

Each daemon keeps its metrics in a ``prometheus_client.CollectorRegistry`` of its own; :func:`exposition`
answers a scrape in the format its ``Accept`` header asks for (Prometheus text or OpenMetrics). The node
agent's metric names are upstream's: ``security_profiles_operator_seccomp_profile_total{operation}``,
``..._seccomp_profile_error_total{reason}`` and the same for ``selinux_profile``. No ``_created`` series
(upstream's Go client has none).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import httpserver

PREFIX = "security_profiles_operator_"


def registry() -> Any:
    import prometheus_client
    prometheus_client.disable_created_metrics()
    return prometheus_client.CollectorRegistry(auto_describe=True)


def exposition(source: Any, headers: Mapping[str, str]) -> httpserver.Reply:
    """A scrape's answer: ``source`` (a registry or collector) in the format the request accepts."""
    from prometheus_client import exposition as fmt
    encode, content_type = fmt.choose_encoder(headers.get("Accept", ""))
    return 200, content_type, encode(source)


class Counter(object):
    """A labelled counter, incremented as ``inc(reason="x")``."""

    def __init__(self, reg: Any, name: str, help_text: str, labels: Tuple[str, ...] = ()) -> None:
        import prometheus_client
        self.metric = prometheus_client.Counter(name, help_text, labels, registry=reg)
        self.label_names = labels

    def _child(self, labels: Mapping[str, str]) -> Any:
        if not self.label_names:
            return self.metric
        return self.metric.labels(*(str(labels.get(n, "")) for n in self.label_names))

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self._child(labels).inc(amount)


class AgentMetrics(object):
    """The node agent's metrics."""

    def __init__(self, requests: Callable[[], float] = lambda: 0.0) -> None:
        import prometheus_client
        self.registry = registry()
        reg = self.registry
        self.seccomp = Counter(reg, PREFIX + "seccomp_profile_total",
                               "Seccomp profile operations on this node (update, delete).", ("operation",))
        self.seccomp_errors = Counter(reg, PREFIX + "seccomp_profile_error_total",
                                      "Seccomp profiles refused or failed on this node.", ("reason",))
        self.selinux = Counter(reg, PREFIX + "selinux_profile_total",
                               "SELinux profile operations on this node (update, delete).", ("operation",))
        self.selinux_errors = Counter(reg, PREFIX + "selinux_profile_error_total",
                                      "SELinux profiles refused or failed on this node.", ("reason",))
        self.api_requests = prometheus_client.Gauge(PREFIX + "node_agent_api_requests",
                                                    "Requests this node agent sent to the API server.", registry=reg)
        self.api_requests.set_function(requests)

    def render(self) -> str:
        import prometheus_client
        return prometheus_client.generate_latest(self.registry).decode("utf-8")

    def route(self, headers: Mapping[str, str]) -> httpserver.Reply:
        return exposition(self.registry, headers)


def health_routes(ready: Callable[[], bool], not_ready: str) -> Dict[str, httpserver.Route]:
    """``/healthz`` (ok while the process serves) and ``/readyz`` (ok once ``ready()``, else 503 ``not_ready``)."""
    return {"/healthz": lambda headers: httpserver.text(200, "ok\n"),
            "/readyz": lambda headers: httpserver.text(200, "ready\n") if ready() else httpserver.text(503, not_ready + "\n")}


def serve(port: int, routes: Mapping[str, httpserver.Route], host: str = "",
          limits: Optional[httpserver.Limits] = None) -> Optional[httpserver.ThreadedServer]:
    """Serve ``routes`` over HTTP on ``port`` from a thread (``httpserver.ThreadedServer``); None when ``port`` is 0."""
    if not port:
        return None
    return httpserver.ThreadedServer(routes, host, port, limits, name="http")
