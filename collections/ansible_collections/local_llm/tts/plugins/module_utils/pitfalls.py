"""Known ways a `tts` values block breaks the Qwen3-TTS pod (docs/facts.yml).

`RULES` is the data: one entry per pitfall, with the ids of the facts in docs/facts.yml that back
it, what goes wrong and how to fix it. The functions below only find where a rule applies. Rule
ids are a public contract (preflight, rollback and `lint` report them): keep them stable.

The bootstrap is read with a small shell-ish splitter (shlex per logical line, `&&`, `||`, `;`,
`|`, comments, `set -e`, here-documents), not a shell interpreter: it recognises the commands the
plan and the facts talk about (pip install, git, curl) and their options, and follows the files the
script writes with `cat > f <<EOF`, `tee f <<EOF` and `echo ... >> f`, so that the exact pins of a
constraints file are known where it is used.

Decisions worth knowing:
* engine-flags-ignored-under-omni applies to a Qwen3-TTS model with or without `--omni`: without
  it (the plan's literal block) missing-omni's fix is to add `--omni`, and then the flags no longer
  reach the Qwen3-TTS stage (fact omni-stage-config). Both findings are reported.
* bf16-pre-ampere needs the GPU products of the nodes the block may land on (``gpu_products``);
  without them (`lint`, no cluster) the rule is silent. ``selected_gpu_products`` picks them from
  node objects by the block's nodeSelector and required node affinity.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ansible_collections.local_llm.tts.plugins.module_utils.values_block import (
    ValuesError,
    load_document,
    to_plain,
)

Severity = Literal["error", "warning"]
SEVERITY_RANK = {"warning": 1, "error": 2}

__all__ = [
    "GPU_PRODUCT_LABEL",
    "RULES",
    "SEVERITY_RANK",
    "Finding",
    "Rule",
    "check_block",
    "check_values_text",
    "selected_gpu_products",
]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: Severity  # the usual severity; a finding may be milder (see no-deps-hides-dependencies)
    facts: tuple[str, ...]  # ids in docs/facts.yml that back the rule
    message: str
    fix: str


@dataclass
class Finding:
    rule_id: str
    severity: Severity
    message: str
    fix: str
    path: str  # where in the values: "tts.image.tag", "tts.bootstrap", ...
    line: int | None = None  # 1-based line in the values file, when known

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RULES: dict[str, Rule] = {
    rule.rule_id: rule
    for rule in (
        Rule(
            "prerelease-image",
            "error",
            ("plan-stable-image",),
            "the plan requires the stable image vllm/vllm-openai:v0.14.0 and forbids the vllm-omni "
            "pre-release image (and rc/alpha/beta/dev tags); this is the plan's requirement, not by "
            "itself a cause of the crash",
            'use image repository "vllm/vllm-openai" with the stable tag "v0.14.0"',
        ),
        Rule(
            "transformers-upgrade",
            "error",
            ("vllm-requires-transformers-4",),
            "the bootstrap lets pip install transformers 5.x (an unpinned install picks 5.x today), "
            "which vLLM 0.14.0 does not support (it needs transformers >=4.56,<5)",
            "do not install or upgrade transformers yourself (qwen-tts==0.1.1 brings "
            'transformers==4.57.3); pin it in the constraints file ("transformers==4.57.3", at least "<5")',
        ),
        Rule(
            "unpinned-vllm-omni-clone",
            "error",
            ("omni-main-ahead",),
            "vllm-omni is installed from source that is not pinned to v0.14.0: its default branch "
            "targets a much newer vLLM than the image's 0.14.0",
            "fetch the v0.14.0 release: the PyPI sdist vllm_omni-0.14.0.tar.gz (check its sha256) or "
            "https://github.com/vllm-project/vllm-omni/archive/refs/tags/v0.14.0.tar.gz, with curl, "
            "unpacked with tar (or pip install vllm-omni==0.14.0)",
        ),
        Rule(
            "missing-omni",
            "error",
            ("omni-cli-handover",),
            "a Qwen3-TTS model is served without --omni: vllm-omni's `vllm` command hands over to plain "
            "vLLM, which does not know qwen3_tts and fails with the user's transformers error",
            'add "--omni" as the first entry of extraArgs',
        ),
        Rule(
            "no-deps-hides-dependencies",
            "error",
            ("omni-dependencies",),
            "pip install --no-deps with a fallback or hidden errors: the first command succeeds, "
            "so vllm-omni's own dependencies are silently skipped",
            "install without --no-deps (under the constraints file) and without 2>/dev/null",
        ),
        Rule(
            "port-mismatch",
            "error",
            ("chart-entrypoint",),
            "extraArgs set a --port different from service.port: the Service and probes miss the server",
            "remove --port from extraArgs (the chart passes --port <service.port>) or make them equal",
        ),
        Rule(
            "git-not-in-image",
            "error",
            ("image-no-git",),
            "the image has no git: the bootstrap's git command fails with `bash: git: command not "
            "found` (exit 127), and pip cannot fetch git+ URLs",
            "fetch the source without git: curl -fsSL the PyPI sdist (vllm_omni-0.14.0.tar.gz) or the "
            "GitHub tag archive (.../archive/refs/tags/v0.14.0.tar.gz), check its sha256 with "
            "sha256sum -c, and unpack it with tar",
        ),
        Rule(
            "floating-install",
            "warning",
            ("unpinned-floats", "omni-dependencies", "image-packages"),
            "a pip install without exact pins: whatever is newest on the day of each pod start is "
            "installed, so two pod starts may run different code",
            "write a complete constraints file of exact pins (name==version for every package the "
            "bootstrap installs, vllm-omni's dependencies included; see docs/bootstrap-resolution.txt) "
            "with a here-document and pass it to every pip install with -c",
        ),
        Rule(
            "engine-flags-ignored-under-omni",
            "warning",
            ("omni-stage-config",),
            "engine flags in extraArgs do not reach the Qwen3-TTS stage under --omni: it runs "
            "stage_configs/qwen3_tts.yaml (max_batch_size 1, gpu_memory_utilization 0.1, enforce_eager) "
            "and loads bfloat16 whatever --dtype says",
            "set them in a stage config file passed with --stage-configs-path, or drop them; the shipped "
            "block keeps them because they are the user's",
        ),
        Rule(
            "flash-attn-source-build",
            "error",
            ("flash-attn-no-build-isolation",),
            "flash-attn with --no-build-isolation (or FLASH_ATTENTION_FORCE_BUILD): when no prebuilt "
            "wheel is found its setup.py compiles from source, a multi-hour build longer than the "
            "startupProbe allows, at every pod start",
            "install it from binaries only and tolerate failure: pip install --only-binary=:all: flash-attn "
            '|| echo "flash-attn skipped"; or leave build isolation on (it fails fast) and tolerate it',
        ),
        Rule(
            "flash-attn-hard-dependency",
            "error",
            ("flash-attn-build-isolation", "flash-attn-optional", "flash-attn-only-binary"),
            "flash-attn is optional (without it Qwen3-TTS uses transformers' default attention) but "
            "always fails to install here (no wheel on PyPI; the sdist's setup.py imports torch): its "
            "failure must neither stop the bootstrap nor share a pip command with other packages, "
            "whose install it aborts (the incident installed nothing)",
            "install flash-attn in its own pip command and tolerate failure: pip install "
            '--only-binary=:all: flash-attn || echo "flash-attn skipped"',
        ),
        Rule(
            "bf16-pre-ampere",
            "warning",
            ("bf16-pre-ampere",),
            "the block may be scheduled on pre-Ampere GPUs (compute capability < 8.0): the Qwen3-TTS "
            "stage loads bfloat16 whatever --dtype says, and whether bf16 runs acceptably on these "
            "GPUs is unclear",
            "schedule on Ampere or newer nodes (e.g. the memorysize label of the A10/A100 nodes in "
            "tts.affinity), or test on the T4 first",
        ),
    )
}

# Commands the chart's container runs the bootstrap with (`bash -e -c`): errexit is on.
CHART_ERREXIT = True
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"

_PRERELEASE_TAG = re.compile(r"(?i)(?:^|[\d._+-])(rc|alpha|beta|dev|pre|nightly)(?:[\d._+-]|$)")
_PRERELEASE_REPOSITORIES = ("vllm/vllm-omni",)
_IMAGES_WITHOUT_GIT = ("vllm/vllm-openai", "vllm/vllm-omni")
_REGISTRY_PREFIXES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/")
_SEPARATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")", "|&"}
_REDIRECTS = {">", ">>", ">|", "<", "<>", ">&", "&>", "&>>", "<&", "<<", "<<<"}
_OUTPUT_REDIRECTS = {">", ">>", ">|", "1>", "1>>", "1>|"}
_KEYWORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "time"}
_PIP_OPTIONS_WITH_VALUE = {
    "-c", "--constraint", "-r", "--requirement", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "--only-binary", "--no-binary", "-t", "--target",
    "--prefix", "--root", "--platform", "--python-version", "--implementation", "--abi", "--src",
    "--progress-bar", "--log", "--cache-dir", "--trusted-host", "--config-settings", "-C",
    "--global-option", "--timeout", "--retries", "--proxy", "--upgrade-strategy", "--report",
}  # fmt: skip
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
_ARCHIVE = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.+!-]*?)(?:\.tar\.gz|\.tar\.bz2|\.tgz|\.zip)?$")
_GITHUB_ARCHIVE = re.compile(r"github\.com/[^/]+/(?P<repo>[^/]+)/(?:archive|tarball|zipball)/(?P<ref>.+)$")

# The vllm-omni release that matches the stable image's vLLM 0.14.0 (fact omni-main-ahead).
OMNI_RELEASE = "0.14.0"
# vllm-omni 0.14.0's pyproject.toml dependencies (fact omni-dependencies): name -> its own specifier.
OMNI_DEPENDENCIES = {
    "omegaconf": ">=2.3.0",
    "librosa": ">=0.11.0",
    "resampy": ">=0.4.3",
    "diffusers": ">=0.36.0",
    "accelerate": "==1.12.0",
    "gradio": "==5.50",
    "soundfile": ">=0.13.1",
    "cache-dit": "==1.2.0",
    "tqdm": ">=4.66.0",
    "torchsde": ">=0.2.6",
    "fa3-fwd": "==0.0.1",
    "openai-whisper": ">=20250625",
    "imageio": ">=2.37.2",
    "onnxruntime": ">=1.19.0",
    "sox": ">=1.5.0",
}
# Packages of vllm/vllm-openai:v0.14.0 (pip freeze: tests/fixtures/upstream/vllm-openai-v0.14.0-freeze.txt)
# that already satisfy vllm-omni's ranges: pip keeps them ("Requirement already satisfied"), unless an
# eager upgrade strategy or --force-reinstall replaces them, so they do not float.
IMAGE_PACKAGES = {("vllm/vllm-openai", "v0.14.0"): {"tqdm": "4.67.1"}}
# Engine flags the Qwen3-TTS stage does not see under --omni (fact omni-stage-config).
ENGINE_FLAGS = (
    "--dtype",
    "--gpu-memory-utilization",
    "--max-num-seqs",
    "--max-model-len",
    "--tensor-parallel-size",
)
# GPUs of compute capability < 8.0, as the GPU feature discovery labels them (nvidia.com/gpu.product,
# e.g. "Tesla-T4", "Tesla-V100-SXM2-16GB", "Quadro-RTX-6000"). Matched on the upper-cased label with
# "-" separators; Ampere's "RTX-A6000" and "A10"/"A100"/"L4"/"H100" match none of them.
PRE_AMPERE_GPUS = (
    r"TESLA-(T4|V100|P100|P40|P6|P4|K80|K40|K20|K10|M60|M40|M10|M6|M4)\b",
    r"(^|-)T4(-|$)",
    r"(^|-)(V100|P100|P40|K80)(-|$)",
    r"QUADRO-(RTX-\d{4}|GV100|GP100|P\d+|T\d+|M\d+|K\d+)\b",
    r"GEFORCE-(RTX-20\d\d|GTX)",
    r"TITAN-(V|RTX|XP|X)\b",
    r"(^|-)T(400|600|1000|1200|2000)(-|$)",
)


# ---------------------------------------------------------------------------- the bootstrap


@dataclass
class Command:
    """One simple command of the bootstrap script."""

    words: list[str]
    line: int  # 0-based line in the script where its logical line starts
    env: dict[str, str] = field(default_factory=dict)  # VAR=value prefixes
    next_op: str | None = None  # operator after it: "&&", "||", ";", "|", None
    errexit: bool = CHART_ERREXIT  # whether `set -e` is in force here
    redirects: list[tuple[str, str]] = field(default_factory=list)  # (operator, target)
    heredoc: str | None = None  # the body of its here-document (`<<EOF ... EOF`), if any

    @property
    def tolerated(self) -> bool:
        """A failure does not stop the script: `cmd || fallback`, or errexit is off."""
        return self.next_op == "||" or not self.errexit

    @property
    def hides_errors(self) -> bool:
        return any(op in ("2>", "&>") and target == "/dev/null" for op, target in self.redirects)

    @property
    def program(self) -> str:
        return self.words[0].rsplit("/", 1)[-1] if self.words else ""


def split_commands(script: str, errexit: bool = CHART_ERREXIT) -> list[Command]:
    """Split a bootstrap into simple commands, tracking `set -e` / `set +e` in order.

    Here-document bodies are not commands: they are attached to the command that reads them.
    """
    commands: list[Command] = []
    lines = script.split("\n")
    index = 0
    while index < len(lines):
        start, text = index, ""
        while True:  # one logical line: backslash continuations joined
            raw = lines[index]
            index += 1
            if raw.endswith("\\") and not raw.endswith("\\\\") and index < len(lines):
                text += raw[:-1] + " "
                continue
            text += raw
            break
        for command in _commands_of(_tokens(text), start):
            for op, delimiter in command.redirects:
                if op in ("<<", "<<-"):
                    command.heredoc, index = _heredoc(lines, index, delimiter, op == "<<-")
            errexit = _errexit_after(command, errexit)
            command.errexit = errexit
            commands.append(command)
    return commands


def _heredoc(lines: list[str], index: int, delimiter: str, strip_tabs: bool) -> tuple[str, int]:
    """The body from lines[index] up to the delimiter line, and the index after it."""
    body: list[str] = []
    while index < len(lines):
        raw = lines[index].lstrip("\t") if strip_tabs else lines[index]
        index += 1
        if raw.strip() == delimiter:  # YAML may indent the closing word: accept surrounding blanks
            break
        body.append(raw)
    return "\n".join(body), index


def _tokens(text: str) -> list[str]:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: fall back to words, still useful for matching
        return text.split("#", 1)[0].split()


def _commands_of(tokens: list[str], line: int) -> Iterator[Command]:
    words: list[str] = []
    for token in [*tokens, None]:
        if token is None or token in _SEPARATORS:
            if words:
                yield _command(words, line, token)
            words = []
            continue
        words.append(token)


def _command(tokens: list[str], line: int, next_op: str | None) -> Command:
    env: dict[str, str] = {}
    words: list[str] = []
    redirects: list[tuple[str, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in _REDIRECTS:
            fd = words.pop() if words and words[-1] in ("1", "2") and not token.startswith("&") else ""
            target = tokens[index + 1] if index + 1 < len(tokens) else ""
            op = fd + token
            if token == "<<" and target.startswith("-"):  # `<<-EOF` lexes as "<<", "-EOF"
                op, target = "<<-", target[1:]
            redirects.append((op, target))
            index += 2
            continue
        if not words and not env and token in _KEYWORDS:
            index += 1
            continue
        if not words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", token):
            name, value = token.split("=", 1)
            env[name] = value
        else:
            words.append(token)
        index += 1
    return Command(words=words, line=line, env=env, next_op=next_op, redirects=redirects)


def _errexit_after(command: Command, errexit: bool) -> bool:
    words = command.words
    if not words or words[0] != "set":
        return errexit
    for index, word in enumerate(words[1:], start=1):
        if re.fullmatch(r"-[a-zA-Z]*e[a-zA-Z]*", word):
            errexit = True
        elif re.fullmatch(r"\+[a-zA-Z]*e[a-zA-Z]*", word):
            errexit = False
        elif word in ("-o", "+o") and index + 1 < len(words) and words[index + 1] == "errexit":
            errexit = word == "-o"
    return errexit


# ---------------------------------------------------------------------------- files the script writes


@dataclass
class ScriptFile:
    """What the script wrote to a file so far: its lines, and whether that is all of it."""

    lines: list[str] = field(default_factory=list)
    complete: bool = True


def _written_text(command: Command) -> list[str] | None:
    """The lines a command prints to stdout when the script shows them literally, else None."""
    words = command.words
    if command.program in ("cat", "tee") and command.heredoc is not None:
        args = [w for w in words[1:] if not w.startswith("-")]
        if command.program == "cat" and args:
            return None  # cat of other files
        return command.heredoc.split("\n")
    if command.program == "echo":
        args, escapes = words[1:], False
        while args and re.fullmatch(r"-[neE]+", args[0]):
            escapes = escapes or "e" in args[0]
            args = args[1:]
        text = " ".join(args)
        return text.split("\\n") if escapes else [text]
    if command.program == "printf" and len(words) >= 2:
        if words[1] in ("%s\\n", "%s\n"):
            return list(words[2:])
        if len(words) == 2 and "%" not in words[1]:
            return [part for part in words[1].replace("\\n", "\n").split("\n")]
    return None


def _record_writes(command: Command, files: dict[str, ScriptFile]) -> None:
    text = _written_text(command)
    targets = [(op, target) for op, target in command.redirects if op in _OUTPUT_REDIRECTS]
    if command.program == "tee":  # tee FILE... writes stdin to its file arguments too
        append = any(w in ("-a", "--append") for w in command.words[1:])
        targets += [(">>" if append else ">", w) for w in command.words[1:] if not w.startswith("-")]
    for op, target in targets:
        known = ScriptFile(list(text), True) if text is not None else ScriptFile([], False)
        if op.endswith(">>") and target in files:
            previous = files[target]
            files[target] = ScriptFile(previous.lines + known.lines, previous.complete and known.complete)
        elif op.endswith(">>"):
            files[target] = ScriptFile(known.lines, False)  # appended to a file the script did not write
        else:
            files[target] = known


# ---------------------------------------------------------------------------- pip and git


@dataclass
class Requirement:
    name: str  # normalised: lower case, "_" and "." as "-"
    spec: str  # version specifier; "" when unpinned; "wheel" / "url" / "path" for locations
    raw: str

    @property
    def is_prebuilt(self) -> bool:
        return self.raw.endswith(".whl")

    @property
    def is_location(self) -> bool:
        return self.spec in ("wheel", "url", "path")


@dataclass
class Constraints:
    """The constraints in force for one pip install, as far as the script shows them."""

    files: list[str] = field(default_factory=list)
    pins: dict[str, list[str]] = field(default_factory=dict)  # name -> specifiers
    complete: bool = True  # every constraints file's content is known

    def exact(self, name: str) -> bool:
        return any(_is_exact(spec) for spec in self.pins.get(name, []))

    def caps_below_5(self, name: str) -> bool:
        return any(not _allows_version(spec, (5, 0, 0)) for spec in self.pins.get(name, []))


@dataclass
class PipInstall:
    command: Command
    requirements: list[Requirement]
    editables: list[str]
    options: dict[str, list[str]]  # option -> values ("" for flags)
    constraints: Constraints = field(default_factory=Constraints)

    def has(self, *names: str) -> bool:
        return any(name in self.options for name in names)

    def values(self, *names: str) -> list[str]:
        return [value for name in names for value in self.options.get(name, [])]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _location_name(raw: str) -> str:
    """The project name a path, wheel, archive or VCS URL stands for (best effort)."""
    egg = re.search(r"#egg=([\w.-]+)", raw)
    if egg:
        return _normalise(egg.group(1))
    text = raw.removeprefix("git+").split("#", 1)[0]
    github = _GITHUB_ARCHIVE.search(text)
    if github:
        return _normalise(github.group("repo"))
    base = text.rstrip("/").rsplit("/", 1)[-1]
    base = re.sub(r"\.git(@.*)?$", "", base)
    if base.endswith(".whl"):
        return _normalise(base.split("-", 1)[0])
    archive = _ARCHIVE.match(base)
    return _normalise(archive.group("name") if archive else base)


def _parse_requirement(raw: str) -> Requirement:
    if raw.endswith(".whl"):  # a wheel file or URL: name-version-...whl
        return Requirement(_location_name(raw), "wheel", raw)
    if "@" in raw and "://" in raw and not raw.startswith(("git+", "http")):  # name @ url
        return Requirement(_normalise(raw.split("@", 1)[0].strip()), "url", raw)
    if raw.startswith(("git+", "http://", "https://", "file:")):
        return Requirement(_location_name(raw), "url", raw)
    if raw.startswith(("/", ".", "~")):
        return Requirement(_location_name(raw), "path", raw)
    match = _REQUIREMENT.match(raw)
    if not match:
        return Requirement(_normalise(raw), "", raw)
    return Requirement(_normalise(match.group(1)), match.group(3).split(";", 1)[0].strip(), raw)


def _pip_args(words: list[str]) -> list[str] | None:
    """The arguments after `install` when the command is a pip install, else None."""
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    if re.fullmatch(r"pip3?(\.\d+)?", program):
        rest = words[1:]
    elif re.fullmatch(r"python3?(\.\d+)?", program) and words[1:3] == ["-m", "pip"]:
        rest = words[3:]
    elif program == "uv" and words[1:2] == ["pip"]:
        rest = words[2:]
    else:
        return None
    return rest[1:] if rest[:1] == ["install"] else None


def _pip_install(command: Command) -> PipInstall | None:
    args = _pip_args(command.words)
    if args is None:
        return None
    options: dict[str, list[str]] = {}
    requirements: list[Requirement] = []
    editables: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name, value = arg, ""
        if arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
        elif arg[:2] in ("-c", "-r", "-e") and len(arg) > 2 and not arg.startswith("--"):
            name, value = arg[:2], arg[2:]
        elif arg in _PIP_OPTIONS_WITH_VALUE:
            value = args[index + 1] if index + 1 < len(args) else ""
            index += 1
        elif not arg.startswith("-"):
            requirements.append(_parse_requirement(arg))
            index += 1
            continue
        options.setdefault(name, []).append(value)
        if name in ("-e", "--editable"):
            editables.append(value)
            requirements.append(_parse_requirement(value))
        index += 1
    return PipInstall(command, requirements, editables, options)


def _requirement_lines(lines: Iterable[str]) -> Iterator[Requirement]:
    for line in lines:
        text = line.split(" #", 1)[0].strip()
        if text and not text.startswith(("#", "-")):
            yield _parse_requirement(text)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+", 1)[0])[:3]) or (0,)


def _is_exact(spec: str) -> bool:
    """An exact pin: `==V` (no wildcard) or `===V`, or a fixed location (wheel, URL, path)."""
    if spec in ("wheel", "url", "path"):
        return True
    return any(
        re.fullmatch(r"===?\s*[^*\s]+", clause.strip()) for clause in spec.split(",") if clause.strip()
    )


def _allows_version(spec: str, candidate: tuple[int, ...]) -> bool:
    """Whether a PEP 440 specifier admits `candidate` (release numbers only, enough here)."""
    for clause in filter(None, (part.strip() for part in spec.split(","))):
        match = re.match(r"(===|==|!=|~=|>=|<=|>|<)\s*(\S+)", clause)
        if not match:
            continue
        op, text = match.groups()
        version = _version(text)
        width = max(len(version), len(candidate))
        left = candidate + (0,) * (width - len(candidate))
        right = version + (0,) * (width - len(version))
        if op in ("==", "===") and text.endswith(".*"):
            ok = left[: len(version)] == version
        elif op in ("==", "==="):
            ok = left == right
        elif op == "!=":
            ok = left != right
        elif op == "~=":
            ok = left >= right and left[: len(version) - 1] == version[:-1]
        else:
            ok = {">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]
        if not ok:
            return False
    return True


def _constrained(install: PipInstall) -> bool:
    return bool(install.constraints.files)


def _exported(command: Command, exports: dict[str, str]) -> None:
    """Record `export VAR=value` (the variables pip and flash-attn's setup.py read)."""
    if command.words[:1] == ["export"] or command.words[:2] == ["declare", "-x"]:
        for word in command.words[1:]:
            if "=" in word and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
                name, value = word.split("=", 1)
                exports[name] = value


def _resolve_installs(commands: list[Command]) -> tuple[list[PipInstall], dict[str, str]]:
    """The pip installs in order, each with the constraints (and -r files) in force when it runs."""
    files: dict[str, ScriptFile] = {}
    exports: dict[str, str] = {}
    installs: list[PipInstall] = []
    for command in commands:
        install = _pip_install(command)
        if install is not None:
            environment = {**exports, **command.env}
            install.command.env = environment
            paths = install.values("-c", "--constraint") + environment.get("PIP_CONSTRAINT", "").split()
            constraints = Constraints(files=paths)
            for path in paths:
                written = files.get(path)
                if written is None:
                    constraints.complete = False
                    continue
                constraints.complete = constraints.complete and written.complete
                for requirement in _requirement_lines(written.lines):
                    constraints.pins.setdefault(requirement.name, []).append(requirement.spec)
            install.constraints = constraints
            for path in install.values("-r", "--requirement"):
                if path in files:
                    install.requirements += list(_requirement_lines(files[path].lines))
            installs.append(install)
        _exported(command, exports)
        _record_writes(command, files)
    return installs, exports


# ---------------------------------------------------------------------------- the checks


@dataclass(frozen=True)
class _Hit:
    """One place a rule applies, before it becomes a Finding."""

    detail: str  # the offending text, shown in the finding's message
    path: tuple[str, ...] = ("bootstrap",)  # inside the block
    script_line: int | None = None  # 0-based line in the bootstrap script
    severity: Severity | None = None  # milder than the rule's own, when set


@dataclass
class _Context:
    """What the checks look at, pulled out of the block once."""

    repository: str
    tag: str
    bootstrap: str
    commands: list[Command]
    installs: list[PipInstall]
    exports: dict[str, str]
    extra_args: list[str]
    model: str
    service_port: Any
    script_caps_transformers: bool
    placement_path: tuple[str, ...]
    gpu_products: list[str]

    @property
    def is_qwen3_tts(self) -> bool:
        return "qwen3-tts" in self.model.lower()


def _context(block: dict, gpu_products: Iterable[str] | None) -> _Context:
    image = block.get("image") if isinstance(block.get("image"), dict) else {}
    model = block.get("model") if isinstance(block.get("model"), dict) else {}
    service = block.get("service") if isinstance(block.get("service"), dict) else {}
    extra = block.get("extraArgs") if isinstance(block.get("extraArgs"), list) else []
    bootstrap = block.get("bootstrap") if isinstance(block.get("bootstrap"), str) else ""
    commands = split_commands(bootstrap)
    installs, exports = _resolve_installs(commands)
    placement = next((key for key in ("affinity", "nodeSelector") if block.get(key)), None)
    return _Context(
        repository=str(image.get("repository") or ""),
        tag=str(image.get("tag") or ""),
        bootstrap=bootstrap,
        commands=commands,
        installs=installs,
        exports=exports,
        extra_args=[str(arg) for arg in extra],
        model=f"{model.get('name') or ''} {model.get('path') or ''}",
        service_port=service.get("port"),
        script_caps_transformers=bool(re.search(r"transformers\s*(<\s*5|<=\s*4|==\s*4)", bootstrap)),
        placement_path=(placement,) if placement else (),
        gpu_products=[str(product) for product in gpu_products or []],
    )


def _text(command: Command) -> str:
    return " ".join(command.words)


def _repository(ctx: _Context) -> str:
    repository = ctx.repository.lower()
    for prefix in _REGISTRY_PREFIXES:
        repository = repository.removeprefix(prefix)
    return repository


def _prerelease_image(ctx: _Context) -> Iterator[_Hit]:
    if _repository(ctx) in _PRERELEASE_REPOSITORIES:
        yield _Hit(f"repository {ctx.repository}", ("image", "repository"))
    if _PRERELEASE_TAG.search(ctx.tag):
        yield _Hit(f"tag {ctx.tag}", ("image", "tag"))


def _transformers_upgrade(ctx: _Context) -> Iterator[_Hit]:
    for install in ctx.installs:
        for requirement in install.requirements:
            if requirement.name != "transformers" or requirement.is_location:
                continue
            allows_5 = _allows_version(requirement.spec, (5, 0, 0))
            constraints = install.constraints
            held = constraints.caps_below_5("transformers") or (
                _constrained(install) and not constraints.complete and ctx.script_caps_transformers
            )
            if allows_5 and not held:
                how = "upgrades" if install.has("-U", "--upgrade") else "installs"
                pin = requirement.spec or "unpinned"
                detail = f"`{_text(install.command)}` {how} transformers ({pin})"
                yield _Hit(detail, script_line=install.command.line)


def _omni_ref(url: str) -> str | None:
    """The release a vllm-omni download or VCS URL names ("0.14.0"), "" for a branch, None if not a source."""
    text = url.split("#", 1)[0].rstrip("/")
    vcs = re.search(r"\.git@([^/]+)$", text) if text.startswith("git+") else None
    if text.startswith("git+"):
        return vcs.group(1).removeprefix("v") if vcs else ""
    github = _GITHUB_ARCHIVE.search(text) or re.search(
        r"codeload\.github\.com/[^/]+/(?P<repo>[^/]+)/\w+/(?P<ref>.+)$", text
    )
    if github:
        ref = re.sub(r"\.(tar\.gz|tgz|zip)$", "", github.group("ref"))
        if ref.startswith("refs/heads/"):
            return ""
        return ref.removeprefix("refs/tags/").removeprefix("v")
    base = text.rsplit("/", 1)[-1]
    if base.endswith(".whl"):
        parts = base.split("-")
        return parts[1] if len(parts) > 1 else ""
    archive = _ARCHIVE.match(base)
    if re.search(r"\.(tar\.gz|tgz|zip|tar\.bz2)$", base):
        return archive.group("version") if archive else ""
    return None


def _vllm_omni_source(ctx: _Context) -> Iterator[_Hit]:
    wanted = OMNI_RELEASE
    checked_out = {
        word.removeprefix("v")
        for command in ctx.commands
        if command.program == "git" and "checkout" in command.words
        for word in command.words[command.words.index("checkout") + 1 :][:1]
    }
    for command in ctx.commands:
        words = command.words
        if command.program == "git" and "clone" in words and any("vllm-omni" in word for word in words):
            branch = _clone_branch(words)
            ref = branch.removeprefix("v") if branch else None
            if ref == wanted or (ref is None and wanted in checked_out):
                continue
            detail = f"clone pinned to {branch}, not v{wanted}" if branch else "no --branch"
            yield _Hit(f"`{_text(command)}`: {detail}", script_line=command.line)
        elif command.program in ("curl", "wget"):
            for url in (w for w in words[1:] if "://" in w and re.search(r"vllm[-_]omni", w)):
                ref = _omni_ref(url)
                if ref is not None and ref != wanted:
                    yield _Hit(f"`{_text(command)}`: not the v{wanted} release", script_line=command.line)
    for install in ctx.installs:
        for requirement in install.requirements:
            if requirement.name != "vllm-omni" or requirement.spec == "path":
                continue  # local sources are judged where they are fetched (above)
            if requirement.spec in ("url", "wheel"):
                pinned = (
                    _omni_ref(
                        requirement.raw.split("@", 1)[-1].strip()
                        if not requirement.raw.startswith(("git+", "http"))
                        else requirement.raw
                    )
                    == wanted
                )
            else:
                pinned = requirement.spec.replace(" ", "") in (f"=={wanted}", f"==={wanted}")
            if not pinned:
                yield _Hit(f"`{requirement.raw}` is not pinned to {wanted}", script_line=install.command.line)


def _clone_branch(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        if word in ("--branch", "-b") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--branch="):
            return word.split("=", 1)[1]
    return None


def _missing_omni(ctx: _Context) -> Iterator[_Hit]:
    if ctx.is_qwen3_tts and "--omni" not in ctx.extra_args:
        yield _Hit("extraArgs lack --omni", ("extraArgs",))


def _no_deps(ctx: _Context) -> Iterator[_Hit]:
    for install in ctx.installs:
        if not install.has("--no-deps"):
            continue
        command = install.command
        if command.next_op == "||" or command.hides_errors:
            fallback = ["a || fallback"] if command.next_op == "||" else []
            hidden = ["2>/dev/null"] if command.hides_errors else []
            yield _Hit(f"`{_text(command)}` with {' and '.join(fallback + hidden)}", script_line=command.line)
        elif any(req.name == "vllm-omni" for req in install.requirements):
            detail = f"`{_text(command)}` skips vllm-omni's dependencies"
            yield _Hit(detail, script_line=command.line, severity="warning")


def _port_mismatch(ctx: _Context) -> Iterator[_Hit]:
    args = ctx.extra_args
    for index, arg in enumerate(args):
        value = None
        if arg == "--port" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--port="):
            value = arg.split("=", 1)[1]
        if value is not None and str(value) != str(ctx.service_port):
            yield _Hit(f"--port {value} but service.port {ctx.service_port}", ("extraArgs", str(index)))


def _git_not_in_image(ctx: _Context) -> Iterator[_Hit]:
    if _repository(ctx) not in _IMAGES_WITHOUT_GIT:
        return
    for command in ctx.commands:
        if command.program in ("apt-get", "apt", "yum", "dnf") and "git" in command.words:
            return  # the script installs git itself before using it
        if command.program == "git":
            yield _Hit(f"`{_text(command)}` in {ctx.repository}", script_line=command.line)
        install = _pip_install(command)
        for requirement in install.requirements if install else []:
            if requirement.raw.startswith("git+"):
                yield _Hit(
                    f"`{requirement.raw}` needs git, which {ctx.repository} lacks", script_line=command.line
                )


_MAX_NAMES = 3


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    return shown + (f" (+{len(names) - _MAX_NAMES} more)" if len(names) > _MAX_NAMES else "")


def _floating_install(ctx: _Context) -> Iterator[_Hit]:
    for install in ctx.installs:
        constraints = install.constraints
        unpinned = [
            req.name
            for req in install.requirements
            if not req.is_location and not _is_exact(req.spec) and not constraints.exact(req.name)
        ]
        dependencies: list[str] = []
        if not install.has("--no-deps") and any(req.name == "vllm-omni" for req in install.requirements):
            eager = "eager" in install.values("--upgrade-strategy") or install.has("--force-reinstall")
            in_image = {} if eager else IMAGE_PACKAGES.get((_repository(ctx), ctx.tag), {})
            dependencies = [
                name
                for name, spec in sorted(OMNI_DEPENDENCIES.items())
                if not _is_exact(spec)
                and not constraints.exact(name)
                and name not in unpinned
                and name not in in_image
            ]
        if not unpinned and not dependencies:
            continue
        parts = [f"not pinned with ==: {_names(unpinned)}"] if unpinned else []
        if dependencies:
            parts.append(
                f"vllm-omni's dependencies not exact-pinned by a constraints file: {_names(dependencies)}"
            )
        yield _Hit(f"`{_text(install.command)}`: {'; '.join(parts)}", script_line=install.command.line)


def _engine_flags(ctx: _Context) -> Iterator[_Hit]:
    if not (ctx.is_qwen3_tts or "--omni" in ctx.extra_args):
        return
    if any(
        arg == "--stage-configs-path" or arg.startswith("--stage-configs-path=") for arg in ctx.extra_args
    ):
        return
    found = [
        flag for flag in ENGINE_FLAGS if any(a == flag or a.startswith(f"{flag}=") for a in ctx.extra_args)
    ]
    if found:
        omni = "" if "--omni" in ctx.extra_args else " (once --omni is added)"
        yield _Hit(f"{', '.join(found)} without --stage-configs-path{omni}", ("extraArgs",))


def _flash_attn_installs(ctx: _Context) -> Iterator[tuple[PipInstall, list[Requirement]]]:
    for install in ctx.installs:
        flash = [req for req in install.requirements if req.name == "flash-attn"]
        if flash:
            yield install, flash


def _binary_only(install: PipInstall, flash: list[Requirement]) -> bool:
    return all(req.is_prebuilt for req in flash) or any(
        value == ":all:" or "flash" in value for value in install.values("--only-binary")
    )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _flash_attn_source_build(ctx: _Context) -> Iterator[_Hit]:
    for install, flash in _flash_attn_installs(ctx):
        env = install.command.env
        no_isolation = install.has("--no-build-isolation") or (
            env.get("PIP_NO_BUILD_ISOLATION", "").lower() in ("0", "false", "no", "off")
        )
        forced = _truthy(env.get("FLASH_ATTENTION_FORCE_BUILD"))
        if (no_isolation or forced) and not _binary_only(install, flash):
            why = "--no-build-isolation" if no_isolation else "FLASH_ATTENTION_FORCE_BUILD"
            yield _Hit(
                f"`{_text(install.command)}` ({why}, no --only-binary or wheel)",
                script_line=install.command.line,
            )


def _flash_attn_hard_dependency(ctx: _Context) -> Iterator[_Hit]:
    for install, _ in _flash_attn_installs(ctx):
        text, line = f"`{_text(install.command)}`", install.command.line
        others = [req.name for req in install.requirements if req.name != "flash-attn"]
        reasons = []
        if not install.command.tolerated:
            reasons.append("a failure stops the bootstrap (bash -e, no `|| ...`)")
        if others:
            reasons.append(
                f"it shares the command with {_names(others)}: its failure makes the command install nothing"
            )
        if reasons:
            yield _Hit(f"{text}: {'; '.join(reasons)}", script_line=line)


def _is_pre_ampere(product: str) -> bool:
    label = re.sub(r"[\s_]+", "-", product.strip()).upper()
    return any(re.search(pattern, label) for pattern in PRE_AMPERE_GPUS)


def _bf16_pre_ampere(ctx: _Context) -> Iterator[_Hit]:
    old = sorted({product for product in ctx.gpu_products if _is_pre_ampere(product)})
    if old:
        yield _Hit(f"GPU products of the selected nodes: {', '.join(old)}", ctx.placement_path)


_CHECKS = {
    "prerelease-image": _prerelease_image,
    "transformers-upgrade": _transformers_upgrade,
    "unpinned-vllm-omni-clone": _vllm_omni_source,
    "missing-omni": _missing_omni,
    "no-deps-hides-dependencies": _no_deps,
    "port-mismatch": _port_mismatch,
    "git-not-in-image": _git_not_in_image,
    "floating-install": _floating_install,
    "engine-flags-ignored-under-omni": _engine_flags,
    "flash-attn-source-build": _flash_attn_source_build,
    "flash-attn-hard-dependency": _flash_attn_hard_dependency,
    "bf16-pre-ampere": _bf16_pre_ampere,
}


def _findings(
    block: dict, key: str, gpu_products: Iterable[str] | None
) -> Iterator[tuple[Finding, tuple[str, ...], int | None]]:
    ctx = _context(block if isinstance(block, dict) else {}, gpu_products)
    for rule_id, check in _CHECKS.items():
        rule = RULES[rule_id]
        for hit in check(ctx):
            finding = Finding(
                rule_id=rule_id,
                severity=hit.severity or rule.severity,
                message=f"{rule.message} [{hit.detail}]",
                fix=rule.fix,
                path=".".join((key, *hit.path)),
            )
            yield finding, hit.path, hit.script_line


def check_block(block: dict, key: str = "tts", gpu_products: Iterable[str] | None = None) -> list[Finding]:
    """All findings for a desired block (plain data), errors first.

    ``gpu_products``: the ``nvidia.com/gpu.product`` labels of the nodes the block may be scheduled
    on (see ``selected_gpu_products``); None or empty when unknown (then bf16-pre-ampere is silent).
    """
    return _ordered([finding for finding, _, _ in _findings(block, key, gpu_products)])


def check_values_text(
    text: str, key: str = "tts", gpu_products: Iterable[str] | None = None
) -> list[Finding]:
    """The same rules on a values file, with 1-based line numbers of the offending values."""
    root = load_document(text)
    if root is None or key not in root or root[key] is None:
        return []
    node = root[key]
    if not isinstance(node, dict):
        raise ValuesError(f"top-level key {key!r} is not a mapping", line=root.lc.key(key)[0] + 1)
    findings = []
    for finding, path, script_line in _findings(to_plain(node), key, gpu_products):
        finding.line = _line_of(root, key, path, script_line)
        findings.append(finding)
    return _ordered(findings)


def _line_of(root: Any, key: str, path: tuple[str, ...], script_line: int | None) -> int | None:
    """1-based line of `key.path` (deepest part that exists); inside a `|` bootstrap, the command's line."""
    parent, name = root, key
    for part in path:
        child = parent[name] if isinstance(parent, dict) else parent[int(name)]
        in_map = isinstance(child, dict) and part in child
        in_list = isinstance(child, list) and part.isdigit() and int(part) < len(child)
        if not (in_map or in_list):
            break
        parent, name = child, part
    if isinstance(parent, dict):
        key_line, _ = parent.lc.key(name)
        value_line, _ = parent.lc.value(name)
    else:
        key_line = value_line = parent.lc.item(int(name))[0]
    value = parent[name] if isinstance(parent, dict) else parent[int(name)]
    if script_line is not None and type(value).__name__ == "LiteralScalarString":
        return value_line + 2 + script_line  # content starts on the line after `|`
    if script_line is not None and isinstance(value, str):
        return value_line + 1
    return key_line + 1


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.line or 0))


