"""API semantics of the registry, exercised directly (no HTTP)."""

from __future__ import annotations

import pytest

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import PATCH_APPLY, PATCH_MERGE, PATCH_STRATEGIC, Registry, WriteOptions
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import Store

NS = by_kind("", "Namespace")
CM = by_kind("", "ConfigMap")
SECRET = by_kind("", "Secret")
SVC = by_kind("", "Service")
DEPLOY = by_kind("apps", "Deployment")
RS = by_kind("apps", "ReplicaSet")
POD = by_kind("", "Pod")


@pytest.fixture
def registry(tmp_path):
    reg = Registry(Store(tmp_path / "db.sqlite"))
    reg.create(NS, None, {"metadata": {"name": "default"}}, WriteOptions("test"))
    return reg


def _opts(**kw) -> WriteOptions:
    return WriteOptions(kw.pop("manager", "test"), **kw)


def _deployment(name="web", image="nginx:1.27", replicas=1) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def test_create_sets_identity_defaults_and_managed_fields(registry):
    dep = registry.create(DEPLOY, "default", _deployment(), _opts(manager="kubectl-create"))
    meta = dep["metadata"]
    assert meta["namespace"] == "default" and meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert dep["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert [m["manager"] for m in meta["managedFields"]] == ["kubectl-create"]


def test_generation_bumps_on_spec_change_only(registry):
    registry.create(DEPLOY, "default", _deployment(), _opts())
    labelled, _ = registry.patch(
        DEPLOY, "default", "web", PATCH_MERGE, {"metadata": {"labels": {"x": "y"}}}, _opts()
    )
    assert labelled["metadata"]["generation"] == 1
    scaled, _ = registry.patch(DEPLOY, "default", "web", PATCH_MERGE, {"spec": {"replicas": 3}}, _opts())
    assert scaled["metadata"]["generation"] == 2


def test_stale_update_conflicts(registry):
    first = registry.create(CM, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}, _opts())
    registry.update(CM, "default", "c", {**first, "data": {"a": "2"}}, _opts())
    with pytest.raises(ApiError) as err:
        registry.update(CM, "default", "c", {**first, "data": {"a": "3"}}, _opts())
    assert err.value.code == 409 and "the object has been modified" in err.value.message


def test_noop_update_keeps_resource_version(registry):
    first = registry.create(CM, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}, _opts())
    again = registry.update(CM, "default", "c", first, _opts())
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_status_is_written_only_through_the_subresource(registry):
    registry.create(DEPLOY, "default", _deployment(), _opts())
    current = registry.get(DEPLOY, "default", "web")
    ignored = registry.update(DEPLOY, "default", "web", {**current, "status": {"replicas": 9}}, _opts())
    assert "replicas" not in ignored.get("status", {})
    current = registry.get(DEPLOY, "default", "web")
    written = registry.update(
        DEPLOY,
        "default",
        "web",
        {**current, "spec": {**current["spec"], "replicas": 7}, "status": {"replicas": 9}},
        _opts(),
        subresource="status",
    )
    assert written["status"] == {"replicas": 9} and written["spec"]["replicas"] == 1


def test_dry_run_stores_nothing(registry):
    made = registry.create(CM, "default", {"metadata": {"name": "dry"}}, _opts(dry_run=True))
    assert made["metadata"]["uid"]
    with pytest.raises(ApiError) as err:
        registry.get(CM, "default", "dry")
    assert err.value.code == 404


def test_validation_causes_are_422(registry):
    bad = _deployment()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(ApiError) as err:
        registry.create(DEPLOY, "default", bad, _opts())
    assert err.value.code == 422
    assert "`selector` does not match template `labels`" in err.value.message
    assert err.value.details["causes"][0]["field"] == "spec.template.metadata.labels"


