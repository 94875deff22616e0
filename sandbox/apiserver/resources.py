"""The kinds the sandbox API server serves, as data.

Each row mirrors what a real kube-apiserver (v1.35) reports in discovery for that
resource: group, version, kind, plural, namespaced, short names, categories and
subresources. Source: ``kubectl api-resources -o wide`` on a v1.35 cluster and the
k8s.io/api type definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # Fields a user may not change through the main resource (they belong to /status).
    has_status: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_status", "status" in self.subresources)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_version(self) -> str:
        return self.group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_resource(self) -> str:
        """``plural.group`` as Kubernetes error messages print it (``deployments.apps``)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_ALL = ("all",)

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    Resource("", "v1", "Namespace", "namespaces", False, ("ns",), (), ("status", "finalize")),
    Resource("", "v1", "Node", "nodes", False, ("no",), (), ("status", "proxy")),
    Resource(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        _ALL,
        ("status", "log", "proxy", "binding", "eviction", "ephemeralcontainers"),
    ),
    Resource("", "v1", "Service", "services", True, ("svc",), _ALL, ("status", "proxy")),
    Resource("", "v1", "Endpoints", "endpoints", True, ("ep",)),
    Resource("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    Resource("", "v1", "Event", "events", True, ("ev",)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), (), ("status",)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), (), ("status",)),
    Resource(
        "", "v1", "ReplicationController", "replicationcontrollers", True, ("rc",), _ALL, ("status", "scale")
    ),
    Resource("", "v1", "LimitRange", "limitranges", True, ("limits",)),
    Resource("", "v1", "ResourceQuota", "resourcequotas", True, ("quota",), (), ("status",)),
    # apps/v1
    Resource("apps", "v1", "Deployment", "deployments", True, ("deploy",), _ALL, ("status", "scale")),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("rs",), _ALL, ("status", "scale")),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("sts",), _ALL, ("status", "scale")),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), _ALL, ("status",)),
    Resource("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    # batch/v1
    Resource("batch", "v1", "Job", "jobs", True, (), _ALL, ("status",)),
    Resource("batch", "v1", "CronJob", "cronjobs", True, ("cj",), _ALL, ("status",)),
    # autoscaling/v2
    Resource(
        "autoscaling",
        "v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        True,
        ("hpa",),
        _ALL,
        ("status",),
    ),
    # policy/v1
    Resource("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", True, ("pdb",), (), ("status",)),
    # networking.k8s.io/v1
    Resource("networking.k8s.io", "v1", "Ingress", "ingresses", True, ("ing",), (), ("status",)),
    Resource("networking.k8s.io", "v1", "IngressClass", "ingressclasses", False),
    Resource("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True, ("netpol",)),
    # discovery.k8s.io/v1
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    # coordination.k8s.io/v1
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
    # rbac.authorization.k8s.io/v1
    Resource("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    Resource("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    # storage.k8s.io/v1
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, ("sc",)),
    # scheduling.k8s.io/v1
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ("pc",)),
)

_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.group, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> Resource | None:
    """The resource served at ``/apis/<group>/<version>/<plural>`` (core group: ``""``)."""
    return _BY_PATH.get((group, version, plural))


def by_kind(group: str, kind: str) -> Resource | None:
    return _BY_KIND.get((group, kind))


def by_api_version_kind(api_version: str, kind: str) -> Resource | None:
    group, _, version = api_version.rpartition("/")
    res = _BY_KIND.get((group, kind))
    return res if res is not None and res.version == version else None


def group_versions() -> dict[str, list[str]]:
    """Served versions per group, preferred first."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out


def resources_in(group: str, version: str) -> list[Resource]:
    return [r for r in RESOURCES if r.group == group and r.version == version]
