"""Deployment controller: rolls a Deployment's pod template out through ReplicaSets.

The semantics of kube-controller-manager's deployment controller, so that ``kubectl rollout
status|history|undo``, Helm 3's ``--wait``, Helm 4's kstatus watcher and API clients read
Deployments as on a real cluster:

- Each distinct pod template gets a ReplicaSet ``<deployment>-<pod-template-hash>``; the hash
  label goes on the ReplicaSet's selector, template and labels (see ``pod_template_hash``).
- ``deployment.kubernetes.io/revision`` on the Deployment and its ReplicaSets: a new template
  gets max(old revisions) + 1; an old ReplicaSet whose template equals the Deployment's again
  is reused and takes the next revision (its former revisions go to ``revision-history``),
  which is what ``kubectl rollout undo`` relies on. ``desired-replicas`` / ``max-replicas``
  annotations record the sizes each ReplicaSet was scaled for (proportional scaling uses them).
- RollingUpdate (maxSurge rounds up, maxUnavailable rounds down; both 0 means 1 unavailable,
  as Kubernetes' fenceposts) and Recreate (old ReplicaSets to 0, wait until their pods are
  gone, then the new one at full size). ``spec.paused`` stops rollouts but not scaling; a
  ``spec.replicas`` change while several ReplicaSets are active is spread proportionally.
- Status: observedGeneration, replicas, updatedReplicas, readyReplicas, availableReplicas,
  unavailableReplicas (zero counts omitted, as the Go type's omitempty does), collisionCount,
  and the ``Available`` / ``Progressing`` / ``ReplicaFailure`` conditions.
- Old ReplicaSets beyond ``revisionHistoryLimit`` with no replicas are deleted once the
  rollout is complete (or while paused).

Time: ``progressDeadlineSeconds`` is simulated time, so the real deadline is divided by
``time_scale``. Progress is measured with ``clock`` (monotonic seconds by default; tests give
a fake one): the controller remembers, per Deployment, the clock reading at which it last
wrote the Progressing condition's lastUpdateTime. A condition it did not write (a restart)
is dated by the wall-clock age of that timestamp. The controller thread's ``tick`` hook
(about twice a second) re-syncs Deployments whose deadline has passed, since no event marks
that moment.

Every write goes through the registry with the object's resourceVersion: a 409 means a newer
version exists, whose event re-syncs. Nothing is written when nothing changed.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import Registry, now_rfc3339
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import DELETED, StoredEvent

from .base import Controller
from .replicaset import (
    REPLICA_SETS,
    SAFE_ALPHABET,
    controller_ref,
    emit_event,
    owner_reference_to,
    parse_time,
    selector_matches,
    write_options,
)

DEPLOYMENTS = by_kind("apps", "Deployment")
COMPONENT = "deployment-controller"

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Deployment annotations that are not copied onto its ReplicaSets.
NOT_COPIED_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        DESIRED_REPLICAS,
        MAX_REPLICAS,
        "deprecated.deployment.rollback.to",
    }
)
MAX_REVISION_HISTORY_CHARS = 2000
NO_LIMIT = 2**31 - 1  # progressDeadlineSeconds / revisionHistoryLimit meaning "never"

PROGRESSING, AVAILABLE, REPLICA_FAILURE = "Progressing", "Available", "ReplicaFailure"


class Reason:
    NEW_RS_CREATED = "NewReplicaSetCreated"
    FOUND_NEW_RS = "FoundNewReplicaSet"
    RS_UPDATED = "ReplicaSetUpdated"
    NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
    TIMED_OUT = "ProgressDeadlineExceeded"
    RS_CREATE_ERROR = "ReplicaSetCreateError"
    PAUSED = "DeploymentPaused"
    RESUMED = "DeploymentResumed"
    MIN_AVAILABLE = "MinimumReplicasAvailable"
    MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
    # events
    SCALING = "ScalingReplicaSet"
    FAILED_CREATE = "FailedCreate"


class Message:
    CREATED_RS = 'Created new replica set "{rs}"'
    FOUND_RS = 'Found new replica set "{rs}"'
    RS_PROGRESSING = 'ReplicaSet "{rs}" is progressing.'
    RS_COMPLETE = 'ReplicaSet "{rs}" has successfully progressed.'
    RS_TIMED_OUT = 'ReplicaSet "{rs}" has timed out progressing.'
    DEPLOYMENT_PROGRESSING = 'Deployment "{name}" is progressing.'
    DEPLOYMENT_COMPLETE = 'Deployment "{name}" has successfully progressed.'
    DEPLOYMENT_TIMED_OUT = 'Deployment "{name}" has timed out progressing.'
    RS_CREATE_FAILED = 'Failed to create new replica set "{rs}": {error}'
    PAUSED = "Deployment is paused"
    RESUMED = "Deployment is resumed"
    MIN_AVAILABLE = "Deployment has minimum availability."
    MIN_UNAVAILABLE = "Deployment does not have minimum availability."
    SCALED = "Scaled {direction} replica set {rs} from {old} to {new}"


class _Retry(Exception):
    """This sync cannot go on now; a later event or tick tries again."""


# -- counting and rounding -------------------------------------------------------------------


def replicas_of(obj: dict) -> int:
    return int((obj.get("spec") or {}).get("replicas") or 0)


def status_count(obj: dict | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def _annotation_int(obj: dict, key: str) -> int | None:
    try:
        return int((obj["metadata"].get("annotations") or {})[key])
    except (KeyError, TypeError, ValueError):
        return None


def revision_of(rs: dict) -> int:
    return _annotation_int(rs, REVISION) or 0


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString against ``total``: ints as they are, ``"N%"`` of total, rounded."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        if not text.endswith("%"):
            return int(text)
        percent = int(text[:-1])
    except ValueError:
        return 0
    return -(-percent * total // 100) if round_up else percent * total // 100


def is_rolling(d: dict) -> bool:
    return ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "RollingUpdate"


def fenceposts(d: dict) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods; never both 0, so a rollout can always move."""
    rolling = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas_of(d)
    surge = scaled_value(rolling.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: dict) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: dict) -> int:
    if not is_rolling(d) or replicas_of(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas_of(d))


