"""The vLLM runtime: a container of ``vllm/vllm-openai`` or ``vllm/vllm-omni`` run step by step.

The container's ``command + args`` (or the image's ``vllm serve`` entrypoint + args) go through the
safe shell interpreter (``shell.py``), which knows the image's commands (``vllm_images.IMAGES``): any
other program is "command not found" (image-no-git). This module supplies the programs a bootstrap uses:

- ``curl``, ``sha256sum``, ``tar`` (``fetch.py``) over the download table: vllm-omni's source without git;
- ``pip install`` with a small resolver over ``vllm_packages.PACKAGE_INDEX`` (``-U``, pins, extras,
  ``-e``, local directories and archives, ``--no-deps``, ``-c``/``--constraint``/``PIP_CONSTRAINT``,
  ``-r``, ``--only-binary``, ``--no-build-isolation``, ``--dry-run``), ``pip freeze``/``list``/``show``/
  ``check``/``uninstall``; the pip rows of ``vllm_rules.RULES`` decide flash-attn's fate;
- ``vllm serve`` (and ``python -m vllm.entrypoints.openai.api_server``): checks the rules of
  ``vllm_rules.RULES`` stage by stage, then loads the model and serves real HTTP (``tts_server.py``).

All waiting is simulated time (``ctx.clock``); a stop (``ctx.stop``) interrupts any step and the
container returns ``KILLED`` with its listener closed.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sandbox.runtimes import fetch
from sandbox.runtimes import vllm_rules as data
from sandbox.runtimes.base import KILLED, ContainerSpec, RuntimeContext
from sandbox.runtimes.shell import FileSystem, Interrupted, Invocation, LineLog, Output, Shell
from sandbox.runtimes.tts_server import ModelServer
from sandbox.runtimes.vllm_images import (
    CONSOLE_SCRIPTS,
    IMAGE_REPOSITORIES,
    download_for,
    freeze_names,
    image_row,
)

SITE_PACKAGES = data.SITE_PACKAGES

# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------


def split_image(image: str) -> tuple[str, str]:
    """``[registry/]repository[:tag][@digest]`` -> (repository without registry, tag or "latest")."""
    name = image.split("@", 1)[0]
    tag = "latest"
    last_slash = name.rfind("/")
    if ":" in name[last_slash + 1 :]:
        name, tag = name.rsplit(":", 1)
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host such as docker.io or registry.example.com:5000
    if parts[:1] == ["library"]:
        parts = parts[1:]
    return "/".join(parts), tag


@dataclass(frozen=True)
class ImageProfile:
    repository: str
    tag: str
    vllm_version: str
    torch_version: str
    omni_preinstalled: str | None  # vllm-omni version baked into a vllm/vllm-omni image
    packages: dict[str, str]
    commands: frozenset[str]
    entrypoint: tuple[str, ...]
    names: dict[str, str]  # canonical -> as pip freeze prints it (Jinja2, pydantic_core)

    @classmethod
    def of(cls, image: str) -> ImageProfile:
        repository, tag = split_image(image)
        row = image_row(repository, tag)
        packages = row.packages
        omni = row.omni_version
        if tag != row.tag:  # another tag of a known repository: its own vllm (and vllm-omni) version
            release = re.match(r"v?(\d+\.\d+\.\d+)((?:rc|a|b)\d+)?", tag)
            packages["vllm"] = release.group(1) if release else data.PACKAGE_INDEX["vllm"].versions[-1]
            if omni is not None:
                omni = packages["vllm"] + (release.group(2) or "" if release else "")
                packages["vllm-omni"] = omni
        return cls(
            repository,
            tag,
            packages["vllm"],
            packages["torch"],
            omni,
            packages,
            row.commands,
            row.entrypoint,
            freeze_names(row.freeze),
        )


# ---------------------------------------------------------------------------------------------
# Versions and requirements (the small part of PEP 440 / PEP 508 that bootstraps use)
# ---------------------------------------------------------------------------------------------

_VERSION = re.compile(r"v?(\d+(?:\.\d+)*)(?:[.-]?(a|b|rc)(\d+))?(?:[.-]?post(\d+))?(?:[.-]?dev(\d+))?")
_PRE_RANK = {"a": 0, "b": 1, "rc": 2}


def version_key(version: str) -> tuple:
    match = _VERSION.match(version.split("+", 1)[0])
    if not match:
        return ((0,), (3, 0), -1, float("inf"))
    release = tuple(int(x) for x in match.group(1).split("."))
    release = release + (0,) * (4 - len(release))
    if match.group(2):
        pre: tuple[int, int] = (_PRE_RANK[match.group(2)], int(match.group(3)))
    elif match.group(5) is not None and match.group(4) is None:
        pre = (-1, 0)  # X.dev0 comes before X's pre-releases
    else:
        pre = (3, 0)
    post = int(match.group(4)) if match.group(4) is not None else -1
    dev = int(match.group(5)) if match.group(5) is not None else float("inf")
    return (release, pre, post, dev)


def same_minor(a: str, b: str) -> bool:
    return version_key(a)[0][:2] == version_key(b)[0][:2]


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


Specifier = tuple[str, str]  # (operator, version)


def satisfies(version: str, specifiers: Iterable[Specifier]) -> bool:
    key = version_key(version)
    for op, wanted in specifiers:
        if op in ("==", "!=") and wanted.endswith(".*"):
            prefix = wanted[:-2].split(".")
            equal = version.split("+")[0].split(".")[: len(prefix)] == prefix
            ok = equal if op == "==" else not equal
        elif op == "~=":
            base = wanted.split(".")
            ok = key >= version_key(wanted) and version.split(".")[: len(base) - 1] == base[:-1]
        else:
            target = version_key(wanted)
            ok = {
                "==": key == target,
                "===": version == wanted,
                "!=": key != target,
                "<": key < target,
                "<=": key <= target,
                ">": key > target,
                ">=": key >= target,
            }[op]
        if not ok:
            return False
    return True


@dataclass(frozen=True)
class Requirement:
    name: str  # canonical
    specifiers: tuple[Specifier, ...] = ()
    extras: tuple[str, ...] = ()
    local_path: str | None = None  # a local project directory or archive (editable or not)
    url: str | None = None  # a direct https URL (an archive of the download table)
    git_ref: str | None = None  # for git+URL@ref requirements ("" = default branch)
    wheel_version: str | None = None  # a direct .whl file or URL: prebuilt, nothing to compile
    text: str = ""
    editable: bool = False
    source_version: str | None = None  # the version a source tree installs as (set by PipInstall)

    def display(self) -> str:
        return self.text or self.name

    @property
    def from_source(self) -> bool:
        return self.local_path is not None or self.url is not None or self.git_ref is not None


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(;.*)?$")
_WHEEL_NAME = re.compile(r"([A-Za-z0-9_.]+)-(\d[^-]*)-[^/]*\.whl$")


class RequirementError(ValueError):
    pass


class PipFailure(Exception):
    """A pip command that stops: its last lines were printed already; ``status`` is pip's exit code."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def parse_requirement(text: str, cwd: str) -> Requirement:
    text = text.strip()
    if text.startswith("git+"):
        url, _, ref = text[4:].partition("@") if "@" in text[4:].split("/")[-1] else (text[4:], "", "")
        name = canonical_name(posixpath.basename(url.split("#")[0]).removesuffix(".git"))
        return Requirement(name, git_ref=ref, text=text)
    wheel = _WHEEL_NAME.search(text)
    if wheel:
        return Requirement(
            canonical_name(wheel.group(1)), (("==", wheel.group(2)),), wheel_version=wheel.group(2), text=text
        )
    if text.startswith(("https://", "http://")):
        return Requirement(canonical_name(posixpath.basename(text)), url=text, text=text)
    if text.startswith(("/", ".", "~", "file:")):
        path = posixpath.normpath(posixpath.join(cwd, text.removeprefix("file://")))
        return Requirement(canonical_name(posixpath.basename(path)), local_path=path, text=text)
    match = _REQUIREMENT.match(text)
    if not match:
        raise RequirementError(f"Invalid requirement: '{text}'")
    specifiers = []
    for clause in filter(None, (c.strip() for c in match.group(3).split(","))):
        spec = re.fullmatch(r"(===|==|!=|~=|<=|>=|<|>)\s*([A-Za-z0-9.*+!_-]+)", clause)
        if not spec:
            raise RequirementError(f"Invalid requirement: '{text}'")
        specifiers.append((spec.group(1), spec.group(2)))
    extras = tuple(e.strip() for e in (match.group(2) or "[]")[1:-1].split(",") if e.strip())
    return Requirement(canonical_name(match.group(1)), tuple(specifiers), extras, text=text)


