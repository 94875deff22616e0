"""Known ways a `tts` values block breaks the Qwen3-TTS pod (BRIEF.md, "Facts").

`RULES` is the data: one entry per pitfall, with the brief's fact number, what goes wrong
and how to fix it. The functions below only find where a rule applies. Rule ids are a
public contract (preflight, rollback and `lint` report them): keep them stable.

The bootstrap is read with a small shell-ish splitter (shlex per logical line, `&&`,
`||`, `;`, `|`, comments, `set -e`), not a shell interpreter: it recognises the commands
the plan and the brief talk about (pip install, git clone) and their options.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ansible_collections.local_llm.tts.plugins.module_utils.values_block import (
    ValuesError,
    load_document,
    to_plain,
)

Severity = Literal["error", "warning"]
SEVERITY_RANK = {"warning": 1, "error": 2}

__all__ = ["RULES", "SEVERITY_RANK", "Finding", "Rule", "check_block", "check_values_text"]


@dataclass(frozen=True)
class Rule:
    rule_id: str
    severity: Severity  # the usual severity; a finding may be milder (see flash-attn)
    fact: int  # the fact in BRIEF.md that backs the rule (0: the user's own plan)
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
            1,
            "pre-release image (the plan forbids vllm/vllm-omni and rc/alpha/beta/dev tags)",
            'use image repository "vllm/vllm-openai" with the stable tag "v0.14.0"',
        ),
        Rule(
            "transformers-upgrade",
            "error",
            4,
            "the bootstrap lets pip install transformers 5.x, which vLLM 0.14.0 does not support "
            "(it needs transformers >=4.56,<5)",
            "do not install or upgrade transformers yourself; qwen-tts pins transformers==4.57.3, "
            'and a constraints file with "transformers<5" keeps it below 5',
        ),
        Rule(
            "unpinned-vllm-omni-clone",
            "error",
            2,
            "vllm-omni is installed from an unpinned source: main targets a much newer vLLM than the image's",
            "clone the tag that matches the image: git clone --depth 1 --branch v0.14.0 "
            "https://github.com/vllm-project/vllm-omni.git /tmp/vllm-omni",
        ),
        Rule(
            "missing-omni",
            "error",
            1,
            "a Qwen3-TTS model is served without --omni: vllm-omni hands over to plain vLLM, "
            "which does not know qwen3_tts and fails with the same transformers error",
            'add "--omni" as the first entry of extraArgs',
        ),
        Rule(
            "no-deps-hides-dependencies",
            "error",
            3,
            "pip install --no-deps with a fallback or hidden errors: the first command succeeds, "
            "so vllm-omni's own dependencies are silently skipped",
            "install without --no-deps (under the constraints file) and without 2>/dev/null",
        ),
        Rule(
            "torch-not-held",
            "error",
            4,
            "qwen-tts/torchaudio are installed without holding torch: pip may replace the image's torch "
            "and break vLLM's compiled kernels (undefined symbol in vllm/_C.abi3.so)",
            "write a constraints file from pip freeze (torch, torchaudio, torchvision, vllm, triton, plus "
            '"transformers<5") and pass it to every pip install with -c',
        ),
        Rule(
            "flash-attn-hard-dependency",
            "error",
            5,
            "flash-attn has no wheels on PyPI: pip compiles it from source, which can outlast the start-up "
            "budget, and its failure must not kill the pod (vLLM has its own attention kernels)",
            "install it from a prebuilt wheel only and tolerate failure: pip install --only-binary=:all: "
            'flash-attn || echo "flash-attn skipped"',
        ),
        Rule(
            "port-mismatch",
            "error",
            0,
            "extraArgs set a --port different from service.port: the Service and probes miss the server",
            "remove --port from extraArgs (the chart passes --port <service.port>) or make them equal",
        ),
    )
}

# Commands the chart's container runs the bootstrap with (`bash -e -c`): errexit is on.
CHART_ERREXIT = True

_PRERELEASE_TAG = re.compile(r"(?i)(?:^|[\d._+-])(rc|alpha|beta|dev|pre|nightly)(?:[\d._+-]|$)")
_PRERELEASE_REPOSITORIES = ("vllm/vllm-omni",)
_SEPARATORS = {"&&", "||", ";", "|", "&", ";;", "(", ")", "|&"}
_PIP_OPTIONS_WITH_VALUE = {
    "-c", "--constraint", "-r", "--requirement", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "--only-binary", "--no-binary", "-t", "--target",
    "--prefix", "--root", "--platform", "--python-version", "--implementation", "--abi", "--src",
    "--progress-bar", "--log", "--cache-dir", "--trusted-host", "--config-settings", "-C",
    "--global-option", "--timeout", "--retries", "--proxy", "--upgrade-strategy", "--report",
}  # fmt: skip
_TORCH_FAMILY = {"qwen-tts", "torchaudio", "torchvision"}
_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


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

    @property
    def tolerated(self) -> bool:
        """A failure does not stop the script: `cmd || fallback`, or errexit is off."""
        return self.next_op == "||" or not self.errexit

    @property
    def hides_errors(self) -> bool:
        return any(op in ("2>", "&>") and target == "/dev/null" for op, target in self.redirects)


def split_commands(script: str, errexit: bool = CHART_ERREXIT) -> list[Command]:
    """Split a bootstrap into simple commands, tracking `set -e` / `set +e` in order."""
    commands: list[Command] = []
    for line, text in _logical_lines(script):
        for command in _commands_of(_tokens(text), line):
            errexit = _errexit_after(command, errexit)
            command.errexit = errexit
            commands.append(command)
    return commands


def _logical_lines(script: str) -> Iterator[tuple[int, str]]:
    """(first line index, text) with backslash continuations joined."""
    pending, start = "", 0
    for index, raw in enumerate(script.split("\n")):
        if not pending:
            start = index
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            pending += raw[:-1] + " "
            continue
        yield start, pending + raw
        pending = ""
    if pending:
        yield start, pending


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
        if token in (">", ">>", "<", ">&", "&>"):
            fd = words.pop() if words and words[-1] in ("1", "2") and token != "&>" else ""
            target = tokens[index + 1] if index + 1 < len(tokens) else ""
            redirects.append((fd + token if fd else token, target))
            index += 2
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


# ---------------------------------------------------------------------------- pip and git


@dataclass
class Requirement:
    name: str  # normalised: lower case, "_" and "." as "-"
    spec: str  # version specifier, "" when unpinned
    raw: str

    @property
    def is_prebuilt(self) -> bool:
        return self.raw.endswith(".whl")


@dataclass
class PipInstall:
    command: Command
    requirements: list[Requirement]
    editables: list[str]
    options: dict[str, list[str]]  # option → values ("" for flags)

    def has(self, *names: str) -> bool:
        return any(name in self.options for name in names)

    def values(self, *names: str) -> list[str]:
        return [value for name in names for value in self.options.get(name, [])]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse_requirement(raw: str) -> Requirement:
    if raw.endswith(".whl"):  # a wheel file or URL: name-version-...whl
        return Requirement(_normalise(raw.rsplit("/", 1)[-1].split("-", 1)[0]), "wheel", raw)
    if "@" in raw and "://" in raw:  # name @ url, or git+https://...@ref
        name = raw.split("@", 1)[0].strip() if not raw.startswith(("git+", "http")) else raw
        return Requirement(_normalise(name.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")), "url", raw)
    if raw.startswith(("git+", "http://", "https://", "/", ".")):
        return Requirement(_normalise(raw.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")), "url", raw)
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
        elif arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            name, value = "-c", arg[2:]
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


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text.split("+", 1)[0])[:3]) or (0,)


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
    return install.has("-c", "--constraint") or "PIP_CONSTRAINT" in install.command.env


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
    extra_args: list[str]
    model: str
    service_port: Any
    script_has_constraint_env: bool
    script_caps_transformers: bool


def _context(block: dict) -> _Context:
    image = block.get("image") if isinstance(block.get("image"), dict) else {}
    model = block.get("model") if isinstance(block.get("model"), dict) else {}
    service = block.get("service") if isinstance(block.get("service"), dict) else {}
    extra = block.get("extraArgs") if isinstance(block.get("extraArgs"), list) else []
    bootstrap = block.get("bootstrap") if isinstance(block.get("bootstrap"), str) else ""
    commands = split_commands(bootstrap)
    installs = [install for command in commands if (install := _pip_install(command))]
    return _Context(
        repository=str(image.get("repository") or ""),
        tag=str(image.get("tag") or ""),
        bootstrap=bootstrap,
        commands=commands,
        installs=installs,
        extra_args=[str(arg) for arg in extra],
        model=f"{model.get('name') or ''} {model.get('path') or ''}",
        service_port=service.get("port"),
        script_has_constraint_env=any(
            "PIP_CONSTRAINT" in command.env or any(w.startswith("PIP_CONSTRAINT=") for w in command.words)
            for command in commands
        ),
        script_caps_transformers=bool(re.search(r"transformers\s*(<\s*5|<=\s*4)", bootstrap)),
    )


def _prerelease_image(ctx: _Context) -> Iterator[_Hit]:
    if ctx.repository in _PRERELEASE_REPOSITORIES:
        yield _Hit(f"repository {ctx.repository}", ("image", "repository"))
    if _PRERELEASE_TAG.search(ctx.tag):
        yield _Hit(f"tag {ctx.tag}", ("image", "tag"))


def _transformers_upgrade(ctx: _Context) -> Iterator[_Hit]:
    for install in ctx.installs:
        for requirement in install.requirements:
            if requirement.name != "transformers" or requirement.spec in ("wheel", "url"):
                continue
            allows_5 = _allows_version(requirement.spec, (5, 0, 0))
            held = _constrained(install) and ctx.script_caps_transformers
            if allows_5 and not held:
                how = "upgrades" if install.has("-U", "--upgrade") else "installs"
                pin = requirement.spec or "unpinned"
                detail = f"`{_text(install.command)}` {how} transformers ({pin})"
                yield _Hit(detail, script_line=install.command.line)


def _vllm_omni_clone(ctx: _Context) -> Iterator[_Hit]:
    wanted = ctx.tag.removeprefix("v")
    checked_out = {
        word.removeprefix("v")
        for command in ctx.commands
        if command.words[:1] == ["git"] and "checkout" in command.words
        for word in command.words[command.words.index("checkout") + 1 :][:1]
    }
    for command in ctx.commands:
        words = command.words
        if words[:1] == ["git"] and "clone" in words and any("vllm-omni" in word for word in words):
            branch = _clone_branch(words)
            ref = branch.removeprefix("v") if branch else None
            if ref == wanted or (ref is None and wanted in checked_out):
                continue
            detail = f"clone pinned to {branch}, image tag is {ctx.tag}" if branch else "no --branch"
            yield _Hit(f"`{_text(command)}`: {detail}", script_line=command.line)
    for install in ctx.installs:
        for requirement in install.requirements:
            if requirement.name != "vllm-omni" or requirement.raw in install.editables:
                continue  # editable installs are the clone, judged above
            ref = requirement.raw.rsplit("@", 1)[-1] if requirement.spec == "url" else requirement.spec
            if wanted and wanted in ref:
                continue
            yield _Hit(f"`{requirement.raw}` is not pinned to {ctx.tag}", script_line=install.command.line)


def _clone_branch(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        if word in ("--branch", "-b") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--branch="):
            return word.split("=", 1)[1]
    return None


def _text(command: Command) -> str:
    return " ".join(command.words)


def _missing_omni(ctx: _Context) -> Iterator[_Hit]:
    if "qwen3-tts" in ctx.model.lower() and "--omni" not in ctx.extra_args:
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


def _torch_not_held(ctx: _Context) -> Iterator[_Hit]:
    for install in ctx.installs:
        names = {req.name for req in install.requirements} & _TORCH_FAMILY
        torch_pinned = any(req.name == "torch" and "==" in req.spec for req in install.requirements)
        if names and not (_constrained(install) or ctx.script_has_constraint_env or torch_pinned):
            yield _Hit(f"`{_text(install.command)}`", script_line=install.command.line)


def _flash_attn(ctx: _Context) -> Iterator[_Hit]:
    for install in ctx.installs:
        flash = [req for req in install.requirements if req.name == "flash-attn"]
        if not flash:
            continue
        binary_only = all(req.is_prebuilt for req in flash) or any(
            value == ":all:" or "flash" in value for value in install.values("--only-binary")
        )
        text, line = f"`{_text(install.command)}`", install.command.line
        if not install.command.tolerated:
            source = "" if binary_only else "; it may also build from source"
            yield _Hit(
                f"{text}: a failure stops the bootstrap (bash -e, no `|| ...`){source}", script_line=line
            )
        elif not binary_only:
            detail = f"{text} may build from source (no --only-binary or wheel)"
            yield _Hit(detail, script_line=line, severity="warning")


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


_CHECKS = {
    "prerelease-image": _prerelease_image,
    "transformers-upgrade": _transformers_upgrade,
    "unpinned-vllm-omni-clone": _vllm_omni_clone,
    "missing-omni": _missing_omni,
    "no-deps-hides-dependencies": _no_deps,
    "torch-not-held": _torch_not_held,
    "flash-attn-hard-dependency": _flash_attn,
    "port-mismatch": _port_mismatch,
}


def _findings(block: dict, key: str) -> Iterator[tuple[Finding, tuple[str, ...], int | None]]:
    ctx = _context(block if isinstance(block, dict) else {})
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


def check_block(block: dict, key: str = "tts") -> list[Finding]:
    """All findings for a desired block (plain data), errors first."""
    return _ordered([finding for finding, _, _ in _findings(block, key)])


def check_values_text(text: str, key: str = "tts") -> list[Finding]:
    """The same rules on a values file, with 1-based line numbers of the offending values."""
    root = load_document(text)
    if root is None or key not in root or root[key] is None:
        return []
    node = root[key]
    if not isinstance(node, dict):
        raise ValuesError(f"top-level key {key!r} is not a mapping", line=root.lc.key(key)[0] + 1)
    findings = []
    for finding, path, script_line in _findings(to_plain(node), key):
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