def has_progress_deadline(d: dict) -> bool:
    return d["spec"].get("progressDeadlineSeconds") not in (None, NO_LIMIT)


# -- templates, hashes and ReplicaSet identity -----------------------------------------------


def fnv1a_32(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def pod_template_hash(template: dict, collision_count: int | None = None) -> str:
    """FNV-1a (32 bit) of the template's canonical JSON (sorted keys; then ``/<collisionCount>``
    when set), its decimal digits mapped into the safe alphabet: at most 10 characters,
    stable across processes. Not Kubernetes' exact value (it hashes Go's printed struct)."""
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    if collision_count is not None:
        text += f"/{collision_count}"
    return "".join(SAFE_ALPHABET[ord(digit) % len(SAFE_ALPHABET)] for digit in str(fnv1a_32(text.encode())))


def _without_hash(template: dict | None) -> dict:
    clean = copy.deepcopy(template or {})
    labels = (clean.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return clean


def same_template(rs: dict, d: dict) -> bool:
    return _without_hash(rs["spec"].get("template")) == _without_hash(d["spec"].get("template"))


def _creation_key(obj: dict) -> tuple[float, str]:
    return parse_time(obj["metadata"].get("creationTimestamp")) or 0.0, obj["metadata"]["name"]


def oldest_first(rs_list: list[dict]) -> list[dict]:
    return sorted(rs_list, key=_creation_key)


def active(rs_list: list[dict | None]) -> list[dict]:
    return [rs for rs in rs_list if rs is not None and replicas_of(rs) > 0]


def split_new_and_old(d: dict, rs_list: list[dict]) -> tuple[dict | None, list[dict]]:
    """The oldest ReplicaSet with the Deployment's template, and all the others."""
    new_rs = next((rs for rs in oldest_first(rs_list) if same_template(rs, d)), None)
    return new_rs, [
        rs for rs in rs_list if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]
    ]


# -- annotations ------------------------------------------------------------------------------


def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    wanted = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(max_replicas)}
    changed = any(annotations.get(k) != v for k, v in wanted.items())
    annotations.update(wanted)
    return changed


def set_new_rs_annotations(d: dict, rs: dict, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations and raise the revision (keeping the former revision
    in revision-history); a ReplicaSet about to be created also gets its replica annotations."""
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in NOT_COPIED_ANNOTATIONS and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    old_text = annotations.get(REVISION)
    old_revision = revision_of(rs)
    if old_revision < new_revision:
        annotations[REVISION] = str(new_revision)
        changed = True
        if old_text:
            _append_revision_history(annotations, old_text)
    if not exists:
        changed = set_replicas_annotations(rs, replicas_of(d), replicas_of(d) + max_surge(d)) or changed
    return changed


def _append_revision_history(annotations: dict, old_revision: str) -> None:
    history = [r for r in (annotations.get(REVISION_HISTORY) or "").split(",") if r] + [old_revision]
    while len(",".join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
        history.pop(0)  # the oldest revisions go first
    annotations[REVISION_HISTORY] = ",".join(history)


# -- conditions and status --------------------------------------------------------------------


def get_condition(status: dict | None, type_: str) -> dict | None:
    return next((c for c in (status or {}).get("conditions") or [] if c.get("type") == type_), None)


def new_condition(type_: str, status: str, reason: str, message: str) -> dict:
    stamp = now_rfc3339()
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: dict, condition: dict) -> None:
    """Kubernetes' rule: same status and reason is no change; same status keeps the transition time."""
    current = get_condition(status, condition["type"])
    if (
        current is not None
        and current["status"] == condition["status"]
        and current.get("reason") == condition.get("reason")
    ):
        return
    if current is not None and current["status"] == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, condition["type"])
    status.setdefault("conditions", []).append(condition)