def index_requirements(name: str, version: str) -> tuple[str, ...]:
    package = data.PACKAGE_INDEX.get(name)
    if package is None:
        return ()
    return tuple(r.format(version=version) for r in package.requirements(version, version_key))


def display_name(name: str) -> str:
    package = data.PACKAGE_INDEX.get(name)
    return (package.display if package else "") or name


# ---------------------------------------------------------------------------------------------
# The container's Python environment
# ---------------------------------------------------------------------------------------------


@dataclass
class Environment:
    """What is installed in the container, as pip would report it, plus where sources came from."""

    image: ImageProfile
    packages: dict[str, str]
    sources: dict[str, str] = field(default_factory=dict)  # package -> the directory it was installed from
    editable: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, image: ImageProfile) -> Environment:
        return cls(image, dict(image.packages))

    def missing_omni_modules(self) -> tuple[str, ...]:
        if "vllm-omni" not in self.packages:
            return ()
        missing = []
        for requirement in data.PACKAGE_INDEX["vllm-omni"].requires:
            name = parse_requirement(requirement, "/").name
            if name not in self.packages:
                missing.append(data.PACKAGE_INDEX[name].import_name or name.replace("-", "_"))
        return tuple(missing)

    def needs(self, name: str, excluding: Iterable[str] = ()) -> list[Specifier]:
        """What the installed packages (but ``excluding``) require of ``name``."""
        skip = set(excluding)
        wanted: list[Specifier] = []
        for package, version in self.packages.items():
            if package in skip:
                continue
            requires = data.INSTALLED_REQUIREMENTS.get(package) or index_requirements(package, version)
            for text in requires:
                if canonical_name(re.split(r"[\[<>=!~ ;]", text, maxsplit=1)[0]) == name:
                    wanted.extend(parse_requirement(text, "/").specifiers)
        return wanted

    def broken(self, only: set[str] | None = None) -> list[tuple[str, str, Requirement, str]]:
        """Installed packages whose requirements are not met: (package, version, requirement, installed)."""
        found = []
        for package, version in sorted(self.packages.items()):
            requires = data.INSTALLED_REQUIREMENTS.get(package) or index_requirements(package, version)
            for text in requires:
                requirement = parse_requirement(text, "/")
                installed = self.packages.get(requirement.name)
                relevant = only is None or package in only or requirement.name in only
                if relevant and installed and not satisfies(installed, requirement.specifiers):
                    found.append((package, version, requirement, installed))
        return found


