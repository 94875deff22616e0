"""local_llm.tts.drift against a real sandbox: the incident, `runner.py fix` once, then each drift kind by
hand (values file edited, `helm upgrade --set`, pod deleted, `kubectl patch` of args, `kubectl set image`)
and what each layer reports. Tests run in file order and share one cluster; each puts back what it changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils.drift_gather import gather_and_compare

from runbooks.defaults import shipped_block
from tests.support import REPO, VENV_BIN, Sandbox, binary, run, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TIME_SCALE = 600
DESIRED = shipped_block()
CONTAINER = "/spec/template/spec/containers/0"
NO_DRIFT = {"values_file": 0, "release": 0, "live": 0, "health": 0}
OBSERVED: dict[str, object] = {}  # printed at the end: what the health layer showed at each step


def _inventory(tmp_path: Path, state_dir: Path) -> Path:
    return write_inventory(tmp_path / "inventory.yml", {"sandbox": sandbox_host(state_dir, TIME_SCALE)})


def _fix(inventory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "fix", "-i", str(inventory), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=480,  # the fix takes ~30 s on an idle machine; CI machines run several sandboxes
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("drift"))
    sandbox.up("--seed", "incident", "--time-scale", str(TIME_SCALE))
    try:
        fixed = _fix(_inventory(tmp_path_factory.mktemp("inventory"), sandbox.state_dir))
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        yield sandbox
    finally:  # also when the fix fails: never leave a sandbox running
        sandbox.down()
    if OBSERVED:
        print("\nobserved:", json.dumps(OBSERVED, indent=1))


def values_path(box: Sandbox) -> Path:
    return box.state_dir / "HelmChart" / "custom-chart" / "values.yaml"


def drift(box: Sandbox, **overrides) -> dict:
    params = {
        "kubeconfig": str(box.kubeconfig),
        "values_file": str(values_path(box)),
        "desired": DESIRED,
        "binary": binary("helm"),
        "helm_env": {k: v for k, v in box.env.items() if k.startswith("HELM_")},
        **overrides,
    }
    return gather_and_compare(params)


def layer(report: dict, name: str) -> list[dict]:
    return [e for e in report["drift"] if e["layer"] == name]


def wait_until_converged(box: Sandbox, timeout: float = 120) -> dict:
    """Drift reports until none (the pod restarts at TIME_SCALE in seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        report = drift(box)
        if not report["drifted"] or time.monotonic() > deadline:
            return report
        time.sleep(1)


def test_no_drift_after_the_fix(box):
    report = drift(box)
    assert report == {"drift": [], "counts": NO_DRIFT, "drifted": False}


def test_the_module_runs_through_ansible_in_check_mode(box, tmp_path):
    arguments = {
        "kubeconfig": str(box.kubeconfig),
        "values_file": str(values_path(box)),
        "desired": DESIRED,
        "binary": binary("helm"),
    }
    playbook = tmp_path / "drift.yml"
    playbook.write_text(
        yaml.safe_dump(
            [
                {
                    "hosts": "localhost",
                    "connection": "local",
                    "gather_facts": False,
                    "tasks": [
                        {"local_llm.tts.drift": arguments, "register": "report"},
                        {
                            "ansible.builtin.assert": {
                                "that": [
                                    "not report.changed",
                                    "not report.drifted",
                                    "report.counts.live == 0",
                                ]
                            }
                        },
                    ],
                }
            ]
        )
    )
    env = {**box.env, "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    result = run([binary("ansible-playbook"), "--check", str(playbook)], env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_edited_values_file_is_a_values_file_entry(box, tmp_path):
    values = yaml.safe_load(values_path(box).read_text())
    values["tts"]["image"]["tag"] = "v0.15.0"
    edited = tmp_path / "values.yaml"  # a copy: the chart's file stays as the fix left it
    edited.write_text(yaml.safe_dump(values, allow_unicode=True))
    report = drift(box, values_file=str(edited))
    assert [(e["op"], e["path"], e["expected"], e["actual"]) for e in report["drift"]] == [
        ("replace", "/tts/image/tag", "v0.14.0", "v0.15.0")
    ]
    assert report["counts"] == {**NO_DRIFT, "values_file": 1}


def test_helm_upgrade_set_by_hand_is_a_release_entry(box):
    chart = str(box.state_dir / "HelmChart" / "custom-chart")
    box.helm("helm", "upgrade", "local-llm", chart, "--reuse-values", "--set", "tts.replicaCount=2")
    report = drift(box)
    OBSERVED["helm upgrade --set tts.replicaCount=2: health"] = layer(report, "health")
    assert [(e["op"], e["path"], e["expected"], e["actual"]) for e in layer(report, "release")] == [
        ("replace", "/tts/replicaCount", 1, 2)
    ]
    assert (
        layer(report, "values_file") == [] and layer(report, "live") == []
    )  # live replicas follow the release
    revisions = json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)
    box.helm("helm", "rollback", "local-llm", str(revisions[-2]["revision"]))
    assert wait_until_converged(box)["counts"] == NO_DRIFT


def test_a_deleted_pod_is_health_drift_while_it_restarts(box):
    pods = box.kubectl_json("get", "pods", "-l", "app.kubernetes.io/component=tts")["items"]
    box.kubectl("delete", "pod", pods[0]["metadata"]["name"], "--wait=false")
    report = drift(box)
    OBSERVED["pod deleted: health"] = layer(report, "health")
    assert report["counts"]["health"] >= 1, report  # rollout, pod and/or /health, depending on timing
    assert {e["path"] for e in layer(report, "health")} <= {
        "/rollout/complete",
        "/pod/ready",
        "/health/status",
    }
    assert report["counts"] == {**NO_DRIFT, "health": report["counts"]["health"]}
    assert wait_until_converged(box)["counts"] == NO_DRIFT


def test_kubectl_patch_of_args_is_one_live_entry(box):
    patch = [{"op": "add", "path": f"{CONTAINER}/args/0", "value": "--enforce-eager"}]
    box.kubectl("patch", "deployment", "local-llm-tts", "--type", "json", "-p", json.dumps(patch))
    report = drift(box)
    OBSERVED["kubectl patch args: health"] = layer(report, "health")
    assert [(e["op"], e["path"], e["expected"], e["actual"]) for e in layer(report, "live")] == [
        ("replace", f"{CONTAINER}/args", DESIRED["extraArgs"], ["--enforce-eager", *DESIRED["extraArgs"]])
    ]
    assert layer(report, "values_file") == [] and layer(report, "release") == []
    undo = [{"op": "remove", "path": f"{CONTAINER}/args/0"}]
    box.kubectl("patch", "deployment", "local-llm-tts", "--type", "json", "-p", json.dumps(undo))
    assert layer(drift(box, check_health=False), "live") == []
    assert wait_until_converged(box)["counts"] == NO_DRIFT


def test_kubectl_set_image_is_exactly_one_live_entry(box):
    box.kubectl("set", "image", "deployment/local-llm-tts", "tts=vllm/vllm-openai:v0.15.0")
    report = drift(box)
    OBSERVED["kubectl set image: health"] = layer(report, "health")
    assert layer(report, "live") == [
        {
            "layer": "live",
            "op": "replace",
            "path": f"{CONTAINER}/image",
            "expected": "vllm/vllm-openai:v0.14.0",
            "actual": "vllm/vllm-openai:v0.15.0",
            "target": {"kind": "Deployment", "name": "local-llm-tts"},
            "detail": None,
        }
    ]
    assert layer(report, "values_file") == [] and layer(report, "release") == []
    ignored = drift(box, ignore=[{"paths": [f"{CONTAINER}/image"], "target": {"kind": "Deployment"}}])
    assert layer(ignored, "live") == []