# ---------------------------------------------------------------------------- where the block runs


def _matches_expression(labels: dict[str, str], expression: dict) -> bool:
    key, operator = expression.get("key"), expression.get("operator")
    values = [str(value) for value in expression.get("values") or []]
    present = key in labels
    if operator == "In":
        return present and labels[key] in values
    if operator == "NotIn":
        return not present or labels[key] not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and len(values) == 1:
        try:
            have, bound = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def _matches_term(node: dict, term: dict) -> bool:
    """A node selector term: its matchExpressions (labels) and matchFields (metadata.name), ANDed."""
    metadata = node.get("metadata") or {}
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no objects (Kubernetes API)
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    names = {"metadata.name": str(metadata.get("name") or "")}
    return all(_matches_expression(labels, e) for e in expressions) and all(
        _matches_expression(names, f) for f in fields
    )


def node_selected(block: dict, node: dict) -> bool:
    """Whether the block's nodeSelector and required node affinity let its pod run on ``node``."""
    labels = ((node.get("metadata") or {}).get("labels")) or {}
    selector = block.get("nodeSelector") if isinstance(block.get("nodeSelector"), dict) else {}
    if any(str(labels.get(k)) != str(v) or k not in labels for k, v in selector.items()):
        return False
    affinity = block.get("affinity") if isinstance(block.get("affinity"), dict) else {}
    node_affinity = affinity.get("nodeAffinity") if isinstance(affinity.get("nodeAffinity"), dict) else {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        return True
    terms = required.get("nodeSelectorTerms") or []
    return any(_matches_term(node, term) for term in terms if isinstance(term, dict))


def selected_gpu_products(block: dict, nodes: list[dict]) -> list[str]:
    """The distinct ``nvidia.com/gpu.product`` labels of the nodes the block may be scheduled on."""
    products = {
        str(labels[GPU_PRODUCT_LABEL])
        for node in nodes
        if node_selected(block if isinstance(block, dict) else {}, node)
        and GPU_PRODUCT_LABEL in (labels := ((node.get("metadata") or {}).get("labels")) or {})
    }
    return sorted(products)


def failure_message(findings: list[Finding]) -> str:
    """The failure message of a blocking set of findings: a count of exactly the findings it lists."""
    lines = [f"{len(findings)} known pitfall(s) in the tts block:"]
    for finding in findings:
        where = f"{finding.path}" + (f" (line {finding.line})" if finding.line else "")
        lines.append(
            f"- {finding.rule_id} [{finding.severity}] at {where}: {finding.message} Fix: {finding.fix}"
        )
    return "\n".join(lines)
