"""The Scheduler controller against a real Registry and Store: binding, conditions, events, retries."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store, WindowExpired
from sandbox.controllers.events import record_event
from sandbox.scheduler.scheduler import Scheduler

PODS, NODES, EVENTS, NAMESPACES = (by_kind("", k) for k in ("Pod", "Node", "Event", "Namespace"))
CLIENT = WriteOptions(manager="kubectl-client-side-apply")
GPU = "nvidia.com/gpu"
NO_GPU_LEFT = (
    "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. no new claims to deallocate, "
    "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
)


class Harness:
    """A registry, the scheduler, and a pump that feeds it the store's events as its thread would."""

    def __init__(self, tmp_path) -> None:
        self.store = Store(tmp_path / "store.sqlite")
        self.registry = Registry(self.store)
        self.registry.create(NAMESPACES, None, {"metadata": {"name": "default"}}, CLIENT)
        self.scheduler = Scheduler(self.registry)
        self.rv = self.store.resource_version

    def pump(self) -> None:
        """Deliver every event not yet seen, including those the scheduler's own writes cause."""
        while True:
            try:
                events = self.store.events_after(self.rv)
            except WindowExpired:  # pragma: no cover - the window is large
                raise
            if not events:
                return
            for event in events:
                self.rv = event.rv
                if event.resource in self.scheduler.resources:
                    self.scheduler.on_event(event, json.loads(event.body))

    def add_node(self, name: str, gpus: int = 1, cpu: str = "8") -> dict:
        allocatable = {"cpu": cpu, "memory": "32Gi", "pods": "110"}
        if gpus:
            allocatable[GPU] = str(gpus)
        node = {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": "True"}]},
        }
        return self.registry.create(NODES, None, node, CLIENT)

    def add_pod(self, name: str, gpus: int = 1, **spec) -> dict:
        resources = {"limits": {GPU: gpus}} if gpus else {}
        body = {
            "metadata": {"name": name},
            "spec": {
                "containers": [{"name": "main", "image": "vllm/vllm-openai:v0.14.0", "resources": resources}]
            }
            | spec,
        }
        return self.registry.create(PODS, "default", body, CLIENT)

    def pod(self, name: str) -> dict:
        return self.store.get("pods", "default", name)

    def events(self, reason: str | None = None) -> list[dict]:
        found = self.store.list("events", "default")[0]
        return [e for e in found if reason is None or e["reason"] == reason]


def scheduled_condition(pod: dict) -> dict:
    return next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")


@pytest.fixture
def cluster(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.store.close()


def test_binds_a_pod_sets_the_condition_and_records_scheduled(cluster):
    cluster.add_node("gpu-1")
    cluster.add_pod("tts")
    cluster.pump()
    pod = cluster.pod("tts")
    assert pod["spec"]["nodeName"] == "gpu-1"
    condition = scheduled_condition(pod)
    assert condition["status"] == "True" and condition["lastProbeTime"] is None
    assert condition["lastTransitionTime"]
    [event] = cluster.events("Scheduled")
    assert event["message"] == "Successfully assigned default/tts to gpu-1"
    assert event["type"] == "Normal"
    assert event["source"] == {"component": "default-scheduler"}
    assert event["reportingComponent"] == "default-scheduler"
    assert event["count"] == 1 and event["firstTimestamp"] == event["lastTimestamp"]
    assert (
        event["involvedObject"]["kind"] == "Pod" and event["involvedObject"]["uid"] == pod["metadata"]["uid"]
    )
    assert event["metadata"]["name"].startswith("tts.")
    int(event["metadata"]["name"].split(".", 1)[1], 16)  # <pod>.<hex>
    managers = {entry["manager"] for entry in pod["metadata"]["managedFields"]}
    assert "default-scheduler" in managers


def test_unschedulable_pod_gets_condition_and_one_deduplicated_warning(cluster):
    cluster.add_node("gpu-1")
    cluster.add_pod("first")
    cluster.add_pod("second")
    cluster.pump()
    pod = cluster.pod("second")
    assert "nodeName" not in pod["spec"]
    condition = scheduled_condition(pod)
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False",
        "Unschedulable",
        NO_GPU_LEFT,
    )
    [warning] = cluster.events("FailedScheduling")
    assert warning["type"] == "Warning" and warning["message"] == NO_GPU_LEFT and warning["count"] == 1
    assert warning["involvedObject"]["name"] == "second"

    # A node change that cannot help (a label) still retries, as the scheduler does: same message,
    # so the same event is bumped rather than a new one made.
    node = cluster.store.get("nodes", "", "gpu-1")
    node["metadata"]["labels"]["team"] = "ml"
    cluster.registry.update(NODES, None, "gpu-1", node, CLIENT)
    cluster.pump()
    [warning] = cluster.events("FailedScheduling")
    assert warning["count"] == 2
    assert scheduled_condition(cluster.pod("second"))["lastTransitionTime"] == condition["lastTransitionTime"]


