"""`runner.py drift`: each kind of drift is reported exactly (exit 3, nothing changed), corrected
with --fix (exit 0), and a second --fix finds nothing; plus overlapping runs and many clusters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import REPO, VENV_BIN, Sandbox, leave_interrupted_upgrade, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TIME_SCALE = 600
LAYERS = ("values_file", "release", "live", "health")


def _inventory(tmp_path: Path, boxes: dict[str, Path], name: str = "inventory.yml", **hostvars) -> Path:
    return write_inventory(
        tmp_path / name, {host: sandbox_host(state, TIME_SCALE, **hostvars) for host, state in boxes.items()}
    )


def _runner(command: str, inventory: Path, *args: str) -> tuple[int, dict, str]:
    result = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), command, "-i", str(inventory), "--json", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"no JSON on stdout:\n{result.stdout}\n{result.stderr}") from None
    return result.returncode, summary, result.stderr


def _counts(summary: dict, host: str = "sandbox") -> dict:
    counts = summary["hosts"][host].get("drift_counts") or {}
    return {layer: counts.get(layer, 0) for layer in LAYERS}


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """One sandbox, seeded and fixed once: every drift case starts from a converged cluster."""
    tmp = tmp_path_factory.mktemp("drift")
    box = Sandbox(tmp / "sandbox")
    inventory = _inventory(tmp, {"sandbox": box.state_dir})
    code, _summary, err = _runner("fix", inventory)
    assert code == 0, err
    yield box, inventory
    box.down()


def _metrics(path: Path) -> dict[tuple[str, str], float]:
    """The samples of a Prometheus text file: (metric name, labels) -> value."""
    samples = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
            assert match, f"not Prometheus text format: {line!r}"
            samples[(match[1], match[2] or "")] = float(match[3])
    return samples


def _busy_seconds(artifacts: Path) -> dict[str, float]:
    """Per host, the summed duration of its task results in a run's ansible-runner events."""
    busy: dict[str, float] = {}
    for path in (artifacts / "job_events").glob("*.json"):
        event = json.loads(path.read_text())
        data = event.get("event_data") or {}
        if event["event"] in ("runner_on_ok", "runner_on_failed", "runner_on_skipped") and "duration" in data:
            busy[data["host"]] = round(busy.get(data["host"], 0.0) + data["duration"], 1)
    return busy


def _revisions(box: Sandbox) -> list[int]:
    return [h["revision"] for h in json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)]


def _values(box: Sandbox) -> Path:
    return box.state_dir / "HelmChart" / "custom-chart" / "values.yaml"


def _edit_values(box: Sandbox) -> None:
    """Change the tts image tag in the values file (only inside the tts block)."""
    path = _values(box)
    text = path.read_text()
    start = text.index("\ntts:")
    head, block = text[:start], text[start:]
    path.write_text(head + re.sub(r"tag: (\"?)v0\.14\.0", r"tag: \1v0.14.1", block, count=1))


def _helm_set_by_hand(box: Sandbox) -> None:
    chart = box.state_dir / "HelmChart" / "custom-chart"
    box.helm(
        "helm",
        "upgrade",
        "local-llm",
        str(chart),
        "-f",
        str(chart / "values.yaml"),
        "--set",
        "tts.annotationsByHand=yes",
    )


def _set_image(box: Sandbox) -> None:
    box.kubectl("set", "image", "deployment/local-llm-tts", "tts=docker.io/vllm/vllm-openai:v0.14.0")


def _edit_args(box: Sandbox) -> None:
    """`kubectl edit`-style change of a serve argument: --max-num-seqs 128 -> 64."""
    args = box.kubectl_json("get", "deployment", "local-llm-tts")["spec"]["template"]["spec"]["containers"][
        0
    ]["args"]
    index = args.index("--max-num-seqs") + 1
    box.kubectl(
        "patch",
        "deployment",
        "local-llm-tts",
        "--type=json",
        "-p",
        json.dumps(
            [{"op": "replace", "path": f"/spec/template/spec/containers/0/args/{index}", "value": "64"}]
        ),
    )


def _add_env(box: Sandbox) -> None:
    box.kubectl(
        "patch",
        "deployment",
        "local-llm-tts",
        "--type=json",
        "-p",
        json.dumps(
            [
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0/env/-",
                    "value": {"name": "EDITED_BY_HAND", "value": "1"},
                }
            ]
        ),
    )


CASES = [
    pytest.param(_edit_values, "values_file", id="values-file-edited"),
    pytest.param(_helm_set_by_hand, "release", id="helm-upgrade-set-by-hand"),
    pytest.param(_set_image, "live", id="kubectl-set-image"),
    pytest.param(_edit_args, "live", id="kubectl-edit-of-args"),
    pytest.param(_add_env, "live", id="kubectl-edit-adding-env"),
]


@pytest.mark.parametrize(("induce", "layer"), CASES)
def test_each_drift_kind_is_reported_then_corrected(fixed, induce, layer, tmp_path):
    box, inventory = fixed
    induce(box)
    before = (_values(box).read_bytes(), _revisions(box))
    metrics = tmp_path / "textfile" / "tts_drift.prom"
    code, summary, err = _runner("drift", inventory, "--metrics-file", str(metrics))
    assert code == 3, err
    counts = _counts(summary)
    assert counts[layer] >= 1, counts
    assert all(n == 0 for other, n in counts.items() if other not in (layer, "health", "release")), counts
    assert (_values(box).read_bytes(), _revisions(box)) == before  # warn mode changes nothing
    exposed = _metrics(metrics)
    assert {key[1]: value for key, value in exposed.items() if key[0] == "tts_drift_entries"} == {
        f'cluster="sandbox",layer="{name}"': float(n) for name, n in counts.items()
    }
    assert exposed[("tts_drift_last_success_timestamp_seconds", 'cluster="sandbox"')] > time.time() - 600

    code, summary, err = _runner("drift", inventory, "--fix")
    assert code == 0, err + json.dumps(summary, indent=1)
    code, summary, err = _runner("drift", inventory, "--fix")
    assert code == 0 and _counts(summary) == dict.fromkeys(LAYERS, 0), err
    assert summary["hosts"]["sandbox"]["changed"] == 0


