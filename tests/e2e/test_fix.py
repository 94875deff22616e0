"""`runner.py fix` end to end: the real ansible-playbook (through ansible-runner), helm and the
sandbox cluster, from the seeded incident to a TTS service that speaks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from runbooks.defaults import shipped_block
from tests.support import REPO, VENV_BIN, Sandbox, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

TIME_SCALE = 600


def _inventory(tmp_path: Path, state_dir: Path, **hostvars) -> Path:
    return write_inventory(
        tmp_path / "inventory.yml", {"sandbox": sandbox_host(state_dir, TIME_SCALE, **hostvars)}
    )


def _fix(inventory: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "runner.py"), "fix", "-i", str(inventory), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )


def _json(result: subprocess.CompletedProcess) -> dict:
    try:
        return json.loads(result.stdout)
    except ValueError:
        raise AssertionError(
            f"not one JSON document on stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        ) from None


def _history(box: Sandbox, helm: str = "helm") -> list[dict]:
    return json.loads(box.helm(helm, "history", "local-llm", "-o", "json").stdout)


def _tts_pod(box: Sandbox) -> dict:
    pods = box.kubectl_json("get", "pods", "-l", "app.kubernetes.io/component=tts")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 1, [p["metadata"]["name"] for p in live]
    return live[0]


def _outside_block(text: str, key: str = "tts") -> tuple[str, str]:
    """The text before the top-level ``key:`` line, and after its block (next top-level line)."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\n", "#", "-")), len(lines)
    )
    return "".join(lines[:start]), "".join(lines[end:])


@pytest.fixture
def incident(tmp_path):
    box = Sandbox(tmp_path / "sandbox")
    yield box
    box.down()


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_fix_from_the_incident_then_rerun_changes_nothing(incident, tmp_path, helm):
    inventory = _inventory(tmp_path, incident.state_dir, helm_binary=str(VENV_BIN / helm))
    first = _fix(inventory, "--json")
    summary = _json(first)
    assert first.returncode == 0, first.stderr
    host = summary["hosts"]["sandbox"]
    assert summary["status"] == "ok" and host["failed"] == 0 and host["changed"] > 0
    assert (host["revision_before"], host["revision_after"]) == (1, 2)
    assert host["health"] == "ok" and host["diagnosis"] is None

    assert [h["revision"] for h in _history(incident, helm)] == [1, 2]
    pod = _tts_pod(incident)
    ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    health = incident.kubectl(
        "get", "--raw", "/api/v1/namespaces/default/services/local-llm-tts:8006/proxy/health"
    )
    assert json.loads(health.stdout) == {"status": "healthy"}
    assert host.get("speech_latency_ms") and all(ms > 0 for ms in host["speech_latency_ms"])

    values = incident.state_dir / "HelmChart" / "custom-chart" / "values.yaml"
    original = (REPO / "examples" / "HelmChart" / "custom-chart" / "values.yaml").read_text()
    assert values.with_name("values.yaml.orig").read_text() == original
    assert _outside_block(values.read_text()) == _outside_block(original)
    assert yaml.safe_load(values.read_text())["tts"]["image"] == {
        "repository": "vllm/vllm-openai",
        "tag": "v0.14.0",
        "pullPolicy": "Always",
    }

    before = (values.read_bytes(), values.stat().st_mtime_ns, pod["metadata"]["uid"])
    second = _fix(inventory, "--json")
    again = _json(second)["hosts"]["sandbox"]
    assert second.returncode == 0, second.stderr
    assert again["changed"] == 0 and again["failed"] == 0
    assert [h["revision"] for h in _history(incident, helm)] == [1, 2]
    assert (values.read_bytes(), values.stat().st_mtime_ns, _tts_pod(incident)["metadata"]["uid"]) == before
    # A rerun is a preflight and a verify: two module processes (each task costs one).
    modules = _module_runs(REPO / _json(second)["artifacts"])
    assert modules == ["local_llm.tts.preflight", "local_llm.tts.verify"]


def _module_runs(run_dir: Path) -> list[str]:
    """The modules that ran (ok or failed) in a run, from ansible-runner's job events, in order;
    set_stats, assert, the argument-spec validation and other controller-side actions start none."""
    runs = []
    for path in sorted((run_dir / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])):
        event = json.loads(path.read_text())
        data = event.get("event_data") or {}
        if event["event"] in ("runner_on_ok", "runner_on_failed") and data.get("task_action") not in (
            "validate_argument_spec",
            "ansible.builtin.validate_argument_spec",
        ):
            runs.append(data["task_action"])
    return runs


def test_check_mode_reports_and_changes_nothing(incident, tmp_path):
    inventory = _inventory(tmp_path, incident.state_dir)
    result = _fix(inventory, "--check", "--diff")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "vllm/vllm-openai" in result.stdout  # the diff of the tts block is shown
    values = incident.state_dir / "HelmChart" / "custom-chart" / "values.yaml"
    assert (
        values.read_text() == (REPO / "examples" / "HelmChart" / "custom-chart" / "values.yaml").read_text()
    )
    assert not values.with_name("values.yaml.orig").exists()
    assert [h["revision"] for h in _history(incident)] == [1]


