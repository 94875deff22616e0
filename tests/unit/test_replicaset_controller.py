"""ReplicaSet controller against a real registry and store, driven synchronously."""

from __future__ import annotations

import json
import re

import pytest

from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store
from sandbox.controllers.replicaset import (
    ReplicaSetController,
    deletion_rank,
    parse_time,
)

NAMESPACES = by_kind("", "Namespace")
PODS = by_kind("", "Pod")
EVENTS = by_kind("", "Event")
REPLICA_SETS = by_kind("apps", "ReplicaSet")
OPTS = WriteOptions(manager="test")
POD_NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")
READY_SINCE = "2030-01-01T00:00:00Z"


@pytest.fixture
def registry(tmp_path) -> Registry:
    registry = Registry(Store(tmp_path / "db"))
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
    return registry


def replica_set(name: str = "web", replicas: int = 3, min_ready: int = 0, namespace: str = "default") -> dict:
    spec: dict = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name, "tier": "front"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
        },
    }
    if min_ready:
        spec["minReadySeconds"] = min_ready
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def settle(registry: Registry, controller: ReplicaSetController, passes: int = 20) -> None:
    """Reconcile until a pass writes nothing."""
    for _ in range(passes):
        before = registry.store.resource_version
        controller.reconcile_all()
        if registry.store.resource_version == before:
            return
    raise AssertionError("the controller did not settle")


def pods(registry: Registry, namespace: str = "default") -> list[dict]:
    return registry.list(PODS, namespace)[0]


def get_rs(registry: Registry, name: str = "web") -> dict:
    return registry.get(REPLICA_SETS, "default", name)


