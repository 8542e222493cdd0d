# -*- coding: utf-8 -*-
"""Servers that cannot be held down: the real spo-webhook process, the node agent's metrics and the operator's
probes, attacked on loopback with many idle, half-open and slow connections as a client on the network could."""
from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
import yaml

from ansible_collections.spo.security_profiles.plugins.module_utils import httpserver
from ansible_collections.spo.security_profiles.plugins.module_utils.cluster import metrics
from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import admission, certs
from webhook_helpers import client_context, serve_in_thread  # pylint: disable=import-error

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "security-profiles-operator-webhook.spo.svc"
OBJECTS = [
    {"kind": "ProfileBinding", "metadata": {"name": "b", "namespace": "apps"},
     "spec": {"profileRef": {"kind": "SeccompProfile", "name": "p"}, "image": "busybox:local"}},
    {"kind": "SeccompProfile", "metadata": {"name": "p", "namespace": "apps"}, "status": {"status": "Installed"}},
    {"kind": "Namespace", "metadata": {"name": "apps", "labels": {}}},
]


def review(uid):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "apps",
        "object": {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "busybox:local"}]}}}}).encode()


def rss_kib(pid):
    with open("/proc/%d/status" % pid, encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def open_sockets(pid):
    count = 0
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            count += os.readlink("/proc/%d/fd/%s" % (pid, name)).startswith("socket:")
        except OSError:
            pass
    return count


@pytest.fixture()
def webhook_process(tmp_path):
    """spo-webhook as it runs in its pod (a process of its own, objects from a file instead of the API)."""
    tls = certs.ensure(None, None, "security-profiles-operator-webhook", "spo")
    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_bytes(base64.b64decode(tls["tls"][name]))
    (tmp_path / "objects.yaml").write_text(yaml.safe_dump_all(OBJECTS))
    port_file = tmp_path / "port"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "spo_cli.webhook", "--host", "127.0.0.1", "--port", "0",
                             "--cert-dir", str(tmp_path), "--objects", str(tmp_path / "objects.yaml"),
                             "--port-file", str(port_file), "--drain", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not port_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    context = client_context(tls)
    yield proc, int(port_file.read_text()), context
    proc.terminate()
    proc.wait(10)


async def admission_request(port, context, uid):
    """One AdmissionReview over a new TLS connection, as the API server sends it; (seconds, answer)."""
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=HOST), 10)
    body = review(uid)
    writer.write(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (admission.BINDING.encode(), len(body), body))
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, unused, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return time.perf_counter() - started, json.loads(payload)["response"]


class Attack(object):
    """Connections a client opens and holds: some say nothing, some finish TLS and say nothing, some send a TLS
    record or a request head one byte a second."""

    def __init__(self, port, context):
        self.port = port
        self.context = context
        self.writers = []
        self.tasks = []

    async def silent(self):
        unused, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)

    async def tls_idle(self):
        unused, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.context, server_hostname=HOST)
        self.writers.append(writer)

    async def trickle(self, tls):
        if tls:
            unused, writer = await asyncio.open_connection("127.0.0.1", self.port, ssl=self.context,
                                                           server_hostname=HOST)
            data = b"POST /mutate-v1-pod-binding HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
        else:
            unused, writer = await asyncio.open_connection("127.0.0.1", self.port)
            data = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64  # a ClientHello's start
        self.writers.append(writer)
        for byte in data:
            writer.write(bytes([byte]))
            await asyncio.sleep(1.0)

    async def open(self, kind, count, *args):
        results = await asyncio.gather(*(kind(*args) for unused in range(count)), return_exceptions=True)
        return sum(1 for r in results if not isinstance(r, BaseException))

    def close(self):
        for task in self.tasks:
            task.cancel()
        for writer in self.writers:
            writer.transport.abort()


