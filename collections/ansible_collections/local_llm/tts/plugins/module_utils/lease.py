"""One coordination.k8s.io/v1 Lease per release, so that only one runbook run acts on it at a time.

The Lease ``tts-runbooks-<release>`` lives in the release's namespace. A run *acquires* it by creating it,
by renewing it when it already holds it, or by taking it over when the holder stopped renewing
(``renewTime + leaseDurationSeconds`` has passed: a crashed or killed run). Every write carries the
resourceVersion it was decided on (optimistic concurrency), so of two runs deciding at the same moment
exactly one write succeeds; the other gets 409 Conflict, re-reads, and sees the winner.

The decisions (expired? ours? what to do) are pure functions of the Lease and the clock; ``LeaseApi`` is the
only part that talks to the API server. Times are compared with this machine's clock: runners on hosts
whose clocks differ by more than a small fraction of ``leaseDurationSeconds`` should not share a release.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

LEASE_NAME_PREFIX = "tts-runbooks-"
DEFAULT_LEASE_SECONDS = 300
# Which runbook holds the Lease (drift, fix, ...), so the loser can say what is in progress.
OPERATION_ANNOTATION = "tts-runbooks/operation"
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "tts-runbooks"}
LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
WRITE_ATTEMPTS = 3  # a conflict means another run wrote first: re-read and decide again


class LeaseError(Exception):
    """The API server refused or failed a Lease request (not a lost race)."""


class LeaseLocked(LeaseError):
    """Another run holds the Lease and it has not expired; the message names the holder."""


class LeaseConflict(LeaseError):
    """409 from a write: another run changed the Lease since we read it."""


# -- time ------------------------------------------------------------------------------------------------
def format_micro_time(moment: datetime) -> str:
    """RFC 3339 with microseconds and Z, the MicroTime format of renewTime/acquireTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None  # an unreadable time counts as no time: the Lease is treated as expired


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- pure decisions --------------------------------------------------------------------------------------
def lease_name(release: str) -> str:
    return f"{LEASE_NAME_PREFIX}{release}"


def default_holder(pid: int | None = None) -> str:
    """``<hostname>-<pid>``; the runner passes its own pid (a module's own pid dies with the task)."""
    return f"{socket.gethostname()}-{pid if pid is not None else os.getppid()}"


@dataclass(frozen=True)
class LeaseView:
    """The fields of a Lease the decisions need."""

    holder: str
    acquired_at: datetime | None
    renewed_at: datetime | None
    duration_seconds: int
    transitions: int
    resource_version: str
    operation: str

    @classmethod
    def from_object(cls, lease: dict) -> LeaseView:
        spec = lease.get("spec") or {}
        meta = lease.get("metadata") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            acquired_at=parse_time(spec.get("acquireTime")),
            renewed_at=parse_time(spec.get("renewTime")),
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            transitions=int(spec.get("leaseTransitions") or 0),
            resource_version=str(meta.get("resourceVersion") or ""),
            operation=str((meta.get("annotations") or {}).get(OPERATION_ANNOTATION) or ""),
        )


def expires_at(view: LeaseView) -> datetime | None:
    """When the holder's claim ends unless renewed; None when the Lease carries no usable time."""
    last_seen = view.renewed_at or view.acquired_at
    if last_seen is None:
        return None
    return last_seen + timedelta(seconds=view.duration_seconds)


def is_expired(view: LeaseView, now: datetime) -> bool:
    """A Lease with no holder, or whose holder has not renewed within its duration, is free to take."""
    if not view.holder:
        return True
    ends = expires_at(view)
    return ends is None or now >= ends


def is_ours(view: LeaseView, holder: str) -> bool:
    return bool(view.holder) and view.holder == holder


class Action(StrEnum):
    CREATE = "create"
    RENEW = "renew"
    TAKE_OVER = "take_over"
    LOCKED = "locked"


def decide_acquire(view: LeaseView | None, holder: str, now: datetime) -> Action:
    if view is None:
        return Action.CREATE
    if is_ours(view, holder):
        return Action.RENEW
    if is_expired(view, now):
        return Action.TAKE_OVER
    return Action.LOCKED


def lease_body(
    name: str,
    namespace: str,
    holder: str,
    lease_seconds: int,
    operation: str,
    now: datetime,
    previous: dict | None = None,
) -> dict:
    """The Lease to write: ``previous`` (as read, with its resourceVersion) renewed or taken over."""
    stamp = format_micro_time(now)
    if previous is None:
        metadata = {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY_LABEL)}
        spec = {"acquireTime": stamp, "leaseTransitions": 0}
    else:
        metadata = {k: v for k, v in previous["metadata"].items() if k != "managedFields"}
        view = LeaseView.from_object(previous)
        spec = dict(previous.get("spec") or {})
        if not is_ours(view, holder):  # a new holder: a transition, and its own acquire time
            spec.update(acquireTime=stamp, leaseTransitions=view.transitions + 1)
    metadata["annotations"] = {**(metadata.get("annotations") or {}), OPERATION_ANNOTATION: operation}
    spec.update(holderIdentity=holder, leaseDurationSeconds=int(lease_seconds), renewTime=stamp)
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}


