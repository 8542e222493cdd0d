# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The webhook's HTTPS server (aiohttp): AdmissionReview on the three mutation paths, probes and metrics.

* ``POST /mutate-v1-pod-binding``, ``/mutate-v1-pod-recording``, ``/mutate-v1-pod-runtime-default``: the body (at
  most ``max_body`` bytes, read within ``body_timeout`` seconds; at most ``body_budget`` bytes of bodies are held
  at once, the read that began first is cut past it) goes to ``admission.review``; the answer is always
  an AdmissionReview with HTTP 200, also for bodies that are too large, not JSON or not a pod's review
  (``allowed: false`` and a message), so the API server shows why.
* ``GET /healthz``: ok while the event loop runs. ``GET /readyz``: ok once the caches have listed everything and
  until shutdown starts (503 otherwise). ``GET /metrics``: request counters and latency sums (prometheus_client).
* Connections under ``httpserver.Limits`` (TLS handshake, idle/header timeouts, at most ``DEFAULT_MAX_CONNECTIONS``
  open, the idlest closed to let a new one in): idle or slow clients cannot hold the server down.
* TLS from ``tls.crt``/``tls.key`` in ``cert_dir``; the files are checked every ``reload_interval`` seconds and
  loaded again when they change (a rotated Secret reaches the pod without a restart).
* SIGTERM/SIGINT: readiness turns 503, requests in flight finish (``drain`` seconds), then the server stops.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import ssl
import sys
import time
from typing import Any, Callable, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils import httpserver
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import admission

DEFAULT_PORT = 9443
DEFAULT_MAX_BODY = 3 * 1024 * 1024  # a pod is at most ~1.5 MiB in etcd; a review holds object and oldObject
DEFAULT_BODY_BUDGET = 16 * 1024 * 1024  # request bodies held at once: past it the oldest read is cut
DEFAULT_MAX_CONNECTIONS = 256  # ~0.3 MB each at most (TLS buffers): well under the pod's 192 MiB
CERT_FILE, KEY_FILE = "tls.crt", "tls.key"


