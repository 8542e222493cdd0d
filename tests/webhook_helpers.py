# -*- coding: utf-8 -*-
"""The webhook server of the unit tests: a real ``WebhookServer`` serving on an event loop of its own thread."""
from __future__ import annotations

import asyncio
import base64
import ssl
import threading
from typing import Any, Callable, Dict


def serve_in_thread(srv: Any) -> Callable[[], None]:
    """Start serving ``srv`` (a ``webhook.server.WebhookServer``), wait until it listens; give the function that
    stops it and waits for its thread."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(srv.serve(stop, lambda port: ready.set()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the webhook server did not start listening"

    def stop_serving() -> None:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
    return stop_serving


def client_context(tls: Dict[str, Any]) -> ssl.SSLContext:
    """A TLS client context trusting the CA of ``tls`` (what ``webhook.certs.ensure`` made)."""
    return ssl.create_default_context(cadata=base64.b64decode(tls["ca_bundle"]).decode())
