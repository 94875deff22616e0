"""The vLLM runtime: the images as data, bootstraps in and log lines / exit status / packages out.

Golden tests: each feeds a bootstrap (mostly through the example chart's entrypoint) and checks what
the real image would print, by fact id of docs/facts.yml; one test at least per table row.
"""

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
from sandbox.runtimes.vllm import ImageProfile, VllmRuntime
from sandbox.runtimes.vllm_images import VLLM_OMNI_SDIST_SHA256, VLLM_OMNI_SDIST_URL, load_freeze

ARCHITECTURE_ERROR = (
    "ValueError: The checkpoint you are trying to load has model type `qwen3_tts` but Transformers does not "
    "recognize this architecture. This could be because of an issue with the checkpoint, or because your "
    "version of Transformers is out of date."
)
MODEL = "/models/Qwen3-TTS-12Hz-1.7B-CustomVoice"
TAG_ARCHIVE = "https://github.com/vllm-project/vllm-omni/archive/refs/tags/v0.14.0.tar.gz"
MAIN_ARCHIVE = "https://github.com/vllm-project/vllm-omni/archive/refs/heads/main.tar.gz"
BUILD_ISOLATION_ERROR = "ERROR: Failed to build 'flash-attn' when getting requirements to build wheel"
BOOTSTRAP_FAILED = "Bootstrap command failed with exit code {}; starting the server anyway"

# The example chart's entrypoint (examples/HelmChart/custom-chart/templates/_helpers.tpl):
# `/bin/bash -c <this> vllm-entrypoint <extraArgs>`; the server starts even when the bootstrap fails.
CHART_ENTRYPOINT = """set -e
if [ -n "${BOOTSTRAP:-}" ]; then
  echo "Running bootstrap command: ${BOOTSTRAP}"
  bash -e -c "${BOOTSTRAP}" || echo "Bootstrap command failed with exit code $?; starting the server anyway"
fi
echo "vllm serve ${MODEL_PATH} --port ${SERVICE_PORT} $*"
exec vllm serve "${MODEL_PATH}" --port "${SERVICE_PORT}" "$@"
"""

# A good bootstrap without git: the PyPI sdist checked by sha256, a constraints file holding the image's
# torch stack and pinning the floating ranges, vllm-omni with its dependencies, no flash-attn.
SDIST_BOOTSTRAP = f"""set -e
cd /tmp
curl -fsSL -o vllm_omni-0.14.0.tar.gz {VLLM_OMNI_SDIST_URL}
echo "{VLLM_OMNI_SDIST_SHA256}  vllm_omni-0.14.0.tar.gz" | sha256sum -c -
tar -xzf vllm_omni-0.14.0.tar.gz
pip freeze | grep -iE '^(torch|torchaudio|torchvision|triton|vllm|transformers)==' > /tmp/constraints.txt
cat >> /tmp/constraints.txt <<'EOF'
diffusers==0.36.0
librosa==0.11.0
EOF
pip install -c /tmp/constraints.txt -e /tmp/vllm_omni-0.14.0
echo "Bootstrap complete!"
"""

# The tag archive through a pipe; flash-attn attempted and tolerated.
TAG_ARCHIVE_BOOTSTRAP = f"""set -e
mkdir -p /tmp/vllm-omni
curl -fsSL {TAG_ARCHIVE} | tar -xz -C /tmp/vllm-omni --strip-components=1
pip install -e /tmp/vllm-omni
pip install flash-attn || true
echo "Bootstrap complete!"
"""

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
GOOD_EXTRA_ARGS = ["--omni", *PLAN_EXTRA_ARGS]


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
        self.container = runtime_for(spec.image).create(spec, ctx)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.exit_code = self.container.run()

    @property
    def packages(self) -> dict[str, str]:
        return self.container.env_state.packages

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


