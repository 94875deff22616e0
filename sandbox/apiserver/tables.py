"""``meta.k8s.io/v1`` Table responses, the server-side printing ``kubectl get`` shows.

kubectl asks with ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and prints
the columns the server chose. Like kube-apiserver, every column is always sent;
columns with priority 1 are the ones kubectl shows only with ``-o wide``.
Cell values follow the v1.35 printers for each kind; kinds without a printer get
Name and Age.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime

from .resources import Resource

_NONE = "<none>"
_UNKNOWN = "<unknown>"

Column = tuple[str, str, str, int]  # name, type, description, priority
Row = list[object]


# --- durations ------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """A duration as Kubernetes prints ages: precise while short, coarser as it grows.

    Under 2 minutes: seconds; under 10 minutes: minutes and seconds; under 3 hours: minutes;
    under 8 hours: hours and minutes; under 2 days: hours; under 8 days: days and hours;
    under 2 years: days; under 8 years: years and days; then years. A zero lower unit is
    dropped ("3m", "2d"). Up to 2 seconds in the future counts as now (clock skew);
    further in the future is "<invalid>".
    """
    whole_seconds = int(seconds)  # truncates toward zero, like Go's int(d.Seconds())
    if whole_seconds < -1:
        return "<invalid>"
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 120:
        return f"{whole_seconds}s"
    minutes = whole_seconds // 60
    if minutes < 10:
        return _two_units(minutes, "m", whole_seconds % 60, "s")
    if minutes < 180:
        return f"{minutes}m"
    hours = whole_seconds // 3600
    if hours < 8:
        return _two_units(hours, "h", minutes % 60, "m")
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return _two_units(days, "d", hours % 24, "h")
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return _two_units(days // 365, "y", days % 365, "d")
    return f"{days // 365}y"


def _two_units(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    return f"{major}{major_unit}{minor}{minor_unit}" if minor else f"{major}{major_unit}"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _since(value: str | None, now: datetime) -> str:
    """Age of an RFC 3339 timestamp, ``<unknown>`` when unset (translateTimestampSince)."""
    moment = _parse_time(value)
    return _UNKNOWN if moment is None else human_duration((now - moment).total_seconds())


# --- public API -----------------------------------------------------------------------------


def to_table(
    kind_res: Resource,
    objects: list[dict],
    list_meta: dict,
    include_object: str = "Metadata",
    now: datetime | None = None,
) -> dict:
    """A Table of ``objects``; ``include_object`` is the request's includeObject (None/Metadata/Object)."""
    now = now or datetime.now(UTC)
    columns, print_row = _PRINTERS.get(kind_res.kind, (_NAME_AGE_COLUMNS, _print_name_age))
    rows = []
    for obj in objects:
        row: dict = {"cells": print_row(obj, now)}
        conditions = _row_conditions(kind_res, obj)
        if conditions:
            row["conditions"] = conditions
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = _partial_object_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": [
            {
                "name": name,
                "type": column_type,
                "format": "name" if name == "Name" and index == 0 else "",
                "description": description,
                "priority": priority,
            }
            for index, (name, column_type, description, priority) in enumerate(columns)
        ],
        "rows": rows,
    }


def _partial_object_metadata(obj: dict) -> dict:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _row_conditions(kind_res: Resource, obj: dict) -> list[dict]:
    """Finished pods are flagged Completed, which kubectl uses to dim or skip them."""
    if kind_res.kind != "Pod":
        return []
    phase = obj.get("status", {}).get("phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return []


# --- shared cells ---------------------------------------------------------------------------

_NAME_COLUMN: Column = ("Name", "string", "Name must be unique within a namespace.", 0)
_AGE_COLUMN: Column = ("Age", "string", "Time since the object was created (creationTimestamp).", 0)
_NAME_AGE_COLUMNS = [_NAME_COLUMN, _AGE_COLUMN]


def _name(obj: dict) -> str:
    return obj.get("metadata", {}).get("name", "")


def _age(obj: dict, now: datetime) -> str:
    return _since(obj.get("metadata", {}).get("creationTimestamp"), now)


def _print_name_age(obj: dict, now: datetime) -> Row:
    return [_name(obj), _age(obj, now)]


def _or_none(value: object) -> object:
    return _NONE if value in (None, "", [], {}) else value


def format_labels(labels: dict | None) -> str:
    """``k=v,k2=v2`` sorted by key, ``<none>`` when empty (labels.FormatLabels)."""
    if not labels:
        return _NONE
    return ",".join(f"{key}={labels[key]}" for key in sorted(labels))


def format_label_selector(selector: dict | None) -> str:
    """A LabelSelector in selector syntax, requirements sorted by key (metav1.FormatLabelSelector)."""
    if not selector:
        return _NONE
    requirements = [(key, f"{key}={value}") for key, value in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(operator, f"{key} {operator} ({values})")
        requirements.append((key, text))
    return ",".join(text for _, text in sorted(requirements, key=lambda item: item[0])) or _NONE


def _pod_template_spec(obj: dict) -> dict:
    return obj.get("spec", {}).get("template", {}).get("spec", {})


def _containers_and_images(pod_spec: dict) -> list[str]:
    containers = pod_spec.get("containers") or []
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)]