def test_a_faulty_desired_block_is_diagnosed_and_rolled_back(incident, tmp_path):
    desired = shipped_block()
    desired["extraArgs"] = [
        a for a in desired["extraArgs"] if a != "--omni"
    ]  # the plan's args (omni-cli-handover)
    extra = tmp_path / "faulty.yml"
    extra.write_text(yaml.safe_dump({"tts_desired": desired, "tts_pitfalls_fail_on": "never"}))
    inventory = _inventory(tmp_path, incident.state_dir)
    result = _fix(inventory, "--json", "-e", f"@{extra}")
    host = _json(result)["hosts"]["sandbox"]
    assert result.returncode == 1
    assert "qwen3_tts" in host["diagnosis"] or "qwen3-tts" in host["diagnosis"]
    assert "--omni" in host["diagnosis"]
    history = _history(incident)
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[-1]["status"] == "deployed" and "Rollback to 1" in history[-1]["description"]
    values = incident.state_dir / "HelmChart" / "custom-chart" / "values.yaml"
    assert (
        values.read_text() == (REPO / "examples" / "HelmChart" / "custom-chart" / "values.yaml").read_text()
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("seeded"))
    box.up("--seed", "incident", "--time-scale", str(TIME_SCALE))
    yield box
    box.down()


def _chart_copy(seeded: Sandbox, tmp_path: Path, values_text: str | None = None) -> Path:
    chart = tmp_path / "chart"
    shutil.copytree(seeded.state_dir / "HelmChart" / "custom-chart", chart)
    if values_text is not None:
        (chart / "values.yaml").write_text(values_text)
    return chart


BAD_INPUTS = [
    pytest.param(
        {"values_file": "/nonexistent/values.yaml"}, None, "does not exist", id="missing-values-file"
    ),
    pytest.param({}, "tts:\n  image: [unclosed\n", "line", id="malformed-yaml"),
    pytest.param({}, "global: {}\ntts: just-a-string\n", "not a mapping", id="tts-not-a-mapping"),
    pytest.param({"kube_context": "nope"}, ..., "context 'nope' not found", id="wrong-context"),
]


@pytest.mark.parametrize(("hostvars", "values_text", "message"), BAD_INPUTS)
def test_bad_inputs_are_config_errors_and_touch_nothing(seeded, tmp_path, hostvars, values_text, message):
    chart = _chart_copy(seeded, tmp_path, values_text if values_text is not ... else None)
    values = chart / "values.yaml"
    before = values.read_bytes()
    inventory = _inventory(tmp_path, seeded.state_dir, chart_path=str(chart), **hostvars)
    result = _fix(inventory, "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stdout + result.stderr
    assert values.read_bytes() == before and not values.with_name("values.yaml.orig").exists()
    assert [h["revision"] for h in _history(seeded)] == [1]


def test_unreachable_api_server_and_bad_token(seeded, tmp_path):
    config = yaml.safe_load(seeded.kubeconfig.read_text())
    chart = _chart_copy(seeded, tmp_path)
    unreachable = json.loads(json.dumps(config))
    unreachable["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    bad_token = json.loads(json.dumps(config))
    bad_token["users"][0]["user"]["token"] = "not-the-token"
    for name, kubeconfig, message in (
        ("unreachable", unreachable, "cannot reach the API server at https://127.0.0.1:9"),
        ("bad-token", bad_token, "401"),
    ):
        path = tmp_path / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        path.chmod(0o600)
        inventory = _inventory(tmp_path, seeded.state_dir, chart_path=str(chart), kubeconfig=str(path))
        result = _fix(inventory, "--json")
        assert result.returncode == 2, name + result.stdout + result.stderr
        output = result.stdout + result.stderr
        assert message in output and "not-the-token" not in output


def test_unknown_extra_var_type_is_a_usage_error(seeded, tmp_path):
    inventory = _inventory(tmp_path, seeded.state_dir)
    result = _fix(inventory, "-e", "tts_port=abc")
    assert result.returncode == 2 and "tts_port" in result.stderr


def test_git_commit_records_the_fix_in_the_charts_repository(incident, tmp_path):
    incident.up("--seed", "incident", "--time-scale", str(TIME_SCALE))
    chart = incident.state_dir / "HelmChart" / "custom-chart"

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(chart), *args], check=True, capture_output=True, text=True
        ).stdout

    git("init", "-q")
    git("-c", "user.email=ops@example.invalid", "-c", "user.name=ops", "add", ".")
    git(
        "-c",
        "user.email=ops@example.invalid",
        "-c",
        "user.name=ops",
        "commit",
        "-q",
        "-m",
        "chart as deployed",
    )
    git("config", "user.email", "ops@example.invalid")
    git("config", "user.name", "ops")
    inventory = _inventory(tmp_path, incident.state_dir, git_commit=True)
    result = _fix(inventory, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert git("log", "-1", "--format=%s").strip() == (
        "fix(tts): switch to base vllm-openai image with source-install vllm-omni"
    )
    assert git("show", "--name-only", "--format=", "HEAD").split() == ["values.yaml"]
    again = _fix(inventory, "--json")
    assert again.returncode == 0 and git("rev-list", "--count", "HEAD").strip() == "2"  # no second commit