def run_bootstrap(faults: Faults, bootstrap: str, image: str = "vllm/vllm-openai:v0.14.0", **kw) -> Running:
    """The bootstrap alone, as the chart runs it (`bash -e -c`), to its exit."""
    running = start(faults, image=image, command=["bash", "-e", "-c", bootstrap], **kw)
    running.wait_exit()
    return running


def after(lines: list[str], marker: str) -> list[str]:
    return lines[lines.index(marker) + 1 :]


# ---------------------------------------------------------------------------------------------
# Images as data (image-vllm-openai, image-vllm-omni, command-not-found)
# ---------------------------------------------------------------------------------------------


def test_image_vllm_openai_has_the_real_freeze_and_no_git():
    image = ImageProfile.of("vllm/vllm-openai:v0.14.0")
    assert image.entrypoint == ("vllm", "serve")
    assert {"bash", "sh", "curl", "tar", "gzip", "sha256sum", "python3", "python3.12", "pip", "pip3", "uv",
            "nvcc"} <= image.commands  # fmt: skip
    assert "git" not in image.commands
    wanted = {"torch": "2.9.1+cu129", "torchaudio": "2.9.1+cu129", "torchvision": "0.24.1+cu129",
              "triton": "3.5.1", "transformers": "4.57.6", "tokenizers": "0.22.2",
              "huggingface-hub": "0.36.0", "numpy": "2.2.6", "pydantic": "2.12.5", "pillow": "12.1.0",
              "websockets": "16.0", "accelerate": "1.12.0", "vllm": "0.14.0"}  # fmt: skip
    assert {name: image.packages[name] for name in wanted} == wanted
    frozen = load_freeze("vllm-openai-v0.14.0-freeze.txt")
    assert len(image.packages) == len(frozen) + 1 and "vllm-omni" not in image.packages  # + accelerate


def test_image_vllm_omni_rc1_has_vllm_omni_and_its_dependencies():
    image = ImageProfile.of("docker.io/vllm/vllm-omni:v0.14.0rc1")
    assert image.omni_preinstalled == "0.14.0rc1" and image.vllm_version == "0.14.0"
    assert "git" not in image.commands
    assert {"gradio": "5.50.0", "pillow": "11.3.0", "omegaconf": "2.4.0"}.items() <= image.packages.items()


def test_other_tags_reuse_the_row_with_their_own_versions():
    assert ImageProfile.of("vllm/vllm-openai:v0.13.0").vllm_version == "0.13.0"
    assert ImageProfile.of("vllm/vllm-omni:v0.14.0").omni_preinstalled == "0.14.0"


def test_plan_literal_git_clone_is_command_not_found_and_ends_the_bootstrap(faults):
    running = run_bootstrap(faults, PLAN_AFTER_BOOTSTRAP)
    assert running.exit_code == 127
    assert running.lines == ["Cloning vllm-omni repository...", "bash: git: command not found"]


@pytest.mark.parametrize(
    ("command", "message", "status"),
    [
        (["bash", "-c", "git --version"], "bash: git: command not found", 127),
        (["/bin/bash", "-c", "true\ngit --version"], "/bin/bash: line 2: git: command not found", 127),
        (["sh", "-c", "git --version"], "sh: 1: git: not found", 127),
        (["bash", "-c", "/usr/bin/git clone x"], "bash: /usr/bin/git: No such file or directory", 127),
        (["git", "clone", "x"], 'exec: "git": executable file not found in $PATH', 128),
    ],
)
def test_command_not_found_wording(faults, command, message, status):
    running = start(faults, command=command)
    assert running.wait_exit() == status and running.lines == [message]


def test_present_programs_and_console_scripts_run(faults):
    script = "nvidia-smi && command -v curl && which vllm && huggingface-cli --help && ! command -v git"
    running = start(faults, command=["bash", "-ec", script])
    assert running.wait_exit() == 0
    assert running.lines == ["/usr/bin/curl", "/usr/bin/vllm"]


def test_pip_cannot_use_a_git_url_without_git(faults):
    running = run_bootstrap(faults, "pip install git+https://github.com/vllm-project/vllm-omni.git@v0.14.0")
    assert running.exit_code == 1
    assert (
        running.lines[-1]
        == "ERROR: Cannot find command 'git' - do you have 'git' installed and in your PATH?"
    )


