"""The vLLM runtime: real containers, the chart's entrypoint and other layouts, rules 1-7, real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
import wave
from io import BytesIO
from pathlib import Path

import pytest

from sandbox.faults import Faults
from sandbox.runtimes import vllm_rules
from sandbox.runtimes.base import KILLED, ContainerSpec, RuntimeContext, SimClock
from sandbox.runtimes.registry import runtime_for
from sandbox.runtimes.vllm import VllmRuntime

ARCHITECTURE_ERROR = (
    "ValueError: The checkpoint you are trying to load has model type `qwen3_tts` but Transformers does not "
    "recognize this architecture. This could be because of an issue with the checkpoint, or because your "
    "version of Transformers is out of date."
)
MODEL = "/models/Qwen3-TTS-12Hz-1.7B-CustomVoice"
MARKERS = [
    "Cloning vllm-omni repository...",
    "Installing vllm-omni from source...",
    "Installing qwen-tts...",
    "Installing flash-attn...",
    "Bootstrap complete!",
]
TOLERATED = "flash-attn unavailable; continuing with vLLM's own attention kernels"

# The example chart's entrypoint (templates/_helpers.tpl): `/bin/bash -c <this> vllm-entrypoint <extraArgs>`.
CHART_ENTRYPOINT = """set -e
if [ -n "${BOOTSTRAP:-}" ]; then
  echo "Running bootstrap command: ${BOOTSTRAP}"
  bash -e -c "${BOOTSTRAP}"
fi
echo "vllm serve ${MODEL_PATH} --port ${SERVICE_PORT} $*"
exec vllm serve "${MODEL_PATH}" --port "${SERVICE_PORT}" "$@"
"""

# The bootstrap the product installs, exactly.
GOOD_BOOTSTRAP = "\n".join(
    [
        "set -e",
        'echo "Cloning vllm-omni repository..."',
        "git clone --depth 1 --branch v0.14.0 https://github.com/vllm-project/vllm-omni.git /tmp/vllm-omni",
        "pip freeze | grep -iE '^(torch|torchaudio|torchvision|vllm|triton)==' > /tmp/constraints.txt",
        'echo "transformers<5" >> /tmp/constraints.txt',
        'echo "Installing vllm-omni from source..."',
        "pip install -c /tmp/constraints.txt -e /tmp/vllm-omni",
        'echo "Installing qwen-tts..."',
        "pip install -c /tmp/constraints.txt qwen-tts",
        'echo "Installing flash-attn..."',
        "pip install -c /tmp/constraints.txt flash-attn --no-build-isolation"
        ' || echo "flash-attn unavailable; continuing with vLLM\'s own attention kernels"',
        'echo "Bootstrap complete!"',
        "",
    ]
)

# The user's plan (seed/tts-fix-plan.md), literally: the block before and the block after the fix.
PLAN_BEFORE = {"image": "vllm/vllm-omni:v0.14.0rc1", "bootstrap": "pip install -U transformers flash-attn"}
PLAN_AFTER_BOOTSTRAP = """echo "Cloning vllm-omni repository..."
git clone --depth 1 https://github.com/vllm-project/vllm-omni.git /tmp/vllm-omni

echo "Installing vllm-omni from source..."
pip install -e /tmp/vllm-omni --no-deps 2>/dev/null || pip install -e /tmp/vllm-omni

echo "Installing qwen-tts..."
pip install qwen-tts

echo "Installing flash-attn..."
pip install -U flash-attn --no-build-isolation

