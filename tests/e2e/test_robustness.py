"""Hostile input never takes the sandbox down or damages stored data."""

from __future__ import annotations

import http.client
import json
import random
import socket
import ssl

import pytest

pytestmark = pytest.mark.e2e

PATHS = [
    "/api/v1/namespaces/fuzz/configmaps",
    "/api/v1/namespaces/fuzz/configmaps/x",
    "/apis/apps/v1/namespaces/fuzz/deployments",
    "/apis/apps/v1/namespaces/fuzz/deployments/d/scale",
    "/api/v1/namespaces/fuzz/pods/p/status",
    "/apis/nope/v1/things",
    "/api/v1/widgets",
    "/api/v1/namespaces/fuzz/secrets/..",
    "/api/v1/namespaces/%ff/x",
    "/apis/apps/v1/namespaces/fuzz/deployments/Bad_Name",
    "/api/v1/namespaces",
    "/api/v2",
    "/openapi/v3/apis/x/y",
    "/api/v1/namespaces/fuzz/configmaps?watch=true&timeoutSeconds=1&resourceVersion=abc",
    "/api/v1/namespaces/fuzz/configmaps?labelSelector=%3D%3D%3D",
    "/api/v1/namespaces/fuzz/configmaps?limit=-1",
    "/api/v1/namespaces/fuzz/configmaps?continue=!!!",
    "/" + "a/" * 200,
]
BODIES = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"str"',
    b'{"kind":"ConfigMap"}',
    b"\xff\xfe\x00",
    b"k8s\x00\x0a\x05",
    b'{"metadata":{"name":"' + b"x" * 300 + b'"}}',
    b'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"a":"not base64!"}}',
    b'{"metadata":{"name":"ok","labels":{"bad key!":"v"}}}',
    b"- just\n- a yaml list\n",
    b'{"metadata": 5}',
    b'[{"op":"explode"}]',
    b'{"spec":{"replicas":"many"}}',
]
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "BREW"]
CONTENT_TYPES = [
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
    "application/apply-patch+yaml",
    "application/vnd.kubernetes.protobuf",
    "text/plain",
]


def _connection(sandbox) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(sandbox.state_dir / "pki" / "ca.crt"))
    port = sandbox.endpoint()["port"]
    return http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)


def _token(sandbox) -> str:
    return (sandbox.state_dir / "pki" / "token").read_text().strip()


def test_random_and_malformed_requests(sandbox):
    sandbox.kubectl("create", "namespace", "fuzz")
    sandbox.kubectl("create", "configmap", "precious", "--from-literal=keep=me")
    before = sandbox.kubectl_json("get", "configmap", "precious")
    token = _token(sandbox)
    rng = random.Random(20261126)
    codes: dict[int, int] = {}
    for i in range(300):
        method = rng.choice(METHODS)
        path = rng.choice(PATHS)
        body = rng.choice(BODIES) if method in ("POST", "PUT", "PATCH", "DELETE") else b""
        headers = {"Content-Type": rng.choice(CONTENT_TYPES)}
        if i % 10:
            headers["Authorization"] = f"Bearer {token}"
        conn = _connection(sandbox)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        codes[response.status] = codes.get(response.status, 0) + 1
        assert response.status != 500, (method, path, body, payload)
        if response.status >= 400 and method != "HEAD" and payload:
            status = json.loads(payload)
            assert status["kind"] == "Status" and status["code"] == response.status
    assert codes.get(401, 0) >= 25  # every tenth request had no token

    # A huge body is refused with 413, and the connection stays usable for the next request.
    conn = _connection(sandbox)
    conn.request(
        "POST",
        "/api/v1/namespaces/fuzz/configmaps",
        body=b"{" + b" " * (4 * 1024 * 1024) + b"}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    assert response.status == 413 and json.loads(response.read())["reason"] == "RequestEntityTooLarge"
    conn.close()

    # Broken clients: a watch dropped mid-stream, a TLS handshake abandoned, half a request line.
    conn = _connection(sandbox)
    conn.request(
        "GET", "/api/v1/namespaces/fuzz/configmaps?watch=true", headers={"Authorization": f"Bearer {token}"}
    )
    conn.getresponse()
    conn.sock.close()
    port = sandbox.endpoint()["port"]
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"\x16\x03\x01\x00")
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"GET /api HTTP/1.1\r\n")

    assert sandbox.kubectl_json("get", "configmap", "precious") == before
    assert sandbox.kubectl("get", "--raw", "/readyz").stdout == "ok"
    sandbox.kubectl("create", "configmap", "after-fuzz", "--from-literal=a=b")
    sandbox.down()
    sandbox.up()
    assert sandbox.kubectl_json("get", "configmap", "precious") == before