# ---------------------------------------------------------------------------------------------
# The incident (flash-attn-build-isolation, qwen3-tts-without-omni)
# ---------------------------------------------------------------------------------------------


def test_incident_command_fails_at_flash_attn_and_installs_nothing(faults):
    running = run_bootstrap(faults, PLAN_BEFORE["bootstrap"], image=PLAN_BEFORE["image"])
    assert running.exit_code == 1
    assert running.lines[:9] == [
        "Requirement already satisfied: transformers in /usr/local/lib/python3.12/dist-packages (4.57.6)",
        "Collecting transformers",
        "  Downloading transformers-5.24.0-py3-none-any.whl",
        "Collecting flash-attn",
        "  Downloading flash_attn-2.8.3.post2.tar.gz",
        "  Installing build dependencies: started",
        "  Installing build dependencies: finished with status 'done'",
        "  Getting requirements to build wheel: started",
        "  Getting requirements to build wheel: finished with status 'error'",
    ]
    assert "      ModuleNotFoundError: No module named 'torch'" in running.lines
    assert running.lines[-1] == BUILD_ISOLATION_ERROR
    assert running.packages["transformers"] == "4.57.6"  # the whole command installed nothing
    assert not any(line.startswith("Successfully installed") for line in running.lines)


def test_build_isolation_failure_takes_about_25_seconds(faults):
    started = time.monotonic()
    running = run_bootstrap(faults, "pip install flash-attn", time_scale=250)  # 25 s -> 0.1 s
    assert running.exit_code == 1 and time.monotonic() - started >= 0.1


def test_seeded_incident_block_through_the_chart_gives_the_users_error(faults):
    running = start_chart(faults, PLAN_BEFORE["bootstrap"], PLAN_EXTRA_ARGS, image=PLAN_BEFORE["image"])
    assert running.wait_exit() == 1
    lines = running.lines
    failed = lines.index(BOOTSTRAP_FAILED.format(1))
    assert lines[failed - 1] == BUILD_ISOLATION_ERROR
    assert lines[-1] == ARCHITECTURE_ERROR and lines[-2] == "    raise ValueError("
    assert failed < lines.index(f"vllm serve {MODEL} --port {running.port} {' '.join(PLAN_EXTRA_ARGS)}")


def test_rc1_image_with_omni_and_no_bootstrap_serves(faults):
    running = start_chart(faults, "", GOOD_EXTRA_ARGS, image=PLAN_BEFORE["image"])
    try:
        assert running.healthy(), running.lines[-20:]
    finally:
        running.stop()


