"""JSON patch, JSON merge patch and strategic merge patch as the sandbox API server applies them."""

from __future__ import annotations

import copy
import json

import pytest

from sandbox.apiserver.listtypes import ATOMIC, ListType, list_type, map_is_atomic
from sandbox.apiserver.patch import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)


def deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "nginx:1.25",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        },
                        {"name": "sidecar", "image": "busybox:1.36"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    }


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def directive_keys(value: object) -> list[str]:
    if isinstance(value, dict):
        own = [k for k in value if k.startswith("$")]
        return own + [k for v in value.values() for k in directive_keys(v)]
    if isinstance(value, list):
        return [k for v in value for k in directive_keys(v)]
    return []


# --- list types --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "expected"),
    [
        ("Pod", ("spec", "containers"), ListType("map", ("name",), "name")),
        (
            "Deployment",
            ("spec", "template", "spec", "containers", "ports"),
            ListType("map", ("containerPort", "protocol"), "containerPort"),
        ),
        (
            "CronJob",
            ("spec", "jobTemplate", "spec", "template", "spec", "initContainers", "env"),
            ListType("map", ("name",), "name"),
        ),
        (
            "StatefulSet",
            ("spec", "template", "spec", "volumes"),
            ListType("map", ("name",), "name", retain_keys=True),
        ),
        ("Service", ("spec", "ports"), ListType("map", ("port", "protocol"), "port")),
        ("ConfigMap", ("metadata", "finalizers"), ListType("set", smp_merge_primitives=True)),
        ("Deployment", ("spec", "template", "metadata", "ownerReferences"), ListType("map", ("uid",), "uid")),
        ("Node", ("status", "addresses"), ListType("map", ("type",), "type")),
        ("Deployment", ("status", "conditions"), ListType("map", ("type",), "type")),
        ("Job", ("status", "conditions"), ListType("atomic", merge_key="type")),
        (
            "Pod",
            ("spec", "topologySpreadConstraints"),
            ListType("map", ("topologyKey", "whenUnsatisfiable"), "topologyKey"),
        ),
        ("Deployment", ("spec", "template", "spec", "tolerations"), ATOMIC),
        ("Pod", ("spec", "containers", "args"), ATOMIC),
        ("Role", ("rules",), ATOMIC),
        ("Ingress", ("spec", "rules"), ATOMIC),
        ("Service", ("spec", "template", "spec", "containers"), ATOMIC),  # a Service has no pod template
        ("Widget", ("spec", "items"), ATOMIC),
    ],
)
def test_list_type(kind: str, path: tuple[str, ...], expected: ListType) -> None:
    assert list_type(kind, path) == expected


def test_label_selectors_and_node_selectors_are_atomic_maps_but_labels_are_not() -> None:
    assert map_is_atomic("Deployment", ("spec", "selector"))
    assert map_is_atomic("Service", ("spec", "selector"))
    assert map_is_atomic("Deployment", ("spec", "template", "spec", "nodeSelector"))
    assert not map_is_atomic("Deployment", ("spec", "template", "metadata", "labels"))


# --- RFC 6902, Appendix A ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "ops", "expected"),
    [
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
            id="A.1 add object member",
        ),
        pytest.param(
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
            id="A.2 add array element",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [{"op": "remove", "path": "/baz"}],
            {"foo": "bar"},
            id="A.3 remove object member",
        ),
        pytest.param(
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
            id="A.4 remove array element",
        ),
        pytest.param(
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
            id="A.5 replace value",
        ),
        pytest.param(
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
            id="A.6 move value",
        ),
        pytest.param(
            {"foo": ["all", "grass", "cows", "eat"]},
            [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
            {"foo": ["all", "cows", "eat", "grass"]},
            id="A.7 move array element",
        ),
        pytest.param(
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
            {"baz": "qux", "foo": ["a", 2, "c"]},
            id="A.8 test success",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
            id="A.10 add nested member object",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
            {"foo": "bar", "baz": "qux"},
            id="A.11 ignore unrecognized members",
        ),
        pytest.param(
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": 10}],
            {"/": 9, "~1": 10},
            id="A.14 ~ escape ordering",
        ),
        pytest.param(
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
            id="A.16 add array value",
        ),
        pytest.param(
            {"a/b": {"m~n": 1}},
            [{"op": "replace", "path": "/a~1b/m~0n", "value": 2}],
            {"a/b": {"m~n": 2}},
            id="RFC 6901 escapes",
        ),
        pytest.param(
            {"a": {"b": 1}},
            [{"op": "copy", "from": "/a", "path": "/c"}],
            {"a": {"b": 1}, "c": {"b": 1}},
            id="copy",
        ),
        pytest.param(
            {"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}], {"b": 2}, id="replace whole doc"
        ),
    ],
)
def test_json_patch_rfc_examples(doc: dict, ops: list, expected: dict) -> None:
    before = copy.deepcopy(doc)
    assert apply_json_patch(doc, ops) == expected
    assert doc == before