_CONTAINER_COLUMNS: list[Column] = [
    ("Containers", "string", "Names of each container in the template.", 1),
    ("Images", "string", "Images referenced by each container in the template.", 1),
]
_SELECTOR_COLUMN: Column = ("Selector", "string", "Label selector for the pods.", 1)


# --- Pod ------------------------------------------------------------------------------------

_POD_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Ready", "string", "Ready containers out of all containers.", 0),
    ("Status", "string", "Phase of the pod, or the reason it is not running.", 0),
    ("Restarts", "string", "Container restarts, with the time since the last one.", 0),
    _AGE_COLUMN,
    ("IP", "string", "IP address allocated to the pod.", 1),
    ("Node", "string", "Node the pod is scheduled onto.", 1),
    ("Nominated Node", "string", "Node the scheduler nominated for preemption.", 1),
    ("Readiness Gates", "string", "Readiness gates that are true, out of all gates.", 1),
]


class _Restarts:
    """Restart count and the latest time a container last terminated."""

    def __init__(self) -> None:
        self.count = 0
        self.last: datetime | None = None

    def add(self, status: dict) -> None:
        self.count += status.get("restartCount") or 0
        finished = _parse_time(((status.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
        if finished is not None and (self.last is None or finished > self.last):
            self.last = finished

    def text(self, now: datetime) -> str:
        if self.count and self.last is not None:
            return f"{self.count} ({human_duration((now - self.last).total_seconds())} ago)"
        return str(self.count)


def _terminated_reason(terminated: dict, prefix: str) -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def _is_sidecar(container: dict | None) -> bool:
    return container is not None and container.get("restartPolicy") == "Always"


def _has_condition(status: dict, condition_type: str) -> bool:
    return any(
        c.get("type") == condition_type and c.get("status") == "True" for c in status.get("conditions") or []
    )


def _print_pod(pod: dict, now: datetime) -> Row:
    spec, status = pod.get("spec", {}), pod.get("status", {})
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(_is_sidecar(c) for c in init_specs.values())
    ready = 0
    reason = status.get("reason") or status.get("phase") or ""
    if any(
        c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
        for c in status.get("conditions") or []
    ):
        reason = "SchedulingGated"

    all_restarts, sidecar_restarts = _Restarts(), _Restarts()
    initializing = False
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        all_restarts.add(container)
        sidecar = _is_sidecar(init_specs.get(container.get("name")))
        if sidecar:
            sidecar_restarts.add(container)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if sidecar and container.get("started"):
            ready += bool(container.get("ready"))
            continue
        initializing = True
        if terminated:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        break

    restarts = all_restarts
    if not initializing or _has_condition(status, "Initialized"):
        restarts = sidecar_restarts
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts.add(container)
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated, "")
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"

    if pod.get("metadata", {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif status.get("phase") not in ("Succeeded", "Failed"):
            reason = "Terminating"

    pod_ips = status.get("podIPs") or []
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts.text(now),
        _age(pod, now),
        _or_none(pod_ips[0].get("ip") if pod_ips else status.get("podIP")),
        _or_none(spec.get("nodeName")),
        _or_none(status.get("nominatedNodeName")),
        _readiness_gates(spec, status),
    ]


def _readiness_gates(spec: dict, status: dict) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return _NONE
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    passing = sum(conditions.get(gate.get("conditionType")) == "True" for gate in gates)
    return f"{passing}/{len(gates)}"


# --- workloads ------------------------------------------------------------------------------

_DEPLOYMENT_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Ready", "string", "Ready replicas out of desired replicas.", 0),
    ("Up-to-date", "integer", "Replicas updated to the latest template.", 0),
    ("Available", "integer", "Replicas available to serve.", 0),
    _AGE_COLUMN,
    *_CONTAINER_COLUMNS,
    _SELECTOR_COLUMN,
]


def _print_deployment(obj: dict, now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(obj, now),
        *_containers_and_images(_pod_template_spec(obj)),
        format_label_selector(spec.get("selector")),
    ]


_REPLICA_SET_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Desired", "integer", "Number of desired replicas.", 0),
    ("Current", "integer", "Number of actual replicas.", 0),
    ("Ready", "integer", "Number of ready replicas.", 0),
    _AGE_COLUMN,
    *_CONTAINER_COLUMNS,
    _SELECTOR_COLUMN,
]


def _print_replica_set(obj: dict, now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [
        _name(obj),
        spec.get("replicas", 1),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        _age(obj, now),
        *_containers_and_images(_pod_template_spec(obj)),
        format_label_selector(spec.get("selector")),
    ]


def _print_replication_controller(obj: dict, now: datetime) -> Row:
    row = _print_replica_set(obj, now)
    row[-1] = format_labels(obj.get("spec", {}).get("selector"))  # a plain label map, not a LabelSelector
    return row


_STATEFUL_SET_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Ready", "string", "Ready replicas out of desired replicas.", 0),
    _AGE_COLUMN,
    *_CONTAINER_COLUMNS,
]


def _print_stateful_set(obj: dict, now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        _age(obj, now),
        *_containers_and_images(_pod_template_spec(obj)),
    ]


_DAEMON_SET_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Desired", "integer", "Nodes that should run the daemon pod.", 0),
    ("Current", "integer", "Nodes running at least one daemon pod.", 0),
    ("Ready", "integer", "Nodes with a ready daemon pod.", 0),
    ("Up-to-date", "integer", "Nodes running the updated daemon pod.", 0),
    ("Available", "integer", "Nodes with an available daemon pod.", 0),
    ("Node Selector", "string", "Node selector of the pod template.", 0),
    _AGE_COLUMN,
    *_CONTAINER_COLUMNS,
    _SELECTOR_COLUMN,
]


