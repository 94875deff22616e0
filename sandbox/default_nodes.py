"""The sandbox's default nodes: a GPU cluster shaped like the user's (plain v1 Node manifests).

Where each choice comes from:

- Pools and labels. The user's chart (``examples/HelmChart/custom-chart/values.yaml``) pins
  every model server to GPU nodes by a ``memorysize`` label (16GB, 24GB), ``tts`` to the 16GB
  ones. We add an 80GB pool for larger models; nothing in the chart uses it.
- Counts. Enabled services: embedding, reranker, asr and tts on 16GB (4 GPUs), chat and code
  on 24GB (2 GPUs); each asks ``nvidia.com/gpu: 1``. The 16GB pool has 5 single-GPU nodes:
  the four services plus one spare so that a RollingUpdate of ``local-llm-tts`` can surge a
  new pod before the old one goes (the chart's own ``strategy: Recreate`` does not need it).
  The 24GB pool has exactly 2: the chart disables ``vision`` (24GB) because "显存不够" (not
  enough GPU memory), and enabling it here reproduces that: it stays Pending with
  ``Insufficient nvidia.com/gpu``.
- Taint. GPU nodes carry ``nvidia.com/gpu=present:NoSchedule`` (the taint managed GPU node
  pools use). The chart's global toleration ``{key: nvidia.com/gpu, operator: Exists,
  effect: NoSchedule}`` tolerates it; pods without it stay off GPU nodes.
- Sizes. Real instance types, so capacities are believable: AWS g4dn.2xlarge (1x NVIDIA T4
  16 GB, 8 vCPU, 32 GiB), g5.2xlarge (1x A10G 24 GB, 8 vCPU, 32 GiB), p4de.24xlarge (8x
  A100-SXM4-80GB, 96 vCPU, 1152 GiB) and m5.xlarge (4 vCPU, 16 GiB) for the CPU node.
- GPU labels follow NVIDIA GPU Feature Discovery: ``nvidia.com/gpu.product`` (the NVML product
  name with spaces as dashes: ``Tesla-T4``, ``NVIDIA-A10G``, ``NVIDIA-A100-SXM4-80GB``; preflight
  reads it), ``nvidia.com/gpu.memory`` (MiB, as NVML reports it), ``nvidia.com/gpu.count``.
- Allocatable = capacity minus the kubelet reservations of the EKS node bootstrap: CPU 6% of
  the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of the rest; memory
  255Mi + 11Mi per pod plus the 100Mi hard eviction threshold; ephemeral storage 1Gi plus
  the 10% ``nodefs.available`` eviction threshold. ``pods`` is the kubelet default, 110.
- nodeInfo: kubelet v1.35.2 (the kubectl we ship), containerd 2.1, Ubuntu 24.04, amd64.
  Addresses are 10.0.x.y for display only; nothing connects to them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

KUBELET_VERSION = "v1.35.2"
CONTAINER_RUNTIME = "containerd://2.1.4"
OS_IMAGE = "Ubuntu 24.04.3 LTS"
KERNEL = "6.8.0-87-generic"
MAX_PODS = 110
ROOT_DISK_GIB = 200
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: int
    memory_gib: int
    gpus: int = 0
    gpu_product: str = ""
    gpu_memory_mib: int = 0


@dataclass(frozen=True)
class NodePool:
    prefix: str  # node names are <prefix>-1, <prefix>-2, ...
    count: int
    instance: InstanceType
    subnet: int  # third octet of the display-only InternalIP
    memorysize: str = ""  # the chart's GPU label; empty for CPU nodes


T4_NODE = InstanceType("g4dn.2xlarge", 8, 32, 1, "Tesla-T4", 15360)
A10G_NODE = InstanceType("g5.2xlarge", 8, 32, 1, "NVIDIA-A10G", 23028)
A100_NODE = InstanceType("p4de.24xlarge", 96, 1152, 8, "NVIDIA-A100-SXM4-80GB", 81920)
CPU_NODE = InstanceType("m5.xlarge", 4, 16)

POOLS: tuple[NodePool, ...] = (
    NodePool("cpu", 1, CPU_NODE, 0),
    NodePool("gpu-16gb", 5, T4_NODE, 1, "16GB"),
    NodePool("gpu-24gb", 2, A10G_NODE, 2, "24GB"),
    NodePool("gpu-80gb", 1, A100_NODE, 3, "80GB"),
)


# -- sizing ----------------------------------------------------------------------------------
def reserved_cpu_millicores(cpus: int) -> int:
    """The EKS bootstrap's kube-reserved CPU, in millicores (per-core percentages)."""
    tiers = ((1, 60.0), (1, 10.0), (2, 5.0), (max(cpus - 4, 0), 2.5))  # (cores, millicores each)
    left, reserved = cpus, 0.0
    for cores, per_core in tiers:
        used = min(left, cores)
        reserved += used * per_core
        left -= used
    return int(reserved)


