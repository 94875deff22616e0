"""How each list field of the served kinds merges, as data.

Two consumers read these rows:

* strategic merge patch uses the Go struct tags ``patchStrategy`` / ``patchMergeKey``;
* server-side apply uses the ``+listType`` / ``+listMapKey`` markers (and ``+structType`` /
  ``+mapType=atomic`` for maps that are replaced as a whole).

Source of every row: k8s.io/api and k8s.io/apimachinery (meta/v1) at v1.35 (tag v0.35.0); the Go type
and field are named in the comment. A list not named here is atomic with no merge key, which is
also what Kubernetes does for a list without markers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class ListType:
    kind: str  # "atomic" | "map" | "set"   (for server-side apply)
    keys: tuple[str, ...] = ()  # SSA list-map keys, e.g. ("containerPort", "protocol")
    merge_key: str | None = None  # SMP patchMergeKey; None = SMP replaces the list (but see next)
    smp_merge_primitives: bool = False  # SMP patchStrategy=merge on a list of scalars (finalizers)
    retain_keys: bool = False  # patchStrategy includes retainKeys (for a map field only this flag matters)


ATOMIC = ListType("atomic")
_CONDITIONS = ListType("map", ("type",), "type")  # XxxStatus.Conditions: merge/type, listType=map key type

# Defaults the API declares for list-map key fields (+default=...); SSA keys an item that omits the
# field with this value. ContainerPort.Protocol and ServicePort.Protocol: +default="TCP".
LIST_MAP_KEY_DEFAULTS: dict[str, object] = {"protocol": "TCP"}

# metav1.ObjectMeta, wherever an object (or a template of one) has metadata.
_OBJECT_META: dict[tuple[str, ...], ListType] = {
    ("finalizers",): ListType("set", smp_merge_primitives=True),  # patchStrategy=merge, +listType=set
    ("ownerReferences",): ListType("map", ("uid",), "uid"),  # merge/uid, +listType=map +listMapKey=uid
}

# core/v1 PodSpec.
_POD_SPEC: dict[tuple[str, ...], ListType] = {
    ("volumes",): ListType("map", ("name",), "name", retain_keys=True),  # merge,retainKeys / name
    ("containers",): ListType("map", ("name",), "name"),  # merge/name, map name
    ("initContainers",): ListType("map", ("name",), "name"),  # merge/name, map name
    ("ephemeralContainers",): ListType("map", ("name",), "name"),  # merge/name, map name
    ("imagePullSecrets",): ListType("map", ("name",), "name"),  # merge/name, map name
    ("hostAliases",): ListType("map", ("ip",), "ip"),  # merge/ip, map ip
    ("hostAliases", "hostnames"): ATOMIC,  # HostAlias.Hostnames: +listType=atomic
    ("topologySpreadConstraints",): ListType(
        "map", ("topologyKey", "whenUnsatisfiable"), "topologyKey"
    ),  # merge/topologyKey, +listMapKey=topologyKey +listMapKey=whenUnsatisfiable
    ("schedulingGates",): ListType("map", ("name",), "name"),  # merge/name, map name
    ("resourceClaims",): ListType("map", ("name",), "name", retain_keys=True),  # merge,retainKeys / name
    ("tolerations",): ATOMIC,  # +listType=atomic
    ("readinessGates",): ATOMIC,  # +listType=atomic
}

# core/v1 Container (and EphemeralContainerCommon), relative to one container.
_CONTAINER: dict[tuple[str, ...], ListType] = {
    ("ports",): ListType("map", ("containerPort", "protocol"), "containerPort"),  # merge/containerPort
    ("env",): ListType("map", ("name",), "name"),  # merge/name, map name
    ("volumeMounts",): ListType("map", ("mountPath",), "mountPath"),  # merge/mountPath, map mountPath
    ("volumeDevices",): ListType("map", ("devicePath",), "devicePath"),  # merge/devicePath
    ("resources", "claims"): ListType("map", ("name",)),  # ResourceRequirements.Claims: map name, no SMP tag
    ("command",): ATOMIC,  # +listType=atomic
    ("args",): ATOMIC,  # +listType=atomic
    ("envFrom",): ATOMIC,  # +listType=atomic
    ("resizePolicy",): ATOMIC,  # +listType=atomic
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")

_WORKLOAD_STATUS = {("status", "conditions"): _CONDITIONS}

# Rows that belong to one kind, as full paths from the object root.
_BY_KIND: dict[str, dict[tuple[str, ...], ListType]] = {
    "Pod": {
        ("status", "conditions"): _CONDITIONS,  # PodStatus.Conditions
        ("status", "podIPs"): ListType("map", ("ip",), "ip"),  # merge/ip, map ip
        ("status", "hostIPs"): ListType("atomic", merge_key="ip"),  # merge/ip, +listType=atomic
        ("status", "containerStatuses"): ATOMIC,  # +listType=atomic
        ("status", "initContainerStatuses"): ATOMIC,  # +listType=atomic
    },
    "Service": {
        ("spec", "ports"): ListType("map", ("port", "protocol"), "port"),  # merge/port, keys port+protocol
        ("spec", "clusterIPs"): ATOMIC,  # +listType=atomic
        ("spec", "externalIPs"): ATOMIC,  # +listType=atomic
        ("spec", "ipFamilies"): ATOMIC,  # +listType=atomic
        ("status", "conditions"): _CONDITIONS,  # ServiceStatus.Conditions
    },
    "ServiceAccount": {
        ("secrets",): ListType("map", ("name",), "name"),  # ServiceAccount.Secrets: merge/name, map name
        ("imagePullSecrets",): ATOMIC,  # ServiceAccount.ImagePullSecrets: +listType=atomic
    },
    "Node": {
        ("spec", "podCIDRs"): ListType("set", smp_merge_primitives=True),  # patchStrategy=merge, set
        ("spec", "taints"): ATOMIC,  # +listType=atomic
        ("status", "conditions"): _CONDITIONS,  # NodeStatus.Conditions
        ("status", "addresses"): ListType("map", ("type",), "type"),  # merge/type, map type
    },
    "Namespace": {
        ("spec", "finalizers"): ATOMIC,  # NamespaceSpec.Finalizers: +listType=atomic
        ("status", "conditions"): _CONDITIONS,  # NamespaceStatus.Conditions
    },
    "PersistentVolumeClaim": {
        ("spec", "accessModes"): ATOMIC,  # +listType=atomic
        ("status", "conditions"): _CONDITIONS,  # PersistentVolumeClaimStatus.Conditions
    },
    "Endpoints": {("subsets",): ATOMIC},  # Endpoints.Subsets: +listType=atomic
    "Deployment": {
        ("spec", "strategy"): ListType("atomic", retain_keys=True),  # DeploymentSpec.Strategy: retainKeys
        **_WORKLOAD_STATUS,  # DeploymentStatus.Conditions
    },
    "ReplicaSet": dict(_WORKLOAD_STATUS),  # ReplicaSetStatus.Conditions
    "StatefulSet": {
        ("spec", "volumeClaimTemplates"): ATOMIC,  # +listType=atomic
        **_WORKLOAD_STATUS,  # StatefulSetStatus.Conditions
    },
    "DaemonSet": dict(_WORKLOAD_STATUS),  # DaemonSetStatus.Conditions
    "ReplicationController": dict(_WORKLOAD_STATUS),  # ReplicationControllerStatus.Conditions
    "Job": {
        ("status", "conditions"): ListType("atomic", merge_key="type"),  # JobStatus: merge/type, atomic
    },
    "CronJob": {("status", "active"): ATOMIC},  # CronJobStatus.Active: +listType=atomic
    "HorizontalPodAutoscaler": {
        ("spec", "metrics"): ATOMIC,  # +listType=atomic
        ("status", "conditions"): _CONDITIONS,  # HorizontalPodAutoscalerStatus.Conditions
    },
    "PodDisruptionBudget": dict(_WORKLOAD_STATUS),  # PodDisruptionBudgetStatus.Conditions
    "Ingress": {
        ("spec", "rules"): ATOMIC,  # IngressSpec.Rules: +listType=atomic
        ("spec", "tls"): ATOMIC,  # IngressSpec.TLS: +listType=atomic
    },
    "NetworkPolicy": {
        ("spec", "ingress"): ATOMIC,  # +listType=atomic
        ("spec", "egress"): ATOMIC,  # +listType=atomic
        ("spec", "policyTypes"): ATOMIC,  # +listType=atomic
    },
    "EndpointSlice": {("endpoints",): ATOMIC, ("ports",): ATOMIC},  # +listType=atomic
    "Role": {("rules",): ATOMIC},  # Role.Rules: +listType=atomic
    "ClusterRole": {("rules",): ATOMIC},  # ClusterRole.Rules: +listType=atomic
    "RoleBinding": {("subjects",): ATOMIC},  # RoleBinding.Subjects: +listType=atomic
    "ClusterRoleBinding": {("subjects",): ATOMIC},  # ClusterRoleBinding.Subjects: +listType=atomic
}

# Where the PodSpec sits in each kind that embeds one.
_POD_SPEC_AT: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}

# Maps that server-side apply replaces as a whole, relative to the PodSpec / a container.
_POD_SPEC_ATOMIC_MAPS = {
    ("nodeSelector",),  # PodSpec.NodeSelector: +mapType=atomic
    ("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"),  # NodeSelector: atomic
}
_CONTAINER_ATOMIC_MAPS = {
    ("env", "valueFrom", "configMapKeyRef"),  # ConfigMapKeySelector: +structType=atomic
    ("env", "valueFrom", "secretKeyRef"),  # SecretKeySelector: +structType=atomic
    ("env", "valueFrom", "fieldRef"),  # ObjectFieldSelector: +structType=atomic
    ("env", "valueFrom", "resourceFieldRef"),  # ResourceFieldSelector: +structType=atomic
}
_LABEL_SELECTOR = {("spec", "selector")}  # metav1.LabelSelector: +structType=atomic
_ATOMIC_MAPS_BY_KIND: dict[str, set[tuple[str, ...]]] = {
    "Deployment": _LABEL_SELECTOR,
    "ReplicaSet": _LABEL_SELECTOR,
    "StatefulSet": _LABEL_SELECTOR,
    "DaemonSet": _LABEL_SELECTOR,
    "Job": _LABEL_SELECTOR,
    "PodDisruptionBudget": _LABEL_SELECTOR,
    "ReplicationController": {("spec", "selector")},  # ReplicationControllerSpec.Selector: +mapType=atomic
    "Service": {("spec", "selector")},  # ServiceSpec.Selector: +mapType=atomic
    "NetworkPolicy": {("spec", "podSelector")},  # LabelSelector
}


def list_type(kind: str, path: tuple[str, ...]) -> ListType:
    """Merge semantics of the list at ``path`` (field names from the root, list indices omitted)."""
    return _list_rules(kind).get(tuple(path), ATOMIC)


def map_is_atomic(kind: str, path: tuple[str, ...]) -> bool:
    """True when server-side apply treats the map at ``path`` as one value (``+structType=atomic``)."""
    return tuple(path) in _atomic_map_rules(kind)


def _metadata_roots(kind: str) -> list[tuple[str, ...]]:
    """Paths of every embedded object (the object itself, its pod template, a CronJob's job template)."""
    roots: list[tuple[str, ...]] = [()]
    pod_spec = _POD_SPEC_AT.get(kind)
    if pod_spec is not None and len(pod_spec) > 1:
        roots.append(pod_spec[:-1])
    if kind == "CronJob":
        roots.append(("spec", "jobTemplate"))
    return roots


def _container_paths(pod_spec: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [(*pod_spec, containers) for containers in _CONTAINER_LISTS]


@cache
def _list_rules(kind: str) -> dict[tuple[str, ...], ListType]:
    rules: dict[tuple[str, ...], ListType] = {}
    for root in _metadata_roots(kind):
        rules.update({(*root, "metadata", *rel): lt for rel, lt in _OBJECT_META.items()})
    pod_spec = _POD_SPEC_AT.get(kind)
    if pod_spec is not None:
        rules.update({pod_spec + rel: lt for rel, lt in _POD_SPEC.items()})
        for container in _container_paths(pod_spec):
            rules.update({container + rel: lt for rel, lt in _CONTAINER.items()})
    rules.update(_BY_KIND.get(kind, {}))
    return rules


@cache
def _atomic_map_rules(kind: str) -> frozenset[tuple[str, ...]]:
    paths = set(_ATOMIC_MAPS_BY_KIND.get(kind, ()))
    pod_spec = _POD_SPEC_AT.get(kind)
    if pod_spec is not None:
        paths.update(pod_spec + rel for rel in _POD_SPEC_ATOMIC_MAPS)
        for container in _container_paths(pod_spec):
            paths.update(container + rel for rel in _CONTAINER_ATOMIC_MAPS)
    if kind == "CronJob":
        paths.add(("spec", "jobTemplate", "spec", "selector"))  # JobSpec.Selector: LabelSelector
    return frozenset(paths)
