"""The vLLM runtime: a container of ``vllm/vllm-openai`` or ``vllm/vllm-omni`` run step by step.

The container's ``command + args`` (or the image's ``vllm serve`` entrypoint + args) go through the
safe shell interpreter (``shell.py``); this module supplies the programs a bootstrap uses:

- ``git clone`` (remembers where and at which ref vllm-omni was cloned), ``git checkout``;
- ``pip install`` with a small resolver over ``vllm_rules.PACKAGE_INDEX`` (``-U``, pins, ``-e``,
  ``--no-deps``, ``-c``/``--constraint``/``PIP_CONSTRAINT``, ``-r``), ``pip freeze``/``list``/``show``;
- ``vllm serve`` (and ``python -m vllm.entrypoints.openai.api_server``): checks the rules of
  ``vllm_rules.RULES`` stage by stage, then loads the model and serves real HTTP (``tts_server.py``).

All waiting is simulated time (``ctx.clock``); a stop (``ctx.stop``) interrupts any step and the
container returns ``KILLED`` with its listener closed.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sandbox.runtimes import vllm_rules as data
from sandbox.runtimes.base import KILLED, ContainerSpec, RuntimeContext
from sandbox.runtimes.shell import FileSystem, Interrupted, Invocation, LineLog, Output, Shell
from sandbox.runtimes.tts_server import ModelServer

SITE_PACKAGES = "/usr/local/lib/python3.12/dist-packages"

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

    @property
    def prerelease(self) -> bool:
        return self.repository == data.OMNI_IMAGE_REPOSITORY and "rc" in self.tag.lower()

    @classmethod
    def of(cls, image: str) -> ImageProfile:
        repository, tag = split_image(image)
        release = re.match(r"v?(\d+\.\d+\.\d+)((?:rc|a|b)\d+)?", tag)
        vllm_version = release.group(1) if release else data.PACKAGE_INDEX["vllm"].versions[-1]
        packages = dict(data.IMAGE_PACKAGES, vllm=vllm_version)
        omni = None
        if repository == data.OMNI_IMAGE_REPOSITORY:
            omni = vllm_version + (release.group(2) or "" if release else "")
            packages.update(data.OMNI_IMAGE_EXTRA_PACKAGES)
            packages["vllm-omni"] = omni
        return cls(repository, tag, vllm_version, packages["torch"], omni, packages)


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
    local_path: str | None = None  # a local project (editable or not)
    git_ref: str | None = None  # for git+URL@ref requirements ("" = default branch)
    wheel_version: str | None = None  # a direct .whl file or URL: prebuilt, nothing to compile
    text: str = ""
    editable: bool = False
    source_version: str | None = None  # the version a checkout/git URL installs as (set by PipInstall)

    def display(self) -> str:
        return self.text or self.name


_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*(;.*)?$")
_WHEEL_NAME = re.compile(r"([A-Za-z0-9_.]+)-(\d[^-]*)-[^/]*\.whl$")


class RequirementError(ValueError):
    pass


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
    return Requirement(canonical_name(match.group(1)), tuple(specifiers), text=text)


# ---------------------------------------------------------------------------------------------
# The container's Python environment
# ---------------------------------------------------------------------------------------------


@dataclass
class Clone:
    url: str
    ref: str  # "" = the default branch (main)
    shallow: bool

    @property
    def is_vllm_omni(self) -> bool:
        return data.VLLM_OMNI_REPOSITORY in self.url

    def omni_version(self) -> str:
        return self.ref.lstrip("v") if re.match(r"v?\d+\.\d+", self.ref) else data.VLLM_OMNI_MAIN_VERSION


@dataclass
class Environment:
    """What is installed in the container, as pip would report it, plus how vllm-omni got there."""

    image: ImageProfile
    packages: dict[str, str]
    clones: dict[str, Clone] = field(default_factory=dict)

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


# ---------------------------------------------------------------------------------------------
# The container
# ---------------------------------------------------------------------------------------------

_PIP_VALUE_OPTIONS = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix",
    "--root", "--src", "--upgrade-strategy", "--cache-dir", "--log", "--timeout", "--retries",
    "--trusted-host", "--only-binary", "--no-binary", "--platform", "--python-version", "--progress-bar",
    "-C", "--config-settings", "--root-user-action", "--abi", "--implementation", "--report",
}  # fmt: skip

_SERVE_FLAGS_WITHOUT_VALUE = re.compile(
    r"--(omni|trust-remote-code|enforce-eager|enable-.*|disable-.*|no-.*)$"
)


@dataclass(frozen=True)
class ServeCommand:
    model: str
    port: int
    omni: bool
    served_model_name: str
    max_model_len: int
    non_default_args: dict[str, object]

    @property
    def speech_model(self) -> bool:
        """A Qwen3-TTS checkpoint (model type qwen3_tts), recognised by its path or served name."""
        return "qwen3-tts" in f"{self.model} {self.served_model_name}".lower()


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
        argv = list(self.spec.command or data.IMAGE_ENTRYPOINT) + list(self.spec.args)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
        env |= {"HOSTNAME": self.spec.pod_name} | dict(self.spec.env)
        lines = LineLog(self.ctx.log)
        output = Output(lines.write)
        shell = Shell(self.run_program, self.fs, sleep=self.wait)
        try:
            return shell.run_invocation(argv, env, output, output)
        except Interrupted:
            return KILLED
        finally:
            lines.flush()
            if self.server is not None:
                self.server.close()
                self.server = None

    def wait(self, simulated_seconds: float) -> None:
        if not self.ctx.clock.sleep(simulated_seconds, self.ctx.stop):
            raise Interrupted()

    def timestamp(self) -> str:
        """vLLM's log time (MM-DD HH:MM:SS) on the simulated clock."""
        elapsed = (time.monotonic() - self._started) * self.ctx.clock.time_scale
        return time.strftime("%m-%d %H:%M:%S", time.localtime(self._wall_start + elapsed))

    def run_program(self, call: Invocation) -> int:
        program, args = call.program, call.argv[1:]
        if program in ("pip", "pip3") or re.fullmatch(r"pip3\.\d+", program):
            return self.pip(call, args)
        if re.fullmatch(r"python(3(\.\d+)?)?", program) and args[:2] == ["-m", "pip"]:
            return self.pip(call, args[2:])
        if re.fullmatch(r"python(3(\.\d+)?)?", program) and args[:2] == [
            "-m",
            "vllm.entrypoints.openai.api_server",
        ]:
            return self.serve(call, args[2:], positional_model=False)
        if program == "uv" and args[:1] == ["pip"]:
            return self.pip(call, args[1:])
        if program == "git":
            return self.git(call, args)
        if program == "vllm" and args[:1] == ["serve"]:
            return self.serve(call, args[1:], positional_model=True)
        return 0  # nvidia-smi, huggingface-cli, python -c ...: nothing the rules look at

    # -- git --------------------------------------------------------------------------------------

    def git(self, call: Invocation, args: list[str]) -> int:
        cwd = call.cwd
        while args[:1] == ["-C"] and len(args) > 1:
            cwd = posixpath.normpath(posixpath.join(cwd, args[1]))
            args = args[2:]
        if args[:1] == ["clone"]:
            return self.git_clone(call, cwd, args[1:])
        if args[:1] == ["checkout"] and len(args) > 1:
            return self.git_checkout(call, cwd, args[-1])
        if args[:1] == ["fetch"] and cwd in self.env_state.clones:
            self.env_state.clones[cwd].shallow = False  # refs fetched: a later checkout can find them
        return 0

    def git_clone(self, call: Invocation, cwd: str, args: list[str]) -> int:
        ref, shallow, positional = "", False, []
        index = 0
        while index < len(args):
            arg = args[index]
            if arg in ("-b", "--branch"):
                ref = args[index + 1] if index + 1 < len(args) else ""
                index += 1
            elif arg.startswith("--branch="):
                ref = arg.split("=", 1)[1]
            elif arg == "--depth" or arg.startswith("--depth="):
                shallow = True
                index += 0 if "=" in arg else 1
            elif arg in ("-o", "--origin", "-c", "--config", "--reference", "--filter", "-j", "--jobs"):
                index += 1
            elif not arg.startswith("-"):
                positional.append(arg)
            index += 1
        if not positional:
            call.err.line("fatal: You must specify a repository to clone.")
            return 129
        url = positional[0]
        default_dir = posixpath.basename(url.rstrip("/")).removesuffix(".git")
        target = posixpath.normpath(
            posixpath.join(cwd, positional[1] if len(positional) > 1 else default_dir)
        )
        if self.fs.exists(target):
            call.err.line(f"fatal: destination path '{target}' already exists and is not an empty directory.")
            return 128
        call.err.line(f"Cloning into '{positional[1] if len(positional) > 1 else default_dir}'...")
        self.wait(data.seconds("git-clone" if shallow else "git-clone-full"))
        self.fs.make_directory(target)
        self.fs.write(posixpath.join(target, "pyproject.toml"), "[project]\n")
        self.env_state.clones[target] = Clone(url, ref, shallow)
        if re.match(r"v?\d", ref):  # a tag: git leaves a detached HEAD and says so
            commit = hashlib.sha1(f"{url}@{ref}".encode()).hexdigest()
            call.err.line(f"Note: switching to '{commit}'.")
            call.err.line("")
            call.err.line("You are in 'detached HEAD' state. You can look around, make experimental")
            call.err.line("changes and commit them, and you can discard any commits you make in this")
            call.err.line("state without impacting any branches by switching back to a branch.")
        return 0

    def git_checkout(self, call: Invocation, cwd: str, ref: str) -> int:
        clone = self.env_state.clones.get(cwd)
        if clone is None:
            call.err.line("fatal: not a git repository (or any of the parent directories): .git")
            return 128
        if clone.shallow and ref != clone.ref:
            call.err.line(f"error: pathspec '{ref}' did not match any file(s) known to git")
            return 1
        clone.ref = ref
        return 0

    # -- pip --------------------------------------------------------------------------------------

    def pip(self, call: Invocation, args: list[str]) -> int:
        command = args[0] if args else ""
        if command in ("freeze", "list"):
            self.wait(data.seconds("pip-freeze"))
            for name, version in sorted(self.env_state.packages.items()):
                call.out.line(f"{name}=={version}" if command == "freeze" else f"{name:<30} {version}")
            return 0
        if command == "show":
            return self.pip_show(call, args[1:])
        if command == "uninstall":
            for name in (canonical_name(a) for a in args[1:] if not a.startswith("-")):
                version = self.env_state.packages.pop(name, None)
                if version:
                    call.out.line(f"Found existing installation: {name} {version}")
                    call.out.line(f"Successfully uninstalled {name}-{version}")
            return 0
        if command == "install":
            return PipInstall(self, call).run(args[1:])
        return 0

    def pip_show(self, call: Invocation, names: list[str]) -> int:
        found = False
        for name in (canonical_name(n) for n in names if not n.startswith("-")):
            if name in self.env_state.packages:
                found = True
                call.out.line(f"Name: {name}")
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
        details: dict[str, object] = {
            "model": command.model,
            "port": command.port,
            "vllm_version": self.image.vllm_version,
            "non_default_args": command.non_default_args,
            "missing_module": missing[0] if missing else "",
            "missing_module_symbol": data.MISSING_MODULE_SYMBOLS.get(missing[0], "*") if missing else "",
        }
        self.wait(data.seconds("vllm-cli-start"))
        for stage in ("cli", "omni-import", "config", "engine"):
            if stage == "config":  # the CLI is up: vLLM announces itself, then resolves the model config
                self.print_lines(call.out, data.SERVE_BANNER, details)
            if stage in data.STAGE_TIMINGS:
                self.wait(data.seconds(data.STAGE_TIMINGS[stage]))
            for rule in data.rules_for(stage):
                if rule.applies(situation):
                    self.print_lines(call.err, rule.log, details)
                    return rule.exit_code or 0
        return self.load_and_serve(call, command, details)

    def situation(self, command: ServeCommand | None = None, **pip_stage: object) -> data.Situation:
        packages = self.env_state.packages
        omni_version = packages.get("vllm-omni")
        return data.Situation(
            image_vllm_version=self.image.vllm_version,
            image_torch_version=self.image.torch_version,
            prerelease_image=self.image.prerelease,
            qwen3_tts_model=command is not None and command.speech_model,
            omni_flag=command is not None and command.omni,
            omni_version=omni_version,
            omni_matches_vllm=omni_version is not None and same_minor(omni_version, self.image.vllm_version),
            missing_omni_modules=self.env_state.missing_omni_modules(),
            transformers_version=packages.get("transformers", "0"),
            torch_version=packages.get("torch", ""),
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
            target.line(line.format(ts=self.timestamp(), **details))


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
    return ServeCommand(model, port, bool(options.get("omni")), served, max_len, shown)


# ---------------------------------------------------------------------------------------------
# pip install
# ---------------------------------------------------------------------------------------------


class PipInstall:
    """One ``pip install`` invocation: parse, resolve against the index, print like pip, apply."""

    def __init__(self, container: VllmContainer, call: Invocation) -> None:
        self.container = container
        self.call = call
        self.env = container.env_state
        self.upgrade = False
        self.no_deps = False
        self.force = False
        self.find_links = False
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
            self.refuse_sdist_only()
            plan = self.resolve()
        except RequirementError as exc:
            message = str(exc)
            for line in (message if message.startswith("ERROR") else f"ERROR: {message}").splitlines():
                err.line(line)
            return 1
        return self.install(plan) if plan else 0

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
            elif option in ("-c", "--constraint"):
                constraint_files.append(value())
            elif option in ("-r", "--requirement"):
                lines = self.read_requirement_lines(value())
                self.requirements += [parse_requirement(line, self.call.cwd) for line in lines]
            elif option in ("-e", "--editable"):
                self.requirements.append(replace(parse_requirement(value(), self.call.cwd), editable=True))
            elif option == "--only-binary":
                self.only_binary |= {n.strip().lower() for n in value().split(",") if n.strip()}
            elif option in _PIP_VALUE_OPTIONS:
                self.find_links = self.find_links or option in ("-f", "--find-links")
                value()
            elif not arg.startswith("-"):
                self.requirements.append(parse_requirement(arg, self.call.cwd))
            index += 1
        self.requirements = [self.identify(r) for r in self.requirements]
        for requirement in self.requirements:  # a pin on the command line holds like a constraint
            self.held.setdefault(requirement.name, []).extend(requirement.specifiers)
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
        """Name projects installed from a checkout or a git URL by what they are (vllm-omni)."""
        if requirement.local_path is not None:
            clone = self.env.clones.get(requirement.local_path)
            if clone is None or not self.call.fs.is_directory(requirement.local_path):
                problem = (
                    "is not a valid editable requirement. It should either be a path to a local project or a "
                    "VCS URL (beginning with git+http, git+https, git+ssh, git+file, hg+..., svn+...)."
                    if requirement.editable
                    else "does not exist"
                )
                raise RequirementError(f"ERROR: {requirement.display()} {problem}")
            if clone.is_vllm_omni:
                return replace(requirement, name="vllm-omni", source_version=clone.omni_version())
            return replace(requirement, source_version="0.0.0")
        if requirement.git_ref is not None and data.VLLM_OMNI_REPOSITORY in requirement.text:
            clone = Clone(requirement.text, requirement.git_ref, shallow=True)
            return replace(requirement, name="vllm-omni", source_version=clone.omni_version())
        return requirement

    # -- resolution -------------------------------------------------------------------------------

    def resolve(self) -> dict[str, Planned]:
        """What to (re)install, printing pip's "Collecting" / "Requirement already satisfied" lines."""
        out = self.call.out
        plan: dict[str, Planned] = {}
        wanted: dict[str, list[Specifier]] = {}
        queue: list[tuple[Requirement, str | None]] = [(r, None) for r in self.requirements]
        while queue:
            requirement, parent = queue.pop(0)
            name = requirement.name
            wanted.setdefault(name, []).extend(requirement.specifiers)
            planned = plan.get(name)
            version = requirement.source_version or self.choose(requirement, wanted[name], parent, planned)
            if planned is not None and planned.version == version:
                continue
            installed = self.env.packages.get(name)
            from_text = f" (from {parent})" if parent else ""
            if version == installed and not self.force and requirement.source_version is None:
                shown = f"{requirement.display()} in {SITE_PACKAGES}{from_text}"
                out.line(f"Requirement already satisfied: {shown} ({installed})")
                continue
            self.print_collecting(requirement, version, from_text)
            plan[name] = Planned(
                version, requirement, direct=parent is None or (planned is not None and planned.direct)
            )
            if not self.no_deps:
                queue += [(dependency, name) for dependency in self.dependencies(name, version)]
        return plan

    def choose(
        self,
        requirement: Requirement,
        specifiers: list[Specifier],
        parent: str | None,
        planned: Planned | None,
    ) -> str:
        """pip's pick: what is planned or installed when it fits (unless -U on a direct requirement),
        else the newest allowed version whose own pins fit the constraints (one level of backtracking)."""
        name = requirement.name
        constraint = self.constraints.get(name, [])
        everything = [*specifiers, *constraint]
        if planned is not None and satisfies(planned.version, everything):
            return planned.version
        installed = self.env.packages.get(name)
        upgrade = self.upgrade and parent is None
        if installed and satisfies(installed, everything) and not upgrade and not self.force:
            return installed
        package = data.PACKAGE_INDEX.get(name)
        if package is None:  # not modelled: take the pin if there is one
            pinned = next((v for op, v in everything if op in ("==", "===")), None)
            return pinned or installed or "1.0.0"
        for version in (v for v in reversed(package.versions) if satisfies(v, everything)):
            if all(self.fits_constraints(dependency) for dependency in self.dependencies(name, version)):
                return version
        raise RequirementError(self.conflict_message(requirement, specifiers, constraint, parent))

    def conflict_message(
        self,
        requirement: Requirement,
        specifiers: list[Specifier],
        constraint: list[Specifier],
        parent: str | None,
    ) -> str:
        asked = requirement.name + ",".join(op + v for op, v in specifiers)
        lines = [
            f"ERROR: Cannot install {parent or requirement.display()} because these package versions have "
            "conflicting dependencies.",
            "",
            "The conflict is caused by:",
            f"    {parent} depends on {asked}" if parent else f"    The user requested {asked}",
        ]
        if constraint:
            held = ",".join(op + v for op, v in constraint)
            lines.append(f"    The user requested (constraint) {requirement.name}{held}")
        lines += [
            "",
            "To fix this you could try to:",
            "1. loosen the range of package versions you've specified",
            "2. remove package versions to allow pip to attempt to solve the dependency conflict",
            "",
            "ERROR: ResolutionImpossible: for help visit "
            "https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts",
        ]
        return "\n".join(lines)

    def fits_constraints(self, dependency: Requirement) -> bool:
        constraint = self.held.get(dependency.name)
        package = data.PACKAGE_INDEX.get(dependency.name)
        if not constraint or package is None:
            return True
        return any(satisfies(v, [*dependency.specifiers, *constraint]) for v in package.versions)

    @staticmethod
    def dependencies(name: str, version: str) -> list[Requirement]:
        package = data.PACKAGE_INDEX.get(name)
        requires = package.requires if package else ()
        return [parse_requirement(r.format(version=version), "/") for r in requires]

    # -- output and effect ------------------------------------------------------------------------

    def print_collecting(self, requirement: Requirement, version: str, from_text: str) -> None:
        out = self.call.out
        if requirement.local_path:
            out.line(
                f"{'Obtaining' if requirement.editable else 'Processing'} file://{requirement.local_path}"
            )
            out.line("  Installing build dependencies: started")
            out.line("  Installing build dependencies: finished with status 'done'")
            return
        if requirement.git_ref is not None:
            out.line(f"Collecting {requirement.display()}")
            out.line(
                f"  Cloning {requirement.text[4:].split('@')[0]} to /tmp/pip-req-build-{requirement.name}"
            )
            return
        shown = f"{requirement.name}=={version}" if from_text else requirement.display()
        out.line(f"Collecting {shown}{from_text}")
        filename = requirement.name.replace("-", "_")
        if self.compiles(requirement.name, requirement):
            out.line(f"  Downloading {filename}-{version}.tar.gz")
        else:
            out.line(f"  Downloading {filename}-{version}-py3-none-any.whl.metadata")

    def refuse_sdist_only(self) -> None:
        """``--only-binary``: a package with no wheel to be had is not found at all (fact 5), as pip says."""
        for requirement in self.requirements:
            name = requirement.name
            binary_only = ":all:" in self.only_binary or name in self.only_binary
            if binary_only and self.compiles(name, requirement):
                raise RequirementError(
                    f"ERROR: Could not find a version that satisfies the requirement {name} "
                    f"(from versions: none)\nERROR: No matching distribution found for {name}"
                )

    def compiles(self, name: str, requirement: Requirement) -> bool:
        # fact 5: PyPI has only flash-attn's sdist; a wheel comes from a .whl URL/file or --find-links
        return name == "flash-attn" and not (self.find_links or requirement.wheel_version)

    def install(self, plan: dict[str, Planned]) -> int:
        out, err = self.call.out, self.call.err
        for name, planned in plan.items():
            if planned.direct or name == "torch":
                self.container.wait(data.seconds(self.download_timing(name, planned.requirement)))
        from_source = [
            n for n, p in plan.items() if p.requirement.local_path or p.requirement.git_ref is not None
        ]
        if from_source:
            out.line(f"Building wheels for collected packages: {', '.join(from_source)}")
            for name in from_source:
                kind = "editable" if plan[name].requirement.editable else "wheel"
                out.line(f"  Building {kind} for {name} (pyproject.toml): started")
                out.line(f"  Building {kind} for {name} (pyproject.toml): finished with status 'done'")
            out.line(f"Successfully built {' '.join(from_source)}")
        if "flash-attn" in plan and self.compiles("flash-attn", plan["flash-attn"].requirement):
            status = self.build_flash_attn(plan["flash-attn"].version)
            if status:
                return status
        out.line(f"Installing collected packages: {', '.join(sorted(plan))}")
        for name in sorted(plan):
            old = self.env.packages.get(name)
            if old:
                out.line(f"  Attempting uninstall: {name}")
                out.line(f"    Found existing installation: {name} {old}")
                out.line(f"    Uninstalling {name}-{old}:")
                out.line(f"      Successfully uninstalled {name}-{old}")
        for name, planned in plan.items():
            self.env.packages[name] = planned.version
        self.print_conflicts(changed=set(plan))
        out.line("Successfully installed " + " ".join(f"{n}-{p.version}" for n, p in sorted(plan.items())))
        if self.call.env.get("PIP_ROOT_USER_ACTION") != "ignore":
            err.line(data.PIP_ROOT_WARNING)
        return 0

    def download_timing(self, name: str, requirement: Requirement) -> str:
        if name == "vllm-omni":
            return "pip-vllm-omni-no-deps" if self.no_deps else "pip-vllm-omni"
        if name == "flash-attn" and not self.compiles(name, requirement):
            return "flash-attn-wheel"  # a source build is timed by build_flash_attn
        return {"qwen-tts": "pip-qwen-tts", "torch": "pip-torch"}.get(name, "pip-package")

    def build_flash_attn(self, version: str) -> int:
        out, err = self.call.out, self.call.err
        out.line("Building wheels for collected packages: flash-attn")
        out.line("  Building wheel for flash-attn (pyproject.toml): started")
        failing = self.container.ctx.faults.get("flash-attn-build-failure") is not None
        # A failing build stops at its first compiler error, well before a full build's time.
        total = data.seconds("flash-attn-build-failure-after" if failing else "flash-attn-source-build")
        elapsed = 0.0
        while elapsed < total:  # pip prints a heartbeat while a long build runs
            step = min(60.0, total - elapsed)
            self.container.wait(step)
            elapsed += step
            if elapsed < total:
                out.line("  Building wheel for flash-attn (pyproject.toml): still running...")
        situation = self.container.situation(
            building_from_source="flash-attn",
            build_failure_fault=failing,
        )
        for rule in data.rules_for("pip"):
            if rule.applies(situation):
                self.container.print_lines(
                    err, rule.log, {"torch_version": self.env.packages.get("torch", "")}
                )
                return rule.exit_code or 1
        out.line("  Building wheel for flash-attn (pyproject.toml): finished with status 'done'")
        out.line(
            f"  Created wheel for flash-attn: filename=flash_attn-{version}-cp312-cp312-linux_x86_64.whl"
        )
        out.line("Successfully built flash-attn")
        return 0

    def print_conflicts(self, changed: set[str]) -> None:
        """pip's after-the-fact warning: installed packages whose requirements this install broke."""
        packages = self.env.packages
        fill = {"image_torch_version": self.container.image.torch_version}
        lines = []
        for package, version in sorted(packages.items()):
            index_entry = data.PACKAGE_INDEX.get(package)
            requires = data.INSTALLED_REQUIREMENTS.get(package, index_entry.requires if index_entry else ())
            for text in requires:
                requirement = parse_requirement(text.format(version=version, **fill), "/")
                installed = packages.get(requirement.name)
                relevant = package in changed or requirement.name in changed
                if relevant and installed and not satisfies(installed, requirement.specifiers):
                    lines.append(
                        data.PIP_CONFLICT_LINE.format(
                            package=package,
                            version=version,
                            requirement=requirement.display(),
                            name=requirement.name,
                            installed=installed,
                        )
                    )
        if lines:
            self.call.err.line(data.PIP_CONFLICT_HEADER)
            for line in lines:
                self.call.err.line(line)


@dataclass(frozen=True)
class Planned:
    version: str
    requirement: Requirement
    direct: bool


class VllmRuntime:
    """Images whose repository is vllm/vllm-openai or vllm/vllm-omni, under any registry."""

    name = "vllm"

    def matches(self, image: str) -> bool:
        return split_image(image)[0] in data.VLLM_IMAGE_REPOSITORIES

    def create(self, spec: ContainerSpec, ctx: RuntimeContext) -> VllmContainer:
        return VllmContainer(spec, ctx)
