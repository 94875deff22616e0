"""Read what ``drift.compare_layers`` compares, once, without changing or waiting for anything.

The values file from disk; the release's values and manifest with the helm CLI (``helm get values -o json``,
``helm get manifest``); the TTS Deployment, Service and pods with ``cluster_client.ClusterClient`` (plain
GETs, retried briefly on 5xx/429); ``/health`` with a single request through the API server's
service proxy or ``health_url``. The kubeconfig is passed by path; credentials are never read into a result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import values_block
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterClient,
    ClusterConfigError,
    open_cluster,
)
from ansible_collections.local_llm.tts.plugins.module_utils.drift import compare_layers, summarise
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli, HelmError
from ansible_collections.local_llm.tts.plugins.module_utils.rollout import (
    live_pods,
    pod_failure,
    pod_ready,
    rollout_progress,
    selector_string,
)
from ansible_collections.local_llm.tts.plugins.module_utils.tts_checks import (
    Transport,
    service_proxy_transport,
    url_transport,
)

API_RETRY_SECONDS = 15  # a read is retried on 5xx/429 this long, then the run fails
# libyaml's safe loader when PyYAML has it: a release manifest is a few hundred lines per object.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
HEALTH_TIMEOUT_SECONDS = 10  # one GET /health, no retries: drift reports the state as it is now


@dataclass(frozen=True)
class DriftParams:
    """The module's options, with the defaults of roles/tts_common/defaults/main.yml."""

    values_file: str
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "default"
    release: str = "local-llm"
    binary: str = "helm"
    key: str = "tts"
    desired: dict | None = None
    deployment: str | None = None  # default <release>-tts
    service: str | None = None  # default <release>-tts
    port: int = 8006
    health_url: str | None = None
    ignore: list = field(default_factory=list)
    ignore_replicas: bool = True
    check_health: bool = True
    helm_env: dict = field(default_factory=dict)  # extra environment for helm (HELM_*_HOME)

    @classmethod
    def from_dict(cls, params: dict) -> DriftParams:
        """Unknown keys are ignored; None and "" mean "not given" (the role's defaults use "")."""
        given = {k: v for k, v in params.items() if k in cls.__dataclass_fields__ and v not in (None, "")}
        default_name = f"{given.get('release', cls.release)}-tts"
        given.setdefault("deployment", default_name)
        given.setdefault("service", default_name)
        return cls(**given)


# -- values file and release ------------------------------------------------------------------------
def read_values_file(path: str, key: str) -> tuple[dict | None, dict]:
    """(the key block, the whole document) of the values file."""
    text = values_block.read_text(path)
    block = values_block.current_block(text, key)
    document = yaml.load(text, Loader=SAFE_LOADER) or {}
    if not isinstance(document, dict):
        raise values_block.ValuesError(f"{path}: values must be a YAML mapping")
    return block, document


def parse_manifest(text: str) -> list[dict]:
    """The objects of ``helm get manifest`` (a multi-document YAML stream; empty documents skipped)."""
    documents = yaml.load_all(text, Loader=SAFE_LOADER)
    return [doc for doc in documents if isinstance(doc, dict) and doc.get("kind")]


def read_release(helm: HelmCli) -> tuple[dict, list[dict]]:
    """(user-supplied values, manifest objects) of the release's current revision."""
    values = helm.values()
    manifest = parse_manifest(helm.run("get", "manifest", helm.release))
    return values, manifest


# -- cluster ----------------------------------------------------------------------------------------
def _get_or_none(api: ClusterClient, path: str) -> dict | None:
    from kubernetes.client.exceptions import ApiException

    try:
        return api.get_json(path, retry_seconds=API_RETRY_SECONDS)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def read_live_objects(api: ClusterClient, namespace: str, deployment: str, service: str) -> list[dict]:
    """The Deployment and the Service as the API serves them; a missing one is left out."""
    found = [
        _get_or_none(api, f"/apis/apps/v1/namespaces/{namespace}/deployments/{deployment}"),
        _get_or_none(api, f"/api/v1/namespaces/{namespace}/services/{service}"),
    ]
    # A GET of one object carries no kind in some clients' paths; the live layer matches on it.
    for obj, kind in zip(found, ("Deployment", "Service"), strict=True):
        if obj is not None:
            obj.setdefault("kind", kind)
    return [obj for obj in found if obj is not None]