def remove_condition(status: dict, type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def calculate_status(d: dict, rs_list: list[dict], new_rs: dict | None) -> dict:
    available = sum(status_count(rs, "availableReplicas") for rs in rs_list)
    counts = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": sum(status_count(rs, "replicas") for rs in rs_list),
        "updatedReplicas": status_count(new_rs, "replicas"),
        "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in rs_list),
        "availableReplicas": available,
        # Pods still missing for full capacity: wanted by the ReplicaSets but not available.
        "unavailableReplicas": max(0, sum(replicas_of(rs) for rs in rs_list) - available),
    }
    status: dict = {k: v for k, v in counts.items() if v}  # omitempty
    old_status = d.get("status") or {}
    if old_status.get("conditions"):
        status["conditions"] = copy.deepcopy(old_status["conditions"])
    if old_status.get("collisionCount") is not None:
        status["collisionCount"] = old_status["collisionCount"]
    if available >= replicas_of(d) - max_unavailable(d):
        set_condition(status, new_condition(AVAILABLE, "True", Reason.MIN_AVAILABLE, Message.MIN_AVAILABLE))
    else:
        set_condition(
            status, new_condition(AVAILABLE, "False", Reason.MIN_UNAVAILABLE, Message.MIN_UNAVAILABLE)
        )
    return status


def deployment_complete(d: dict, status: dict) -> bool:
    wanted = replicas_of(d)
    return (
        int(status.get("updatedReplicas") or 0) == wanted
        and int(status.get("replicas") or 0) == wanted
        and int(status.get("availableReplicas") or 0) == wanted
        and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0)
    )


def deployment_progressing(d: dict, new_status: dict) -> bool:
    """More updated, ready or available pods, or fewer old ones, than the stored status says."""
    old = d.get("status") or {}

    def count(status: dict, key: str) -> int:
        return int(status.get(key) or 0)

    old_olds = count(old, "replicas") - count(old, "updatedReplicas")
    new_olds = count(new_status, "replicas") - count(new_status, "updatedReplicas")
    return (
        count(new_status, "updatedReplicas") > count(old, "updatedReplicas")
        or new_olds < old_olds
        or count(new_status, "readyReplicas") > count(old, "readyReplicas")
        or count(new_status, "availableReplicas") > count(old, "availableReplicas")
    )


def _replica_failure(new_rs: dict | None, old_rses: list[dict]) -> dict | None:
    """The new ReplicaSet's ReplicaFailure condition (else an old one's), as a Deployment condition."""
    for rs in ([new_rs] if new_rs else []) + old_rses:
        cond = get_condition(rs.get("status"), REPLICA_FAILURE)
        if cond is not None:
            stamp = cond.get("lastTransitionTime")
            return {
                "type": REPLICA_FAILURE,
                "status": cond.get("status"),
                "lastUpdateTime": stamp,
                "lastTransitionTime": stamp,
                "reason": cond.get("reason"),
                "message": cond.get("message"),
            }
    return None


# -- proportional scaling ---------------------------------------------------------------------


def find_active_or_latest(new_rs: dict | None, old_rses: list[dict]) -> dict | None:
    """The only ReplicaSet with replicas; or, with none, the newest; None when several have some."""
    if new_rs is None and not old_rses:
        return None
    olds_newest_first = sorted(old_rses, key=_creation_key, reverse=True)
    running = active([new_rs, *olds_newest_first])
    if not running:
        return new_rs if new_rs is not None else olds_newest_first[0]
    return running[0] if len(running) == 1 else None


def is_saturated(d: dict, rs: dict | None) -> bool:
    wanted = replicas_of(d)
    return (
        rs is not None
        and replicas_of(rs) == wanted
        and _annotation_int(rs, DESIRED_REPLICAS) == wanted
        and status_count(rs, "availableReplicas") == wanted
    )