def test_selector_is_immutable(registry):
    registry.create(DEPLOY, "default", _deployment(), _opts())
    changed = registry.get(DEPLOY, "default", "web")
    changed["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    changed["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    with pytest.raises(ApiError) as err:
        registry.update(DEPLOY, "default", "web", changed, _opts())
    assert err.value.code == 422 and "field is immutable" in err.value.message


def test_create_in_missing_namespace_is_404(registry):
    with pytest.raises(ApiError) as err:
        registry.create(CM, "nowhere", {"metadata": {"name": "c"}}, _opts())
    assert err.value.code == 404 and err.value.message == 'namespaces "nowhere" not found'


def test_strict_field_validation(registry):
    body = {"metadata": {"name": "c"}, "data": {}, "bogus": 1}
    with pytest.raises(ApiError) as err:
        registry.create(CM, "default", dict(body), _opts(field_validation="Strict"))
    assert err.value.code == 400 and 'unknown field "bogus"' in err.value.message
    opts = _opts(field_validation="Warn")
    registry.create(CM, "default", dict(body), opts)
    assert opts.warnings == ['unknown field "bogus"']


def test_secret_string_data_is_merged_into_data(registry):
    secret = registry.create(
        SECRET,
        "default",
        {"metadata": {"name": "s"}, "data": {"a": "YQ=="}, "stringData": {"b": "bee"}},
        _opts(),
    )
    assert secret["data"] == {"a": "YQ==", "b": "YmVl"} and "stringData" not in secret
    assert secret["type"] == "Opaque"


def test_service_gets_a_cluster_ip_that_survives_updates(registry):
    svc = registry.create(
        SVC, "default", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}, _opts()
    )
    ip = svc["spec"]["clusterIP"]
    assert ip.startswith("10.") and svc["spec"]["ports"][0] == {
        "port": 80,
        "protocol": "TCP",
        "targetPort": 80,
    }
    patched, _ = registry.patch(
        SVC, "default", "s", PATCH_STRATEGIC, {"spec": {"ports": [{"port": 80, "name": "http"}]}}, _opts()
    )
    assert patched["spec"]["clusterIP"] == ip


def test_server_side_apply_creates_and_conflicts(registry):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "a"}}
    created, was_created = registry.patch(CM, "default", "applied", PATCH_APPLY, body, _opts(manager="one"))
    assert was_created and created["metadata"]["managedFields"][0]["operation"] == "Apply"
    other = {**body, "data": {"k": "b"}}
    with pytest.raises(ApiError) as err:
        registry.patch(CM, "default", "applied", PATCH_APPLY, other, _opts(manager="two"))
    assert err.value.code == 409 and 'conflict with "one"' in err.value.message
    forced, _ = registry.patch(CM, "default", "applied", PATCH_APPLY, other, _opts(manager="two", force=True))
    assert forced["data"] == {"k": "b"}


def test_apply_requires_a_field_manager(registry):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    with pytest.raises(ApiError) as err:
        registry.patch(CM, "default", "x", PATCH_APPLY, body, _opts(manager=""))
    assert err.value.code == 422 and "fieldManager: Required value" in err.value.message