def test_webhook_answers_while_1000_idle_and_slow_connections_are_held(webhook_process):
    """1000 connections that say nothing or a byte a second: an AdmissionReview on a new connection is still
    answered at once, the server holds no more sockets than its cap and its memory stays bounded (without the
    limits every connection was kept ~0.3 MB for 60 s or more, and 1000 took it past its 192 MiB limit)."""
    proc, port, context = webhook_process

    async def scenario():
        await admission_request(port, context, "warm")
        before = rss_kib(proc.pid)
        attack = Attack(port, context)
        peak_rss, peak_sockets = before, 0

        def sample():
            nonlocal peak_rss, peak_sockets
            peak_rss = max(peak_rss, rss_kib(proc.pid))
            peak_sockets = max(peak_sockets, open_sockets(proc.pid))

        try:
            # the slow ones first: they must not be the ones that keep the server from the real request
            for tls in (False, True):
                attack.tasks += [asyncio.ensure_future(attack.trickle(tls)) for unused in range(150)]
            await asyncio.sleep(1.0)
            opened = await attack.open(attack.silent, 400)
            sample()
            opened += await attack.open(attack.tls_idle, 300)
            sample()
            assert opened >= 500, "the attack itself failed: %d connections" % opened
            answers = []
            for index in range(5):  # while all of that is held
                await asyncio.sleep(0.5)
                sample()
                answers.append(await admission_request(port, context, "real-%d" % index))
            sample()
        finally:
            attack.close()
        return before, peak_rss, peak_sockets, answers

    before, peak_rss, peak_sockets, answers = asyncio.run(scenario())
    for seconds, response in answers:
        assert response["allowed"] is True and response["patchType"] == "JSONPatch"
        assert seconds < 2.0, "a real request took %.2fs under the attack" % seconds
    assert peak_sockets <= 256 + 8, "the server held %d sockets" % peak_sockets
    assert peak_rss - before < 100 * 1024, "RSS grew from %d to %d KiB" % (before, peak_rss)
    assert proc.poll() is None


def _limited_webhook(limits, tmp_path, **options):
    """An in-process webhook server with ``limits``; (server, TLS context, stop)."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import cache, server
    tls = certs.ensure(None, None, "security-profiles-operator-webhook", "spo")
    for name in ("tls.crt", "tls.key"):
        (tmp_path / name).write_bytes(base64.b64decode(tls["tls"][name]))
    srv = server.WebhookServer(cache.StaticCache(OBJECTS, "spo"), str(tmp_path), "127.0.0.1", 0, drain=0,
                               log=lambda m: None, limits=limits, **options)
    return srv, client_context(tls), serve_in_thread(srv)


def closed_within(sock, seconds):
    """Whether the server closed ``sock`` within ``seconds`` (reads until EOF or a reset)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except (ConnectionError, ssl.SSLError):
        return True
    except socket.timeout:
        return False
    return False


def test_handshake_idle_and_header_timeouts(tmp_path):
    """A TLS handshake that does not finish, a connection that says nothing after it, and a request head sent a
    byte at a time are each closed by the server after their timeout (aiohttp's default kept them an hour)."""
    srv, context, stop = _limited_webhook(httpserver.Limits(handshake_timeout=1.0, idle_timeout=1.5), tmp_path)
    try:
        port = srv.bound_port
        raw = socket.create_connection(("127.0.0.1", port))
        assert closed_within(raw, 4), "a connection without a TLS handshake was kept"
        raw.close()
        idle = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=HOST)
        assert closed_within(idle, 4), "an idle TLS connection was kept"
        idle.close()
        slow = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=HOST)
        started = time.monotonic()
        slow.settimeout(0.3)
        closed = False
        for byte in b"POST /mutate-v1-pod-binding HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 40:
            try:
                slow.sendall(bytes([byte]))
                closed = not slow.recv(1)
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                closed = True
            if closed:
                break
        assert closed and time.monotonic() - started < 4, "a request head sent a byte at a time was kept"
        slow.close()
        assert asyncio.run(admission_request(port, context, "after"))[1]["allowed"] is True
    finally:
        stop()


def test_connection_cap_closes_the_idlest_connection_not_a_request_in_progress():
    table = httpserver.ConnectionTable(3, clock=iter(range(100)).__next__)
    first, second, third = table.admit(), table.admit(), table.admit()
    for conn, transport in ((first, "t1"), (second, "t2"), (third, "t3")):
        table.attach(conn, _Transport(transport))
    busy = table.begin(first.transport)  # the oldest connection is answering a request
    assert busy is first
    table.admit()
    assert second.transport.aborted and not first.transport.aborted and not third.transport.aborted
    assert table.evicted == 1 and len(table) == 3
    # all busy: the request that has run longest goes, not the one that has just begun
    table.begin(third.transport)
    fourth = next(c for c in table.open if c not in (first, third))
    table.attach(fourth, _Transport("t4"))
    table.begin(fourth.transport)
    table.admit()
    assert first.transport.aborted and not third.transport.aborted and not fourth.transport.aborted


