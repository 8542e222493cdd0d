# -*- coding: utf-8 -*-
"""The HTTP event emitter ansible-operator reads: a real ``ansible-runner run`` (as ansible-operator starts it,
with ``runner_http_url``/``runner_http_path`` in ``env/settings``) posts its events as JSON to an HTTP server on
a unix socket, the way ansible-operator's event API listens."""
from __future__ import annotations

import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
from typing import Any, Dict, List

import pytest

from spo_cli import runner_http

VENV_BIN = os.path.dirname(sys.executable)
PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: say hello
      ansible.builtin.debug:
        msg: hello
    - name: fail on purpose
      ansible.builtin.fail:
        msg: the failure message
      ignore_errors: true
"""


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class Receiver(object):
    """An HTTP server on a unix socket keeping what is posted (path, content type, JSON body)."""

    def __init__(self, path: str) -> None:
        self.posts: List[Dict[str, Any]] = []
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def address_string(self) -> str:  # a unix socket has no client address
                return "unix"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posts.append({"path": self.path, "type": self.headers.get("Content-Type"), "body": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(path, Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _run(tmp_path, settings: Dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "settings").write_text(json.dumps(settings))
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    env.pop("RUNNER_HTTP_URL", None)
    return subprocess.run([os.path.join(VENV_BIN, "ansible-runner"), "run", str(tmp_path), "-p", "play.yml",
                           "-i", "1234"], capture_output=True, text=True, env=env, timeout=300, check=False)


def test_ansible_runner_posts_every_event_as_json_to_the_unix_socket(tmp_path):
    sock = str(tmp_path / "events.sock")
    receiver = Receiver(sock)
    try:
        res = _run(tmp_path, {"runner_http_url": sock, "runner_http_path": "/events/"})
    finally:
        receiver.close()
    assert res.returncode == 0, res.stdout + res.stderr
    assert receiver.posts, "nothing was posted"
    assert {p["path"] for p in receiver.posts} == {"/events/"}
    assert {p["type"] for p in receiver.posts} == {"application/json"}
    events = [p["body"] for p in receiver.posts if p["body"].get("uuid")]
    kinds = [e["event"] for e in events]
    # what ansible-operator's reconciler reads: the end of the run and the failed task with its message
    assert kinds[-1] == "playbook_on_stats"
    stats = events[-1]["event_data"]
    assert stats["ok"] == {"localhost": 2} and stats["ignored"] == {"localhost": 1}
    failed = [e for e in events if e["event"] == "runner_on_failed"]
    assert len(failed) == 1 and failed[0]["event_data"]["res"]["msg"] == "the failure message"
    assert failed[0]["event_data"]["ignore_errors"] is True
    assert any(e["event"] == "runner_on_ok" and e["event_data"]["task"] == "say hello" for e in events)
    # status changes (no uuid) are posted too; ansible-operator drops them
    assert {"starting", "running", "successful"} <= {p["body"].get("status") for p in receiver.posts}


def test_without_a_url_nothing_is_sent(tmp_path):
    res = _run(tmp_path, {})
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_gone_receiver_does_not_stop_the_run(tmp_path):
    res = _run(tmp_path, {"runner_http_url": str(tmp_path / "no-such.sock"), "runner_http_path": "/events/"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / "artifacts" / "1234" / "status").read_text() == "successful"


def test_the_module_is_registered_for_ansible_runner():
    import ansible_runner
    assert ansible_runner.plugins.get("http") is runner_http


@pytest.mark.parametrize("url,expected", [
    ("/tmp/x.sock", ("UnixHTTPConnection", "")),
    ("http://127.0.0.1:9/base/", ("HTTPConnection", "/base")),
])
def test_url_kinds(url, expected):
    conn, prefix = runner_http._connection(url)  # pylint: disable=protected-access
    assert (type(conn).__name__, prefix) == expected
