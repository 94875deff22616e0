"""ReplicaSet controller: keeps the pods a ReplicaSet controls equal to ``spec.replicas``.

What it does, as kube-controller-manager's replicaset controller:

- Claims pods: active pods whose controller ownerReference is the ReplicaSet, plus orphan
  active pods matching its selector (adopted by adding a controller ownerReference); owned
  pods whose labels stopped matching are released (the reference is removed).
- Creates missing pods from ``spec.template``, named ``<rs>-<5 chars>`` in the alphabet the
  API server's generateName uses; removes surplus pods, worst first (see ``deletion_rank``).
- Writes ``status`` through the status subresource (replicas, fullyLabeledReplicas,
  readyReplicas, availableReplicas, observedGeneration and a ReplicaFailure condition when
  a create or delete failed) and only when it changed: the controller sees its own writes.
- Records ``SuccessfulCreate`` / ``SuccessfulDelete`` (and ``FailedCreate`` /
  ``FailedDelete``) events.

Pods with a deletionTimestamp, or in phase Succeeded/Failed, do not count (Kubernetes'
"active" pods). The store is read directly, never through a lagging cache, so the
"expectations" bookkeeping kube-controller-manager needs is not needed here.

A pod is *available* once Ready for ``minReadySeconds`` (simulated seconds, divided by the
sandbox time scale); the Ready condition's lastTransitionTime is wall-clock time, so the
controller compares it with ``now`` (``time.time`` by default). The controller thread's
``tick`` hook re-syncs ReplicaSets with ready-but-not-yet-available pods, since no event
marks that moment.

This module also holds the pod and ownership helpers the deployment controller shares.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import random
import threading
import time
from collections.abc import Callable

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import Registry, WriteOptions, now_rfc3339
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.selectors import labels_match, selector_from_label_selector
from sandbox.apiserver.store import DELETED, StoredEvent

from .base import Controller
from .events import record_event

log = logging.getLogger("sandbox.controllers.replicaset")

REPLICA_SETS = by_kind("apps", "ReplicaSet")
PODS = by_kind("", "Pod")

FIELD_MANAGER = "kube-controller-manager"
COMPONENT = "replicaset-controller"

# The alphabet of the API server's generateName suffixes and of pod-template-hash values:
# no vowels (no accidental words) and no look-alikes (0/o, 1/l, 3/e).
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
NAME_SUFFIX_LENGTH = 5
MAX_GENERATED_PREFIX = 58  # 63 - 5, as the API server truncates generateName prefixes

# Kubernetes creates at most this many pods per sync (its burstReplicas).
BURST_REPLICAS = 500
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


class Reason:
    SUCCESSFUL_CREATE = "SuccessfulCreate"
    SUCCESSFUL_DELETE = "SuccessfulDelete"
    FAILED_CREATE = "FailedCreate"
    FAILED_DELETE = "FailedDelete"


class Message:
    CREATED = "Created pod: {name}"
    DELETED = "Deleted pod: {name}"
    CREATE_FAILED = "Error creating: {error}"
    DELETE_FAILED = "Error deleting: {error}"


# -- shared helpers (also used by the deployment controller) ---------------------------------


def write_options() -> WriteOptions:
    # A fresh object per write: WriteOptions collects warnings.
    return WriteOptions(manager=FIELD_MANAGER)


def parse_time(stamp: str | None) -> float | None:
    """An RFC 3339 timestamp as epoch seconds (None when absent or unreadable)."""
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def controller_ref(obj: dict) -> dict | None:
    """The ownerReference with ``controller: true``, if any."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def owner_reference_to(owner: dict) -> dict:
    """A controller reference to ``owner`` that blocks its foreground deletion."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """A metav1.LabelSelector against labels; an absent selector matches nothing."""
    requirements = selector_from_label_selector(selector)
    return requirements is not None and labels_match(requirements, labels)


def is_pod_active(pod: dict) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: dict) -> dict | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond
    return None


def is_pod_ready(pod: dict) -> bool:
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_pod_available(pod: dict, min_ready_real_seconds: float, now: float) -> bool:
    """Ready, and for at least ``min_ready_real_seconds`` (0: as soon as Ready)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_real_seconds <= 0:
        return True
    since = parse_time(ready_condition(pod).get("lastTransitionTime"))
    return since is not None and since + min_ready_real_seconds < now


def random_suffix(length: int = NAME_SUFFIX_LENGTH) -> str:
    return "".join(random.choice(SAFE_ALPHABET) for _ in range(length))


def emit_event(
    registry: Registry, involved: dict, reason: str, message: str, component: str, type_: str = "Normal"
) -> None:
    """Best effort, as Kubernetes' event recorder: a failed event never fails a sync."""
    try:
        record_event(registry, involved, reason, message, type_, component)
    except Exception:
        log.warning("could not record event %s for %s", reason, involved["metadata"].get("name"))