# ---------------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------------

_PIP_VALUE_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix",
    "--root", "--src", "--upgrade-strategy", "--cache-dir", "--log", "--timeout", "--retries",
    "--trusted-host", "--no-binary", "--platform", "--python-version", "--progress-bar",
    "-C", "--config-settings", "--root-user-action", "--abi", "--implementation", "--report",
}  # fmt: skip

_SERVE_FLAGS_WITHOUT_VALUE = re.compile(
    r"--(omni|trust-remote-code|enforce-eager|enable-.*|disable-.*|no-.*)$"
)
_PATH_DIRECTORIES = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True)
class ServeCommand:
    model: str
    port: int
    omni: bool
    served_model_name: str
    max_model_len: int
    non_default_args: dict[str, object]
    options: dict[str, object] = field(default_factory=dict)

    @property
    def speech_model(self) -> bool:
        """A Qwen3-TTS checkpoint (model type qwen3_tts), recognised by its path or served name."""
        return "qwen3-tts" in f"{self.model} {self.served_model_name}".lower()

    def given(self, flag: str) -> bool:
        return flag[2:].replace("-", "_") in self.options


class VllmContainer:
    def __init__(self, spec: ContainerSpec, ctx: RuntimeContext) -> None:
        self.spec = spec
        self.ctx = ctx
        self.image = ImageProfile.of(spec.image)
        self.env_state = Environment.of(self.image)
        self.fs = FileSystem()
        self.server: ModelServer | None = None
        self._started = time.monotonic()
        self._wall_start = time.time()

    # -- life cycle -------------------------------------------------------------------------------

    def run(self) -> int:
        argv = list(self.spec.command or self.image.entrypoint) + list(self.spec.args)
        env = {"PATH": ":".join(_PATH_DIRECTORIES), "HOME": "/root"}
        env |= {"HOSTNAME": self.spec.pod_name} | dict(self.spec.env)
        lines = LineLog(self.ctx.log)
        output = Output(lines.write)
        shell = Shell(self.run_program, self.fs, sleep=self.wait, on_path=self.on_path)
        try:
            return shell.run_invocation(argv, env, output, output)
        except Interrupted:
            return KILLED
        finally:
            lines.flush()
            if self.server is not None:
                self.server.close()
                self.server = None

    def on_path(self, program: str) -> bool:
        """The image's commands and the console scripts of what is installed now (image-commands)."""
        directory, name = posixpath.split(program)
        if directory and directory not in (*_PATH_DIRECTORIES, "/usr/local/cuda/bin"):
            return self.fs.exists(program)
        package = CONSOLE_SCRIPTS.get(name)
        return name in self.image.commands or (package is not None and package in self.env_state.packages)

    def wait(self, simulated_seconds: float) -> None:
        if not self.ctx.clock.sleep(simulated_seconds, self.ctx.stop):
            raise Interrupted()

    def timestamp(self) -> str:
        """vLLM's log time (MM-DD HH:MM:SS) on the simulated clock."""
        elapsed = (time.monotonic() - self._started) * self.ctx.clock.time_scale
        return time.strftime("%m-%d %H:%M:%S", time.localtime(self._wall_start + elapsed))

    def run_program(self, call: Invocation) -> int:
        program, args = call.program, call.argv[1:]
        python = re.fullmatch(r"python(3(\.\d+)?)?", program) is not None
        if program in ("pip", "pip3") or re.fullmatch(r"pip3\.\d+", program):
            return self.pip(call, args)
        if python and args[:2] == ["-m", "pip"]:
            return self.pip(call, args[2:])
        if python and args[:2] == ["-m", "vllm.entrypoints.openai.api_server"]:
            return self.serve(call, args[2:], positional_model=False)
        if program == "uv" and args[:1] == ["pip"]:
            return self.pip(call, args[1:])
        if program == "vllm" and args[:1] == ["serve"]:
            return self.serve(call, args[1:], positional_model=True)
        if program == "curl":
            return fetch.curl(call, self.wait, data.seconds("curl-download"))
        if program == "tar":
            return fetch.tar(call, self.wait, data.seconds("tar-extract"))
        if program == "sha256sum":
            return fetch.sha256sum(call)
        if program == "which":
            found = [name for name in args if not name.startswith("-") and self.on_path(name)]
            for name in found:
                call.out.line(name if "/" in name else f"/usr/bin/{name}")
            return 0 if found and len(found) == len([a for a in args if not a.startswith("-")]) else 1
        return 0  # nvidia-smi, huggingface-cli, python -c ...: nothing the rules look at

    # -- pip --------------------------------------------------------------------------------------

    def pip(self, call: Invocation, args: list[str]) -> int:
        command = args[0] if args else ""
        packages = self.env_state.packages
        if command in ("freeze", "list"):
            self.wait(data.seconds("pip-freeze"))
            for name, version in sorted(packages.items()):
                shown = self.shown_name(name)
                if command == "freeze" and name in self.env_state.editable:
                    call.out.line(f"# Editable install with no version control ({shown}=={version})")
                    call.out.line(f"-e {self.env_state.sources[name]}")
                else:
                    call.out.line(f"{shown}=={version}" if command == "freeze" else f"{shown:<30} {version}")
            return 0
        if command == "show":
            return self.pip_show(call, args[1:])
        if command == "check":
            broken = self.env_state.broken()
            for package, version, requirement, installed in broken:
                call.out.line(
                    f"{package} {version} has requirement {requirement.display()}, but you have "
                    f"{requirement.name} {installed}."
                )
            if not broken:
                call.out.line("No broken requirements found.")
            return 1 if broken else 0
        if command == "uninstall":
            for name in (canonical_name(a) for a in args[1:] if not a.startswith("-")):
                version = packages.pop(name, None)
                if version:
                    call.out.line(f"Found existing installation: {name} {version}")
                    call.out.line(f"Successfully uninstalled {name}-{version}")
            return 0
        if command == "install":
            return PipInstall(self, call).run(args[1:])
        return 0

    def shown_name(self, name: str) -> str:
        """A project's name as pip prints it (its metadata's spelling: Jinja2, pydantic_core)."""
        package = data.PACKAGE_INDEX.get(name)
        return (package.display if package else "") or self.image.names.get(name, name)

    def pip_show(self, call: Invocation, names: list[str]) -> int:
        found = False
        for name in (canonical_name(n) for n in names if not n.startswith("-")):
            if name in self.env_state.packages:
                found = True
                call.out.line(f"Name: {self.shown_name(name)}")
                call.out.line(f"Version: {self.env_state.packages[name]}")
                call.out.line(f"Location: {SITE_PACKAGES}")
        if not found:
            call.err.line(f"WARNING: Package(s) not found: {', '.join(names)}")
        return 0 if found else 1

    # -- vllm serve -------------------------------------------------------------------------------

    def serve(self, call: Invocation, args: list[str], positional_model: bool) -> int:
        command = parse_serve_args(args, positional_model)
        situation = self.situation(command)
        missing = situation.missing_omni_modules
        speech_stage = situation.omni_active and command.speech_model
        details: dict[str, object] = {
            "model": command.model,
            "port": command.port,
            "vllm_version": self.image.vllm_version,
            "non_default_args": command.non_default_args,
            "missing_module": missing[0] if missing else "",
            "missing_module_symbol": data.MISSING_MODULE_SYMBOLS.get(missing[0], "*") if missing else "",
            "omni_source": self.env_state.sources.get("vllm-omni", SITE_PACKAGES),
            "engine_flags": ", ".join(
                f"{flag} {command.options[flag[2:].replace('-', '_')]}" for flag in situation.engine_flags
            ),
            "dtype": data.STAGE_DTYPE if speech_stage else torch_dtype(command.options.get("dtype")),
            "max_model_len": command.max_model_len,
        }
        self.wait(data.seconds("vllm-cli-start"))
        for stage in ("cli", "omni-import", "config", "omni-stage", "engine"):
            if stage == "config":  # the CLI is up: vLLM announces itself, then resolves the model config
                self.print_lines(call.out, data.SERVE_BANNER, details)
            if stage in data.STAGE_TIMINGS:
                self.wait(data.seconds(data.STAGE_TIMINGS[stage]))
            rule = data.first_rule(stage, situation)
            if rule is None:
                continue
            self.print_lines(call.err, rule.log, details)
            if rule.exit_code is not None:
                return rule.exit_code
        return self.load_and_serve(call, command, details)

    def situation(self, command: ServeCommand | None = None, **pip_stage: object) -> data.Situation:
        packages = self.env_state.packages
        omni_version = packages.get("vllm-omni")
        torch = packages.get("torch", "")
        serve: dict[str, object] = {}
        if command is not None:
            serve = {
                "qwen3_tts_model": command.speech_model,
                "omni_flag": command.omni,
                "stage_configs_path": command.given("--stage-configs-path"),
                "engine_flags": tuple(f for f in data.STAGE_CONFIG_ENGINE_FLAGS if command.given(f)),
            }
        return data.Situation(
            image_vllm_version=self.image.vllm_version,
            omni_version=omni_version,
            omni_matches_vllm=omni_version is not None and same_minor(omni_version, self.image.vllm_version),
            missing_omni_modules=self.env_state.missing_omni_modules(),
            # Another torch release breaks vLLM's kernels; the same release of another build does not.
            torch_replaced=version_key(torch) != version_key(self.image.torch_version),
            build_failure_fault=self.ctx.faults.get("flash-attn-build-failure") is not None,
            **serve,  # type: ignore[arg-type]
            **pip_stage,  # type: ignore[arg-type]
        )

    def load_and_serve(self, call: Invocation, command: ServeCommand, details: dict[str, object]) -> int:
        self.print_lines(call.out, data.MODEL_LOAD_START_LOG, details)
        try:
            self.server = ModelServer(
                host=self.ctx.pod_ip,
                port=command.port,
                model_id=command.served_model_name,
                model_root=command.model,
                max_model_len=command.max_model_len,
                speech=command.speech_model,
                faults=self.ctx.faults,
                time_scale=self.ctx.clock.time_scale,
                log=self.ctx.log,
            )
        except OSError as exc:
            call.err.line(
                f"OSError: [Errno {exc.errno}] {exc.strerror}: ('{self.ctx.pod_ip}', {command.port})"
            )
            return 1
        slow = self.ctx.faults.get("slow-model-load")
        load_seconds = data.seconds("model-load") * (float(slow.get("factor", 10.0)) if slow else 1.0)
        self.wait(load_seconds)
        self.print_lines(call.out, data.rules_for("serving")[0].log, details | {"load_seconds": load_seconds})
        if command.speech_model:
            self.print_lines(call.out, data.SPEECH_ROUTE_LOG, details)
        self.print_lines(call.out, data.APP_STARTUP_LOG, details)
        self.server.mark_loaded()
        while True:  # serve until the kubelet stops the container (wait raises Interrupted)
            self.wait(3600)

    def print_lines(self, target: Output, lines: Iterable[str], details: dict[str, object]) -> None:
        for line in lines:
            text = line.format(ts=self.timestamp(), **details)
            if text or line == "":  # a line that is only an empty placeholder prints nothing
                target.line(text)


