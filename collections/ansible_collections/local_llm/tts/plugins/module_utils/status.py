"""One cluster's TTS facts for `runner.py status`, read-only.

Two parts, like ``rollout.py``:

* pure (``summarise``, ``pod_state``, ``recent_events``, ``age_text``): from the Deployment, its pods and
  their events (JSON dicts), the facts a person wants on one screen: image, pod, phase (and the waiting
  reason, e.g. CrashLoopBackOff), restarts, age, readiness, rollout state, the last few events;
* the mechanism (``gather_status``): a handful of GETs through ``cluster_client.ClusterClient``
  (retried briefly on 5xx), no watch, no write.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import ClusterClient
from ansible_collections.local_llm.tts.plugins.module_utils.lease import parse_time
from ansible_collections.local_llm.tts.plugins.module_utils.rollout import (
    live_pods,
    pod_ready,
    rollout_progress,
    selector_string,
)

EVENTS_SHOWN = 5


def age_text(seconds: float | None) -> str | None:
    """kubectl-style age: 45s, 3m12s, 2h5m, 4d3h."""
    if seconds is None:
        return None
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def current_pod(pods: list[dict]) -> dict | None:
    """The newest pod that is not terminating (the one a rollout is about), else the newest at all."""
    candidates = live_pods(pods) or list(pods)
    if not candidates:
        return None
    return max(candidates, key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""))


def pod_state(pod: dict) -> str | None:
    """The most telling container state: a waiting reason (CrashLoopBackOff, ...) or a terminated one."""
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        state = container.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        if waiting:
            return waiting
        terminated = state.get("terminated") or {}
        if terminated:
            return terminated.get("reason") or f"exit {terminated.get('exitCode')}"
    return None


def _event_time(event: dict) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def recent_events(events: list[dict], limit: int = EVENTS_SHOWN) -> list[str]:
    """The last ``limit`` events, oldest first: ``Type Reason (xN): message``."""
    ordered = sorted(events, key=_event_time)[-limit:] if limit > 0 else []
    lines = []
    for event in ordered:
        count = int(event.get("count") or 1)
        times = f" (x{count})" if count > 1 else ""
        message = " ".join(str(event.get("message") or "").split())
        kind = event.get("type") or "Normal"
        lines.append(f"{kind} {event.get('reason') or '?'}{times}: {message}"[:300])
    return lines


def summarise(
    deployment: dict | None,
    pods: list[dict],
    events: list[dict],
    now: datetime,
    events_shown: int = EVENTS_SHOWN,
) -> dict:
    """The status facts of one TTS Deployment (``deployment`` None: it does not exist)."""
    facts = {
        "deployment_found": False,
        "image": None,
        "rollout": "deployment not found",
        "rolled_out": False,
        "pod": None,
        "phase": None,
        "state": None,
        "restarts": None,
        "age": None,
        "ready": False,
        "node": None,
        "events": recent_events(events, events_shown),
    }
    if deployment is None:
        return facts
    template = (deployment.get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    complete, awaited = rollout_progress(deployment)
    facts.update(
        deployment_found=True,
        image=containers[0].get("image") if containers else None,
        rollout=awaited,
        rolled_out=complete,
    )
    pod = current_pod(pods)
    if pod is None:
        facts["phase"] = "no pod"
        return facts
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    created = parse_time(meta.get("creationTimestamp"))
    facts.update(
        pod=meta.get("name"),
        phase=status.get("phase"),
        state=pod_state(pod),
        restarts=sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []),
        age=age_text((now - created).total_seconds()) if created else None,
        ready=pod_ready(pod),
        node=(pod.get("spec") or {}).get("nodeName"),
    )
    return facts


def gather_status(
    api: ClusterClient, namespace: str, deployment_name: str, events_shown: int = EVENTS_SHOWN
) -> dict:
    """GET the Deployment, its pods and the events of the current pod and the Deployment."""
    from kubernetes.client.exceptions import ApiException

    base = f"/api/v1/namespaces/{namespace}"
    try:
        deployment = api.get_json(f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment_name}")
    except ApiException as exc:
        if exc.status != 404:
            raise
        deployment = None
    pods: list[dict] = []
    if deployment is not None:
        selector = selector_string((deployment.get("spec") or {}).get("selector") or {})
        pods = api.get_json(f"{base}/pods", {"labelSelector": selector}).get("items") or []
    events: list[dict] = []
    names = [deployment_name]
    pod = current_pod(pods)
    if pod is not None:
        names.append(pod["metadata"]["name"])
    for name in names:
        body = api.get_json(f"{base}/events", {"fieldSelector": f"involvedObject.name={name}"})
        events += body.get("items") or []
    return summarise(deployment, pods, events, datetime.now(UTC), events_shown)