def test_plan_after_fix_fails_at_git_and_serves_nothing(faults):
    running = start_chart(faults, PLAN_AFTER_BOOTSTRAP, PLAN_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert "bash: git: command not found" in running.lines
    assert BOOTSTRAP_FAILED.format(127) in running.lines
    assert running.lines[-1] == ARCHITECTURE_ERROR  # no --omni and no vllm-omni: plain vLLM


# ---------------------------------------------------------------------------------------------
# Source without git (download-table) and vllm-omni's install (package-index)
# ---------------------------------------------------------------------------------------------


def test_sdist_with_constraints_installs_vllm_omni_and_serves_with_the_ignored_flags_line(faults):
    running = start_chart(faults, SDIST_BOOTSTRAP, GOOD_EXTRA_ARGS)
    try:
        assert running.healthy(), running.lines[-30:]
        lines = running.lines
        assert "vllm_omni-0.14.0.tar.gz: OK" in lines
        assert "Obtaining file:///tmp/vllm_omni-0.14.0" in lines
        assert "Collecting pillow<12.0,>=8.0 (from gradio==5.50->vllm-omni==0.14.0)" in lines
        assert (
            "Collecting websockets<16.0,>=13.0 (from gradio-client==1.14.0->gradio==5.50->vllm-omni==0.14.0)"
            in lines
        )
        assert "Collecting imageio>=2.37.2 (from imageio[ffmpeg]>=2.37.2->vllm-omni==0.14.0)" in lines
        # gradio==5.50 forces the downgrades, printed as pip prints them (omni-install-resolves)
        for name, old in (("pillow", "12.1.0"), ("pydantic", "2.12.5"), ("pydantic_core", "2.41.5"),
                          ("websockets", "16.0")):  # fmt: skip
            block = after(lines, f"  Attempting uninstall: {name}")[:3]
            assert block == [
                f"    Found existing installation: {name} {old}",
                f"    Uninstalling {name}-{old}:",
                f"      Successfully uninstalled {name}-{old}",
            ]
        installed = next(line for line in lines if line.startswith("Successfully installed")).split()[2:]
        # 47 new but accelerate (in the image), plus audioread, which librosa 0.11.0 still requires (1.0.0
        # dropped it), plus the 4 downgrades
        assert len(installed) == 46 + 1 + 4
        assert "audioread-3.1.0" in installed
        assert {"vllm-omni-0.14.0", "diffusers-0.36.0", "librosa-0.11.0", "pillow-11.3.0", "pydantic-2.12.3",
                "pydantic_core-2.41.4", "websockets-15.0.1", "gradio-5.50.0"} <= set(installed)  # fmt: skip
        assert not any(line.startswith("ERROR: pip's dependency resolver") for line in lines)
        assert running.packages["transformers"] == "4.57.6" and running.packages["torch"] == "2.9.1+cu129"
        warning = next(line for line in lines if "[omni.py:205]" in line)
        assert warning.startswith("WARNING ")
        assert (
            "Engine arguments --tensor-parallel-size 1, --gpu-memory-utilization 0.85, --max-model-len 4096, "
            "--max-num-seqs 128, --dtype float16 are not applied to the Qwen3-TTS stage" in warning
        ) or all(flag in warning for flag in vllm_rules.STAGE_CONFIG_ENGINE_FLAGS)
        assert "stage_configs/qwen3_tts.yaml" in warning and "gpu_memory_utilization: 0.1" in warning
        assert any("dtype=torch.bfloat16" in line for line in lines)  # hard-coded by the stage
    finally:
        assert running.stop() == KILLED


def test_unpinned_ranges_float_to_todays_newest(faults):
    bootstrap = SDIST_BOOTSTRAP.replace("diffusers==0.36.0\nlibrosa==0.11.0\n", "")
    running = run_bootstrap(faults, bootstrap.replace('echo "Bootstrap complete!"\n', ""))
    assert running.exit_code == 0
    # diffusers 0.42.1 is newest but needs huggingface-hub 1.x: resolution gives 0.39.0 (unpinned-floats)
    assert running.packages["diffusers"] == "0.39.0" and running.packages["librosa"] == "1.0.0"
    assert running.packages["huggingface-hub"] == "0.36.0"


def test_stage_configs_path_silences_the_ignored_flags_line(faults):
    running = start_chart(
        faults, SDIST_BOOTSTRAP, [*GOOD_EXTRA_ARGS, "--stage-configs-path", "/cfg/tts.yaml"]
    )
    try:
        assert running.healthy(), running.lines[-20:]
        assert not any("[omni.py:205]" in line for line in running.lines)
    finally:
        running.stop()


def test_tag_archive_through_a_pipe_with_flash_attn_tolerated_serves(faults):
    running = start_chart(faults, TAG_ARCHIVE_BOOTSTRAP, GOOD_EXTRA_ARGS)
    try:
        assert running.healthy(), running.lines[-30:]
        assert BUILD_ISOLATION_ERROR in running.lines
        assert running.lines.index(BUILD_ISOLATION_ERROR) < running.lines.index("Bootstrap complete!")
        assert "Obtaining file:///tmp/vllm-omni" in running.lines
        assert running.packages["vllm-omni"] == "0.14.0" and "flash-attn" not in running.packages
    finally:
        running.stop()


def test_wrong_sha256_fails_the_check(faults):
    bootstrap = SDIST_BOOTSTRAP.replace(VLLM_OMNI_SDIST_SHA256, "0" * 64)
    running = run_bootstrap(faults, bootstrap)
    assert running.exit_code == 1
    assert running.lines[-2:] == [
        "vllm_omni-0.14.0.tar.gz: FAILED",
        "sha256sum: WARNING: 1 computed checksum did NOT match",
    ]
    assert "vllm-omni" not in running.packages


def test_sha256sum_of_a_file_and_of_the_tag_archive(faults):
    running = run_bootstrap(
        faults, f"curl -fsSL -O {TAG_ARCHIVE}\nsha256sum v0.14.0.tar.gz\nprintf abc > f\nsha256sum f"
    )
    assert running.exit_code == 0
    digest = vllm_rules.DOWNLOADS[1].sha256
    assert running.lines == [
        f"{digest}  v0.14.0.tar.gz",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  f",
    ]


def test_main_archive_installs_a_vllm_omni_that_does_not_fit_vllm_0_14(faults):
    bootstrap = f"""set -e
cd /tmp
curl -fsSL {MAIN_ARCHIVE} -o main.tar.gz
tar -xzf main.tar.gz
pip install -e /tmp/vllm-omni-main
"""
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert any("vllm-omni-0.30.1.dev0" in line for line in running.lines if line.startswith("Successfully"))
    assert running.lines[-1].startswith("ImportError: cannot import name 'RendererConfig' from 'vllm.config'")
    assert (
        '  File "/tmp/vllm-omni-main/vllm_omni/entrypoints/cli/serve.py", line 14, in <module>'
        in running.lines
    )


TAR_FATAL = "tar: Error is not recoverable: exiting now"


@pytest.mark.parametrize(
    ("script", "status", "last"),
    [
        ("curl -fsSL https://example.com/vllm-omni.tar.gz -o x.tgz", 22,
         "curl: (22) The requested URL returned error: 404"),
        ("curl -fsL https://example.com/x.tgz -o x.tgz", 22, None),
        (f"curl -fsS -o a.tgz {TAG_ARCHIVE}\ntar -xzf a.tgz", 2, TAR_FATAL),
        ("tar -xzf missing.tgz", 2, TAR_FATAL),
        (f"curl -fsSL {TAG_ARCHIVE} | tar -xz -C /nowhere", 2, TAR_FATAL),
        ("echo hi > f\ntar -xzf f", 2, TAR_FATAL),
    ],
)  # fmt: skip
def test_curl_and_tar_failures(faults, script, status, last):
    running = run_bootstrap(faults, script)
    assert running.exit_code == status
    assert (running.lines[-1] if running.lines else None) == last


def test_no_redirect_follow_saves_an_empty_file(faults):
    running = run_bootstrap(faults, f"curl -fsS -o a.tgz {TAG_ARCHIVE}\ntar -xzf a.tgz")
    assert running.lines[0] == "gzip: stdin: unexpected end of file"


def test_tar_strip_components_and_verbose_listing(faults):
    running = run_bootstrap(
        faults,
        f"cd /tmp\ncurl -fsSLO {TAG_ARCHIVE}\ntar -xzvf v0.14.0.tar.gz\ncat vllm-omni-0.14.0/pyproject.toml",
    )
    assert running.exit_code == 0
    assert "vllm-omni-0.14.0/pyproject.toml" in running.lines
    assert running.lines[-3:] == ["[project]", 'name = "vllm-omni"', 'version = "0.14.0"']


# ---------------------------------------------------------------------------------------------
# pip's other rows (vllm-omni-dependencies-skipped, resolution-impossible, installed-requirements)
# ---------------------------------------------------------------------------------------------


def test_no_deps_install_skips_dependencies_the_image_lacks(faults):
    bootstrap = SDIST_BOOTSTRAP.replace("pip install -c /tmp/constraints.txt -e", "pip install --no-deps -e")
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS)
    assert running.wait_exit() == 1
    assert running.lines[-1] == "ModuleNotFoundError: No module named 'omegaconf'"
    assert "Successfully installed vllm-omni-0.14.0" in running.lines


