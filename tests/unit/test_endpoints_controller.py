"""The endpoints controller against a real Registry and Store, and the proxy's name[:port] parsing."""

from __future__ import annotations

import json

import pytest

from sandbox.apiserver.nodeproxy import split_name_port
from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store
from sandbox.controllers.endpoints import EndpointsController, pod_ready, selected_pods, target_port

PODS, SERVICES, NAMESPACES, ENDPOINTS = (by_kind("", k) for k in ("Pod", "Service", "Namespace", "Endpoints"))
SLICES = by_kind("discovery.k8s.io", "EndpointSlice")
CLIENT = WriteOptions(manager="kubectl-client-side-apply")


class Harness:
    """A registry and the controller, fed the store's events as its thread would be."""

    def __init__(self, tmp_path) -> None:
        self.store = Store(tmp_path / "store.sqlite")
        self.registry = Registry(self.store)
        self.registry.create(NAMESPACES, None, {"metadata": {"name": "default"}}, CLIENT)
        self.controller = EndpointsController(self.registry)
        self.rv = self.store.resource_version

    def pump(self) -> None:
        while True:
            events = self.store.events_after(self.rv)
            if not events:
                return
            for event in events:
                self.rv = event.rv
                if event.resource in self.controller.resources:
                    self.controller.on_event(event, json.loads(event.body))

    def service(self, name: str = "web", ports: list | None = None, selector: dict | None = None) -> dict:
        body = {
            "metadata": {"name": name, "labels": {"tier": "front"}},
            "spec": {
                "selector": {"app": "web"} if selector is None else selector,
                "ports": ports or [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        }
        return self.registry.create(SERVICES, "default", body, CLIENT)

    def pod(
        self, name: str, ip: str | None, ready: bool, labels: dict | None = None, port: int = 8000
    ) -> dict:
        status: dict = {"phase": "Running" if ip else "Pending"}
        if ip:
            status["podIP"] = ip
            status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
        body = {
            "metadata": {"name": name, "labels": {"app": "web"} if labels is None else labels},
            "spec": {
                "nodeName": "node-1",
                "containers": [
                    {"name": "c", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": port}]}
                ],
            },
            "status": status,
        }
        return self.registry.create(PODS, "default", body, CLIENT)

    def set_ready(self, name: str, ready: bool) -> None:
        pod = self.store.get("pods", "default", name)
        pod["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
        self.registry.update(PODS, "default", name, pod, CLIENT, "status")

    def endpoints(self, name: str = "web") -> dict | None:
        return self.store.get("endpoints", "default", name)

    def slice(self, name: str = "web") -> dict | None:
        return self.store.get("endpointslices.discovery.k8s.io", "default", f"{name}-sandbox")


@pytest.fixture
def cluster(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


def ips(addresses: list[dict] | None) -> list[str]:
    return sorted(a["ip"] for a in addresses or [])


def test_ready_pods_are_addresses_and_unready_ones_not_ready_addresses(cluster):
    a = cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pod("web-b", "127.1.0.3", ready=False)
    cluster.pod("web-pending", None, ready=False)  # no IP yet: not an endpoint at all
    cluster.pod("other", "127.1.0.9", ready=True, labels={"app": "other"})
    cluster.service()
    cluster.pump()
    endpoints = cluster.endpoints()
    assert endpoints["metadata"]["labels"] == {"tier": "front"}
    [subset] = endpoints["subsets"]
    assert ips(subset["addresses"]) == ["127.1.0.2"]
    assert ips(subset["notReadyAddresses"]) == ["127.1.0.3"]
    assert subset["addresses"][0] == {
        "ip": "127.1.0.2",
        "nodeName": "node-1",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-a", "uid": a["metadata"]["uid"]},
    }
    # the named targetPort "http" is the pods' containerPort
    assert subset["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]


def test_readiness_changes_and_pod_deletion_move_addresses(cluster):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=False)
    cluster.pump()
    [subset] = cluster.endpoints()["subsets"]
    assert "addresses" not in subset and ips(subset["notReadyAddresses"]) == ["127.1.0.2"]

    cluster.set_ready("web-a", True)
    cluster.pump()
    [subset] = cluster.endpoints()["subsets"]
    assert ips(subset["addresses"]) == ["127.1.0.2"] and "notReadyAddresses" not in subset
    assert cluster.slice()["endpoints"][0]["conditions"] == {
        "ready": True,
        "serving": True,
        "terminating": False,
    }

    # A pod marked for deletion stops being an endpoint at once.
    cluster.registry.delete(PODS, "default", "web-a")
    assert cluster.store.get("pods", "default", "web-a")["metadata"]["deletionTimestamp"]
    cluster.pump()
    endpoints = cluster.endpoints()
    assert "subsets" not in endpoints
    assert cluster.slice()["endpoints"] == []


def test_terminal_pods_are_not_endpoints(cluster):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=True)
    for name, phase, ip in (("web-failed", "Failed", "127.1.0.3"), ("web-done", "Succeeded", "127.1.0.4")):
        cluster.pod(name, ip, ready=False)
        pod = cluster.store.get("pods", "default", name)
        pod["status"]["phase"] = phase
        cluster.registry.update(PODS, "default", name, pod, CLIENT, "status")
    cluster.pump()
    [subset] = cluster.endpoints()["subsets"]
    assert ips(subset["addresses"]) == ["127.1.0.2"] and "notReadyAddresses" not in subset
    assert [e["addresses"] for e in cluster.slice()["endpoints"]] == [["127.1.0.2"]]


def test_numeric_and_defaulted_target_ports(cluster):
    ports = [
        {"name": "api", "port": 80, "targetPort": 8080},
        {"name": "metrics", "port": 9100},  # targetPort defaults to port
        {"name": "text", "port": 81, "targetPort": "8181"},
    ]
    cluster.service(ports=ports)
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pump()
    [subset] = cluster.endpoints()["subsets"]
    assert subset["ports"] == [
        {"name": "api", "port": 8080, "protocol": "TCP"},
        {"name": "metrics", "port": 9100, "protocol": "TCP"},
        {"name": "text", "port": 8181, "protocol": "TCP"},
    ]


def test_endpoint_slice_content(cluster):
    service = cluster.service()
    ready = cluster.pod("web-a", "127.1.0.2", ready=True)
    unready = cluster.pod("web-b", "127.1.0.3", ready=False)
    cluster.pump()
    eps = cluster.slice()
    assert eps["addressType"] == "IPv4"
    assert eps["metadata"]["labels"] == {
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert eps["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "name": "web",
            "uid": service["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert eps["ports"] == [{"name": "http", "port": 8000, "protocol": "TCP"}]
    by_ip = {e["addresses"][0]: e for e in eps["endpoints"]}
    assert by_ip["127.1.0.2"] == {
        "addresses": ["127.1.0.2"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": "node-1",
        "targetRef": {
            "kind": "Pod",
            "namespace": "default",
            "name": "web-a",
            "uid": ready["metadata"]["uid"],
        },
    }
    assert by_ip["127.1.0.3"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert by_ip["127.1.0.3"]["targetRef"]["uid"] == unready["metadata"]["uid"]
    assert cluster.registry.get(SLICES, "default", "web-sandbox") == eps


def test_endpoints_are_deleted_with_the_service(cluster):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pump()
    assert cluster.endpoints() is not None
    cluster.registry.delete(SERVICES, "default", "web")
    cluster.pump()
    assert cluster.endpoints() is None
    # the slice is left to the garbage collector, which follows its owner reference
    assert cluster.slice()["metadata"]["ownerReferences"][0]["kind"] == "Service"


def test_unchanged_endpoints_are_not_rewritten(cluster):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pump()
    before = (
        cluster.endpoints()["metadata"]["resourceVersion"],
        cluster.slice()["metadata"]["resourceVersion"],
    )
    cluster.pod("unrelated", "127.1.0.5", ready=True, labels={"app": "other"})
    cluster.pump()
    cluster.controller.sync_all()
    after = (
        cluster.endpoints()["metadata"]["resourceVersion"],
        cluster.slice()["metadata"]["resourceVersion"],
    )
    assert after == before


def test_pod_writes_that_change_no_endpoint_are_not_synced(cluster, monkeypatch):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pump()
    synced = []
    monkeypatch.setattr(
        cluster.controller, "_sync", lambda service: synced.append(service["metadata"]["name"])
    )
    pod = cluster.store.get("pods", "default", "web-a")
    pod["status"]["containerStatuses"] = [{"name": "c", "restartCount": 3}]  # endpoints show none of it
    cluster.registry.update(PODS, "default", "web-a", pod, CLIENT, "status")
    cluster.pump()
    assert synced == []
    cluster.set_ready("web-a", False)
    cluster.pump()
    assert synced == ["web"]


def test_a_pod_relabelled_out_of_a_selector_leaves_its_endpoints(cluster):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pump()
    assert ips(cluster.endpoints()["subsets"][0]["addresses"]) == ["127.1.0.2"]
    pod = cluster.store.get("pods", "default", "web-a")
    pod["metadata"]["labels"] = {"app": "other"}
    cluster.registry.update(PODS, "default", "web-a", pod, CLIENT)
    cluster.pump()
    assert "subsets" not in cluster.endpoints() and cluster.slice()["endpoints"] == []


def test_service_without_selector_gets_no_endpoints(cluster):
    cluster.service(selector={})
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.pump()
    cluster.controller.sync_all()
    assert cluster.endpoints() is None and cluster.slice() is None


def test_sync_all_builds_endpoints_for_existing_services(cluster):
    cluster.service()
    cluster.pod("web-a", "127.1.0.2", ready=True)
    cluster.rv = cluster.store.resource_version  # the events were missed
    cluster.controller.sync_all()
    assert ips(cluster.endpoints()["subsets"][0]["addresses"]) == ["127.1.0.2"]


# -- helpers ---------------------------------------------------------------------------------
def pod_with_ports(*ports: tuple[str, int]) -> dict:
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "ports": [{"name": n, "containerPort": p} for n, p in ports]}]},
    }


@pytest.mark.parametrize(
    ("service_port", "expected"),
    [
        ({"port": 80, "targetPort": 8080}, 8080),
        ({"port": 80, "targetPort": "8080"}, 8080),
        ({"port": 80}, 80),
        ({"port": 80, "targetPort": "http"}, 8000),
        ({"port": 80, "targetPort": "grpc"}, 9000),
        ({"port": 80, "targetPort": "missing"}, None),
    ],
)
def test_target_port(service_port, expected):
    assert target_port(service_port, pod_with_ports(("http", 8000), ("grpc", 9000))) == expected


def test_pod_ready():
    assert pod_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert not pod_ready({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    assert not pod_ready({"status": {"conditions": [{"type": "ContainersReady", "status": "True"}]}})
    assert not pod_ready({})


def test_selected_pods_match_every_selector_label_in_the_service_namespace(cluster):
    cluster.registry.create(NAMESPACES, None, {"metadata": {"name": "other"}}, CLIENT)
    cluster.pod("both", "127.1.0.2", True, labels={"app": "web", "tier": "front"})
    cluster.pod("app-only", "127.1.0.3", True, labels={"app": "web"})
    elsewhere = {
        "metadata": {"name": "both", "labels": {"app": "web", "tier": "front"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        "status": {"podIP": "127.1.0.4"},
    }
    cluster.registry.create(PODS, "other", elsewhere, CLIENT)
    service = cluster.service(selector={"app": "web", "tier": "front"})
    assert [p["metadata"]["name"] for p in selected_pods(cluster.store, service)] == ["both"]
    assert selected_pods(cluster.store, {"metadata": {"namespace": "default"}, "spec": {}}) == []


# -- proxy names -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web", ("web", "")),
        ("web:8006", ("web", "8006")),
        ("web:http", ("web", "http")),
        ("http:web:8006", ("web", "8006")),
        ("https:web:", ("web", "")),
        ("local-llm-tts:8006", ("local-llm-tts", "8006")),
    ],
)
def test_split_name_port(name, expected):
    assert split_name_port(name) == expected