echo "Bootstrap complete!"
"""
PLAN_EXTRA_ARGS = [
    "--tensor-parallel-size", "1", "--gpu-memory-utilization", "0.85", "--max-model-len", "4096",
    "--max-num-seqs", "128", "--trust-remote-code", "--dtype", "float16",
]  # fmt: skip
GOOD_EXTRA_ARGS = ["--omni", "--trust-remote-code", "--max-model-len", "4096"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Running:
    """A container started in a thread, with its log lines and a way to stop it."""

    def __init__(self, spec: ContainerSpec, ctx: RuntimeContext) -> None:
        self.spec, self.ctx = spec, ctx
        self.port = spec.ports[0] if spec.ports else 0
        self.lines: list[str] = []
        self.exit_code: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.exit_code = runtime_for(self.spec.image).create(self.spec, self.ctx).run()

    def wait_exit(self, timeout: float = 10) -> int | None:
        self.thread.join(timeout)
        return self.exit_code

    def stop(self) -> int | None:
        self.ctx.stop.set()
        return self.wait_exit()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path: str, body: object = None, raw: bytes | None = None) -> tuple[int, bytes, str]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            self.url(path), data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get("Content-Type", "")

    def wait_for(self, predicate, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return False

    def healthy(self, timeout: float = 10) -> bool:
        def answered_200() -> bool:
            try:
                return self.request("/health")[0] == 200
            except OSError:
                return False

        return self.wait_for(answered_200, timeout)


@pytest.fixture
def faults(tmp_path: Path) -> Faults:
    return Faults(tmp_path)


def start(
    faults: Faults,
    image: str = "vllm/vllm-openai:v0.14.0",
    command: list[str] | None = None,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    time_scale: float = 10000,
    port: int | None = None,
) -> Running:
    port = port or free_port()
    spec = ContainerSpec(
        namespace="default",
        pod_name="local-llm-tts-0",
        name="tts",
        image=image,
        command=tuple(command or ()),
        args=tuple(args or ()),
        env=dict(env or {}),
        ports=(port,),
    )
    lines: list[str] = []
    ctx = RuntimeContext(pod_ip="127.0.0.1", clock=SimClock(time_scale), log=lines.append, faults=faults)
    running = Running(spec, ctx)
    running.lines = lines
    return running


def start_chart(
    faults: Faults, bootstrap: str, extra_args: list[str], image: str = "vllm/vllm-openai:v0.14.0", **kw
) -> Running:
    """As the example chart's Deployment runs it: bootstrap in env BOOTSTRAP, extraArgs as args."""
    port = free_port()
    env = {
        "BOOTSTRAP": bootstrap,
        "MODEL_PATH": MODEL,
        "SERVICE_PORT": str(port),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    command = ["/bin/bash", "-c", CHART_ENTRYPOINT, "vllm-entrypoint"]
    return start(faults, image=image, command=command, args=extra_args, env=env, port=port, **kw)


def index_of_each(lines: list[str], wanted: list[str]) -> list[int]:
    return [lines.index(marker) for marker in wanted]


# ---------------------------------------------------------------------------------------------
# The good bootstrap serves
# ---------------------------------------------------------------------------------------------


def test_good_bootstrap_serves_speech_with_the_five_markers_in_order(faults):
    running = start_chart(faults, GOOD_BOOTSTRAP, GOOD_EXTRA_ARGS)
    try:
        assert running.healthy(), running.lines[-20:]
        positions = index_of_each(running.lines, MARKERS)
        assert positions == sorted(positions)
        assert "Cloning into '/tmp/vllm-omni'..." in running.lines
        assert any(
            line.startswith("Successfully installed") and "vllm-omni-0.14.0" in line for line in running.lines
        )
        assert not any(ARCHITECTURE_ERROR in line for line in running.lines)
        assert TOLERATED not in running.lines  # the build succeeded, nothing to tolerate

        status, body, _ = running.request("/health")
        assert (status, json.loads(body)) == (200, {"status": "healthy"})
        status, body, _ = running.request("/v1/models")
        assert status == 200 and json.loads(body)["data"][0]["id"] == MODEL
        status, body, _ = running.request("/v1/audio/voices")
        assert status == 200 and json.loads(body)["voices"] == list(vllm_rules.VOICES)

        status, short_wav, content_type = running.request("/v1/audio/speech", {"input": "你好"})
        assert status == 200 and content_type == "audio/wav"
        status, long_wav, _ = running.request(
            "/v1/audio/speech", {"input": "你好\uff0c欢迎使用语音合成服务", "voice": "serena"}
        )
        with wave.open(BytesIO(short_wav)) as short, wave.open(BytesIO(long_wav)) as long:
            assert (short.getframerate(), short.getnchannels(), short.getsampwidth()) == (24000, 1, 2)
            assert short.getnframes() / 24000 == pytest.approx(0.5)  # 2 CJK chars -> the 0.5 s floor
            assert long.getnframes() / 24000 == pytest.approx(
                12 * 0.25 + 0.07
            )  # the full-width comma is not CJK
        again = running.request("/v1/audio/speech", {"input": "你好"})[1]
        assert again == short_wav  # deterministic

        status, pcm, content_type = running.request(
            "/v1/audio/speech", {"input": "Hello there", "response_format": "pcm", "model": MODEL}
        )
        assert status == 200 and content_type == "audio/pcm" and len(pcm) == 2 * round(11 * 0.07 * 24000)
    finally:
        assert running.stop() == KILLED


def test_good_bootstrap_tolerates_a_failing_flash_attn_build(faults):
    faults.set("flash-attn-build-failure", {})
    running = start_chart(faults, GOOD_BOOTSTRAP, GOOD_EXTRA_ARGS)
    try:
        assert running.healthy(), running.lines[-30:]
        assert "  ERROR: Failed building wheel for flash-attn" in running.lines
        assert running.lines.index(TOLERATED) < running.lines.index("Bootstrap complete!")
        positions = index_of_each(running.lines, MARKERS)
        assert positions == sorted(positions)
    finally:
        running.stop()


# ---------------------------------------------------------------------------------------------
# The user's plan, literally
# ---------------------------------------------------------------------------------------------


def test_plan_before_fix_prerelease_image_and_transformers_upgrade_give_the_users_error(faults):
    running = start_chart(faults, PLAN_BEFORE["bootstrap"], PLAN_EXTRA_ARGS, image=PLAN_BEFORE["image"])
    assert running.wait_exit() == 1
    assert running.lines[-1] == ARCHITECTURE_ERROR
    assert "Successfully installed flash-attn-2.8.3.post2 transformers-5.0.0" in running.lines
    assert running.lines[-2] == "    raise ValueError("


def test_plan_after_fix_without_omni_still_gives_the_architecture_error(faults):
    running = start_chart(faults, PLAN_AFTER_BOOTSTRAP, PLAN_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert running.lines[-1] == ARCHITECTURE_ERROR
    positions = index_of_each(running.lines, MARKERS)
    assert positions == sorted(positions)


# ---------------------------------------------------------------------------------------------
# Rules 1-6, one at a time (everything else as in the good bootstrap)
# ---------------------------------------------------------------------------------------------


def test_rule1_prerelease_omni_image_fails_even_without_a_bootstrap(faults):
    running = start_chart(faults, "", ["--omni"], image="docker.io/vllm/vllm-omni:v0.14.0rc1")
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


@pytest.mark.parametrize("upgrade", ["pip install -U transformers", "pip install 'transformers>=5'"])
def test_rule1_transformers_5_breaks_an_otherwise_good_bootstrap(faults, upgrade):
    running = start_chart(faults, GOOD_BOOTSTRAP + upgrade + "\n", GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


def test_rule1_constraint_keeps_transformers_below_5(faults):
    bootstrap = GOOD_BOOTSTRAP + "pip install -c /tmp/constraints.txt -U transformers\n"
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    try:
        assert running.healthy(), running.lines[-20:]
    finally:
        running.stop()


def test_rule2_good_bootstrap_without_omni_flag(faults):
    extra = [a for a in GOOD_EXTRA_ARGS if a != "--omni"]
    running = start_chart(faults, GOOD_BOOTSTRAP, extra)
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


def test_rule2_plain_vllm_image_without_vllm_omni(faults):
    running = start(faults, args=[MODEL, "--trust-remote-code"])  # image entrypoint: vllm serve
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


def test_omni_flag_without_vllm_omni_is_rejected_by_the_argument_parser(faults):
    running = start(faults, args=[MODEL, "--omni"])
    assert running.wait_exit() == 2
    assert running.lines[-1] == "vllm serve: error: unrecognized arguments: --omni"


@pytest.mark.parametrize(
    "change",
    [
        ("--depth 1 --branch v0.14.0 ", "--depth 1 "),  # unpinned clone: main
        ("--branch v0.14.0", "-b v0.13.0"),  # another release
    ],
)
def test_rule3_vllm_omni_not_matching_the_image_fails_on_import(faults, change):
    running = start_chart(faults, GOOD_BOOTSTRAP.replace(*change), GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert running.lines[-1].startswith("ImportError: cannot import name")
    assert "vllm.config" in running.lines[-1]


def test_rule3_vllm_omni_from_pypi_is_a_different_release(faults):
    running = start_chart(faults, "pip install vllm-omni", ["--omni"])
    assert running.wait_exit() == 1 and running.lines[-1].startswith("ImportError: cannot import name")


def test_rule4_qwen_tts_without_holding_torch_breaks_vllm_kernels(faults):
    # Every later install unconstrained too: a later `-c` install would put torch back (as pip would).
    bootstrap = GOOD_BOOTSTRAP.replace("pip install -c /tmp/constraints.txt qwen-tts", "pip install qwen-tts")
    bootstrap = bootstrap.replace("pip install -c /tmp/constraints.txt flash-attn", "pip install flash-attn")
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert running.lines[-1].startswith(
        "ImportError: /usr/local/lib/python3.12/dist-packages/vllm/_C.abi3.so: undefined symbol:"
    )
    assert (
        "vllm 0.14.0 requires torch==2.9.0, but you have torch 2.10.0 which is incompatible." in running.lines
    )


@pytest.mark.parametrize(
    "hold",
    [
        "pip install qwen-tts torch==2.9.0",
        "pip install --constraint=/tmp/constraints.txt qwen-tts",
        "PIP_CONSTRAINT=/tmp/constraints.txt pip install qwen-tts",
        "export PIP_CONSTRAINT=/tmp/constraints.txt\npip install qwen-tts",
        "cat > /tmp/held.txt <<EOF\ntorch==2.9.0\nEOF\npip install -c /tmp/held.txt qwen-tts",
    ],
)
def test_rule4_any_standard_way_of_holding_torch_keeps_serving(faults, hold):
    bootstrap = GOOD_BOOTSTRAP.replace("pip install -c /tmp/constraints.txt qwen-tts", hold)
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    try:
        assert running.healthy(), running.lines[-20:]
        assert "Successfully installed qwen-tts-0.1.1 torchaudio-2.9.0" in running.lines
    finally:
        running.stop()


def test_rule5_flash_attn_failure_under_set_e_fails_the_container(faults):
    faults.set("flash-attn-build-failure", {})
    bootstrap = GOOD_BOOTSTRAP.replace(' || echo "' + TOLERATED + '"', "")
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert (
        running.lines[-1]
        == "ERROR: Failed to build installable wheels for some pyproject.toml based projects (flash-attn)"
    )
    assert "Bootstrap complete!" not in running.lines


def test_rule5_flash_attn_failure_without_errexit_and_not_last_is_tolerated(faults):
    faults.set("flash-attn-build-failure", {})
    bootstrap = GOOD_BOOTSTRAP.replace("set -e\n", "").replace(' || echo "' + TOLERATED + '"', "")
    port = free_port()
    command = ["sh", "-c", bootstrap + f'exec vllm serve {MODEL} --omni --port "$PORT"']
    running = start(faults, command=command, env={"PORT": str(port)}, port=port)
    try:
        assert running.healthy(), running.lines[-20:]
        assert "  ERROR: Failed building wheel for flash-attn" in running.lines
        assert "Bootstrap complete!" in running.lines
    finally:
        running.stop()


def test_rule5_source_build_takes_its_simulated_time(faults):
    bootstrap = "pip install flash-attn --no-build-isolation"
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS, time_scale=36000)  # 1800 s -> 0.05 s
    started = time.monotonic()
    running.wait_exit()
    assert time.monotonic() - started >= vllm_rules.seconds("flash-attn-source-build") / 36000
    assert sum("still running..." in line for line in running.lines) >= 20


def test_rule6_no_deps_install_skips_dependencies_the_image_lacks(faults):
    bootstrap = GOOD_BOOTSTRAP.replace(
        "pip install -c /tmp/constraints.txt -e /tmp/vllm-omni",
        "pip install -e /tmp/vllm-omni --no-deps 2>/dev/null || pip install -e /tmp/vllm-omni",
    )
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert running.lines[-1] == "ModuleNotFoundError: No module named 'omegaconf'"
    assert "Successfully installed vllm-omni-0.14.0" in running.lines


# ---------------------------------------------------------------------------------------------
# Rule 7: serving details and faults
# ---------------------------------------------------------------------------------------------

OMNI_IMAGE = "vllm/vllm-omni:v0.14.0"  # vllm-omni preinstalled: only `vllm serve` is simulated


def test_health_is_503_while_the_model_loads_and_stop_frees_the_port(faults):
    faults.set("slow-model-load", {"factor": 10000.0})  # 900,000 s simulated: still loading during the test
    port = free_port()
    running = start(faults, image=OMNI_IMAGE, args=[MODEL, "--omni", "--port", str(port)], port=port)

    def loading() -> bool:
        try:
            return running.request("/health")[0] == 503
        except OSError:
            return False

    assert running.wait_for(loading)
    _status, body, _ = running.request("/health")
    assert json.loads(body)["status"] == "unhealthy"
    assert running.request("/v1/models")[0] == 503
    started = time.monotonic()
    assert running.stop() == KILLED
    assert time.monotonic() - started < 2
    with socket.socket() as again:  # released: a new server can bind it (as servers do, with SO_REUSEADDR)
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))


def test_slow_model_load_multiplies_the_load_time(faults):
    faults.set("slow-model-load", {"factor": 3.0})
    port = free_port()
    running = start(faults, image=OMNI_IMAGE, args=[MODEL, "--omni", "--port", str(port)], port=port)
    try:
        assert running.healthy()
        assert any("Loading weights took 270.00 seconds" in line for line in running.lines)
    finally:
        running.stop()


def test_health_flapping_alternates_200_and_503(faults):
    faults.set("health-flapping", {"period_seconds": 300.0})  # 0.3 s real at time scale 1000
    port = free_port()
    running = start(
        faults, image=OMNI_IMAGE, args=[MODEL, "--omni", "--port", str(port)], port=port, time_scale=1000
    )
    try:
        assert running.healthy()
        assert running.wait_for(lambda: running.request("/health")[0] == 503, timeout=3)
        assert running.wait_for(lambda: running.request("/health")[0] == 200, timeout=3)
    finally:
        running.stop()


def test_engine_dead_keeps_health_at_503_until_cleared(faults):
    port = free_port()
    running = start(faults, image=OMNI_IMAGE, args=[MODEL, "--omni", "--port", str(port)], port=port)
    try:
        assert running.healthy()
        faults.set("engine-dead", {})
        assert running.wait_for(lambda: running.request("/health")[0] == 503, timeout=3)
        assert running.request("/v1/models")[0] == 200  # the API process itself still answers
        faults.clear("engine-dead")
        assert running.wait_for(lambda: running.request("/health")[0] == 200, timeout=3)
    finally:
        running.stop()


def test_speech_requests_are_validated_like_openai(faults):
    port = free_port()
    running = start(faults, image=OMNI_IMAGE, args=[MODEL, "--omni", "--port", str(port)], port=port)
    try:
        assert running.healthy()
        cases = [
            (b"{not json", None, 400),
            (None, {"input": ""}, 400),
            (None, {"voice": "vivian"}, 400),
            (None, {"input": "hi", "voice": "nobody"}, 400),
            (None, {"input": 5}, 400),
            (None, {"input": "hi", "language": 3}, 400),
            (None, {"input": "hi", "response_format": "mp3"}, 400),
            (None, {"input": "hi", "response_format": "ogg"}, 400),
            (None, {"input": "hi", "model": "other"}, 404),
        ]
        for raw, body, expected in cases:
            status, answer, _content_type = running.request("/v1/audio/speech", body, raw=raw)
            error = json.loads(answer)["error"]
            assert status == expected and error["code"] == expected, (body, answer)
            assert error["message"] and error["type"]
        status, answer, _ = running.request("/v1/audio/speech", {"input": "hi", "response_format": "flac"})
        assert "only wav and pcm" in json.loads(answer)["error"]["message"]
        ok = running.request(
            "/v1/audio/speech",
            {"input": "Hello", "voice": "Uncle_Fu", "language": "English", "instructions": "calm"},
        )
        assert ok[0] == 200 and ok[1][:4] == b"RIFF"
        assert running.request("/v1/audio/speech", raw=b"")[0] == 400
    finally:
        running.stop()


def test_a_non_tts_model_serves_health_and_models_only(faults):
    port = free_port()
    running = start(
        faults, args=["/models/Qwen3-14B-AWQ", "--port", str(port), "--served-model-name", "chat"], port=port
    )
    try:
        assert running.healthy()
        _status, body, _ = running.request("/v1/models")
        assert json.loads(body)["data"][0]["id"] == "chat"
        assert running.request("/v1/audio/voices")[0] == 404
        assert running.request("/v1/audio/speech", {"input": "hi"})[0] == 404
    finally:
        running.stop()


def test_port_already_taken_fails_the_container(faults):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        running = start(faults, args=["/models/any", "--port", str(port)], port=port)
        assert running.wait_exit() == 1
        assert "Address already in use" in running.lines[-1]


# ---------------------------------------------------------------------------------------------
# Other chart layouts
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layout",
    ["inline-args", "eval-env", "bash-c-env", "direct-command"],
)
def test_other_layouts_reach_the_same_outcome(faults, layout):
    port = free_port()
    serve = f"vllm serve {MODEL} --omni --port {port} --trust-remote-code"
    env = {"BOOTSTRAP": GOOD_BOOTSTRAP}
    if layout == "inline-args":
        command, args = ["bash", "-ec"], [GOOD_BOOTSTRAP + serve]
    elif layout == "eval-env":
        command, args = ["sh", "-c"], [f'set -e; eval "$BOOTSTRAP"; exec {serve}']
    elif layout == "bash-c-env":
        command, args = ["/bin/sh", "-c"], [f'bash -c "${{BOOTSTRAP}}" && {serve}']
    else:
        command, args, env = ["vllm", "serve", MODEL, "--omni", "--port", str(port)], [], {}
    running = start(faults, image=OMNI_IMAGE if layout == "direct-command" else "vllm/vllm-openai:v0.14.0",
                    command=command, args=args, env=env, port=port)  # fmt: skip
    try:
        assert running.healthy(), running.lines[-20:]
        if layout != "direct-command":
            positions = index_of_each(running.lines, MARKERS)
            assert positions == sorted(positions)
    finally:
        running.stop()


