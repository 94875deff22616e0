"""The sandbox's kube-scheduler: binds pending Pods to Nodes, or says why it cannot.

Follows the store's event log like any controller. A new pod with no ``spec.nodeName``,
``schedulerName`` ``default-scheduler`` (or unset) and no deletionTimestamp gets one
scheduling attempt; pods that did not fit wait, as in the scheduler's unschedulable queue,
until the cluster changes in a way that can help: a node added, changed or removed, an
assigned pod deleted or finished (its requests are freed), or the pending pod's own spec
changed. Then all pending pods are tried again, highest priority first, then oldest.

On success the pod's ``spec.nodeName`` is written (kube-scheduler POSTs ``pods/binding``,
whose storage sets the same field), ``PodScheduled=True`` is set and a ``Scheduled`` event is
recorded. On failure ``PodScheduled=False/Unschedulable`` carries the scheduler's message and
a ``FailedScheduling`` warning is recorded; repeats bump that event's count.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Iterable

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import Registry, WriteOptions, now_rfc3339
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import ADDED, DELETED, MODIFIED, StoredEvent
from sandbox.controllers.base import Controller
from sandbox.controllers.events import record_event

from . import predicates

log = logging.getLogger("sandbox.scheduler")

SCHEDULER_NAME = "default-scheduler"
PODS = by_kind("", "Pod")
AS_SCHEDULER = WriteOptions(manager=SCHEDULER_NAME)
EVENT_MESSAGE_LIMIT = 1024  # validation.NoteLengthLimit: longer event notes are cut with " ..."
GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"
# Unschedulable pods are retried at least this often even if nothing changes
# (kube-scheduler's podMaxInUnschedulablePodsDuration).
UNSCHEDULABLE_RETRY_SECONDS = 300.0

# Node fields whose change can make a waiting pod fit (heartbeats alone cannot).
_NODE_FIELDS_THAT_MATTER = (
    ("metadata", "labels"),
    ("spec",),
    ("status", "allocatable"),
    ("status", "capacity"),
)


def _dig(obj: dict, path: tuple[str, ...]):
    for key in path:
        obj = (obj or {}).get(key)
    return obj


def _condition_statuses(node: dict) -> dict:
    return {c.get("type"): c.get("status") for c in _dig(node, ("status", "conditions")) or []}


def node_change_can_help(old: dict | None, new: dict) -> bool:
    if old is None:
        return True
    return any(_dig(old, p) != _dig(new, p) for p in _NODE_FIELDS_THAT_MATTER) or _condition_statuses(
        old
    ) != _condition_statuses(new)


def previous_object(event: StoredEvent) -> dict | None:
    """The object before a MODIFIED event (None for other events)."""
    return json.loads(event.prev) if event.prev else None


def is_assigned(pod: dict) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def wants_scheduling(pod: dict) -> bool:
    """Pending, unassigned, ours, not being deleted, not finished."""
    spec = pod.get("spec") or {}
    return (
        not is_assigned(pod)
        and (spec.get("schedulerName") or SCHEDULER_NAME) == SCHEDULER_NAME
        and not (pod.get("metadata") or {}).get("deletionTimestamp")
        and not predicates.is_terminated(pod)
    )


def truncate_event_message(message: str) -> str:
    if len(message) <= EVENT_MESSAGE_LIMIT:
        return message
    suffix = " ..."
    return message[: EVENT_MESSAGE_LIMIT - len(suffix)] + suffix


def with_condition(status: dict | None, condition: dict) -> dict | None:
    """``status`` with ``condition`` set; None when nothing would change (so no write happens).

    lastTransitionTime moves only when the condition's status flips, as podutil does.
    """
    status = copy.deepcopy(status or {})
    conditions = status.setdefault("conditions", [])
    current = next((c for c in conditions if c.get("type") == condition["type"]), None)
    if current is not None and all(
        current.get(k) == condition.get(k) for k in ("status", "reason", "message")
    ):
        return None
    new = {"type": condition["type"], "status": condition["status"], "lastProbeTime": None}
    for key in ("reason", "message"):
        if condition.get(key):
            new[key] = condition[key]
    same_status = current is not None and current.get("status") == condition["status"]
    new["lastTransitionTime"] = current.get("lastTransitionTime") if same_status else now_rfc3339()
    if current is None:
        conditions.append(new)
    else:
        conditions[conditions.index(current)] = new
    return status


class ClusterSnapshot:
    """Nodes and the pods bound to each, read once per pass and updated as pods are bound."""

    def __init__(self, nodes: list[dict], pods: Iterable[dict]) -> None:
        self.nodes = nodes
        self.pods_by_node: dict[str, list[dict]] = {}
        for pod in pods:
            if is_assigned(pod):
                self.pods_by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)

    def assume(self, pod: dict) -> None:
        self.pods_by_node.setdefault(pod["spec"]["nodeName"], []).append(pod)


class Scheduler(Controller):
    name = SCHEDULER_NAME
    resources = ("pods", "nodes")

    def __init__(self, registry: Registry) -> None:
        super().__init__(registry)
        # The scheduling queue: pending pods this scheduler has seen (as its informer would),
        # by uid, with the log position where it first saw each (ties in priority go oldest first).
        # Pods the log has not delivered yet are not retried early, so each gets one first attempt.
        self._queue: dict[str, int] = {}
        self._last_full_pass = time.monotonic()

    # -- driving -------------------------------------------------------------------------
    def sync_all(self) -> None:
        for pod in self.store.list("pods")[0]:
            if wants_scheduling(pod):
                self._queue.setdefault(pod["metadata"]["uid"], 0)
        self.schedule_pending()

    def tick(self) -> None:
        if time.monotonic() - self._last_full_pass >= UNSCHEDULABLE_RETRY_SECONDS:
            self.schedule_pending()

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        if event.resource == "nodes":
            if event.type != MODIFIED or node_change_can_help(previous_object(event), obj):
                self.schedule_pending()
            return
        if event.type == DELETED:
            self._queue.pop(obj["metadata"].get("uid"), None)
        if self._frees_resources(event, obj):
            self.schedule_pending()
        elif wants_scheduling(obj) and self._is_new_to_scheduler(event, obj):
            self._queue.setdefault(obj["metadata"]["uid"], event.rv)
            self.schedule_one(obj)

    @staticmethod
    def _frees_resources(event: StoredEvent, pod: dict) -> bool:
        """An assigned pod that stops holding its requests: deleted, or just finished."""
        if not is_assigned(pod):
            return False
        if event.type == DELETED:
            return not predicates.is_terminated(pod)
        was_terminated = predicates.is_terminated(previous_object(event) or {})
        return event.type == MODIFIED and predicates.is_terminated(pod) and not was_terminated

    @staticmethod
    def _is_new_to_scheduler(event: StoredEvent, pod: dict) -> bool:
        """A new pod, or a spec change (our own status writes must not trigger retries)."""
        if event.type == ADDED:
            return True
        previous = previous_object(event)
        return event.type == MODIFIED and (previous is None or previous.get("spec") != pod.get("spec"))

    # -- scheduling ----------------------------------------------------------------------
    def snapshot(self) -> ClusterSnapshot:
        nodes = self.store.list("nodes")[0]
        return ClusterSnapshot(nodes, self.store.list("pods")[0])

    def pending_pods(self) -> list[dict]:
        """Queued pods still waiting, highest priority first, then in the order they were seen."""
        waiting = [
            pod
            for pod in self.store.list("pods")[0]
            if pod["metadata"].get("uid") in self._queue and wants_scheduling(pod)
        ]
        return sorted(
            waiting, key=lambda pod: (-predicates.pod_priority(pod), self._queue[pod["metadata"]["uid"]])
        )

    def schedule_pending(self) -> None:
        self._last_full_pass = time.monotonic()
        snapshot = self.snapshot()
        for pod in self.pending_pods():
            self._attempt_guarded(pod, snapshot)

    def schedule_one(self, pod: dict) -> None:
        self._attempt_guarded(pod, self.snapshot())

    def _attempt_guarded(self, pod: dict, snapshot: ClusterSnapshot) -> None:
        try:
            self.attempt(pod, snapshot)
        except (predicates.QuantityError, ApiError) as exc:  # one bad pod must not block the queue
            log.warning(
                "cannot schedule %s/%s: %s", pod["metadata"].get("namespace"), pod["metadata"]["name"], exc
            )

    def attempt(self, pod: dict, snapshot: ClusterSnapshot) -> str | None:
        """One scheduling cycle for ``pod``; returns the node it was bound to."""
        current = self.store.get("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if current is None or not wants_scheduling(current):
            self._queue.pop(pod["metadata"].get("uid"), None)
            return None
        if (current.get("spec") or {}).get("schedulingGates"):
            self._set_scheduled_condition(current, "False", "SchedulingGated", GATED_MESSAGE)
            return None
        result = predicates.schedule(current, snapshot.nodes, snapshot.pods_by_node)
        if result.scheduled:
            bound = self.bind(current, result.node_name)
            if bound is not None:
                snapshot.assume(bound)
                self._queue.pop(bound["metadata"]["uid"], None)
                return result.node_name
            return None
        self.mark_unschedulable(current, result.message)
        return None

    def bind(self, pod: dict, node_name: str) -> dict | None:
        meta = pod["metadata"]
        target = copy.deepcopy(pod)
        target["spec"]["nodeName"] = node_name
        try:
            bound = self.registry.update(PODS, meta["namespace"], meta["name"], target, AS_SCHEDULER)
        except ApiError as exc:
            if exc.code in (404, 409):
                return None  # deleted or changed meanwhile; its next event brings it back
            raise
        bound = self._set_scheduled_condition(bound, "True") or bound
        record_event(
            self.registry,
            bound,
            "Scheduled",
            f"Successfully assigned {meta['namespace']}/{meta['name']} to {node_name}",
            "Normal",
            SCHEDULER_NAME,
            action="Binding",
        )
        return bound

    def mark_unschedulable(self, pod: dict, message: str) -> None:
        updated = self._set_scheduled_condition(pod, "False", "Unschedulable", message)
        record_event(
            self.registry,
            updated or pod,
            "FailedScheduling",
            truncate_event_message(message),
            "Warning",
            SCHEDULER_NAME,
            action="Scheduling",
        )

    def _set_scheduled_condition(
        self, pod: dict, status: str, reason: str = "", message: str = ""
    ) -> dict | None:
        condition = {"type": "PodScheduled", "status": status, "reason": reason, "message": message}
        new_status = with_condition(pod.get("status"), condition)
        if new_status is None:
            return None
        meta = pod["metadata"]
        body = {**pod, "status": new_status}
        try:
            return self.registry.update(PODS, meta["namespace"], meta["name"], body, AS_SCHEDULER, "status")
        except ApiError as exc:
            if exc.code in (404, 409):
                return None
            raise