def test_qwen_tts_only_moves_transformers_to_4_57_3(faults):
    running = run_bootstrap(faults, "pip install qwen-tts", image=PLAN_BEFORE["image"])
    assert running.exit_code == 0
    assert "Collecting transformers==4.57.3 (from qwen-tts)" in running.lines
    assert "Successfully installed qwen-tts-0.1.1 transformers-4.57.3" in running.lines
    assert not any(line.startswith("ERROR") for line in running.lines)  # vLLM accepts 4.57.3
    assert running.packages["torch"] == "2.9.1+cu129"  # torchaudio is in the image: nothing drags torch


def test_a_constraint_contradicting_qwen_tts_is_resolution_impossible(faults):
    running = run_bootstrap(
        faults, "echo 'transformers==4.57.6' > /tmp/c.txt\npip install -c /tmp/c.txt qwen-tts"
    )
    assert running.exit_code == 1
    assert after(running.lines, "The conflict is caused by:")[:2] == [
        "    The user requested (constraint) transformers==4.57.6",
        "    qwen-tts 0.1.1 depends on transformers==4.57.3",
    ]
    assert running.lines[-1].startswith("ERROR: ResolutionImpossible")
    assert "qwen-tts" not in running.packages


def test_pins_contradicting_qwen_tts_give_pips_real_report(faults):
    upstream = Path(__file__).resolve().parents[1] / "fixtures" / "upstream" / "pip-resolution-impossible.log"
    running = run_bootstrap(faults, "pip install qwen-tts==0.1.1 transformers==4.57.6")
    assert running.exit_code == 1
    real = upstream.read_text(encoding="utf-8").splitlines()
    report = real[real.index(next(line for line in real if line.startswith("ERROR: Cannot install"))) :]
    assert running.lines[-len(report) :] == report


