# -*- coding: utf-8 -*-
"""``module_defaults: {group/spo.security_profiles.cluster: {kubeconfig: ...}}`` reaches the modules.

A real ansible-playbook runs the collection's cluster modules (and kubernetes.core's k8s_info, which
the group extends) with the kubeconfig given only once, in the group's module_defaults. The
kubeconfig names a local HTTP endpoint and a token made for this run; the endpoint records each
request, so the token arriving there shows that each module read the kubeconfig from the group.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import VENV_BIN, ansible_playbook

MODULES = {
    "spo.security_profiles.k8s_status": {
        "api_version": "security-profiles-operator.x-k8s.io/v1alpha1", "kind": "SeccompProfile",
        "name": "probe", "namespace": "default", "status": {"phase": "probe"}},
    "spo.security_profiles.recording_merge": {"namespace": "default", "recording": "probe"},
    "spo.security_profiles.k8s_cleanup": {"kinds": ["seccompprofiles"], "timeout": 5},
    "spo.security_profiles.profilebinding_status": {"binding": {
        "metadata": {"name": "probe", "namespace": "default"},
        "spec": {"profileRef": {"kind": "SeccompProfile", "name": "probe"}, "image": "busybox"}}},
    "kubernetes.core.k8s_info": {"kind": "ConfigMap", "namespace": "default", "name": "probe"},
}


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.seen.append({"path": self.path, "auth": self.headers.get("Authorization", "")})
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "reason": "NotFound", "code": 404, "message": "not found"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture()
def endpoint():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1], _Recorder.seen
    server.shutdown()
    server.server_close()


def _kubeconfig(path: str, server: str, token: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "probe",
                   "clusters": [{"name": "probe", "cluster": {"server": server}}],
                   "users": [{"name": "probe", "user": {"token": token}}],
                   "contexts": [{"name": "probe", "context": {"cluster": "probe", "user": "probe"}}]},
                  handle)


def _play(path: str, module: str, args: dict, defaults: dict) -> None:
    play = [{"hosts": "localhost", "gather_facts": False, "module_defaults": defaults,
             "tasks": [{"name": "probe", module: args, "ignore_errors": True}]}]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(play, handle)


def _run(tmp_path, module: str, defaults: dict):
    playbook = str(tmp_path / "play.yml")
    _play(playbook, module, MODULES[module], defaults)
    env = {"HOME": str(tmp_path), "ANSIBLE_HOME": str(tmp_path / ".ansible")}
    for name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG", "KUBERNETES_SERVICE_HOST", "K8S_AUTH_HOST",
                 "K8S_AUTH_API_KEY"):
        env[name] = ""
    return ansible_playbook(playbook, "-e", "ansible_python_interpreter=%s" % os.path.join(VENV_BIN, "python"),
                            env=env)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_group_module_defaults_kubeconfig_reaches_the_module(tmp_path, endpoint, module):
    server, seen = endpoint
    token = "group-default-" + secrets.token_hex(8)
    kubeconfig = str(tmp_path / "kubeconfig")
    _kubeconfig(kubeconfig, server, token)
    proc = _run(tmp_path, module, {"group/spo.security_profiles.cluster": {"kubeconfig": kubeconfig}})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert seen, "%s made no request to the kubeconfig's server:\n%s" % (module, proc.stdout)
    assert all(r["auth"] == "Bearer " + token for r in seen), seen


def test_without_the_group_default_the_endpoint_is_not_used(tmp_path, endpoint):
    server, seen = endpoint
    _kubeconfig(str(tmp_path / "kubeconfig"), server, "unused")
    proc = _run(tmp_path, "spo.security_profiles.k8s_status", {})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not seen
