"""The sandbox as a cluster: the user's incident, its cure, each failure rule, scheduling and
faults, driven with the real helm, kubectl and plain HTTP to the pod IP."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path

import pytest

from sandbox.runtimes.vllm_images import VLLM_OMNI_SDIST_SHA256, VLLM_OMNI_SDIST_URL
from tests.support import REPO, Sandbox, binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHART = REPO / "examples" / "HelmChart" / "custom-chart"
FIXTURES = REPO / "tests" / "fixtures" / "tts"
TIME_SCALE = "600"
MARKERS = [
    "Fetching vllm-omni 0.14.0...",
    "Installing vllm-omni from source...",
    "Bootstrap complete!",
]
ARCHITECTURE_ERROR = "model type `qwen3_tts` but Transformers does not recognize this architecture"
BUILD_ISOLATION_ERROR = "ERROR: Failed to build 'flash-attn' when getting requirements to build wheel"
BOOTSTRAP_FAILED = "Bootstrap command failed with exit code 1; starting the server anyway"

# A tts block that serves on the image as it really is (no git: facts image-no-git, omni-sdist-on-pypi):
# the PyPI sdist checked by sha256, vllm-omni with its dependencies under a constraints file holding the
# image's torch stack, no flash-attn, and --omni.
GOOD_VALUES = f"""tts:
  image:
    repository: "vllm/vllm-openai"
    tag: "v0.14.0"
    pullPolicy: Always
  bootstrap: |
    set -e
    echo "Fetching vllm-omni 0.14.0..."
    cd /tmp
    curl -fsSL -o vllm_omni-0.14.0.tar.gz {VLLM_OMNI_SDIST_URL}
    echo "{VLLM_OMNI_SDIST_SHA256}  vllm_omni-0.14.0.tar.gz" | sha256sum -c -
    tar -xzf vllm_omni-0.14.0.tar.gz
    pip freeze | grep -iE '^(torch|torchaudio|torchvision|triton|vllm|transformers)==' > /tmp/constraints.txt
    echo "Installing vllm-omni from source..."
    pip install -c /tmp/constraints.txt -e /tmp/vllm_omni-0.14.0
    echo "Bootstrap complete!"
  extraArgs:
    - "--omni"
    - "--tensor-parallel-size"
    - "1"
    - "--gpu-memory-utilization"
    - "0.85"
    - "--max-model-len"
    - "4096"
    - "--max-num-seqs"
    - "128"
    - "--trust-remote-code"
    - "--dtype"
    - "float16"
