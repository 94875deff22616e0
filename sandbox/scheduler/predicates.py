"""Where can a Pod run? The default kube-scheduler's filters, scoring and failure message (v1.35).

Pure functions over plain dicts: a Pod, the Nodes, and the pods already bound to each node.
What each piece mirrors (semantics learnt from kube-scheduler v1.35, written anew here):

- Filters run per node in the default profile's order and stop at the first failure:
  NodeUnschedulable, TaintToleration, NodeAffinity, NodeResourcesFit. The NodeAffinity
  PreFilter narrows the nodes first when required terms all name nodes (``matchFields``).
- Node conditions act through the taints the node lifecycle controller would add
  (``TaintNodesByCondition``): NotReady -> ``node.kubernetes.io/not-ready:NoSchedule`` etc.
- Requests: per resource, the larger of the containers' sum and the init containers' peak
  (sidecars, i.e. restartable init containers, count with the containers), plus overhead;
  pod-level ``spec.resources.requests`` win for cpu and memory. Limits stand in for missing
  requests, as API defaulting does.
- The failure message is the scheduler's FitError text: ``0/N nodes are available: `` then one
  ``"<count> <reason>"`` per distinct reason, sorted as strings, then the PostFilter plugins'
  messages joined by ", ": DynamicResources' ``no new claims to deallocate`` (DRA is on by
  default since v1.34) and DefaultPreemption's ``preemption: ...`` dry run.
- Since v1.35 (PR #134740, also backported to v1.34) the taint reason no longer names the taint:
  ``node(s) had untolerated taint(s)``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

GPU = "nvidia.com/gpu"
DEFAULT_MAX_PODS = 110  # the kubelet's --max-pods default, used when a node reports no "pods"
TERMINATED_PHASES = ("Succeeded", "Failed")

# -- reasons, word for word as kube-scheduler v1.35 prints them ------------------------------
REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_NOT_IN_PREFILTER = "node(s) didn't satisfy plugin(s) [NodeAffinity]"
REASON_AFFINITY_CONFLICT = "pod affinity terms conflict"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_NO_VICTIMS = "No preemption victims found for incoming pod"
REASON_PREEMPTION_NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_NODES_MESSAGE = "no nodes available to schedule pods"
DRA_POSTFILTER_MESSAGE = "no new claims to deallocate"
PREEMPTION_NEVER_MESSAGE = "not eligible due to preemptionPolicy=Never."

# Conditions the node lifecycle controller turns into NoSchedule taints: (type, status) -> key.
CONDITION_TAINTS: tuple[tuple[str, str, str], ...] = (
    ("Ready", "False", "node.kubernetes.io/not-ready"),
    ("Ready", "Unknown", "node.kubernetes.io/unreachable"),
    ("MemoryPressure", "True", "node.kubernetes.io/memory-pressure"),
    ("DiskPressure", "True", "node.kubernetes.io/disk-pressure"),
    ("PIDPressure", "True", "node.kubernetes.io/pid-pressure"),
    ("NetworkUnavailable", "True", "node.kubernetes.io/network-unavailable"),
)
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")  # PreferNoSchedule only affects scoring


# -- quantities ------------------------------------------------------------------------------
class QuantityError(ValueError):
    pass


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")
_SUFFIX_FACTORS: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}


def parse_quantity(value: str | int | float) -> Fraction:
    """A resource.Quantity ("500m", "16Gi", "1G", "1e3", 2) as an exact number."""
    if isinstance(value, bool):
        raise QuantityError(f"quantities must match the regular expression: {value!r}")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise QuantityError(f"quantities must match the regular expression: {value!r}")
    number, exponent, suffix = match.groups()
    amount = Fraction(number)
    if exponent:
        return amount * Fraction(10) ** int(exponent[1:])
    return amount * _SUFFIX_FACTORS[suffix or ""]


def resource_units(name: str, value: str | int | float) -> int:
    """Integer units the scheduler compares: millicores for cpu, whole units (rounded up) otherwise."""
    amount = parse_quantity(value)
    return math.ceil(amount * 1000) if name == "cpu" else math.ceil(amount)


# -- pod resource requests -------------------------------------------------------------------
def _container_requests(container: dict) -> Counter:
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return Counter({name: resource_units(name, qty) for name, qty in merged.items()})


def _maximum(a: Counter, b: Counter) -> Counter:
    return Counter({name: max(a[name], b[name]) for name in set(a) | set(b)})


def pod_requests(pod: dict) -> dict[str, int]:
    """What the pod asks of a node, per resource (cpu in millicores)."""
    spec = pod.get("spec") or {}
    total = Counter()
    for container in spec.get("containers") or []:
        total.update(_container_requests(container))
    sidecars = Counter()
    init_peak = Counter()
    for container in spec.get("initContainers") or []:
        requests = _container_requests(container)
        if container.get("restartPolicy") == "Always":  # a sidecar keeps running beside the app
            total.update(requests)
            sidecars.update(requests)
            init_peak = _maximum(init_peak, sidecars)
        else:
            init_peak = _maximum(init_peak, requests + sidecars)
    total = _maximum(total, init_peak)
    pod_level = (spec.get("resources") or {}).get("requests") or {}
    for name in ("cpu", "memory"):
        if name in pod_level:
            total[name] = resource_units(name, pod_level[name])
    for name, qty in (spec.get("overhead") or {}).items():
        total[name] += resource_units(name, qty)
    return {name: amount for name, amount in total.items() if amount}


def is_terminated(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINATED_PHASES


def node_allocatable(node: dict) -> dict[str, int]:
    """status.allocatable (the API defaults it to capacity), with the kubelet's pod limit."""
    status = node.get("status") or {}
    source = status.get("allocatable") or status.get("capacity") or {}
    allocatable = {name: resource_units(name, qty) for name, qty in source.items()}
    allocatable.setdefault("pods", DEFAULT_MAX_PODS)
    return allocatable


