# -*- coding: utf-8 -*-
"""The webhook server over real TLS on loopback: AdmissionReviews answered with JSON patches; malformed, oversized,
slow and unknown requests get allowed:false (or 404/405) and the server stays up; probes; certificate reload."""
from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import ssl
import time

import pytest

from ansible_collections.spo.security_profiles.plugins.module_utils.webhook import admission, cache, certs, server
from webhook_helpers import client_context, serve_in_thread  # pylint: disable=import-error

HOST = "security-profiles-operator-webhook.spo.svc"
OBJECTS = [
    {"kind": "ProfileBinding", "metadata": {"name": "b", "namespace": "apps"},
     "spec": {"profileRef": {"kind": "SeccompProfile", "name": "p"}, "image": "busybox:local"}},
    {"kind": "SeccompProfile", "metadata": {"name": "p", "namespace": "apps"}, "status": {"status": "Installed"}},
    {"kind": "Namespace", "metadata": {"name": "apps", "labels": {}}},
]


def write_pair(directory, tls):
    for name in ("tls.crt", "tls.key"):
        tmp = os.path.join(directory, name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.write(base64.b64decode(tls["tls"][name]))
        os.replace(tmp, os.path.join(directory, name))


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tls"))
    tls = certs.ensure(None, None, "security-profiles-operator-webhook", "spo")
    write_pair(directory, tls)
    srv = server.WebhookServer(cache.StaticCache(OBJECTS, "spo"), directory, "127.0.0.1", 0, max_body=64 * 1024,
                               body_timeout=1.0, reload_interval=0.2, drain=0.1, log=lambda m: None)
    stop = serve_in_thread(srv)
    yield srv, client_context(tls), directory, tls
    stop()


def post(running, path, body, headers=None):
    srv, context, _d, _t = running
    conn = http.client.HTTPSConnection("127.0.0.1", srv.bound_port, context=context, timeout=10)
    conn.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", srv.bound_port), 10), server_hostname=HOST)
    conn.request("POST", path, body=body, headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def get(running, path):
    srv, context, _d, _t = running
    conn = http.client.HTTPSConnection("127.0.0.1", srv.bound_port, context=context, timeout=10)
    conn.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", srv.bound_port), 10), server_hostname=HOST)
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def review(uid="u1", image="docker.io/library/busybox:local"):
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": uid, "kind": {"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "apps",
        "object": {"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": image}]}}}}).encode()


def test_binding_answer_is_a_json_patch(running):
    status, data = post(running, admission.BINDING, review())
    answer = json.loads(data)
    assert status == 200 and answer["response"]["uid"] == "u1" and answer["response"]["allowed"] is True
    assert answer["response"]["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(answer["response"]["patch"])) == [
        {"op": "add", "path": "/spec/containers/0/securityContext",
         "value": {"seccompProfile": {"type": "Localhost", "localhostProfile": "operator/apps/p.json"}}}]
    _s, data = post(running, admission.RUNTIME_DEFAULT, review("u2"))
    assert json.loads(base64.b64decode(json.loads(data)["response"]["patch"]))[0]["value"] == {
        "seccompProfile": {"type": "RuntimeDefault"}}
    _s, data = post(running, admission.BINDING, review("u3", "nginx"))
    assert json.loads(data)["response"] == {"uid": "u3", "allowed": True}


@pytest.mark.parametrize("body,message", [
    (b"{", "not JSON"), (b"\xff\xfe", "not JSON"), (b"[1]", "JSON object expected"), (b"{}", "not an AdmissionReview"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), "request: must be an object"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "x", "kind": {
        "group": "apps", "version": "v1", "kind": "Deployment"}}}).encode(), "handles core/v1 Pods"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "x", "kind": {
        "group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "object": {"spec": []}}}).encode(),
     "object.spec: must be an object"),
    (b"", "not JSON")])
def test_malformed_requests_are_refused_with_a_message(running, body, message):
    status, data = post(running, admission.BINDING, body)
    answer = json.loads(data)["response"]
    assert status == 200 and answer["allowed"] is False and message in answer["status"]["message"], answer
    assert get(running, "/healthz")[0] == 200


