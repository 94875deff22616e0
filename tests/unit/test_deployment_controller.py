"""Deployment controller (with the ReplicaSet controller) against a real registry and store.

The kubelet is simulated by writing pod status (Running, Ready) through the status
subresource; controllers are driven synchronously until a pass writes nothing.
"""

from __future__ import annotations

import copy
import json

import pytest

from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store
from sandbox.controllers.deployment import (
    DeploymentController,
    fenceposts,
    pod_template_hash,
    scaled_value,
)
from sandbox.controllers.garbage_collector import GarbageCollector
from sandbox.controllers.replicaset import ReplicaSetController

NAMESPACES = by_kind("", "Namespace")
PODS = by_kind("", "Pod")
EVENTS = by_kind("", "Event")
DEPLOYMENTS = by_kind("apps", "Deployment")
REPLICA_SETS = by_kind("apps", "ReplicaSet")
OPTS = WriteOptions(manager="test")
REVISION = "deployment.kubernetes.io/revision"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Cluster:
    """A registry with both controllers and a kubelet stand-in."""

    def __init__(self, tmp_path, time_scale: float = 1.0) -> None:
        self.registry = Registry(Store(tmp_path / "db"))
        self.registry.create(NAMESPACES, None, {"metadata": {"name": "default"}}, WriteOptions())
        self.clock = FakeClock()
        self.deployments = DeploymentController(self.registry, clock=self.clock, time_scale=time_scale)
        self.replica_sets = ReplicaSetController(self.registry, time_scale=time_scale)

    @property
    def rv(self) -> int:
        return self.registry.store.resource_version

    def settle(self, passes: int = 50) -> None:
        for _ in range(passes):
            before = self.rv
            self.deployments.reconcile_all()
            self.replica_sets.reconcile_all()
            if self.rv == before:
                return
        raise AssertionError("the controllers did not settle")

    def deployment(self, name: str = "web") -> dict:
        return self.registry.get(DEPLOYMENTS, "default", name)

    def replica_sets_of(self, name: str = "web") -> dict[str, dict]:
        uid = self.deployment(name)["metadata"]["uid"]
        return {
            rs["metadata"]["name"]: rs
            for rs in self.registry.list(REPLICA_SETS, "default")[0]
            if any(ref["uid"] == uid for ref in rs["metadata"].get("ownerReferences") or [])
        }

    def pods(self) -> list[dict]:
        return [
            p for p in self.registry.list(PODS, "default")[0] if not p["metadata"].get("deletionTimestamp")
        ]

    def ready_pods(self) -> list[dict]:
        return [p for p in self.pods() if (p.get("status") or {}).get("phase") == "Running"]

    def start_pod(self, pod: dict) -> None:
        pod = self.registry.get(PODS, "default", pod["metadata"]["name"])
        pod["status"] = {
            **(pod.get("status") or {}),
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z"}],
        }
        self.registry.update(PODS, "default", pod["metadata"]["name"], pod, OPTS, "status")

    def start_all(self) -> None:
        for pod in self.pods():
            if (pod.get("status") or {}).get("phase") != "Running":
                self.start_pod(pod)
        self.settle()

    def apply(self, deployment: dict) -> None:
        try:
            current = self.deployment(deployment["metadata"]["name"])
        except Exception:
            self.registry.create(DEPLOYMENTS, "default", copy.deepcopy(deployment), OPTS)
            return
        updated = copy.deepcopy(deployment)
        updated["metadata"] = {**current["metadata"], **deployment["metadata"]}
        updated["metadata"]["annotations"] = {
            **(current["metadata"].get("annotations") or {}),
            **(deployment["metadata"].get("annotations") or {}),
        }
        self.registry.update(DEPLOYMENTS, "default", current["metadata"]["name"], updated, OPTS)

    def events(self, reason: str) -> list[str]:
        return [e["message"] for e in self.registry.list(EVENTS, None)[0] if e["reason"] == reason]