def test_explicit_transformers_upgrade_warns_about_vllms_pin(faults):
    running = run_bootstrap(faults, "pip install -U transformers")
    assert running.exit_code == 0
    conflict = "vllm 0.14.0 requires transformers<5,>=4.56.0, but you have transformers 5.24.0"
    assert f"{conflict} which is incompatible." in running.lines


def test_explicit_torch_upgrade_breaks_vllms_kernels(faults):
    running = start_chart(faults, "pip install -U torch", GOOD_EXTRA_ARGS, image=PLAN_BEFORE["image"])
    assert running.wait_exit() == 1
    assert (
        "vllm 0.14.0 requires torch==2.9.1, but you have torch 2.10.0 which is incompatible." in running.lines
    )
    assert running.lines[-1].startswith(
        "ImportError: /usr/local/lib/python3.12/dist-packages/vllm/_C.abi3.so: undefined symbol:"
    )


def test_omni_flag_without_vllm_omni_is_rejected_by_the_argument_parser(faults):
    running = start(faults, args=[MODEL, "--omni"])
    assert running.wait_exit() == 2
    assert running.lines[-1] == "vllm serve: error: unrecognized arguments: --omni"


def test_plain_vllm_image_without_vllm_omni(faults):
    running = start(faults, args=[MODEL, "--trust-remote-code"])  # image entrypoint: vllm serve
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


def test_vllm_omni_from_pypi_unpinned_is_a_different_release(faults):
    running = start_chart(faults, "pip install vllm-omni", ["--omni"])
    assert running.wait_exit() == 1 and running.lines[-1].startswith("ImportError: cannot import name")


# ---------------------------------------------------------------------------------------------
# flash-attn's other two behaviours (flash-attn-source-build, -build-failure, -only-binary)
# ---------------------------------------------------------------------------------------------


