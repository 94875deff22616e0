"""drift.compare_layers: each layer with objects shaped as helm and the API server return them."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils.drift import (
    REDACTED,
    DriftRuleError,
    compare_layers,
    parse_quantity,
    pointer,
    summarise,
)
from ansible_collections.local_llm.tts.plugins.module_utils.drift_gather import (
    DriftParams,
    parse_manifest,
    pod_health,
    probe_health,
)
from ansible_collections.local_llm.tts.plugins.module_utils.tts_checks import Reply

from runbooks.defaults import shipped_block

REPO = Path(__file__).resolve().parents[2]
DESIRED = shipped_block()
CONTAINER = "/spec/template/spec/containers/0"
DEPLOYMENT = {"kind": "Deployment", "name": "local-llm-tts"}
SERVICE = {"kind": "Service", "name": "local-llm-tts"}
PROBE = {"httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "failureThreshold": 3}

# `helm get manifest` of the fixed release (revision 2 in the sandbox), trimmed to the TTS objects.
MANIFEST_TEXT = f"""
---
# Source: custom-chart/templates/services.yaml
apiVersion: v1
kind: Service
metadata:
  name: local-llm-tts
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/component: tts
  ports:
    - name: http
      port: 8006
      targetPort: http
      protocol: TCP
---
# Source: custom-chart/templates/services.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: local-llm-tts
spec:
  replicas: 1
  strategy:
    type: Recreate
  selector:
    matchLabels:
      app.kubernetes.io/component: tts
  template:
    metadata:
      labels:
        app.kubernetes.io/component: tts
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - key: memorysize
                operator: In
                values:
                - 16GB
      containers:
        - name: tts
          image: "vllm/vllm-openai:v0.14.0"
          imagePullPolicy: Always
          command: [/bin/bash, -c, "exec vllm serve \\"${{MODEL_PATH}}\\" \\"$@\\"", vllm-entrypoint]
          args: {yaml.safe_dump(DESIRED["extraArgs"], default_flow_style=True).strip()}
          env:
            - name: BOOTSTRAP
              value: "set -e"
            - name: MODEL_PATH
              value: "/models/Qwen3-TTS-12Hz-1.7B-CustomVoice"
            - name: SERVICE_PORT
              value: "8006"
          envFrom:
            - configMapRef:
                name: local-llm-common-env
          ports:
            - name: http
              containerPort: 8006
              protocol: TCP
          startupProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 10, failureThreshold: 180}}
          readinessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 10, failureThreshold: 3}}
          livenessProbe: {{httpGet: {{path: /health, port: http}}, periodSeconds: 15, failureThreshold: 3}}
          resources:
            limits:
              nvidia.com/gpu: 1