def requested_on_node(pods_on_node: Iterable[dict]) -> tuple[Counter, int]:
    """Requests of the node's live pods, and how many there are (terminated pods hold nothing)."""
    used = Counter()
    count = 0
    for pod in pods_on_node:
        if is_terminated(pod):
            continue
        used.update(pod_requests(pod))
        count += 1
    return used, count


# -- taints and tolerations ------------------------------------------------------------------
def effective_taints(node: dict) -> list[dict]:
    """spec.taints plus those the control plane derives from spec.unschedulable and conditions."""
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]
    derived: list[dict] = []
    if (node.get("spec") or {}).get("unschedulable"):
        derived.append(dict(UNSCHEDULABLE_TAINT))
    conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    for condition, status, key in CONDITION_TAINTS:
        if conditions.get(condition) == status:
            derived.append({"key": key, "effect": "NoSchedule"})
    present = {(t.get("key"), t.get("effect")) for t in taints}
    return taints + [t for t in derived if (t["key"], t["effect"]) not in present]


def tolerates(toleration: dict, taint: dict) -> bool:
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True  # an empty key with Exists tolerates every taint
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def first_untolerated_taint(taints: Iterable[dict], tolerations: Iterable[dict]) -> dict | None:
    tolerations = [t for t in tolerations if isinstance(t, dict)]
    for taint in taints:
        if taint.get("effect") in BLOCKING_EFFECTS and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


# -- node affinity ---------------------------------------------------------------------------
def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def requirement_matches(requirement: dict, value: str | None) -> bool:
    """One matchExpressions/matchFields entry against a label (None when the label is absent)."""
    operator = requirement.get("operator")
    values = requirement.get("values") or []
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt"):
        have, bound = _as_int(value), _as_int(values[0] if len(values) == 1 else None)
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def term_matches(term: dict, node: dict) -> bool:
    """A nodeSelectorTerm: its requirements are ANDed; an empty term matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    node_fields = {"metadata.name": (node.get("metadata") or {}).get("name")}
    return all(requirement_matches(r, labels.get(r.get("key"))) for r in expressions) and all(
        r.get("key") in node_fields and requirement_matches(r, node_fields[r["key"]]) for r in fields
    )


def _required_terms(pod: dict) -> list[dict] | None:
    affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return None
    return required.get("nodeSelectorTerms") or []


def node_matches_pod_affinity(pod: dict, node: dict) -> bool:
    """nodeSelector (every label equal) and required node affinity (terms ORed)."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    selector = (pod.get("spec") or {}).get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()):
        return False
    terms = _required_terms(pod)
    return terms is None or any(term_matches(t, node) for t in terms)


