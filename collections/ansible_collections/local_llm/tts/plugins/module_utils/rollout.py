"""Watch a Deployment's rollout to a Ready pod, or fail fast with a diagnosis.

Two parts:

* pure assessment (``rollout_progress``, ``pod_failure``, ``assess``): decides from JSON dicts whether the
  rollout is complete (as ``kubectl rollout status`` decides), still going, or clearly failing;
* the mechanism (``watch_rollout``): the official client's ``watch.Watch()`` on the Deployment and on its
  pods, each in a feed thread that lists, watches from the list's resourceVersion, re-watches from the last
  resourceVersion when a stream ends and relists on 410 Gone or an early, empty end. API errors (5xx, 429,
  connection resets) are retried with back-off until the timeout (``cluster_client.call_with_retry``); a
  ``cluster_client.ClusterConfigError`` (401/403, TLS) ends the watch at once. On failure the pod, its
  events and its current and previous logs are read and ``diagnosis.diagnose`` names the cause.

Fail-fast signals on a pod of the new ReplicaSet: a container waiting in CrashLoopBackOff,
ImagePullBackOff, ErrImagePull or CreateContainerConfigError; a container terminated OOMKilled, or with a
non-zero exit code and restartCount >= 1 (no need to wait for the back-off); PodScheduled=False
Unschedulable. On the Deployment: Progressing=False ProgressDeadlineExceeded, except while a new pod's
container is still running its first attempt: its own outcome (a crash with a log line, or Ready) says
more than the deadline, so the watch goes on until that outcome or the timeout.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    BACKOFF_FIRST,
    ClusterClient,
    ClusterConfigError,
    ClusterUnavailable,
    call_with_retry,
    retriable,
)
from ansible_collections.local_llm.tts.plugins.module_utils.diagnosis import diagnose
from ansible_collections.local_llm.tts.plugins.module_utils.diagnosis import render as diagnosis_text
from ansible_collections.local_llm.tts.plugins.module_utils.progress import (
    HEARTBEAT_SECONDS,
    Reporter,
    describe,
)

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH_LABEL = "pod-template-hash"
FAILING_WAIT_REASONS = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "InvalidImageName",
)
LOG_TAIL_LINES = 200
WATCH_SECONDS_MAX = 60  # one watch request at most this long; the feed re-watches after it


# =====================================================================================================
# Pure assessment
# =====================================================================================================
def _condition(obj: dict | None, kind: str) -> dict | None:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def deadline_exceeded(deployment: dict) -> bool:
    progressing = _condition(deployment, "Progressing")
    return bool(progressing) and progressing.get("reason") == "ProgressDeadlineExceeded"


def generation_observed(deployment: dict) -> bool:
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    return int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)


def rollout_progress(deployment: dict) -> tuple[bool, str]:
    """(complete, what is awaited) exactly as kubectl's DeploymentStatusViewer decides (minus the
    deadline, which ``assess`` handles)."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    if not generation_observed(deployment):
        return False, "waiting for the deployment spec update to be observed"
    desired = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < desired:
        return False, f"{updated} of {desired} new replicas updated"
    if total > updated:
        return False, f"{total - updated} old replicas pending termination"
    if available < updated:
        return False, f"{available} of {updated} updated replicas available"
    return True, "rolled out"


def pod_ready(pod: dict) -> bool:
    ready = _condition(pod, "Ready")
    return bool(ready) and ready.get("status") == "True"


def live_pods(pods: list[dict]) -> list[dict]:
    """The pods that are not being deleted (no deletionTimestamp)."""
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def _container_statuses(pod: dict) -> list[dict]:
    status = pod.get("status") or {}
    return (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])


