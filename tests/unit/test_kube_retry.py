# -*- coding: utf-8 -*-
"""Kube sends a request again when the API server answers that it should be retried (429 or 5xx with
Retry-After), over a real HTTP connection to a local server that plays the API server's answers."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Optional, Tuple

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import (
    MAX_RETRIES, Kube, KubeError, Transport, retry_after)

# the API server's answer while a new CRD's watch cache starts (k8s.io/apiserver's cacher)
INITIALIZING_STATUS = {"kind": "Status", "status": "Failure", "reason": "TooManyRequests",
                       "message": "storage is (re)initializing", "code": 429, "details": {"retryAfterSeconds": 1}}
INITIALIZING = (429, {"Retry-After": "1"}, INITIALIZING_STATUS)
LIST = (200, {}, {"kind": "ProfileBindingList", "items": []})
CREATED = (201, {}, {"kind": "ProfileBinding", "metadata": {"name": "b"}})


class Script(object):
    """The answers the server gives, in order, and what it was asked."""

    def __init__(self) -> None:
        self.answers: List[Tuple[int, dict, dict]] = []
        self.seen: List[Tuple[str, str, bytes]] = []


@pytest.fixture
def server() -> Iterator[Tuple[Script, Kube]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            script.seen.append((self.command, self.path, self.rfile.read(length) if length else b""))
            status, headers, body = script.answers.pop(0)
            raw = json.dumps(body).encode()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, *args) -> None:  # pylint: disable=arguments-differ
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    kube = Kube(Transport("http://127.0.0.1:%d" % httpd.server_address[1], None))
    waits: List[float] = []
    kube.sleep = waits.append
    kube.waits = waits  # type: ignore[attr-defined]
    try:
        yield script, kube
    finally:
        httpd.shutdown()
        httpd.server_close()


PATH = "/apis/security-profiles-operator.x-k8s.io/v1alpha1/profilebindings"


def test_list_retried_while_storage_initializes(server):
    script, kube = server
    script.answers = [INITIALIZING, INITIALIZING, LIST]
    assert kube.list(PATH) == LIST[2]
    assert [s[0] for s in script.seen] == ["GET"] * 3
    assert kube.waits == [1.0, 1.0]
    assert kube.requests == 3


def test_create_retried_after_429_with_the_same_body(server):
    script, kube = server
    script.answers = [INITIALIZING, CREATED]
    body = {"apiVersion": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "ProfileBinding",
            "metadata": {"name": "b", "namespace": "n"}}
    assert kube.create(PATH, body) == CREATED[2]
    assert [json.loads(s[2]) for s in script.seen] == [body, body]


def test_gives_up_after_max_retries_with_the_servers_error(server):
    script, kube = server
    script.answers = [INITIALIZING] * (MAX_RETRIES + 1)
    with pytest.raises(KubeError) as err:
        kube.list(PATH)
    assert err.value.status == 429
    assert "storage is (re)initializing" in str(err.value)
    assert len(script.seen) == MAX_RETRIES + 1


def test_write_not_repeated_on_5xx(server):
    script, kube = server
    script.answers = [(504, {"Retry-After": "1"}, {"kind": "Status", "reason": "Timeout", "message": "took too long"})]
    with pytest.raises(KubeError) as err:
        kube.create(PATH, {"metadata": {"name": "b"}})
    assert err.value.status == 504
    assert len(script.seen) == 1


def test_429_without_retry_after_is_an_error(server):
    script, kube = server
    script.answers = [(429, {}, {"kind": "Status", "reason": "TooManyRequests", "message": "slow down"})]
    with pytest.raises(KubeError):
        kube.get(PATH)
    assert len(script.seen) == 1


@pytest.mark.parametrize("method, status, header, expected", [
    ("GET", 429, "1", 1.0),
    ("POST", 429, "2", 2.0),
    ("DELETE", 429, "0", 0.1),  # never a busy loop
    ("GET", 429, "3600", 10.0),  # never a long hang
    ("GET", 429, "Wed, 21 Oct 2026 07:28:00 GMT", 1.0),
    ("GET", 503, "1", 1.0),
    ("POST", 503, "1", None),
    ("PATCH", 500, "1", None),
    ("GET", 429, None, None),
    ("GET", 404, "1", None),
    ("GET", 409, "1", None),
])
def test_retry_after(method: str, status: int, header: Optional[str], expected: Optional[float]):
    assert retry_after(method, status, header) == expected