def make_ready(registry: Registry, pod: dict, since: str = READY_SINCE) -> None:
    """What the kubelet reports for a started pod."""
    current = registry.get(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
    current["status"] = {
        **(current.get("status") or {}),
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": since}],
    }
    registry.update(
        PODS, current["metadata"]["namespace"], current["metadata"]["name"], current, OPTS, "status"
    )


def events(registry: Registry, reason: str) -> list[str]:
    return [e["message"] for e in registry.list(EVENTS, None)[0] if e["reason"] == reason]


def test_creates_pods_from_the_template(registry):
    registry.create(REPLICA_SETS, "default", replica_set(), OPTS)
    controller = ReplicaSetController(registry)
    settle(registry, controller)

    rs = get_rs(registry)
    created = pods(registry)
    assert len(created) == 3
    for pod in created:
        assert POD_NAME.match(pod["metadata"]["name"])
        assert pod["metadata"]["labels"] == {"app": "web", "tier": "front"}
        assert pod["metadata"]["ownerReferences"] == [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert pod["spec"]["containers"][0]["image"] == "nginx:1.27"
    assert rs["status"] == {"replicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 1}
    assert sorted(events(registry, "SuccessfulCreate")) == sorted(
        f"Created pod: {p['metadata']['name']}" for p in created
    )


def test_status_counts_ready_and_available_pods(registry):
    registry.create(REPLICA_SETS, "default", replica_set(), OPTS)
    controller = ReplicaSetController(registry)
    settle(registry, controller)
    for pod in pods(registry)[:2]:
        make_ready(registry, pod)
    settle(registry, controller)
    assert get_rs(registry)["status"] == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "observedGeneration": 1,
    }


def test_available_waits_for_min_ready_seconds_divided_by_the_time_scale(registry):
    registry.create(REPLICA_SETS, "default", replica_set(replicas=2, min_ready=30), OPTS)
    ready_at = parse_time(READY_SINCE)
    now = {"t": ready_at + 1}
    controller = ReplicaSetController(registry, now=lambda: now["t"], time_scale=10)  # 30s -> 3 real
    settle(registry, controller)
    for pod in pods(registry):
        make_ready(registry, pod)
    settle(registry, controller)
    status = get_rs(registry)["status"]
    assert status["readyReplicas"] == 2 and "availableReplicas" not in status

    now["t"] = ready_at + 4
    before = registry.store.resource_version
    controller.check_availability()
    assert registry.store.resource_version == before + 1  # one status write
    assert get_rs(registry)["status"]["availableReplicas"] == 2


def test_scale_down_removes_not_ready_pods_first(registry):
    registry.create(REPLICA_SETS, "default", replica_set(), OPTS)
    controller = ReplicaSetController(registry)
    settle(registry, controller)
    keep = pods(registry)[1]
    make_ready(registry, keep)
    rs = get_rs(registry)
    rs["spec"]["replicas"] = 1
    registry.update(REPLICA_SETS, "default", "web", rs, OPTS)
    settle(registry, controller)

    assert [p["metadata"]["name"] for p in pods(registry)] == [keep["metadata"]["name"]]
    assert len(events(registry, "SuccessfulDelete")) == 2
    assert get_rs(registry)["status"]["readyReplicas"] == 1
    assert get_rs(registry)["status"]["observedGeneration"] == 2


def test_deletion_rank_orders_worst_pods_first():
    def pod(name, created, node="", phase="Running", ready=False, since=READY_SINCE, restarts=0):
        status = {"phase": phase, "containerStatuses": [{"restartCount": restarts}]}
        if ready:
            status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": since}]
        spec = {"nodeName": node} if node else {}
        return {"metadata": {"name": name, "creationTimestamp": created}, "spec": spec, "status": status}

    old, new = "2030-01-01T00:00:00Z", "2030-01-02T00:00:00Z"
    ranked = sorted(
        [
            pod("ready-long", old, "n1", ready=True, since="2030-01-01T00:00:00Z"),
            pod("ready-recent", old, "n1", ready=True, since="2030-01-03T00:00:00Z"),
            pod("running-not-ready", old, "n1"),
            pod("pending", old, "n1", phase="Pending"),
            pod("unscheduled", old, phase="Pending"),
            pod("not-ready-newer", new, "n1"),
            pod("not-ready-restarting", old, "n1", restarts=5),
        ],
        key=deletion_rank,
    )
    assert [p["metadata"]["name"] for p in ranked] == [
        "unscheduled",
        "pending",
        "not-ready-restarting",
        "not-ready-newer",
        "running-not-ready",
        "ready-recent",
        "ready-long",
    ]


def test_terminating_pods_do_not_count(registry):
    registry.create(REPLICA_SETS, "default", replica_set(replicas=2), OPTS)
    controller = ReplicaSetController(registry)
    settle(registry, controller)
    victim = pods(registry)[0]
    victim["metadata"]["finalizers"] = ["example.com/hold"]
    registry.update(PODS, "default", victim["metadata"]["name"], victim, OPTS)
    registry.delete(PODS, "default", victim["metadata"]["name"])  # stays, with a deletionTimestamp
    settle(registry, controller)

    live = [p for p in pods(registry) if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 2 and len(pods(registry)) == 3
    assert get_rs(registry)["status"]["replicas"] == 2


def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(registry):
    orphan = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "stray", "namespace": "default", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }
    registry.create(PODS, "default", orphan, OPTS)
    registry.create(REPLICA_SETS, "default", replica_set(replicas=2), OPTS)
    controller = ReplicaSetController(registry)
    settle(registry, controller)

    uid = get_rs(registry)["metadata"]["uid"]
    adopted = registry.get(PODS, "default", "stray")
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == uid
    assert len(pods(registry)) == 2
    assert get_rs(registry)["status"]["fullyLabeledReplicas"] == 1  # the orphan lacks tier=front

    adopted["metadata"]["labels"] = {"app": "other"}
    registry.update(PODS, "default", "stray", adopted, OPTS)
    settle(registry, controller)
    assert "ownerReferences" not in registry.get(PODS, "default", "stray")["metadata"]
    assert len([p for p in pods(registry) if p["metadata"].get("ownerReferences")]) == 2


def test_create_failures_are_reported_and_cleared(registry):
    registry.create(NAMESPACES, None, {"metadata": {"name": "doomed"}}, WriteOptions())
    registry.create(REPLICA_SETS, "doomed", replica_set(namespace="doomed"), OPTS)
    registry.delete(NAMESPACES, None, "doomed")  # terminating: pod creation is forbidden
    controller = ReplicaSetController(registry)
    settle(registry, controller)

    rs = registry.get(REPLICA_SETS, "doomed", "web")
    [failure] = rs["status"]["conditions"]
    assert failure["type"] == "ReplicaFailure" and failure["reason"] == "FailedCreate"
    assert "forbidden" in failure["message"]
    assert pods(registry, "doomed") == []


def test_no_writes_once_stable(registry):
    registry.create(REPLICA_SETS, "default", replica_set(), OPTS)
    controller = ReplicaSetController(registry)
    settle(registry, controller)
    for pod in pods(registry):
        make_ready(registry, pod)
    settle(registry, controller)
    before = registry.store.resource_version
    controller.reconcile_all()
    controller.check_availability()
    assert registry.store.resource_version == before


def test_on_event_follows_the_event_log(registry):
    controller = ReplicaSetController(registry)
    start = registry.store.resource_version
    registry.create(REPLICA_SETS, "default", replica_set(replicas=2), OPTS)
    seen = start
    for _ in range(20):  # what the controller thread does: handle each new event
        batch = registry.store.events_after(seen)
        if not batch:
            break
        for event in batch:
            seen = event.rv
            if event.resource in controller.resources:
                controller.on_event(event, json.loads(event.body))
    assert len(pods(registry)) == 2
    assert get_rs(registry)["status"]["replicas"] == 2
