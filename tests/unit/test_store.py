from __future__ import annotations

import pytest

from sandbox.apiserver.store import AlreadyInStore, NotFoundInStore, Store, VersionConflict, WindowExpired


def _cm(name: str, value: str = "v") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "ns"},
        "data": {"k": value},
    }


def test_every_write_takes_the_next_resource_version(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    start = store.resource_version
    a = store.create("configmaps", "ns", "a", _cm("a"))
    b = store.create("configmaps", "ns", "b", _cm("b"))
    assert int(a["metadata"]["resourceVersion"]) == start + 1
    assert int(b["metadata"]["resourceVersion"]) == start + 2
    updated = store.update("configmaps", "ns", "a", _cm("a", "new"), a["metadata"]["resourceVersion"])
    assert int(updated["metadata"]["resourceVersion"]) == start + 3


def test_conflicts_and_missing_objects(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    created = store.create("configmaps", "ns", "a", _cm("a"))
    with pytest.raises(AlreadyInStore):
        store.create("configmaps", "ns", "a", _cm("a"))
    store.update("configmaps", "ns", "a", _cm("a", "2"), None)
    with pytest.raises(VersionConflict):
        store.update("configmaps", "ns", "a", _cm("a", "3"), created["metadata"]["resourceVersion"])
    with pytest.raises(NotFoundInStore):
        store.update("configmaps", "ns", "zzz", _cm("zzz"), None)
    with pytest.raises(NotFoundInStore):
        store.delete("configmaps", "ns", "zzz")


def test_objects_and_resource_version_survive_reopen(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    store.create("configmaps", "ns", "a", _cm("a"))
    store.create("secrets", "other", "s", {"metadata": {"name": "s", "namespace": "other"}})
    store.delete("secrets", "other", "s")
    rv = store.resource_version
    store.close()
    reopened = Store(tmp_path / "db.sqlite")
    assert reopened.resource_version == rv
    assert reopened.get("configmaps", "ns", "a")["data"] == {"k": "v"}
    assert reopened.get("secrets", "other", "s") is None
    items, list_rv = reopened.list("configmaps")
    assert [i["metadata"]["name"] for i in items] == ["a"] and list_rv == rv


def test_list_filters_by_namespace_and_sorts(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    for ns, name in (("b", "x"), ("a", "y"), ("a", "b")):
        store.create("configmaps", ns, name, {"metadata": {"name": name, "namespace": ns}})
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in store.list("configmaps")[0]] == [
        ("a", "b"),
        ("a", "y"),
        ("b", "x"),
    ]
    assert [o["metadata"]["name"] for o in store.list("configmaps", "a")[0]] == ["b", "y"]


def test_watch_log_returns_events_with_previous_state(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    rv = store.resource_version
    store.create("configmaps", "ns", "a", _cm("a", "1"))
    store.update("configmaps", "ns", "a", _cm("a", "2"), None)
    store.delete("configmaps", "ns", "a")
    events = store.events_after(rv)
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert '"k":"1"' in events[1].prev and '"k":"2"' in events[1].body
    assert store.events_after(store.resource_version) == []


def test_watch_window_expires_old_versions(tmp_path):
    store = Store(tmp_path / "db.sqlite", event_window=3)
    rv = store.resource_version
    for i in range(5):
        store.create("configmaps", "ns", f"c{i}", _cm(f"c{i}"))
    with pytest.raises(WindowExpired):
        store.events_after(rv)
    assert len(store.events_after(store.resource_version - 2)) == 2


def test_restart_expires_versions_before_it(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    old_rv = store.resource_version
    store.create("configmaps", "ns", "a", _cm("a"))
    store.close()
    reopened = Store(tmp_path / "db.sqlite")
    with pytest.raises(WindowExpired):
        reopened.events_after(old_rv)
    assert reopened.events_after(reopened.resource_version) == []