---
"""

SERVER_PROBE_DEFAULTS = {"successThreshold": 1, "timeoutSeconds": 1}


MANIFEST = parse_manifest(MANIFEST_TEXT)


def manifest() -> list[dict]:
    return copy.deepcopy(MANIFEST)


def live_objects() -> list[dict]:
    """The manifest's objects as a real API server returns them: status, metadata and defaults added,
    quantities as strings, requests copied from limits."""
    service, deployment = copy.deepcopy(manifest())
    service["spec"].update(
        clusterIP="10.103.117.222", clusterIPs=["10.103.117.222"], sessionAffinity="None", ipFamilies=["IPv4"]
    )
    service["metadata"].update(uid="1c0e", resourceVersion="812", creationTimestamp="2026-01-01T00:00:00Z")
    deployment["spec"].update(progressDeadlineSeconds=600, revisionHistoryLimit=10)
    deployment["metadata"].update(generation=2, annotations={"deployment.kubernetes.io/revision": "2"})
    pod_spec = deployment["spec"]["template"]["spec"]
    pod_spec.update(dnsPolicy="ClusterFirst", restartPolicy="Always", schedulerName="default-scheduler")
    container = pod_spec["containers"][0]
    container.update(terminationMessagePath="/dev/termination-log", terminationMessagePolicy="File")
    container["resources"] = {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        container[probe].update(SERVER_PROBE_DEFAULTS)
        container[probe]["httpGet"]["scheme"] = "HTTP"
    deployment["status"] = {"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    return [deployment, service]


def values_file() -> dict:
    """The values file after the fix: other services untouched, the tts block as desired."""
    return {
        "global": {"strategy": "Recreate", "shmSize": "8Gi"},
        "chat": {"enabled": True, "replicaCount": 1, "extraArgs": ["--max-model-len", "8192"]},
        "tts": copy.deepcopy(DESIRED),
    }


HEALTHY = {
    "deployment": "local-llm-tts",
    "service": "local-llm-tts",
    "pod": "local-llm-tts-5f759486c6-9jhqn",
    "rollout_complete": True,
    "rollout_detail": None,
    "pod_ready": True,
    "pod_detail": None,
    "health_status": 200,
    "health_detail": None,
}


def compare(
    *,
    block=...,
    desired=...,
    release=None,
    file=None,
    manifest_objects=None,
    live=None,
    health=None,
    **options,
) -> list[dict]:
    """compare_layers on the converged state, with the given pieces replaced; entries as dicts."""
    file = file if file is not None else values_file()
    entries = compare_layers(
        copy.deepcopy(file["tts"]) if block is ... else block,
        copy.deepcopy(DESIRED) if desired is ... else desired,
        release if release is not None else copy.deepcopy(file),
        file,
        manifest_objects if manifest_objects is not None else manifest(),
        live if live is not None else live_objects(),
        HEALTHY if health is None else health,
        **options,
    )
    return [e.as_dict() for e in entries]


def deployment_of(objects: list[dict]) -> dict:
    return next(o for o in objects if o["kind"] == "Deployment")


def tts_container(objects: list[dict]) -> dict:
    return deployment_of(objects)["spec"]["template"]["spec"]["containers"][0]


# -- no drift ---------------------------------------------------------------------------------------
def test_the_converged_state_has_no_drift_despite_server_defaults():
    assert compare() == []


def test_a_pre_fix_state_as_the_sandbox_serves_it_has_no_live_drift_either():
    """The sandbox keeps `nvidia.com/gpu: 1` an integer and adds no requests: still equal."""
    live = live_objects()
    tts_container(live)["resources"] = {"limits": {"nvidia.com/gpu": 1}}
    assert compare(live=live) == []


# -- layer 1: values file ---------------------------------------------------------------------------
def test_an_edited_values_file_is_one_values_file_entry_and_not_a_release_one():
    file = values_file()
    file["tts"]["image"]["tag"] = "v0.15.0"
    entries = compare(file=file, release=values_file())
    assert entries == [
        {
            "layer": "values_file",
            "op": "replace",
            "path": "/tts/image/tag",
            "expected": "v0.14.0",
            "actual": "v0.15.0",
            "target": None,
            "detail": None,
        }
    ]


def test_values_file_keys_added_and_removed_and_a_missing_block():
    block = copy.deepcopy(DESIRED)
    del block["affinity"]
    block["nodeSelector"] = {"memorysize": "16GB"}
    entries = compare(block=block)
    assert [(e["op"], e["path"]) for e in entries] == [
        ("remove", "/tts/affinity"),
        ("add", "/tts/nodeSelector"),
    ]
    missing = compare(block=None)
    assert [(e["layer"], e["op"], e["path"], e["actual"]) for e in missing] == [
        ("values_file", "remove", "/tts", None)
    ]


def test_values_file_compares_types_as_yaml_does_and_lists_whole():
    block = copy.deepcopy(DESIRED)
    block["replicaCount"] = "1"  # a quoted number is a different value for the chart
    block["extraArgs"] = [a for a in block["extraArgs"] if a != "--omni"]  # the plan's args
    entries = compare(block=block)
    assert [(e["path"], e["expected"], e["actual"]) for e in entries] == [
        ("/tts/extraArgs", DESIRED["extraArgs"], block["extraArgs"]),
        ("/tts/replicaCount", 1, "1"),
    ]


def test_without_desired_the_values_file_layer_is_skipped():
    file = values_file()
    file["tts"]["image"]["tag"] = "v0.15.0"
    assert compare(desired=None, file=file) == []


# -- layer 2: release -------------------------------------------------------------------------------
def test_helm_upgrade_set_is_a_release_entry():
    release = values_file()
    release["tts"]["replicaCount"] = 2  # helm upgrade --reuse-values --set tts.replicaCount=2
    entries = compare(release=release)
    assert [(e["layer"], e["op"], e["path"], e["expected"], e["actual"]) for e in entries] == [
        ("release", "replace", "/tts/replicaCount", 1, 2)
    ]


def test_release_values_set_by_hand_and_missing_ones():
    release = values_file()
    release["tts"]["podAnnotations"] = {"debug": "true"}  # --set of a key the file lacks
    del release["chat"]["extraArgs"]
    entries = compare(release=release)
    assert [(e["op"], e["path"]) for e in entries] == [
        ("remove", "/chat/extraArgs"),
        ("add", "/tts/podAnnotations"),
    ]


def test_release_compares_numbers_as_json_and_lags_edits_outside_the_block():
    file = values_file()
    file["chat"]["gpuMemoryUtilization"] = 1.0
    release = copy.deepcopy(file)
    release["chat"]["gpuMemoryUtilization"] = 1  # helm -o json prints float64 1.0 as 1
    assert compare(file=file, release=release) == []
    file["chat"]["replicaCount"] = 3  # edited outside tts, not yet upgraded
    entries = compare(file=file, release=release)
    assert [(e["layer"], e["path"], e["expected"], e["actual"]) for e in entries] == [
        ("release", "/chat/replicaCount", 3, 1)
    ]


# -- layer 3: live objects --------------------------------------------------------------------------
def test_kubectl_set_image_is_exactly_one_live_entry():
    live = live_objects()
    tts_container(live)["image"] = "vllm/vllm-openai:v0.15.0"
    assert compare(live=live) == [
        {
            "layer": "live",
            "op": "replace",
            "path": f"{CONTAINER}/image",
            "expected": "vllm/vllm-openai:v0.14.0",
            "actual": "vllm/vllm-openai:v0.15.0",
            "target": DEPLOYMENT,
            "detail": None,
        }
    ]


def test_kubectl_edit_of_args_is_one_entry_with_the_whole_list():
    live = live_objects()
    edited = ["--enforce-eager", *DESIRED["extraArgs"]]
    tts_container(live)["args"] = edited
    entries = compare(live=live)
    assert [(e["path"], e["expected"], e["actual"]) for e in entries] == [
        (f"{CONTAINER}/args", DESIRED["extraArgs"], edited)
    ]


def test_env_changes_are_matched_by_name():
    live = live_objects()
    env = tts_container(live)["env"]
    env.reverse()  # order alone is not drift for a keyed list
    env[0]["value"] = "8007"  # SERVICE_PORT, now first
    env.append({"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"})  # kubectl set env
    entries = compare(live=live)
    assert [(e["op"], e["path"], e["expected"], e["actual"]) for e in entries] == [
        ("replace", f"{CONTAINER}/env/0/value", "8006", "8007"),
        ("add", f"{CONTAINER}/env/3", None, {"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"}),
    ]


def test_probes_resources_affinity_and_service_port():
    live = live_objects()
    container = tts_container(live)
    container["startupProbe"]["failureThreshold"] = 30  # the bootstrap would be killed
    container["resources"]["limits"]["nvidia.com/gpu"] = "2"
    del container["livenessProbe"]
    terms = deployment_of(live)["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
    expression = terms["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    expression["matchExpressions"][0]["values"] = ["24GB"]
    live[1]["spec"]["ports"][0]["port"] = 8000
    entries = compare(live=live)
    affinity = "/spec/template/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution"
    assert [(e["op"], e["path"], e["expected"], e["actual"], e["target"]["kind"]) for e in entries] == [
        (
            "replace",
            f"{affinity}/nodeSelectorTerms/0/matchExpressions/0/values",
            ["16GB"],
            ["24GB"],
            "Deployment",
        ),
        ("replace", f"{CONTAINER}/resources/limits/nvidia.com~1gpu", 1, "2", "Deployment"),
        ("replace", f"{CONTAINER}/startupProbe/failureThreshold", 180, 30, "Deployment"),
        ("remove", f"{CONTAINER}/livenessProbe", {**PROBE, "periodSeconds": 15}, None, "Deployment"),
        ("replace", "/spec/ports/0/port", 8006, 8000, "Service"),
    ]


def test_fields_the_manifest_leaves_out_are_drift_only_when_a_user_set_them():
    objects = manifest()
    del tts_container(objects)["args"]
    del deployment_of(objects)["spec"]["replicas"]
    live = live_objects()
    del tts_container(live)["args"]
    assert compare(manifest_objects=objects, live=live, ignore_replicas=False) == []  # replicas: 1 defaulted
    tts_container(live)["args"] = ["--omni"]  # kubectl patch added args the chart does not set
    entries = compare(manifest_objects=objects, live=live)
    assert [(e["op"], e["path"], e["actual"]) for e in entries] == [("add", f"{CONTAINER}/args", ["--omni"])]


def test_quantities_compare_by_value():
    assert parse_quantity("1") == parse_quantity(1) == parse_quantity("1000m")
    assert parse_quantity("16Gi") == 16 * 2**30 and parse_quantity("1e3") == parse_quantity("1k")
    assert parse_quantity("fast") is None and parse_quantity(True) is None
    objects = manifest()
    tts_container(objects)["resources"] = {"limits": {"memory": "16Gi", "cpu": "500m"}}
    live = live_objects()
    tts_container(live)["resources"] = {"limits": {"memory": "17179869184", "cpu": "0.5"}}
    assert compare(manifest_objects=objects, live=live) == []


def test_replicas_are_ignored_by_default_and_reported_when_asked():
    live = live_objects()
    deployment_of(live)["spec"]["replicas"] = 3  # kubectl scale
    assert compare(live=live) == []
    entries = compare(live=live, ignore_replicas=False)
    assert [(e["path"], e["expected"], e["actual"]) for e in entries] == [("/spec/replicas", 1, 3)]


def test_missing_objects_and_extra_containers():
    live = live_objects()
    containers = deployment_of(live)["spec"]["template"]["spec"]["containers"]
    containers.append({"name": "debug", "image": "busybox"})  # kubectl debug --copy-to style sidecar
    entries = compare_layers(
        DESIRED, DESIRED, values_file(), values_file(), manifest(), [deployment_of(live)], HEALTHY,
        live_targets=[DEPLOYMENT, SERVICE],
    )  # fmt: skip
    assert [(e.op, e.path, e.target, e.detail) for e in entries] == [
        ("add", "/spec/template/spec/containers/1", DEPLOYMENT, None),
        ("remove", "", SERVICE, "not found in the cluster"),
    ]


# -- layer 4: health --------------------------------------------------------------------------------
def test_a_deleted_pod_while_it_restarts_is_three_health_entries():
    restarting = {
        **HEALTHY,
        "pod": "local-llm-tts-5f759486c6-x2k8f",
        "rollout_complete": False,
        "rollout_detail": "0 of 1 updated replicas available",
        "pod_ready": False,
        "pod_detail": "not Ready (phase Pending)",
        "health_status": 503,
        "health_detail": 'no endpoints available for service "local-llm-tts:8006"',
    }
    entries = compare(health=restarting)
    assert [(e["layer"], e["path"], e["expected"], e["actual"], e["target"]) for e in entries] == [
        ("health", "/rollout/complete", True, False, DEPLOYMENT),
        ("health", "/pod/ready", True, False, {"kind": "Pod", "name": "local-llm-tts-5f759486c6-x2k8f"}),
        ("health", "/health/status", 200, 503, SERVICE),
    ]
    assert entries[2]["detail"].startswith("no endpoints")


def test_an_unhealthy_pod_and_unchecked_health():
    crashing = {
        **HEALTHY,
        "pod_ready": False,
        "pod_detail": "container tts CrashLoopBackOff",
        "health_status": None,
    }
    entries = compare(health=crashing)
    assert [(e["path"], e["actual"], e["detail"]) for e in entries] == [
        ("/pod/ready", False, "container tts CrashLoopBackOff"),
        ("/health/status", None, None),
    ]
    assert compare(health={}) == []  # check_health: false


# -- ignore rules -----------------------------------------------------------------------------------
def drifted_everywhere() -> dict:
    file = values_file()
    file["tts"]["image"]["tag"] = "v0.15.0"
    release = values_file()
    release["tts"]["replicaCount"] = 2
    live = live_objects()
    tts_container(live)["image"] = "vllm/vllm-openai:v0.15.0"
    tts_container(live)["resources"]["limits"]["nvidia.com/gpu"] = "2"
    live[1]["spec"]["ports"][0]["port"] = 8000
    return {"file": file, "release": release, "live": live}


def paths(entries: list[dict]) -> list[str]:
    return [e["path"] for e in entries]


def test_ignore_rules_match_paths_by_prefix_and_targets_by_kind_and_name():
    state = drifted_everywhere()
    everything = paths(compare(**state))
    assert everything == [
        "/tts/image/tag",
        "/tts/replicaCount",
        f"{CONTAINER}/image",
        f"{CONTAINER}/resources/limits/nvidia.com~1gpu",
        "/spec/ports/0/port",
    ]
    resources = {
        "paths": [f"{CONTAINER}/resources"],
        "target": {"kind": "Deployment", "name": "local-llm-tts"},
    }
    assert f"{CONTAINER}/resources/limits/nvidia.com~1gpu" not in paths(compare(**state, ignore=[resources]))
    other_name = {**resources, "target": {"kind": "Deployment", "name": "local-llm-chat"}}
    assert paths(compare(**state, ignore=[other_name])) == everything
    by_kind = {"paths": ["/spec"], "target": {"kind": "Service"}}
    assert paths(compare(**state, ignore=[by_kind])) == everything[:-1]
    no_target = {"paths": ["/tts/image"]}  # applies to every layer, values ones included
    assert paths(compare(**state, ignore=[no_target])) == everything[1:]
    targeted_values = {"paths": ["/tts"], "target": {"kind": "Deployment"}}  # values entries have no target
    assert paths(compare(**state, ignore=[targeted_values])) == everything


def test_ignore_prefixes_are_whole_segments():
    state = drifted_everywhere()
    partial = {"paths": [f"{CONTAINER}/ima"]}
    assert f"{CONTAINER}/image" in paths(compare(**state, ignore=[partial]))
    trailing_slash = {"paths": [f"{CONTAINER}/image/"]}
    assert f"{CONTAINER}/image" not in paths(compare(**state, ignore=[trailing_slash]))


@pytest.mark.parametrize(
    "rule", [{}, {"paths": []}, {"paths": ["spec/replicas"]}, {"paths": ["/a"], "target": "Deployment"}]
)
def test_bad_ignore_rules_are_refused(rule):
    with pytest.raises(DriftRuleError, match="ignore rule 1"):
        compare(ignore=[rule])


# -- shape of the report ----------------------------------------------------------------------------
def test_json_pointers_escape_tilde_and_slash():
    assert (
        pointer(["tts", "resources", "limits", "nvidia.com/gpu"]) == "/tts/resources/limits/nvidia.com~1gpu"
    )
    assert pointer(["a~b", 0]) == "/a~0b/0" and pointer([]) == ""


def test_secret_values_are_redacted():
    live = live_objects()
    tts_container(live)["env"].append({"name": "HF_TOKEN", "value": "hf_live_secret"})
    release = values_file()
    release["tts"]["apiKey"] = "sk-release-secret"
    release["tts"]["extraEnv"] = [{"name": "DB_PASSWORD", "value": "hunter2"}]
    entries = compare(live=live, release=release)
    assert "hf_live_secret" not in repr(entries) and "sk-release" not in repr(entries)
    assert "hunter2" not in repr(entries)
    assert [(e["path"], e["actual"]) for e in entries] == [
        ("/tts/apiKey", REDACTED),
        ("/tts/extraEnv", [{"name": "DB_PASSWORD", "value": REDACTED}]),
        (f"{CONTAINER}/env/3", {"name": "HF_TOKEN", "value": REDACTED}),
    ]


def test_entries_come_in_layer_order_and_the_same_every_time():
    state = drifted_everywhere()
    restarting = {**HEALTHY, "pod_ready": False}
    first = compare(**state, health=restarting)
    assert [e["layer"] for e in first] == ["values_file", "release", "live", "live", "live", "health"]
    assert compare(**state, health=restarting) == first
    report = summarise(compare_layers(None, DESIRED, {}, {}, [], [], {}))
    assert report["counts"] == {"values_file": 1, "release": 1, "live": 0, "health": 0}
    assert report["drifted"] is True and report["drift"][0]["path"] == "/tts"


# -- gathering helpers (pure parts) -----------------------------------------------------------------
def test_params_default_like_the_role():
    params = DriftParams.from_dict({"values_file": "v.yaml", "kubeconfig": "", "release": "prod", "x": 1})
    assert (params.kubeconfig, params.deployment, params.service, params.port) == (
        None,
        "prod-tts",
        "prod-tts",
        8006,
    )
    assert params.ignore_replicas and params.check_health and params.namespace == "default"


def test_manifest_parsing_skips_empty_documents():
    assert [o["kind"] for o in parse_manifest(MANIFEST_TEXT)] == ["Service", "Deployment"]
    assert parse_manifest("---\n# Source: x\n---\n") == []


def _pod(name: str, ready: bool, waiting: str | None = None) -> dict:
    status = {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}
    if waiting:
        status["containerStatuses"] = [{"name": "tts", "state": {"waiting": {"reason": waiting}}}]
    return {"metadata": {"name": name}, "status": status}


def test_pod_health_names_the_pod_and_why():
    assert pod_health([]) == {"pod": None, "pod_ready": False, "pod_detail": "no pod"}
    assert pod_health([_pod("a", True)])["pod_ready"] is True
    crashing = pod_health([_pod("a", True), _pod("b", False, "CrashLoopBackOff")])
    assert crashing == {
        "pod": "b",
        "pod_ready": False,
        "pod_detail": "container b CrashLoopBackOff".replace("b", "tts"),
    }


def test_probe_health_is_one_request_and_reports_failures_as_data():
    calls = []

    def unavailable(method, path, body, timeout):
        calls.append((method, path))
        body = b'{"kind":"Status","message":"no endpoints available for service \\"local-llm-tts:8006\\""}'
        return Reply(503, body, "application/json")

    assert probe_health(unavailable, "health") == {
        "health_status": 503,
        "health_detail": 'no endpoints available for service "local-llm-tts:8006"',
    }
    assert calls == [("GET", "health")]

    def refused(method, path, body, timeout):
        raise ConnectionRefusedError("connection refused")

    assert probe_health(refused, "")["health_status"] is None
    assert probe_health(lambda *a: Reply(200, b'{"status":"healthy"}', ""), "health") == {
        "health_status": 200,
        "health_detail": None,
    }
