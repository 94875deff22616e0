"""Object storage: SQLite for durability (the etcd of the sandbox), plus the watch log.

Every write takes the next cluster-wide resourceVersion, as etcd's revision does, and is
appended to an in-memory event log that watches read from. The log keeps a window of
recent events; a watch that asks for an older version gets "410 Gone", as a real API
server's watch cache answers, and the client relists.
"""

from __future__ import annotations

import collections
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EVENT_WINDOW = 20000

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


class StoreError(Exception):
    pass


class NotFoundInStore(StoreError):
    pass


class AlreadyInStore(StoreError):
    pass


class VersionConflict(StoreError):
    pass


class WindowExpired(StoreError):
    """The requested resourceVersion is older than the watch log holds."""


@dataclass(frozen=True)
class StoredEvent:
    rv: int
    type: str
    resource: str  # group_resource, e.g. "deployments.apps"
    namespace: str
    name: str
    body: str  # JSON of the object at that version
    prev: str | None = None  # JSON of the object before a MODIFIED event (selector transitions)


class Store:
    def __init__(self, path: Path, event_window: int = EVENT_WINDOW) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS objects (resource TEXT NOT NULL, namespace TEXT NOT NULL,"
            " name TEXT NOT NULL, rv INTEGER NOT NULL, body TEXT NOT NULL,"
            " PRIMARY KEY (resource, namespace, name))"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        row = self._db.execute("SELECT value FROM meta WHERE key='rv'").fetchone()
        self._rv = int(row[0]) if row else 1
        # Objects stay in memory as JSON text: lists and watches never touch the disk.
        self._objects: dict[tuple[str, str, str], str] = {}
        for resource, namespace, name, body in self._db.execute(
            "SELECT resource, namespace, name, body FROM objects"
        ):
            self._objects[(resource, namespace, name)] = body
        self._events: collections.deque[StoredEvent] = collections.deque(maxlen=event_window)
        self._oldest_watchable = self._rv
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)

    # -- reads -------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def get(self, resource: str, namespace: str, name: str) -> dict | None:
        with self.lock:
            body = self._objects.get((resource, namespace, name))
        return json.loads(body) if body is not None else None

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict], int]:
        """Objects of one resource (in one namespace, or all), sorted by namespace and name."""
        with self.lock:
            matching = sorted(  # filtered first: sorting every object per list was most of its cost
                item
                for item in self._objects.items()
                if item[0][0] == resource and (namespace is None or item[0][1] == namespace)
            )
            bodies = [body for _key, body in matching]
            rv = self._rv
        return [json.loads(b) for b in bodies], rv

    def count(self) -> int:
        with self.lock:
            return len(self._objects)

    # -- writes ------------------------------------------------------------------------
    def create(self, resource: str, namespace: str, name: str, obj: dict) -> dict:
        with self.lock:
            if (resource, namespace, name) in self._objects:
                raise AlreadyInStore(name)
            return self._write(ADDED, resource, namespace, name, obj)

    def update(self, resource: str, namespace: str, name: str, obj: dict, expected_rv: str | None) -> dict:
        """Replace an object; ``expected_rv`` (when given) must be the stored version."""
        with self.lock:
            current = self._objects.get((resource, namespace, name))
            if current is None:
                raise NotFoundInStore(name)
            if expected_rv and json.loads(current)["metadata"].get("resourceVersion") != expected_rv:
                raise VersionConflict(name)
            return self._write(MODIFIED, resource, namespace, name, obj)

    def delete(self, resource: str, namespace: str, name: str, expected_rv: str | None = None) -> dict:
        with self.lock:
            current = self._objects.get((resource, namespace, name))
            if current is None:
                raise NotFoundInStore(name)
            obj = json.loads(current)
            if expected_rv and obj["metadata"].get("resourceVersion") != expected_rv:
                raise VersionConflict(name)
            return self._write(DELETED, resource, namespace, name, obj)

    def _write(self, event_type: str, resource: str, namespace: str, name: str, obj: dict) -> dict:
        self._rv += 1
        obj = dict(obj)
        obj["metadata"] = dict(obj.get("metadata") or {}, resourceVersion=str(self._rv))
        body = json.dumps(obj, separators=(",", ":"), sort_keys=False)
        key = (resource, namespace, name)
        prev = self._objects.get(key) if event_type == MODIFIED else None
        with self._db:
            if event_type == DELETED:
                self._db.execute("DELETE FROM objects WHERE resource=? AND namespace=? AND name=?", key)
                del self._objects[key]
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?)", (*key, self._rv, body)
                )
                self._objects[key] = body
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('rv', ?)", (str(self._rv),))
        if len(self._events) == self._events.maxlen:
            self._oldest_watchable = self._events[0].rv
        self._events.append(StoredEvent(self._rv, event_type, resource, namespace, name, body, prev))
        self.changed.notify_all()
        return obj

    # -- watch -------------------------------------------------------------------------
    def events_after(self, rv: int) -> list[StoredEvent]:
        """Events newer than ``rv``; raises WindowExpired when ``rv`` predates the log."""
        with self.lock:
            if rv < self._oldest_watchable:
                raise WindowExpired(str(rv))
            if rv >= self._rv:
                return []
            newer = []  # from the newest back: O(new events), not O(the window) per call
            for event in reversed(self._events):
                if event.rv <= rv:
                    break
                newer.append(event)
            newer.reverse()
            return newer

    def wait(self, after_rv: int, timeout: float) -> None:
        with self.changed:
            if self._rv <= after_rv:
                self.changed.wait(timeout)

    def iter_all(self) -> Iterator[tuple[tuple[str, str, str], dict]]:
        with self.lock:
            items = list(self._objects.items())
        for key, body in items:
            yield key, json.loads(body)

    def close(self) -> None:
        with self.lock:
            self._db.close()