def test_oversized_requests(running):
    big = b'{"apiVersion": "' + b"x" * (200 * 1024) + b'"}'
    status, data = post(running, admission.BINDING, big)
    answer = json.loads(data)["response"]
    assert status == 200 and answer["allowed"] is False and "exceeds the limit of 65536 bytes" in answer["status"]["message"]
    # chunked, without Content-Length
    srv, context, _d, _t = running
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", srv.bound_port), 10), server_hostname=HOST)
    sock.sendall(b"POST /mutate-v1-pod-binding HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"y" * 32768
    try:
        for unused in range(8):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        pass  # the server may close once it has answered
    reply = sock.recv(65536)
    sock.close()
    assert b"200 OK" in reply.split(b"\r\n")[0] and b"exceeds the limit" in reply
    assert post(running, admission.BINDING, review("after"))[0] == 200


def test_slow_body_and_unknown_paths(running):
    srv, context, _d, _t = running
    sock = context.wrap_socket(socket.create_connection(("127.0.0.1", srv.bound_port), 10), server_hostname=HOST)
    sock.sendall(b"POST /mutate-v1-pod-binding HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    started = time.monotonic()
    reply = sock.recv(65536)
    sock.close()
    assert b"not received within" in reply and time.monotonic() - started < 5
    assert post(running, "/mutate-v1-pod-other", review())[0] == 404
    assert get(running, admission.BINDING)[0] == 405
    assert get(running, "/readyz") == (200, b"ok\n")
    status, text = get(running, "/metrics")
    assert status == 200 and b'spo_webhook_requests_total{path="/mutate-v1-pod-binding",result="denied"}' in text


def strict_json(data):
    """JSON as the API server (Go's encoding/json) reads it: NaN and Infinity are not JSON."""
    def refuse(name):
        raise ValueError("%s is not JSON" % name)
    return json.loads(data, parse_constant=refuse)


def pod_review(uid, container_extra):
    container = {"name": "c", "image": "docker.io/library/busybox:local"}
    return ('{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "%s", "kind": '
            '{"group": "", "version": "v1", "kind": "Pod"}, "operation": "CREATE", "namespace": "apps", "object": '
            '{"metadata": {"name": "x"}, "spec": {"containers": [%s]}}}}'
            % (uid, json.dumps(container)[:-1] + "".join(', "%s": %s' % kv for kv in container_extra.get("raw", {}).items())
               + "}")).encode()


@pytest.mark.parametrize("depth", [950, 30000])
def test_deeply_nested_request_gets_an_admission_review(running, depth):
    """A request nested past what the decoder or the patch builder can recurse into is refused with a reason in an
    AdmissionReview (HTTP 200), not answered HTTP 500 (the API server then shows only 'failed calling webhook');
    one within the bounds is mutated as any other."""
    body = pod_review("deep", {"raw": {"x-deep": "[" * depth + "]" * depth}})
    for path in admission.PATHS:
        status, data = post(running, path, body)
        assert status == 200, (path, status, data[:200])
        answer = strict_json(data)["response"]
        if depth < 1000:
            assert answer["allowed"] is True
            assert isinstance(strict_json(base64.b64decode(answer.get("patch") or b"W10=")), list)
        else:
            assert answer["allowed"] is False and "nested too deeply" in answer["status"]["message"], answer
    assert post(running, admission.BINDING, review("after-deep"))[0] == 200


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_no_nan_in_answers_or_patches(running, literal):
    """A pod holding a value JSON cannot carry (Python's decoder reads NaN, Infinity, 1e999) gets a refusal naming
    it; before, the patch of the container compared NaN unequal to itself and carried a ``NaN`` literal back."""
    body = pod_review("nan", {"raw": {"x-number": literal}})
    for path in admission.PATHS:
        status, data = post(running, path, body)
        answer = strict_json(data)["response"]
        assert status == 200 and answer["uid"] in ("", "nan")
        if "patch" in answer:
            strict_json(base64.b64decode(answer["patch"]))
        assert answer["allowed"] is False and literal.lstrip("-") in answer["status"]["message"], answer


def test_patches_are_strict_json():
    """Whatever a mutation builds, the patch is JSON or the request is refused (never a NaN literal)."""
    with pytest.raises(ValueError):
        admission.answer("u", patch=[{"op": "add", "path": "/x", "value": float("nan")}])
    state = admission.State(bindings=lambda ns: [{"metadata": {"name": "b", "namespace": ns}, "spec": {
        "profileRef": {"kind": "SeccompProfile", "name": "p"}, "image": "busybox:local"}}],
        profiles=lambda kind, ns, name: {"status": {"status": "Installed"}})
    ok = admission.review(admission.BINDING, pod_review("ok", {}), state)["response"]
    assert ok["allowed"] is True and strict_json(base64.b64decode(ok["patch"]))


def test_certificate_reload(running):
    srv, _context, directory, _tls = running
    fresh = certs.ensure(None, None, "security-profiles-operator-webhook", "spo")  # a new CA
    write_pair(directory, fresh)
    context = client_context(fresh)
    deadline = time.monotonic() + 10
    while True:
        try:
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", srv.bound_port), 10), server_hostname=HOST)
            sock.close()
            break
        except ssl.SSLError:
            assert time.monotonic() < deadline, "the new certificate was not loaded"
            time.sleep(0.2)
