"""Container probes against real HTTP and TCP servers on 127.0.0.1: results and the kubelet's messages."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sandbox.kubelet import probes
from sandbox.kubelet.probes import resolve_port, run_probe


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """Answers ``/status/<code>`` with that code, ``/slow`` after ``delay`` seconds, else 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        self.delay = 0.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append((self.path, dict(self.headers)))
                if self.path == "/slow":
                    time.sleep(server.delay)
                code = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/status/") else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def http_probe(port, path: str = "/", **action) -> dict:
    return {"httpGet": {"port": port, "path": path, **action}}


@pytest.mark.parametrize("code", [200, 204, 301, 302, 304, 399])
def test_http_2xx_and_3xx_pass(server, code):
    result = run_probe(http_probe(server.port, f"/status/{code}"), {}, "127.0.0.1", 1)
    assert result.ok and result.message == ""
    assert server.requests[-1][0] == f"/status/{code}"  # the probe really reached the server


@pytest.mark.parametrize("code", [400, 401, 404, 500, 503])
def test_http_4xx_and_5xx_fail_with_the_kubelet_message(server, code):
    result = run_probe(http_probe(server.port, f"/status/{code}"), {}, "127.0.0.1", 1)
    assert not result.ok
    assert result.message == f"HTTP probe failed with statuscode: {code}"


def test_request_goes_to_the_pod_ip_with_the_kubelet_user_agent_and_given_headers(server):
    probe = {"httpGet": {"port": server.port, "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}}
    assert run_probe(probe, {}, "127.0.0.1", 1).ok
    path, headers = server.requests[-1]
    assert path == "/"  # no path means /
    assert headers["User-Agent"] == "kube-probe/1.35" and headers["X-Probe"] == "yes"
    assert headers["Host"] == f"127.0.0.1:{server.port}"


def test_host_overrides_the_pod_ip(server):
    probe = http_probe(server.port, "/status/204", host="127.0.0.1")
    assert run_probe(probe, {}, "127.9.9.9", 1).ok


def test_connection_refused_message():
    port = free_port()
    result = run_probe(http_probe(port, "/healthz"), {}, "127.0.0.1", 1)
    assert not result.ok
    assert result.message == (
        f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: connect: connection refused'
    )


def test_named_port_is_resolved_from_the_container_ports(server):
    container = {
        "ports": [{"name": "metrics", "containerPort": 1}, {"name": "http", "containerPort": server.port}]
    }
    result = run_probe(http_probe("http", "/status/200"), container, "127.0.0.1", 1)
    assert result.ok and server.requests[-1][0] == "/status/200"
    failing = run_probe(http_probe("http", "/status/500"), container, "127.0.0.1", 1)
    assert failing.message == "HTTP probe failed with statuscode: 500"


def test_unknown_named_port_fails_without_a_request(server):
    result = run_probe(
        http_probe("admin"), {"ports": [{"name": "http", "containerPort": server.port}]}, "127.0.0.1", 1
    )
    assert not result.ok and result.message == "unable to resolve port 'admin'"
    assert server.requests == []


@pytest.mark.parametrize(
    ("port", "expected"),
    [(8080, 8080), ("8080", 8080), ("http", 9000), ("grpc", 9001), ("nope", None), (None, None)],
)
def test_resolve_port(port, expected):
    container = {"ports": [{"name": "http", "containerPort": 9000}, {"name": "grpc", "containerPort": 9001}]}
    assert resolve_port(port, container) == expected


def test_resolve_port_without_declared_ports():
    assert resolve_port("http", {}) is None
    assert resolve_port(80, {}) == 80


def test_timeout_message(server, monkeypatch):
    monkeypatch.setattr(probes, "MIN_TIMEOUT_SECONDS", 0.05)
    server.delay = 0.5
    started = time.monotonic()
    result = run_probe(http_probe(server.port, "/slow"), {}, "127.0.0.1", 0.05)
    assert time.monotonic() - started < 0.4
    assert not result.ok
    assert result.message == (
        f'Get "http://127.0.0.1:{server.port}/slow": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)"
    )


def test_compressed_timeouts_have_a_floor(server):
    # A 1 s timeout at a high time scale would be 0.1 ms; the floor keeps a 0.1 s answer passing.
    server.delay = 0.1
    assert probes.MIN_TIMEOUT_SECONDS >= 0.5
    assert run_probe(http_probe(server.port, "/slow"), {}, "127.0.0.1", 0.0001).ok


def test_tcp_socket_probe(server):
    assert run_probe({"tcpSocket": {"port": server.port}}, {}, "127.0.0.1", 1).ok
    named = {"ports": [{"name": "web", "containerPort": server.port}]}
    assert run_probe({"tcpSocket": {"port": "web"}}, named, "127.0.0.1", 1).ok
    port = free_port()
    result = run_probe({"tcpSocket": {"port": port}}, {}, "127.0.0.1", 1)
    assert not result.ok
    assert result.message == f"dial tcp 127.0.0.1:{port}: connect: connection refused"


def test_exec_and_grpc_probes_pass():
    assert run_probe({"exec": {"command": ["false"]}}, {}, "127.0.0.1", 1).ok
    assert run_probe({"grpc": {"port": free_port()}}, {}, "127.0.0.1", 1).ok