_DAEMON_SET_COUNTS = (
    "desiredNumberScheduled",
    "currentNumberScheduled",
    "numberReady",
    "updatedNumberScheduled",
    "numberAvailable",
)


def _print_daemon_set(obj: dict, now: datetime) -> Row:
    status = obj.get("status", {})
    counts = [status.get(field, 0) for field in _DAEMON_SET_COUNTS]
    pod_spec = _pod_template_spec(obj)
    return [
        _name(obj),
        *counts,
        format_labels(pod_spec.get("nodeSelector")),
        _age(obj, now),
        *_containers_and_images(pod_spec),
        format_label_selector(obj.get("spec", {}).get("selector")),
    ]


_JOB_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Status", "string", "Status of the job.", 0),
    ("Completions", "string", "Succeeded pods out of desired completions.", 0),
    ("Duration", "string", "Time the job took to complete, or has run so far.", 0),
    _AGE_COLUMN,
    *_CONTAINER_COLUMNS,
    _SELECTOR_COLUMN,
]

# Checked in this order; the first true condition names the status.
_JOB_STATUS_CONDITIONS = ("Complete", "Failed")
_JOB_LATER_CONDITIONS = ("Suspended", "FailureTarget", "SuccessCriteriaMet")


def _job_status(job: dict) -> str:
    status = job.get("status", {})
    for condition in _JOB_STATUS_CONDITIONS:
        if _has_condition(status, condition):
            return condition
    if job.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    for condition in _JOB_LATER_CONDITIONS:
        if _has_condition(status, condition):
            return condition
    return "Running"