def _owned_replicaset(registry, owner: dict) -> dict:
    rs = {
        "metadata": {
            "name": "web-abc",
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": owner["metadata"]["name"],
                    "uid": owner["metadata"]["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }
    return registry.create(RS, "default", rs, _opts())


def test_background_deletion_leaves_dependents_to_the_collector(registry):
    dep = registry.create(DEPLOY, "default", _deployment(), _opts())
    _owned_replicaset(registry, dep)
    _obj, gone = registry.delete(DEPLOY, "default", "web")
    assert gone
    assert registry.get(RS, "default", "web-abc")  # still there until the collector runs
    assert registry.delete_dependents(dep["metadata"]["uid"]) == 1
    with pytest.raises(ApiError):
        registry.get(RS, "default", "web-abc")


def test_orphan_and_foreground_propagation(registry):
    dep = registry.create(DEPLOY, "default", _deployment(), _opts())
    _owned_replicaset(registry, dep)
    registry.delete(DEPLOY, "default", "web", propagation="Orphan")
    assert "ownerReferences" not in registry.get(RS, "default", "web-abc")["metadata"]
    registry.delete(RS, "default", "web-abc")
    dep = registry.create(DEPLOY, "default", _deployment(), _opts())
    _owned_replicaset(registry, dep)
    registry.delete(DEPLOY, "default", "web", propagation="Foreground")
    with pytest.raises(ApiError):
        registry.get(RS, "default", "web-abc")


def test_finalizers_hold_deletion_until_removed(registry):
    registry.create(
        CM, "default", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, _opts()
    )
    obj, gone = registry.delete(CM, "default", "held")
    assert not gone and obj["metadata"]["deletionTimestamp"]
    obj["metadata"]["finalizers"] = []
    registry.update(CM, "default", "held", obj, _opts())
    with pytest.raises(ApiError):
        registry.get(CM, "default", "held")


def test_system_namespaces_cannot_be_deleted(registry):
    with pytest.raises(ApiError) as err:
        registry.delete(NS, None, "default")
    assert err.value.code == 403


def test_delete_preconditions(registry):
    registry.create(CM, "default", {"metadata": {"name": "p"}}, _opts())
    with pytest.raises(ApiError) as err:
        registry.delete(CM, "default", "p", preconditions={"uid": "not-the-uid"})
    assert err.value.code == 409 and "Precondition failed" in err.value.message


def test_scale_subresource(registry):
    registry.create(DEPLOY, "default", _deployment(replicas=2), _opts())
    scale = registry.to_scale(DEPLOY, registry.get(DEPLOY, "default", "web"))
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=web"
    updated = registry.update_scale(DEPLOY, "default", "web", {"spec": {"replicas": 5}}, _opts())
    assert updated["spec"]["replicas"] == 5
    with pytest.raises(ApiError) as err:
        registry.update_scale(DEPLOY, "default", "web", {"spec": {"replicas": -1}}, _opts())
    assert err.value.code == 422


def test_label_and_field_selectors_on_list(registry):
    for name, team in (("a", "x"), ("b", "y")):
        registry.create(CM, "default", {"metadata": {"name": name, "labels": {"team": team}}}, _opts())
    names = [o["metadata"]["name"] for o in registry.list(CM, "default", "team=x")[0]]
    assert names == ["a"]
    names = [o["metadata"]["name"] for o in registry.list(CM, "default", None, "metadata.name=b")[0]]
    assert names == ["b"]
    with pytest.raises(ApiError) as err:
        registry.list(CM, "default", "team in (x")
    assert err.value.code == 400


def _race_once(registry, res, name):
    """Make the next store update lose a race: another writer changes the object first."""
    original = registry.store.update
    raced = []

    def update(resource, ns, obj_name, obj, expected_rv):
        if not raced:
            raced.append(True)
            current = registry.store.get(resource, ns, obj_name)
            current["metadata"].setdefault("annotations", {})["raced"] = "yes"
            original(resource, ns, obj_name, current, None)
        return original(resource, ns, obj_name, obj, expected_rv)

    registry.store.update = update


def test_patch_reapplies_after_a_concurrent_write(registry):
    registry.create(CM, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}, _opts())
    _race_once(registry, CM, "c")
    patched, _ = registry.patch(CM, "default", "c", PATCH_MERGE, {"data": {"a": "2"}}, _opts())
    assert patched["data"] == {"a": "2"}
    assert patched["metadata"]["annotations"] == {"raced": "yes"}  # the other writer's change is kept


def test_patch_pinning_a_version_still_conflicts(registry):
    made = registry.create(CM, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}}, _opts())
    _race_once(registry, CM, "c")
    pinned = {"metadata": {"resourceVersion": made["metadata"]["resourceVersion"]}, "data": {"a": "2"}}
    with pytest.raises(ApiError) as err:
        registry.patch(CM, "default", "c", PATCH_MERGE, pinned, _opts())
    assert err.value.code == 409


def test_a_terminating_pod_waits_for_its_kubelet(registry):
    pod = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": "gpu-1", "containers": [{"name": "c", "image": "x:1"}]},
    }
    registry.create(POD, "default", pod, _opts())
    marked, gone = registry.delete(POD, "default", "p")
    assert not gone and marked["metadata"]["deletionGracePeriodSeconds"] == 30
    status_write = {**registry.get(POD, "default", "p"), "status": {"phase": "Running"}}
    registry.update(POD, "default", "p", status_write, _opts(manager="kubelet"), subresource="status")
    assert registry.get(POD, "default", "p")["metadata"]["deletionTimestamp"]  # still there, terminating
    registry.delete(POD, "default", "p", grace_period_seconds=0)
    with pytest.raises(ApiError):
        registry.get(POD, "default", "p")