def _deployment_pods(api: ClusterClient, namespace: str, deployment: dict) -> list[dict]:
    """The Deployment's pods that are not being deleted, by name."""
    selector = selector_string((deployment.get("spec") or {}).get("selector") or {})
    listing = api.get_json(
        f"/api/v1/namespaces/{namespace}/pods", {"labelSelector": selector}, retry_seconds=API_RETRY_SECONDS
    )
    return sorted(live_pods(listing.get("items") or []), key=lambda p: p["metadata"]["name"])


def pod_health(pods: list[dict]) -> dict:
    """Ready when there is a pod and every one is Ready; otherwise names the first that is not, and why."""
    if not pods:
        return {"pod": None, "pod_ready": False, "pod_detail": "no pod"}
    not_ready = [p for p in pods if not pod_ready(p)]
    if not not_ready:
        return {"pod": pods[0]["metadata"]["name"], "pod_ready": True, "pod_detail": None}
    pod = not_ready[0]
    phase = (pod.get("status") or {}).get("phase", "?")
    return {
        "pod": pod["metadata"]["name"],
        "pod_ready": False,
        "pod_detail": pod_failure(pod) or f"not Ready (phase {phase})",
    }


def probe_health(send: Transport, path: str) -> dict:
    """One GET; a refused connection or a timeout is a failed check, not an error of the run."""
    try:
        reply = send("GET", path, None, HEALTH_TIMEOUT_SECONDS)
    except ClusterConfigError:  # the API server refused our credentials: not a health answer
        raise
    except Exception as exc:  # connection errors, TLS, timeouts
        return {"health_status": None, "health_detail": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {
        "health_status": reply.status,
        "health_detail": None if reply.status == 200 else _reason(reply.body),
    }


def _reason(body: bytes) -> str:
    """The message of a Kubernetes Status body (the proxy's 503), else the body's start."""
    text = body.decode("utf-8", "replace").strip()
    try:
        message = json.loads(text).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or text)[:200]


def read_health(api: ClusterClient, params: DriftParams, deployment: dict | None) -> dict:
    """Rollout complete, pod Ready and /health, each read once (never waits for a rollout)."""
    health: dict = {"deployment": params.deployment, "service": params.service}
    if deployment is None:
        health.update(rollout_complete=False, rollout_detail="deployment not found")
        health.update(pod=None, pod_ready=False, pod_detail="deployment not found")
    else:
        complete, awaited = rollout_progress(deployment)
        health.update(rollout_complete=complete, rollout_detail=None if complete else awaited)
        health.update(pod_health(_deployment_pods(api, params.namespace, deployment)))
    if params.health_url:
        health.update(probe_health(url_transport(params.health_url), ""))
    else:
        send = service_proxy_transport(api, params.namespace, params.service, params.port)
        health.update(probe_health(send, "health"))
    return health


# -- the entry point --------------------------------------------------------------------------------
def gather_and_compare(params: dict) -> dict:
    """Read every layer's inputs for ``params`` (the drift module's options) and compare them.

    Returns ``{"drift": [entry dicts], "counts": {layer: n}, "drifted": bool}``. Raises ValuesError,
    HelmError, ClusterConfigError, ClusterUnavailable, kubernetes ApiException or DriftRuleError (a bad
    ignore rule) when an input cannot be read.
    """
    p = DriftParams.from_dict(params)
    values_block_now, file_values = read_values_file(p.values_file, p.key)
    helm = HelmCli(
        release=p.release,
        namespace=p.namespace,
        binary=p.binary,
        kubeconfig=p.kubeconfig,
        context=p.context,
        env=dict(p.helm_env),
    )
    try:
        release_values, manifest = read_release(helm)
    except yaml.YAMLError as exc:
        raise HelmError(f"`helm get manifest {p.release}` printed unreadable YAML: {exc}") from None
    api = open_cluster(p.kubeconfig, p.context)
    live_objects = read_live_objects(api, p.namespace, p.deployment, p.service)
    deployment = next((o for o in live_objects if o["kind"] == "Deployment"), None)
    health = read_health(api, p, deployment) if p.check_health else {}
    entries = compare_layers(
        values_block_now,
        p.desired,
        release_values,
        file_values,
        manifest,
        live_objects,
        health,
        p.ignore,
        p.ignore_replicas,
        values_key=p.key,
        live_targets=[{"kind": "Deployment", "name": p.deployment}, {"kind": "Service", "name": p.service}],
    )
    return summarise(entries)