def torch_dtype(value: object) -> str:
    """vLLM's dtype for ``--dtype``: the checkpoint's (bfloat16 for Qwen3 models) unless told."""
    names = {"half": "float16", "float": "float32", "bf16": "bfloat16"}
    text = str(value or "auto")
    return "torch.bfloat16" if text == "auto" else f"torch.{names.get(text, text)}"


def parse_serve_args(args: list[str], positional_model: bool) -> ServeCommand:
    model = ""
    options: dict[str, object] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("--"):
            name, has_value, value = arg[2:].partition("=")
            key = name.replace("-", "_")
            if has_value:
                options[key] = value
            elif (
                _SERVE_FLAGS_WITHOUT_VALUE.match(f"--{name}")
                or index + 1 >= len(args)
                or args[index + 1].startswith("--")
            ):
                options[key] = True
            else:
                options[key] = args[index + 1]
                index += 1
        elif positional_model and not model:
            model = arg
        index += 1
    model = model or str(options.pop("model", "")) or "Qwen/Qwen3-0.6B"
    options.pop("model", None)
    port = int(str(options.get("port", data.DEFAULT_SERVE_PORT)))
    served = str(options.get("served_model_name") or model)
    max_len = int(str(options.get("max_model_len", 4096)))
    shown = {"model_tag" if positional_model else "model": model, **options}
    shown = {k: int(v) if isinstance(v, str) and v.isdigit() else v for k, v in shown.items() if k != "omni"}
    return ServeCommand(model, port, bool(options.get("omni")), served, max_len, shown, options)