def test_no_build_isolation_misses_the_wheel_and_builds_longer_than_a_startup_budget(faults):
    running = run_bootstrap(faults, "pip install -v flash-attn --no-build-isolation", time_scale=1e6)
    assert running.exit_code == 0
    lines = running.lines
    assert "  Guessing wheel URL:  " + vllm_rules.FLASH_ATTN_WHEEL_URL in lines
    assert "  Precompiled wheel not found. Building from source..." in lines
    heartbeats = sum(
        "Building wheel for flash-attn (pyproject.toml): still running..." in line for line in lines
    )
    assert heartbeats * 60 > 30 * 60  # a 30-minute startup budget runs out long before the build ends
    assert vllm_rules.seconds("flash-attn-source-build") >= 3 * 3600
    assert running.packages["flash-attn"] == "2.8.3.post2"


def test_force_build_skips_the_wheel_download(faults):
    running = run_bootstrap(
        faults, "pip install -v flash-attn --no-build-isolation", env={"FLASH_ATTENTION_FORCE_BUILD": "TRUE"},
        time_scale=1e6,
    )  # fmt: skip
    assert running.exit_code == 0 and not any("Guessing wheel URL" in line for line in running.lines)


def test_source_build_under_the_startup_probe_is_still_running_when_killed(faults):
    running = start_chart(
        faults, "pip install flash-attn --no-build-isolation", GOOD_EXTRA_ARGS, time_scale=3600
    )
    assert running.wait_for(lambda: sum("still running" in line for line in running.lines) >= 30, 10)
    assert running.stop() == KILLED  # 30 simulated minutes in: still compiling


def test_build_failure_fault_fails_minutes_in_showing_the_wheel_guess(faults):
    faults.set("flash-attn-build-failure", {})
    running = run_bootstrap(faults, "pip install flash-attn --no-build-isolation", time_scale=1e5)
    assert running.exit_code == 1
    assert running.lines[-1] == (
        "ERROR: Failed to build installable wheels for some pyproject.toml based projects (flash-attn)"
    )
    assert "      Precompiled wheel not found. Building from source..." in running.lines
    assert sum("still running" in line for line in running.lines) == 4  # 300 s
    assert "flash-attn" not in running.packages


@pytest.mark.parametrize(
    "option", ["--only-binary=:all:", "--only-binary flash-attn", "--only-binary=flash_attn"]
)
def test_only_binary_fails_at_once(faults, option):
    started = time.monotonic()
    running = run_bootstrap(faults, f"pip install {option} flash-attn", time_scale=1)
    assert running.exit_code == 1 and time.monotonic() - started < 5
    assert running.lines == [
        "ERROR: Could not find a version that satisfies the requirement flash-attn (from versions: none)",
        "ERROR: No matching distribution found for flash-attn",
    ]


# ---------------------------------------------------------------------------------------------
# Serving details and faults (serving)
# ---------------------------------------------------------------------------------------------

OMNI_IMAGE = "vllm/vllm-omni:v0.14.0"  # vllm-omni preinstalled: only `vllm serve` is simulated


def test_vllm_omni_serves_speech_as_wav_and_pcm(faults):
    port = free_port()
    running = start(faults, image=OMNI_IMAGE, args=[MODEL, "--omni", "--port", str(port)], port=port)
    try:
        assert running.healthy(), running.lines[-20:]
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
            assert long.getnframes() / 24000 == pytest.approx(12 * 0.25 + 0.07)  # the comma is not CJK
        assert running.request("/v1/audio/speech", {"input": "你好"})[1] == short_wav  # deterministic
        status, pcm, content_type = running.request(
            "/v1/audio/speech", {"input": "Hello there", "response_format": "pcm", "model": MODEL}
        )
        assert status == 200 and content_type == "audio/pcm" and len(pcm) == 2 * round(11 * 0.07 * 24000)
    finally:
        assert running.stop() == KILLED


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


