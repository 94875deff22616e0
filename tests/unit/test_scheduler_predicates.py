"""The scheduler's pure placement rules and its failure message, checked against v1.35 wording."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sandbox.scheduler import predicates as p

GPU = "nvidia.com/gpu"
POST = "no new claims to deallocate, preemption: "


# -- builders --------------------------------------------------------------------------------
def node(
    name: str,
    cpu: str = "4",
    memory: str = "16Gi",
    gpus: int = 0,
    labels: dict | None = None,
    taints: list | None = None,
    ready: str = "True",
    unschedulable: bool = False,
    pods: str | None = None,
) -> dict:
    allocatable = {"cpu": cpu, "memory": memory}
    if gpus:
        allocatable[GPU] = str(gpus)
    if pods is not None:
        allocatable["pods"] = pods
    spec: dict = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {"allocatable": allocatable, "conditions": [{"type": "Ready", "status": ready}]},
    }


def pod(
    name: str = "p",
    requests: dict | None = None,
    limits: dict | None = None,
    tolerations: list | None = None,
    priority: int = 0,
    phase: str = "Pending",
    **spec,
) -> dict:
    resources = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": "i", "resources": resources}],
            "tolerations": tolerations or [],
            "priority": priority,
            **spec,
        },
        "status": {"phase": phase},
    }


def affinity(*terms: dict) -> dict:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
GPU_TAINT = {"key": GPU, "value": "present", "effect": "NoSchedule"}
GPU_TOLERATION = {"key": GPU, "operator": "Exists", "effect": "NoSchedule"}


# -- quantities ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Fraction(1, 2)),
        ("2", Fraction(2)),
        ("512Mi", Fraction(512 * 2**20)),
        ("1G", Fraction(10**9)),
        ("16Gi", Fraction(16 * 2**30)),
        ("1Ki", Fraction(1024)),
        ("100k", Fraction(100_000)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("2E", Fraction(2 * 10**18)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("250u", Fraction(1, 4000)),
        (3, Fraction(3)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_parse_quantity(text, value):
    assert p.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["1KB", "abc", "", "1 Gi", "Gi", "1K"])
def test_parse_quantity_rejects_what_kubernetes_rejects(text):
    with pytest.raises(p.QuantityError):
        p.parse_quantity(text)


def test_resource_units_rounds_up_like_milli_value_and_value():
    assert p.resource_units("cpu", "0.1") == 100
    assert p.resource_units("cpu", "1500u") == 2  # 1.5 millicores -> 2
    assert p.resource_units("memory", "1.5") == 2
    assert p.resource_units(GPU, "1") == 1


# -- requests --------------------------------------------------------------------------------
def test_requests_default_to_limits():
    assert p.pod_requests(pod(limits={GPU: 1, "cpu": "2"})) == {GPU: 1, "cpu": 2000}
    assert p.pod_requests(pod(requests={"cpu": "500m"}, limits={"cpu": "2"})) == {"cpu": 500}


def test_requests_sum_containers_and_take_the_init_container_peak():
    spec_pod = pod(requests={"cpu": "1", "memory": "1Gi"})
    spec_pod["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "500m"}}})
    spec_pod["spec"]["initContainers"] = [
        {"name": "big-init", "resources": {"requests": {"cpu": "3", "memory": "512Mi"}}},
        {"name": "small-init", "resources": {"requests": {"cpu": "100m"}}},
    ]
    assert p.pod_requests(spec_pod) == {"cpu": 3000, "memory": 2**30}


def test_sidecars_run_beside_the_containers_and_later_init_containers():
    spec_pod = pod(requests={"cpu": "1"})
    spec_pod["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m"}}},
        {"name": "init", "resources": {"requests": {"cpu": "1500m"}}},
    ]
    # max(1 + 0.2 containers+sidecar, 1.5 + 0.2 init with the sidecar running) = 1.7
    assert p.pod_requests(spec_pod) == {"cpu": 1700}


def test_overhead_and_pod_level_requests():
    spec_pod = pod(requests={"cpu": "1", "memory": "1Gi"}, overhead={"cpu": "250m"})
    spec_pod["spec"]["resources"] = {"requests": {"memory": "4Gi"}}
    assert p.pod_requests(spec_pod) == {"cpu": 1250, "memory": 4 * 2**30}


# -- taints ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("toleration", "taint", "expected"),
    [
        (
            {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"},
            {"key": "k", "value": "v"},
            False,
        ),
        (
            {"key": "k", "operator": "Equal", "value": "v"},
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "k", "value": "v"}, {"key": "k", "value": "w", "effect": "NoSchedule"}, False),
        ({"key": "k", "operator": "Exists"}, {"key": "k", "value": "w", "effect": "NoExecute"}, True),
        ({"operator": "Exists"}, {"key": "anything", "value": "x", "effect": "NoSchedule"}, True),
        (
            {"key": "k", "operator": "Exists", "effect": "NoExecute"},
            {"key": "k", "effect": "NoSchedule"},
            False,
        ),
        ({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoSchedule"}, False),
    ],
)
def test_tolerates(toleration, taint, expected):
    assert p.tolerates(toleration, taint) is expected


def test_untolerated_taint_blocks_but_prefer_no_schedule_does_not():
    soft = node("n", taints=[{"key": "soft", "effect": "PreferNoSchedule"}])
    assert p.filter_node(pod(), soft, []) is None
    hard = node("n", taints=[{"key": "hard", "value": "x", "effect": "NoExecute"}])
    assert p.filter_node(pod(), hard, []) == p.NodeStatus(("node(s) had untolerated taint(s)",))
    tolerant = pod(tolerations=[{"key": "hard", "operator": "Exists"}])
    assert p.filter_node(tolerant, hard, []) is None


def test_gpu_taint_and_chart_toleration():
    gpu_node = node("g", gpus=1, taints=[GPU_TAINT])
    assert p.filter_node(pod(limits={GPU: 1}), gpu_node, []).reasons == ("node(s) had untolerated taint(s)",)
    assert p.filter_node(pod(limits={GPU: 1}, tolerations=[GPU_TOLERATION]), gpu_node, []) is None


def test_cordoned_node_is_unschedulable_unless_tolerated():
    cordoned = node("n", unschedulable=True)
    assert p.filter_node(pod(), cordoned, []).reasons == ("node(s) were unschedulable",)
    daemon_like = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert p.filter_node(daemon_like, cordoned, []) is None
    assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"} in p.effective_taints(cordoned)


@pytest.mark.parametrize(
    ("ready", "taint_key"),
    [("False", "node.kubernetes.io/not-ready"), ("Unknown", "node.kubernetes.io/unreachable")],
)
def test_not_ready_node_gets_the_lifecycle_taint(ready, taint_key):
    sick = node("n", ready=ready)
    assert {"key": taint_key, "effect": "NoSchedule"} in p.effective_taints(sick)
    # The default NoExecute tolerations added to every pod do not cover NoSchedule.
    default_tolerations = [
        {"key": taint_key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
    ]
    assert p.filter_node(pod(tolerations=default_tolerations), sick, []).reasons == (p.REASON_TAINT,)


# -- node affinity ---------------------------------------------------------------------------
GPU16 = node("g16", labels={"memorysize": "16GB", "cores": "8"})
GPU24 = node("g24", labels={"memorysize": "24GB", "cores": "16"})


@pytest.mark.parametrize(
    ("expression", "matching"),
    [
        ({"key": "memorysize", "operator": "In", "values": ["16GB"]}, {"g16"}),
        ({"key": "memorysize", "operator": "NotIn", "values": ["16GB"]}, {"g24"}),
        ({"key": "missing", "operator": "NotIn", "values": ["x"]}, {"g16", "g24"}),
        ({"key": "memorysize", "operator": "Exists"}, {"g16", "g24"}),
        ({"key": "memorysize", "operator": "DoesNotExist"}, set()),
        ({"key": "cores", "operator": "Gt", "values": ["8"]}, {"g24"}),
        ({"key": "cores", "operator": "Lt", "values": ["16"]}, {"g16"}),
        ({"key": "memorysize", "operator": "Gt", "values": ["8"]}, set()),  # not an integer label
    ],
)
def test_match_expression_operators(expression, matching):
    wanted = pod(affinity=affinity({"matchExpressions": [expression]}))
    assert {
        n["metadata"]["name"] for n in (GPU16, GPU24) if p.node_matches_pod_affinity(wanted, n)
    } == matching


def test_terms_are_ored_and_expressions_anded():
    both = {
        "matchExpressions": [
            {"key": "memorysize", "operator": "In", "values": ["16GB", "24GB"]},
            {"key": "cores", "operator": "Gt", "values": ["10"]},
        ]
    }
    assert not p.node_matches_pod_affinity(pod(affinity=affinity(both)), GPU16)
    either = affinity(
        {"matchExpressions": [{"key": "memorysize", "operator": "In", "values": ["16GB"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["g24"]}]},
    )
    assert p.node_matches_pod_affinity(pod(affinity=either), GPU16)
    assert p.node_matches_pod_affinity(pod(affinity=either), GPU24)
    assert not p.node_matches_pod_affinity(pod(affinity=affinity({})), GPU16)  # an empty term matches nothing


def test_node_selector_must_match_every_label():
    assert p.node_matches_pod_affinity(pod(nodeSelector={"memorysize": "16GB"}), GPU16)
    assert not p.node_matches_pod_affinity(pod(nodeSelector={"memorysize": "16GB", "x": "y"}), GPU16)
    assert p.filter_node(pod(nodeSelector={"memorysize": "80GB"}), GPU16, []).reasons == (p.REASON_AFFINITY,)


# -- resources -------------------------------------------------------------------------------
def test_running_pods_consume_and_terminated_pods_do_not():
    small = node("n", cpu="2", memory="4Gi")
    running = pod("a", requests={"cpu": "1500m"}, phase="Running")
    finished = pod("b", requests={"cpu": "1500m"}, phase="Succeeded")
    wanted = pod(requests={"cpu": "1"})
    status = p.filter_node(wanted, small, [running, finished])
    assert status == p.NodeStatus(("Insufficient cpu",), resolvable=True)
    assert p.filter_node(wanted, small, [finished]) is None


def test_every_insufficient_resource_is_a_reason_and_too_big_is_unresolvable():
    small = node("n", cpu="1", memory="1Gi", pods="1")
    other = pod("a", phase="Running")
    status = p.filter_node(
        pod(requests={"cpu": "2", "memory": "512Mi", "example.com/fpga": "1"}), small, [other]
    )
    assert status.reasons == ("Too many pods", "Insufficient cpu", "Insufficient example.com/fpga")
    assert status.resolvable is False


def test_pod_count_defaults_to_110():
    roomy = node("n")
    assert p.node_allocatable(roomy)["pods"] == 110
    residents = [pod(f"r{i}", phase="Running") for i in range(110)]
    assert p.filter_node(pod(), roomy, residents).reasons == ("Too many pods",)


# -- the whole message -----------------------------------------------------------------------
def test_message_for_the_control_plane_and_cpu_workers():
    nodes = [node("cp", taints=[CONTROL_PLANE_TAINT])] + [node(f"w{i}") for i in range(3)]
    result = p.schedule(pod(limits={GPU: 1}), nodes, {})
    assert not result.scheduled
    assert result.message == (
        "0/4 nodes are available: 1 node(s) had untolerated taint(s), 3 Insufficient nvidia.com/gpu. "
        + POST
        + "0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    )


def test_message_when_gpus_are_taken_by_equal_priority_pods():
    nodes = [node(f"g{i}", gpus=1, taints=[GPU_TAINT], labels={"memorysize": "16GB"}) for i in range(2)]
    nodes.append(node("g24", gpus=1, taints=[GPU_TAINT], labels={"memorysize": "24GB"}))
    nodes.append(node("cpu"))
    holders = {f"g{i}": [pod(f"h{i}", limits={GPU: 1}, phase="Running")] for i in range(2)}
    wanted = pod(
        limits={GPU: 1},
        tolerations=[GPU_TOLERATION],
        affinity=affinity(
            {"matchExpressions": [{"key": "memorysize", "operator": "In", "values": ["16GB"]}]}
        ),
    )
    result = p.schedule(wanted, nodes, holders)
    assert result.message == (
        "0/4 nodes are available: 2 Insufficient nvidia.com/gpu, "
        "2 node(s) didn't match Pod's node affinity/selector. "
        + POST
        + "0/4 nodes are available: 2 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling."
    )


def test_message_mixes_reasons_one_node_can_give_several():
    nodes = [
        node("a", cpu="1", memory="1Gi"),
        node("b", unschedulable=True),
        node("c", ready="False"),
        node("d", labels={"disk": "hdd"}),
    ]
    wanted = pod(requests={"cpu": "2", "memory": "2Gi"}, nodeSelector={"disk": "ssd"})
    nodes[0]["metadata"]["labels"]["disk"] = "ssd"
    result = p.schedule(wanted, nodes, {})
    assert result.message == (
        "0/4 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
        "1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint(s), "
        "1 node(s) were unschedulable. "
        + POST
        + "0/4 nodes are available: 4 Preemption is not helpful for scheduling."
    )


def test_reasons_sort_as_strings_so_10_comes_before_2():
    nodes = [node(f"w{i:02}", cpu="1") for i in range(10)] + [node("cp1", taints=[CONTROL_PLANE_TAINT])]
    nodes.append(node("cp2", taints=[CONTROL_PLANE_TAINT]))
    result = p.schedule(pod(requests={"cpu": "2"}), nodes, {})
    assert result.message.startswith(
        "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint(s). "
    )


def test_preemption_never_and_a_possible_victim():
    full = node("n", gpus=1)
    holder = {"n": [pod("low", limits={GPU: 1}, phase="Running", priority=0)]}
    never = p.schedule(pod(limits={GPU: 1}, priority=100, preemptionPolicy="Never"), [full], holder)
    assert never.message == (
        "0/1 nodes are available: 1 Insufficient nvidia.com/gpu. "
        "no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."
    )
    # A higher-priority pod could evict the holder: PostFilter succeeds, so no suffix.
    preemptor = p.schedule(pod(limits={GPU: 1}, priority=100), [full], holder)
    assert preemptor.message == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."


def test_no_nodes_and_node_name_affinity():
    assert p.schedule(pod(), [], {}).message == "no nodes available to schedule pods"
    pinned = pod(
        requests={"cpu": "8"},
        affinity=affinity({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}),
    )
    result = p.schedule(pinned, [node("a"), node("b"), node("c")], {})
    assert result.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        + POST
        + "0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    conflicting = pod(
        affinity=affinity(
            {
                "matchFields": [
                    {"key": "metadata.name", "operator": "In", "values": ["a"]},
                    {"key": "metadata.name", "operator": "In", "values": ["b"]},
                ]
            }
        )
    )
    assert p.schedule(conflicting, [node("a"), node("b")], {}).message == (
        "0/2 nodes are available: pod affinity terms conflict. "
        + POST
        + "0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


def test_preset_node_name_skips_scheduling():
    assert p.schedule(pod(nodeName="elsewhere"), [node("a")], {}).node_name == "elsewhere"


# -- choosing among fitting nodes ------------------------------------------------------------
def test_least_allocated_gpu_then_cpu_then_name():
    nodes = [node("b", gpus=2), node("a", gpus=2), node("c", gpus=2, cpu="8")]
    busy = {"a": [pod("x", limits={GPU: 1}, phase="Running")]}
    wanted = pod(limits={GPU: 1, "cpu": "1"})
    # b and c tie on GPU share (1/2, a would be 2/2); c's CPU share is smaller (1/8 < 1/4).
    assert p.schedule(wanted, nodes, busy).node_name == "c"
    assert p.schedule(wanted, nodes[:2], busy).node_name == "b"
    assert p.schedule(wanted, [node("z", gpus=1), node("y", gpus=1)], {}).node_name == "y"