def _print_job(job: dict, now: datetime) -> Row:
    spec, status = job.get("spec", {}), job.get("status", {})
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    started, finished = _parse_time(status.get("startTime")), _parse_time(status.get("completionTime"))
    duration = "" if started is None else human_duration(((finished or now) - started).total_seconds())
    return [
        _name(job),
        _job_status(job),
        completions,
        duration,
        _age(job, now),
        *_containers_and_images(_pod_template_spec(job)),
        format_label_selector(spec.get("selector")),
    ]


_CRON_JOB_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Schedule", "string", "Schedule in Cron format.", 0),
    ("Timezone", "string", "Time zone of the schedule.", 0),
    ("Suspend", "boolean", "Whether later runs are suspended.", 0),
    ("Active", "integer", "Number of running jobs.", 0),
    ("Last Schedule", "string", "Time since the job was last scheduled.", 0),
    _AGE_COLUMN,
    *_CONTAINER_COLUMNS,
    _SELECTOR_COLUMN,
]


def _print_cron_job(obj: dict, now: datetime) -> Row:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    job_spec = spec.get("jobTemplate", {}).get("spec", {})
    last_schedule = status.get("lastScheduleTime")
    return [
        _name(obj),
        spec.get("schedule", ""),
        _or_none(spec.get("timeZone")),
        _bool_text(spec.get("suspend")),
        len(status.get("active") or []),
        _since(last_schedule, now) if last_schedule else _NONE,
        _age(obj, now),
        *_containers_and_images(job_spec.get("template", {}).get("spec", {})),
        format_label_selector(job_spec.get("selector")),
    ]


def _bool_text(value: bool | None) -> str:
    return "<unset>" if value is None else str(bool(value))


# --- networking -----------------------------------------------------------------------------

_SERVICE_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Type", "string", "Type of the service.", 0),
    ("Cluster-IP", "string", "Cluster IP of the service.", 0),
    ("External-IP", "string", "External IPs of the service.", 0),
    ("Port(s)", "string", "Ports the service exposes.", 0),
    _AGE_COLUMN,
    _SELECTOR_COLUMN,
]


def _load_balancer_addresses(status: dict) -> list[str]:
    entries = (status.get("loadBalancer") or {}).get("ingress") or []
    return [address for entry in entries if (address := entry.get("ip") or entry.get("hostname"))]


def _service_external_ip(service: dict) -> str:
    spec = service.get("spec", {})
    service_type = spec.get("type", "ClusterIP")
    external_ips = spec.get("externalIPs") or []
    if service_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or _NONE
    if service_type == "LoadBalancer":
        return ",".join(_load_balancer_addresses(service.get("status", {})) + external_ips) or "<pending>"
    if service_type == "ExternalName":
        return spec.get("externalName", "")
    return _UNKNOWN


def _service_ports(spec: dict) -> str:
    ports = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol", "TCP")
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        ports.append(f"{port.get('port')}{node_port}/{protocol}")
    return ",".join(ports) or _NONE


def _print_service(service: dict, now: datetime) -> Row:
    spec = service.get("spec", {})
    return [
        _name(service),
        spec.get("type", "ClusterIP"),
        _or_none(spec.get("clusterIP")),
        _service_external_ip(service),
        _service_ports(spec),
        _age(service, now),
        format_labels(spec.get("selector")),
    ]


_ENDPOINTS_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Endpoints", "string", "Endpoint addresses (at most three shown).", 0),
    _AGE_COLUMN,
]
_MAX_LISTED = 3


def _host_port(ip: str, port: object) -> str:
    try:
        bracketed = isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address)
    except ValueError:
        bracketed = False
    return f"[{ip}]:{port}" if bracketed else f"{ip}:{port}"


def _print_endpoints(obj: dict, now: datetime) -> Row:
    listed: list[str] = []
    total = 0
    for subset in obj.get("subsets") or []:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        # Headless services may have addresses without ports.
        entries = [_host_port(ip, p.get("port")) for p in ports for ip in addresses] if ports else addresses
        total += len(entries)
        listed.extend(entries[: _MAX_LISTED - len(listed)])
    text = ",".join(listed) or _NONE
    if total > _MAX_LISTED:
        text += f" + {total - _MAX_LISTED} more..."
    return [_name(obj), text, _age(obj, now)]