@pytest.mark.parametrize(
    ("doc", "ops", "message"),
    [
        pytest.param(
            {"baz": "qux"},
            [{"op": "test", "path": "/baz", "value": "bar"}],
            "testing value /baz failed: test failed",
            id="A.9 test error",
        ),
        pytest.param(
            {"foo": "bar"},
            [{"op": "add", "path": "/baz/bat", "value": "qux"}],
            'add operation does not apply: doc is missing path: "/baz/bat": missing value',
            id="A.12 add to nonexistent target",
        ),
        pytest.param(
            {"/": 9, "~1": 10},
            [{"op": "test", "path": "/~01", "value": "10"}],
            "testing value /~01 failed: test failed",
            id="A.15 string is not number",
        ),
        pytest.param(
            {"a": True},
            [{"op": "test", "path": "/a", "value": 1}],
            "testing value /a failed: test failed",
            id="true is not 1",
        ),
        pytest.param(
            {"spec": {}},
            [{"op": "remove", "path": "/spec/x"}],
            'remove operation does not apply: doc is missing path: "/spec/x": missing value',
            id="remove missing",
        ),
        pytest.param(
            {"spec": {}},
            [{"op": "replace", "path": "/spec/x", "value": 1}],
            'replace operation does not apply: doc is missing path: "/spec/x": missing value',
            id="replace missing",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "add", "path": "/a/5", "value": 1}],
            'add operation does not apply: doc is missing path: "/a/5": missing value',
            id="index past end",
        ),
        pytest.param(
            {"a": [1]},
            [{"op": "add", "path": "/a/01", "value": 1}],
            "Unable to access invalid index: 01: invalid index referenced",
            id="leading zero index",
        ),
        pytest.param(
            {"a": {}},
            [{"op": "move", "from": "/a", "path": "/a/b"}],
            'move operation does not apply: "/a/b" is a child of "/a"',
            id="move into own child",
        ),
        pytest.param(
            {}, [{"op": "frobnicate", "path": "/a"}], "Unexpected kind: frobnicate", id="unknown op"
        ),
    ],
)
def test_json_patch_failures_are_unprocessable(doc: dict, ops: list, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(doc, ops)
    assert (caught.value.code, caught.value.message) == (422, message)


@pytest.mark.parametrize(
    "ops",
    [{"op": "add", "path": "/a", "value": 1}, [{"op": "add", "value": 1}], ["add"]],
    ids=["not a list", "op without path", "op not an object"],
)
def test_malformed_json_patch_is_a_bad_request(ops: object) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch({}, ops)
    assert caught.value.code == 400


def test_json_patch_as_kubectl_sends_it() -> None:
    ops = [
        {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "nginx:1.27"},
        {"op": "add", "path": "/metadata/labels/env", "value": "prod"},
        {"op": "remove", "path": "/spec/template/spec/containers/0/env/1"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/cleanup"]},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/second"},
    ]
    patched = apply_json_patch(deployment(), ops)
    assert containers(patched)[0]["image"] == "nginx:1.27"
    assert containers(patched)[0]["env"] == [{"name": "A", "value": "1"}]
    assert patched["metadata"]["labels"]["env"] == "prod"
    assert patched["metadata"]["finalizers"] == ["example.com/cleanup", "example.com/second"]


# --- RFC 7386, Appendix A ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc_examples(original: object, patch: object, result: object) -> None:
    before = copy.deepcopy(original)
    assert apply_merge_patch(original, patch) == result
    assert original == before


def test_merge_patch_replaces_lists_and_deletes_labels() -> None:
    patched = apply_merge_patch(
        deployment(), {"metadata": {"labels": {"tier": None}}, "spec": {"replicas": 5}}
    )
    assert patched["metadata"]["labels"] == {"app": "web"}
    assert patched["spec"]["replicas"] == 5
    replaced = apply_merge_patch(
        deployment(), {"spec": {"template": {"spec": {"containers": [{"name": "x"}]}}}}
    )
    assert containers(replaced) == [{"name": "x"}]


# --- strategic merge patch ---------------------------------------------------------------------------


def test_smp_image_change_as_kubectl_apply_sends_it() -> None:
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [{"image": "nginx:1.27", "name": "app"}],
                }
            }
        },
    }
    original = deployment()
    patched = apply_strategic_merge_patch(original, patch, "Deployment")
    expected = deployment()
    containers(expected)[0]["image"] = "nginx:1.27"
    expected["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}\n"}
    assert patched == expected
    assert original == deployment()


def test_smp_env_item_removed_with_patch_delete_and_new_item_added() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                    "containers": [
                        {
                            "$setElementOrder/env": [{"name": "C"}, {"name": "A"}],
                            "env": [{"name": "C", "value": "3"}, {"$patch": "delete", "name": "B"}],
                            "name": "app",
                        }
                    ],
                }
            }
        }
    }
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert containers(patched)[0]["env"] == [{"name": "C", "value": "3"}, {"name": "A", "value": "1"}]
    assert directive_keys(patched) == []


def test_smp_null_removes_label_and_nested_field() -> None:
    patch = {
        "metadata": {"labels": {"tier": None, "missing": None}},
        "spec": {"strategy": {"rollingUpdate": None}},
    }
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert patched["metadata"]["labels"] == {"app": "web"}
    assert patched["spec"]["strategy"] == {"type": "RollingUpdate"}