def test_own_status_writes_and_heartbeats_do_not_cause_retries(cluster):
    cluster.add_node("gpu-1", gpus=0)
    cluster.add_pod("waiting")
    cluster.pump()
    node = cluster.store.get("nodes", "", "gpu-1")
    node["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:00Z"
    cluster.registry.update(NODES, None, "gpu-1", node, CLIENT, subresource="status")
    cluster.pump()
    [warning] = cluster.events("FailedScheduling")
    assert warning["count"] == 1


def test_deleting_a_pod_frees_its_gpu_for_the_waiting_one(cluster):
    cluster.add_node("gpu-1")
    cluster.add_pod("old")
    cluster.add_pod("new")
    cluster.pump()
    assert "nodeName" not in cluster.pod("new")["spec"]
    cluster.registry.delete(PODS, "default", "old")
    cluster.pump()
    if cluster.pod("old") is not None:
        # Graceful deletion: a terminating pod still holds its GPU until the kubelet confirms.
        assert "nodeName" not in cluster.pod("new")["spec"]
        cluster.store.delete("pods", "default", "old")
        cluster.pump()
    new = cluster.pod("new")
    assert new["spec"]["nodeName"] == "gpu-1"
    assert scheduled_condition(new)["status"] == "True"
    assert [e["involvedObject"]["name"] for e in cluster.events("Scheduled")] == ["new", "old"]


def test_a_finished_pod_frees_its_gpu(cluster):
    cluster.add_node("gpu-1")
    cluster.add_pod("job")
    cluster.add_pod("next")
    cluster.pump()
    job = cluster.pod("job")
    job["status"]["phase"] = "Succeeded"
    cluster.registry.update(PODS, "default", "job", job, CLIENT, subresource="status")
    cluster.pump()
    assert cluster.pod("next")["spec"]["nodeName"] == "gpu-1"


def test_a_new_node_lets_waiting_pods_in_highest_priority_first(cluster):
    cluster.add_pod("low", priority=0)
    cluster.add_pod("high", priority=1000)
    cluster.pump()
    assert cluster.pod("low")["status"]["conditions"][0]["message"] == "no nodes available to schedule pods"
    cluster.add_node("gpu-1")
    cluster.pump()
    assert cluster.pod("high")["spec"]["nodeName"] == "gpu-1"
    assert "nodeName" not in cluster.pod("low")["spec"]


def test_pods_for_other_schedulers_and_gated_pods_are_left_alone(cluster):
    cluster.add_node("gpu-1", gpus=4)
    cluster.add_pod("custom", schedulerName="volcano")
    cluster.add_pod("gated", schedulingGates=[{"name": "example.com/wait"}])
    cluster.pump()
    assert "nodeName" not in cluster.pod("custom")["spec"]
    assert "conditions" not in cluster.pod("custom")["status"]
    gated = cluster.pod("gated")
    assert "nodeName" not in gated["spec"]
    assert scheduled_condition(gated)["reason"] == "SchedulingGated"
    assert cluster.events() == []
    # Removing the gate is a spec change: the pod is scheduled.
    gated["spec"]["schedulingGates"] = []
    cluster.registry.update(PODS, "default", "gated", gated, CLIENT)
    cluster.pump()
    assert cluster.pod("gated")["spec"]["nodeName"] == "gpu-1"


def test_sync_all_schedules_what_was_stored_before_start(cluster):
    cluster.add_node("gpu-1")
    cluster.add_pod("early")
    cluster.scheduler.sync_all()
    assert cluster.pod("early")["spec"]["nodeName"] == "gpu-1"


def test_the_controller_thread_binds_pods(cluster):
    stop = threading.Event()
    cluster.scheduler.start(stop)
    try:
        cluster.add_node("gpu-1")
        cluster.add_pod("threaded")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not cluster.pod("threaded")["spec"].get("nodeName"):
            time.sleep(0.05)
        assert cluster.pod("threaded")["spec"]["nodeName"] == "gpu-1"
    finally:
        stop.set()
        cluster.scheduler._thread.join(timeout=5)


# -- the event recorder ----------------------------------------------------------------------
def test_record_event_deduplicates_and_puts_cluster_scoped_objects_in_default(cluster):
    node = cluster.add_node("gpu-1")
    first = record_event(
        cluster.registry, node, "NodeReady", "Node gpu-1 status is now: NodeReady", "Normal", "kubelet"
    )
    again = record_event(
        cluster.registry, node, "NodeReady", "Node gpu-1 status is now: NodeReady", "Normal", "kubelet"
    )
    assert first["metadata"]["namespace"] == "default"
    assert again["metadata"]["name"] == first["metadata"]["name"] and again["count"] == 2
    other = record_event(
        cluster.registry, node, "NodeNotReady", "Node gpu-1 status is now: NodeNotReady", "Normal", "kubelet"
    )
    assert other["metadata"]["name"] != first["metadata"]["name"] and other["count"] == 1
    assert len(cluster.events()) == 2
    assert first["involvedObject"] == {
        "kind": "Node",
        "name": "gpu-1",
        "uid": node["metadata"]["uid"],
        "apiVersion": "v1",
        "resourceVersion": node["metadata"]["resourceVersion"],
    }


def test_record_event_in_a_missing_namespace_is_dropped(cluster):
    ref = {"kind": "Pod", "namespace": "gone", "name": "x", "uid": "1", "apiVersion": "v1"}
    assert record_event(cluster.registry, ref, "Pulled", "pulled", "Normal", "kubelet") is None


def test_unschedulable_pods_are_retried_every_five_minutes(cluster, monkeypatch):
    cluster.add_pod("waiting")
    cluster.pump()
    cluster.scheduler.tick()
    assert cluster.events("FailedScheduling")[0]["count"] == 1
    later = time.monotonic() + 301
    monkeypatch.setattr("sandbox.scheduler.scheduler.time.monotonic", lambda: later)
    cluster.scheduler.tick()
    assert cluster.events("FailedScheduling")[0]["count"] == 2