_INGRESS_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Class", "string", "Ingress class of the ingress.", 0),
    ("Hosts", "string", "Hosts the ingress serves.", 0),
    ("Address", "string", "Load balancer addresses of the ingress.", 0),
    ("Ports", "string", "Ports the ingress serves.", 0),
    _AGE_COLUMN,
]


def _ingress_hosts(rules: list[dict]) -> str:
    hosts: list[str] = []
    for rule in rules:
        if len(hosts) == _MAX_LISTED:
            return ",".join(hosts) + f" + {len(rules) - _MAX_LISTED} more..."
        if rule.get("host"):
            hosts.append(rule["host"])
    return ",".join(hosts) or "*"


def _print_ingress(obj: dict, now: datetime) -> Row:
    spec = obj.get("spec", {})
    return [
        _name(obj),
        _or_none(spec.get("ingressClassName")),
        _ingress_hosts(spec.get("rules") or []),
        ",".join(_load_balancer_addresses(obj.get("status", {}))),
        "80, 443" if spec.get("tls") else "80",
        _age(obj, now),
    ]


# --- cluster and config ---------------------------------------------------------------------

_NODE_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Status", "string", "Readiness of the node.", 0),
    ("Roles", "string", "Roles from node-role.kubernetes.io labels.", 0),
    _AGE_COLUMN,
    ("Version", "string", "Kubelet version of the node.", 0),
    ("Internal-IP", "string", "Internal IP of the node.", 1),
    ("External-IP", "string", "External IP of the node.", 1),
    ("OS-Image", "string", "OS image reported by the node.", 1),
    ("Kernel-Version", "string", "Kernel version reported by the node.", 1),
    ("Container-Runtime", "string", "Container runtime reported by the node.", 1),
]
_ROLE_LABEL_PREFIX = "node-role.kubernetes.io/"


def _node_status(node: dict) -> str:
    states = []
    for condition in node.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            states = ["Ready" if condition.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if node.get("spec", {}).get("unschedulable"):
        states.append("SchedulingDisabled")
    return ",".join(states)


def _node_roles(labels: dict) -> str:
    roles = {
        key.removeprefix(_ROLE_LABEL_PREFIX)
        for key in labels
        if key.startswith(_ROLE_LABEL_PREFIX) and key != _ROLE_LABEL_PREFIX
    }
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(roles)) or _NONE


def _node_address(status: dict, address_type: str) -> str:
    return next(
        (a.get("address") for a in status.get("addresses") or [] if a.get("type") == address_type), _NONE
    )


def _print_node(node: dict, now: datetime) -> Row:
    status = node.get("status", {})
    info = status.get("nodeInfo") or {}
    return [
        _name(node),
        _node_status(node),
        _node_roles(node.get("metadata", {}).get("labels") or {}),
        _age(node, now),
        info.get("kubeletVersion", ""),
        _node_address(status, "InternalIP"),
        _node_address(status, "ExternalIP"),
        info.get("osImage") or _UNKNOWN,
        info.get("kernelVersion") or _UNKNOWN,
        info.get("containerRuntimeVersion") or _UNKNOWN,
    ]


_NAMESPACE_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Status", "string", "Phase of the namespace.", 0),
    _AGE_COLUMN,
]


def _print_namespace(obj: dict, now: datetime) -> Row:
    return [_name(obj), obj.get("status", {}).get("phase", ""), _age(obj, now)]


_CONFIG_MAP_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Data", "integer", "Number of data and binaryData keys.", 0),
    _AGE_COLUMN,
]


def _print_config_map(obj: dict, now: datetime) -> Row:
    return [_name(obj), len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(obj, now)]


_SECRET_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Type", "string", "Type of the secret.", 0),
    ("Data", "integer", "Number of data keys.", 0),
    _AGE_COLUMN,
]


def _print_secret(obj: dict, now: datetime) -> Row:
    return [_name(obj), obj.get("type", "Opaque"), len(obj.get("data") or {}), _age(obj, now)]


_SERVICE_ACCOUNT_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Secrets", "integer", "Number of listed secrets.", 0),
    _AGE_COLUMN,
]


def _print_service_account(obj: dict, now: datetime) -> Row:
    return [_name(obj), len(obj.get("secrets") or []), _age(obj, now)]