"""


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("values") / "good.yaml"
    path.write_text(GOOD_VALUES)
    return path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    box = Sandbox(tmp_path_factory.mktemp("cluster"))
    box.up("--time-scale", TIME_SCALE)
    yield box
    box.down()


def _values(*extra: Path) -> list[str]:
    args = ["-f", str(CHART / "values.yaml"), "-f", str(FIXTURES / "only-tts.yaml")]
    for path in extra:
        args += ["-f", str(path)]
    return args


def _install(
    cluster, helm: str, release: str, *values: Path, wait: str = "", timeout: str = "120s", check=True
):
    wait_args = ([f"--wait={wait}"] if wait else ["--wait"]) if helm == "helm" else ["--wait"]
    return cluster.helm(
        helm,
        "upgrade",
        "--install",
        release,
        str(CHART),
        *_values(*values),
        *wait_args,
        "--timeout",
        timeout,
        check=check,
    )


def _tts_pods(cluster, release: str) -> list[dict]:
    selector = f"app.kubernetes.io/instance={release},app.kubernetes.io/component=tts"
    pods = cluster.kubectl_json("get", "pods", "-l", selector)["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _wait_for(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _http(url: str, body: dict | None = None, timeout: float = 10) -> tuple[int, bytes, str]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def _scenario(tmp_path: Path, name: str, edit) -> Path:
    text = edit(GOOD_VALUES)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def _uninstall(cluster, helm: str, release: str) -> None:
    cluster.helm(helm, "uninstall", release, "--wait", "--timeout", "60s")


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_good_config_rolls_out_and_serves_speech(cluster, good, helm):
    release = "local-llm" if helm == "helm" else "h3"
    _install(cluster, helm, release, good)  # --wait succeeds: the pod is Ready
    cluster.kubectl("rollout", "status", f"deployment/{release}-tts", "--timeout=60s")
    logs = cluster.kubectl("logs", f"deployment/{release}-tts").stdout
    positions = [logs.index(m) for m in MARKERS]
    assert positions == sorted(positions), logs
    assert ARCHITECTURE_ERROR not in logs
    assert "vllm_omni-0.14.0.tar.gz: OK" in logs
    assert "are not applied to the Qwen3-TTS stage" in logs  # the engine flags under --omni

    health = cluster.kubectl(
        "get", "--raw", f"/api/v1/namespaces/default/services/{release}-tts:8006/proxy/health"
    )
    assert json.loads(health.stdout) == {"status": "healthy"}
    pod = _tts_pods(cluster, release)[0]
    ip = pod["status"]["podIP"]
    assert ip.startswith("127.")
    status, body, _ = _http(f"http://{ip}:8006/health")
    assert status == 200 and json.loads(body) == {"status": "healthy"}

    short = {"input": "你好", "voice": "vivian", "language": "Chinese"}
    longer = {
        "input": "Hello there, this sentence is quite a bit longer than the first one.",
        "voice": "ryan",
    }
    durations = []
    for request in (short, longer):
        status, audio, content_type = _http(f"http://{ip}:8006/v1/audio/speech", request)
        assert status == 200 and content_type.startswith("audio/")
        with wave.open(io.BytesIO(audio)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
            durations.append(wav.getnframes() / wav.getframerate())
    assert 0 < durations[0] < durations[1]
    status, body, _ = _http(f"http://{ip}:8006/v1/audio/speech", {"voice": "vivian"})
    assert status == 400 and "error" in json.loads(body)
    _uninstall(cluster, helm, release)


RULES = [
    # The example chart's own tts block (the incident): flash-attn fails under build isolation, the
    # chart starts the server anyway, and plain vLLM (no --omni) cannot read the qwen3_tts config.
    pytest.param("incident-block", None, ARCHITECTURE_ERROR, id="qwen3-tts-without-omni-rc1"),
    pytest.param(
        "no-omni",
        lambda t: t.replace('    - "--omni"\n', ""),
        ARCHITECTURE_ERROR,
        id="qwen3-tts-without-omni",
    ),
    pytest.param(
        "main-archive",
        lambda t: (
            t.replace(
                f"curl -fsSL -o vllm_omni-0.14.0.tar.gz {VLLM_OMNI_SDIST_URL}\n",
                "curl -fsSL -o main.tar.gz https://github.com/vllm-project/vllm-omni/archive/refs/heads/main.tar.gz\n",
            )
            .replace(f'    echo "{VLLM_OMNI_SDIST_SHA256}  vllm_omni-0.14.0.tar.gz" | sha256sum -c -\n', "")
            .replace("tar -xzf vllm_omni-0.14.0.tar.gz", "tar -xzf main.tar.gz")
            .replace("-e /tmp/vllm_omni-0.14.0", "-e /tmp/vllm-omni-main")
        ),
        "ImportError",
        id="vllm-omni-version-mismatch",
    ),
    pytest.param(
        "torch-upgraded",
        lambda t: t.replace(
            '    echo "Bootstrap complete!"', '    pip install -U torch\n    echo "Bootstrap complete!"'
        ),
        "undefined symbol",
        id="torch-replaced",
    ),
    pytest.param(
        "flash-attn-source-build",
        lambda t: t.replace(
            '    echo "Bootstrap complete!"',
            "    pip install -c /tmp/constraints.txt flash-attn --no-build-isolation\n"
            '    echo "Bootstrap complete!"',
        ),
        "Building wheel for flash-attn (pyproject.toml): still running...",
        id="flash-attn-source-build-outlasts-the-startup-probe",
    ),
]


@pytest.mark.parametrize(("name", "edit", "error"), RULES)
def test_each_failure_rule(cluster, tmp_path, name, edit, error):
    long_runs = name == "flash-attn-source-build"
    release = name  # (not a bare "no": YAML would read the instance label as false)
    values = [] if edit is None else [_scenario(tmp_path, name, edit)]
    try:
        result = _install(cluster, "helm", release, *values, timeout="20s", check=False)
        assert result.returncode != 0, result.stdout
        pod = _wait_for(
            lambda: next((p for p in _tts_pods(cluster, release) if _restarts(p) >= 2), None),
            what="two restarts",
        )
        first = _restarts(pod)
        name_ = pod["metadata"]["name"]
        previous = cluster.kubectl("logs", name_, "--previous").stdout
        assert error in previous, previous
        if name == "incident-block":
            assert previous.index(BUILD_ISOLATION_ERROR) < previous.index(BOOTSTRAP_FAILED)
            assert previous.index(BOOTSTRAP_FAILED) < previous.index(ARCHITECTURE_ERROR)
        state = pod["status"]["containerStatuses"][0]
        assert state["lastState"]["terminated"]["exitCode"] != 0
        _wait_for(
            lambda: _restarts(cluster.kubectl_json("get", "pod", name_)) > first, what="restartCount to rise"
        )
        if long_runs:
            # Each attempt compiles flash-attn until the startupProbe (30 simulated minutes) kills it:
            # longer than the kubelet's 10-minute back-off reset, so it restarts at once each time.
            return
        # CrashLoopBackOff lasts only the back-off delay (10 s doubling, divided by the time scale), so
        # it is seen in the kubelet's BackOff events rather than by polling the pod's state.
        back_off = _wait_for(
            lambda: cluster.kubectl_json(
                "get", "events", "--field-selector", f"reason=BackOff,involvedObject.name={name_}"
            )["items"],
            what="BackOff event",
        )[0]
        assert back_off["message"].startswith("Back-off restarting failed container tts in pod")
    finally:
        cluster.cli("fault", "clear", "--all")
        _uninstall(cluster, "helm", release)


def _restarts(pod: dict) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return statuses[0]["restartCount"] if statuses else 0


def _waiting_reason(pod: dict) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return ((statuses[0].get("state") or {}).get("waiting") or {}).get("reason", "") if statuses else ""


def test_unsatisfiable_affinity_stays_pending(cluster, good, tmp_path):
    values = tmp_path / "big.yaml"
    values.write_text(
        "tts:\n  affinity:\n    nodeAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n"
        "        nodeSelectorTerms:\n        - matchExpressions:\n          - key: memorysize\n"
        "            operator: In\n            values: [48GB]\n"
    )
    cluster.helm("helm", "upgrade", "--install", "pending", str(CHART), *_values(good, values))
    pod = _wait_for(lambda: next(iter(_tts_pods(cluster, "pending")), None), what="the pod")
    name = pod["metadata"]["name"]
    event = _wait_for(
        lambda: cluster.kubectl_json(
            "get", "events", "--field-selector", f"reason=FailedScheduling,involvedObject.name={name}"
        )["items"],
        what="FailedScheduling",
    )[0]
    assert re.match(
        r"0/\d+ nodes are available: .*didn't match Pod's node affinity/selector", event["message"]
    )
    pod = cluster.kubectl_json("get", "pod", name)
    assert pod["status"]["phase"] == "Pending"
    scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable"
    cluster.helm("helm", "uninstall", "pending")


def test_faults_change_what_clients_see_and_clear(cluster):
    # api-errors: every request fails, then works again.
    cluster.cli("fault", "set", "api-errors", "rate=1.0", "code=503")
    failed = cluster.kubectl("get", "namespaces", check=False)
    assert failed.returncode != 0 and "injected" in failed.stderr
    cluster.cli("fault", "clear", "api-errors")
    assert cluster.kubectl("get", "namespaces").returncode == 0

    # api-latency: a request takes at least the delay.
    cluster.cli("fault", "set", "api-latency", "ms=400")
    started = time.monotonic()
    cluster.kubectl("get", "configmaps")
    slow = time.monotonic() - started
    cluster.cli("fault", "clear", "api-latency")
    started = time.monotonic()
    cluster.kubectl("get", "configmaps")
    assert slow >= 0.4 > time.monotonic() - started or slow > 2 * (time.monotonic() - started)

    # node-not-ready: the node reports Unknown, then Ready again.
    node = cluster.kubectl_json("get", "nodes")["items"][0]["metadata"]["name"]
    cluster.cli("fault", "set", "node-not-ready", f"node={node}")
    _wait_for(lambda: _node_ready(cluster, node) == "Unknown", what="node NotReady")
    cluster.cli("fault", "clear", "node-not-ready")
    _wait_for(lambda: _node_ready(cluster, node) == "True", what="node Ready")

    # image-pull-failure: the pod waits in ImagePullBackOff, then runs once pulls work.
    cluster.cli("fault", "set", "image-pull-failure", "image=busybox:1.36")
    cluster.kubectl("run", "puller", "--image=busybox:1.36", "--restart=Never")
    _wait_for(
        lambda: (
            _waiting_reason(cluster.kubectl_json("get", "pod", "puller"))
            in ("ErrImagePull", "ImagePullBackOff")
        ),
        what="ImagePullBackOff",
    )
    cluster.cli("fault", "clear", "image-pull-failure")
    _wait_for(
        lambda: cluster.kubectl_json("get", "pod", "puller")["status"]["phase"] == "Running", what="Running"
    )
    cluster.kubectl("delete", "pod", "puller", "--wait=true")

    # drop-watches: a watch ends early instead of at its timeout.
    cluster.cli("fault", "set", "drop-watches", "after_seconds=1")
    started = time.monotonic()
    subprocess.run(
        [binary("kubectl"), "get", "configmaps", "-w", "--request-timeout=20s"],
        env=cluster.env,
        capture_output=True,
        timeout=30,
    )
    assert time.monotonic() - started < 10
    cluster.cli("fault", "clear", "drop-watches")


def _node_ready(cluster, node: str) -> str:
    conditions = cluster.kubectl_json("get", "node", node)["status"].get("conditions") or []
    return next((c["status"] for c in conditions if c["type"] == "Ready"), "")


def test_model_faults_slow_load_and_health_flapping(cluster, good):
    cluster.cli("fault", "set", "slow-model-load", "factor=200")
    _install(cluster, "helm", "faulty", good, timeout="5s", check=False)
    pod = _wait_for(lambda: next(iter(_tts_pods(cluster, "faulty")), None), what="the pod")
    ip = _wait_for(
        lambda: cluster.kubectl_json("get", "pod", pod["metadata"]["name"])["status"].get("podIP"),
        what="pod IP",
    )
    # Bootstrap done and the server up, but the model still loading: 503 from /health.
    _wait_for(lambda: _status(f"http://{ip}:8006/health") == 503, what="503 while loading")
    cluster.cli("fault", "clear", "slow-model-load")
    cluster.kubectl("delete", "pod", pod["metadata"]["name"])
    # Progressing stays ProgressDeadlineExceeded until the rollout completes, as in Kubernetes.
    cluster.kubectl("wait", "deployment/faulty-tts", "--for=condition=Available", "--timeout=90s")

    # Short 503 spells (20 simulated seconds) stay under the liveness probe's 3 x 15 s threshold.
    cluster.cli("fault", "set", "health-flapping", "period_seconds=20")
    new_ip = _tts_pods(cluster, "faulty")[0]["status"]["podIP"]
    seen = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and seen != {200, 503}:
        seen.add(_status(f"http://{new_ip}:8006/health"))
        time.sleep(0.01)
    assert {200, 503} <= seen  # (0 too, should a liveness probe restart it mid-way: real behaviour)
    cluster.cli("fault", "clear", "health-flapping")
    _wait_for(
        lambda: {_status(f"http://{new_ip}:8006/health") for _ in range(20)} == {200}, what="steady 200"
    )
    _uninstall(cluster, "helm", "faulty")


def _status(url: str) -> int:
    try:
        return _http(url, timeout=5)[0]
    except OSError:
        return 0


def test_seed_incident_reproduces_the_users_crash_loop(tmp_path):
    box = Sandbox(tmp_path / "incident")
    box.up("--seed", "incident", "--time-scale", TIME_SCALE)
    try:
        history = json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)
        assert [h["revision"] for h in history] == [1]
        assert (box.state_dir / "HelmChart" / "custom-chart" / "values.yaml").read_text() == (
            CHART / "values.yaml"
        ).read_text()  # the sandbox works on its own copy of the chart
        pod = _wait_for(
            lambda: next((p for p in _tts_pods(box, "local-llm") if _restarts(p) >= 1), None), what="a crash"
        )
        previous = box.kubectl("logs", pod["metadata"]["name"], "--previous").stdout
        # pip's flash-attn build-isolation failure (nothing installed), the chart's bootstrap-failed line,
        # then plain vLLM's transformers error: the rc1 image served without --omni (qwen3-tts-without-omni)
        lines = previous.splitlines()
        failed = lines.index(BOOTSTRAP_FAILED)
        assert lines[failed - 1] == BUILD_ISOLATION_ERROR, previous
        assert ARCHITECTURE_ERROR in lines[-1] and "Successfully installed" not in previous
        # `kubectl logs -f` streams the running attempt and ends when that container exits.
        follow = subprocess.run(
            [binary("kubectl"), "logs", "-f", "deployment/local-llm-tts"],
            env=box.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert follow.returncode == 0 and "Running bootstrap command" in follow.stdout
        for service in ("chat", "embedding", "reranker", "asr", "code"):
            box.kubectl("rollout", "status", f"deployment/local-llm-{service}", "--timeout=120s")
        box.up("--seed", "incident")  # running and seeded already: nothing more happens
        assert len(json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)) == 1
    finally:
        box.down()
