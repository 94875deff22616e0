"""What a vLLM container does, as data: outcome rules, log texts, timings, and their citations.

Every row cites the facts of ``docs/facts.yml`` it rests on (fact ids); ``SANDBOX_CITATIONS`` maps each
sandbox rule and named table to them. The mechanism that evaluates the rows is
``sandbox/runtimes/vllm.py``; images and downloads are in ``vllm_images.py``, the package index in
``vllm_packages.py``. Rows are checked in order at their stage and the first that applies decides
(a row with ``exit_code=None`` before ``serving`` only prints and lets the next stage run).

Stages of a ``pip install`` (a bootstrap step):

1. ``pip-find``      finding distributions (``--only-binary`` and an sdist-only project)
2. ``pip-resolve``   resolving requirements against constraints (ResolutionImpossible)
3. ``pip-metadata``  preparing an sdist's metadata (flash-attn under build isolation)
4. ``pip-build``     building an sdist into a wheel (flash-attn from source)

Stages of ``vllm serve``:

5. ``cli``          argument parsing (before any model work)
6. ``omni-import``  with ``--omni``, importing vllm-omni (its version and its dependencies)
7. ``config``       resolving the model's config through transformers (the user's error lives here)
8. ``omni-stage``   vllm-omni setting up its stages (what the stage config overrides)
9. ``engine``       starting the engine, which loads vLLM's compiled kernels (``vllm/_C.abi3.so``)
10. ``serving``     loading the weights, then answering HTTP

What a GOOD bootstrap looks like on ``vllm/vllm-openai:v0.14.0`` (and reaches ``serving``):
- fetch vllm-omni 0.14.0's source without git (image-no-git): the PyPI sdist checked by sha256, or
  GitHub's tag archive, with curl and tar (omni-sdist-on-pypi); never the default branch
  (omni-main-ahead);
- install it WITH its dependencies (omni-dependencies) under a constraints file that holds the image's
  torch stack and pins every floating range (unpinned-floats, omni-install-resolves);
- leave flash-attn out, or tolerate its failure: it cannot build under build isolation
  (flash-attn-build-isolation), has no wheel (flash-attn-only-binary), and a source build takes hours
  (flash-attn-no-build-isolation); serving does not need it (flash-attn-optional);
- serve with ``--omni`` so vllm-omni takes over ``vllm serve`` (omni-cli-handover); the engine flags
  then do not reach the Qwen3-TTS stage (omni-stage-config).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sandbox.runtimes import vllm_images, vllm_packages

# ---------------------------------------------------------------------------------------------
# What the rules look at
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Situation:
    """Facts about one container at the moment a rule is checked (built by the runtime)."""

    image_vllm_version: str = ""
    qwen3_tts_model: bool = False  # the served model's path or name contains "Qwen3-TTS"
    omni_flag: bool = False  # `--omni` on the `vllm serve` command line
    omni_version: str | None = None  # installed vllm-omni version (None: not installed)
    omni_matches_vllm: bool = False  # same major.minor as the image's vLLM (v0.14.0 <-> vLLM 0.14.0)
    missing_omni_modules: tuple[str, ...] = ()  # vllm-omni dependencies absent from site-packages
    torch_replaced: bool = False  # torch is no longer the image's build
    stage_configs_path: bool = False  # `--stage-configs-path` given
    engine_flags: tuple[str, ...] = ()  # engine flags on the command line that a stage config overrides
    # pip stages
    pip_package: str = ""  # the project being found, prepared or built
    only_binary: bool = False  # --only-binary covers it
    sdist_only: bool = False  # the index has no wheel of it
    build_isolation: bool = True  # pip's default; off with --no-build-isolation
    build_failure_fault: bool = False  # fault `flash-attn-build-failure` is active
    conflict: str = ""  # pip's ResolutionImpossible report, when resolution failed

    @property
    def omni_active(self) -> bool:
        """vllm-omni takes over `vllm serve` only when installed AND `--omni` is given (omni-cli-handover)."""
        return self.omni_flag and self.omni_version is not None


@dataclass(frozen=True)
class Rule:
    name: str
    facts: tuple[str, ...]  # ids in docs/facts.yml
    stage: str
    when: str  # the condition in words (shown in docs and test names)
    applies: Callable[[Situation], bool]
    log: tuple[str, ...]  # lines printed, formatted with the runtime's details ({model}, {ts}, ...)
    exit_code: int | None  # None: not a failure (the container or the pip command goes on)
    timing: str = ""  # a TIMINGS key: how long the step runs before the log is printed


@dataclass(frozen=True)
class Table:
    """A named data table (not a rule) and the facts it rests on."""

    name: str
    facts: tuple[str, ...]
    where: str


# ---------------------------------------------------------------------------------------------
# Log text shared by several rows
# ---------------------------------------------------------------------------------------------

# transformers' own wording (fact transformers-no-qwen3-tts).
ARCHITECTURE_ERROR = (
    "ValueError: The checkpoint you are trying to load has model type `qwen3_tts` but Transformers does "
    "not recognize this architecture. This could be because of an issue with the checkpoint, or because "
    "your version of Transformers is out of date."
)

SITE_PACKAGES = "/usr/local/lib/python3.12/dist-packages"
_SITE = SITE_PACKAGES

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
    "INFO {ts} [core.py:93] Initializing a V1 LLM engine (v{vllm_version}) with config: model='{model}', "
    "dtype={dtype}, max_seq_len={max_model_len}"
)

# Printed once the CLI has parsed its arguments (and vllm-omni imported), before the config is read.
SERVE_BANNER = (
    "INFO {ts} [api_server.py:1839] vLLM API server version {vllm_version}",
    "INFO {ts} [utils.py:253] non-default args: {non_default_args}",
)

# pip under build isolation, from "Getting requirements to build wheel" on: the lines of
# incident-pip-install-U-transformers-flash-attn.log (its anonymised /venv is the image's site-packages).
_PIP_HOOKS = f"{_SITE}/pip/_vendor/pyproject_hooks/_in_process/_in_process.py"
_BUILD_META = "/tmp/pip-build-env/overlay/lib/python3.12/site-packages/setuptools/build_meta.py"
FLASH_ATTN_BUILD_ISOLATION_LOG = (
    "  Getting requirements to build wheel: finished with status 'error'",
    "  error: subprocess-exited-with-error",
    "  ",
    "  \u00d7 Getting requirements to build wheel did not run successfully.",
    "  │ exit code: 1",
    "  ╰─> [21 lines of output]",
    "      Traceback (most recent call last):",
    f'        File "{_PIP_HOOKS}", line 406, in <module>',
    "          main()",
    f'        File "{_PIP_HOOKS}", line 381, in main',
    '          json_out["return_val"] = hook(**hook_input["kwargs"])',
    "                                   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    f'        File "{_PIP_HOOKS}", line 149, in get_requires_for_build_wheel',
    "          return hook(config_settings)",
    "                 ^^^^^^^^^^^^^^^^^^^^^",
    f'        File "{_BUILD_META}", line 333, in get_requires_for_build_wheel',
    "          return self._get_build_requires(config_settings, requirements=[])",
    "                 ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    f'        File "{_BUILD_META}", line 301, in _get_build_requires',
    "          self.run_setup()",
    f'        File "{_BUILD_META}", line 520, in run_setup',
    "          super().run_setup(setup_script=setup_script)",
    f'        File "{_BUILD_META}", line 317, in run_setup',
    "          exec(code, locals())  # noqa: S102 # exec is intentional here",
    "          ^^^^^^^^^^^^^^^^^^^^",
    '        File "<string>", line 22, in <module>',
    "      ModuleNotFoundError: No module named 'torch'",
    "      [end of output]",
    "  ",
    "  note: This error originates from a subprocess, and is likely not a problem with pip.",
    "ERROR: Failed to build 'flash-attn' when getting requirements to build wheel",
)

# flash-attn's setup.py (CachedWheelsCommand) before compiling, unless FLASH_ATTENTION_FORCE_BUILD=TRUE:
# it guesses the release wheel for this torch/CUDA/Python and downloads it. Whether that wheel exists is
# unclear (fact flash-attn-no-build-isolation); the sandbox treats it as not found. pip shows a build's
# output only with -v or when the build fails.
FLASH_ATTN_WHEEL_URL = (
    "https://github.com/Dao-AILab/flash-attention/releases/download/v2.8.3.post2/"
    "flash_attn-2.8.3.post2+cu12torch2.9cxx11abiTRUE-cp312-cp312-linux_x86_64.whl"
)
FLASH_ATTN_WHEEL_GUESS = (
    f"Guessing wheel URL:  {FLASH_ATTN_WHEEL_URL}",
    "Precompiled wheel not found. Building from source...",
)

# ---------------------------------------------------------------------------------------------
# The rules table
# ---------------------------------------------------------------------------------------------

RULES: tuple[Rule, ...] = (
    Rule(
        name="flash-attn-only-binary",
        facts=("flash-attn-only-binary",),
        stage="pip-find",
        when="--only-binary covers a project PyPI has only as an sdist (flash-attn)",
        applies=lambda s: s.only_binary and s.sdist_only,
        log=(
            "ERROR: Could not find a version that satisfies the requirement {package} (from versions: none)",
            "ERROR: No matching distribution found for {package}",
        ),
        exit_code=1,
    ),
    Rule(
        name="resolution-impossible",
        facts=("pip-resolution-impossible",),
        stage="pip-resolve",
        when="the constraints or pins contradict a requirement (e.g. qwen-tts's transformers==4.57.3)",
        applies=lambda s: bool(s.conflict),
        log=("{conflict}",),
        exit_code=1,
    ),
    Rule(
        name="flash-attn-build-isolation",
        facts=("flash-attn-build-isolation",),
        stage="pip-metadata",
        when="flash-attn's sdist prepared under build isolation (setup.py imports torch, absent there)",
        applies=lambda s: s.pip_package == "flash-attn" and s.build_isolation,
        log=FLASH_ATTN_BUILD_ISOLATION_LOG,
        exit_code=1,
        timing="flash-attn-build-isolation",
    ),
    Rule(
        name="flash-attn-build-failure",
        facts=("flash-attn-no-build-isolation",),
        stage="pip-build",
        when="flash-attn compiled from source (--no-build-isolation) with fault flash-attn-build-failure on",
        applies=lambda s: s.pip_package == "flash-attn" and s.build_failure_fault,
        log=(
            "  Building wheel for flash-attn (pyproject.toml): finished with status 'error'",
            "  error: subprocess-exited-with-error",
            "  ",
            "  \u00d7 Building wheel for flash-attn (pyproject.toml) did not run successfully.",
            "  │ exit code: 1",
            "  ╰─> [output]",
            "      torch.__version__  = {torch_version}",
            "      running bdist_wheel",
            "{wheel_guess}",
            "      running build_ext",
            "      building 'flash_attn_2_cuda' extension",
            # The compiler failure is illustrative (a cicc killed for memory is the common case).
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
        timing="flash-attn-build-failure-after",
    ),
    Rule(
        name="flash-attn-source-build",
        facts=("flash-attn-no-build-isolation",),
        stage="pip-build",
        when="flash-attn compiled from source (--no-build-isolation): the release wheel is not found",
        applies=lambda s: s.pip_package == "flash-attn",
        log=(
            "  Building wheel for flash-attn (pyproject.toml): finished with status 'done'",
            "  Created wheel for flash-attn: filename=flash_attn-{version}-cp312-cp312-linux_x86_64.whl",
        ),
        exit_code=None,
        timing="flash-attn-source-build",
    ),
    Rule(
        # vLLM's argument parser rejects options it does not know: `--omni` without vllm-omni installed
        # stops at argument parsing rather than at the config.
        name="omni-flag-without-vllm-omni",
        facts=("omni-cli-handover",),
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
        facts=("omni-main-ahead",),
        stage="omni-import",
        when="vllm-omni (the default branch, or another release) does not fit the image's vLLM",
        applies=lambda s: s.omni_active and not s.omni_matches_vllm,
        log=(
            *_CLI_FRAMES,
            f'  File "{_SITE}/vllm_omni/entrypoints/cli/main.py", line 21, in main',
            "    from vllm_omni.entrypoints.cli.serve import OmniServeSubcommand",
            '  File "{omni_source}/vllm_omni/entrypoints/cli/serve.py", line 14, in <module>',
            "    from vllm.config import RendererConfig",
            # The symbol is a stand-in: which one is missing depends on the commit of vllm-omni.
            "ImportError: cannot import name 'RendererConfig' from 'vllm.config' "
            f"({_SITE}/vllm/config/__init__.py)",
        ),
        exit_code=1,
    ),
    Rule(
        name="vllm-omni-dependencies-skipped",
        facts=("omni-dependencies",),
        stage="omni-import",
        when="vllm-omni installed with --no-deps and the image lacks some of its dependencies",
        applies=lambda s: s.omni_active and bool(s.missing_omni_modules),
        log=(
            *_CLI_FRAMES,
            f'  File "{_SITE}/vllm_omni/entrypoints/cli/main.py", line 21, in main',
            "    from vllm_omni.entrypoints.cli.serve import OmniServeSubcommand",
            '  File "{omni_source}/vllm_omni/config/stage_config.py", line 9, in <module>',
            "    from {missing_module} import {missing_module_symbol}",
            "ModuleNotFoundError: No module named '{missing_module}'",
        ),
        exit_code=1,
    ),
    Rule(
        # Also on vllm/vllm-omni:v0.14.0rc1, whose vllm-omni supports qwen3_tts (rc1-supports-qwen3-tts):
        # its `vllm` script hands over to plain vLLM when `--omni` is missing.
        name="qwen3-tts-without-omni",
        facts=("omni-cli-handover", "transformers-no-qwen3-tts"),
        stage="config",
        when="a Qwen3-TTS model served by plain vLLM (vllm-omni not installed, or no `--omni`)",
        applies=lambda s: s.qwen3_tts_model and not s.omni_active,
        log=_CONFIG_TRACEBACK,
        exit_code=1,
    ),
    Rule(
        name="stage-config-flags",
        facts=("omni-stage-config",),
        stage="omni-stage",
        when="Qwen3-TTS under --omni with engine flags and no --stage-configs-path: the stage config wins",
        applies=lambda s: (
            s.omni_active and s.qwen3_tts_model and bool(s.engine_flags) and not s.stage_configs_path
        ),
        # The wording is the sandbox's illustration of what omni.py does (lines 198-215), not a quote.
        log=(
            "WARNING {ts} [omni.py:205] Engine arguments {engine_flags} are not applied to the Qwen3-TTS "
            "stage: it runs stage_configs/qwen3_tts.yaml (max_batch_size: 1, gpu_memory_utilization: 0.1, "
            "enforce_eager: true) and loads the model in bfloat16; pass --stage-configs-path to change them",
        ),
        exit_code=None,
    ),
    Rule(
        name="torch-replaced",
        facts=("torch-abi",),
        stage="engine",
        when="torch is no longer the image's build (an explicit torch install or upgrade)",
        applies=lambda s: s.torch_replaced,
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
        # Without flash-attn, Qwen3-TTS uses transformers' default attention: serving does not need it.
        name="serving",
        facts=("omni-serve-example", "flash-attn-optional", "serving-api"),
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

# The engine flags that do not reach the Qwen3-TTS stage under --omni (fact omni-stage-config).
STAGE_CONFIG_ENGINE_FLAGS = (
    "--dtype",
    "--gpu-memory-utilization",
    "--max-num-seqs",
    "--max-model-len",
    "--tensor-parallel-size",
)
STAGE_DTYPE = "torch.bfloat16"  # hard-coded in qwen3_tts.py (fact omni-stage-config)

# Printed when the engine starts loading weights (the listener answers 503 from here on, serving-api).
MODEL_LOAD_START_LOG = (
    _ENGINE_INIT,
    "INFO {ts} [gpu_model_runner.py:2602] Starting to load model {model}...",
)

# Extra routes announced when vllm-omni serves a speech model (serving-api).
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
# pip's VCS support runs git; without it (image-no-git) a git+ requirement stops here
# (tests/fixtures/upstream/pip-git-url-without-git.log).
PIP_NO_GIT_DETAIL = (
    "  ERROR: Error [Errno 2] No such file or directory: 'git' while executing command git version"
)
PIP_NO_GIT = "ERROR: Cannot find command 'git' - do you have 'git' installed and in your PATH?"


def rules_for(stage: str) -> tuple[Rule, ...]:
    return tuple(rule for rule in RULES if rule.stage == stage)


def first_rule(stage: str, situation: Situation) -> Rule | None:
    return next((rule for rule in rules_for(stage) if rule.applies(situation)), None)


# ---------------------------------------------------------------------------------------------
# Timings (simulated seconds)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    seconds: float
    source: str


# Every pod start repeats all of these (startup-per-pod-start): a bootstrap longer than the startupProbe's
# budget never serves.
TIMINGS: dict[str, Timing] = {
    "curl-download": Timing(3, "a few MB from PyPI or GitHub (estimate)"),
    "tar-extract": Timing(1, "unpacking a source tarball (estimate)"),
    "pip-freeze": Timing(1, "pip freeze only reads installed metadata"),
    "pip-resolve": Timing(3, "pip's index look-ups and resolution before any download (estimate)"),
    "pip-package": Timing(4, "download + unpack of an ordinary wheel (estimate)"),
    "pip-vllm-omni": Timing(
        60, "vllm-omni with its 47 new packages (gradio, onnxruntime, scipy, ...; estimate)"
    ),
    "pip-vllm-omni-no-deps": Timing(8, "editable build of vllm-omni alone, no dependencies (estimate)"),
    "pip-torch": Timing(120, "a CUDA torch wheel is ~1 GB plus its nvidia-* wheels (estimate)"),
    "flash-attn-build-isolation": Timing(
        25, "fact flash-attn-build-isolation: the real run failed about 25 s in"
    ),
    "flash-attn-wheel": Timing(20, "a prebuilt flash-attn wheel (find-links / URL): download only"),
    "flash-attn-source-build": Timing(
        3 * 3600, "fact flash-attn-no-build-isolation: 'a multi-hour source build' upstream; 3 h (estimate)"
    ),
    "flash-attn-build-failure-after": Timing(
        300, "fault flash-attn-build-failure: nvcc stops at its first error, minutes in (estimate)"
    ),
    "vllm-cli-start": Timing(8, "python imports of vllm (+ vllm-omni) before argument handling (estimate)"),
    "config-resolve": Timing(2, "reading config.json through transformers.AutoConfig"),
    "engine-start": Timing(10, "engine core process start, CUDA init, kernel import (estimate)"),
    "model-load": Timing(90, "1.7B weights + warm-up on a 16 GB GPU (estimate)"),
}


def seconds(step: str) -> float:
    return TIMINGS[step].seconds


# The wait before a `vllm serve` stage's rules are checked.
STAGE_TIMINGS = {"config": "config-resolve", "engine": "engine-start"}

# ---------------------------------------------------------------------------------------------
# Images, packages, downloads: re-exported for the mechanism, cited below
# ---------------------------------------------------------------------------------------------

PACKAGE_INDEX = vllm_packages.PACKAGE_INDEX
INSTALLED_REQUIREMENTS = vllm_packages.INSTALLED_REQUIREMENTS
MISSING_MODULE_SYMBOLS = vllm_packages.MISSING_MODULE_SYMBOLS
IMAGES = vllm_images.IMAGES
DOWNLOADS = vllm_images.DOWNLOADS
DEFAULT_SERVE_PORT = 8000  # vllm serve --port default

TABLES: tuple[Table, ...] = (
    Table("command-not-found", ("image-no-git",), "shell.py's not-found messages, the images' commands"),
    Table("installed-requirements", vllm_packages.INSTALLED_REQUIREMENTS_FACTS, "vllm_packages.py"),
    Table("package-index", vllm_packages.PACKAGE_INDEX_FACTS, "vllm_packages.py"),
    Table(
        "download-table",
        tuple(dict.fromkeys(fact for download in vllm_images.DOWNLOADS for fact in download.facts)),
        "vllm_images.DOWNLOADS",
    ),
    Table("bootstrap-timings", ("startup-per-pod-start",), "TIMINGS above"),
)

# sandbox rule or table name -> the fact ids it rests on (checked against docs/facts.yml's used_by).
SANDBOX_CITATIONS: dict[str, tuple[str, ...]] = {row.name: row.facts for row in (*IMAGES, *TABLES, *RULES)}

# ---------------------------------------------------------------------------------------------
# Speech API data
# ---------------------------------------------------------------------------------------------

# Qwen3-TTS-12Hz CustomVoice speakers. Source: the model card of
# Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice; the API names only the default, "vivian" (serving-api).
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
DEFAULT_VOICE = "vivian"  # serving-api
RESPONSE_FORMATS = ("wav", "mp3", "flac", "pcm", "aac")  # accepted by the API (serving-api)
SYNTHESISED_FORMATS = ("wav", "pcm")  # what the sandbox can actually encode without codecs

SAMPLE_RATE = 24_000  # Qwen3-TTS 12Hz tokenizer decodes to 24 kHz mono
SECONDS_PER_CJK_CHAR = 0.25  # ~4 syllables per second of Mandarin speech
SECONDS_PER_OTHER_CHAR = 0.07  # ~14 letters per second of English speech
MIN_AUDIO_SECONDS = 0.5
MAX_INPUT_CHARS = 4096  # OpenAI's limit for /v1/audio/speech input
