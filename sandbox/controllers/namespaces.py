"""Namespace lifecycle and per-namespace defaults.

- Deleting a namespace marks it Terminating; this controller deletes everything in it, then
  clears the ``kubernetes`` finalizer so the namespace goes (namespace controller).
- Every namespace gets a ``default`` ServiceAccount (serviceaccount controller) and the
  ``kube-root-ca.crt`` ConfigMap with the cluster CA (root-ca-cert-publisher).
"""

from __future__ import annotations

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import WriteOptions
from sandbox.apiserver.resources import RESOURCES, by_kind
from sandbox.apiserver.store import DELETED, StoredEvent

from .base import Controller

_NAMESPACES = by_kind("", "Namespace")
_SERVICE_ACCOUNTS = by_kind("", "ServiceAccount")
_CONFIG_MAPS = by_kind("", "ConfigMap")
MANAGER = WriteOptions(manager="kube-controller-manager")


class NamespaceController(Controller):
    name = "namespace-controller"
    resources = ("namespaces", "serviceaccounts", "configmaps")

    def __init__(self, registry, ca_pem: str) -> None:
        super().__init__(registry)
        self.ca_pem = ca_pem

    def sync_all(self) -> None:
        for ns in self.store.list("namespaces")[0]:
            self._reconcile(ns)

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        if event.resource == "namespaces":
            if event.type != DELETED:
                self._reconcile(obj)
            return
        if event.type == DELETED:
            ns = self.store.get("namespaces", "", event.namespace)
            if ns is not None:
                self._reconcile(ns)

    def _reconcile(self, ns: dict) -> None:
        name = ns["metadata"]["name"]
        if ns["metadata"].get("deletionTimestamp"):
            self._finalize(name)
            return
        if self.store.get("serviceaccounts", name, "default") is None:
            self._create(_SERVICE_ACCOUNTS, name, {"metadata": {"name": "default"}})
        if self.store.get("configmaps", name, "kube-root-ca.crt") is None:
            self._create(
                _CONFIG_MAPS,
                name,
                {
                    "metadata": {
                        "name": "kube-root-ca.crt",
                        "annotations": {
                            "kubernetes.io/description": "Contains a CA bundle that can be used "
                            "to verify the kube-apiserver when using internal endpoints such "
                            "as the internal service IP or kubernetes.default.svc. No other "
                            "usage is guaranteed across distributions of Kubernetes clusters."
                        },
                    },
                    "data": {"ca.crt": self.ca_pem},
                },
            )

    def _create(self, res, namespace: str, obj: dict) -> None:
        try:
            self.registry.create(res, namespace, obj, MANAGER)
        except ApiError as exc:
            if exc.code not in (403, 404, 409):  # namespace going away, or a race with a client
                raise

    def _finalize(self, namespace: str) -> None:
        for res in RESOURCES:
            if not res.namespaced:
                continue
            for obj in self.store.list(res.group_resource, namespace)[0]:
                try:
                    self.registry.delete(res, namespace, obj["metadata"]["name"], "Background")
                except ApiError as exc:
                    if exc.code != 404:
                        raise
        remaining = any(self.store.list(r.group_resource, namespace)[0] for r in RESOURCES if r.namespaced)
        if remaining:
            return  # objects with finalizers: try again on their next event
        ns = self.store.get("namespaces", "", namespace)
        if ns is None:
            return
        ns.setdefault("spec", {})["finalizers"] = []
        self.store.delete("namespaces", "", namespace)