def deletion_rank(pod: dict) -> tuple:
    """Sort key putting the pods to delete first (Kubernetes' ranking, simplified).

    In order: unscheduled before scheduled; Pending, then Unknown, then Running; not ready
    before ready; lower ``pod-deletion-cost`` first; ready for less time first; more
    container restarts first; newer first. (Kubernetes also prefers pods doubled up on a
    node; that rule is left out.)
    """
    status = pod.get("status") or {}
    phase_order = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase"), 0)
    ready = is_pod_ready(pod)
    try:
        cost = int((pod["metadata"].get("annotations") or {}).get(DELETION_COST_ANNOTATION, 0))
    except ValueError:
        cost = 0
    ready_since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime")) or 0.0
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        phase_order,
        ready,
        cost,
        -ready_since if ready else 0.0,
        -restarts,
        -created,
        pod["metadata"]["name"],
    )


# -- the controller ---------------------------------------------------------------------------


class ReplicaSetController(Controller):
    """``now``: wall clock in epoch seconds (compared with pods' Ready transition times);
    ``time_scale``: the sandbox's ``--time-scale`` (minReadySeconds is divided by it)."""

    name = COMPONENT
    resources = ("replicasets.apps", "pods")

    def __init__(
        self,
        registry: Registry,
        now: Callable[[], float] = time.time,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(registry)
        if time_scale <= 0:
            raise ValueError("time scale must be greater than 0")
        self.now = now
        self.time_scale = time_scale
        self._lock = threading.RLock()  # syncs may also come from callers outside the controller thread

    # -- running ---------------------------------------------------------------------------
    def tick(self) -> None:
        self.check_availability()

    def sync_all(self) -> None:
        self.reconcile_all()

    def reconcile_all(self) -> None:
        """Sync every ReplicaSet once (tests drive the controller with this)."""
        for rs in self.store.list(REPLICA_SETS.group_resource)[0]:
            self.sync(rs["metadata"]["namespace"], rs["metadata"]["name"])

    def check_availability(self) -> None:
        """Re-sync ReplicaSets whose ready pods may have become available since."""
        for rs in self.store.list(REPLICA_SETS.group_resource)[0]:
            status = rs.get("status") or {}
            if (rs["spec"].get("minReadySeconds") or 0) > 0 and status.get("readyReplicas", 0) > status.get(
                "availableReplicas", 0
            ):
                self.sync(rs["metadata"]["namespace"], rs["metadata"]["name"])

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        if event.resource == REPLICA_SETS.group_resource:
            if event.type != DELETED:
                self.sync(event.namespace, event.name)
            return
        for name in self._replica_sets_interested_in(event, obj):
            self.sync(event.namespace, name)

    def _replica_sets_interested_in(self, event: StoredEvent, pod: dict) -> set[str]:
        """The pod's controlling ReplicaSet (before and after the change), or, for an orphan,
        the ReplicaSets that may adopt it."""
        names: set[str] = set()
        versions = [pod] + ([json.loads(event.prev)] if event.prev else [])
        for version in versions:
            ref = controller_ref(version)
            if ref is not None:
                if ref.get("kind") == "ReplicaSet":
                    names.add(ref["name"])
            elif event.type != DELETED and is_pod_active(version):
                names.update(
                    rs["metadata"]["name"]
                    for rs in self.store.list(REPLICA_SETS.group_resource, event.namespace)[0]
                    if selector_matches(rs["spec"].get("selector"), version["metadata"].get("labels"))
                )
        return names

    # -- one ReplicaSet ----------------------------------------------------------------------
    def sync(self, namespace: str, name: str) -> None:
        with self._lock:
            rs = self.store.get(REPLICA_SETS.group_resource, namespace, name)
            if rs is None:
                return
            try:
                pods = self._claim_pods(rs)
                failure = None
                if not rs["metadata"].get("deletionTimestamp"):
                    failure = self._manage_replicas(rs, pods)
                    pods = self._claim_pods(rs)
                self._update_status(rs, pods, failure)
            except ApiError as exc:
                if exc.code not in (404, 409):  # gone or changed meanwhile: its next event re-syncs
                    raise

    def _claim_pods(self, rs: dict) -> list[dict]:
        """Active pods this ReplicaSet controls, after adopting orphans and releasing misfits."""
        uid = rs["metadata"]["uid"]
        selector = rs["spec"].get("selector")
        claimed = []
        for pod in self.store.list(PODS.group_resource, rs["metadata"]["namespace"])[0]:
            if not is_pod_active(pod):
                continue
            ref = controller_ref(pod)
            matches = selector_matches(selector, pod["metadata"].get("labels"))
            if ref is not None and ref.get("uid") == uid:
                if matches:
                    claimed.append(pod)
                else:
                    self._set_controller(pod, None, uid)
            elif ref is None and matches and not rs["metadata"].get("deletionTimestamp"):
                claimed.append(self._set_controller(pod, rs, uid))
        return claimed

    def _set_controller(self, pod: dict, owner: dict | None, uid: str) -> dict:
        """Adopt ``pod`` (``owner`` given) or release it from the controller with ``uid``."""
        updated = copy.deepcopy(pod)
        refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if owner is not None:
            refs.append(owner_reference_to(owner))
        if refs:
            updated["metadata"]["ownerReferences"] = refs
        else:
            updated["metadata"].pop("ownerReferences", None)
        return self.registry.update(
            PODS, pod["metadata"]["namespace"], pod["metadata"]["name"], updated, write_options()
        )

    def _manage_replicas(self, rs: dict, pods: list[dict]) -> str | None:
        """Create or delete pods toward ``spec.replicas``; the first error's message, if any."""
        diff = len(pods) - int(rs["spec"].get("replicas", 1))
        if diff < 0:
            for _ in range(min(-diff, BURST_REPLICAS)):
                error = self._create_pod(rs)
                if error:
                    return error  # stop at the first failure, as Kubernetes' slow start does
        elif diff > 0:
            for pod in sorted(pods, key=deletion_rank)[:diff]:
                error = self._delete_pod(rs, pod)
                if error:
                    return error
        return None

    def _create_pod(self, rs: dict) -> str | None:
        pod = pod_from_template(rs)
        prefix = rs["metadata"]["name"][:MAX_GENERATED_PREFIX] + "-"
        for _attempt in range(8):
            pod["metadata"]["name"] = prefix + random_suffix()
            try:
                created = self.registry.create(
                    PODS, rs["metadata"]["namespace"], copy.deepcopy(pod), write_options()
                )
            except ApiError as exc:
                if exc.code == 409 and exc.reason == "AlreadyExists":
                    continue  # a random name taken: draw another
                emit_event(
                    self.registry,
                    rs,
                    Reason.FAILED_CREATE,
                    Message.CREATE_FAILED.format(error=exc.message),
                    COMPONENT,
                    "Warning",
                )
                return exc.message
            emit_event(
                self.registry,
                rs,
                Reason.SUCCESSFUL_CREATE,
                Message.CREATED.format(name=created["metadata"]["name"]),
                COMPONENT,
            )
            return None
        return "could not find a free pod name"

    def _delete_pod(self, rs: dict, pod: dict) -> str | None:
        name = pod["metadata"]["name"]
        try:
            self.registry.delete(PODS, pod["metadata"]["namespace"], name, "Background")
        except ApiError as exc:
            if exc.code == 404:
                return None  # already gone: what we wanted
            emit_event(
                self.registry,
                rs,
                Reason.FAILED_DELETE,
                Message.DELETE_FAILED.format(error=exc.message),
                COMPONENT,
                "Warning",
            )
            return exc.message
        emit_event(self.registry, rs, Reason.SUCCESSFUL_DELETE, Message.DELETED.format(name=name), COMPONENT)
        return None

    # -- status ------------------------------------------------------------------------------
    def calculate_status(self, rs: dict, pods: list[dict], failure: str | None) -> dict:
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
        min_ready = (rs["spec"].get("minReadySeconds") or 0) / self.time_scale
        now = self.now()
        counts = {
            "replicas": len(pods),
            "fullyLabeledReplicas": sum(
                1
                for p in pods
                if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in template_labels.items())
            ),
            "readyReplicas": sum(1 for p in pods if is_pod_ready(p)),
            "availableReplicas": sum(1 for p in pods if is_pod_available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation") or 0,
        }
        # Zero counts are omitted, as the Go type's omitempty does (replicas is always sent).
        status = {k: v for k, v in counts.items() if v or k == "replicas"}
        conditions = _replica_failure(rs, failure, len(pods))
        if conditions:
            status["conditions"] = conditions
        return status

    def _update_status(self, rs: dict, pods: list[dict], failure: str | None) -> None:
        status = self.calculate_status(rs, pods, failure)
        if status == (rs.get("status") or {}):
            return
        updated = copy.deepcopy(rs)
        updated["status"] = status
        self.registry.update(
            REPLICA_SETS,
            rs["metadata"]["namespace"],
            rs["metadata"]["name"],
            updated,
            write_options(),
            "status",
        )


def _replica_failure(rs: dict, failure: str | None, active_pods: int) -> list[dict]:
    """Conditions with ReplicaFailure set on a failed create/delete and cleared on success."""
    existing = (rs.get("status") or {}).get("conditions") or []
    others = [c for c in existing if c.get("type") != "ReplicaFailure"]
    current = next((c for c in existing if c.get("type") == "ReplicaFailure"), None)
    if failure is None:
        return others
    if current is None:
        wanted = int(rs["spec"].get("replicas", 1))
        current = {
            "type": "ReplicaFailure",
            "status": "True",
            "lastTransitionTime": now_rfc3339(),
            "reason": Reason.FAILED_CREATE if active_pods < wanted else Reason.FAILED_DELETE,
            "message": failure,
        }
    return [*others, current]  # an existing failure keeps its first transition time


def pod_from_template(rs: dict) -> dict:
    """A pod as ``spec.template`` describes it, controlled by ``rs`` (name set by the caller)."""
    template = rs["spec"].get("template") or {}
    template_meta = template.get("metadata") or {}
    meta: dict = {"namespace": rs["metadata"]["namespace"], "ownerReferences": [owner_reference_to(rs)]}
    for key in ("labels", "annotations", "finalizers"):
        if template_meta.get(key):
            meta[key] = copy.deepcopy(template_meta[key])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