@pytest.mark.parametrize("layout", ["inline-args", "eval-env", "bash-c-env", "direct-command"])
def test_other_layouts_reach_the_same_outcome(faults, layout):
    port = free_port()
    serve = f"vllm serve {MODEL} --omni --port {port} --trust-remote-code"
    env = {"BOOTSTRAP": SDIST_BOOTSTRAP}
    if layout == "inline-args":
        command, args = ["bash", "-ec"], [SDIST_BOOTSTRAP + serve]
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
            assert "Bootstrap complete!" in running.lines
    finally:
        running.stop()


def test_single_line_bootstrap_expanded_unquoted_before_serve(faults):
    port = free_port()
    command = ["sh", "-c", f"$BOOTSTRAP && vllm serve {MODEL} --port {port}"]
    running = start(faults, command=command, env={"BOOTSTRAP": "pip install -U transformers"}, port=port)
    assert running.wait_exit() == 1 and running.lines[-1] == ARCHITECTURE_ERROR


def test_stop_during_a_long_bootstrap_step_returns_killed_promptly(faults):
    bootstrap = "pip install flash-attn --no-build-isolation"
    running = start_chart(faults, bootstrap, GOOD_EXTRA_ARGS, time_scale=10)  # build: 18 min real
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


# ---------------------------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------------------------

EXPECTED_CITATIONS = {
    "image-vllm-openai": ("image-base", "image-commands", "image-entrypoint", "image-packages",
                          "torchaudio-in-image"),
    "image-vllm-omni": ("image-commands", "image-entrypoint", "image-packages", "rc1-supports-qwen3-tts"),
    "command-not-found": ("image-no-git",),
    "installed-requirements": ("vllm-requires-transformers-4",),
    "package-index": ("omni-dependencies", "omni-main-ahead", "omni-install-resolves", "unpinned-floats",
                      "qwen-tts-requires", "qwen-tts-registers-nothing"),
    "download-table": ("omni-sdist-on-pypi", "omni-main-ahead"),
    "bootstrap-timings": ("startup-per-pod-start",),
    "stage-config-flags": ("omni-stage-config",),
    "serving": ("omni-serve-example", "flash-attn-optional", "serving-api"),
    "omni-flag-without-vllm-omni": ("omni-cli-handover",),
    "qwen3-tts-without-omni": ("omni-cli-handover", "transformers-no-qwen3-tts"),
    "vllm-omni-version-mismatch": ("omni-main-ahead",),
    "vllm-omni-dependencies-skipped": ("omni-dependencies",),
    "torch-replaced": ("torch-abi",),
    "flash-attn-build-isolation": ("flash-attn-build-isolation",),
    "flash-attn-source-build": ("flash-attn-no-build-isolation",),
    "flash-attn-build-failure": ("flash-attn-no-build-isolation",),
    "flash-attn-only-binary": ("flash-attn-only-binary",),
    "resolution-impossible": ("pip-resolution-impossible",),
}  # fmt: skip


def test_sandbox_citations_name_every_row_by_fact_id():
    assert vllm_rules.SANDBOX_CITATIONS == EXPECTED_CITATIONS
    facts = (Path(__file__).resolve().parents[2] / "docs" / "facts.yml").read_text(encoding="utf-8")
    for name, ids in vllm_rules.SANDBOX_CITATIONS.items():
        for fact in ids:
            assert f"- id: {fact}\n" in facts, (name, fact)


def test_every_rule_has_a_stage_a_condition_and_a_log_and_every_timing_a_source():
    stages = {"pip-find", "pip-resolve", "pip-metadata", "pip-build", "cli", "omni-import", "config",
              "omni-stage", "engine", "serving"}  # fmt: skip
    for rule in vllm_rules.RULES:
        assert rule.stage in stages and rule.log and rule.when, rule.name
        assert not rule.timing or rule.timing in vllm_rules.TIMINGS, rule.name
    for name, timing in vllm_rules.TIMINGS.items():
        assert timing.seconds > 0 and timing.source, name
    assert vllm_rules.ARCHITECTURE_ERROR == ARCHITECTURE_ERROR