_EVENT_COLUMNS: list[Column] = [
    ("Last Seen", "string", "Time since the event was last observed.", 0),
    ("Type", "string", "Type of the event (Normal, Warning).", 0),
    ("Reason", "string", "Short machine-readable reason.", 0),
    ("Object", "string", "Object the event is about.", 0),
    ("Subobject", "string", "Field path within the object.", 1),
    ("Source", "string", "Component that reported the event.", 1),
    ("Message", "string", "Human-readable description.", 0),
    ("First Seen", "string", "Time since the event was first observed.", 1),
    ("Count", "string", "Number of times the event occurred.", 1),
    ("Name", "string", "Name of the event object.", 1),
]


def _print_event(event: dict, now: datetime) -> Row:
    first_seen = _since(event.get("firstTimestamp") or event.get("eventTime"), now)
    last_seen = _since(event["lastTimestamp"], now) if event.get("lastTimestamp") else first_seen
    series = event.get("series")
    count = event.get("count") or 1  # events from events.k8s.io carry no count
    if series:
        last_seen = _since(series.get("lastObservedTime"), now)
        count = series.get("count", count)
    involved = event.get("involvedObject") or {}
    target = involved.get("kind", "").lower()
    if involved.get("name"):
        target += "/" + involved["name"]
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent", "")
    host = source.get("host") or event.get("reportingInstance", "")
    return [
        last_seen,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        f"{component}, {host}" if host else component,
        (event.get("message") or "").strip(),
        first_seen,
        count,
        _name(event),
    ]


_LEASE_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Holder", "string", "Identity of the current lease holder.", 0),
    _AGE_COLUMN,
]


def _print_lease(obj: dict, now: datetime) -> Row:
    return [_name(obj), obj.get("spec", {}).get("holderIdentity", ""), _age(obj, now)]


_PVC_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Status", "string", "Phase of the claim.", 0),
    ("Volume", "string", "Name of the bound volume.", 0),
    ("Capacity", "string", "Capacity of the bound volume.", 0),
    ("Access Modes", "string", "Access modes of the bound volume.", 0),
    ("StorageClass", "string", "Storage class of the claim.", 0),
    ("VolumeAttributesClass", "string", "Volume attributes class of the claim.", 0),
    _AGE_COLUMN,
    ("VolumeMode", "string", "Volume mode of the claim.", 1),
]
_ACCESS_MODE_ABBREVIATIONS = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def _print_pvc(claim: dict, now: datetime) -> Row:
    spec, status = claim.get("spec", {}), claim.get("status", {})
    phase = "Terminating" if claim.get("metadata", {}).get("deletionTimestamp") else status.get("phase", "")
    capacity = access_modes = ""
    if spec.get("volumeName"):
        modes = status.get("accessModes") or []
        access_modes = ",".join(short for mode, short in _ACCESS_MODE_ABBREVIATIONS.items() if mode in modes)
        capacity = str((status.get("capacity") or {}).get("storage", ""))
    annotations = claim.get("metadata", {}).get("annotations") or {}
    storage_class = annotations.get("volume.beta.kubernetes.io/storage-class") or spec.get(
        "storageClassName", ""
    )
    return [
        _name(claim),
        phase,
        spec.get("volumeName", ""),
        capacity,
        access_modes,
        storage_class,
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(claim, now),
        spec.get("volumeMode") or "<unset>",
    ]


_HPA_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Reference", "string", "Scale target of the autoscaler.", 0),
    ("Targets", "string", "Current and target metric values.", 0),
    ("MinPods", "string", "Lower replica limit.", 0),
    ("MaxPods", "integer", "Upper replica limit.", 0),
    ("Replicas", "integer", "Current number of replicas.", 0),
    _AGE_COLUMN,
]
_MAX_HPA_METRICS = 2