def affinity_node_names(pod: dict) -> set[str] | None:
    """The NodeAffinity PreFilter: the only node names the pod can use, or None for "any".

    Only when every term names nodes (``matchFields`` metadata.name In) is the set known.
    """
    terms = _required_terms(pod)
    if not terms:
        return None
    names: set[str] = set()
    for term in terms:
        term_names: set[str] | None = None
        for requirement in term.get("matchFields") or []:
            if requirement.get("key") == "metadata.name" and requirement.get("operator") == "In":
                wanted = set(requirement.get("values") or [])
                term_names = wanted if term_names is None else term_names & wanted
        if term_names is None:
            return None  # this term may match any node, and terms are ORed
        names |= term_names
    return names


# -- filters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStatus:
    """Why one node was rejected. ``resolvable``: preemption could help (Unschedulable)."""

    reasons: tuple[str, ...]
    resolvable: bool = False


def _unschedulable_filter(pod: dict, node: dict) -> NodeStatus | None:
    if not (node.get("spec") or {}).get("unschedulable"):
        return None
    if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in (pod.get("spec") or {}).get("tolerations") or []):
        return None
    return NodeStatus((REASON_UNSCHEDULABLE,))


def _taint_filter(pod: dict, node: dict) -> NodeStatus | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    if first_untolerated_taint(effective_taints(node), tolerations) is None:
        return None
    return NodeStatus((REASON_TAINT,))


def _affinity_filter(pod: dict, node: dict) -> NodeStatus | None:
    return None if node_matches_pod_affinity(pod, node) else NodeStatus((REASON_AFFINITY,))


def _resources_filter(pod: dict, node: dict, pods_on_node: list[dict]) -> NodeStatus | None:
    allocatable = node_allocatable(node)
    used, pod_count = requested_on_node(pods_on_node)
    wanted = pod_requests(pod)
    reasons: list[str] = []
    unresolvable = False
    if pod_count + 1 > allocatable["pods"]:
        reasons.append(REASON_TOO_MANY_PODS)
    for name in ("cpu", "memory", "ephemeral-storage", *sorted(set(wanted) - {"cpu", "memory"})):
        amount = wanted.get(name, 0)
        if amount > 0 and amount > allocatable.get(name, 0) - used[name]:
            reasons.append(f"Insufficient {name}")
            unresolvable = unresolvable or amount > allocatable.get(name, 0)  # too big even when empty
    if not reasons:
        return None
    return NodeStatus(tuple(dict.fromkeys(reasons)), resolvable=not unresolvable)


def filter_node(pod: dict, node: dict, pods_on_node: list[dict]) -> NodeStatus | None:
    """The first failing filter's verdict for this node, or None when the pod fits."""
    return (
        _unschedulable_filter(pod, node)
        or _taint_filter(pod, node)
        or _affinity_filter(pod, node)
        or _resources_filter(pod, node, pods_on_node)
    )


# -- messages --------------------------------------------------------------------------------
def reasons_histogram(statuses: Iterable[NodeStatus], absent: int = 0, absent_reason: str = "") -> str:
    """``"1 node(s) ..., 3 Insufficient cpu"``: counts per reason, sorted as whole strings."""
    counts: Counter = Counter()
    for status in statuses:
        counts.update(status.reasons)
    if absent and absent_reason:
        counts[absent_reason] += absent
    return ", ".join(sorted(f"{count} {reason}" for reason, count in counts.items()))


def fit_error_message(total: int, body: str, post_filter: str = "") -> str:
    message = f"0/{total} nodes are available:"
    if body:
        message += f" {body}."
    if post_filter:
        message += f" {post_filter}"
    return message


