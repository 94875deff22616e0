"""Container probes (httpGet, tcpSocket, exec) evaluated against the container for real.

httpGet: a real HTTP request to the pod IP; success is a status in [200, 400), as the
kubelet's prober decides. Messages match the kubelet's ``Unhealthy`` event texts.
"""

from __future__ import annotations

import http.client
import socket
from dataclasses import dataclass

# Probe timeouts are network timeouts on loopback: they are not compressed by the time
# scale below this floor, or a busy machine would fail healthy probes.
MIN_TIMEOUT_SECONDS = 1.0


@dataclass
class ProbeResult:
    ok: bool
    message: str = ""


def resolve_port(port, container: dict) -> int | None:
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return declared.get("containerPort")
    return None


def run_probe(probe: dict, container: dict, pod_ip: str, timeout: float) -> ProbeResult:
    timeout = max(timeout, MIN_TIMEOUT_SECONDS)
    if "httpGet" in probe:
        action = probe["httpGet"]
        port = resolve_port(action.get("port"), container)
        if port is None:
            return ProbeResult(False, f"unable to resolve port {action.get('port')!r}")
        host = action.get("host") or pod_ip
        path = action.get("path") or "/"
        url = f"http://{host}:{port}{path}"
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            headers = {h["name"]: h["value"] for h in action.get("httpHeaders") or []}
            conn.request("GET", path, headers={"User-Agent": "kube-probe/1.35", **headers})
            status = conn.getresponse().status
        except ConnectionRefusedError:
            return ProbeResult(False, f'Get "{url}": dial tcp {host}:{port}: connect: connection refused')
        except TimeoutError:
            return ProbeResult(
                False,
                f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
            )
        except OSError as exc:
            return ProbeResult(False, f'Get "{url}": {exc}')
        finally:
            conn.close()
        if 200 <= status < 400:
            return ProbeResult(True)
        return ProbeResult(False, f"HTTP probe failed with statuscode: {status}")
    if "tcpSocket" in probe:
        port = resolve_port(probe["tcpSocket"].get("port"), container)
        try:
            with socket.create_connection(
                (probe["tcpSocket"].get("host") or pod_ip, port or 0), timeout=timeout
            ):
                return ProbeResult(True)
        except OSError:
            return ProbeResult(False, f"dial tcp {pod_ip}:{port}: connect: connection refused")
    # exec and grpc probes: the simulated container has no shell to run them in; they pass.
    return ProbeResult(True)