def test_single_line_bootstrap_expanded_unquoted_before_serve(faults):
    port = free_port()
    command = ["sh", "-c", f"$BOOTSTRAP && vllm serve {MODEL} --port {port}"]
    running = start(faults, command=command, env={"BOOTSTRAP": "pip install -U transformers"}, port=port)
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


def test_stop_during_a_long_bootstrap_step_returns_killed_promptly(faults):
    running = start_chart(
        faults, "pip install flash-attn", GOOD_EXTRA_ARGS, time_scale=10
    )  # build: 180 s real
    assert running.wait_for(
        lambda: any("Building wheel for flash-attn" in line for line in running.lines), 30
    )
    started = time.monotonic()
    assert running.stop() == KILLED
    assert time.monotonic() - started < 1


def test_registry_picks_the_vllm_runtime_for_vllm_images_only():
    for image in (
        "vllm/vllm-openai:v0.14.0",
        "docker.io/vllm/vllm-omni:v0.14.0rc1",
        "registry.example.com:5000/vllm/vllm-openai@sha256:" + "0" * 64,
        "vllm/vllm-openai",
    ):
        assert isinstance(runtime_for(image), VllmRuntime), image
    for image in ("nginx:1.27", "myorg/vllm-openai:v1", "vllm/other:v1", "busybox"):
        assert runtime_for(image).name == "generic", image


def test_every_rule_cites_brief_facts_and_every_timing_has_a_source():
    assert {rule.stage for rule in vllm_rules.RULES} <= {
        "pip",
        "cli",
        "omni-import",
        "config",
        "engine",
        "serving",
    }
    for rule in vllm_rules.RULES:
        assert rule.facts and all(1 <= fact <= 8 for fact in rule.facts), rule.name
        assert rule.log and rule.when
    for name, timing in vllm_rules.TIMINGS.items():
        assert timing.seconds > 0 and timing.source, name
    assert vllm_rules.ARCHITECTURE_ERROR == ARCHITECTURE_ERROR