def _proportion(rs: dict, d: dict, to_add: int, added: int) -> int:
    """This ReplicaSet's share of a scaling, by the size it was last scaled for (max-replicas)."""
    if replicas_of(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    if replicas_of(d) == 0:
        fraction = -replicas_of(rs)
    else:
        annotated = _annotation_int(rs, MAX_REPLICAS)
        if annotated is None:
            annotated = status_count(d, "replicas")
        if not annotated:
            return 0
        new_size = replicas_of(rs) * (replicas_of(d) + max_surge(d)) / annotated
        fraction = int(new_size + 0.5) - replicas_of(rs)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def new_rs_new_replicas(d: dict, all_rses: list[dict], new_rs: dict) -> int:
    """The size the new ReplicaSet may have now: within maxSurge for RollingUpdate."""
    if not is_rolling(d):
        return replicas_of(d)
    current = sum(replicas_of(rs) for rs in all_rses)
    max_total = replicas_of(d) + max_surge(d)
    if current >= max_total:
        return replicas_of(new_rs)
    return replicas_of(new_rs) + min(max_total - current, replicas_of(d) - replicas_of(new_rs))


# -- the controller ---------------------------------------------------------------------------


class DeploymentController(Controller):
    """``clock``: monotonic seconds, for progress deadlines; ``time_scale``: the sandbox's
    ``--time-scale`` (progressDeadlineSeconds is divided by it). Run it with
    ``start(stop_event)``; its ``tick`` looks for passed deadlines."""

    name = COMPONENT
    resources = ("deployments.apps", "replicasets.apps", "pods")

    def __init__(
        self,
        registry: Registry,
        clock: Callable[[], float] = time.monotonic,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(registry)
        if time_scale <= 0:
            raise ValueError("time scale must be greater than 0")
        self.clock = clock
        self.time_scale = time_scale
        self._lock = threading.RLock()  # syncs may also come from callers outside the controller thread
        # Deployment uid -> (Progressing lastUpdateTime we wrote, clock reading then).
        self._progress_marks: dict[str, tuple[str, float]] = {}

    # -- running ---------------------------------------------------------------------------
    def tick(self) -> None:
        self.check_deadlines()

    def sync_all(self) -> None:
        self.reconcile_all()

    def reconcile_all(self) -> None:
        """Sync every Deployment once (tests drive the controller with this)."""
        for d in self.store.list(DEPLOYMENTS.group_resource)[0]:
            self.sync(d["metadata"]["namespace"], d["metadata"]["name"])

    def check_deadlines(self) -> None:
        """Sync the Deployments whose progress deadline has passed since their last progress."""
        for d in self.store.list(DEPLOYMENTS.group_resource)[0]:
            cond = get_condition(d.get("status"), PROGRESSING)
            if (
                d["spec"].get("paused")
                or d["metadata"].get("deletionTimestamp")
                or cond is None
                or cond.get("reason") in (Reason.NEW_RS_AVAILABLE, Reason.TIMED_OUT, Reason.PAUSED)
            ):
                continue
            if self._timed_out(d, d.get("status") or {}):
                self.sync(d["metadata"]["namespace"], d["metadata"]["name"])

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        if event.resource == DEPLOYMENTS.group_resource:
            if event.type == DELETED:
                self._progress_marks.pop(obj["metadata"].get("uid"), None)
            else:
                self.sync(event.namespace, event.name)
        elif event.resource == REPLICA_SETS.group_resource:
            for name in self._deployments_interested_in(event, obj):
                self.sync(event.namespace, name)
        elif event.type == DELETED:
            self._on_pod_deleted(event.namespace, obj)

    def _deployments_interested_in(self, event: StoredEvent, rs: dict) -> set[str]:
        names: set[str] = set()
        for version in [rs] + ([json.loads(event.prev)] if event.prev else []):
            ref = controller_ref(version)
            if ref is not None:
                if ref.get("kind") == "Deployment":
                    names.add(ref["name"])
            elif event.type != DELETED:
                names.update(
                    d["metadata"]["name"]
                    for d in self.store.list(DEPLOYMENTS.group_resource, event.namespace)[0]
                    if selector_matches(d["spec"].get("selector"), version["metadata"].get("labels"))
                )
        return names

    def _on_pod_deleted(self, namespace: str, pod: dict) -> None:
        """A Recreate rollout waits for old pods to be gone."""
        ref = controller_ref(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.store.get(REPLICA_SETS.group_resource, namespace, ref["name"])
        owner = controller_ref(rs) if rs else None
        if owner is None or owner.get("kind") != "Deployment":
            return
        d = self.store.get(DEPLOYMENTS.group_resource, namespace, owner["name"])
        if d is not None and not is_rolling(d):
            self.sync(namespace, owner["name"])

    # -- one Deployment ----------------------------------------------------------------------
    def sync(self, namespace: str, name: str) -> None:
        with self._lock:
            d = self.store.get(DEPLOYMENTS.group_resource, namespace, name)
            if d is None:
                return
            try:
                self._sync(d)
            except _Retry:
                pass
            except ApiError as exc:
                if exc.code not in (404, 409):  # gone or changed meanwhile: its next event re-syncs
                    raise

    def _sync(self, d: dict) -> None:
        if d["metadata"].get("deletionTimestamp"):
            d, _new, _old = self._new_and_old(d, create=False)
            self._sync_status(d)
            return
        d = self._check_paused_condition(d)
        if d["spec"].get("paused"):
            self._scale_only(d)
            return
        d, scaling = self._is_scaling_event(d)
        if scaling:
            self._scale_only(d)
        elif is_rolling(d):
            self._rollout_rolling(d)
        else:
            self._rollout_recreate(d)

    # -- ReplicaSets of a Deployment ---------------------------------------------------------
    def _owned(self, d: dict) -> list[dict]:
        uid = d["metadata"]["uid"]
        return [
            rs
            for rs in self.store.list(REPLICA_SETS.group_resource, d["metadata"]["namespace"])[0]
            if (controller_ref(rs) or {}).get("uid") == uid
        ]

    def _claim_replica_sets(self, d: dict) -> list[dict]:
        """Owned ReplicaSets, after adopting orphans the selector matches."""
        uid = d["metadata"]["uid"]
        claimed = []
        for rs in self.store.list(REPLICA_SETS.group_resource, d["metadata"]["namespace"])[0]:
            ref = controller_ref(rs)
            if ref is not None:
                if ref.get("uid") == uid:
                    claimed.append(rs)
                continue
            if rs["metadata"].get("deletionTimestamp") or not selector_matches(
                d["spec"].get("selector"), rs["metadata"].get("labels")
            ):
                continue
            adopted = copy.deepcopy(rs)
            adopted["metadata"]["ownerReferences"] = [
                *(rs["metadata"].get("ownerReferences") or []),
                owner_reference_to(d),
            ]
            claimed.append(self._update_rs(adopted))
        return claimed

    def _new_and_old(self, d: dict, create: bool) -> tuple[dict, dict | None, list[dict]]:
        """(Deployment, new ReplicaSet or None, old ReplicaSets) with revisions in sync."""
        new_rs, old_rses = split_new_and_old(d, self._claim_replica_sets(d))
        new_revision = max((revision_of(rs) for rs in old_rses), default=0) + 1
        if new_rs is not None:
            d, new_rs = self._sync_existing_new_rs(d, new_rs, new_revision)
        elif create:
            d, new_rs = self._create_new_rs(d, old_rses, new_revision)
        return d, new_rs, old_rses

    def _sync_existing_new_rs(self, d: dict, rs: dict, new_revision: int) -> tuple[dict, dict]:
        updated = copy.deepcopy(rs)
        changed = set_new_rs_annotations(d, updated, new_revision, exists=True)
        min_ready = d["spec"].get("minReadySeconds") or 0
        if (rs["spec"].get("minReadySeconds") or 0) != min_ready:
            _set_min_ready(updated, min_ready)
            changed = True
        if changed:
            rs = self._update_rs(updated)
        d = self._set_revision(d, (rs["metadata"].get("annotations") or {}).get(REVISION, ""))
        if has_progress_deadline(d) and get_condition(d.get("status"), PROGRESSING) is None:
            status = copy.deepcopy(d.get("status") or {})
            rs_name = rs["metadata"]["name"]
            set_condition(
                status, self._progressing(d, "True", Reason.FOUND_NEW_RS, Message.FOUND_RS.format(rs=rs_name))
            )
            d = self._write_status(d, status)
        return d, rs

    def _create_new_rs(self, d: dict, old_rses: list[dict], new_revision: int) -> tuple[dict, dict]:
        collision_count = (d.get("status") or {}).get("collisionCount")
        template_hash = pod_template_hash(d["spec"]["template"], collision_count)
        template = copy.deepcopy(d["spec"]["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = template_hash
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = template_hash
        rs_name = f"{d['metadata']['name']}-{template_hash}"
        rs = {
            "apiVersion": REPLICA_SETS.api_version,
            "kind": REPLICA_SETS.kind,
            "metadata": {
                "name": rs_name,
                "namespace": d["metadata"]["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [owner_reference_to(d)],
            },
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }
        _set_min_ready(rs, d["spec"].get("minReadySeconds") or 0)
        rs["spec"]["replicas"] = new_rs_new_replicas(d, old_rses, rs)
        set_new_rs_annotations(d, rs, new_revision, exists=False)
        try:
            created = self.registry.create(REPLICA_SETS, d["metadata"]["namespace"], rs, write_options())
        except ApiError as exc:
            if exc.reason == "AlreadyExists":
                return self._on_name_taken(d, rs_name, new_revision)
            self._on_create_failed(d, rs_name, exc)
            raise _Retry from exc
        size = replicas_of(created)
        if size > 0:
            self._scaled_event(d, rs_name, 0, size)
        d = self._set_revision(d, str(new_revision))
        if has_progress_deadline(d):
            status = copy.deepcopy(d.get("status") or {})
            set_condition(
                status,
                self._progressing(d, "True", Reason.NEW_RS_CREATED, Message.CREATED_RS.format(rs=rs_name)),
            )
            d = self._write_status(d, status)
        return d, created

    def _on_name_taken(self, d: dict, rs_name: str, new_revision: int) -> tuple[dict, dict]:
        """Ours with this template already (an earlier pass made it), or a hash collision."""
        existing = self.store.get(REPLICA_SETS.group_resource, d["metadata"]["namespace"], rs_name)
        if (
            existing is not None
            and (controller_ref(existing) or {}).get("uid") == d["metadata"]["uid"]
            and same_template(existing, d)
        ):
            return self._sync_existing_new_rs(d, existing, new_revision)
        status = copy.deepcopy(d.get("status") or {})
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        self._write_status(d, status)
        raise _Retry  # the status event re-syncs with the next hash

    def _on_create_failed(self, d: dict, rs_name: str, exc: ApiError) -> None:
        message = Message.RS_CREATE_FAILED.format(rs=rs_name, error=exc.message)
        emit_event(self.registry, d, Reason.FAILED_CREATE, message, COMPONENT, "Warning")
        if has_progress_deadline(d):
            status = copy.deepcopy(d.get("status") or {})
            set_condition(status, new_condition(PROGRESSING, "False", Reason.RS_CREATE_ERROR, message))
            self._write_status(d, status)

    # -- paused and scaling ------------------------------------------------------------------
    def _check_paused_condition(self, d: dict) -> dict:
        """Progressing Unknown with DeploymentPaused / DeploymentResumed (not over a timeout)."""
        if not has_progress_deadline(d):
            return d
        cond = get_condition(d.get("status"), PROGRESSING)
        if cond is not None and cond.get("reason") == Reason.TIMED_OUT:
            return d
        paused_recorded = cond is not None and cond.get("reason") == Reason.PAUSED
        if d["spec"].get("paused") and not paused_recorded:
            condition = self._progressing(d, "Unknown", Reason.PAUSED, Message.PAUSED)
        elif not d["spec"].get("paused") and paused_recorded:
            condition = self._progressing(d, "Unknown", Reason.RESUMED, Message.RESUMED)
        else:
            return d
        status = copy.deepcopy(d.get("status") or {})
        set_condition(status, condition)
        return self._write_status(d, status)

    def _is_scaling_event(self, d: dict) -> tuple[dict, bool]:
        """Whether an active ReplicaSet was sized for another spec.replicas (a scale, not a rollout)."""
        d, new_rs, old_rses = self._new_and_old(d, create=False)
        for rs in active([new_rs, *old_rses]):
            desired = _annotation_int(rs, DESIRED_REPLICAS)
            if desired is not None and desired != replicas_of(d):
                return d, True
        return d, False

    def _scale_only(self, d: dict) -> None:
        d, new_rs, old_rses = self._new_and_old(d, create=False)
        self._scale(d, new_rs, old_rses)
        if d["spec"].get("paused"):
            self._cleanup(d)
        self._sync_status(d)

    def _scale(self, d: dict, new_rs: dict | None, old_rses: list[dict]) -> None:
        only = find_active_or_latest(new_rs, old_rses)
        if only is not None:
            self._scale_rs(d, only, replicas_of(d))
            return
        if is_saturated(d, new_rs):
            for rs in active(old_rses):
                self._scale_rs(d, rs, 0)
            return
        if not is_rolling(d):
            return
        running = active([new_rs, *old_rses])
        allowed = replicas_of(d) + max_surge(d) if replicas_of(d) > 0 else 0
        to_add = allowed - sum(replicas_of(rs) for rs in running)
        # Grow the biggest (newest on ties) first; shrink the biggest (oldest on ties) first.
        newer_first = to_add > 0
        running.sort(key=_creation_key, reverse=newer_first)
        running.sort(key=replicas_of, reverse=True)
        sizes, added = [], 0
        for rs in running:
            share = _proportion(rs, d, to_add, added)
            sizes.append(replicas_of(rs) + share)
            added += share
        if running and to_add != 0:
            sizes[0] = max(0, sizes[0] + to_add - added)  # the rounding leftover goes to the biggest
        for rs, size in zip(running, sizes, strict=True):
            self._scale_rs(d, rs, size)

    # -- rollouts ----------------------------------------------------------------------------
    def _rollout_rolling(self, d: dict) -> None:
        d, new_rs, old_rses = self._new_and_old(d, create=True)
        all_rses = [*old_rses, new_rs]
        if self._reconcile_new_rs(d, all_rses, new_rs) or self._reconcile_old_rses(
            d, all_rses, old_rses, new_rs
        ):
            self._sync_rollout_status(d)
            return
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d)
        self._sync_rollout_status(d)

    def _reconcile_new_rs(self, d: dict, all_rses: list[dict], new_rs: dict) -> bool:
        if replicas_of(new_rs) == replicas_of(d):
            return False
        if replicas_of(new_rs) > replicas_of(d):
            return self._scale_rs(d, new_rs, replicas_of(d))[0]
        return self._scale_rs(d, new_rs, new_rs_new_replicas(d, all_rses, new_rs))[0]

    def _reconcile_old_rses(self, d: dict, all_rses: list[dict], old_rses: list[dict], new_rs: dict) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows, unhealthy pods first."""
        if sum(replicas_of(rs) for rs in old_rses) == 0:
            return False
        min_available = replicas_of(d) - max_unavailable(d)
        new_unavailable = replicas_of(new_rs) - status_count(new_rs, "availableReplicas")
        max_scaled_down = sum(replicas_of(rs) for rs in all_rses) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rses, cleaned = self._scale_down_unhealthy(d, old_rses, max_scaled_down)
        scaled = self._scale_down_old_for_rolling(d, [*old_rses, new_rs], old_rses)
        return cleaned + scaled > 0

    def _scale_down_unhealthy(self, d: dict, old_rses: list[dict], budget: int) -> tuple[list[dict], int]:
        """Remove old pods that are not available anyway, up to ``budget``."""
        result, total = [], 0
        for rs in oldest_first(old_rses):
            unhealthy = replicas_of(rs) - status_count(rs, "availableReplicas")
            if total < budget and replicas_of(rs) > 0 and unhealthy > 0:
                count = min(budget - total, unhealthy)
                rs = self._scale_rs(d, rs, replicas_of(rs) - count)[1]
                total += count
            result.append(rs)
        return result, total

    def _scale_down_old_for_rolling(self, d: dict, all_rses: list[dict], old_rses: list[dict]) -> int:
        """Remove available old pods beyond what keeps replicas - maxUnavailable available."""
        min_available = replicas_of(d) - max_unavailable(d)
        budget = sum(status_count(rs, "availableReplicas") for rs in all_rses) - min_available
        total = 0
        for rs in oldest_first(old_rses):
            if total >= budget:
                break
            if replicas_of(rs) == 0:
                continue
            count = min(replicas_of(rs), budget - total)
            self._scale_rs(d, rs, replicas_of(rs) - count)
            total += count
        return total

    def _rollout_recreate(self, d: dict) -> None:
        d, new_rs, old_rses = self._new_and_old(d, create=False)
        scaled_down = False
        for rs in active(old_rses):
            scaled_down = self._scale_rs(d, rs, 0)[0] or scaled_down
        if scaled_down or self._old_pods_running(new_rs, old_rses):
            self._sync_rollout_status(d)
            return
        if new_rs is None:
            d, new_rs, old_rses = self._new_and_old(d, create=True)
        self._scale_rs(d, new_rs, replicas_of(d))
        if deployment_complete(d, d.get("status") or {}):
            self._cleanup(d)
        self._sync_rollout_status(d)

    def _old_pods_running(self, new_rs: dict | None, old_rses: list[dict]) -> bool:
        if sum(status_count(rs, "replicas") for rs in old_rses) > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rses}
        if not old_uids:
            return False
        namespace = old_rses[0]["metadata"]["namespace"]
        return any(
            (controller_ref(pod) or {}).get("uid") in old_uids
            and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            for pod in self.store.list("pods", namespace)[0]
        )

    def _cleanup(self, d: dict) -> None:
        """Delete the oldest revisions beyond revisionHistoryLimit, if they have no pods left."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None or limit == NO_LIMIT:
            return
        _new, old_rses = split_new_and_old(d, self._owned(d))
        candidates = [rs for rs in old_rses if not rs["metadata"].get("deletionTimestamp")]
        excess = len(candidates) - int(limit)
        if excess <= 0:
            return
        by_revision = sorted(candidates, key=lambda rs: (revision_of(rs), _creation_key(rs)))
        for rs in by_revision[:excess]:
            if (
                status_count(rs, "replicas")
                or replicas_of(rs)
                or int(rs["metadata"].get("generation") or 0) > status_count(rs, "observedGeneration")
            ):
                continue
            try:
                self.registry.delete(
                    REPLICA_SETS, rs["metadata"]["namespace"], rs["metadata"]["name"], "Background"
                )
            except ApiError as exc:
                if exc.code != 404:
                    raise

    # -- status ------------------------------------------------------------------------------
    def _split_fresh(self, d: dict) -> tuple[list[dict], dict | None, list[dict]]:
        rs_list = self._owned(d)
        new_rs, old_rses = split_new_and_old(d, rs_list)
        return rs_list, new_rs, old_rses

    def _sync_status(self, d: dict) -> None:
        """Counts and Available only (paused, scaling, deleting)."""
        rs_list, new_rs, _old = self._split_fresh(d)
        status = calculate_status(d, rs_list, new_rs)
        if status != (d.get("status") or {}):
            self._write_status(d, status)

    def _sync_rollout_status(self, d: dict) -> None:
        """Counts, Available, and Progressing as the rollout moves, completes or times out."""
        rs_list, new_rs, old_rses = self._split_fresh(d)
        status = calculate_status(d, rs_list, new_rs)
        if not has_progress_deadline(d):
            remove_condition(status, PROGRESSING)
        current = get_condition(d.get("status"), PROGRESSING)
        already_complete = (
            status.get("replicas") == status.get("updatedReplicas")
            and current is not None
            and current.get("reason") == Reason.NEW_RS_AVAILABLE
        )
        if has_progress_deadline(d) and not already_complete:
            self._update_progressing(d, status, new_rs, current)
        failure = _replica_failure(new_rs, old_rses)
        if failure is not None:
            set_condition(status, failure)
        else:
            remove_condition(status, REPLICA_FAILURE)
        if status != (d.get("status") or {}):
            self._write_status(d, status)

    def _update_progressing(self, d: dict, status: dict, new_rs: dict | None, current: dict | None) -> None:
        name = d["metadata"]["name"]
        rs_name = new_rs["metadata"]["name"] if new_rs else None

        def message(for_rs: str, for_deployment: str) -> str:
            return for_rs.format(rs=rs_name) if rs_name else for_deployment.format(name=name)

        if deployment_complete(d, status):
            text = message(Message.RS_COMPLETE, Message.DEPLOYMENT_COMPLETE)
            set_condition(status, new_condition(PROGRESSING, "True", Reason.NEW_RS_AVAILABLE, text))
        elif deployment_progressing(d, status):
            text = message(Message.RS_PROGRESSING, Message.DEPLOYMENT_PROGRESSING)
            condition = self._progressing(d, "True", Reason.RS_UPDATED, text)
            # Progress renews lastUpdateTime even with the same reason; the transition time stays.
            if current is not None and current.get("status") == "True":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            remove_condition(status, PROGRESSING)
            set_condition(status, condition)
        elif self._timed_out(d, status):
            text = message(Message.RS_TIMED_OUT, Message.DEPLOYMENT_TIMED_OUT)
            set_condition(status, new_condition(PROGRESSING, "False", Reason.TIMED_OUT, text))

    def _progressing(self, d: dict, status: str, reason: str, message: str) -> dict:
        """A Progressing condition whose lastUpdateTime starts the progress deadline anew."""
        condition = new_condition(PROGRESSING, status, reason, message)
        self._progress_marks[d["metadata"]["uid"]] = (condition["lastUpdateTime"], self.clock())
        return condition

    def _timed_out(self, d: dict, status: dict) -> bool:
        if not has_progress_deadline(d):
            return False
        cond = get_condition(status, PROGRESSING)
        if cond is None or cond.get("reason") == Reason.NEW_RS_AVAILABLE:
            return False
        if cond.get("reason") == Reason.TIMED_OUT:
            return True
        deadline = int(d["spec"]["progressDeadlineSeconds"]) / self.time_scale
        return self._progress_origin(d, cond) + deadline < self.clock()

    def _progress_origin(self, d: dict, cond: dict) -> float:
        """The clock reading at the condition's lastUpdateTime."""
        uid, stamp = d["metadata"]["uid"], cond.get("lastUpdateTime") or ""
        mark = self._progress_marks.get(uid)
        if mark is not None and mark[0] == stamp:
            return mark[1]
        written = parse_time(stamp)
        age = max(0.0, time.time() - written) if written is not None else 0.0
        origin = self.clock() - age
        self._progress_marks[uid] = (stamp, origin)
        return origin

    # -- writes ------------------------------------------------------------------------------
    def _scale_rs(self, d: dict, rs: dict, size: int) -> tuple[bool, dict]:
        """Set a ReplicaSet's size (and its replica annotations); (size changed, ReplicaSet)."""
        old_size = replicas_of(rs)
        updated = copy.deepcopy(rs)
        annotations_changed = set_replicas_annotations(updated, replicas_of(d), replicas_of(d) + max_surge(d))
        if old_size == size and not annotations_changed:
            return False, rs
        updated["spec"]["replicas"] = size
        rs = self._update_rs(updated)
        if old_size != size:
            self._scaled_event(d, rs["metadata"]["name"], old_size, size)
        return old_size != size, rs

    def _scaled_event(self, d: dict, rs_name: str, old: int, new: int) -> None:
        direction = "up" if new > old else "down"
        message = Message.SCALED.format(direction=direction, rs=rs_name, old=old, new=new)
        emit_event(self.registry, d, Reason.SCALING, message, COMPONENT)

    def _update_rs(self, rs: dict) -> dict:
        meta = rs["metadata"]
        return self.registry.update(REPLICA_SETS, meta["namespace"], meta["name"], rs, write_options())

    def _set_revision(self, d: dict, revision: str) -> dict:
        if not revision or (d["metadata"].get("annotations") or {}).get(REVISION) == revision:
            return d
        updated = copy.deepcopy(d)
        updated["metadata"].setdefault("annotations", {})[REVISION] = revision
        meta = d["metadata"]
        return self.registry.update(DEPLOYMENTS, meta["namespace"], meta["name"], updated, write_options())

    def _write_status(self, d: dict, status: dict) -> dict:
        updated = copy.deepcopy(d)
        updated["status"] = status
        meta = d["metadata"]
        return self.registry.update(
            DEPLOYMENTS, meta["namespace"], meta["name"], updated, write_options(), "status"
        )


def _set_min_ready(rs: dict, seconds: int) -> None:
    if seconds:
        rs["spec"]["minReadySeconds"] = seconds
    else:
        rs["spec"].pop("minReadySeconds", None)