TTS_PODS = "app.kubernetes.io/component=tts"


def _delete_pod_slow_to_return(box: Sandbox) -> None:
    """The TTS pod deleted, its replacement still loading the model (kept slow by a fault)."""
    box.cli("fault", "set", "slow-model-load", "factor=500")
    box.kubectl("delete", "pod", "-l", TTS_PODS, "--wait=false")


def _kill_the_engine(box: Sandbox) -> None:
    """A running pod turned unhealthy: /health 503 (vLLM's engine died, its API server lives on)."""
    box.cli("fault", "set", "engine-dead")


@pytest.mark.parametrize(
    "induce",
    [
        pytest.param(_delete_pod_slow_to_return, id="deleted-tts-pod"),
        pytest.param(_kill_the_engine, id="unhealthy-pod"),
    ],
)
def test_health_drift_is_reported_alone_then_converges(fixed, induce):
    box, inventory = fixed
    before = (_values(box).read_bytes(), _revisions(box))
    try:
        induce(box)
        code, summary, err = _runner("drift", inventory)
        assert code == 3, err
        counts = _counts(summary)
        assert counts["health"] >= 1 and counts["values_file"] == counts["release"] == counts["live"] == 0, (
            counts
        )
        assert (_values(box).read_bytes(), _revisions(box)) == before  # warn mode changes nothing
    finally:
        # The cause goes away (the engine restarted, the slow node recovered); the kubelet's probes
        # bring the pod back and --fix, finding no config drift, waits for health as fix does.
        box.cli("fault", "clear", "--all")
    code, summary, err = _runner("drift", inventory, "--fix")
    assert code == 0, err + json.dumps(summary, indent=1)
    code, summary, err = _runner("drift", inventory, "--fix")
    assert code == 0 and _counts(summary) == dict.fromkeys(LAYERS, 0), err
    assert summary["hosts"]["sandbox"]["changed"] == 0
    assert (_values(box).read_bytes(), _revisions(box)[-1]) == (before[0], before[1][-1])


def test_release_left_pending_stops_drift_until_recovered(fixed):
    box, inventory = fixed
    pending = leave_interrupted_upgrade(box)
    code, summary, err = _runner("drift", inventory, "--fix")
    assert code == 1, err
    assert f"pending-upgrade at revision {pending}" in err and "--recover-pending" in err, err
    assert _revisions(box)[-1] == pending  # nothing was touched

    code, summary, err = _runner("status", inventory)
    assert summary["hosts"]["sandbox"]["pending"]["status"] == "pending-upgrade", summary

    code, summary, err = _runner("drift", inventory, "--fix", "--recover-pending")
    assert code == 0, err + json.dumps(summary, indent=1)
    history = json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)
    # helm's rollback leaves the interrupted revision's record as it was; what counts is the newest one.
    assert history[-1]["status"] == "deployed" and history[-1]["revision"] > pending, history
    code, summary, err = _runner("drift", inventory)
    assert code == 0 and _counts(summary) == dict.fromkeys(LAYERS, 0), err


def test_overlapping_runs_one_acts_the_other_names_the_holder(fixed):
    _box, inventory = fixed
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(REPO / "runner.py"), "drift", "-i", str(inventory), "--fix", "--json"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and codes[1] != 0, results
    loser = next(out + err for p, (out, err) in zip(procs, results, strict=True) if p.returncode != 0)
    # On one machine the local lock stops the second run first (naming the pid that holds it);
    # across machines the release's Lease does (tests/e2e/test_lease_and_pending.py).
    assert "LOCKED" in loser and "in progress (pid" in loser and "Traceback" not in loser


def test_three_clusters_one_broken_run_in_parallel(tmp_path):
    boxes = {name: tmp_path / name for name in ("east", "west", "north")}
    inventory = _inventory(tmp_path, boxes)
    healthy = _inventory(tmp_path, {k: v for k, v in boxes.items() if k != "north"}, "healthy.yml")
    try:
        assert _runner("fix", healthy)[0] == 0  # two already fixed; north keeps the incident
        started = time.monotonic()
        code, summary, err = _runner("drift", inventory, "--fix")
        took = time.monotonic() - started
        assert code == 0, err
        assert set(summary["hosts"]) == {"east", "west", "north"}
        assert all(h["failed"] == 0 for h in summary["hosts"].values())
        assert summary["hosts"]["north"]["changed"] > 0 and summary["hosts"]["east"]["changed"] == 0
        # In parallel the clusters' task time adds up to more than the play's wall time (first task
        # start to last task end); one at a time (or forks=1, task by task) it cannot. Three sequential
        # runs would cost that sum at least. (The run's own start, before the play, is not compared.)
        busy = _busy_seconds(Path(summary["artifacts"]))
        hosts = summary["hosts"].values()
        play = max(datetime.fromisoformat(h["finished"]) for h in hosts) - min(
            datetime.fromisoformat(h["started"]) for h in hosts
        )
        print(f"three clusters, one broken: drift --fix {took:.1f}s wall, play {play}; task time {busy}")
        assert sum(busy.values()) > 1.3 * play.total_seconds(), (play, busy)
    finally:
        for state in boxes.values():
            Sandbox(state).down()
