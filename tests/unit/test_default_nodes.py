"""The default nodes: valid v1 Nodes, and room for the example chart plus a tts rolling-update surge."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from sandbox.apiserver import schema, validation
from sandbox.apiserver.registry import Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store
from sandbox.default_nodes import GPU_TAINT, default_nodes, reserved_cpu_millicores
from sandbox.scheduler import predicates

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "examples" / "HelmChart" / "custom-chart" / "values.yaml"
NODE = by_kind("", "Node")
GPU = "nvidia.com/gpu"


def chart_values() -> dict:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def service_blocks(values: dict) -> dict[str, dict]:
    """The model-server blocks, as the chart's template picks them (a map with model and service)."""
    return {name: block for name, block in values.items() if isinstance(block, dict) and "model" in block}


def chart_pod(name: str, block: dict, values: dict, suffix: str = "0") -> dict:
    """The pod the chart's Deployment template would make for one service (scheduling fields only)."""
    resources = copy.deepcopy(block.get("resources") or {})
    return {
        "metadata": {"name": f"local-llm-{name}-{suffix}", "namespace": "default"},
        "spec": {
            "containers": [{"name": name, "image": "vllm", "resources": resources}],
            "tolerations": copy.deepcopy(values["global"]["tolerations"]),
            "affinity": copy.deepcopy(block.get("affinity") or {}),
        },
        "status": {"phase": "Pending"},
    }


def place_all(pods: list[dict], nodes: list[dict]) -> dict[str, predicates.ScheduleResult]:
    """Schedule one pod after another, each seeing the ones placed before it."""
    pods_by_node: dict[str, list[dict]] = {}
    results = {}
    for pod in pods:
        result = predicates.schedule(pod, nodes, pods_by_node)
        results[pod["metadata"]["name"]] = result
        if result.scheduled:
            placed = copy.deepcopy(pod)
            placed["spec"]["nodeName"] = result.node_name
            placed["status"]["phase"] = "Running"
            pods_by_node.setdefault(result.node_name, []).append(placed)
    return results


# -- manifests -------------------------------------------------------------------------------
@pytest.mark.parametrize("node", default_nodes(), ids=lambda n: n["metadata"]["name"])
def test_every_node_is_a_valid_v1_node(node):
    assert node["apiVersion"] == "v1" and node["kind"] == "Node"
    assert validation.object_causes(NODE, node) == []
    assert schema.unknown_fields(NODE, node) == []
    assert schema.type_errors(NODE, node) == []


def test_the_schema_check_would_notice_a_stray_field():
    broken = copy.deepcopy(default_nodes()[0])
    broken["status"]["gpus"] = 1
    assert schema.unknown_fields(NODE, broken)


def test_the_api_server_accepts_them(tmp_path):
    registry = Registry(Store(tmp_path / "store.sqlite"))
    for node in default_nodes():
        stored = registry.create(NODE, None, copy.deepcopy(node), WriteOptions(manager="test"))
        assert stored["status"]["allocatable"] == node["status"]["allocatable"]
    registry.store.close()


def test_names_pools_and_node_info():
    nodes = default_nodes("2026-01-01T00:00:00Z")
    names = [n["metadata"]["name"] for n in nodes]
    assert len(names) == len(set(names))
    pools = {}
    for node in nodes:
        size = node["metadata"]["labels"].get("memorysize", "cpu")
        pools[size] = pools.get(size, 0) + int(node["status"]["allocatable"].get(GPU, "0"))
    assert pools == {"cpu": 0, "16GB": 5, "24GB": 2, "80GB": 8}
    for node in nodes:
        info = node["status"]["nodeInfo"]
        assert (info["kubeletVersion"], info["architecture"], info["operatingSystem"]) == (
            "v1.35.2",
            "amd64",
            "linux",
        )
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True" and ready["lastHeartbeatTime"] == "2026-01-01T00:00:00Z"
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == node["metadata"]["name"]
        internal = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"]
        assert len(internal) == 1 and internal[0].startswith("10.0.")
    assert default_nodes("x")[0]["status"]["nodeInfo"] == default_nodes("y")[0]["status"]["nodeInfo"]