def tls_context(cert_dir: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(os.path.join(cert_dir, CERT_FILE), os.path.join(cert_dir, KEY_FILE))
    return context


def _stamp(cert_dir: str) -> Tuple[Any, ...]:
    out = []
    for name in (CERT_FILE, KEY_FILE):
        try:
            st = os.stat(os.path.join(cert_dir, name))
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


class Metrics(object):
    """The webhook's counters (prometheus_client; a registry of its own per server)."""

    def __init__(self) -> None:
        from prometheus_client import Counter
        self.registry = metrics.registry()
        self.requests = Counter("spo_webhook_requests", "Admission requests answered, by path and result.",
                                ("path", "result"), registry=self.registry)
        self.seconds = Counter("spo_webhook_request_seconds", "Time spent answering, by path.", ("path",),
                               registry=self.registry)

    def observe(self, path: str, result: str, seconds: float) -> None:
        self.requests.labels(path, result).inc()
        self.seconds.labels(path).inc(seconds)


class WebhookServer(object):
    """One server; ``cache`` is a ``cache.StaticCache`` or ``cache.ClusterCache``."""

    def __init__(self, cache: Any, cert_dir: str, host: str = "0.0.0.0", port: int = DEFAULT_PORT,
                 max_body: int = DEFAULT_MAX_BODY, body_timeout: float = 10.0, reload_interval: float = 10.0,
                 drain: float = 3.0, log: Callable[[str], None] = lambda m: sys.stderr.write(m + "\n"),
                 verbosity: int = 0, limits: Optional[httpserver.Limits] = None,
                 body_budget: int = DEFAULT_BODY_BUDGET) -> None:
        self.cache = cache
        self.state = cache.state()
        self.cert_dir = cert_dir
        self.host = host
        self.port = port
        self.max_body = max_body
        self.body_timeout = body_timeout
        self.reload_interval = reload_interval
        self.drain = drain
        self.log = log
        self.verbosity = verbosity
        self.limits = limits or httpserver.Limits(max_connections=DEFAULT_MAX_CONNECTIONS, max_body=max_body + 1)
        self.bodies = httpserver.BodyBudget(max(body_budget, max_body))
        self.metrics = Metrics()
        self.stopping = False
        self.ssl_context: Optional[ssl.SSLContext] = None
        self._stamp: Tuple[Any, ...] = ()
        self.bound_port = 0

    # ------------------------------------------------------------------ TLS
    def load_tls(self) -> None:
        stamp = _stamp(self.cert_dir)
        if self.ssl_context is None:
            self.ssl_context = tls_context(self.cert_dir)
        else:
            # the same context serves new handshakes with the new pair
            self.ssl_context.load_cert_chain(os.path.join(self.cert_dir, CERT_FILE), os.path.join(self.cert_dir, KEY_FILE))
            self.log("spo-webhook: serving certificate reloaded from %s" % self.cert_dir)
        self._stamp = stamp

    async def _reload_loop(self) -> None:
        while True:
            await asyncio.sleep(self.reload_interval)
            if _stamp(self.cert_dir) != self._stamp:
                try:
                    self.load_tls()
                except (OSError, ssl.SSLError) as exc:  # a half-written pair: try again next round
                    self.log("spo-webhook: cannot load the serving certificate yet: %s" % exc)

    # ------------------------------------------------------------------ HTTP
    def app(self) -> Any:
        from aiohttp import web
        app = web.Application(client_max_size=self.limits.max_body)
        for path in admission.PATHS:
            app.router.add_post(path, self._review)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _read_body(self, request: Any) -> Tuple[Optional[bytes], str]:
        length = request.content_length
        if length is not None and length > self.max_body:
            return None, "the request body of %d bytes exceeds the limit of %d bytes" % (length, self.max_body)
        chunks, size = [], 0
        read = self.bodies.open(request.transport)
        try:
            async for chunk in request.content.iter_chunked(65536):
                size += len(chunk)
                if size > self.max_body:
                    return None, "the request body exceeds the limit of %d bytes" % self.max_body
                self.bodies.add(read, len(chunk))
                chunks.append(chunk)
        finally:
            self.bodies.close(read)
        return b"".join(chunks), ""

    async def _review(self, request: Any) -> Any:
        from aiohttp import web
        started = time.perf_counter()
        path = request.path
        close = False
        try:
            body, problem = await asyncio.wait_for(self._read_body(request), self.body_timeout)
        except asyncio.TimeoutError:
            body, problem = None, "the request body was not received within %.0fs" % self.body_timeout
        except httpserver.BodyCut as exc:
            body, problem = None, str(exc)
        except Exception as exc:  # pylint: disable=broad-except  # a broken upload
            body, problem = None, "the request body could not be read: %s" % exc
        if body is None:
            close = True
            result = admission.answer("", admission.API_VERSIONS[0], False, "spo-webhook %s: %s" % (path, problem), 413)
        else:
            result = admission.review(path, body, self.state)
        response = result["response"]
        outcome = "patched" if response.get("patch") else ("allowed" if response["allowed"] else "denied")
        elapsed = time.perf_counter() - started
        self.metrics.observe(path, outcome, elapsed)
        if not response["allowed"] or self.verbosity:
            self.log("spo-webhook %s uid=%s %s in %.1fms%s" % (path, response.get("uid") or "-", outcome, elapsed * 1000,
                                                               (": " + response["status"]["message"]) if not response["allowed"] else ""))
        out = web.Response(body=json.dumps(result, separators=(",", ":")).encode("utf-8"),
                           content_type="application/json")
        if close:
            out.force_close()
        return out

    async def _healthz(self, _request: Any) -> Any:
        from aiohttp import web
        return web.Response(text="ok\n")

    def ready(self) -> bool:
        return not self.stopping and self.ssl_context is not None and bool(self.cache.synced())

    async def _readyz(self, _request: Any) -> Any:
        from aiohttp import web
        if self.ready():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="shutting down\n" if self.stopping else "caches not synced yet\n")

    async def _metrics(self, request: Any) -> Any:
        from aiohttp import web
        status, content_type, body = metrics.exposition(self.metrics.registry, request.headers)
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})

    # ------------------------------------------------------------------ life cycle
    async def serve(self, stop: asyncio.Event, started: Optional[Callable[[int], None]] = None) -> None:
        import gc
        self.load_tls()
        gc.freeze()  # what is loaded by now lives as long as the process: keep it out of the collector's scans
        listener = await httpserver.listen(self.app(), self.host, self.port, self.limits, self.ssl_context, self.log,
                                           shutdown_timeout=self.drain + 2)
        self.bound_port = listener.port
        self.log("spo-webhook: serving on https://%s:%d (max body %d bytes, at most %d connections)"
                 % (self.host, self.bound_port, self.max_body, self.limits.max_connections))
        if started:
            started(self.bound_port)
        reload_task = asyncio.ensure_future(self._reload_loop())
        try:
            await stop.wait()
        finally:
            self.stopping = True
            self.log("spo-webhook: stopping (not ready; draining for %.0fs)" % self.drain)
            await asyncio.sleep(self.drain)
            reload_task.cancel()
            await listener.close()
            self.cache.stop()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            loop.run_until_complete(self.serve(stop))
        finally:
            loop.close()
        return 0
