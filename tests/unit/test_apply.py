"""Server-side apply and managedFields as the sandbox API server records them."""

from __future__ import annotations

import copy

import pytest

from sandbox.apiserver.apply import (
    ApplyConflict,
    decode_fields_v1,
    encode_fields_v1,
    field_set,
    server_side_apply,
    track_update,
)
from sandbox.apiserver.patch import PatchError

T1, T2, T3, T4 = (f"2026-01-0{day}T00:00:00Z" for day in range(1, 5))


def manifest(replicas: int = 2, image: str = "nginx:1.25") -> dict:
    """A Deployment as `kubectl apply --server-side` or helm 4 sends it."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 80}]},
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ]
                },
            },
        },
    }


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def entries(obj: dict) -> dict[tuple[str, str], dict]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


def owned(obj: dict, manager: str, operation: str = "Apply") -> set:
    return decode_fields_v1(entries(obj)[(manager, operation)]["fieldsV1"])


def test_create_by_apply_records_the_applied_fields_in_kubernetes_form() -> None:
    created = server_side_apply(None, manifest(), "Deployment", "kubectl", False, T1)
    assert created["spec"] == manifest()["spec"]
    assert created["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "apps/v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},  # LabelSelector is atomic
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {
                            "f:containers": {
                                'k:{"name":"app"}': {
                                    ".": {},
                                    "f:image": {},
                                    "f:name": {},
                                    "f:ports": {
                                        'k:{"containerPort":80,"protocol":"TCP"}': {
                                            ".": {},
                                            "f:containerPort": {},
                                        }
                                    },
                                },
                                'k:{"name":"sidecar"}': {".": {}, "f:image": {}, "f:name": {}},
                            }
                        },
                    },
                },
            },
        }
    ]


def test_fields_v1_round_trip_with_set_items() -> None:
    obj = {"metadata": {"name": "x", "finalizers": ["example.com/a"], "labels": {"a": "1"}}}
    paths = field_set(obj, "ConfigMap")
    assert paths == {
        (("f", "metadata"), ("f", "finalizers"), ("v", '"example.com/a"')),
        (("f", "metadata"), ("f", "labels"), ("f", "a")),
    }
    encoded = encode_fields_v1(paths)
    assert encoded == {"f:metadata": {"f:finalizers": {'v:"example.com/a"': {}}, "f:labels": {"f:a": {}}}}
    assert decode_fields_v1(encoded) == paths


def test_reapply_without_a_field_removes_it_and_its_list_items() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "kubectl", False, T1)
    applied = manifest()
    del applied["spec"]["replicas"]
    del applied["metadata"]["labels"]
    containers(applied).pop()  # drop the sidecar
    updated = server_side_apply(live, applied, "Deployment", "kubectl", False, T2)
    assert "replicas" not in updated["spec"]
    assert "labels" not in updated["metadata"]
    assert [c["name"] for c in containers(updated)] == ["app"]
    assert entries(updated)[("kubectl", "Apply")]["time"] == T2


def test_noop_reapply_keeps_the_entry_time() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "kubectl", False, T1)
    again = server_side_apply(live, manifest(), "Deployment", "kubectl", False, T2)
    assert again == live


def test_two_managers_share_a_value_and_it_survives_one_of_them_dropping_it() -> None:
    live = server_side_apply(None, manifest(replicas=3), "Deployment", "helm", False, T1)
    shared = server_side_apply(live, {**manifest(replicas=3)}, "Deployment", "ci", False, T2)
    replicas = (("f", "spec"), ("f", "replicas"))
    assert replicas in owned(shared, "helm") and replicas in owned(shared, "ci")
    helm_without_replicas = manifest()
    del helm_without_replicas["spec"]["replicas"]
    after = server_side_apply(shared, helm_without_replicas, "Deployment", "helm", False, T3)
    assert after["spec"]["replicas"] == 3
    assert replicas not in owned(after, "helm")


def test_applying_a_different_value_owned_by_another_manager_conflicts() -> None:
    live = server_side_apply(None, manifest(replicas=3), "Deployment", "helm", False, T1)
    with pytest.raises(ApplyConflict) as caught:
        server_side_apply(live, manifest(replicas=5), "Deployment", "ci", False, T2)
    assert str(caught.value) == 'Apply failed with 1 conflict: conflict with "helm": .spec.replicas'
    assert caught.value.conflicts == [("helm", ".spec.replicas")]
    assert caught.value.causes == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "helm"', "field": ".spec.replicas"}
    ]


def test_force_moves_ownership_to_the_applier() -> None:
    live = server_side_apply(None, manifest(replicas=3), "Deployment", "helm", False, T1)
    forced = server_side_apply(live, manifest(replicas=5), "Deployment", "ci", True, T2)
    assert forced["spec"]["replicas"] == 5
    replicas = (("f", "spec"), ("f", "replicas"))
    assert replicas in owned(forced, "ci")
    assert replicas not in owned(forced, "helm")


def test_set_image_then_reapply_of_the_old_image_conflicts_with_the_updater() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "kubectl", False, T1)
    changed = copy.deepcopy(live)
    containers(changed)[0]["image"] = "nginx:1.27"  # kubectl set image
    updated = track_update(live, changed, "Deployment", "kubectl-set", T2)
    image = (
        ("f", "spec"),
        ("f", "template"),
        ("f", "spec"),
        ("f", "containers"),
        ("k", (("name", "app"),)),
        ("f", "image"),
    )
    assert owned(updated, "kubectl-set", "Update") == {image}
    assert image not in owned(updated, "kubectl")
    with pytest.raises(ApplyConflict) as caught:
        server_side_apply(updated, manifest(), "Deployment", "kubectl", False, T3)
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-set" using apps/v1: '
        '.spec.template.spec.containers[name="app"].image'
    )


def test_first_server_side_apply_over_client_side_apply_lists_every_conflict() -> None:
    live = track_update(None, manifest(replicas=2), "Deployment", "kubectl-client-side-apply", T1)
    with pytest.raises(ApplyConflict) as caught:
        server_side_apply(live, manifest(replicas=3, image="nginx:1.27"), "Deployment", "kubectl", False, T2)
    assert str(caught.value) == (
        "Apply failed with 2 conflicts: "
        'conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="app"].image\n'
    )


def test_applied_items_come_first_then_items_only_others_own() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "helm", False, T1)
    injected = copy.deepcopy(live)
    containers(injected).insert(0, {"name": "proxy", "image": "envoy"})
    live = track_update(live, injected, "Deployment", "injector", T2)
    applied = manifest()
    containers(applied).reverse()
    result = server_side_apply(live, applied, "Deployment", "helm", False, T3)
    assert [c["name"] for c in containers(result)] == ["sidecar", "app", "proxy"]


def test_track_update_on_create_and_status_goes_to_its_own_entry() -> None:
    created = track_update(
        None, {**manifest(), "status": {"replicas": 0}}, "Deployment", "kubectl-create", T1
    )
    fields = owned(created, "kubectl-create", "Update")
    assert (("f", "spec"), ("f", "replicas")) in fields
    assert not any(path[0] == ("f", "status") for path in fields)

    with_status = copy.deepcopy(created)
    with_status["status"] = {"replicas": 2, "readyReplicas": 2}
    updated = track_update(
        created, with_status, "Deployment", "kube-controller-manager", T2, subresource="status"
    )
    entry = entries(updated)[("kube-controller-manager", "Update")]
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:readyReplicas": {}, "f:replicas": {}}}


def test_update_that_changes_nothing_leaves_managed_fields_alone() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "helm", False, T1)
    assert track_update(live, copy.deepcopy(live), "Deployment", "someone", T2) == live


def test_update_that_takes_every_field_drops_the_old_manager() -> None:
    live = server_side_apply(
        None,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}},
        "ConfigMap",
        "helm",
        False,
        T1,
    )
    changed = {**live, "data": {"a": "2"}}
    updated = track_update(live, changed, "ConfigMap", "editor", T2)
    assert list(entries(updated)) == [("editor", "Update")]


def test_client_can_reset_managed_fields() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "helm", False, T1)
    reset = copy.deepcopy(live)
    reset["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in track_update(live, reset, "Deployment", "kubectl", T2)["metadata"]


def test_service_ports_are_keyed_by_port_and_defaulted_protocol() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 53, "protocol": "UDP"}, {"port": 80}]},
    }
    created = server_side_apply(None, service, "Service", "helm", False, T1)
    ports = entries(created)[("helm", "Apply")]["fieldsV1"]["f:spec"]["f:ports"]
    assert list(ports) == ['k:{"port":53,"protocol":"UDP"}', 'k:{"port":80,"protocol":"TCP"}']


@pytest.mark.parametrize(
    ("applied_containers", "message"),
    [
        (
            [{"image": "x"}],
            ".spec.template.spec.containers: associative list with keys has an element that "
            'omits key field "name" (and doesn\'t have default value)',
        ),
        (
            [{"name": "a"}, {"name": "a"}],
            '.spec.template.spec.containers: duplicate entries for key [name="a"]',
        ),
    ],
)
def test_invalid_list_map_items_in_the_applied_config(applied_containers: list, message: str) -> None:
    applied = manifest()
    applied["spec"]["template"]["spec"]["containers"] = applied_containers
    with pytest.raises(PatchError) as caught:
        server_side_apply(None, applied, "Deployment", "kubectl", False, T1)
    assert (caught.value.code, caught.value.message) == (422, message)


def test_apply_never_mutates_its_inputs() -> None:
    live = server_side_apply(None, manifest(), "Deployment", "kubectl", False, T1)
    live_before, applied = copy.deepcopy(live), manifest(replicas=9)
    server_side_apply(live, applied, "Deployment", "kubectl", False, T4)
    assert live == live_before
    assert applied == manifest(replicas=9)
