"""The simulated kubelet against a real Registry and Store, running pods on the generic runtime.

Each test starts the Kubelet controller thread on one node ("node-1") at a high time scale, so
pulls, probe periods and restart back-offs take milliseconds; the assertions poll with short
deadlines. Pods get loopback IPs 127.1.x.y and the generic runtime really listens there.
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store
from sandbox.faults import Faults
from sandbox.kubelet import kubelet as kubelet_module
from sandbox.kubelet.kubelet import BACKOFF_INITIAL, BACKOFF_MAX, Kubelet, expand_var_refs, next_backoff
from sandbox.runtimes.base import SimClock

PODS, NODES, NAMESPACES, CONFIG_MAPS, SECRETS = (
    by_kind("", k) for k in ("Pod", "Node", "Namespace", "ConfigMap", "Secret")
)
CLIENT = WriteOptions(manager="kubectl-client-side-apply")
NODE = "node-1"
HOST_IP = "10.0.1.7"
IMAGE = "busybox:1.36"
POD_IP = re.compile(r"127\.1\.\d{1,3}\.\d{1,3}")
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
UNREACHABLE = "node.kubernetes.io/unreachable"


# -- helpers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check, timeout: float = 3.0, what: str = "condition"):
    """Poll ``check`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.003)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def condition(obj: dict, kind: str) -> dict:
    return next(c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind)


def container_status(pod: dict | None) -> dict:
    """The first container's status; before the kubelet wrote one, an empty stand-in."""
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses")
    return statuses[0] if statuses else {"restartCount": -1, "state": {}, "lastState": {}}


def waiting_reason(pod: dict | None) -> str:
    return container_status(pod).get("state", {}).get("waiting", {}).get("reason", "")


def is_ready(pod: dict | None) -> bool:
    conditions = ((pod or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def http_get(url: str) -> tuple[int, bytes]:
    """GET, retried while refused: a container is Running once started, maybe before it listens."""
    deadline = time.monotonic() + 2
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.003)


def connection_refused(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def pod_body(name: str = "web", port: int | None = None, restart_policy: str = "Always", **container) -> dict:
    spec = {"name": "web", "image": IMAGE, **container}
    if port is not None:
        spec["ports"] = [{"name": "http", "containerPort": port}]
    return {
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"nodeName": NODE, "restartPolicy": restart_policy, "containers": [spec]},
    }


class ProbeTarget:
    """A real HTTP server on 127.0.0.1 that probes can be pointed at; its answer can be switched."""

    def __init__(self) -> None:
        self.status = 200
        self.hits = 0
        self.ok_hits = 0  # answered with a 2xx
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status = target.status
                target.hits += 1
                target.ok_hits += status < 300
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Cluster:
    """A registry with one node and the kubelet controller running against it."""

    # A probe floor well under the shipped PROBE_MIN_INTERVAL keeps tests that count probe hits
    # quick; the tests of the floor itself pass the shipped value.
    def __init__(self, tmp_path, time_scale: float = 10000.0, probe_min_interval: float = 0.02) -> None:
        self.store = Store(tmp_path / "store.sqlite")
        self.registry = Registry(self.store)
        self.registry.create(NAMESPACES, None, {"metadata": {"name": "default"}}, CLIENT)
        node = {
            "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE}},
            "spec": {"taints": [dict(GPU_TAINT)]},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": HOST_IP},
                    {"type": "Hostname", "address": NODE},
                ],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }
        self.registry.create(NODES, None, node, CLIENT)
        self.faults = Faults(tmp_path)
        self.kubelet = Kubelet(
            self.registry, tmp_path, self.faults, SimClock(time_scale), probe_min_interval=probe_min_interval
        )
        self.stop = threading.Event()
        self.kubelet.start(self.stop)

    def close(self) -> None:
        self.stop.set()
        for worker in list(self.kubelet.workers.values()):
            worker.stop.set()
        controller = self.kubelet._thread
        deadline = time.monotonic() + 5
        while controller.is_alive() and time.monotonic() < deadline:
            with self.store.changed:  # wake it from its wait for store events
                self.store.changed.notify_all()
            controller.join(0.005)
        for thread in threading.enumerate():
            if thread.name.startswith(("pod-", "ctr-")):
                thread.join(5)
        self.store.close()

    def create(self, body: dict) -> dict:
        return self.registry.create(PODS, "default", body, CLIENT)

    def pod(self, name: str = "web") -> dict | None:
        return self.store.get("pods", "default", name)

    def node(self) -> dict:
        return self.store.get("nodes", "", NODE)

    def events(self, pod: dict, reason: str | None = None) -> list[dict]:
        """The pod's events in the order they were first recorded."""
        found = [
            e
            for e in self.store.list("events", "default")[0]
            if e["involvedObject"].get("uid") == pod["metadata"]["uid"] and reason in (None, e["reason"])
        ]
        return sorted(found, key=lambda e: int(e["metadata"]["name"].rsplit(".", 1)[1], 16))

    def messages(self, pod: dict, reason: str) -> list[str]:
        return [e["message"] for e in self.events(pod, reason)]

    def history(self, name: str = "web", since_rv: int = 0) -> list[dict]:
        """Every stored version of a pod after ``since_rv``, oldest first."""
        import json

        return [
            json.loads(e.body)
            for e in self.store.events_after(since_rv)
            if e.resource == "pods" and e.name == name
        ]

    def running_and_ready(self, name: str = "web") -> dict | None:
        pod = self.pod(name)
        if pod and pod["status"].get("phase") == "Running" and is_ready(pod):
            return pod
        return None


@pytest.fixture
def cluster(tmp_path):
    box = Cluster(tmp_path)
    yield box
    box.close()


@pytest.fixture
def probe_target():
    target = ProbeTarget()
    yield target
    target.close()


# -- pure helpers ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "1"),
        ("x-$(A)-$(B)-y", "x-1-two-y"),
        ("$$(A)", "$(A)"),  # escaped: the reference stays literal
        ("$$$(A)", "$1"),
        ("$$", "$"),
        ("cost: $$5", "cost: $5"),
        ("$(UNKNOWN) and $(A)", "$(UNKNOWN) and 1"),  # unknown references stay as written
        ("$(A", "$(A"),
        ("$A ${A} $", "$A ${A} $"),  # only $(NAME) is a reference
        ("$(EMPTY)|", "|"),
    ],
)
def test_expand_var_refs(text, expected):
    assert expand_var_refs(text, {"A": "1", "B": "two", "EMPTY": ""}) == expected


def test_backoff_sequence_doubles_from_10_to_a_300_second_cap():
    delays, current = [], 0.0
    for _ in range(8):
        current = next_backoff(current)
        delays.append(current)
    assert (BACKOFF_INITIAL, BACKOFF_MAX) == (10.0, 300.0)
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


# -- env -------------------------------------------------------------------------------------
def test_env_from_values_config_maps_secrets_field_refs_and_env_from(cluster, monkeypatch):
    specs = []
    real_runtime_for = kubelet_module.runtime_for

    def recording_runtime_for(image):
        runtime = real_runtime_for(image)
        return SimpleNamespace(create=lambda spec, ctx: specs.append(spec) or runtime.create(spec, ctx))

    monkeypatch.setattr(kubelet_module, "runtime_for", recording_runtime_for)
    cm = {"metadata": {"name": "app-config"}, "data": {"MODE": "prod", "LEVEL": "debug"}}
    cluster.registry.create(CONFIG_MAPS, "default", cm, CLIENT)
    secret = {"metadata": {"name": "app-secret"}, "data": {"TOKEN": b64("s3cr3t"), "PASS": b64("hunter2")}}
    cluster.registry.create(SECRETS, "default", secret, CLIENT)

    def field(path: str) -> dict:
        return {"valueFrom": {"fieldRef": {"fieldPath": path}}}

    env = [
        {"name": "GREETING", "value": "hello"},
        {"name": "MSG", "value": "$(GREETING) world $$(GREETING) $(LATER) $(CM_LEVEL)"},
        {"name": "LEVEL", "value": "override"},  # env wins over envFrom
        {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "MODE"}}},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "app-secret", "key": "TOKEN"}}},
        {
            "name": "OPTIONAL",
            "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "NOPE", "optional": True}},
        },
        {"name": "POD_NAME", **field("metadata.name")},
        {"name": "POD_NAMESPACE", **field("metadata.namespace")},
        {"name": "POD_UID", **field("metadata.uid")},
        {"name": "NODE_NAME", **field("spec.nodeName")},
        {"name": "POD_IP", **field("status.podIP")},
        {"name": "HOST_IP", **field("status.hostIP")},
        {"name": "APP", **field("metadata.labels['app']")},
        {"name": "LATER", "value": "late"},
    ]
    body = pod_body(
        env=env,
        envFrom=[
            {"configMapRef": {"name": "app-config"}, "prefix": "CM_"},
            {"secretRef": {"name": "app-secret"}},
        ],
        command=["sh", "-c", "echo $(GREETING) $$(GREETING)"],
        args=["--mode=$(FROM_CM)", "--ip=$(POD_IP)", "--missing=$(NOPE)"],
    )
    created = cluster.create(body)
    pod = wait_for(cluster.running_and_ready, what="pod running")
    [spec] = specs
    ip = pod["status"]["podIP"]
    assert POD_IP.fullmatch(ip)
    assert spec.env == {
        "CM_MODE": "prod",
        "CM_LEVEL": "debug",
        "TOKEN": "s3cr3t",
        "PASS": "hunter2",
        "GREETING": "hello",
        "MSG": "hello world $(GREETING) $(LATER) debug",
        "LEVEL": "override",
        "FROM_CM": "prod",
        "FROM_SECRET": "s3cr3t",
        "OPTIONAL": "",
        "POD_NAME": "web",
        "POD_NAMESPACE": "default",
        "POD_UID": created["metadata"]["uid"],
        "NODE_NAME": NODE,
        "POD_IP": ip,
        "HOST_IP": HOST_IP,
        "APP": "web",
        "LATER": "late",
    }
    assert spec.command == ("sh", "-c", "echo hello $(GREETING)")
    assert spec.args == ("--mode=prod", f"--ip={ip}", "--missing=$(NOPE)")


def test_missing_config_map_is_create_container_config_error_until_it_exists(cluster):
    ref = {"configMapKeyRef": {"name": "late-config", "key": "K"}}
    pod = cluster.create(pod_body(env=[{"name": "K", "valueFrom": ref}]))

    def config_error() -> dict | None:
        current = cluster.pod()
        return current if waiting_reason(current) == "CreateContainerConfigError" else None

    current = wait_for(config_error, what="CreateContainerConfigError")
    assert container_status(current)["state"]["waiting"]["message"] == 'configmap "late-config" not found'
    assert current["status"]["phase"] == "Pending"
    assert not is_ready(current)
    [failed] = cluster.events(pod, "Failed")
    assert failed["message"] == 'Error: configmap "late-config" not found' and failed["type"] == "Warning"
    assert not cluster.events(pod, "Started")

    # The ConfigMap appears without the key: a different configuration error.
    cluster.registry.create(CONFIG_MAPS, "default", {"metadata": {"name": "late-config"}, "data": {}}, CLIENT)
    wait_for(
        lambda: (
            container_status(cluster.pod())["state"].get("waiting", {}).get("message")
            == "couldn't find key K in ConfigMap default/late-config"
        ),
        what="missing key message",
    )
    # With the key the container starts on a later retry.
    cm = cluster.store.get("configmaps", "default", "late-config")
    cluster.registry.update(CONFIG_MAPS, "default", "late-config", {**cm, "data": {"K": "v"}}, CLIENT)
    wait_for(cluster.running_and_ready, what="pod running once the key exists")
    assert container_status(cluster.pod())["restartCount"] == 0


def test_missing_secret_in_env_from_is_a_config_error_unless_optional(cluster):
    cluster.create(pod_body("strict", envFrom=[{"secretRef": {"name": "absent"}}]))
    cluster.create(pod_body("lenient", envFrom=[{"secretRef": {"name": "absent", "optional": True}}]))
    wait_for(lambda: cluster.running_and_ready("lenient"), what="optional secretRef pod running")
    strict = wait_for(
        lambda: (
            waiting_reason(cluster.pod("strict")) == "CreateContainerConfigError" and cluster.pod("strict")
        ),
        what="config error",
    )
    assert container_status(strict)["state"]["waiting"]["message"] == 'secret "absent" not found'

    secret = {"metadata": {"name": "keyless"}, "data": {"OTHER": b64("x")}}
    cluster.registry.create(SECRETS, "default", secret, CLIENT)
    ref = {"secretKeyRef": {"name": "keyless", "key": "TOKEN"}}
    cluster.create(pod_body("no-key", env=[{"name": "TOKEN", "valueFrom": ref}]))
    wait_for(
        lambda: (
            container_status(cluster.pod("no-key"))["state"].get("waiting", {}).get("message")
            == "couldn't find key TOKEN in Secret default/keyless"
        ),
        what="missing secret key message",
    )


# -- lifecycle -------------------------------------------------------------------------------
def test_bound_pod_runs_ready_with_a_loopback_ip_and_the_kubelet_events(cluster):
    port = free_port()
    probe = {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5}
    created = cluster.create(pod_body(port=port, readinessProbe=probe))
    pod = wait_for(cluster.running_and_ready, what="pod Running and Ready")
    status = pod["status"]
    ip = status["podIP"]
    assert POD_IP.fullmatch(ip) and status["podIPs"] == [{"ip": ip}]
    assert status["hostIP"] == HOST_IP and status["startTime"]
    assert condition(pod, "ContainersReady")["status"] == "True"
    assert condition(pod, "Initialized")["status"] == "True"
    cs = container_status(pod)
    assert cs["name"] == "web" and cs["image"] == IMAGE
    assert cs["ready"] is True and cs["started"] is True and cs["restartCount"] == 0
    assert cs["state"]["running"]["startedAt"].endswith("Z") and cs["lastState"] == {}
    assert cs["containerID"].startswith("containerd://") and cs["imageID"].startswith("busybox@sha256:")
    # The generic runtime really serves on the pod IP.
    assert http_get(f"http://{ip}:{port}/anything") == (200, b"ok")

    events = cluster.events(created)
    assert [e["reason"] for e in events] == ["Pulling", "Pulled", "Created", "Started"]
    assert events[0]["message"] == f'Pulling image "{IMAGE}"'
    assert events[1]["message"].startswith(f'Successfully pulled image "{IMAGE}" in ')
    assert events[2]["message"] == "Created container: web"
    assert events[3]["message"] == "Started container web"
    assert all(e["involvedObject"]["fieldPath"] == "spec.containers{web}" for e in events)
    assert all(e["source"] == {"component": "kubelet"} and e["type"] == "Normal" for e in events)

    log = cluster.kubelet.logs.path("default", created["metadata"]["uid"], "web", 0)
    assert f"[sandbox] {IMAGE}: started" in log.read_text()
    worker, run = cluster.kubelet.container("default", "web", None)
    assert worker.uid == created["metadata"]["uid"] and run.name == "web" and run.running

    # A second pod on the node finds the image present and gets an IP of its own.
    second = cluster.create(pod_body("second"))
    pod2 = wait_for(lambda: cluster.running_and_ready("second"), what="second pod running")
    assert POD_IP.fullmatch(pod2["status"]["podIP"]) and pod2["status"]["podIP"] != ip
    assert cluster.messages(second, "Pulled") == [f'Container image "{IMAGE}" already present on machine']
    assert cluster.events(second, "Pulling") == []


def test_pod_without_a_node_or_on_an_unknown_node_gets_no_worker(cluster):
    unbound = pod_body("unbound")
    del unbound["spec"]["nodeName"]
    cluster.create(unbound)
    elsewhere = pod_body("elsewhere")
    elsewhere["spec"]["nodeName"] = "no-such-node"
    cluster.create(elsewhere)
    cluster.create(pod_body("here"))
    wait_for(lambda: cluster.running_and_ready("here"), what="pod on node-1 running")
    for name in ("unbound", "elsewhere"):
        status = cluster.pod(name).get("status") or {}
        assert "podIP" not in status and "containerStatuses" not in status
    assert len(cluster.kubelet.workers) == 1


def test_failing_readiness_probe_keeps_the_pod_unready_without_restarts(cluster, probe_target):
    probe_target.status = 503
    probe = {
        "httpGet": {"host": "127.0.0.1", "port": probe_target.port, "path": "/ready"},
        "periodSeconds": 1,
    }
    created = cluster.create(pod_body(readinessProbe={**probe, "failureThreshold": 1}))
    wait_for(lambda: len(cluster.messages(created, "Unhealthy")) >= 1, what="Unhealthy event")
    wait_for(lambda: probe_target.hits >= 5, what="repeated readiness probes")
    pod = cluster.pod()
    assert pod["status"]["phase"] == "Running" and not is_ready(pod)
    ready = condition(pod, "Ready")
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [web]"
    assert container_status(pod)["restartCount"] == 0 and container_status(pod)["ready"] is False
    assert cluster.messages(created, "Unhealthy") == [
        "Readiness probe failed: HTTP probe failed with statuscode: 503"
    ]
    assert cluster.events(created, "Killing") == []
    probe_target.status = 200
    wait_for(cluster.running_and_ready, what="ready once the probe passes")


def test_liveness_probe_failure_kills_and_restarts_the_container(cluster, probe_target):
    probe = {
        "httpGet": {"host": "127.0.0.1", "port": probe_target.port, "path": "/healthz"},
        "periodSeconds": 1,
        "failureThreshold": 2,
    }
    created = cluster.create(pod_body(livenessProbe=probe))
    wait_for(cluster.running_and_ready, what="pod running")
    wait_for(lambda: probe_target.hits >= 5, what="passing liveness probes")
    assert container_status(cluster.pod())["restartCount"] == 0  # passing probes kill nothing

    probe_target.status = 500
    pod = wait_for(
        lambda: container_status(cluster.pod())["restartCount"] >= 1 and cluster.pod(), what="a restart"
    )
    terminated = container_status(pod)["lastState"]["terminated"]
    assert terminated["exitCode"] == 137 and terminated["reason"] == "Error"
    assert cluster.messages(created, "Unhealthy") == [
        "Liveness probe failed: HTTP probe failed with statuscode: 500"
    ]
    assert cluster.messages(created, "Killing") == ["Container web failed liveness probe, will be restarted"]
    assert cluster.events(created, "Unhealthy")[0]["count"] >= 2  # failureThreshold failures before the kill

    probe_target.status = 200
    ok = probe_target.ok_hits
    # a few passing probes in a row: any failure still in flight has been counted and reset
    wait_for(lambda: probe_target.ok_hits >= ok + 3, what="passing probes again")
    wait_for(cluster.running_and_ready, what="running again")
    settled = container_status(cluster.pod())["restartCount"]
    ok = probe_target.ok_hits
    wait_for(lambda: probe_target.ok_hits >= ok + 5, what="more passing probes")
    assert container_status(cluster.pod())["restartCount"] == settled


def test_probes_run_at_most_every_probe_min_interval_of_real_time(tmp_path, probe_target):
    # periodSeconds 1 at time scale 10000 is 0.1 ms: without the floor that would be thousands
    # of requests a second; with it, about one every PROBE_MIN_INTERVAL. The liveness and
    # readiness probes ask the same question, so one request answers both.
    cluster = Cluster(tmp_path, probe_min_interval=kubelet_module.PROBE_MIN_INTERVAL)
    try:
        probe = {"httpGet": {"host": "127.0.0.1", "port": probe_target.port}, "periodSeconds": 1}
        cluster.create(pod_body(readinessProbe=probe, livenessProbe={**probe, "periodSeconds": 2}))
        wait_for(cluster.running_and_ready, what="pod ready")
        hits, started = probe_target.hits, time.monotonic()
        time.sleep(4 * kubelet_module.PROBE_MIN_INTERVAL)
        runs = (time.monotonic() - started) / kubelet_module.PROBE_MIN_INTERVAL
        assert 2 <= probe_target.hits - hits <= runs + 1
    finally:
        cluster.close()


def test_a_throttled_probe_still_crosses_its_threshold_at_its_simulated_time(tmp_path, probe_target):
    # failureThreshold 50 at periodSeconds 1 is 50 simulated seconds (5 ms real here): the pod
    # turns unready about when the first failure is seen, not after 50 floors (25 s), and the
    # Unhealthy event counts every failed period.
    cluster = Cluster(tmp_path, probe_min_interval=kubelet_module.PROBE_MIN_INTERVAL)
    try:
        probe = {
            "httpGet": {"host": "127.0.0.1", "port": probe_target.port},
            "periodSeconds": 1,
            "failureThreshold": 50,
        }
        created = cluster.create(pod_body(readinessProbe=probe))
        wait_for(cluster.running_and_ready, what="pod ready")
        probe_target.status = 503
        hits = probe_target.hits
        wait_for(
            lambda: not is_ready(cluster.pod()),
            timeout=kubelet_module.PROBE_MIN_INTERVAL + 1,
            what="pod unready",
        )
        assert probe_target.hits - hits <= 3
        [unhealthy] = cluster.events(created, "Unhealthy")
        assert unhealthy["count"] >= 50
        assert container_status(cluster.pod())["restartCount"] == 0
    finally:
        cluster.close()


def test_failing_startup_probe_kills_and_restarts_and_the_container_never_starts(cluster):
    port = free_port()  # nothing listens there on the pod IP
    probe = {"httpGet": {"path": "/started", "port": port}, "periodSeconds": 1, "failureThreshold": 1}
    created = cluster.create(pod_body(startupProbe=probe, livenessProbe={"httpGet": {"port": port}}))
    pod = wait_for(
        lambda: container_status(cluster.pod())["restartCount"] >= 2 and cluster.pod(), what="restarts"
    )
    cs = container_status(pod)
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert cs["started"] is False and not is_ready(pod)
    ip = pod["status"]["podIP"]
    unhealthy = cluster.messages(created, "Unhealthy")
    assert unhealthy == [
        f'Startup probe failed: Get "http://{ip}:{port}/started": '
        f"dial tcp {ip}:{port}: connect: connection refused"
    ]
    assert cluster.messages(created, "Killing") == ["Container web failed startup probe, will be restarted"]


def test_crash_looping_container_restarts_with_doubling_back_off(tmp_path):
    # Time scale 2000: the 10-minute back-off reset is 0.3 s here, well above how long a
    # crashing container lives, and the whole 10..300 s sequence takes about 0.3 s.
    cluster = Cluster(tmp_path, time_scale=2000)

    def eighth_exit_seen() -> list[dict] | None:
        history = cluster.history("crash", rv)
        return (
            history
            if any(container_status(p)["restartCount"] >= 7 for p in history if in_back_off(p))
            else None
        )

    def in_back_off(pod: dict) -> bool:
        return waiting_reason(pod) == "CrashLoopBackOff"

    try:
        with socket.socket() as holder:  # the container port is taken: the container exits with 1
            holder.bind(("0.0.0.0", 0))
            holder.listen()
            port = holder.getsockname()[1]
            rv = cluster.store.resource_version
            started = time.monotonic()
            created = cluster.create(pod_body("crash", port=port))
            uid = created["metadata"]["uid"]
            history = wait_for(eighth_exit_seen, timeout=5, what="the 8th exit")
            elapsed = time.monotonic() - started
            logs = [cluster.kubelet.logs.path("default", uid, "web", n).read_text() for n in range(8)]
        pod_ref = f"crash_default({uid})"
        backoffs: dict[int, set[str]] = {}
        for version in filter(in_back_off, history):
            cs = container_status(version)
            backoffs.setdefault(cs["restartCount"], set()).add(cs["state"]["waiting"]["message"])
        assert set(range(1, 8)) <= set(backoffs)  # every exit after the first waits
        for restarts, messages in backoffs.items():
            delay = min(10 * 2 ** (restarts - 1), 300)  # 10, 20, 40, 80, 160, 300, 300, ...
            assert messages == {f"back-off {delay}s restarting failed container=web pod={pod_ref}"}
        # The first exit restarts at once, as the kubelet does; later ones wait their back-off.
        assert elapsed >= (10 + 20 + 40 + 80 + 160 + 300) / 2000
        counts = [container_status(p)["restartCount"] for p in history]
        assert counts == sorted(counts) and counts[-1] >= 7
        last = container_status(history[-1])["lastState"]["terminated"]
        assert last["exitCode"] == 1 and last["reason"] == "Error" and last["finishedAt"]
        assert history[-1]["status"]["phase"] == "Running" and not is_ready(history[-1])
        [backoff] = cluster.events(created, "BackOff")
        assert backoff["message"] == f"Back-off restarting failed container web in pod {pod_ref}"
        assert backoff["type"] == "Warning" and backoff["count"] >= 6
        assert len(cluster.events(created, "Created")) == 1  # recorded once, not per restart
        for log in logs:  # one log file per start
            assert f"cannot listen on {history[-1]['status']['podIP']}:{port}" in log
    finally:
        cluster.close()


def test_restart_policy_never_leaves_a_failed_container_failed(cluster):
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cluster.create(pod_body("once", port=port, restart_policy="Never"))
        pod = wait_for(
            lambda: (cluster.pod("once")["status"].get("phase") == "Failed") and cluster.pod("once")
        )
        time.sleep(0.05)  # a restart would come within a tick or two
    pod = cluster.pod("once")
    cs = container_status(pod)
    assert pod["status"]["phase"] == "Failed"
    assert cs["restartCount"] == 0 and cs["state"]["terminated"]["exitCode"] == 1
    assert cs["state"]["terminated"]["reason"] == "Error" and cs["lastState"] == {}


# -- deletion --------------------------------------------------------------------------------
def test_graceful_deletion_marks_the_pod_then_the_kubelet_stops_it_and_removes_it(cluster):
    port = free_port()
    created = cluster.create(pod_body(port=port))
    pod = wait_for(cluster.running_and_ready, what="pod running")
    ip = pod["status"]["podIP"]
    assert http_get(f"http://{ip}:{port}/")[0] == 200

    marked, gone = cluster.registry.delete(PODS, "default", "web")
    assert gone is False
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 30

    wait_for(lambda: cluster.pod() is None, what="pod removed by the kubelet")
    assert cluster.messages(created, "Killing") == ["Stopping container web"]
    assert connection_refused(ip, port)  # the container's listener is closed
    wait_for(lambda: not cluster.kubelet.workers and not cluster.kubelet._ips, what="worker and IP released")


# -- faults ----------------------------------------------------------------------------------
def test_image_pull_failure_fault_then_recovery_when_cleared(cluster):
    cluster.faults.set("image-pull-failure", {"image": IMAGE})
    rv = cluster.store.resource_version
    created = cluster.create(pod_body())
    pod = wait_for(lambda: waiting_reason(cluster.pod()) == "ImagePullBackOff" and cluster.pod())
    assert container_status(pod)["state"]["waiting"]["message"] == f'Back-off pulling image "{IMAGE}"'
    assert pod["status"]["phase"] == "Pending" and not is_ready(pod)
    wait_for(
        lambda: any(e["count"] >= 2 for e in cluster.events(created, "BackOff")), what="repeated back-off"
    )
    reasons = {waiting_reason(p) for p in cluster.history("web", rv)}
    assert {"ErrImagePull", "ImagePullBackOff"} <= reasons
    ref = f"docker.io/library/{IMAGE}"
    assert set(cluster.messages(created, "Failed")) == {
        f'Failed to pull image "{IMAGE}": rpc error: code = NotFound desc = failed to pull and unpack image '
        f'"{ref}": failed to resolve reference "{ref}": not found',
        "Error: ErrImagePull",
    }
    assert cluster.messages(created, "BackOff") == [f'Back-off pulling image "{IMAGE}"']
    assert cluster.events(created, "Started") == []

    cluster.faults.clear("image-pull-failure")
    wait_for(cluster.running_and_ready, what="pod running after the fault is cleared")
    assert cluster.messages(created, "Pulled")[0].startswith(f'Successfully pulled image "{IMAGE}"')


def test_image_pull_failure_of_another_image_does_not_matter(cluster):
    cluster.faults.set("image-pull-failure", {"image": "nginx:1.27"})
    cluster.create(pod_body())
    wait_for(cluster.running_and_ready, what="pod running")


def test_a_pod_in_image_pull_back_off_is_deleted_without_waiting_out_the_back_off(tmp_path):
    cluster = Cluster(tmp_path, time_scale=20)  # pull 0.15 s, first back-off 0.5 s
    try:
        cluster.faults.set("image-pull-failure", {"image": IMAGE})
        cluster.create(pod_body())
        wait_for(lambda: waiting_reason(cluster.pod()) == "ImagePullBackOff", what="ImagePullBackOff")
        _, gone = cluster.registry.delete(PODS, "default", "web")
        assert gone is False
        wait_for(lambda: cluster.pod() is None, timeout=0.35, what="pod removed during its back-off")
    finally:
        cluster.close()


def test_deleting_a_pod_during_a_long_pull_does_not_wait_for_the_pull(tmp_path):
    cluster = Cluster(tmp_path, time_scale=1)  # the pull takes 3 real seconds
    try:
        cluster.create(pod_body())
        wait_for(lambda: cluster.kubelet.workers and cluster.pod()["status"].get("podIP"), what="pulling")
        cluster.registry.delete(PODS, "default", "web")
        wait_for(lambda: cluster.pod() is None, timeout=1, what="pod removed before the pull ends")
    finally:
        cluster.close()


def test_node_not_ready_fault_marks_the_node_and_its_pods_then_recovers(cluster):
    cluster.create(pod_body())
    wait_for(cluster.running_and_ready, what="pod running")
    assert condition(cluster.node(), "Ready")["status"] == "True"

    cluster.faults.set("node-not-ready", {"node": NODE})

    def node_unknown() -> dict | None:
        node = cluster.node()
        return node if condition(node, "Ready")["status"] == "Unknown" else None

    node = wait_for(node_unknown, what="node Ready Unknown")
    ready = condition(node, "Ready")
    assert (
        ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
    )
    taints = node["spec"]["taints"]
    assert GPU_TAINT in taints  # other taints are kept
    [unreachable] = [t for t in taints if t["key"] == UNREACHABLE]
    assert unreachable["effect"] == "NoSchedule" and unreachable["timeAdded"]

    pod = wait_for(lambda: not is_ready(cluster.pod()) and cluster.pod(), what="pod not Ready")
    assert condition(pod, "Ready")["reason"] == "NodeNotReady"
    # The containers keep running: only the pod's readiness reflects the node.
    cs = container_status(pod)
    assert "running" in cs["state"] and cs["restartCount"] == 0
    assert condition(pod, "ContainersReady")["status"] == "True"
    assert pod["status"]["phase"] == "Running"

    cluster.faults.clear("node-not-ready")
    node = wait_for(lambda: condition(cluster.node(), "Ready")["status"] == "True" and cluster.node())
    assert condition(node, "Ready")["reason"] == "KubeletReady"
    assert node["spec"]["taints"] == [GPU_TAINT]
    wait_for(cluster.running_and_ready, what="pod Ready again")
    assert container_status(cluster.pod())["restartCount"] == 0


def test_node_not_ready_fault_for_another_node_changes_nothing(cluster):
    cluster.faults.set("node-not-ready", {"node": "other-node"})
    cluster.create(pod_body())
    wait_for(cluster.running_and_ready, what="pod running")
    cluster.kubelet._heartbeat(force=True)
    node = cluster.node()
    assert condition(node, "Ready")["status"] == "True" and node["spec"]["taints"] == [GPU_TAINT]
