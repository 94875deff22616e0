"""Unknown-field and type checks derived from the official client's models."""

from __future__ import annotations

import copy

import pytest

from sandbox.apiserver import resources, schema

DEPLOYMENT = resources.by_kind("apps", "Deployment")


def _deployment() -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"team": "blue"},
        },
        "spec": {
            "replicas": 2,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
            },
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "args": ["--port", "8080"],
                            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            ],
                            "resources": {
                                "limits": {"cpu": 1, "memory": "128Mi"},
                                "requests": {"cpu": "100m"},
                            },
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http"},
                                "periodSeconds": 5,
                            },
                            "livenessProbe": {"exec": {"command": ["true"]}},
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/web"}],
                            "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True},
                        }
                    ],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "web-config"}},
                        {"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}},
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                    "terminationGracePeriodSeconds": 30,
                },
            },
        },
        "status": {
            "replicas": 2,
            "readyReplicas": 2,
            "observedGeneration": 3,
            "conditions": [
                {"type": "Available", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"}
            ],
        },
    }


VALID_OBJECTS = [
    ("apps", "Deployment", _deployment()),
    (
        "",
        "Service",
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "clusterIP": "10.96.0.10",
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"},
                    {"name": "admin", "port": 8006, "targetPort": "admin"},
                ],
            },
            "status": {"loadBalancer": {}},
        },
    ),
    (
        "",
        "Secret",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds"},
            "type": "Opaque",
            "data": {"password": "cGFzcw=="},
            "stringData": {"user": "admin"},
            "immutable": False,
        },
    ),
    (
        "",
        "ConfigMap",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg"},
            "data": {"app.yaml": "a: 1\n"},
            "binaryData": {"blob": "AAEC"},
        },
    ),
    (
        "",
        "Pod",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "rs",
                        "uid": "u1",
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
                "initContainers": [{"name": "init", "image": "busybox", "restartPolicy": "Always"}],
                "restartPolicy": "Always",
                "priority": 0,
            },
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.5",
                "podIPs": [{"ip": "10.0.0.5"}],
                "containerStatuses": [
                    {
                        "name": "c",
                        "ready": True,
                        "restartCount": 0,
                        "image": "busybox",
                        "imageID": "",
                        "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
                    }
                ],
            },
        },
    ),
]


@pytest.mark.parametrize(("group", "kind", "obj"), VALID_OBJECTS, ids=[kind for _, kind, _ in VALID_OBJECTS])
def test_valid_objects_have_no_unknown_fields_or_type_errors(group: str, kind: str, obj: dict) -> None:
    res = resources.by_kind(group, kind)
    assert schema.unknown_fields(res, obj) == []
    assert schema.type_errors(res, obj) == []


def test_unknown_field_deep_in_a_deployment_is_reported_with_its_path() -> None:
    obj = _deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["imagee"] = "typo"
    assert schema.unknown_fields(DEPLOYMENT, obj) == ["spec.template.spec.containers[0].imagee"]


def test_unknown_fields_in_metadata_status_and_second_list_item() -> None:
    obj = _deployment()
    obj["metadata"]["labelz"] = {}
    obj["status"]["readyReplica"] = 1
    obj["spec"]["template"]["spec"]["volumes"][1]["emptyDir"]["size"] = "1Gi"
    assert schema.unknown_fields(DEPLOYMENT, obj) == [
        "metadata.labelz",
        "spec.template.spec.volumes[1].emptyDir.size",
        "status.readyReplica",
    ]


def test_field_names_are_case_sensitive_and_type_meta_is_known_everywhere() -> None:
    obj = _deployment()
    obj["spec"]["Replicas"] = 3
    obj["spec"]["template"]["apiVersion"] = "v1"
    assert schema.unknown_fields(DEPLOYMENT, obj) == ["spec.Replicas"]


def test_free_form_fields_accept_anything() -> None:
    revision = resources.by_kind("apps", "ControllerRevision")
    obj = {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "r"},
        "revision": 1,
        "data": {"spec": {"anything": [1, {"goes": True}]}},
    }
    assert schema.unknown_fields(revision, obj) == []
    assert schema.type_errors(revision, obj) == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["spec"].__setitem__("replicas", "3"),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("image", 5),
            "json: cannot unmarshal number into Go struct field "
            "Container.spec.template.spec.containers.image of type string",
        ),
        (
            lambda d: d["metadata"]["labels"].__setitem__("version", 2),
            "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        ),
        (
            lambda d: d["spec"].__setitem__("paused", "true"),
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool",
        ),
        (
            lambda d: d["spec"].__setitem__("replicas", 1.5),
            "json: cannot unmarshal number 1.5 into Go struct field "
            "DeploymentSpec.spec.replicas of type int32",
        ),
        (
            lambda d: d["spec"].__setitem__("replicas", 2**31),
            "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas "
            "of type int32",
        ),
        (
            lambda d: d["metadata"].__setitem__("generation", "1"),
            "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.generation of type int64",
        ),
        (
            lambda d: d.__setitem__("spec", []),
            "json: cannot unmarshal array into Go struct field Deployment.spec of type v1.DeploymentSpec",
        ),
        (
            lambda d: d["spec"]["template"]["spec"].__setitem__("containers", {"name": "web"}),
            "json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers "
            "of type []v1.Container",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("args", "--port=1"),
            "json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.args "
            "of type []string",
        ),
        (
            lambda d: d["metadata"].__setitem__("annotations", ["a"]),
            "json: cannot unmarshal array into Go struct field ObjectMeta.metadata.annotations "
            "of type map[string]string",
        ),
    ],
)
def test_type_errors_are_worded_like_the_go_decoder(mutate, message: str) -> None:
    obj = copy.deepcopy(_deployment())
    mutate(obj)
    assert schema.type_errors(DEPLOYMENT, obj) == [message]


def test_lenient_values_are_not_type_errors() -> None:
    obj = _deployment()
    obj["spec"]["replicas"] = 3.0  # integral float
    obj["spec"]["minReadySeconds"] = None  # null is the zero value
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["memory"] = 1e9  # quantities accept numbers
    container["ports"][0]["containerPort"] = 8080
    obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = 1  # int-or-string
    assert schema.type_errors(DEPLOYMENT, obj) == []


def test_model_for_every_served_kind() -> None:
    for res in resources.RESOURCES:
        model = schema.model_for(res)
        assert model.__name__.endswith(res.version.capitalize() + res.kind)
        assert "apiVersion" in schema.model_schema(model.__name__).fields
    assert schema.model_for(resources.by_kind("", "Event")).__name__ == "CoreV1Event"
    assert (
        schema.model_for(resources.by_kind("autoscaling", "HorizontalPodAutoscaler")).__name__
        == "V2HorizontalPodAutoscaler"
    )


def test_special_types_are_recognised() -> None:
    service_port = schema.model_schema("V1ServicePort").fields
    assert service_port["targetPort"].type.kind == "int-or-string"
    assert service_port["port"].type.kind == "integer"
    limits = schema.model_schema("V1ResourceRequirements").fields["limits"].type
    assert (limits.kind, limits.item.kind) == ("map", "quantity")
    handler = schema.model_schema("V1LifecycleHandler").fields
    assert handler["exec"].type.model == "V1ExecAction"  # Python keyword renamed in the client
    assert schema.model_schema("V1Container").fields["name"].required
