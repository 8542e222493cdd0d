# -*- coding: utf-8 -*-
# Copyright: (c) 2026, Security Profiles Operator Ansible edition team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""selinuxd engine: a drop-in directory of ``<policy>.cil`` files kept in the policy store.

* A file added or changed is installed, a file removed is uninstalled.
  The directory is polled; once a change is seen the daemon waits until it
  has been quiet for ``quiet`` seconds, so files arriving together become ONE
  ``semodule`` transaction (one policy rebuild).
* A policy that fails to compile is marked Failed with the compiler's
  message; the others are installed anyway (semanage.apply_batch isolates it).
  A Failed policy is retried only when its file changes.
* A policy whose file matches a module already in the store (installed by
  someone else, e.g. the selinux_policy module or an earlier daemon whose
  state is gone) is adopted: reported Installed, but when its file goes the
  daemon forgets it instead of removing it (it may not own it, and others may
  inherit from it).  Only what the daemon installed itself is uninstalled.
* Status per policy (Pending / Installed / Failed + message) is kept in a
  JSON state file written atomically; on start the directory is reconciled
  against the store (checksums), so a restart neither forgets nor rebuilds.
* Status is served as JSON on a unix-socket HTTP API: ``GET /policies/``,
  ``GET /policies/<name>``, ``GET /ready`` (at most 16 connections at once, each
  dropped when its request is not in within 5 s).