def pod_failure(pod: dict) -> str | None:
    """A clear sign that this pod will not become Ready by waiting; None when there is none yet."""
    scheduled = _condition(pod, "PodScheduled")
    if scheduled and scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return f"Unschedulable: {scheduled.get('message', '')}"
    for container in _container_statuses(pod):
        name = container.get("name", "?")
        state = container.get("state") or {}
        waiting = state.get("waiting") or {}
        if waiting.get("reason") in FAILING_WAIT_REASONS:
            return f"container {name} {waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
        restarts = int(container.get("restartCount") or 0)
        for key in ("state", "lastState"):
            terminated = (container.get(key) or {}).get("terminated") or {}
            if terminated.get("reason") == "OOMKilled":
                return f"container {name} OOMKilled"
            code = terminated.get("exitCode")
            if code not in (None, 0) and restarts >= 1:
                return f"container {name} exited with code {code} (restarts: {restarts})"
    return None


def first_attempt_running(pod: dict) -> bool:
    """A container still in its first attempt (nothing has failed yet, no verdict from it yet)."""
    return any(
        "running" in (c.get("state") or {}) and not int(c.get("restartCount") or 0)
        for c in _container_statuses(pod)
    )


def is_new_pod(pod: dict, template_hash: str | None) -> bool:
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    return template_hash is not None and (meta.get("labels") or {}).get(TEMPLATE_HASH_LABEL) == template_hash


@dataclass(frozen=True)
class Verdict:
    state: str  # "waiting", "complete" or "failed"
    reason: str
    pod: dict | None = None


def assess(deployment: dict | None, template_hash: str | None, pods: list[dict]) -> Verdict:
    if deployment is None:
        return Verdict("waiting", "waiting for the deployment")
    new_pods = [p for p in pods if is_new_pod(p, template_hash)]
    for pod in new_pods:
        failure = pod_failure(pod)
        if failure:
            return Verdict("failed", failure, pod)
    complete, awaited = rollout_progress(deployment)
    ready = next((p for p in new_pods if pod_ready(p)), None)
    if complete and ready is not None:
        return Verdict("complete", awaited, ready)
    if template_hash is not None and generation_observed(deployment) and deadline_exceeded(deployment):
        running = next((p for p in new_pods if first_attempt_running(p)), None)
        if running is None:
            progressing = _condition(deployment, "Progressing") or {}
            pod = new_pods[0] if new_pods else None
            return Verdict("failed", f"ProgressDeadlineExceeded: {progressing.get('message', '')}", pod)
    if complete:
        return Verdict("waiting", "waiting for a Ready pod of the new ReplicaSet")
    return Verdict("waiting", awaited, new_pods[0] if new_pods else None)


def pod_summary(pod: dict | None) -> dict | None:
    if not pod:
        return None
    meta, status, spec = pod.get("metadata") or {}, pod.get("status") or {}, pod.get("spec") or {}
    return {
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "ip": status.get("podIP"),
        "node": spec.get("nodeName"),
        "restarts": sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []),
        "phase": status.get("phase"),
    }


