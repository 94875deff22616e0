"""Recording core/v1 Events the way client-go's event recorder does.

An Event lives in its object's namespace (``default`` for cluster-scoped objects such as
Nodes) and is named ``<object>.<hex of the time in ns>``. A repeat of the same event — same
source, involved object, type, reason and message (the recorder's dedup key) — does not
make a new object: the existing one gets ``count + 1`` and a new ``lastTimestamp``, which
``kubectl describe`` shows as ``(x3 over 2m)``. Recording is best effort, as in the real
recorder: a namespace that is gone or terminating drops the event.
"""

from __future__ import annotations

import logging
import threading
import time

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import Registry, WriteOptions, now_rfc3339
from sandbox.apiserver.resources import by_kind

log = logging.getLogger("sandbox.controllers.events")

EVENTS = by_kind("", "Event")
REFERENCE_FIELDS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
# What makes two events "the same" (client-go's getEventKey, minus the host we never set).
_SAME_OBJECT = ("kind", "namespace", "name", "uid", "apiVersion", "fieldPath")
_CONFLICT_RETRIES = 3

_lock = threading.Lock()  # one recorder per process: find-or-create must not race itself


def object_reference(involved: dict) -> dict:
    """An ObjectReference from a whole object, or the given reference trimmed to its fields."""
    if "metadata" in involved:
        meta = involved.get("metadata") or {}
        ref = {
            "kind": involved.get("kind"),
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "uid": meta.get("uid"),
            "apiVersion": involved.get("apiVersion"),
            "resourceVersion": meta.get("resourceVersion"),
        }
    else:
        ref = {k: involved.get(k) for k in REFERENCE_FIELDS}
    return {k: v for k, v in ref.items() if v}


def _is_same(event: dict, ref: dict, reason: str, message: str, type_: str, component: str) -> bool:
    theirs = event.get("involvedObject") or {}
    return (
        all(theirs.get(k) == ref.get(k) for k in _SAME_OBJECT)
        and event.get("reason") == reason
        and event.get("message") == message
        and event.get("type") == type_
        and (event.get("source") or {}).get("component", "") == component
    )


def _new_event(ref: dict, namespace: str, reason: str, message: str, type_: str, component: str, action: str):
    now = now_rfc3339()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{ref.get('name', 'unknown')}.{time.time_ns():x}", "namespace": namespace},
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": {"component": component} if component else {},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": "",
    }
    if action:
        event["action"] = action
    return event


def record_event(
    registry: Registry,
    involved: dict,
    reason: str,
    message: str,
    type_: str = "Normal",
    component: str = "",
    *,
    action: str = "",
    count: int = 1,
) -> dict | None:
    """Create the Event, or bump the identical one already recorded. Returns it (None if dropped).

    ``count`` > 1 records that many occurrences at once (the kubelet's throttled probes, each of
    whose results stands for several probe periods)."""
    ref = object_reference(involved)
    namespace = ref.get("namespace") or "default"
    opts = WriteOptions(manager=component or "event-recorder")
    with _lock:
        for _attempt in range(_CONFLICT_RETRIES):
            existing = next(
                (
                    e
                    for e in registry.store.list(EVENTS.group_resource, namespace)[0]
                    if _is_same(e, ref, reason, message, type_, component)
                ),
                None,
            )
            try:
                if existing is None:
                    new = _new_event(ref, namespace, reason, message, type_, component, action)
                    new["count"] = count
                    return registry.create(EVENTS, namespace, new, opts)
                existing["count"] = int(existing.get("count") or 1) + count
                existing["lastTimestamp"] = now_rfc3339()
                return registry.update(EVENTS, namespace, existing["metadata"]["name"], existing, opts)
            except ApiError as exc:
                if exc.code == 409:
                    continue  # someone else wrote it meanwhile: look again
                log.debug("event %s for %s dropped: %s", reason, ref.get("name"), exc)
                return None
    return None