# -- preemption dry run ----------------------------------------------------------------------
def pod_priority(pod: dict) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def preemption_message(
    pod: dict, nodes: list[dict], statuses: Mapping[str, NodeStatus], pods_by_node: Mapping[str, list[dict]]
) -> str | None:
    """DefaultPreemption's PostFilter text; None when evicting lower-priority pods would make room."""
    if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return PREEMPTION_NEVER_MESSAGE
    priority = pod_priority(pod)
    dry_run: dict[str, NodeStatus] = {}
    for node in nodes:
        name = node["metadata"]["name"]
        status = statuses.get(name)
        if status is None or not status.resolvable:
            continue
        live = [p for p in pods_by_node.get(name, []) if not is_terminated(p)]
        survivors = [p for p in live if pod_priority(p) >= priority]
        if len(survivors) == len(live):
            dry_run[name] = NodeStatus((REASON_NO_VICTIMS,))
            continue
        after = filter_node(pod, node, survivors)
        if after is None:
            return None  # a candidate: the real scheduler would nominate this node and evict
        dry_run[name] = after
    body = reasons_histogram(dry_run.values(), len(nodes) - len(dry_run), REASON_PREEMPTION_NOT_HELPFUL)
    return fit_error_message(len(nodes), body)


def post_filter_message(
    pod: dict, nodes: list[dict], statuses: Mapping[str, NodeStatus], pods_by_node: Mapping[str, list[dict]]
) -> str:
    preemption = preemption_message(pod, nodes, statuses, pods_by_node)
    if preemption is None:
        return ""  # PostFilter succeeded (a nomination): the event carries the filter part only
    return f"{DRA_POSTFILTER_MESSAGE}, preemption: {preemption}"


# -- one scheduling cycle --------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleResult:
    node_name: str | None = None  # the chosen node; None when the pod is unschedulable
    message: str = ""  # the FitError text when unschedulable
    statuses: dict[str, NodeStatus] = field(default_factory=dict)  # rejected nodes

    @property
    def scheduled(self) -> bool:
        return self.node_name is not None


def _utilisation(node: dict, pods_on_node: list[dict], pod: dict, resource: str) -> Fraction:
    capacity = node_allocatable(node).get(resource, 0)
    if capacity <= 0:
        return Fraction(0)
    used, _count = requested_on_node(pods_on_node)
    return Fraction(used[resource] + pod_requests(pod).get(resource, 0), capacity)


def score_key(pod: dict, node: dict, pods_on_node: list[dict]) -> tuple:
    """Least allocated first: GPU share after placing the pod, then CPU share, then the name."""
    return (
        _utilisation(node, pods_on_node, pod, GPU),
        _utilisation(node, pods_on_node, pod, "cpu"),
        node["metadata"]["name"],
    )


def schedule(pod: dict, nodes: list[dict], pods_by_node: Mapping[str, list[dict]]) -> ScheduleResult:
    """Pick a node for ``pod``, or explain, as kube-scheduler would, why none fits."""
    preset = (pod.get("spec") or {}).get("nodeName")
    if preset:
        return ScheduleResult(node_name=preset)
    if not nodes:
        return ScheduleResult(message=NO_NODES_MESSAGE)
    allowed = affinity_node_names(pod)
    if allowed is not None and not allowed:
        statuses = {n["metadata"]["name"]: NodeStatus((REASON_AFFINITY_CONFLICT,)) for n in nodes}
        post = post_filter_message(pod, nodes, statuses, pods_by_node)
        return ScheduleResult(message=fit_error_message(len(nodes), REASON_AFFINITY_CONFLICT, post))
    statuses: dict[str, NodeStatus] = {}
    fitting: list[dict] = []
    for node in nodes:
        name = node["metadata"]["name"]
        if allowed is not None and name not in allowed:
            statuses[name] = NodeStatus((REASON_NOT_IN_PREFILTER,))
            continue
        status = filter_node(pod, node, pods_by_node.get(name, []))
        if status is None:
            fitting.append(node)
        else:
            statuses[name] = status
    if fitting:
        best = min(fitting, key=lambda n: score_key(pod, n, pods_by_node.get(n["metadata"]["name"], [])))
        return ScheduleResult(node_name=best["metadata"]["name"], statuses=statuses)
    post = post_filter_message(pod, nodes, statuses, pods_by_node)
    return ScheduleResult(
        message=fit_error_message(len(nodes), reasons_histogram(statuses.values()), post), statuses=statuses
    )