def test_smp_set_element_order_reorders_and_keeps_server_only_items_in_place() -> None:
    doc = deployment()
    containers(doc).insert(1, {"name": "injected", "image": "istio/proxyv2"})  # added by someone else
    patch = {
        "spec": {
            "template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}]}}
        }
    }
    patched = apply_strategic_merge_patch(doc, patch, "Deployment")
    assert [c["name"] for c in containers(patched)] == ["sidecar", "app", "injected"]


def test_smp_new_list_item_is_appended_without_element_order() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "redis"}]}}}}
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert [c["name"] for c in containers(patched)] == ["app", "sidecar", "new"]


def test_smp_replaces_lists_without_merge_key() -> None:
    patch = {"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert patched["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]


def test_smp_service_ports_merge_by_port() -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "ports": [
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            ]
        },
    }
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [{"port": 443, "targetPort": 9443}],
        }
    }
    patched = apply_strategic_merge_patch(service, patch, "Service")
    assert patched["spec"]["ports"][1] == {
        "name": "https",
        "port": 443,
        "protocol": "TCP",
        "targetPort": 9443,
    }
    assert patched["spec"]["ports"][0] == service["spec"]["ports"][0]


def test_smp_finalizers_are_unioned_and_deleted_from_primitive_list() -> None:
    doc = {"metadata": {"name": "x", "finalizers": ["a", "b"]}}
    patched = apply_strategic_merge_patch(doc, {"metadata": {"finalizers": ["b", "c"]}}, "ConfigMap")
    assert patched["metadata"]["finalizers"] == ["a", "b", "c"]
    patch = {
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["a"], "$setElementOrder/finalizers": ["c", "b"]}
    }
    assert apply_strategic_merge_patch(patched, patch, "ConfigMap")["metadata"]["finalizers"] == ["c", "b"]


def test_smp_retain_keys_switches_deployment_strategy() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert patched["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_retain_keys_in_a_volume_item_switches_its_source() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "volumes": [
                        {
                            "$retainKeys": ["configMap", "name"],
                            "configMap": {"name": "settings"},
                            "name": "data",
                        }
                    ]
                }
            }
        }
    }
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert patched["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "configMap": {"name": "settings"}}
    ]


def test_smp_patch_replace_on_a_map_and_on_a_list() -> None:
    patch = {"spec": {"strategy": {"$patch": "replace", "type": "Recreate"}}}
    assert apply_strategic_merge_patch(deployment(), patch, "Deployment")["spec"]["strategy"] == {
        "type": "Recreate"
    }
    patch = {
        "spec": {
            "template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}}
        }
    }
    assert containers(apply_strategic_merge_patch(deployment(), patch, "Deployment")) == [
        {"name": "only", "image": "x"}
    ]


def test_smp_patch_delete_on_a_map_and_merge_directive_is_dropped() -> None:
    patch = {
        "spec": {"strategy": {"$patch": "delete"}, "selector": {"$patch": "merge", "matchLabels": {"x": "y"}}}
    }
    patched = apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert "strategy" not in patched["spec"]
    assert patched["spec"]["selector"] == {"matchLabels": {"app": "web", "x": "y"}}


def test_smp_pod_template_rules_apply_inside_a_cronjob() -> None:
    cronjob = {
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "job", "image": "a", "env": [{"name": "X", "value": "1"}]}
                            ]
                        }
                    }
                }
            }
        },
    }
    patch = {
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "job", "env": [{"name": "Y", "value": "2"}]}]}
                    }
                }
            }
        }
    }
    patched = apply_strategic_merge_patch(cronjob, patch, "CronJob")
    job = patched["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert job == {
        "name": "job",
        "image": "a",
        "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
    }


def test_smp_helm3_three_way_patch_round_trips_through_json() -> None:
    body = json.loads(
        '{"metadata":{"labels":{"helm.sh/chart":"web-0.2.0"}},"spec":{"template":{"spec":'
        '{"$setElementOrder/containers":[{"name":"app"},{"name":"sidecar"}],"containers":'
        '[{"$setElementOrder/ports":[{"containerPort":8080}],"name":"app","ports":'
        '[{"containerPort":8080,"protocol":"TCP"},{"$patch":"delete","containerPort":80}]}]}}}}'
    )
    patched = apply_strategic_merge_patch(deployment(), body, "Deployment")
    assert containers(patched)[0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert patched["metadata"]["labels"]["helm.sh/chart"] == "web-0.2.0"
    assert directive_keys(patched) == []


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        ([{"spec": {}}], 400, "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (
            {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}},
            422,
            'map: {"image":"x"} does not contain declared merge key: name',
        ),
        (
            {"spec": {"strategy": {"$patch": "explode"}}},
            400,
            'Unknown patch type: explode in map: {"$patch":"explode"}',
        ),
    ],
)
def test_smp_errors(patch: object, code: int, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge_patch(deployment(), patch, "Deployment")
    assert (caught.value.code, caught.value.message) == (code, message)