# ---------------------------------------------------------------------------------------------
# pip install
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    version: str
    requirement: Requirement
    direct: bool


@dataclass(frozen=True)
class _Wanted:
    """One requirement on the resolver's queue, with the chain pip prints as "(from a->b)"."""

    requirement: Requirement
    chain: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None  # (name, version) of the package that requires it


class PipInstall:
    """One ``pip install`` invocation: parse, resolve against the index, print like pip, apply."""

    def __init__(self, container: VllmContainer, call: Invocation) -> None:
        self.container = container
        self.call = call
        self.out = call.out
        self.env = container.env_state
        self.upgrade = False
        self.no_deps = False
        self.force = False
        self.find_links = False
        self.build_isolation = True
        self.verbose = False
        self.dry_run = False
        self.only_binary: set[str] = set()  # --only-binary names, or ":all:"
        self.requirements: list[Requirement] = []
        self.constraints: dict[str, list[Specifier]] = {}
        self.held: dict[str, list[Specifier]] = {}  # constraints + direct requirements' specifiers

    def run(self, args: list[str]) -> int:
        err = self.call.err
        try:
            self.parse(args)
            if not self.requirements:
                raise RequirementError(
                    'You must give at least one requirement to install (see "pip help install")'
                )
            self.container.wait(data.seconds("pip-resolve"))
            self.requirements = [self.identify(r) for r in self.requirements]
            for requirement in self.requirements:  # a pin on the command line holds like a constraint
                self.held.setdefault(requirement.name, []).extend(requirement.specifiers)
            plan = self.resolve()
            if not plan:
                return 0
            if self.dry_run:
                shown = " ".join(f"{display_name(n)}-{p.version}" for n, p in sorted(plan.items()))
                self.out.line(f"Would install {shown}")
                return 0
            return self.install(plan)
        except RequirementError as exc:
            message = str(exc)
            for line in (message if message.startswith("ERROR") else f"ERROR: {message}").splitlines():
                err.line(line)
            return 1
        except PipFailure as failure:
            return failure.status

    def fail_by_rule(self, stage: str, details: dict[str, object], **situation: object) -> None:
        """Apply the first rule of a pip stage that fits; a failing one ends the command (PipFailure)."""
        rule = data.first_rule(stage, self.container.situation(**situation))
        if rule is None:
            return
        if rule.timing:
            self.container.wait(data.seconds(rule.timing))
        self.container.print_lines(self.call.err if rule.exit_code else self.out, rule.log, details)
        if rule.exit_code:
            raise PipFailure(rule.exit_code)

    # -- parsing ----------------------------------------------------------------------------------

    def parse(self, args: list[str]) -> None:
        constraint_files = self.call.env.get("PIP_CONSTRAINT", "").split()
        index = 0
        while index < len(args):
            arg = args[index]
            long_name, has_inline, inline = arg.partition("=") if arg.startswith("--") else ("", False, "")
            option = long_name or arg[:2]

            def value(
                arg: str = arg, long_name: str = long_name, has_inline: str = has_inline, inline: str = inline
            ) -> str:
                nonlocal index
                if has_inline:
                    return inline
                if not long_name and len(arg) > 2:  # -cFILE
                    return arg[2:]
                index += 1
                if index >= len(args):
                    raise RequirementError(f"{arg} option requires 1 argument")
                return args[index]

            if arg in ("-U", "--upgrade"):
                self.upgrade = True
            elif arg == "--no-deps":
                self.no_deps = True
            elif arg in ("--force-reinstall", "-I", "--ignore-installed"):
                self.force = True
            elif arg == "--no-build-isolation":
                self.build_isolation = False
            elif arg == "--dry-run":
                self.dry_run = True
            elif re.fullmatch(r"-v+|--verbose", arg):
                self.verbose = True
            elif re.fullmatch(r"-q+|--quiet", arg):
                self.out = Output(None)  # pip -q: only warnings and errors
            elif option in ("-c", "--constraint"):
                constraint_files.append(value())
            elif option in ("-r", "--requirement"):
                lines = self.read_requirement_lines(value())
                self.requirements += [parse_requirement(line, self.call.cwd) for line in lines]
            elif option in ("-e", "--editable"):
                self.requirements.append(replace(parse_requirement(value(), self.call.cwd), editable=True))
            elif option == "--only-binary":
                self.only_binary |= {canonical_name(n.strip()) for n in value().split(",") if n.strip()}
            elif option in _PIP_VALUE_OPTIONS:
                self.find_links = self.find_links or option in ("-f", "--find-links")
                value()
            elif not arg.startswith("-"):
                self.requirements.append(parse_requirement(arg, self.call.cwd))
            index += 1
        for path in constraint_files:
            for line in self.read_requirement_lines(path):
                try:
                    requirement = parse_requirement(line, self.call.cwd)
                except RequirementError:
                    continue
                self.constraints.setdefault(requirement.name, []).extend(requirement.specifiers)
                self.held.setdefault(requirement.name, []).extend(requirement.specifiers)

    def read_requirement_lines(self, path: str) -> list[str]:
        text = self.call.fs.read(self.call.path(path))
        if text is None:
            raise RequirementError(
                f"Could not open requirements file: [Errno 2] No such file or directory: '{path}'"
            )
        lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line and not line.startswith(("#", "-"))]

    def identify(self, requirement: Requirement) -> Requirement:
        """Name a source tree, archive or URL by the project inside it (vllm-omni and its version)."""
        fs = self.call.fs
        if requirement.local_path is not None:
            path = requirement.local_path
            archive = fetch.archive_of(fs.read(path))
            if archive is not None and not requirement.editable:
                return replace(requirement, name=archive.project, source_version=archive.version)
            if not fs.is_directory(path):
                problem = (
                    "is not a valid editable requirement. It should either be a path to a local project or a "
                    "VCS URL (beginning with git+http, git+https, git+ssh, git+file, hg+..., svn+...)."
                    if requirement.editable
                    else "does not exist"
                )
                raise RequirementError(f"ERROR: {requirement.display()} {problem}")
            project = fetch.project_at(fs.read, path)
            if project is None:
                raise RequirementError(
                    f"ERROR: Directory '{requirement.display()}' is not installable. "
                    "Neither 'setup.py' nor 'pyproject.toml' found."
                )
            return replace(requirement, name=canonical_name(project[0]), source_version=project[1])
        if requirement.url is not None:
            download = download_for(requirement.url)
            if download is None:
                raise RequirementError(f"ERROR: HTTP error 404 while getting {requirement.url}")
            return replace(requirement, name=download.project, source_version=download.version)
        if requirement.git_ref is not None and not self.container.on_path("git"):
            url = requirement.text[4:].split("@")[0]
            revision = f" (to revision {requirement.git_ref})" if requirement.git_ref else ""
            self.out.line(f"Collecting {requirement.display()}")
            self.out.line(f"  Cloning {url}{revision} to /tmp/pip-req-build-{requirement.name}")
            self.call.err.line(data.PIP_NO_GIT_DETAIL)
            raise RequirementError(data.PIP_NO_GIT)
        return requirement

    # -- resolution -------------------------------------------------------------------------------

    def resolve(self) -> dict[str, Planned]:
        """What to (re)install, printing pip's "Collecting" / "Requirement already satisfied" lines."""
        out = self.out
        plan: dict[str, Planned] = {}
        wanted: dict[str, list[Specifier]] = {}
        satisfied: set[str] = set()  # pip reports an already satisfied project once
        queue = [_Wanted(r) for r in self.requirements]
        while queue:
            item = queue.pop(0)
            requirement, chain = item.requirement, item.chain
            name = requirement.name
            wanted.setdefault(name, []).extend(requirement.specifiers)
            planned = plan.get(name)
            installed = self.env.packages.get(name)
            from_text = f" (from {'->'.join(chain)})" if chain else ""
            upgrade = self.upgrade and not chain and requirement.source_version is None
            if upgrade and installed and not self.force and satisfies(installed, wanted[name]):
                # -U: pip first finds the installed one, then looks for a newer
                out.line(
                    f"Requirement already satisfied: {requirement.display()} in {SITE_PACKAGES} ({installed})"
                )
            version = requirement.source_version or self.choose(item, wanted[name], planned)
            if planned is not None and planned.version == version:
                continue
            if version == installed and not self.force and requirement.source_version is None:
                if name not in satisfied:
                    satisfied.add(name)
                    shown = f"{requirement.display()} in {SITE_PACKAGES}{from_text}"
                    out.line(f"Requirement already satisfied: {shown} ({installed})")
                continue
            self.collect(requirement, name, version, from_text)
            plan[name] = Planned(
                version, requirement, direct=not chain or (planned is not None and planned.direct)
            )
            if self.no_deps:
                continue
            link = f"{name}=={version}" if not chain and requirement.from_source else requirement.display()
            dependencies = [*index_requirements(name, version)]
            package = data.PACKAGE_INDEX.get(name)
            for extra in requirement.extras:
                dependencies += package.extras.get(extra, ()) if package else ()
            for text in dependencies:
                queue.append(_Wanted(parse_requirement(text, "/"), (link, *chain), (name, version)))
        return plan

    def choose(self, item: _Wanted, specifiers: list[Specifier], planned: Planned | None) -> str:
        """pip's pick: what is planned or installed when it fits (unless -U on a direct requirement),
        else the newest allowed version whose own requirements fit the constraints and what installed
        packages need (one level of backtracking)."""
        requirement = item.requirement
        name = requirement.name
        constraint = self.constraints.get(name, [])
        everything = [*specifiers, *constraint]
        if planned is not None and satisfies(planned.version, everything):
            return planned.version
        installed = self.env.packages.get(name)
        upgrade = self.upgrade and not item.chain
        if installed and satisfies(installed, everything) and not upgrade and not self.force:
            return installed
        package = data.PACKAGE_INDEX.get(name)
        if package is None:  # not modelled: take the pin if there is one
            pinned = next((v for op, v in everything if op in ("==", "===")), None)
            return pinned or installed or "1.0.0"
        blocked: tuple[str, Requirement] | None = None  # the newest candidate and what it cannot have
        for version in (v for v in reversed(package.versions) if satisfies(v, everything)):
            dependencies = [parse_requirement(t, "/") for t in index_requirements(name, version)]
            unfit = next((d for d in dependencies if not self.fits(d, name)), None)
            if unfit is None:
                return version
            blocked = blocked or (version, unfit)
        if blocked is not None:  # the conflict is one level down: name the requirement and the constraint
            version, unfit = blocked
            item = _Wanted(unfit, (requirement.display(), *item.chain), (name, version))
            specifiers, constraint = list(unfit.specifiers), self.held.get(unfit.name, [])
        conflict = self.conflict_message(item, specifiers, constraint)
        self.fail_by_rule("pip-resolve", {"conflict": conflict}, conflict=conflict)
        raise RequirementError(conflict)  # only if the table had no row for it

    def fits(self, dependency: Requirement, required_by: str) -> bool:
        package = data.PACKAGE_INDEX.get(dependency.name)
        others = [
            *self.held.get(dependency.name, []),
            *self.env.needs(dependency.name, excluding=[required_by]),
        ]
        if not others or package is None:
            return True
        candidates = [*package.versions, self.env.packages.get(dependency.name) or "0"]
        return any(satisfies(v, [*dependency.specifiers, *others]) for v in candidates)

    def conflict_message(
        self, item: _Wanted, specifiers: list[Specifier], constraint: list[Specifier]
    ) -> str:
        """pip's ResolutionImpossible report (fact pip-resolution-impossible, its upstream log)."""
        requirement = item.requirement
        name = requirement.name
        roots = [item.chain[-1] if item.chain else requirement.display()]
        direct = next((r for r in self.requirements if r.name == name and r.specifiers), None)
        causes = []
        if direct is not None and item.parent:  # a pin on the command line: pip names both requirements
            roots.append(direct.display())
            causes.append(f"    The user requested {direct.display()}")
        elif constraint or self.constraints.get(name):
            held = ",".join(op + v for op, v in self.constraints.get(name, constraint))
            causes.append(f"    The user requested (constraint) {name}{held}")
        if item.parent:
            causes.append(f"    {item.parent[0]} {item.parent[1]} depends on {requirement.display()}")
        else:
            causes.append(f"    The user requested {name}{','.join(op + v for op, v in specifiers)}")
        return "\n".join(
            [
                f"ERROR: Cannot install {' and '.join(roots)} because these package versions have "
                "conflicting dependencies.",
                "",
                "The conflict is caused by:",
                *causes,
                "",
                "Additionally, some packages in these conflicts have no matching distributions available for "
                "your environment:",
                f"    {name}",
                "",
                "To fix this you could try to:",
                "1. loosen the range of package versions you've specified",
                "2. remove package versions to allow pip to attempt to solve the dependency conflict",
                "",
                "ERROR: ResolutionImpossible: for help visit "
                "https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts",
            ]
        )

    # -- output and effect ------------------------------------------------------------------------

    def sdist(self, name: str, requirement: Requirement) -> bool:
        """Built from source: PyPI has only an sdist, and no wheel is given by file, URL or --find-links."""
        package = data.PACKAGE_INDEX.get(name)
        return bool(package and package.sdist) and not (self.find_links or requirement.wheel_version)

    def collect(self, requirement: Requirement, name: str, version: str, from_text: str) -> None:
        """pip's lines for finding one project, and preparing its metadata when it is a source tree."""
        out = self.out
        binary_only = ":all:" in self.only_binary or name in self.only_binary
        sdist = self.sdist(name, requirement)
        # pip names a direct requirement as it was asked for (flash-attn==2.8.3.post2), a dependency by name
        asked = name if from_text else requirement.display()
        self.fail_by_rule("pip-find", {"package": asked}, only_binary=binary_only, sdist_only=sdist)
        if requirement.local_path is not None or requirement.url is not None:
            if requirement.editable:
                out.line(f"Obtaining file://{requirement.local_path}")
            else:
                out.line(f"Processing {requirement.local_path or requirement.url}")
            self.prepare(name, editable=requirement.editable)
            return
        shown = requirement.display()
        if requirement.extras and from_text:  # pip names the project, then how it was asked for
            shown, from_text = (
                shown.replace(f"[{','.join(requirement.extras)}]", ""),
                f" (from {shown}->{from_text.removeprefix(' (from ')}",
            )
        out.line(f"Collecting {shown}{from_text}")
        filename = display_name(name).replace("-", "_")
        if sdist:
            out.line(f"  Downloading {filename}-{version}.tar.gz")
            self.prepare(name, editable=False)
        else:
            out.line(f"  Downloading {filename}-{version}-py3-none-any.whl")

    def prepare(self, name: str, editable: bool) -> None:
        """PEP 517 metadata preparation of a source tree (where flash-attn fails under isolation)."""
        out = self.out
        kind = "editable" if editable else "wheel"
        if self.build_isolation:
            out.line("  Installing build dependencies: started")
            out.line("  Installing build dependencies: finished with status 'done'")
        if editable:
            out.line("  Checking if build backend supports build_editable: started")
            out.line("  Checking if build backend supports build_editable: finished with status 'done'")
        out.line(f"  Getting requirements to build {kind}: started")
        self.fail_by_rule("pip-metadata", {}, pip_package=name, build_isolation=self.build_isolation)
        out.line(f"  Getting requirements to build {kind}: finished with status 'done'")
        shown = "editable metadata" if editable else "metadata"
        out.line(f"  Preparing {shown} (pyproject.toml): started")
        out.line(f"  Preparing {shown} (pyproject.toml): finished with status 'done'")

    def install(self, plan: dict[str, Planned]) -> int:
        out, err = self.out, self.call.err
        for name, planned in plan.items():
            if planned.direct or name == "torch":
                self.container.wait(data.seconds(self.download_timing(name)))
        built = [n for n, p in plan.items() if p.requirement.from_source or self.sdist(n, p.requirement)]
        if built:
            out.line(f"Building wheels for collected packages: {', '.join(built)}")
            for name in built:
                self.build(name, plan[name])
            out.line(f"Successfully built {' '.join(built)}")
        out.line(f"Installing collected packages: {', '.join(display_name(n) for n in sorted(plan))}")
        for name in sorted(plan):
            old = self.env.packages.get(name)
            if old:
                shown = self.container.shown_name(name)
                out.line(f"  Attempting uninstall: {shown}")
                out.line(f"    Found existing installation: {shown} {old}")
                out.line(f"    Uninstalling {shown}-{old}:")
                out.line(f"      Successfully uninstalled {shown}-{old}")
        for name, planned in plan.items():
            self.env.packages[name] = planned.version
            if planned.requirement.local_path is not None:
                self.env.sources[name] = planned.requirement.local_path
            if planned.requirement.editable:
                self.env.editable.add(name)
        self.print_conflicts(changed=set(plan))
        shown = " ".join(f"{display_name(n)}-{p.version}" for n, p in sorted(plan.items()))
        out.line(f"Successfully installed {shown}")
        if self.call.env.get("PIP_ROOT_USER_ACTION") != "ignore":
            err.line(data.PIP_ROOT_WARNING)
        return 0

    def download_timing(self, name: str) -> str:
        if name == "vllm-omni":
            return "pip-vllm-omni-no-deps" if self.no_deps else "pip-vllm-omni"
        if name == "flash-attn":
            return "flash-attn-wheel"  # a source build is timed by its pip-build rule
        return {"torch": "pip-torch"}.get(name, "pip-package")

    def build(self, name: str, planned: Planned) -> None:
        """Build one source tree into a wheel; flash-attn's build is decided by the pip-build rows."""
        out = self.out
        kind = "editable" if planned.requirement.editable else "wheel"
        out.line(f"  Building {kind} for {name} (pyproject.toml): started")
        situation = self.container.situation(pip_package=name, build_isolation=self.build_isolation)
        rule = data.first_rule("pip-build", situation)
        if rule is None:
            out.line(f"  Building {kind} for {name} (pyproject.toml): finished with status 'done'")
            return
        forced = self.call.env.get("FLASH_ATTENTION_FORCE_BUILD", "").upper() == "TRUE"
        guess = () if forced else data.FLASH_ATTN_WHEEL_GUESS
        if self.verbose:  # pip shows a build's own output only with -v (or when it fails)
            for line in guess:
                out.line(f"  {line}")
        total, elapsed = data.seconds(rule.timing), 0.0
        while elapsed < total:  # pip's heartbeat while a long build runs
            step = min(60.0, total - elapsed)
            self.container.wait(step)
            elapsed += step
            if elapsed < total:
                out.line(f"  Building {kind} for {name} (pyproject.toml): still running...")
        details = {
            "torch_version": self.env.packages.get("torch", ""),
            "version": planned.version,
            "wheel_guess": "\n".join(f"      {line}" for line in guess),
        }
        self.container.print_lines(self.call.err if rule.exit_code else out, rule.log, details)
        if rule.exit_code:
            raise PipFailure(rule.exit_code)

    def print_conflicts(self, changed: set[str]) -> None:
        """pip's after-the-fact warning: installed packages whose requirements this install broke."""
        broken = self.env.broken(only=changed)
        if not broken:
            return
        self.call.err.line(data.PIP_CONFLICT_HEADER)
        for package, version, requirement, installed in broken:
            self.call.err.line(
                data.PIP_CONFLICT_LINE.format(
                    package=package,
                    version=version,
                    requirement=requirement.display(),
                    name=requirement.name,
                    installed=installed,
                )
            )


class VllmRuntime:
    """Images whose repository is vllm/vllm-openai or vllm/vllm-omni, under any registry."""

    name = "vllm"

    def matches(self, image: str) -> bool:
        return split_image(image)[0] in IMAGE_REPOSITORIES

    def create(self, spec: ContainerSpec, ctx: RuntimeContext) -> VllmContainer:
        return VllmContainer(spec, ctx)