class _Transport(object):
    def __init__(self, name):
        self.name = name
        self.aborted = False

    def is_closing(self):
        return self.aborted

    def abort(self):
        self.aborted = True


def test_metrics_server_survives_many_half_open_connections():
    """600 connections that send half a request head and wait: the endpoint still answers at once and the
    process keeps a bounded number of sockets (one thread per connection and no timeout ended the process at
    about 420 before)."""
    agent = metrics.AgentMetrics(lambda: 1.0)
    srv = metrics.serve(_free_port(), {"/metrics": agent.route}, host="127.0.0.1")
    path = "/metrics"
    threads_before = threading.active_count()
    held = []
    try:
        for unused in range(600):
            sock = socket.create_connection(("127.0.0.1", srv.port))
            sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n" % path.encode())
            held.append(sock)
        for attempt in range(3):
            started = time.monotonic()
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
                reply = b""
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
            assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
            assert time.monotonic() - started < 2
        assert threading.active_count() <= threads_before + 2
        assert open_sockets(os.getpid()) - len(held) <= 64 + 8, "the server kept every half-open connection"
    finally:
        for sock in held:
            sock.close()
        srv.shutdown()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Status(object):
    """What the selinuxd API reads of its daemon (the store is not touched here)."""
    ready = True
    transactions = 0

    def status(self, name=None):
        return {} if name is None else None


def test_selinuxd_socket_api_bounds_half_open_connections(tmp_path):
    """selinuxd's unix-socket API (standard library: it also runs from the host's python3) keeps at most its cap
    of connection threads, drops a silent connection after its timeout, and answers again right after."""
    from ansible_collections.spo.security_profiles.plugins.module_utils.selinux import selinuxd
    path = str(tmp_path / "sock")
    server = selinuxd.serve(_Status(), path, timeout=0.5, max_connections=8)
    threads_before = threading.active_count()
    held = []
    try:
        for unused in range(300):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            held.append(sock)
            sock.connect(path)
            try:
                sock.sendall(b"GET /ready HTTP/1.0\r\n")
            except OSError:  # refused: the server is at its cap
                pass
        time.sleep(0.2)
        assert threading.active_count() <= threads_before + 8
        time.sleep(0.6)
        assert selinuxd.query(path, "/ready", timeout=2) == (200, {"ready": True, "transactions": 0})
    finally:
        for sock in held:
            sock.close()
        server.shutdown()


def test_bodies_held_at_once_are_bounded(tmp_path):
    """Uploads that stop just short of their end hold their bodies until the body timeout; past the server's budget
    for bodies held at once the oldest are cut, so a few hundred of them cannot take the webhook's memory (each may
    be 3 MiB), and a real review still goes through."""
    srv, context, stop = _limited_webhook(httpserver.Limits(max_body=64 * 1024 + 1), tmp_path, max_body=64 * 1024,
                                          body_timeout=10.0, body_budget=256 * 1024)
    held = []
    try:
        for unused in range(8):
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", srv.bound_port)), server_hostname=HOST)
            sock.sendall(b"POST /mutate-v1-pod-binding HTTP/1.1\r\nHost: x\r\nContent-Length: 65000\r\n\r\n")
            sock.sendall(b"x" * 60000)
            held.append(sock)
            time.sleep(0.05)
        started = time.monotonic()
        assert closed_within(held[0], 3) and closed_within(held[1], 1), "the oldest uploads were kept"
        assert time.monotonic() - started < 4
        assert srv.bodies.held <= 256 * 1024 and srv.bodies.cuts >= 2
        assert asyncio.run(admission_request(srv.bound_port, context, "after"))[1]["allowed"] is True
    finally:
        for sock in held:
            sock.close()
        stop()


def test_body_budget_cuts_the_oldest_read():
    budget = httpserver.BodyBudget(100)
    first, second = budget.open(_Transport("a")), budget.open(_Transport("b"))
    budget.add(first, 60)
    budget.add(second, 30)
    budget.add(second, 20)  # 110: the first read goes
    assert first.transport.aborted and not second.transport.aborted and budget.held == 50
    with pytest.raises(httpserver.BodyCut):
        budget.add(first, 1)
    third = budget.open(_Transport("c"))
    with pytest.raises(httpserver.BodyCut):  # the oldest is the one growing past the limit: it is the one cut
        budget.add(second, 60)
    budget.add(third, 100)
    assert budget.held == 100 and budget.cuts == 2
