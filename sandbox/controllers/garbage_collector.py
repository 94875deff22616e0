"""Garbage collector: deletes objects whose owners (ownerReferences) are all gone.

Background propagation, the default for ``kubectl delete`` and ``helm uninstall``: the owner
is deleted at once, its dependents shortly after (kube-controller-manager's garbagecollector).
"""

from __future__ import annotations

from sandbox.apiserver.resources import RESOURCES
from sandbox.apiserver.store import DELETED, StoredEvent

from .base import Controller


class GarbageCollector(Controller):
    name = "garbage-collector"
    resources = tuple(r.group_resource for r in RESOURCES)

    def sync_all(self) -> None:
        uids = {obj["metadata"].get("uid") for _key, obj in self.store.iter_all()}
        orphaned_owner_uids = {
            ref.get("uid")
            for _key, obj in self.store.iter_all()
            for ref in obj["metadata"].get("ownerReferences") or []
            if ref.get("uid") not in uids
        }
        for uid in orphaned_owner_uids:
            self.registry.delete_dependents(uid)

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        if event.type == DELETED and obj["metadata"].get("uid"):
            self.registry.delete_dependents(obj["metadata"]["uid"])
