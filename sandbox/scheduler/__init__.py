"""The sandbox's kube-scheduler: pure placement rules (``predicates``) and the controller (``scheduler``)."""

from .predicates import (
    GPU,
    NodeStatus,
    QuantityError,
    ScheduleResult,
    effective_taints,
    filter_node,
    parse_quantity,
    pod_requests,
    schedule,
    tolerates,
)

__all__ = [
    "GPU",
    "NodeStatus",
    "QuantityError",
    "ScheduleResult",
    "effective_taints",
    "filter_node",
    "parse_quantity",
    "pod_requests",
    "schedule",
    "tolerates",
]