def _hpa_metric(spec: dict, status: dict | None) -> str:
    """One ``current/target`` entry of the Targets column."""
    metric_type = spec.get("type", "")
    source_key = metric_type[0].lower() + metric_type[1:] if metric_type else ""
    source = spec.get(source_key) or {}
    target = source.get("target") or {}
    current = ((status or {}).get(source_key) or {}).get("current") or {}
    if metric_type in ("Resource", "ContainerResource"):
        if target.get("averageValue") is not None:
            return f"{source.get('name')}: {current.get('averageValue', _UNKNOWN)}/{target['averageValue']}"
        return (
            f"{source.get('name')}: {_percent(current.get('averageUtilization'), _UNKNOWN)}/"
            f"{_percent(target.get('averageUtilization'), '<auto>')}"
        )
    if metric_type == "Pods":
        return f"{current.get('averageValue', _UNKNOWN)}/{target.get('averageValue')}"
    if metric_type in ("Object", "External"):
        if target.get("averageValue") is not None:
            return f"{current.get('averageValue', _UNKNOWN)}/{target['averageValue']} (avg)"
        return f"{current.get('value', _UNKNOWN)}/{target.get('value')}"
    return "<unknown type>"


def _percent(value: int | None, missing: str) -> str:
    return missing if value is None else f"{value}%"


def _hpa_targets(hpa: dict) -> str:
    specs = hpa.get("spec", {}).get("metrics") or []
    if not specs:
        return _NONE
    statuses = hpa.get("status", {}).get("currentMetrics") or []
    entries = [_hpa_metric(spec, statuses[i] if i < len(statuses) else None) for i, spec in enumerate(specs)]
    text = ", ".join(entries[:_MAX_HPA_METRICS])
    if len(entries) > _MAX_HPA_METRICS:
        text += f" + {len(entries) - _MAX_HPA_METRICS} more..."
    return text


def _print_hpa(hpa: dict, now: datetime) -> Row:
    spec, status = hpa.get("spec", {}), hpa.get("status", {})
    target = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [
        _name(hpa),
        f"{target.get('kind', '')}/{target.get('name', '')}",
        _hpa_targets(hpa),
        "<unset>" if min_replicas is None else str(min_replicas),
        spec.get("maxReplicas", 0),
        status.get("currentReplicas", 0),
        _age(hpa, now),
    ]


_PDB_COLUMNS: list[Column] = [
    _NAME_COLUMN,
    ("Min Available", "string", "Pods that must stay available.", 0),
    ("Max Unavailable", "string", "Pods that may be unavailable.", 0),
    ("Allowed Disruptions", "integer", "Disruptions currently allowed.", 0),
    _AGE_COLUMN,
]


def _print_pdb(obj: dict, now: datetime) -> Row:
    spec = obj.get("spec", {})
    return [
        _name(obj),
        str(spec.get("minAvailable", "N/A")),
        str(spec.get("maxUnavailable", "N/A")),
        obj.get("status", {}).get("disruptionsAllowed", 0),
        _age(obj, now),
    ]


_PRINTERS: dict[str, tuple[list[Column], Callable[[dict, datetime], Row]]] = {
    "Pod": (_POD_COLUMNS, _print_pod),
    "Deployment": (_DEPLOYMENT_COLUMNS, _print_deployment),
    "ReplicaSet": (_REPLICA_SET_COLUMNS, _print_replica_set),
    "ReplicationController": (_REPLICA_SET_COLUMNS, _print_replication_controller),
    "StatefulSet": (_STATEFUL_SET_COLUMNS, _print_stateful_set),
    "DaemonSet": (_DAEMON_SET_COLUMNS, _print_daemon_set),
    "Job": (_JOB_COLUMNS, _print_job),
    "CronJob": (_CRON_JOB_COLUMNS, _print_cron_job),
    "Service": (_SERVICE_COLUMNS, _print_service),
    "Endpoints": (_ENDPOINTS_COLUMNS, _print_endpoints),
    "Ingress": (_INGRESS_COLUMNS, _print_ingress),
    "Node": (_NODE_COLUMNS, _print_node),
    "Namespace": (_NAMESPACE_COLUMNS, _print_namespace),
    "ConfigMap": (_CONFIG_MAP_COLUMNS, _print_config_map),
    "Secret": (_SECRET_COLUMNS, _print_secret),
    "ServiceAccount": (_SERVICE_ACCOUNT_COLUMNS, _print_service_account),
    "Event": (_EVENT_COLUMNS, _print_event),
    "Lease": (_LEASE_COLUMNS, _print_lease),
    "PersistentVolumeClaim": (_PVC_COLUMNS, _print_pvc),
    "HorizontalPodAutoscaler": (_HPA_COLUMNS, _print_hpa),
    "PodDisruptionBudget": (_PDB_COLUMNS, _print_pdb),
}