def _shown(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "an unknown time"


def locked_message(view: LeaseView, cluster: str) -> str:
    operation = view.operation or "a runbook"
    return (
        f"LOCKED: {operation} run already in progress on cluster {cluster}, held by {view.holder} "
        f"since {_shown(view.acquired_at)}, expires at {_shown(expires_at(view))}"
    )


# -- the API ---------------------------------------------------------------------------------------------
class LeaseApi:
    """get/create/replace/delete of Leases through ``cluster_client.ClusterClient`` (its auth, TLS, errors
    and the retries of 5xx; a retried write that had landed comes back as a 409 or 404, which the
    operations below already handle by reading again)."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        response = self.cluster.request(
            method, path, body=body, headers={"Accept": "application/json"}, timeout=timeout
        )
        data = response.data
        if response.status == 409:
            raise LeaseConflict(_status_message(data) or "conflict")
        if not 200 <= response.status < 300:
            if response.status == 404 and method in ("GET", "DELETE"):
                return None
            raise LeaseError(f"{method} {path}: {response.status} {_status_message(data) or response.reason}")
        return json.loads(data) if data else {}

    def get(self, namespace: str, name: str) -> dict | None:
        return self._call("GET", f"{LEASES_PATH.format(namespace=namespace)}/{name}")

    def create(self, namespace: str, lease: dict) -> dict:
        return self._call("POST", LEASES_PATH.format(namespace=namespace), lease)

    def replace(self, namespace: str, name: str, lease: dict) -> dict:
        return self._call("PUT", f"{LEASES_PATH.format(namespace=namespace)}/{name}", lease)

    def delete(self, namespace: str, name: str, resource_version: str) -> None:
        # The precondition makes the delete fail (409) if someone took the Lease over meanwhile.
        options = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"resourceVersion": resource_version},
        }
        self._call("DELETE", f"{LEASES_PATH.format(namespace=namespace)}/{name}", options)


def _status_message(data: bytes | None) -> str:
    try:
        return str(json.loads(data or b"{}").get("message") or "")
    except (ValueError, AttributeError):
        return ""


# -- operations (what the module calls) ------------------------------------------------------------------
def acquire_lease(
    api: LeaseApi,
    namespace: str,
    release: str,
    holder: str,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    cluster: str = "",
    operation: str = "drift",
    check_mode: bool = False,
    clock: Callable[[], datetime] = utc_now,
) -> dict:
    """Create, renew or take over the release's Lease for ``holder``; raise LeaseLocked when held."""
    name = lease_name(release)
    for _attempt in range(WRITE_ATTEMPTS):
        current = api.get(namespace, name)
        view = LeaseView.from_object(current) if current else None
        now = clock()
        action = decide_acquire(view, holder, now)
        if action is Action.LOCKED:
            raise LeaseLocked(locked_message(view, cluster or namespace))
        written = lease_body(name, namespace, holder, lease_seconds, operation, now, current)
        if not check_mode:
            try:
                if action is Action.CREATE:
                    written = api.create(namespace, written)
                else:
                    written = api.replace(namespace, name, written)
            except LeaseConflict:
                continue  # another run wrote between our read and our write: look again
        return _acquired_result(name, written, action, view)
    raise LeaseLocked(f"LOCKED: lease {namespace}/{name} kept changing under us ({WRITE_ATTEMPTS} conflicts)")


def _acquired_result(name: str, written: dict, action: Action, before: LeaseView | None) -> dict:
    view = LeaseView.from_object(written)
    return {
        "lease": name,
        "holder": view.holder,
        "acquired": True,
        "created": action is Action.CREATE,
        "renewed": action is Action.RENEW,
        "taken_over": action is Action.TAKE_OVER,
        "previous_holder": before.holder if before and action is Action.TAKE_OVER else None,
        "acquired_at": format_micro_time(view.acquired_at) if view.acquired_at else None,
        "expires_at": format_micro_time(expires_at(view)) if expires_at(view) else None,
        "transitions": view.transitions,
    }


def release_lease(
    api: LeaseApi, namespace: str, release: str, holder: str, *, check_mode: bool = False
) -> dict:
    """Delete the release's Lease if ``holder`` holds it; otherwise leave it to its holder."""
    name = lease_name(release)
    for _attempt in range(WRITE_ATTEMPTS):
        current = api.get(namespace, name)
        view = LeaseView.from_object(current) if current else None
        if view is None or not is_ours(view, holder):
            return {"lease": name, "released": False, "holder": view.holder if view else None}
        if not check_mode:
            try:
                api.delete(namespace, name, view.resource_version)
            except LeaseConflict:
                continue  # renewed or taken over since we read it: decide again
        return {"lease": name, "released": True, "holder": None}
    raise LeaseError(f"lease {namespace}/{name} kept changing under us ({WRITE_ATTEMPTS} conflicts)")