def selector_string(selector: dict) -> str:
    """A LabelSelector (matchLabels + matchExpressions) as the API's query string."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


GENERIC_CAUSES = ("progress-deadline-exceeded",)  # causes that say little: show the log tail too


def failure_message(verdict_reason: str, diagnosis: dict | None, log_tail: str) -> str:
    message = f"rollout failed: {verdict_reason}"
    if diagnosis:
        message += f". Cause {diagnosis_text(diagnosis)}"
    tail = "\n".join(log_tail.strip().splitlines()[-5:])
    if tail and (not diagnosis or diagnosis["cause_id"] in GENERIC_CAUSES):
        message += f". Last log lines:\n{tail}"
    return message


# =====================================================================================================
# Mechanism: the official client
# =====================================================================================================
class ApiUnavailable(Exception):
    pass


@dataclass
class Feed:
    """One kind of object kept current by list + watch in a thread; changes are announced on ``changes``."""

    name: str
    list_call: Callable[..., object]  # ClusterClient.lister(...), shaped like the generated list functions
    changes: queue.Queue
    deadline: float
    stop: threading.Event
    objects: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    listed: threading.Event = field(default_factory=threading.Event)
    relists: int = 0
    rewatches: int = 0
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)
        self.thread.start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.objects.values())

    def _list(self) -> str:
        body = call_with_retry(lambda: self.list_call(_request_timeout=30), self.deadline, self.stop)
        with self.lock:
            self.objects = {item["metadata"]["name"]: item for item in body.get("items") or []}
        self.listed.set()
        self.changes.put(self.name)
        return body["metadata"].get("resourceVersion", "")

    def _run(self) -> None:
        from kubernetes import watch
        from kubernetes.client.exceptions import ApiException

        try:
            resource_version = self._list()
            while not self.stop.is_set():
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    return
                seconds = max(1, min(WATCH_SECONDS_MAX, int(remaining) + 1))
                started, events = time.monotonic(), 0
                watcher = watch.Watch()
                try:
                    for event in watcher.stream(
                        self.list_call,
                        resource_version=resource_version,
                        allow_watch_bookmarks=True,
                        timeout_seconds=seconds,
                        _request_timeout=seconds + 10,
                    ):
                        if self.stop.is_set():
                            watcher.stop()
                            return
                        events += 1
                        resource_version = self._apply(event) or resource_version
                except ApiException as exc:
                    if exc.status == 410:  # our resourceVersion is too old: start again from a list
                        self.relists += 1
                        resource_version = self._list()
                        continue
                    if not retriable(exc):
                        raise
                    self.stop.wait(BACKOFF_FIRST)
                except Exception as exc:
                    if not retriable(exc):
                        raise
                    self.stop.wait(BACKOFF_FIRST)
                ended_early = time.monotonic() - started < seconds - 0.5
                if ended_early and events == 0:
                    # The client swallows a 410 sent inside the stream (it just ends), and a dropped
                    # stream looks the same: a relist is right in both cases and cheap.
                    self.relists += 1
                    resource_version = self._list()
                else:
                    self.rewatches += 1
        except Exception as exc:  # reported by the main loop
            self.error = exc
            self.changes.put(self.name)

    def _apply(self, event: dict) -> str | None:
        raw = event.get("raw_object") or {}
        kind = event.get("type")
        meta = raw.get("metadata") or {}
        if kind == "BOOKMARK":
            return meta.get("resourceVersion")
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return None
        with self.lock:
            if kind == "DELETED":
                self.objects.pop(meta.get("name"), None)
            else:
                self.objects[meta.get("name")] = raw
        self.changes.put(self.name)
        return meta.get("resourceVersion")


@dataclass
class RolloutResult:
    ready: bool
    pod: dict | None
    elapsed_seconds: float
    diagnosis: dict | None
    msg: str
    verdict: str
    watch_stats: dict

    def as_dict(self) -> dict:
        return {
            "ready": self.ready,
            "pod": self.pod,
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "diagnosis": self.diagnosis,
            "msg": self.msg,
            "verdict": self.verdict,
            "watch_stats": self.watch_stats,
        }


def _new_template_hash(
    api: ClusterClient, namespace: str, deployment: dict, selector: str, deadline: float
) -> str | None:
    """The pod-template-hash of the Deployment's current ReplicaSet (the one carrying its revision)."""
    revision = ((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION)
    if not revision or not generation_observed(deployment):
        return None
    body = call_with_retry(
        lambda: api.get_json(
            f"/apis/apps/v1/namespaces/{namespace}/replicasets", {"labelSelector": selector}, retry_seconds=0
        ),
        deadline,
    )
    uid = deployment["metadata"].get("uid")
    for rs in body.get("items") or []:
        meta = rs.get("metadata") or {}
        owned = any(ref.get("uid") == uid for ref in meta.get("ownerReferences") or [])
        if owned and (meta.get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return (meta.get("labels") or {}).get(TEMPLATE_HASH_LABEL)
    return None


def gather_evidence(api: ClusterClient, namespace: str, pod: dict | None, deadline: float) -> dict:
    """The failing pod (fresh), its events and its current and previous logs (last LOG_TAIL_LINES)."""
    from kubernetes.client.exceptions import ApiException

    evidence = {"pod": pod, "events": [], "logs": "", "previous_logs": ""}
    if not pod:
        return evidence
    name = pod["metadata"]["name"]
    base = f"/api/v1/namespaces/{namespace}"
    deadline = max(deadline, time.monotonic() + 10)  # evidence is worth a few seconds past the timeout

    def read(call: Callable[[], object], default):
        try:
            return call_with_retry(call, deadline)
        except (ApiException, ClusterUnavailable):  # e.g. 400: no previous container; an outage
            return default

    evidence["pod"] = read(lambda: api.get_json(f"{base}/pods/{name}", retry_seconds=0), pod)
    events = read(
        lambda: api.get_json(
            f"{base}/events", {"fieldSelector": f"involvedObject.name={name}"}, retry_seconds=0
        ),
        {},
    )
    evidence["events"] = events.get("items") or []
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    logs, previous = [], []
    for container in containers:
        for previous_attempt, sink in ((False, logs), (True, previous)):
            query = {"container": container, "tailLines": LOG_TAIL_LINES}
            if previous_attempt:
                query["previous"] = "true"
            sink.append(read(lambda q=query: api.get_text(f"{base}/pods/{name}/log", q, retry_seconds=0), ""))
    evidence["logs"], evidence["previous_logs"] = "\n".join(logs), "\n".join(previous)
    return evidence


def _newest(pods) -> dict | None:
    return max(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "", default=None)


class _LastEvent:
    """The newest event of a pod, read at most every 15 s (for progress lines only: errors are ignored)."""

    def __init__(self, api: ClusterClient, namespace: str, every: float = HEARTBEAT_SECONDS) -> None:
        self.api, self.namespace, self.every = api, namespace, every
        self.pod: str | None = None
        self.text: str | None = None
        self.read_at = float("-inf")

    def of(self, pod: dict | None, deadline: float) -> str | None:
        name = (pod or {}).get("metadata", {}).get("name")
        if not name:
            return None
        if name == self.pod and time.monotonic() - self.read_at < self.every:
            return self.text
        self.pod, self.read_at = name, time.monotonic()
        try:
            items = (
                self.api.get_json(
                    f"/api/v1/namespaces/{self.namespace}/events",
                    query={"fieldSelector": f"involvedObject.name={name}"},
                    retry_seconds=0,
                ).get("items")
                or []
            )
        except Exception:  # a progress line may lack its event; the wait goes on
            return self.text
        newest = max(items, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "", default=None)
        self.text = f"{newest.get('reason')}: {newest.get('message', '')}".strip() if newest else None
        return self.text


def watch_rollout(
    api: ClusterClient,
    namespace: str,
    deployment_name: str,
    timeout: float,
    settle_seconds: float = 0,
    progress: Reporter | None = None,
) -> RolloutResult:
    """Block until the rollout is complete with its new pod Ready (and still so after settle_seconds),
    a clear failure, or the timeout; never changes anything in the cluster. ``progress`` gets a line on
    every change of the new pod and at least every 15 s while waiting."""
    started = time.monotonic()
    deadline = started + timeout
    deployments_path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    deployment = call_with_retry(
        lambda: api.get_json(f"{deployments_path}/{deployment_name}", retry_seconds=0), deadline
    )
    selector = selector_string(deployment["spec"].get("selector") or {})
    changes: queue.Queue = queue.Queue()
    stop = threading.Event()
    feeds = {
        "deployment": Feed(
            "deployment",
            api.lister(deployments_path, fieldSelector=f"metadata.name={deployment_name}"),
            changes,
            deadline,
            stop,
        ),
        "pods": Feed(
            "pods",
            api.lister(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector),
            changes,
            deadline,
            stop,
        ),
    }
    for feed in feeds.values():
        feed.start()

    template_hash: str | None = None
    hash_for: tuple | None = None
    settled_at: float | None = None
    verdict = Verdict("waiting", "waiting for the first list")
    events = _LastEvent(api, namespace)

    def report() -> None:
        if progress is not None and progress.enabled:
            pod = verdict.pod or _newest(p for p in feeds["pods"].snapshot() if is_new_pod(p, template_hash))
            progress.report(describe(pod, events.of(pod, deadline)), time.monotonic() - started, timeout)

    try:
        while True:
            now = time.monotonic()
            wake = deadline if settled_at is None else min(deadline, settled_at)
            if now >= wake:
                break
            heartbeat = progress.due_in() if progress is not None and progress.enabled else wake - now
            try:
                changes.get(timeout=max(0.05, min(wake - now, heartbeat)))
            except queue.Empty:
                if all(f.listed.is_set() for f in feeds.values()):
                    report()
                continue
            while not changes.empty():  # one assessment for a burst of events
                changes.get_nowait()
            failed_feed = next((f for f in feeds.values() if f.error is not None), None)
            if failed_feed is not None:
                if isinstance(failed_feed.error, ClusterConfigError):  # credentials, TLS: say so as such
                    raise failed_feed.error
                raise ApiUnavailable(f"watching {failed_feed.name} failed: {failed_feed.error}")
            if not all(f.listed.is_set() for f in feeds.values()):
                continue  # judge only on a complete picture
            current = next(iter(feeds["deployment"].snapshot()), None)
            if current is None:
                raise ApiUnavailable(f"deployment {deployment_name} disappeared while watching it")
            key = (
                (current["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION),
                current["metadata"].get("generation"),
                (current.get("status") or {}).get("observedGeneration"),
            )
            if template_hash is None or key != hash_for:
                template_hash = _new_template_hash(api, namespace, current, selector, deadline)
                hash_for = key if template_hash else None
            verdict = assess(current, template_hash, feeds["pods"].snapshot())
            if verdict.state == "waiting" or (progress is not None and progress.last_text is not None):
                report()  # a rollout already decided at the first look (a rerun) waited for nothing
            if verdict.state == "failed":
                break
            if verdict.state == "complete":
                if settle_seconds <= 0:
                    break
                settled_at = settled_at or time.monotonic() + settle_seconds
            else:
                settled_at = None  # lost readiness while settling: wait again
    finally:
        stop.set()

    stats = {
        "relists": sum(f.relists for f in feeds.values()),
        "rewatches": sum(f.rewatches for f in feeds.values()),
    }
    elapsed = time.monotonic() - started
    if verdict.state == "complete":
        return RolloutResult(True, pod_summary(verdict.pod), elapsed, None, "rolled out", "complete", stats)
    deployment_now = next(iter(feeds["deployment"].snapshot()), deployment)
    pod = verdict.pod or next((p for p in feeds["pods"].snapshot() if is_new_pod(p, template_hash)), None)
    evidence = gather_evidence(api, namespace, pod, deadline)
    found = diagnose(
        evidence["pod"], evidence["events"], evidence["logs"], evidence["previous_logs"], deployment_now
    )
    diagnosis = found.as_dict() if found else None
    reason = (
        verdict.reason if verdict.state == "failed" else f"timed out after {timeout:g}s: {verdict.reason}"
    )
    elapsed = time.monotonic() - started
    return RolloutResult(
        False,
        pod_summary(evidence["pod"]),
        elapsed,
        diagnosis,
        failure_message(reason, diagnosis, evidence["previous_logs"] or evidence["logs"]),
        verdict.state if verdict.state == "failed" else "timeout",
        stats,
    )