Only the standard library is used: the role ships this file with its
module_utils neighbours and runs it with the host's /usr/bin/python3.
"""
from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import threading
import sys
import time
from typing import Any, Dict, Optional, Tuple

from ansible_collections.spo.security_profiles.plugins.module_utils.host import nodefs
from ansible_collections.spo.security_profiles.plugins.module_utils.errors import SpoError
from ansible_collections.spo.security_profiles.plugins.module_utils.selinux.store import (
    MODULE_NAME_RE, Store, apply_batch, cil_checksum)

DEFAULT_DIR = "/etc/selinux.d"
DEFAULT_SOCKET = "/var/run/selinuxd/selinuxd.sock"
DEFAULT_STATE = "/var/lib/spo-selinuxd/state.json"
INSTALLED, FAILED, PENDING = "Installed", "Failed", "Pending"


def scan(directory: str) -> Dict[str, Tuple[str, str]]:
    """``<name>.cil`` files of ``directory``: name -> (checksum, text). Hidden/temp files are ignored."""
    found: Dict[str, Tuple[str, str]] = {}
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.startswith(".") or not entry.endswith(".cil"):
            continue
        name = entry[:-4]
        if not MODULE_NAME_RE.match(name):
            continue
        try:
            with open(os.path.join(directory, entry), "r", encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError):
            continue
        found[name] = (cil_checksum(text), text)
    return found


def snapshot(directory: str) -> Dict[str, Tuple[int, int]]:
    """Cheap change detector: name -> (mtime_ns, size)."""
    result: Dict[str, Tuple[int, int]] = {}
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".cil") and not entry.name.startswith("."):
                    try:
                        stat = entry.stat()
                    except OSError:
                        continue
                    result[entry.name] = (stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        pass
    return result


class Daemon:
    """Reconciles a drop-in directory with the policy store and records per-policy status."""

    def __init__(self, directory: str = DEFAULT_DIR, state_path: str = DEFAULT_STATE,
                 store: Optional[Store] = None) -> None:
        self.directory = directory
        self.state_path = state_path
        self.store = store or Store()
        self.lock = threading.Lock()
        self.ready = False
        self.transactions = 0
        self.policies: Dict[str, Dict[str, Any]] = self._load()

    # ------------------------------------------------------------- state
    def _load(self) -> Dict[str, Dict[str, Any]]:
        data = nodefs.read_bytes(self.state_path)
        if not data:
            return {}
        try:
            policies = json.loads(data.decode("utf-8")).get("policies", {})
        except (ValueError, AttributeError):
            return {}
        return policies if isinstance(policies, dict) else {}

    def _save(self) -> None:
        nodefs.makedirs(os.path.dirname(self.state_path) or ".", 0o700)
        body = json.dumps({"policies": self.policies}, indent=1, sort_keys=True).encode("utf-8")
        nodefs.atomic_write(self.state_path, body, mode=0o600)

    def status(self, name: Optional[str] = None) -> Any:
        with self.lock:
            if name is None:
                return {n: dict(v) for n, v in sorted(self.policies.items())}
            entry = self.policies.get(name)
            return dict(entry) if entry is not None else None

    # --------------------------------------------------------- reconcile
    def reconcile(self) -> Dict[str, Any]:
        """Bring the store in line with the directory in one transaction; return what was done."""
        files = scan(self.directory)
        installed = self.store.installed()
        install: Dict[str, str] = {}
        for name, (checksum, text) in files.items():
            known = self.policies.get(name, {})
            if known.get("status") == FAILED and known.get("checksum") == checksum:
                continue  # same broken file: do not rebuild again
            if installed.get(name) == checksum:
                if known.get("status") != INSTALLED or known.get("checksum") != checksum:
                    with self.lock:
                        self.policies[name] = {"status": INSTALLED, "checksum": checksum, "message": "",
                                               "adopted": True}
                continue
            install[name] = text
        remove = sorted(name for name in self.policies if name not in files and name in installed
                        and not self.policies[name].get("adopted"))
        gone = [name for name in self.policies if name not in files and name not in remove]
        with self.lock:
            for name in gone:
                del self.policies[name]
            for name in install:
                self.policies[name] = {"status": PENDING, "checksum": files[name][0], "message": ""}
        if install or remove:
            self._save()
            result = apply_batch(self.store, install, remove, isolate_failures=True)
            self.transactions += result.transactions
            with self.lock:
                for name in result.installed:
                    self.policies[name] = {"status": INSTALLED, "checksum": files[name][0], "message": ""}
                for name in result.removed:
                    self.policies.pop(name, None)
                for name, message in result.failed.items():
                    entry = {"status": FAILED, "checksum": files[name][0] if name in files else "", "message": message}
                    self.policies[name] = entry
        self._save()
        self.ready = True
        return {"installed": sorted(install), "removed": remove}

    def run(self, interval: float = 0.5, quiet: float = 1.0, stop: Optional[threading.Event] = None) -> None:
        """Poll forever (until ``stop``): reconcile after changes have settled for ``quiet`` seconds."""
        stop = stop or threading.Event()
        applied = snapshot(self.directory)  # taken first: a file written during the first reconcile is a change
        self.reconcile()
        seen, since = applied, time.monotonic()
        while not stop.wait(interval):
            current = snapshot(self.directory)
            if current != seen:
                seen, since = current, time.monotonic()
                continue
            if current != applied and time.monotonic() - since >= quiet:
                try:
                    self.reconcile()
                except SpoError as exc:  # store unreadable: keep running, retry on the next change
                    sys.stderr.write("selinuxd: %s\n" % exc)
                applied = current


# ------------------------------------------------------------------ HTTP API
class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "spo-selinuxd/1"
    daemon: Daemon = None  # type: ignore[assignment]

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        return

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body, sort_keys=True).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        path = self.path.split("?", 1)[0]
        if path == "/ready":
            ready = self.daemon.ready
            self._send(200 if ready else 503, {"ready": ready, "transactions": self.daemon.transactions})
        elif path in ("/policies", "/policies/"):
            self._send(200, self.daemon.status())
        elif path.startswith("/policies/"):
            name = path[len("/policies/"):].strip("/")
            entry = self.daemon.status(name)
            if entry is None:
                self._send(404, {"error": "no policy %s" % name})
            else:
                self._send(200, dict(entry, name=name))
        else:
            self._send(404, {"error": "not found"})


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """One thread per connection, at most ``max_connections`` of them: a connection beyond is closed at once, and
    one that does not send its request within the handler's ``timeout`` is dropped (the aiohttp server of the other
    daemons is not at hand: this file runs with the host's standard library alone)."""

    daemon_threads = True

    def __init__(self, path: str, handler: Any, max_connections: int) -> None:
        super().__init__(path, handler)
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:  # no thread started: give the slot back
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve(daemon: Daemon, socket_path: str, mode: int = 0o660, timeout: float = 5.0,
          max_connections: int = 16) -> _UnixHTTPServer:
    """Start the status API on ``socket_path`` in a background thread; return the server."""
    nodefs.makedirs(os.path.dirname(socket_path) or ".", 0o755)
    if os.path.exists(socket_path):
        os.unlink(socket_path)
    handler = type("Handler", (_Handler,), {"daemon": daemon, "timeout": timeout})
    server = _UnixHTTPServer(socket_path, handler, max_connections)
    os.chmod(socket_path, mode)
    threading.Thread(target=server.serve_forever, name="selinuxd-api", daemon=True).start()
    return server


def query(socket_path: str, path: str, timeout: float = 10.0) -> Tuple[int, Any]:
    """GET ``path`` from a selinuxd socket; return (HTTP status, decoded JSON)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(("GET %s HTTP/1.0\r\nHost: selinuxd\r\n\r\n" % path).encode("ascii"))
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    head, body = (b"".join(chunks).split(b"\r\n\r\n", 1) + [b""])[:2]
    code = int(head.split(b" ", 2)[1])
    return code, json.loads(body.decode("utf-8")) if body else None
