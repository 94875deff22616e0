"""The generic runtime: a start line, 200 "ok" on every container port until stopped."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

from sandbox.faults import Faults
from sandbox.runtimes.base import KILLED, ContainerSpec, RuntimeContext, SimClock
from sandbox.runtimes.registry import runtime_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(tmp_path, ports: tuple[int, ...]) -> tuple[threading.Thread, RuntimeContext, list[str], dict]:
    spec = ContainerSpec("default", "web-0", "web", "nginx:1.27", ports=ports)
    lines: list[str] = []
    ctx = RuntimeContext("127.0.0.1", SimClock(10000), lines.append, Faults(tmp_path))
    result: dict[str, int] = {}
    container = runtime_for(spec.image).create(spec, ctx)
    thread = threading.Thread(target=lambda: result.setdefault("exit", container.run()), daemon=True)
    thread.start()
    return thread, ctx, lines, result


def get(url: str, method: str = "GET") -> tuple[int, bytes]:
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=2) as response:
                return response.status, response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_serves_ok_on_every_port_and_any_path_until_stopped(tmp_path):
    ports = (free_port(), free_port())
    thread, ctx, lines, result = start(tmp_path, ports)
    for port in ports:
        assert get(f"http://127.0.0.1:{port}/") == (200, b"ok")
        assert get(f"http://127.0.0.1:{port}/any/path?x=1", method="POST") == (200, b"ok")
    assert len(lines) == 1 and "nginx:1.27" in lines[0] and str(ports[0]) in lines[0]
    ctx.stop.set()
    thread.join(2)
    assert result["exit"] == KILLED
    for port in ports:  # listeners closed
        with socket.socket() as again:
            again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            again.bind(("127.0.0.1", port))


def test_without_ports_it_just_waits_for_stop(tmp_path):
    thread, ctx, lines, result = start(tmp_path, ())
    time.sleep(0.05)
    assert thread.is_alive() and len(lines) == 1
    ctx.stop.set()
    thread.join(2)
    assert result["exit"] == KILLED


def test_a_taken_port_fails_the_container(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        thread, _ctx, lines, result = start(tmp_path, (holder.getsockname()[1],))
        thread.join(2)
    assert result["exit"] == 1 and "cannot listen" in lines[-1]
