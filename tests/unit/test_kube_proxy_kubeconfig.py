# -*- coding: utf-8 -*-
"""The light transport reads the kubeconfig ansible-operator writes for each run (its proxy at http://localhost,
the owner of the run as the user name, basic auth) and talks to the proxy with it, without the kubernetes client:
the proxy learns the owner from the user name, so what a role's module creates gets the owner reference."""
from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import List

from ansible_collections.spo.security_profiles.plugins.module_utils.k8s.kube import Transport, connect

# ansible-operator's template (internal/ansible/proxy/kubeconfig), with a base64 owner reference as the user name
KUBECONFIG = """\
---
apiVersion: v1
kind: Config
clusters:
- cluster:
    insecure-skip-tls-verify: true
    server: http://%(owner)s@127.0.0.1:%(port)d
  name: proxy-server
contexts:
- context:
    cluster: proxy-server
    user: admin/proxy-server
  name: ns/proxy-server
current-context: ns/proxy-server
preferences: {}
users:
- name: admin/proxy-server
  user:
    username: %(owner)s
    password: unused
"""


def test_requests_through_the_operators_proxy_carry_the_owner_as_basic_auth(tmp_path):
    seen: List[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers.get("Authorization") or "")
            raw = json.dumps({"kind": "Namespace", "metadata": {"name": "ns"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args) -> None:  # pylint: disable=arguments-differ
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    owner = base64.urlsafe_b64encode(json.dumps({"apiVersion": "x/v1", "kind": "K", "name": "n", "uid": "u",
                                                 "Namespace": "ns"}).encode()).decode()
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG % {"owner": owner, "port": httpd.server_address[1]})
    try:
        kube = connect(str(path))
        assert isinstance(kube.api, Transport)  # the light transport, not the kubernetes client
        assert kube.get("/api/v1/namespaces/ns")["metadata"]["name"] == "ns"
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert seen == ["Basic " + base64.b64encode((owner + ":unused").encode()).decode()]


def test_a_token_wins_over_a_user_name():
    transport = Transport("http://127.0.0.1:1", None, token="t", basic=("u", "p"))
    assert transport.headers() == {"Authorization": "Bearer t"}