def deployment(
    image: str = "nginx:1.27",
    replicas: int = 3,
    strategy: dict | None = None,
    name: str = "web",
    **spec_fields,
) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy
            or {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
            **spec_fields,
        },
    }


def condition(d: dict, type_: str) -> dict:
    return next(c for c in d["status"]["conditions"] if c["type"] == type_)


@pytest.fixture
def cluster(tmp_path) -> Cluster:
    return Cluster(tmp_path)


def test_fenceposts_round_surge_up_and_unavailable_down():
    assert scaled_value("25%", 10, round_up=True) == 3
    assert scaled_value("25%", 10, round_up=False) == 2
    assert scaled_value(2, 10, round_up=True) == 2
    zero = deployment(
        replicas=3, strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}
    )
    assert fenceposts(zero) == (0, 1)  # a rollout must be able to move
    default = deployment(
        replicas=3,
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
    )
    assert fenceposts(default) == (1, 0)


def test_pod_template_hash_is_stable_and_safe():
    template = deployment()["spec"]["template"]
    first = pod_template_hash(template)
    assert first == pod_template_hash(copy.deepcopy(template))
    assert 0 < len(first) <= 10 and set(first) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert pod_template_hash(template, 1) != first


def test_create_makes_a_replica_set_pods_and_status(cluster):
    cluster.apply(deployment())
    cluster.settle()

    d = cluster.deployment()
    [(rs_name, rs)] = cluster.replica_sets_of().items()
    template_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs_name == f"web-{template_hash}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": template_hash}
    assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == template_hash
    assert rs["metadata"]["ownerReferences"][0] | {"uid": None} == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "web",
        "uid": None,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    annotations = rs["metadata"]["annotations"]
    assert annotations[REVISION] == "1" and d["metadata"]["annotations"][REVISION] == "1"
    assert annotations["deployment.kubernetes.io/desired-replicas"] == "3"
    assert annotations["deployment.kubernetes.io/max-replicas"] == "4"
    assert all(p["metadata"]["labels"]["pod-template-hash"] == template_hash for p in cluster.pods())
    assert d["status"]["observedGeneration"] == 1
    assert {k: v for k, v in d["status"].items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "unavailableReplicas": 3,
    }
    assert condition(d, "Available")["status"] == "False"
    assert condition(d, "Available")["reason"] == "MinimumReplicasUnavailable"
    progressing = condition(d, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "ReplicaSetUpdated")
    assert progressing["message"] == f'ReplicaSet "{rs_name}" is progressing.'
    assert cluster.events("ScalingReplicaSet") == [f"Scaled up replica set {rs_name} from 0 to 3"]

    cluster.start_all()
    d = cluster.deployment()
    assert {k: v for k, v in d["status"].items() if k != "conditions"} == {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    available = condition(d, "Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert available["message"] == "Deployment has minimum availability."
    progressing = condition(d, "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
    assert progressing["message"] == f'ReplicaSet "{rs_name}" has successfully progressed.'
    assert progressing["lastTransitionTime"] and progressing["lastUpdateTime"]


def test_rolling_update_respects_max_surge_and_max_unavailable(cluster):
    replicas, surge, unavailable = 4, 1, 1
    cluster.apply(deployment(replicas=replicas))
    cluster.settle()
    cluster.start_all()
    [old_name] = cluster.replica_sets_of()

    cluster.apply(deployment(image="nginx:1.28", replicas=replicas))
    cluster.settle()
    assert cluster.deployment()["metadata"]["generation"] == 2
    steps = 0
    while True:
        pods = cluster.pods()
        assert len(pods) <= replicas + surge
        assert len(cluster.ready_pods()) >= replicas - unavailable
        waiting = [p for p in pods if (p.get("status") or {}).get("phase") != "Running"]
        if not waiting:
            break
        cluster.start_pod(waiting[0])  # the kubelet starts one pod at a time
        cluster.settle()
        steps += 1
        assert steps < 20

    d = cluster.deployment()
    rses = cluster.replica_sets_of()
    [new_name] = [n for n in rses if n != old_name]
    assert rses[old_name]["spec"]["replicas"] == 0
    assert rses[new_name]["spec"]["replicas"] == replicas
    assert rses[old_name]["metadata"]["annotations"][REVISION] == "1"
    assert rses[new_name]["metadata"]["annotations"][REVISION] == "2"
    assert d["metadata"]["annotations"][REVISION] == "2"
    assert all(p["spec"]["containers"][0]["image"] == "nginx:1.28" for p in cluster.pods())
    assert d["status"]["updatedReplicas"] == d["status"]["availableReplicas"] == replicas
    assert d["status"]["observedGeneration"] == 2
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    scaling = cluster.events("ScalingReplicaSet")
    assert f"Scaled up replica set {new_name} from 0 to 1" in scaling
    assert f"Scaled down replica set {old_name} from 1 to 0" in scaling


def test_recreate_removes_old_pods_before_creating_new_ones(cluster):
    recreate = {"type": "Recreate"}
    cluster.apply(deployment(replicas=2, strategy=recreate))
    cluster.settle()
    cluster.start_all()
    [old_name] = cluster.replica_sets_of()

    cluster.apply(deployment(image="nginx:1.28", replicas=2, strategy=recreate))
    saw_no_pods = False
    for _ in range(20):
        before = cluster.rv
        for controller in (cluster.deployments, cluster.replica_sets):
            controller.reconcile_all()
            images = {p["spec"]["containers"][0]["image"] for p in cluster.pods()}
            assert len(images) <= 1, "old and new pods never run together"
            saw_no_pods = saw_no_pods or not images
        if cluster.rv == before:
            break
    assert saw_no_pods
    rses = cluster.replica_sets_of()
    [new_name] = [n for n in rses if n != old_name]
    assert rses[old_name]["spec"]["replicas"] == 0
    assert rses[new_name]["spec"]["replicas"] == 2
    assert {p["spec"]["containers"][0]["image"] for p in cluster.pods()} == {"nginx:1.28"}
    cluster.start_all()
    assert condition(cluster.deployment(), "Progressing")["reason"] == "NewReplicaSetAvailable"


def test_progress_deadline_exceeded_uses_the_scaled_clock(tmp_path):
    cluster = Cluster(tmp_path, time_scale=10)  # 60 simulated seconds -> 6 real
    cluster.apply(deployment(progressDeadlineSeconds=60))
    cluster.settle()
    [rs_name] = cluster.replica_sets_of()

    cluster.clock.now += 5
    cluster.deployments.check_deadlines()
    cluster.settle()
    assert condition(cluster.deployment(), "Progressing")["status"] == "True"

    cluster.clock.now += 2
    cluster.deployments.check_deadlines()
    progressing = condition(cluster.deployment(), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert progressing["message"] == f'ReplicaSet "{rs_name}" has timed out progressing.'

    # Stable once timed out; progress afterwards completes the rollout.
    before = cluster.rv
    cluster.settle()
    cluster.deployments.check_deadlines()
    assert cluster.rv == before
    cluster.start_all()
    progressing = condition(cluster.deployment(), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")


def test_rollback_reuses_the_old_replica_set_with_a_new_revision(cluster):
    cluster.apply(deployment(image="nginx:1.27"))
    cluster.settle()
    cluster.start_all()
    [first] = cluster.replica_sets_of()
    cluster.apply(deployment(image="nginx:1.28"))
    cluster.settle()
    cluster.start_all()
    cluster.start_all()

    cluster.apply(deployment(image="nginx:1.27"))  # what `kubectl rollout undo` writes
    cluster.settle()
    for _ in range(10):
        cluster.start_all()
    rses = cluster.replica_sets_of()
    assert len(rses) == 2
    reused = rses[first]["metadata"]["annotations"]
    assert reused[REVISION] == "3"
    assert reused["deployment.kubernetes.io/revision-history"] == "1"
    assert cluster.deployment()["metadata"]["annotations"][REVISION] == "3"
    assert rses[first]["spec"]["replicas"] == 3
    assert [rs["spec"]["replicas"] for name, rs in rses.items() if name != first] == [0]
    assert {p["spec"]["containers"][0]["image"] for p in cluster.pods()} == {"nginx:1.27"}


def test_scaling_resizes_the_current_replica_set(cluster):
    cluster.apply(deployment(replicas=2))
    cluster.settle()
    cluster.start_all()
    [name] = cluster.replica_sets_of()

    cluster.apply(deployment(replicas=5))
    cluster.settle()
    rs = cluster.replica_sets_of()[name]
    assert rs["spec"]["replicas"] == 5
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "5"
    assert len(cluster.pods()) == 5
    assert f"Scaled up replica set {name} from 2 to 5" in cluster.events("ScalingReplicaSet")

    cluster.apply(deployment(replicas=1))
    cluster.settle()
    assert cluster.replica_sets_of()[name]["spec"]["replicas"] == 1
    assert len(cluster.pods()) == 1
    assert len(cluster.replica_sets_of()) == 1  # scaling is not a rollout


def test_scaling_during_a_rollout_is_proportional(cluster):
    cluster.apply(deployment(replicas=4))
    cluster.settle()
    cluster.start_all()
    cluster.apply(deployment(image="nginx:1.28", replicas=4))
    cluster.settle()  # mid-rollout: two active ReplicaSets, new pods not ready
    cluster.apply(deployment(image="nginx:1.28", replicas=8))
    cluster.settle()
    sizes = sorted(rs["spec"]["replicas"] for rs in cluster.replica_sets_of().values())
    assert sum(sizes) <= 8 + 2  # new total within replicas + maxSurge
    assert all(size > 0 for size in sizes)


def test_paused_deployment_does_not_roll_out(cluster):
    cluster.apply(deployment())
    cluster.settle()
    cluster.start_all()
    cluster.apply(deployment(image="nginx:1.28", paused=True))
    cluster.settle()
    assert len(cluster.replica_sets_of()) == 1
    progressing = condition(cluster.deployment(), "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    cluster.apply(deployment(image="nginx:1.28", paused=False))
    cluster.settle()
    assert len(cluster.replica_sets_of()) == 2


def test_revision_history_limit_deletes_the_oldest_empty_replica_sets(cluster):
    cluster.apply(deployment(revisionHistoryLimit=1))
    cluster.settle()
    cluster.start_all()
    for version in ("1.28", "1.29", "1.30"):
        cluster.apply(deployment(image=f"nginx:{version}", revisionHistoryLimit=1))
        for _ in range(10):
            cluster.start_all()
    rses = cluster.replica_sets_of()
    revisions = sorted(int(rs["metadata"]["annotations"][REVISION]) for rs in rses.values())
    assert revisions == [3, 4]


def test_deleting_the_deployment_lets_the_garbage_collector_remove_replica_sets(cluster):
    cluster.apply(deployment())
    cluster.settle()
    start = cluster.rv
    cluster.registry.delete(DEPLOYMENTS, "default", "web")
    collector = GarbageCollector(cluster.registry)
    for event in cluster.registry.store.events_after(start):
        collector.on_event(event, json.loads(event.body))
    assert cluster.registry.list(REPLICA_SETS, "default")[0] == []


def test_no_writes_on_a_stable_cluster(cluster):
    cluster.apply(deployment())
    cluster.settle()
    cluster.start_all()
    cluster.apply(deployment(image="nginx:1.28"))
    for _ in range(10):
        cluster.start_all()
    before = cluster.rv
    cluster.deployments.reconcile_all()
    cluster.replica_sets.reconcile_all()
    cluster.deployments.check_deadlines()
    cluster.replica_sets.check_availability()
    assert cluster.rv == before
