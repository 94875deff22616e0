"""What a vLLM container does, as data: outcome rules, timings, package index, image contents, voices.

Every rule row cites the fact of ``/work/shared/BRIEF.md`` it rests on ("fact N"); the mechanism that
evaluates the rows is ``sandbox/runtimes/vllm.py``. Rows are checked in order at their stage and the
first that applies decides. The stages follow what ``vllm serve`` does on start:

1. ``cli``         argument parsing (before any model work)
2. ``omni-import`` with ``--omni``, importing vllm-omni (its version and its dependencies)
3. ``config``      resolving the model's config through transformers (the user's error lives here)
4. ``engine``      starting the engine, which loads vLLM's compiled kernels (``vllm/_C.abi3.so``)
5. ``serving``     loading the weights, then answering HTTP

The ``pip`` stage is a bootstrap step, not part of ``vllm serve``: the flash-attn build.

What a GOOD bootstrap looks like (and reaches ``serving``), per facts 1-5:
- clone vllm-omni pinned to the image's vLLM: ``git clone --depth 1 --branch v0.14.0 ...`` (fact 2);
- install it WITH its dependencies (no ``--no-deps``) so omegaconf, librosa, ... arrive (fact 3);
- hold torch (and friends) at the image's versions and transformers < 5 for every install: a
  constraints file from ``pip freeze`` passed with ``-c`` (or ``PIP_CONSTRAINT``) (fact 4);
- tolerate a failing flash-attn build (``|| echo ...``) because vLLM has its own kernels (fact 5);
- serve with ``--omni`` so vllm-omni's registry knows ``qwen3_tts`` (facts 1 and 8).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# ---------------------------------------------------------------------------------------------
# What the rules look at
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """Facts about one container at the moment a rule is checked (built by the runtime)."""

    image_vllm_version: str
    image_torch_version: str
    prerelease_image: bool  # a vllm/vllm-omni image whose tag is a release candidate (…rc1)
    qwen3_tts_model: bool  # the served model's path or name contains "Qwen3-TTS"
    omni_flag: bool  # `--omni` on the `vllm serve` command line
    omni_version: str | None  # installed vllm-omni version (None: not installed)
    omni_matches_vllm: bool  # same major.minor as the image's vLLM (fact 2: v0.14.0 <-> vLLM 0.14.0)
    missing_omni_modules: tuple[str, ...]  # vllm-omni dependencies absent from site-packages
    transformers_version: str
    torch_version: str
    building_from_source: str | None = None  # pip stage: the package being compiled
    build_failure_fault: bool = False  # pip stage: fault `flash-attn-build-failure` is active

    @property
    def transformers_major(self) -> int:
        return int(self.transformers_version.split(".")[0])

    @property
    def omni_active(self) -> bool:
        """vllm-omni takes over `vllm serve` only when installed AND `--omni` is given (fact 1)."""
        return self.omni_flag and self.omni_version is not None


@dataclass(frozen=True)
class Rule:
    name: str
    facts: tuple[int, ...]  # BRIEF.md fact numbers this row rests on
    stage: str  # "pip", "cli", "omni-import", "config", "engine" or "serving"
    when: str  # the condition in words (shown in docs and test names)
    applies: Callable[[Situation], bool]
    log: tuple[str, ...]  # lines printed, formatted with the runtime's details ({model}, {ts}, ...)
    exit_code: int | None  # None: the container keeps running (serving)


# ---------------------------------------------------------------------------------------------
# Log text shared by several rows
# ---------------------------------------------------------------------------------------------

# Fact 8: transformers' own wording, checked against transformers 4.57.3.
ARCHITECTURE_ERROR = (
    "ValueError: The checkpoint you are trying to load has model type `qwen3_tts` but Transformers does "
    "not recognize this architecture. This could be because of an issue with the checkpoint, or because "
    "your version of Transformers is out of date."
)

_SITE = "/usr/local/lib/python3.12/dist-packages"

# Frames are illustrative (file names follow vLLM 0.14's layout; line numbers are not real).
_CLI_FRAMES = (
    "Traceback (most recent call last):",
    '  File "/usr/local/bin/vllm", line 8, in <module>',
    "    sys.exit(main())",
    "             ^^^^^^",
)

_CONFIG_TRACEBACK = (
    *_CLI_FRAMES,
    f'  File "{_SITE}/vllm/entrypoints/cli/main.py", line 73, in main',
    "    args.dispatch_function(args)",
    f'  File "{_SITE}/vllm/entrypoints/cli/serve.py", line 60, in cmd',
    "    uvloop.run(run_server(args))",
    f'  File "{_SITE}/vllm/entrypoints/openai/api_server.py", line 1341, in run_server_worker',
    "    async with build_async_engine_client(args, client_config) as engine_client:",
    f'  File "{_SITE}/vllm/engine/arg_utils.py", line 1150, in create_model_config',
    "    return ModelConfig(",
    "           ^^^^^^^^^^^^",
    f'  File "{_SITE}/vllm/transformers_utils/config.py", line 548, in get_config',
    "    config = AutoConfig.from_pretrained(",
    "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    f'  File "{_SITE}/transformers/models/auto/configuration_auto.py", line 1372, in from_pretrained',
    "    raise ValueError(",
    ARCHITECTURE_ERROR,
)

_ENGINE_INIT = (
    "INFO {ts} [core.py:93] Initializing a V1 LLM engine (v{vllm_version}) with config: model='{model}'"
)

# Printed once the CLI has parsed its arguments (and vllm-omni imported), before the config is read.
SERVE_BANNER = (
    "INFO {ts} [api_server.py:1839] vLLM API server version {vllm_version}",
    "INFO {ts} [utils.py:253] non-default args: {non_default_args}",
)

# ---------------------------------------------------------------------------------------------
# The rules table
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        name="flash-attn-build-failure",
        facts=(5,),
        stage="pip",
        when="pip compiles flash-attn from source (no wheel found) with fault flash-attn-build-failure on",
        applies=lambda s: s.building_from_source == "flash-attn" and s.build_failure_fault,
        log=(
            "  Building wheel for flash-attn (pyproject.toml): finished with status 'error'",
            "  error: subprocess-exited-with-error",
            "  ",
            "  \u00d7 Building wheel for flash-attn (pyproject.toml) did not run successfully.",
            "  │ exit code: 1",
            "  ╰─> [9 lines of output]",
            "      torch.__version__  = {torch_version}",
            "      running bdist_wheel",
            "      building 'flash_attn_2_cuda' extension",
            "      [1/73] /usr/local/cuda/bin/nvcc -c csrc/flash_attn/src/flash_fwd_hdim128_fp16_sm80.cu",
            "      nvcc error   : 'cicc' died due to signal 9 (Kill signal)",
            "      ninja: build stopped: subcommand failed.",
            "      RuntimeError: Error compiling objects for extension",
            "      [end of output]",
            "  ",
            "  note: This error originates from a subprocess, and is likely not a problem with pip.",
            "  ERROR: Failed building wheel for flash-attn",
            "Failed to build flash-attn",
            "ERROR: Failed to build installable wheels for some pyproject.toml based projects (flash-attn)",
        ),
        exit_code=1,
    ),
    Rule(
        # Not in the user's plan: vLLM's argument parser rejects options it does not know, so `--omni`
        # without vllm-omni installed stops at argument parsing rather than at the config.
        name="omni-flag-without-vllm-omni",
        facts=(1,),
        stage="cli",
        when="`--omni` given but vllm-omni is not installed (plain vLLM owns the `vllm` script)",
        applies=lambda s: s.omni_flag and s.omni_version is None,
        log=(
            "usage: vllm serve [model_tag] [options]",
            "vllm serve: error: unrecognized arguments: --omni",
        ),
        exit_code=2,
    ),
    Rule(
        name="vllm-omni-version-mismatch",
        facts=(2,),
        stage="omni-import",
        when="vllm-omni (cloned without --branch v<image vLLM>, or another release) does not fit the vLLM",
        applies=lambda s: s.omni_active and not s.omni_matches_vllm,
        log=(
            *_CLI_FRAMES,
            f'  File "{_SITE}/vllm_omni/entrypoints/cli/main.py", line 21, in main',
            "    from vllm_omni.entrypoints.cli.serve import OmniServeSubcommand",
            '  File "/tmp/vllm-omni/vllm_omni/entrypoints/cli/serve.py", line 14, in <module>',
            "    from vllm.config import RendererConfig",
            # The symbol is a stand-in: which one is missing depends on the commit of vllm-omni.
            "ImportError: cannot import name 'RendererConfig' from 'vllm.config' "
            f"({_SITE}/vllm/config/__init__.py)",
        ),
        exit_code=1,
    ),
    Rule(
        name="vllm-omni-dependencies-skipped",
        facts=(3,),
        stage="omni-import",
        when="vllm-omni installed with --no-deps and the image lacks some of its dependencies",
        applies=lambda s: s.omni_active and bool(s.missing_omni_modules),
        log=(
            *_CLI_FRAMES,
            f'  File "{_SITE}/vllm_omni/entrypoints/cli/main.py", line 21, in main',
            "    from vllm_omni.entrypoints.cli.serve import OmniServeSubcommand",
            '  File "/tmp/vllm-omni/vllm_omni/config/stage_config.py", line 9, in <module>',
            "    from {missing_module} import {missing_module_symbol}",
            "ModuleNotFoundError: No module named '{missing_module}'",
        ),
        exit_code=1,
    ),
    Rule(
        name="prerelease-image-or-transformers-5",
        facts=(8,),
        stage="config",
        when="a Qwen3-TTS model on a pre-release vllm-omni image (…rc…) or with transformers >= 5 installed",
        applies=lambda s: s.qwen3_tts_model and (s.prerelease_image or s.transformers_major >= 5),
        log=_CONFIG_TRACEBACK,
        exit_code=1,
    ),
    Rule(
        name="qwen3-tts-without-omni",
        facts=(1, 8),
        stage="config",
        when="a Qwen3-TTS model served by plain vLLM (vllm-omni not installed, or no `--omni`)",
        applies=lambda s: s.qwen3_tts_model and not s.omni_active,
        log=_CONFIG_TRACEBACK,
        exit_code=1,
    ),
    Rule(
        name="torch-replaced",
        facts=(4,),
        stage="engine",
        when="torch differs from the image's (qwen-tts/torchaudio installed without holding torch)",
        applies=lambda s: s.torch_version != s.image_torch_version,
        log=(
            _ENGINE_INIT,
            "ERROR {ts} [core.py:866] EngineCore failed to start.",
            "ERROR {ts} [core.py:866] Traceback (most recent call last):",
            f'ERROR {{ts}} [core.py:866]   File "{_SITE}/vllm/_custom_ops.py", line 16, in <module>',
            "ERROR {ts} [core.py:866]     import vllm._C  # noqa",
            # The mangled name is a typical c10 symbol of a torch ABI mismatch (illustrative).
            f"ImportError: {_SITE}/vllm/_C.abi3.so: undefined symbol: _ZN3c1013MessageLoggerC1EPKciib",
        ),
        exit_code=1,
    ),
    Rule(
        name="serving",
        facts=(6, 7),
        stage="serving",
        when="none of the above: load the model, then serve",
        applies=lambda s: True,
        log=(
            "INFO {ts} [default_loader.py:267] Loading weights took {load_seconds:.2f} seconds",
            "INFO {ts} [gpu_model_runner.py:2653] Model loading took 4.05 GiB and {load_seconds:.2f} seconds",
            "INFO {ts} [api_server.py:1920] Starting vLLM API server 0 on http://0.0.0.0:{port}",
            "INFO {ts} [launcher.py:44] Route: /health, Methods: GET",
            "INFO {ts} [launcher.py:44] Route: /v1/models, Methods: GET",
        ),
        exit_code=None,
    ),
)

# Printed when the engine starts loading weights (the listener answers 503 from here on, fact 6).
MODEL_LOAD_START_LOG = (
    _ENGINE_INIT,
    "INFO {ts} [gpu_model_runner.py:2602] Starting to load model {model}...",
)

# Extra routes announced when vllm-omni serves a speech model (fact 6).
SPEECH_ROUTE_LOG = (
    "INFO {ts} [launcher.py:44] Route: /v1/audio/speech, Methods: POST",
    "INFO {ts} [launcher.py:44] Route: /v1/audio/voices, Methods: GET",
)

# uvicorn's last words before /health turns 200.
APP_STARTUP_LOG = (
    "INFO:     Started server process [1]",
    "INFO:     Waiting for application startup.",
    "INFO:     Application startup complete.",
)

# What installed packages require of others, beyond PACKAGE_INDEX: pip checks these after an install and
# warns (it does not refuse) when an install broke them. vLLM 0.14.0: torch pinned to the image's build,
# transformers >=4.56,<5 (fact 4). "{image_torch_version}" is filled from the image.
INSTALLED_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "vllm": ("torch=={image_torch_version}", "transformers>=4.56.0,<5"),
}

PIP_CONFLICT_HEADER = (
    "ERROR: pip's dependency resolver does not currently take into account all the packages that are "
    "installed. This behaviour is the source of the following dependency conflicts."
)
PIP_ROOT_WARNING = (
    "WARNING: Running pip as the 'root' user can result in broken permissions and conflicting behaviour with "
    "the system package manager, possibly rendering your system unusable. It is recommended to use a virtual "
    "environment instead: https://pip.pypa.io/warnings/venv. Use the --root-user-action option if you know "
    "what you are doing and want to suppress this warning."
)
PIP_CONFLICT_LINE = (
    "{package} {version} requires {requirement}, but you have {name} {installed} which is incompatible."
)


def rules_for(stage: str) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if rule.stage == stage)


# ---------------------------------------------------------------------------------------------
# Timings (simulated seconds)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    seconds: float
    source: str


TIMINGS: dict[str, Timing] = {
    "git-clone": Timing(5, "shallow clone (--depth 1) of vllm-omni from GitHub: a few seconds (estimate)"),
    "git-clone-full": Timing(20, "full history clone of vllm-omni: several times a shallow one (estimate)"),
    "pip-freeze": Timing(1, "pip freeze only reads installed metadata"),
    "pip-resolve": Timing(3, "pip's index look-ups and resolution before any download (estimate)"),
    "pip-package": Timing(4, "download + unpack of an ordinary pure-Python wheel (estimate)"),
    "pip-vllm-omni": Timing(60, "vllm-omni from source with its deps (diffusers, librosa, onnxruntime, ...)"),
    "pip-vllm-omni-no-deps": Timing(8, "editable build of vllm-omni alone, no dependencies (fact 3)"),
    "pip-qwen-tts": Timing(30, "qwen-tts with transformers==4.57.3, accelerate, torchaudio (fact 4)"),
    "pip-torch": Timing(120, "a CUDA torch wheel is ~1 GB plus its nvidia-* wheels (estimate)"),
    "flash-attn-wheel": Timing(20, "a matching prebuilt flash-attn wheel (find-links / URL): download only"),
    "flash-attn-source-build": Timing(
        1800, "fact 5: sdist only, nvcc compiles ~70 CUDA files; half an hour on a small pod (estimate)"
    ),
    "flash-attn-build-failure-after": Timing(
        300, "fault flash-attn-build-failure: nvcc stops at its first error, minutes in (estimate)"
    ),
    "vllm-cli-start": Timing(8, "python imports of vllm (+ vllm-omni) before argument handling (estimate)"),
    "config-resolve": Timing(2, "reading config.json through transformers.AutoConfig"),
    "engine-start": Timing(10, "engine core process start, CUDA init, kernel import (estimate)"),
    "model-load": Timing(90, "1.7B weights in float16 + CUDA graph capture on a 16 GB GPU (estimate)"),
}


def seconds(step: str) -> float:
    return TIMINGS[step].seconds


# The wait before a `vllm serve` stage's rules are checked.
STAGE_TIMINGS = {"config": "config-resolve", "engine": "engine-start"}


# ---------------------------------------------------------------------------------------------
# Package index ("PyPI today", Nov 2026) and image contents
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    versions: tuple[str, ...]  # ascending; the last is what an unpinned install gets
    requires: tuple[str, ...] = ()  # requirement strings, e.g. "transformers==4.57.3"
    import_name: str = ""  # the module a missing package is reported under
    source: str = ""


PACKAGE_INDEX: dict[str, Package] = {
    "torch": Package(("2.9.0", "2.10.0"), source="image holds 2.9.0; a newer release exists (fact 4)"),
    "torchaudio": Package(
        ("2.9.0", "2.10.0"),
        ("torch=={version}",),
        source="built against one torch release; unpinned by qwen-tts (fact 4)",
    ),
    "torchvision": Package(("0.24.0", "0.25.0"), ("torch",), source="paired with torch releases"),
    "triton": Package(("3.5.0",), source="ships with torch 2.9"),
    "transformers": Package(
        ("4.57.3", "5.0.0"), source="qwen-tts pins 4.57.3 (fact 4); `pip install -U` gave 5.0.0 (plan)"
    ),
    "vllm": Package(("0.14.0", "0.33.0"), source="image 0.14.0; PyPI has 0.33.0 (fact 2)"),
    "vllm-omni": Package(
        ("0.14.0", "0.30.0"),
        ("omegaconf", "librosa", "diffusers", "accelerate==1.12.0", "soundfile", "onnxruntime", "sox"),
        source="v0.14.0 matches vLLM 0.14.0, PyPI has 0.30.0; deps per fact 3 (vllm deliberately absent)",
    ),
    "qwen-tts": Package(
        ("0.1.1",),
        ("transformers==4.57.3", "accelerate==1.12.0", "torchaudio"),
        source="fact 4",
    ),
    "flash-attn": Package(("2.8.3.post2",), ("torch", "einops"), source="sdist only on PyPI (fact 5)"),
    "accelerate": Package(("1.12.0",), import_name="accelerate", source="pinned by qwen-tts and vllm-omni"),
    # vllm-omni's own dependencies (fact 3); versions are illustrative.
    "omegaconf": Package(("2.3.0",), import_name="omegaconf"),
    "librosa": Package(("0.11.0",), import_name="librosa"),
    "diffusers": Package(("0.35.2",), import_name="diffusers"),
    "soundfile": Package(("0.13.1",), import_name="soundfile"),
    "onnxruntime": Package(("1.23.2",), import_name="onnxruntime"),
    "sox": Package(("1.5.0",), import_name="sox"),
    "einops": Package(("0.8.1",)),
}

# The symbol each missing vllm-omni dependency is first imported for (rule "dependencies-skipped").
MISSING_MODULE_SYMBOLS = {"omegaconf": "OmegaConf", "librosa": "load", "diffusers": "DiffusionPipeline"}

# Where a clone of vllm-omni lands on a ref: the version it installs as (fact 2: main is far ahead).
VLLM_OMNI_REPOSITORY = "vllm-project/vllm-omni"
VLLM_OMNI_MAIN_VERSION = "0.30.1.dev0"

# `pip freeze` of vllm/vllm-openai:v0.14.0 as far as the rules care (torch version: the brief's example;
# transformers: within vLLM 0.14's >=4.56,<5, fact 4). Other tags reuse it with their own vllm version.
# torchaudio is absent on purpose: that is the case in which fact 4 holds (an unpinned torchaudio
# requirement installs the newest torchaudio, which needs a newer torch); were it present, pip would
# leave it alone and keep torch.
IMAGE_PACKAGES: dict[str, str] = {
    "aiohttp": "3.13.2",
    "einops": "0.8.1",
    "fastapi": "0.121.1",
    "numpy": "2.2.6",
    "pydantic": "2.12.4",
    "safetensors": "0.6.2",
    "tokenizers": "0.22.1",
    "torch": "2.9.0",
    "torchvision": "0.24.0",
    "transformers": "4.57.3",
    "triton": "3.5.0",
    "uvicorn": "0.38.0",
    "vllm": "0.14.0",
}

# Extra packages in a vllm/vllm-omni image: vllm-omni itself (at the tag's version) and its deps.
OMNI_IMAGE_EXTRA_PACKAGES: dict[str, str] = {
    "accelerate": "1.12.0",
    "diffusers": "0.35.2",
    "librosa": "0.11.0",
    "omegaconf": "2.3.0",
    "onnxruntime": "1.23.2",
    "soundfile": "0.13.1",
    "sox": "1.5.0",
}

# The image's ENTRYPOINT, used when the pod gives args but no command (vLLM's Dockerfile).
IMAGE_ENTRYPOINT = ("vllm", "serve")
VLLM_IMAGE_REPOSITORIES = ("vllm/vllm-openai", "vllm/vllm-omni")
OMNI_IMAGE_REPOSITORY = "vllm/vllm-omni"
DEFAULT_SERVE_PORT = 8000  # vllm serve --port default

# ---------------------------------------------------------------------------------------------
# Speech API data
# ---------------------------------------------------------------------------------------------

# Qwen3-TTS-12Hz CustomVoice speakers. Source: the task brief's list, which matches the model card of
# Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice; BRIEF.md fact 6 itself names only the default, "vivian".
VOICES: tuple[str, ...] = (
    "vivian",
    "serena",
    "uncle_fu",
    "dylan",
    "eric",
    "ryan",
    "aiden",
    "ono_anna",
    "sohee",
)
DEFAULT_VOICE = "vivian"  # fact 6
RESPONSE_FORMATS = ("wav", "mp3", "flac", "pcm", "aac")  # accepted by the API (fact 6)
SYNTHESISED_FORMATS = ("wav", "pcm")  # what the sandbox can actually encode without codecs

SAMPLE_RATE = 24_000  # Qwen3-TTS 12Hz tokenizer decodes to 24 kHz mono
SECONDS_PER_CJK_CHAR = 0.25  # ~4 syllables per second of Mandarin speech
SECONDS_PER_OTHER_CHAR = 0.07  # ~14 letters per second of English speech
MIN_AUDIO_SECONDS = 0.5
MAX_INPUT_CHARS = 4096  # OpenAI's limit for /v1/audio/speech input