def reserved_memory_mib() -> int:
    return 255 + 11 * MAX_PODS + 100  # kube-reserved + hard eviction threshold


def capacity(instance: InstanceType) -> dict[str, str]:
    resources = {
        "cpu": str(instance.cpus),
        "ephemeral-storage": f"{ROOT_DISK_GIB * 1024 * 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{instance.memory_gib * 1024 * 1024}Ki",
        "pods": str(MAX_PODS),
    }
    if instance.gpus:
        resources["nvidia.com/gpu"] = str(instance.gpus)
    return resources


def allocatable(instance: InstanceType) -> dict[str, str]:
    disk_bytes = ROOT_DISK_GIB * 2**30
    resources = capacity(instance)
    resources["cpu"] = f"{instance.cpus * 1000 - reserved_cpu_millicores(instance.cpus)}m"
    resources["memory"] = f"{instance.memory_gib * 1024 * 1024 - reserved_memory_mib() * 1024}Ki"
    resources["ephemeral-storage"] = str(int((disk_bytes - 2**30) - disk_bytes * 0.1))
    return resources


# -- manifests -------------------------------------------------------------------------------
def _labels(name: str, pool: NodePool) -> dict[str, str]:
    labels = {
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "node.kubernetes.io/instance-type": pool.instance.name,
    }
    if pool.instance.gpus:
        labels |= {
            "memorysize": pool.memorysize,
            "nvidia.com/gpu.present": "true",
            "nvidia.com/gpu.product": pool.instance.gpu_product,
            "nvidia.com/gpu.memory": str(pool.instance.gpu_memory_mib),
            "nvidia.com/gpu.count": str(pool.instance.gpus),
        }
    return labels


def _conditions(now: str) -> list[dict]:
    rows = (
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    )
    return [
        {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }
        for type_, status, reason, message in rows
    ]


def _node_info(name: str) -> dict[str, str]:
    # Stable per node name, so a restarted sandbox shows the same machine.
    machine = uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.sandbox.local")
    return {
        "architecture": "amd64",
        "bootID": str(uuid.uuid5(machine, "boot")),
        "containerRuntimeVersion": CONTAINER_RUNTIME,
        "kernelVersion": KERNEL,
        "kubeProxyVersion": "",  # no longer reported by the kubelet
        "kubeletVersion": KUBELET_VERSION,
        "machineID": machine.hex,
        "operatingSystem": "linux",
        "osImage": OS_IMAGE,
        "systemUUID": str(uuid.uuid5(machine, "system")).upper(),
    }


def node_manifest(name: str, pool: NodePool, index: int, now: str) -> dict:
    spec: dict = {}
    if pool.instance.gpus:
        spec["taints"] = [dict(GPU_TAINT)]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": _labels(name, pool)},
        "spec": spec,
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": f"10.0.{pool.subnet}.{10 + index}"},
                {"type": "Hostname", "address": name},
            ],
            "capacity": capacity(pool.instance),
            "allocatable": allocatable(pool.instance),
            "conditions": _conditions(now),
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": _node_info(name),
        },
    }


def default_nodes(now: str | None = None) -> list[dict]:
    """The default cluster's nodes; ``now`` (RFC 3339) stamps the conditions."""
    now = now or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        node_manifest(f"{pool.prefix}-{index}", pool, index, now)
        for pool in POOLS
        for index in range(1, pool.count + 1)
    ]
