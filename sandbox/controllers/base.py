"""A controller loop that follows the store's event log, like an informer's watch."""

from __future__ import annotations

import json
import logging
import threading
import time

from sandbox.apiserver.registry import Registry
from sandbox.apiserver.store import StoredEvent, WindowExpired

log = logging.getLogger("sandbox.controllers")

TICK_SECONDS = 0.5  # real seconds between two ``tick`` calls: not once per store event


class Controller:
    """Subclasses set ``resources`` (group_resource keys) and implement ``sync_all``/``on_event``."""

    name = "controller"
    resources: tuple[str, ...] = ()

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.store = registry.store
        self._thread: threading.Thread | None = None

    def sync_all(self) -> None:
        """Reconcile everything once (at start, and after the event log window was missed)."""

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        raise NotImplementedError

    def tick(self) -> None:
        """Periodic work that no event triggers (deadlines, heartbeats); runs every TICK_SECONDS."""

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(target=self._run, args=(stop,), name=self.name, daemon=True)
        self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        rv = self.store.resource_version
        self._guarded(self.sync_all)
        next_tick = time.monotonic() + TICK_SECONDS
        while not stop.is_set():
            try:
                events = self.store.events_after(rv)
            except WindowExpired:
                rv = self.store.resource_version
                self._guarded(self.sync_all)
                continue
            for event in events:
                rv = event.rv
                if event.resource in self.resources:
                    self._guarded(self.on_event, event, json.loads(event.body))
            self.store.wait(rv, max(0.0, next_tick - time.monotonic()))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK_SECONDS
                self._guarded(self.tick)

    def _guarded(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:  # one bad object must not stop the controller
            log.exception("%s failed", self.name)
