"""Endpoints and EndpointSlices for Services with a selector (endpoint and endpointslice
controllers): the pods a Service selects, ready ones as addresses, the rest as not ready."""

from __future__ import annotations

import json

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.selectors import Requirement, labels_match
from sandbox.apiserver.store import DELETED, MODIFIED, StoredEvent

from .base import Controller

ENDPOINTS = by_kind("", "Endpoints")
SLICES = by_kind("discovery.k8s.io", "EndpointSlice")
MANAGER = WriteOptions(manager="endpoint-controller")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def pod_ready(pod: dict) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def target_port(service_port: dict, pod: dict) -> int | None:
    """A Service port's targetPort on one pod (a named targetPort is looked up in its containers)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for container in pod["spec"].get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                return port.get("containerPort")
    return None


def endpoint_view(pod: dict) -> tuple:
    """What of a pod its Services' endpoints show (or decide on): a pod write that leaves this
    alone, such as a restart count or a probe's container state, changes no endpoints."""
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    return (
        json.dumps(meta.get("labels") or {}, sort_keys=True),
        meta.get("uid"),
        bool(meta.get("deletionTimestamp")),
        spec.get("nodeName", ""),
        json.dumps([c.get("ports") for c in spec.get("containers") or []], sort_keys=True),
        status.get("podIP"),
        status.get("phase") in ("Succeeded", "Failed"),
        pod_ready(pod),
    )


def selected_pods(store, service: dict) -> list[dict]:
    selector = (service.get("spec") or {}).get("selector")
    if not selector:
        return []
    requirements = [Requirement(k, "=", (v,)) for k, v in selector.items()]
    pods, _ = store.list("pods", service["metadata"]["namespace"])
    return [
        p
        for p in pods
        if labels_match(requirements, p["metadata"].get("labels"))
        and (p.get("status") or {}).get("podIP")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")  # terminal: never served
        and not p["metadata"].get("deletionTimestamp")
    ]


class EndpointsController(Controller):
    name = "endpoint-controller"
    resources = ("services", "pods")

    def sync_all(self) -> None:
        for service in self.store.list("services")[0]:
            self._sync(service)

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        namespace = obj["metadata"].get("namespace", "")
        if event.resource == "services":
            if event.type == DELETED:
                # Endpoints carry no owner reference (slices do, the collector takes those).
                try:
                    self.registry.delete(ENDPOINTS, namespace, obj["metadata"]["name"])
                except ApiError as exc:
                    if exc.code != 404:
                        raise
                return
            self._sync(obj)
            return
        versions = [obj] + ([json.loads(event.prev)] if event.prev else [])
        if event.type == MODIFIED and len(versions) == 2 and endpoint_view(obj) == endpoint_view(versions[1]):
            return
        for service in self.store.list("services", namespace)[0]:
            selector = (service.get("spec") or {}).get("selector")
            if not selector:
                continue
            requirements = [Requirement(k, "=", (v,)) for k, v in selector.items()]
            # only the Services that select the pod, before or after the change
            if any(labels_match(requirements, v["metadata"].get("labels")) for v in versions):
                self._sync(service)

    def _sync(self, service: dict) -> None:
        if not (service.get("spec") or {}).get("selector"):
            return
        meta = service["metadata"]
        pods = selected_pods(self.store, service)
        subsets = self._subsets(service, pods)
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": meta["name"],
                "namespace": meta["namespace"],
                "labels": meta.get("labels") or {},
            },
        }
        if subsets:
            endpoints["subsets"] = subsets
        self._write(ENDPOINTS, endpoints, compare=("subsets",))
        self._write(SLICES, self._slice(service, pods), compare=("endpoints", "ports"))

    @staticmethod
    def _subsets(service: dict, pods: list[dict]) -> list[dict]:
        ports = service["spec"].get("ports") or []
        if not pods or not ports:
            return []
        ready, not_ready = [], []
        for pod in pods:
            address = {
                "ip": pod["status"]["podIP"],
                "nodeName": pod["spec"].get("nodeName", ""),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": pod["metadata"]["namespace"],
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            (ready if pod_ready(pod) else not_ready).append(address)
        subset: dict = {
            "ports": [
                {
                    k: v
                    for k, v in (
                        ("name", p.get("name")),
                        ("port", target_port(p, pods[0])),
                        ("protocol", p.get("protocol", "TCP")),
                    )
                    if v is not None
                }
                for p in ports
            ]
        }
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        return [subset]

    @staticmethod
    def _slice(service: dict, pods: list[dict]) -> dict:
        meta = service["metadata"]
        ports = service["spec"].get("ports") or []
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{meta['name']}-sandbox",
                "namespace": meta["namespace"],
                "labels": {
                    SERVICE_NAME_LABEL: meta["name"],
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                },
                "ownerReferences": [
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": pod_ready(p), "serving": pod_ready(p), "terminating": False},
                    "nodeName": p["spec"].get("nodeName", ""),
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": p["metadata"]["namespace"],
                        "name": p["metadata"]["name"],
                        "uid": p["metadata"]["uid"],
                    },
                }
                for p in pods
            ],
            "ports": [
                {
                    k: v
                    for k, v in (
                        ("name", p.get("name", "")),
                        ("port", target_port(p, pods[0]) if pods else None),
                        ("protocol", p.get("protocol", "TCP")),
                    )
                    if v is not None
                }
                for p in ports
            ],
        }

    def _write(self, res, desired: dict, compare: tuple[str, ...]) -> None:
        meta = desired["metadata"]
        current = self.store.get(res.group_resource, meta["namespace"], meta["name"])
        try:
            if current is None:
                self.registry.create(res, meta["namespace"], desired, MANAGER)
            elif any(current.get(k) != desired.get(k) for k in compare):
                updated = {**current, **{k: desired[k] for k in compare if k in desired}}
                for k in compare:
                    if k not in desired:
                        updated.pop(k, None)
                self.registry.update(res, meta["namespace"], meta["name"], updated, MANAGER)
        except ApiError as exc:
            if exc.code not in (403, 404, 409):
                raise
