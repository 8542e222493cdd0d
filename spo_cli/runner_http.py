"""ansible-runner's HTTP event emitter, as ansible-operator expects it.

ansible-operator starts ``ansible-runner run`` with ``runner_http_url`` (the path of a unix socket its event
API listens on) and ``runner_http_path`` (``/events/``) in the run's ``env/settings``, and reads every event
ansible-runner posts there: the end of the run (``playbook_on_stats``), failed tasks (the object's Failure
condition) and the tasks it logs.  ansible-runner calls the ``event_handler`` and ``status_handler`` of each
plugin registered under the ``ansible_runner.plugins`` entry point group (pyproject.toml registers this module
as ``http``).

Standard library only (upstream's image installs a module of its own on requests and requests-unixsocket; the
``ansible-runner-http`` package on PyPI is from 2018).  ``RUNNER_HTTP_URL`` / ``RUNNER_HTTP_PATH`` in the
environment win over the settings, as upstream's.  Without a URL nothing is sent, so the plugin is inert in
every other ansible-runner run.  A URL may also be ``http://`` or ``https://``.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import urllib.parse
from typing import Any, Dict, Mapping, Optional, Tuple

LOG = logging.getLogger("ansible-runner")
TIMEOUT = 30.0  # seconds for one post; ansible-operator answers at once or after its own 10 s channel timeout


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix stream socket (the ``Host`` header says ``localhost``)."""

    def __init__(self, socket_path: str, timeout: float = TIMEOUT) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def configuration(runner_config: Any) -> Tuple[Optional[str], str, Dict[str, str]]:
    """(url, path, headers) from the environment and the run's settings."""
    settings: Mapping[str, Any] = getattr(runner_config, "settings", None) or {}
    url = os.environ.get("RUNNER_HTTP_URL") or settings.get("runner_http_url") or None
    path = os.environ.get("RUNNER_HTTP_PATH") or settings.get("runner_http_path") or "/"
    headers = settings.get("runner_http_headers") or {}
    if not isinstance(headers, Mapping):
        headers = {}
    return (str(url) if url else None), str(path), {str(k): str(v) for k, v in headers.items()}


def _connection(url: str) -> Tuple[http.client.HTTPConnection, str]:
    """A connection for ``url`` and the path prefix it carries (a unix socket path has none)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        return http.client.HTTPSConnection(parsed.netloc, timeout=TIMEOUT), parsed.path.rstrip("/")
    if parsed.scheme == "http":
        return http.client.HTTPConnection(parsed.netloc, timeout=TIMEOUT), parsed.path.rstrip("/")
    return UnixHTTPConnection(url), ""


def post(url: str, path: str, data: Any, headers: Mapping[str, str]) -> int:
    """POST ``data`` as JSON; the HTTP status."""
    body = json.dumps(data, default=str).encode("utf-8")
    conn, prefix = _connection(url)
    try:
        conn.request("POST", prefix + path, body=body,
                     headers={**headers, "Content-Type": "application/json", "Content-Length": str(len(body))})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def status_handler(runner_config: Any, data: Any) -> None:
    """ansible-runner's plugin hook for status changes (and, through ``event_handler``, for events)."""
    url, path, headers = configuration(runner_config)
    if url is None:
        return
    try:
        status = post(url, path, data, headers)
    except (OSError, http.client.HTTPException) as exc:
        # the receiver is gone (its run was cancelled) or refuses: ansible-runner goes on, the operator sees no
        # end event and reports the run as failed
        LOG.warning("runner_http: posting to %s failed: %s", url, exc)
        return
    LOG.debug("runner_http: POST %s -> %d", path, status)


def event_handler(runner_config: Any, data: Any) -> None:
    status_handler(runner_config, data)
