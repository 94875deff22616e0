"""The sandbox process: storage, API server and controllers assembled and served.

``python -m sandbox up`` starts this in the background; it writes ``endpoint.json`` in the
state dir once it is listening, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import threading
from pathlib import Path

from sandbox.apiserver import pki
from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.server import ApiServer, HttpsServer
from sandbox.apiserver.store import Store
from sandbox.controllers.deployment import DeploymentController
from sandbox.controllers.endpoints import EndpointsController
from sandbox.controllers.garbage_collector import GarbageCollector
from sandbox.controllers.namespaces import NamespaceController
from sandbox.controllers.replicaset import ReplicaSetController
from sandbox.default_nodes import default_nodes
from sandbox.faults import Faults
from sandbox.kubelet.kubelet import Kubelet
from sandbox.kubelet.podnet import acquire_pod_network
from sandbox.nodes import load_nodes
from sandbox.runtimes.base import SimClock
from sandbox.scheduler.scheduler import Scheduler

log = logging.getLogger("sandbox")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
BOOTSTRAP = WriteOptions(manager="kube-apiserver")


def write_json_atomic(path: Path, data: dict, mode: int = 0o600) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def _create_missing(registry: Registry, kind: str, namespace: str | None, obj: dict) -> None:
    res = by_kind("", kind)
    try:
        registry.create(res, namespace, obj, BOOTSTRAP)
    except ApiError as exc:
        if exc.code != 409:
            raise


def bootstrap(registry: Registry, nodes: list[dict]) -> None:
    """Objects every cluster starts with, created once (a restart keeps what is stored)."""
    for name in SYSTEM_NAMESPACES:
        _create_missing(registry, "Namespace", None, {"metadata": {"name": name}})
    _create_missing(
        registry,
        "Service",
        "default",
        {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]},
        },
    )
    for node in nodes:
        _create_missing(registry, "Node", None, node)


def _bind(port_hint: int) -> tuple[str, int]:
    """Reuse the previous port when free, so kubeconfigs handed out before stay valid."""
    if port_hint:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the real listener will
            try:
                probe.bind(("127.0.0.1", port_hint))
                return "127.0.0.1", port_hint
            except OSError:
                pass
    return "127.0.0.1", 0


def serve(state_dir: Path, nodes_file: Path | None = None) -> int:
    logging.basicConfig(
        filename=state_dir / "apiserver.log",
        level=logging.DEBUG if os.environ.get("SANDBOX_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    creds = pki.ensure_credentials(state_dir)
    store = Store(state_dir / "store.sqlite")
    registry = Registry(store)
    if nodes_file is not None:
        nodes = load_nodes(nodes_file)
    elif not store.list("nodes")[0]:
        nodes = default_nodes()  # a new sandbox without --nodes gets the cluster modelled on the user's
    else:
        nodes = []
    bootstrap(registry, nodes)
    config_path = state_dir / "config.json"
    time_scale = (
        float(json.loads(config_path.read_text()).get("timeScale", 1.0)) if config_path.exists() else 1.0
    )
    faults = Faults(state_dir)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(creds.server_cert, creds.server_key)
    context.set_alpn_protocols(["http/1.1"])

    previous = state_dir / "endpoint.json"
    hint = json.loads(previous.read_text()).get("port", 0) if previous.exists() else 0
    api = ApiServer(registry, creds.token, "")
    api.faults = faults
    httpd = HttpsServer(_bind(hint), api, context)
    port = httpd.server_address[1]
    api.server_address = f"127.0.0.1:{port}"

    stop = threading.Event()
    pod_network, _network_lock = acquire_pod_network()  # held (fd open) while this process runs
    kubelet = Kubelet(registry, state_dir, faults, SimClock(time_scale), pod_network)
    api.kubelet = kubelet
    controllers = (
        GarbageCollector(registry),
        NamespaceController(registry, creds.ca_cert.read_text()),
        DeploymentController(registry, time_scale=time_scale),
        ReplicaSetController(registry, time_scale=time_scale),
        EndpointsController(registry),
        Scheduler(registry),
        kubelet,
    )
    for controller in controllers:
        controller.start(stop)

    def shutdown(_signum, _frame) -> None:
        stop.set()
        api.stopping.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    write_json_atomic(previous, {"pid": os.getpid(), "port": port, "server": f"https://127.0.0.1:{port}"})
    log.info(
        "serving on https://127.0.0.1:%d with %d objects, time scale %g, pods on %s.0.0/16",
        port,
        store.count(),
        time_scale,
        pod_network,
    )
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        store.close()
        log.info("stopped")
    return 0
