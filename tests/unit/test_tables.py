"""Table responses as kubectl get prints them, and Kubernetes' age formatting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.apiserver import resources, tables

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
MINUTE, HOUR, DAY, YEAR = 60, 3600, 86400, 365 * 86400


def _ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _table(group: str, kind: str, objects: list[dict], include: str = "Metadata") -> dict:
    res = resources.by_kind(group, kind)
    return tables.to_table(res, objects, {"resourceVersion": "7"}, include, now=NOW)


def _cells(group: str, kind: str, obj: dict) -> dict[str, object]:
    table = _table(group, kind, [obj])
    names = [column["name"] for column in table["columnDefinitions"]]
    return dict(zip(names, table["rows"][0]["cells"], strict=True))


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1.5, "0s"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (59.9, "59s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (9 * MINUTE + 59, "9m59s"),
        (10 * MINUTE, "10m"),
        (10 * MINUTE + 30, "10m"),
        (179 * MINUTE, "179m"),
        (3 * HOUR, "3h"),
        (3 * HOUR + 5 * MINUTE, "3h5m"),
        (7 * HOUR + 59 * MINUTE, "7h59m"),
        (8 * HOUR, "8h"),
        (47 * HOUR + 59 * MINUTE, "47h"),
        (2 * DAY, "2d"),
        (2 * DAY + 3 * HOUR, "2d3h"),
        (7 * DAY + 23 * HOUR, "7d23h"),
        (8 * DAY, "8d"),
        (400 * DAY, "400d"),
        (2 * YEAR - HOUR, "729d"),
        (2 * YEAR, "2y"),
        (2 * YEAR + 40 * DAY, "2y40d"),
        (7 * YEAR + 364 * DAY, "7y364d"),
        (8 * YEAR, "8y"),
        (8 * YEAR + 200 * DAY, "8y"),
        (20 * YEAR, "20y"),
    ],
)
def test_human_duration(seconds: float, expected: str) -> None:
    assert tables.human_duration(seconds) == expected


def _pod(**status: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": _ago(10 * MINUTE)},
        "spec": {"containers": [{"name": "web", "image": "nginx"}], "nodeName": "node-1"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.7"}], **status},
    }


def test_crash_loop_back_off_pod_shows_reason_and_restarts_with_age() -> None:
    pod = _pod(
        containerStatuses=[
            {
                "name": "web",
                "ready": False,
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": _ago(12)}},
            }
        ]
    )
    cells = _cells("", "Pod", pod)
    assert cells["Ready"] == "0/1"
    assert cells["Status"] == "CrashLoopBackOff"
    assert cells["Restarts"] == "5 (12s ago)"
    assert cells["Age"] == "10m"
    assert (cells["IP"], cells["Node"], cells["Nominated Node"], cells["Readiness Gates"]) == (
        "10.0.0.7",
        "node-1",
        "<none>",
        "<none>",
    )


def test_running_terminated_terminating_and_initialising_pods() -> None:
    running = _pod(
        containerStatuses=[
            {"name": "web", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": _ago(60)}}}
        ]
    )
    assert (
        _cells("", "Pod", running)["Ready"],
        _cells("", "Pod", running)["Status"],
        _cells("", "Pod", running)["Restarts"],
    ) == ("1/1", "Running", "0")

    oom = _pod(
        containerStatuses=[
            {
                "name": "web",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
            }
        ]
    )
    assert _cells("", "Pod", oom)["Status"] == "OOMKilled"
    no_reason = _pod(
        containerStatuses=[{"name": "web", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}]
    )
    assert _cells("", "Pod", no_reason)["Status"] == "ExitCode:3"

    terminating = _pod(
        containerStatuses=[{"name": "web", "ready": True, "restartCount": 0, "state": {"running": {}}}]
    )
    terminating["metadata"]["deletionTimestamp"] = _ago(1)
    assert _cells("", "Pod", terminating)["Status"] == "Terminating"

    initialising = _pod(
        phase="Pending",
        initContainerStatuses=[
            {"name": "migrate", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
        ],
    )
    initialising["spec"]["initContainers"] = [{"name": "migrate", "image": "tool"}]
    assert _cells("", "Pod", initialising)["Status"] == "Init:0/1"


def test_pod_columns_and_wide_priorities() -> None:
    columns = _table("", "Pod", [])["columnDefinitions"]
    assert [(c["name"], c["priority"]) for c in columns] == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]
    assert columns[0]["format"] == "name"


def test_include_object_variants_and_envelope() -> None:
    pod = _pod()
    partial = _table("", "Pod", [pod])
    assert (partial["kind"], partial["apiVersion"], partial["metadata"]) == (
        "Table",
        "meta.k8s.io/v1",
        {"resourceVersion": "7"},
    )
    assert partial["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": pod["metadata"],
    }
    assert _table("", "Pod", [pod], "Object")["rows"][0]["object"] is pod
    assert "object" not in _table("", "Pod", [pod], "None")["rows"][0]


def test_deployment_row() -> None:
    deployment = {
        "metadata": {"name": "web", "creationTimestamp": _ago(3 * DAY)},
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web", "tier": "fe"},
                "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["qa", "dev"]}],
            },
            "template": {
                "spec": {
                    "containers": [{"name": "web", "image": "nginx:1"}, {"name": "log", "image": "fluent"}]
                }
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert _table("apps", "Deployment", [deployment])["rows"][0]["cells"] == [
        "web",
        "2/3",
        3,
        2,
        "3d",
        "web,log",
        "nginx:1,fluent",
        "app=web,env notin (dev,qa),tier=fe",
    ]


def test_service_rows() -> None:
    service = {
        "metadata": {"name": "api", "creationTimestamp": _ago(90)},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.0.12",
            "selector": {"app": "api"},
            "ports": [{"port": 8006, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        },
    }
    assert _cells("", "Service", service) == {
        "Name": "api",
        "Type": "ClusterIP",
        "Cluster-IP": "10.96.0.12",
        "External-IP": "<none>",
        "Port(s)": "8006/TCP,53/UDP",
        "Age": "90s",
        "Selector": "app=api",
    }
    balancer = {
        "metadata": {"name": "lb"},
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "10.96.0.13",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
        },
    }
    cells = _cells("", "Service", balancer)
    assert (cells["External-IP"], cells["Port(s)"], cells["Age"], cells["Selector"]) == (
        "<pending>",
        "80:30080/TCP",
        "<unknown>",
        "<none>",
    )


def test_node_rows() -> None:
    node = {
        "metadata": {
            "name": "n1",
            "creationTimestamp": _ago(5 * HOUR),
            "labels": {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux"},
        },
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [
                {"type": "MemoryPressure", "status": "False"},
                {"type": "Ready", "status": "True"},
            ],
            "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {
                "kubeletVersion": "v1.35.0",
                "osImage": "Debian",
                "kernelVersion": "6.1",
                "containerRuntimeVersion": "containerd://2.0",
            },
        },
    }
    assert _table("", "Node", [node])["rows"][0]["cells"] == [
        "n1",
        "Ready,SchedulingDisabled",
        "control-plane",
        "5h",
        "v1.35.0",
        "172.18.0.2",
        "<none>",
        "Debian",
        "6.1",
        "containerd://2.0",
    ]
    not_ready = {
        "metadata": {"name": "n2"},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]},
    }
    assert _cells("", "Node", not_ready)["Status"] == "NotReady"


def test_config_secret_event_and_fallback_rows() -> None:
    config_map = {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert _table("", "ConfigMap", [config_map])["rows"][0]["cells"] == ["c", 3, "<unknown>"]
    assert _table(
        "",
        "Secret",
        [{"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}}],
    )["rows"][0]["cells"][:3] == ["s", "kubernetes.io/tls", 2]
    event = {
        "metadata": {"name": "web.1"},
        "type": "Warning",
        "reason": "BackOff",
        "message": " Back-off restarting failed container ",
        "count": 4,
        "firstTimestamp": _ago(HOUR),
        "lastTimestamp": _ago(30),
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
        "source": {"component": "kubelet", "host": "n1"},
    }
    assert _table("", "Event", [event])["rows"][0]["cells"] == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web-1",
        "spec.containers{web}",
        "kubelet, n1",
        "Back-off restarting failed container",
        "60m",
        4,
        "web.1",
    ]
    fallback = _table(
        "rbac.authorization.k8s.io", "Role", [{"metadata": {"name": "r", "creationTimestamp": _ago(45)}}]
    )
    assert [c["name"] for c in fallback["columnDefinitions"]] == ["Name", "Age"]
    assert fallback["rows"][0]["cells"] == ["r", "45s"]


def test_job_cronjob_and_hpa_rows() -> None:
    job = {
        "metadata": {"name": "j"},
        "spec": {"completions": 1, "template": {"spec": {"containers": []}}},
        "status": {
            "succeeded": 1,
            "startTime": _ago(100),
            "completionTime": _ago(40),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert _cells("batch", "Job", job)["Status"] == "Complete"
    assert _cells("batch", "Job", job)["Completions"] == "1/1"
    assert _cells("batch", "Job", job)["Duration"] == "60s"
    cron = {
        "metadata": {"name": "c"},
        "spec": {"schedule": "*/5 * * * *", "suspend": False},
        "status": {"active": [{"name": "c-1"}], "lastScheduleTime": _ago(120)},
    }
    cells = _cells("batch", "CronJob", cron)
    shown = [cells[name] for name in ("Schedule", "Timezone", "Suspend", "Active", "Last Schedule")]
    assert shown == ["*/5 * * * *", "<none>", "False", 1, "2m"]
    hpa = {
        "metadata": {"name": "h"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        },
        "status": {
            "currentReplicas": 2,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 41}}}
            ],
        },
    }
    assert _table("autoscaling", "HorizontalPodAutoscaler", [hpa])["rows"][0]["cells"][:6] == [
        "h",
        "Deployment/web",
        "cpu: 41%/80%",
        "1",
        5,
        2,
    ]
