"""What the API server forwards to nodes: ``pods/log`` (from the kubelet's log store) and
``pods/proxy`` / ``services/proxy`` (plain HTTP to the pod IP, as kube-apiserver's proxy).

Service proxy picks a ready endpoint of the Service; none → 503, worded like Kubernetes.
"""

from __future__ import annotations

import datetime as dt
import http.client

from . import errors
from .errors import ApiError
from .streaming import ChunkedStream

PROXY_TIMEOUT = 60.0
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
    "te",
    "trailer",
}


def split_name_port(name: str) -> tuple[str, str]:
    """``[scheme:]name[:port]`` as proxy paths spell it."""
    parts = name.split(":")
    if len(parts) == 3:
        parts = parts[1:]
    return parts[0], parts[1] if len(parts) > 1 else ""


# -- logs ------------------------------------------------------------------------------------
def pod_log(api, req, route) -> None:
    pod = api.registry.get(route.res, route.namespace, route.name)
    containers = [c["name"] for c in pod["spec"].get("containers") or []]
    container = req.q("container") or (containers[0] if len(containers) == 1 else "")
    if not container:
        raise errors.bad_request(
            f"a container name must be specified for pod {route.name}, "
            f"choose one of: [{' '.join(containers)}]"
        )
    if container not in containers:
        raise errors.bad_request(f"container {container} is not valid for pod {route.name}")
    statuses = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    status = statuses.get(container)
    previous = req.flag("previous")
    kubelet = api.kubelet
    found = kubelet.container(route.namespace, route.name, container) if kubelet else None
    if status is None or found is None or found[1] is None:
        raise errors.bad_request(
            f'container "{container}" in pod "{route.name}" is waiting to start: ContainerCreating'
        )
    worker, run = found
    restart = run.restart_count - 1 if previous else run.restart_count
    if previous and restart < 0:
        raise errors.bad_request(
            f'previous terminated container "{container}" in pod "{route.name}" not found'
        )
    if not previous and not run.ever_started:
        reason = (status.get("state") or {}).get("waiting", {}).get("reason", "ContainerCreating")
        raise errors.bad_request(
            f'container "{container}" in pod "{route.name}" is waiting to start: {reason}'
        )
    path = kubelet.logs.path(route.namespace, worker.uid, container, restart)
    tail = _int(req.q("tailLines"), "tailLines")
    since = None
    if req.q("sinceSeconds"):
        since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=_int(req.q("sinceSeconds"), "sinceSeconds"))
    elif req.q("sinceTime"):
        try:
            since = dt.datetime.fromisoformat(req.q("sinceTime").replace("Z", "+00:00"))
        except ValueError:
            raise errors.bad_request(f"invalid sinceTime: {req.q('sinceTime')!r}") from None
    timestamps = req.flag("timestamps")
    lines = kubelet.logs.read(path, tail, since, timestamps, _int(req.q("limitBytes"), "limitBytes"))
    h = req.handler
    if not req.flag("follow") or previous:
        body = "".join(line + "\n" for line in lines).encode()
        return api._send(h, 200, body, "text/plain")
    total = len(kubelet.logs.read(path))
    current_restart = run.restart_count

    def alive() -> bool:
        return run.running and run.restart_count == current_restart and not api.stopping.is_set()

    stream = ChunkedStream(h, "text/plain")
    try:
        if lines:
            stream.write("".join(line + "\n" for line in lines).encode())
        for line in kubelet.logs.follow(path, total, timestamps, alive):
            stream.write((line + "\n").encode())
        stream.close()
    except OSError:
        pass


def _int(text: str, name: str) -> int | None:
    if text in ("", None):
        return None
    try:
        return int(text)
    except ValueError:
        raise errors.bad_request(f"invalid {name}: {text!r}") from None


# -- proxy -----------------------------------------------------------------------------------
def _forward(api, req, ip: str, port: int, rest: list[str]) -> None:
    path = "/" + "/".join(rest)
    query = req.handler.path.partition("?")[2]
    if query:
        path += "?" + query
    headers = {
        k: v for k, v in req.headers.items() if k.lower() not in HOP_HEADERS | {"authorization", "host"}
    }
    conn = http.client.HTTPConnection(ip, port, timeout=PROXY_TIMEOUT)
    try:
        conn.request(req.method, path, body=req.body or None, headers=headers)
        response = conn.getresponse()
        body = response.read()
    except OSError as exc:
        raise ApiError(
            503, f"error trying to reach service: dial tcp {ip}:{port}: {exc}", "ServiceUnavailable"
        ) from None
    finally:
        conn.close()
    h = req.handler
    h.send_response(response.status)
    for key, value in response.getheaders():
        if key.lower() not in HOP_HEADERS | {"content-length"}:
            h.send_header(key, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    if req.method != "HEAD":
        h.wfile.write(body)


def pod_proxy(api, req, route) -> None:
    name, port_text = split_name_port(route.name)
    pod = api.registry.get(route.res, route.namespace, name)
    ip = (pod.get("status") or {}).get("podIP")
    if not ip:
        raise ApiError(503, f'pod "{name}" has no IP address yet', "ServiceUnavailable")
    ports = [p for c in pod["spec"].get("containers") or [] for p in c.get("ports") or []]
    if port_text.isdigit():
        port = int(port_text)
    elif port_text:
        port = next((p["containerPort"] for p in ports if p.get("name") == port_text), None)
        if port is None:
            raise errors.bad_request(f"no such port {port_text!r} on pod {name}")
    elif ports:
        port = ports[0]["containerPort"]
    else:
        port = 80
    _forward(api, req, ip, port, route.rest)


def service_proxy(api, req, route) -> None:
    from sandbox.controllers.endpoints import pod_ready, selected_pods, target_port

    name, port_text = split_name_port(route.name)
    service = api.registry.get(route.res, route.namespace, name)
    ports = (service.get("spec") or {}).get("ports") or []
    if port_text:
        chosen = next(
            (p for p in ports if p.get("name") == port_text or str(p.get("port")) == port_text), None
        )
    else:
        chosen = ports[0] if ports else None
    if chosen is None:
        raise ApiError(503, f'no endpoints available for service "{route.name}"', "ServiceUnavailable")
    for pod in selected_pods(api.store, service):
        port = target_port(chosen, pod)
        if pod_ready(pod) and port:
            return _forward(api, req, pod["status"]["podIP"], port, route.rest)
    raise ApiError(503, f'no endpoints available for service "{route.name}"', "ServiceUnavailable")