def test_gpu_nodes_are_tainted_and_labelled_and_the_cpu_node_is_not():
    for node in default_nodes():
        labels = node["metadata"]["labels"]
        if GPU in node["status"]["capacity"]:
            assert node["spec"]["taints"] == [GPU_TAINT]
            assert labels["nvidia.com/gpu.product"] and int(labels["nvidia.com/gpu.memory"]) > 0
            assert labels["nvidia.com/gpu.count"] == node["status"]["capacity"][GPU]
            assert labels["node.kubernetes.io/instance-type"]
        else:
            assert not node["spec"].get("taints") and "memorysize" not in labels


def test_allocatable_is_capacity_minus_reservations():
    assert reserved_cpu_millicores(4) == 80
    assert reserved_cpu_millicores(8) == 90
    for node in default_nodes():
        capacity, allocatable = node["status"]["capacity"], node["status"]["allocatable"]
        for name in ("cpu", "memory", "ephemeral-storage"):
            assert (
                0 < predicates.parse_quantity(allocatable[name]) < predicates.parse_quantity(capacity[name])
            )
        assert allocatable["pods"] == capacity["pods"] == "110"


# -- the example chart -----------------------------------------------------------------------
def test_the_chart_toleration_matches_the_gpu_taint():
    tolerations = chart_values()["global"]["tolerations"]
    assert any(predicates.tolerates(t, GPU_TAINT) for t in tolerations)


def test_every_enabled_service_and_a_tts_surge_pod_fit_at_once():
    values = chart_values()
    blocks = service_blocks(values)
    enabled = {name: block for name, block in blocks.items() if block.get("enabled")}
    assert set(enabled) == {"chat", "embedding", "reranker", "asr", "code", "tts"}
    pods = [chart_pod(name, block, values) for name, block in enabled.items()]
    pods.append(chart_pod("tts", blocks["tts"], values, suffix="surge"))  # RollingUpdate maxSurge 1
    results = place_all(pods, default_nodes())
    assert {name: r.message for name, r in results.items() if not r.scheduled} == {}
    nodes = [r.node_name for r in results.values()]
    assert len(nodes) == len(set(nodes)), "one GPU per node: every pod on its own node"
    by_name = {n["metadata"]["name"]: n for n in default_nodes()}
    for name, result in results.items():
        service = name.split("-")[2]
        wanted = blocks[service]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        size = wanted["nodeSelectorTerms"][0]["matchExpressions"][0]["values"][0]
        assert by_name[result.node_name]["metadata"]["labels"]["memorysize"] == size


def test_enabling_vision_reproduces_the_charts_not_enough_gpu_memory_note():
    values = chart_values()
    blocks = service_blocks(values)
    pods = [chart_pod(name, block, values) for name, block in blocks.items() if block.get("enabled")]
    pods.append(chart_pod("vision", blocks["vision"], values))
    vision = place_all(pods, default_nodes())["local-llm-vision-0"]
    assert not vision.scheduled
    assert vision.message == (
        "0/9 nodes are available: 2 Insufficient nvidia.com/gpu, "
        "7 node(s) didn't match Pod's node affinity/selector. no new claims to deallocate, "
        "preemption: 0/9 nodes are available: 2 No preemption victims found for incoming pod, "
        "7 Preemption is not helpful for scheduling."
    )


def test_a_pod_without_the_gpu_toleration_stays_off_gpu_nodes():
    pod = {"metadata": {"name": "web"}, "spec": {"containers": [{"name": "web"}]}, "status": {}}
    assert predicates.schedule(pod, default_nodes(), {}).node_name == "cpu-1"
