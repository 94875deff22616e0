#!/usr/bin/env python3
"""Resolve the TTS bootstrap's pip steps with real pip against the image's package set.

Reads the ``bootstrap`` shell script of a values block (default: ``tts_desired`` in
``roles/tts_common/defaults/main.yml``, the shipped block), extracts its ``pip install``
commands in order, together with the constraints files the script writes (here-documents,
``echo ... >> FILE``, ``pip freeze | grep ... > FILE``) and the local sources it installs from
(``git clone --branch vX URL DIR`` or a downloaded sdist unpacked with ``tar -C DIR``; both
stand for ``<name>==<version>`` on PyPI), and resolves every step in dry-run with pip >= 26
for Python 3.12 on top of the image's package set and the previous steps' results.

The image's package set comes from a ``pip freeze`` file (default:
``sandbox/images/vllm-openai-v0.14.0-freeze.txt``, a verbatim copy of the facts' freeze
file): each line becomes a minimal ``<name>-<version>.dist-info`` in a scratch Python 3.12
venv, with the package's real Requires-Dist (fetched as PEP 658 metadata, nothing big is
downloaded), so pip treats the set as installed.

pip runs with ``--isolated`` and ``PIP_CONFIG_FILE=/dev/null`` and no ``PIP_*`` variables:
the machine's pip configuration (constraints, extra indexes, find-links) is ignored and only
https://pypi.org/simple is used (plus index options the bootstrap itself passes).

Per step it prints what would be installed, upgraded (old->new) and downgraded (old->new),
and whether the step failed; a failure the script tolerates (``pip ... || fallback``) is
reported as tolerated. After each step every installed package's requirements are checked
(pip itself does not look at installed packages outside the new dependency graph).

Exit status: 0 when every step resolves and nothing is broken; 1 on a resolution conflict,
an untolerated failure, a change to a package vLLM pins exactly (its ``==`` Requires-Dist,
and those packages' own ``==`` pins, e.g. torch -> triton), a change that breaks one of
vLLM's requirement specifiers or leaves another installed package's requirement unmet, or a
sha256/URL in the script that does not match PyPI's; 2 when the check cannot run (no Python
3.12, no network, unparsable block). Needs the network; not part of ``make test``.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VALUES = REPO_ROOT / "roles" / "tts_common" / "defaults" / "main.yml"
DEFAULT_BLOCK = "tts_desired"
# The image's package set as the sandbox knows it (a verbatim copy of the facts' freeze file).
DEFAULT_FREEZE = REPO_ROOT / "sandbox" / "images" / "vllm-openai-v0.14.0-freeze.txt"
INDEX_URL = "https://pypi.org/simple"
PIP_REQUIREMENT = "pip>=26"
ANCHOR = "vllm"  # the package whose requirements and exact pins must survive every step


class CheckError(Exception):
    """A problem that stops the check before a verdict (exit 2)."""


class BootstrapParseError(CheckError):
    """The bootstrap script contains something the oracle cannot model."""


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --------------------------------------------------------------------------------------------
# Parsing the bootstrap script into operations
# --------------------------------------------------------------------------------------------


@dataclass
class WriteFile:
    """``cat > PATH <<EOF`` / ``echo TEXT >> PATH``: literal text written to a file."""

    path: str
    text: str
    append: bool
    line: int


@dataclass
class FreezeToFile:
    """``pip freeze | grep [-i] [-E] [-v] PATTERN > PATH``: evaluated against the installed set."""

    path: str
    pattern: str | None
    ignore_case: bool
    invert: bool
    append: bool
    line: int


@dataclass
class Source:
    """A local directory holding the source of ``name==version`` (git tag or PyPI sdist)."""

    path: str
    name: str
    version: str
    origin: str
    line: int


@dataclass
class Checksum:
    """``echo "<sha256>  FILE" | sha256sum -c -``: the hash the script expects for a download."""

    path: str
    sha256: str
    url: str | None
    line: int


@dataclass
class PipInstall:
    """One ``pip install`` command as written in the script."""

    command: str
    line: int
    requirements: list[str] = field(default_factory=list)  # positional args, -e targets included
    editables: list[str] = field(default_factory=list)  # the -e targets (also in requirements)
    constraint_files: list[str] = field(default_factory=list)
    requirement_files: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)  # passed on to pip unchanged
    tolerated: bool = False  # left side of `||` (or `&&`): a failure does not stop `set -e`
    fallback: str = ""
    text: str = ""  # the script's line as written


Operation = WriteFile | FreezeToFile | Source | Checksum | PipInstall

# pip install options passed through to the dry run: name -> takes a value
PASS_OPTIONS = {
    "--only-binary": True,
    "--no-binary": True,
    "--prefer-binary": False,
    "--pre": False,
    "-U": False,
    "--upgrade": False,
    "--upgrade-strategy": True,
    "--no-deps": False,
    "--force-reinstall": False,
    "-I": False,
    "--ignore-installed": False,
    "--index-url": True,
    "-i": True,
    "--extra-index-url": True,
    "--no-index": False,
    "-f": True,
    "--find-links": True,
    "--ignore-requires-python": False,
}
# options without effect on the resolution
IGNORED_OPTIONS = {
    "-q": False,
    "--quiet": False,
    "-v": False,
    "--verbose": False,
    "--no-cache-dir": False,
    "--no-build-isolation": False,
    "--disable-pip-version-check": False,
    "--break-system-packages": False,
    "--no-input": False,
    "--no-warn-script-location": False,
    "--no-warn-conflicts": False,
    "--progress-bar": True,
    "--root-user-action": True,
    "--cache-dir": True,
    "--timeout": True,
    "--retries": True,
    "--use-pep517": False,
    "--no-compile": False,
    "--user": False,
}
SEPARATORS = {"||", "&&", ";", "|", "&"}


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError as exc:
        raise BootstrapParseError(f"cannot split shell line {line!r}: {exc}") from exc


def _logical_lines(script: str) -> Iterable[tuple[int, str, list[str]]]:
    """(line number, text, here-document body lines) per logical line; continuations joined."""
    lines = script.splitlines()
    i = 0
    while i < len(lines):
        start = i
        text = lines[i]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i].lstrip()
        i += 1
        body: list[str] = []
        match = re.search(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2", text)
        if match:
            strip_tabs, delimiter = match.group(1) == "-", match.group(3)
            while True:
                if i >= len(lines):
                    raise BootstrapParseError(
                        f"line {start + 1}: here-document {delimiter!r} is never closed"
                    )
                body_line = lines[i]
                i += 1
                if (body_line.lstrip("\t") if strip_tabs else body_line) == delimiter:
                    break
                body.append(body_line.lstrip("\t") if strip_tabs else body_line)
            if not match.group(2) and any("$" in b or "`" in b for b in body):
                raise BootstrapParseError(
                    f"line {start + 1}: unquoted here-document {delimiter!r} expands $ or `; "
                    "quote the delimiter (<<'EOF') so the constraints are literal"
                )
        yield start + 1, text, body


def _split_list(tokens: list[str]) -> list[tuple[list[str], str]]:
    """Split a token list at ; && || | &: [(simple command tokens, separator after it)]."""
    parts: list[tuple[list[str], str]] = []
    current: list[str] = []
    for tok in tokens:
        if tok in SEPARATORS:
            parts.append((current, tok))
            current = []
        else:
            current.append(tok)
    parts.append((current, ""))
    return [(cmd, sep) for cmd, sep in parts if cmd]


def _redirect(cmd: list[str]) -> tuple[list[str], str | None, bool]:
    """Strip `> FILE` / `>> FILE` (and 2>&1 style noise): (words, target, append)."""
    words: list[str] = []
    target, append = None, False
    i = 0
    while i < len(cmd):
        tok = cmd[i]
        if tok in (">", ">>") and i + 1 < len(cmd):
            if words and words[-1].isdigit() and words[-1] != "1":  # 2> FILE
                words.pop()
            else:
                target, append = cmd[i + 1], tok == ">>"
            i += 2
            continue
        if tok in (">&", "<", "<<", "<<-") and i + 1 < len(cmd):
            if tok == ">&" and words and words[-1].isdigit():
                words.pop()
            i += 2
            continue
        words.append(tok)
        i += 1
    return words, target, append


def _is_pip(words: list[str]) -> int | None:
    """Index of `install` when words are a pip install command, else None."""
    i = 0
    while i < len(words) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[i]):
        i += 1  # VAR=value prefixes
    if i < len(words) and words[i] in ("sudo", "env"):
        i += 1
    if i >= len(words):
        return None
    head = os.path.basename(words[i])
    if re.fullmatch(r"pip(3(\.\d+)?)?", head):
        i += 1
    elif re.fullmatch(r"python(3(\.\d+)?)?", head) and words[i + 1 : i + 3] == ["-m", "pip"]:
        i += 3
    elif head == "uv" and words[i + 1 : i + 2] == ["pip"]:
        i += 2
    else:
        return None
    return i if i < len(words) and words[i] == "install" else None


def _is_pip_freeze(words: list[str]) -> bool:
    if not words:
        return False
    head = os.path.basename(words[0])
    if re.fullmatch(r"pip(3(\.\d+)?)?", head):
        return words[1:2] == ["freeze"]
    return bool(re.fullmatch(r"python(3(\.\d+)?)?", head)) and words[1:4] == ["-m", "pip", "freeze"]


def _parse_pip_install(words: list[str], start: int, command: str, line: int, cwd: str) -> PipInstall:
    step = PipInstall(command=command, line=line)
    args = words[start + 1 :]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and arg != "-":
            name, eq, inline = arg.partition("=")
            short = None
            if not eq and re.fullmatch(r"-[cre].+", arg):  # -cFILE, -rFILE, -ePATH
                name, inline, short = arg[:2], arg[2:], True
            takes_value = name in ("-c", "--constraint", "-r", "--requirement", "-e", "--editable")
            if takes_value:
                if eq or short:
                    value = inline
                else:
                    if i + 1 >= len(args):
                        raise BootstrapParseError(f"line {line}: {name} needs a value")
                    value = args[i + 1]
                    i += 1
                if name in ("-c", "--constraint"):
                    step.constraint_files.append(_abspath(value, cwd))
                elif name in ("-r", "--requirement"):
                    step.requirement_files.append(_abspath(value, cwd))
                else:
                    step.editables.append(_abspath(value, cwd))
                    step.requirements.append(_abspath(value, cwd))
            elif name in PASS_OPTIONS:
                if PASS_OPTIONS[name] and not eq:
                    if i + 1 >= len(args):
                        raise BootstrapParseError(f"line {line}: {name} needs a value")
                    step.options += [name, args[i + 1]]
                    i += 1
                else:
                    step.options.append(arg)
            elif name in IGNORED_OPTIONS:
                if IGNORED_OPTIONS[name] and not eq:
                    i += 1
            elif re.fullmatch(r"-[qv]+", arg):
                pass
            else:
                raise BootstrapParseError(f"line {line}: pip install option {arg!r} is not modelled")
        else:
            step.requirements.append(_abspath(arg, cwd) if _looks_like_path(arg) else arg)
        i += 1
    return step


def _looks_like_path(arg: str) -> bool:
    return arg.startswith(("/", "./", "../", "~")) or arg in (".", "..") or arg.startswith("file:")


def _abspath(path: str, cwd: str) -> str:
    if path.startswith("file://"):
        path = path[len("file://") :]
    if not path.startswith("/") and not _looks_like_url(path):
        path = os.path.normpath(os.path.join(cwd, path))
    return path.rstrip("/") or "/"


def _looks_like_url(value: str) -> bool:
    return bool(re.match(r"^[a-z+]+://", value))


SDIST_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>\d[^-]*?)\.(tar\.gz|tgz|zip|tar\.bz2)$"
)


def sdist_name_version(filename: str) -> tuple[str, str] | None:
    """('vllm-omni', '0.14.0') for 'vllm_omni-0.14.0.tar.gz' (also a URL ending in one)."""
    match = SDIST_RE.match(os.path.basename(filename.split("#", 1)[0].split("?", 1)[0]))
    if not match:
        return None
    return canonical(match.group("name")), match.group("version")


def parse_bootstrap(script: str) -> list[Operation]:
    """The operations of a bootstrap script that matter to its pip resolution, in order."""
    ops: list[Operation] = []
    downloads: dict[str, str] = {}  # local file -> URL
    cwd = "/"
    for line_no, text, body in _logical_lines(script):
        tokens = _tokens(text)
        commands = _split_list(tokens)
        for index, (cmd, sep) in enumerate(commands):
            words, target, append = _redirect(cmd)
            if not words:
                continue
            prev_sep = commands[index - 1][1] if index else ""
            if prev_sep == "|":
                continue  # consumed by the left side of the pipe
            head = os.path.basename(words[0])
            command_text = " ".join(shlex.quote(w) for w in cmd)
            if head == "cd" and len(words) > 1:
                cwd = _abspath(words[1], cwd)
            elif head == "cat" and body is not None and ("<<" in cmd or "<<-" in cmd) and target:
                ops.append(WriteFile(_abspath(target, cwd), "".join(b + "\n" for b in body), append, line_no))
            elif head in ("echo", "printf") and sep == "|" and index + 1 < len(commands):
                nxt, _ = commands[index + 1]
                if nxt and os.path.basename(nxt[0]) in ("sha256sum", "shasum") and "-c" in nxt:
                    text_out = " ".join(words[1:])
                    match = re.match(r"^([0-9a-fA-F]{64})\s+\*?(\S+)$", text_out.strip())
                    if match:
                        path = _abspath(match.group(2), cwd)
                        ops.append(Checksum(path, match.group(1).lower(), downloads.get(path), line_no))
            elif head == "echo" and target:
                args = words[1:]
                newline = True
                while args and args[0] in ("-n", "-e", "-ne", "-en"):
                    newline = newline and "n" not in args[0].lstrip("-")
                    args = args[1:]
                ops.append(
                    WriteFile(
                        _abspath(target, cwd), " ".join(args) + ("\n" if newline else ""), append, line_no
                    )
                )
            elif _is_pip_freeze(words) and sep == "|":
                ops.append(_parse_freeze_pipe(commands, index, cwd, line_no))
            elif head == "git" and words[1:2] == ["clone"]:
                ops.append(_parse_git_clone(words, cwd, line_no))
            elif head in ("curl", "wget"):
                dest, url = _parse_download(words, cwd)
                if dest and url:
                    downloads[dest] = url
            elif head == "tar":
                source = _parse_tar(words, cwd, downloads, line_no)
                if source:
                    ops.append(source)
            else:
                start = _is_pip(words)
                if start is not None:
                    step = _parse_pip_install(words, start, command_text, line_no, cwd)
                    step.text = text.strip()
                    if sep in ("||", "&&"):
                        step.tolerated = True
                        rest = [shlex.join(c) + (" " + s if s else "") for c, s in commands[index + 1 :]]
                        step.fallback = (sep + " " + " ".join(rest)).strip()
                    ops.append(step)
    return ops


def _parse_freeze_pipe(
    commands: list[tuple[list[str], str]], index: int, cwd: str, line: int
) -> FreezeToFile:
    pattern, ignore_case, invert = None, False, False
    target, append = None, False
    j = index + 1
    while j < len(commands):
        words, tgt, app = _redirect(commands[j][0])
        if tgt:
            target, append = tgt, app
        if words and os.path.basename(words[0]) in ("grep", "egrep"):
            rest = []
            for w in words[1:]:
                if re.fullmatch(r"-[A-Za-z]+", w):
                    ignore_case |= "i" in w
                    invert |= "v" in w
                else:
                    rest.append(w)
            if len(rest) != 1:
                raise BootstrapParseError(f"line {line}: grep after pip freeze needs one pattern")
            pattern = rest[0]
        elif words and os.path.basename(words[0]) not in ("cat", "sort", "tee"):
            raise BootstrapParseError(f"line {line}: pip freeze piped into {words[0]!r} is not modelled")
        if commands[j][1] != "|":
            break
        j += 1
    if target is None:
        raise BootstrapParseError(f"line {line}: pip freeze pipe writes no file")
    return FreezeToFile(_abspath(target, cwd), pattern, ignore_case, invert, append, line)


def _parse_git_clone(words: list[str], cwd: str, line: int) -> Source:
    branch, positional = None, []
    i = 2
    while i < len(words):
        w = words[i]
        if w in ("--branch", "-b"):
            branch = words[i + 1] if i + 1 < len(words) else None
            i += 2
            continue
        if w.startswith("--branch="):
            branch = w.split("=", 1)[1]
        elif w in ("--depth", "--origin", "-o", "--reference", "--config", "-c"):
            i += 2
            continue
        elif not w.startswith("-"):
            positional.append(w)
        i += 1
    if not positional:
        raise BootstrapParseError(f"line {line}: git clone without a URL")
    url = positional[0]
    name = canonical(os.path.basename(url.rstrip("/")).removesuffix(".git"))
    dest = positional[1] if len(positional) > 1 else os.path.basename(url.rstrip("/")).removesuffix(".git")
    if not branch or not re.fullmatch(r"v?\d[\w.+-]*", branch):
        raise BootstrapParseError(
            f"line {line}: git clone of {url} without a release tag (--branch vX.Y.Z) has no PyPI version"
        )
    return Source(_abspath(dest, cwd), name, branch.removeprefix("v"), f"git tag {branch} of {url}", line)


def _parse_download(words: list[str], cwd: str) -> tuple[str | None, str | None]:
    dest, url = None, None
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("-o", "--output", "-O", "--output-document") and i + 1 < len(words):
            dest = _abspath(words[i + 1], cwd)
            i += 2
            continue
        if _looks_like_url(w):
            url = w
        i += 1
    if url and dest is None and words[0].endswith("wget"):
        dest = _abspath(os.path.basename(url), cwd)
    return dest, url


def _parse_tar(words: list[str], cwd: str, downloads: dict[str, str], line: int) -> Source | None:
    archive, directory, strip = None, cwd, 0
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("-C", "--directory") and i + 1 < len(words):
            directory = _abspath(words[i + 1], cwd)
            i += 2
            continue
        if w.startswith("--strip-components="):
            strip = int(w.split("=", 1)[1])
        elif i + 1 < len(words) and (
            w in ("-f", "--file") or (re.fullmatch(r"-?[A-Za-z]*f", w) and "x" in w)
        ):
            archive = _abspath(words[i + 1], cwd)
            i += 2
            continue
        i += 1
    if archive is None:
        return None
    found = sdist_name_version(archive) or sdist_name_version(downloads.get(archive, ""))
    if not found:
        return None
    name, version = found
    top = re.sub(r"\.(tar\.gz|tgz|zip|tar\.bz2)$", "", os.path.basename(downloads.get(archive, archive)))
    path = directory if strip >= 1 else os.path.join(directory, top)
    origin = f"sdist {downloads.get(archive, archive)}"
    return Source(path, name, version, origin, line)


# --------------------------------------------------------------------------------------------
# Turning the operations into pip calls (no network)
# --------------------------------------------------------------------------------------------


@dataclass
class Installed:
    """One installed distribution of the scratch environment."""

    name: str
    version: str
    requires_dist: list[str] = field(default_factory=list)
    provides_extra: list[str] = field(default_factory=list)


def parse_freeze(text: str) -> dict[str, Installed]:
    """`name==version` lines of a freeze file (comments, blank and `rc=` lines skipped)."""
    result: dict[str, Installed] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-") or "==" not in line or re.match(r"^\w+=[^=]", line):
            continue
        name, _, version = line.partition("==")
        name, version = name.strip(), version.split(";", 1)[0].strip()
        result[canonical(name)] = Installed(name, version)
    return result


def freeze_lines(installed: dict[str, Installed]) -> list[str]:
    return [f"{d.name}=={d.version}" for _, d in sorted(installed.items())]


def run_freeze(op: FreezeToFile, installed: dict[str, Installed]) -> str:
    """What `pip freeze | grep ...` prints against the installed set."""
    lines = freeze_lines(installed)
    if op.pattern is not None:
        regex = re.compile(op.pattern, re.IGNORECASE if op.ignore_case else 0)
        lines = [ln for ln in lines if bool(regex.search(ln)) != op.invert]
    return "".join(ln + "\n" for ln in lines)


@dataclass
class PipCall:
    """A pip install step ready for the dry run."""

    step: PipInstall
    requirements: list[str]
    constraints: str  # the text of all -c files, concatenated
    requirement_text: str  # the text of all -r files
    options: list[str]
    mapped: list[str]  # "PATH -> name==version" notes


def build_pip_call(step: PipInstall, files: dict[str, str], sources: dict[str, Source]) -> PipCall:
    """Map the step's local paths to PyPI pins and collect its constraints text."""
    requirements, mapped = [], []
    for req in step.requirements:
        if _looks_like_path(req) or req.startswith("/"):
            source = sources.get(req.rstrip("/"))
            if source is None:
                raise BootstrapParseError(
                    f"line {step.line}: {req} is not a source the script fetched "
                    "(git clone --branch / sdist tar)"
                )
            pin = f"{source.name}=={source.version}"
            requirements.append(pin)
            mapped.append(f"{req} -> {pin} ({source.origin})")
        else:
            requirements.append(req)
    constraints = _written_by_script(files, step.constraint_files, "constraints", step.line)
    req_texts = _written_by_script(files, step.requirement_files, "requirements", step.line)
    return PipCall(step, requirements, constraints, req_texts, list(step.options), mapped)


def _written_by_script(files: dict[str, str], paths: Iterable[str], kind: str, line: int) -> str:
    """The joined text of the files a pip step reads (-c / -r), each of which the script must write."""
    for path in paths:
        if path not in files:
            raise BootstrapParseError(f"line {line}: {kind} file {path} is not written by the script")
    return "".join(files[path] for path in paths)


# --------------------------------------------------------------------------------------------
# Classifying a pip report against the installed set (no network)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    name: str
    old: str | None
    new: str
    kind: str  # install | upgrade | downgrade | reinstall

    def describe(self) -> str:
        if self.kind == "install":
            return f"{self.name}=={self.new}"
        if self.kind == "reinstall":
            return f"{self.name}=={self.new} (reinstall)"
        return f"{self.name} {self.old}->{self.new}"


def _version_key(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def classify_report(report: dict, installed: dict[str, Installed]) -> list[Change]:
    """Each item of a `pip install --report` as install / upgrade / downgrade / reinstall."""
    changes = []
    for item in report.get("install", []):
        meta = item["metadata"]
        name, new = meta["name"], meta["version"]
        old_dist = installed.get(canonical(name))
        if old_dist is None:
            kind, old = "install", None
        else:
            old = old_dist.version
            a, b = _version_key(old), _version_key(new)
            if a is not None and b is not None and a != b:
                kind = "upgrade" if b > a else "downgrade"
            elif old == new or (a is not None and a == b):
                kind = "reinstall"
            else:
                kind = "upgrade"
        changes.append(Change(name, old, new, kind))
    return sorted(changes, key=lambda c: canonical(c.name))


def apply_report(report: dict, installed: dict[str, Installed]) -> dict[str, Installed]:
    """The installed set after the report's items are installed."""
    result = dict(installed)
    for item in report.get("install", []):
        meta = item["metadata"]
        result[canonical(meta["name"])] = Installed(
            meta["name"],
            meta["version"],
            list(meta.get("requires_dist") or []),
            list(meta.get("provides_extra") or []),
        )
    return result


def _applies(req: Requirement, env: dict[str, str], extra: str = "") -> bool:
    if req.marker is None:
        return not extra
    return req.marker.evaluate({**env, "extra": extra})


def _reqs(dist: Installed) -> list[Requirement]:
    out = []
    for text in dist.requires_dist:
        with contextlib.suppress(InvalidRequirement):
            out.append(Requirement(text))
    return out


def broken_requirements(installed: dict[str, Installed], env: dict[str, str]) -> set[tuple[str, str, str]]:
    """(dependent, requirement, found) for every unmet requirement, extras that are asked for included."""
    wanted: set[tuple[str, str]] = {(key, "") for key in installed}
    done: set[tuple[str, str]] = set()
    broken: set[tuple[str, str, str]] = set()
    while wanted - done:
        key, extra = sorted(wanted - done)[0]
        done.add((key, extra))
        dist = installed.get(key)
        if dist is None:
            continue
        for req in _reqs(dist):
            if not _applies(req, env, extra):
                continue
            dep_key = canonical(req.name)
            dep = installed.get(dep_key)
            who = dist.name + (f"[{extra}]" if extra else "")
            if dep is None:
                broken.add((who, str(req), "not installed"))
                continue
            if req.specifier and not req.specifier.contains(dep.version, prereleases=True):
                broken.add((who, str(req), dep.version))
            for ex in req.extras:
                wanted.add((dep_key, canonical(ex)))
    return broken


def exact_pins(installed: dict[str, Installed], env: dict[str, str], anchor: str = ANCHOR) -> dict[str, str]:
    """Packages the anchor pins with ==, directly or through its ==-pinned dependencies: name -> version."""
    pins: dict[str, str] = {}
    queue = [canonical(anchor)]
    while queue:
        dist = installed.get(queue.pop())
        if dist is None:
            continue
        for req in _reqs(dist):
            if not _applies(req, env):
                continue
            specs = list(req.specifier)
            if len(specs) == 1 and specs[0].operator in ("==", "==="):
                key = canonical(req.name)
                if key not in pins:
                    pins[key] = specs[0].version
                    queue.append(key)
    return pins


@dataclass
class StepResult:
    """What one pip step did in the dry run."""

    number: int
    call: PipCall
    rc: int
    changes: list[Change]
    failure: str | None = None  # conflict | no-distribution | error | None
    error_lines: list[str] = field(default_factory=list)
    pinned_changes: list[Change] = field(default_factory=list)
    anchor_broken: list[tuple[str, str, str]] = field(default_factory=list)
    other_broken: list[tuple[str, str, str]] = field(default_factory=list)
    skipped: bool = False  # not reached (an earlier untolerated failure stops `set -e`)

    @property
    def tolerated(self) -> bool:
        return self.failure is not None and self.call.step.tolerated


def classify_failure(rc: int, stderr: str) -> str | None:
    if rc == 0:
        return None
    if "ResolutionImpossible" in stderr or "conflicting dependencies" in stderr:
        return "conflict"
    if "No matching distribution found" in stderr:
        return "no-distribution"
    return "error"


def error_summary(stderr: str, limit: int = 25) -> list[str]:
    lines = [ln.rstrip() for ln in stderr.splitlines() if ln.strip()]
    keep = [ln for ln in lines if not ln.startswith(("[notice]", "WARNING: Running pip as"))]
    return keep[-limit:]


def assess_step(
    result: StepResult,
    before: dict[str, Installed],
    after: dict[str, Installed],
    baseline_broken: set[tuple[str, str, str]],
    env: dict[str, str],
    pins: dict[str, str],
) -> None:
    """Fill in the pinned changes and the requirements the step breaks (new breaks only)."""
    result.pinned_changes = [
        c for c in result.changes if canonical(c.name) in pins or canonical(c.name) == canonical(ANCHOR)
    ]
    result.pinned_changes = [c for c in result.pinned_changes if c.kind != "reinstall"]
    before_broken = broken_requirements(before, env) | baseline_broken
    new_broken = sorted(broken_requirements(after, env) - before_broken)
    anchor = canonical(ANCHOR)
    result.anchor_broken = [b for b in new_broken if canonical(re.sub(r"\[.*", "", b[0])) == anchor]
    result.other_broken = [b for b in new_broken if b not in result.anchor_broken]


def verdict(results: Sequence[StepResult], checksum_errors: Sequence[str] = ()) -> tuple[int, str]:
    """(exit status, one-line verdict) over all steps."""
    problems = []
    for r in results:
        if r.skipped:
            continue
        if r.failure and not r.tolerated:
            problems.append(f"step {r.number} {r.failure}")
        if r.pinned_changes:
            moved = ", ".join(c.describe() for c in r.pinned_changes)
            problems.append(f"step {r.number} changes vLLM's exact pins ({moved})")
        if r.anchor_broken:
            found = ", ".join(f"{q} (found {f})" for _, q, f in r.anchor_broken)
            problems.append(f"step {r.number} breaks vLLM's requirements ({found})")
        if r.other_broken:
            found = ", ".join(f"{w}: {q} (found {f})" for w, q, f in r.other_broken)
            problems.append(f"step {r.number} leaves unmet requirements that pip did not check ({found})")
    problems += list(checksum_errors)
    if problems:
        return 1, "VERDICT: FAIL - " + "; ".join(problems)
    tolerated = [r for r in results if r.tolerated]
    note = ""
    if tolerated:
        note = " (tolerated failures: " + ", ".join(f"step {r.number} {r.failure}" for r in tolerated) + ")"
    steps = sum(1 for r in results if not r.skipped)
    return 0, f"VERDICT: OK - {steps} pip step(s) resolve; vLLM's pins and requirements hold{note}"


def floating(call: PipCall, changes: Sequence[Change]) -> list[Change]:
    """The changes whose version no `name==version` line of the constraints or request fixes."""
    fixed = set()
    for line in [*call.constraints.splitlines(), *call.requirements]:
        match = re.match(
            r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*===?\s*[^,;*<>=!~]+\s*(;.*)?$", line
        )
        if match:
            fixed.add(canonical(match.group(1)))
    return [c for c in changes if canonical(c.name) not in fixed]


def format_step(r: StepResult) -> list[str]:
    step = r.call.step
    shown = step.text or (step.command + (f" {step.fallback}" if step.fallback else ""))
    out = [f"== step {r.number} (line {step.line}): {shown}"]
    for note in r.call.mapped:
        out.append(f"   source: {note}")
    if r.call.constraints:
        n = len(
            [ln for ln in r.call.constraints.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        )
        out.append(f"   constraints: {n} line(s) from {', '.join(step.constraint_files)}")
    out.append(f"   resolves: {' '.join(r.call.requirements + r.call.options) or '(requirement files only)'}")
    if r.skipped:
        out.append("   NOT REACHED: an earlier untolerated failure stops the script (set -e)")
        return out
    if r.failure:
        status = "TOLERATED FAILURE" if r.tolerated else "FAILED"
        out.append(
            f"   {status} ({r.failure}, pip rc {r.rc})"
            + ("; the script goes on past it" if r.tolerated else "")
        )
        out += [f"     | {ln}" for ln in r.error_lines]
        return out
    groups = {
        k: [c for c in r.changes if c.kind == k] for k in ("install", "upgrade", "downgrade", "reinstall")
    }
    out.append(
        "   result: "
        + ", ".join(f"{len(v)} {k}" for k, v in groups.items())
        + f" ({len(r.changes)} item(s) in pip's report)"
    )
    for kind, items in groups.items():
        if items:
            out.append(f"   {kind}:")
            out += [f"     {c.describe()}" for c in items]
    loose = floating(r.call, r.changes)
    out.append(
        f"   not fixed by an == line of the constraints or the request ({len(loose)}): "
        + (", ".join(c.describe() for c in loose) or "none")
    )
    for c in r.pinned_changes:
        out.append(f"   PIN BROKEN: vLLM pins {c.name} exactly; step moves {c.describe()}")
    for who, req, found in r.anchor_broken:
        out.append(f"   VLLM REQUIREMENT BROKEN: {who} requires {req}, would have {found}")
    for who, req, found in r.other_broken:
        out.append(
            f"   UNMET (pip does not check installed dependents): {who} requires {req}, would have {found}"
        )
    if not r.anchor_broken:
        out.append("   vLLM's requirements: all met after this step")
    return out


# --------------------------------------------------------------------------------------------
# The network part: scratch environment and pip runs
# --------------------------------------------------------------------------------------------


def find_python(explicit: str | None) -> str:
    candidates = [explicit] if explicit else []
    if not explicit:
        found = shutil.which("python3.12")
        if found:
            candidates.append(found)
        candidates += sorted(
            glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True
        )
    for cand in candidates:
        if not cand:
            continue
        try:
            out = subprocess.run(
                [cand, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == "3.12":
            return cand
    where = explicit or "python3.12 on PATH or ~/.pyenv/versions/3.12*/bin/python3.12"
    raise CheckError(
        f"no Python 3.12 interpreter found ({where}); the image runs Python 3.12, so the resolution needs "
        "one (pass --python /path/to/python3.12)"
    )


def check_network(index_url: str = INDEX_URL) -> None:
    try:
        with urllib.request.urlopen(index_url.rstrip("/") + "/pip/", timeout=20) as resp:
            resp.read(1)
    except (urllib.error.URLError, OSError) as exc:
        raise CheckError(
            f"no network: cannot reach {index_url} ({exc}); this check resolves against PyPI"
        ) from exc


def pip_env() -> dict[str, str]:
    """The environment for pip: no PIP_* variables, no config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.pop("PYTHONPATH", None)
    return env


class Scratch:
    """A Python 3.12 venv with pip >= 26 whose site-packages holds fake dist-infos."""

    def __init__(self, python: str, root: Path, index_url: str, uploaded_prior_to: str | None):
        self.root = root
        self.venv = root / "image"
        self.index_url = index_url
        self.uploaded_prior_to = uploaded_prior_to
        subprocess.run([python, "-m", "venv", str(self.venv)], check=True, capture_output=True)
        self.python = str(self.venv / "bin" / "python")
        proc = self.pip(["install", "--quiet", PIP_REQUIREMENT], dry=False, time_limit=False)
        if proc.returncode:
            raise CheckError(
                f"cannot install {PIP_REQUIREMENT} into the scratch venv:\n{proc.stderr[-2000:]}"
            )
        self.pip_version = self.run_py("import pip; print(pip.__version__)").strip()
        self.python_version = self.run_py("import platform; print(platform.python_version())").strip()
        self.site = Path(self.run_py("import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
        self.dist_dirs: dict[str, Path] = {}
        self.written: dict[str, str] = {}
        self.counter = 0

    def run_py(self, code: str) -> str:
        return subprocess.run([self.python, "-c", code], check=True, capture_output=True, text=True).stdout

    def pip(self, args: list[str], dry: bool = True, time_limit: bool = True) -> subprocess.CompletedProcess:
        cmd = [self.python, "-m", "pip", "--isolated", "--no-input", "--disable-pip-version-check"]
        cmd += [args[0], "--index-url", self.index_url]
        if time_limit and self.uploaded_prior_to:
            cmd += ["--uploaded-prior-to", self.uploaded_prior_to]
        cmd += args[1:]
        return subprocess.run(cmd, capture_output=True, text=True, env=pip_env(), cwd=self.root)

    def report(self, args: list[str]) -> tuple[int, dict, str]:
        self.counter += 1
        path = self.root / f"report-{self.counter}.json"
        proc = self.pip(["install", "--dry-run", "--quiet", "--report", str(path), *args])
        report = json.loads(path.read_text()) if proc.returncode == 0 and path.exists() else {}
        return proc.returncode, report, proc.stderr

    def metadata_for(self, installed: dict[str, Installed]) -> list[str]:
        """Fill requires_dist/provides_extra from PyPI (PEP 658) for the pinned set; names not found."""
        freeze = self.root / "image-freeze.txt"
        freeze.write_text("".join(f"{d.name}=={d.version}\n" for d in installed.values()))
        self.counter += 1
        path = self.root / "image-metadata.json"
        proc = self.pip(
            [
                "install",
                "--dry-run",
                "--quiet",
                "--no-deps",
                "--ignore-installed",
                "--report",
                str(path),
                "-r",
                str(freeze),
            ],
            time_limit=False,
        )
        if proc.returncode or not path.exists():
            raise CheckError(
                f"cannot fetch the metadata of the freeze file's packages:\n{proc.stderr[-3000:]}"
            )
        got = {}
        for item in json.loads(path.read_text()).get("install", []):
            got[canonical(item["metadata"]["name"])] = item["metadata"]
        missing = []
        for key, dist in installed.items():
            meta = got.get(key)
            if meta is None:
                missing.append(dist.name)
                continue
            dist.requires_dist = list(meta.get("requires_dist") or [])
            dist.provides_extra = list(meta.get("provides_extra") or [])
        return missing

    def write_installed(self, installed: dict[str, Installed]) -> None:
        """Make site-packages match the installed set (fake dist-infos; pip itself is left alone)."""
        for key in list(self.dist_dirs):
            if key not in installed or self._stale(key, installed[key]):
                shutil.rmtree(self.dist_dirs.pop(key), ignore_errors=True)
                self.written.pop(key, None)
        for key, dist in installed.items():
            if key in ("pip",) or key in self.dist_dirs:
                continue
            d = self.site / f"{re.sub(r'[-_.]+', '_', dist.name)}-{dist.version}.dist-info"
            d.mkdir(parents=True, exist_ok=True)
            meta = ["Metadata-Version: 2.1", f"Name: {dist.name}", f"Version: {dist.version}"]
            meta += [f"Provides-Extra: {e}" for e in dist.provides_extra]
            meta += [f"Requires-Dist: {r}" for r in dist.requires_dist]
            (d / "METADATA").write_text("\n".join(meta) + "\n")
            (d / "INSTALLER").write_text("pip\n")
            rel = d.name
            (d / "RECORD").write_text(f"{rel}/METADATA,,\n{rel}/INSTALLER,,\n{rel}/RECORD,,\n")
            self.dist_dirs[key] = d
            self.written[key] = dist.version

    def _stale(self, key: str, dist: Installed) -> bool:
        return self.written.get(key) != dist.version

    def target_env(self) -> dict[str, str]:
        code = (
            "import json; from pip._vendor.packaging.markers import default_environment as d; "
            "print(json.dumps(d()))"
        )
        return json.loads(self.run_py(code))


def pypi_file(name: str, filename: str, index_url: str) -> dict | None:
    req = urllib.request.Request(
        f"{index_url.rstrip('/')}/{canonical(name)}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.load(resp)
    return next((f for f in data.get("files", []) if f.get("filename") == filename), None)


def check_checksums(ops: list[Operation], index_url: str) -> tuple[list[str], list[str]]:
    """(report lines, errors) for every sha256 the script checks on a PyPI file."""
    lines, errors = [], []
    for op in ops:
        if not isinstance(op, Checksum):
            continue
        filename = os.path.basename(op.url or op.path)
        found = sdist_name_version(filename)
        if not found:
            lines.append(f"sha256 check (line {op.line}) on {op.path}: not a PyPI sdist, not verified")
            continue
        try:
            info = pypi_file(found[0], filename, index_url)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"sha256 of {filename} not verifiable ({exc})")
            continue
        if info is None:
            errors.append(f"{filename} is not on {index_url}")
            continue
        real = info.get("hashes", {}).get("sha256", "")
        ok_hash = real == op.sha256
        ok_url = op.url is None or op.url == info.get("url")
        url_note = "matches PyPI" if ok_url else f"differs from PyPI's {info.get('url')}"
        lines.append(
            f"# sha256 check (line {op.line}) {filename}: script {op.sha256}, PyPI {real}: "
            f"{'match' if ok_hash else 'MISMATCH'}; URL {url_note}"
        )
        if not ok_hash:
            errors.append(f"sha256 of {filename} in the script does not match PyPI's ({real})")
        if not ok_url:
            errors.append(f"download URL of {filename} is not PyPI's ({info.get('url')})")
    return lines, errors


def load_bootstrap(values_file: Path, block: str) -> str:
    try:
        data = yaml.safe_load(values_file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CheckError(f"cannot read {values_file}: {exc}") from exc
    node = data
    for part in block.split("."):
        if not isinstance(node, dict) or part not in node:
            raise CheckError(f"{values_file} has no key {block!r}")
        node = node[part]
    if isinstance(node, dict):
        node = node.get("bootstrap")
    if not isinstance(node, str) or not node.strip():
        raise CheckError(f"{values_file}: {block}.bootstrap is not a shell script")
    if "{{" in node or "{%" in node:
        raise CheckError(
            f"{values_file}: {block}.bootstrap contains Jinja; check a rendered values file instead"
        )
    return node


def run_check(args: argparse.Namespace) -> tuple[int, list[str]]:
    values_file = Path(args.values_file)
    script = load_bootstrap(values_file, args.block)
    ops = parse_bootstrap(script)
    if not any(isinstance(op, PipInstall) for op in ops):
        raise CheckError(f"{values_file}: {args.block}.bootstrap has no pip install command")
    freeze_path = Path(args.freeze)
    try:
        installed = parse_freeze(freeze_path.read_text())
    except OSError as exc:
        raise CheckError(f"cannot read the freeze file {freeze_path}: {exc}") from exc
    python = find_python(args.python)
    check_network(args.index_url)

    out: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="check-bootstrap-"))
    try:
        scratch = Scratch(python, root, args.index_url, args.uploaded_prior_to)
        missing = scratch.metadata_for(installed)
        scratch.write_installed(installed)
        env = scratch.target_env()
        set_e = bool(re.search(r"^\s*set\s+-[a-z]*e", script, re.M))
        out += [
            "# check_bootstrap: dry-run resolution of the TTS bootstrap's pip steps",
            f"# block: {_shown(values_file)} :: {args.block}.bootstrap",
            f"# image package set: {_shown(freeze_path)} ({len(installed)} packages, "
            "fake dist-infos with PyPI Requires-Dist"
            + (f"; no metadata for {', '.join(missing)}" if missing else "")
            + ")",
            f"# pip {scratch.pip_version} on Python {scratch.python_version} ({python}), "
            f"{env.get('sys_platform')}/{env.get('platform_machine')}; host {_glibc()} (image: glibc 2.35)",
            f"# index: {args.index_url} only; pip config ignored "
            f"(--isolated, PIP_CONFIG_FILE={os.devnull}, PIP_* unset)",
            "# files uploaded prior to: " + (args.uploaded_prior_to or "no limit (today's index)"),
            f"# set -e in script: {'yes' if set_e else 'no'}",
        ]
        pins = exact_pins(installed, env)
        out.append(
            "# vLLM's exact pins (==, direct and through pinned deps): "
            + ", ".join(f"{k}=={v}" for k, v in sorted(pins.items()))
        )
        baseline_broken = broken_requirements(installed, env)
        if baseline_broken:
            out.append(
                f"# already unmet in the image set ({len(baseline_broken)}), not counted against steps:"
            )
            out += [f"#   {w} requires {q}, has {f}" for w, q, f in sorted(baseline_broken)]
        out += [
            f"# note: line {op.line} uses git clone; the image vllm/vllm-openai:v0.14.0 has no git "
            "(bash: git: command not found, exit 127), only curl; "
            "this check models the tag as its PyPI release"
            for op in ops
            if isinstance(op, Source) and op.origin.startswith("git ")
        ]
        checksum_lines, checksum_errors = check_checksums(ops, args.index_url)
        out += checksum_lines
        out.append("")

        files: dict[str, str] = {}
        sources: dict[str, Source] = {}
        results: list[StepResult] = []
        stopped = False
        for op in ops:
            if isinstance(op, WriteFile):
                files[op.path] = (files.get(op.path, "") if op.append else "") + op.text
            elif isinstance(op, FreezeToFile):
                files[op.path] = (files.get(op.path, "") if op.append else "") + run_freeze(op, installed)
            elif isinstance(op, Source):
                sources[op.path] = op
            elif isinstance(op, PipInstall):
                call = build_pip_call(op, files, sources)
                result = StepResult(len(results) + 1, call, 0, [])
                results.append(result)
                if stopped:
                    result.skipped = True
                    continue
                result.rc, report, stderr = _dry_run(scratch, call, root, result.number)
                result.failure = classify_failure(result.rc, stderr)
                if result.failure:
                    result.error_lines = error_summary(stderr)
                    if not op.tolerated and set_e:
                        stopped = True
                    continue
                result.changes = classify_report(report, installed)
                after = apply_report(report, installed)
                assess_step(result, installed, after, baseline_broken, env, pins)
                installed = after
                scratch.write_installed(installed)
        for r in results:
            out += format_step(r)
            out.append("")
        total = {k: 0 for k in ("install", "upgrade", "downgrade")}
        for r in results:
            for c in r.changes:
                if c.kind in total:
                    total[c.kind] += 1
        out.append(
            "summary: " + ", ".join(f"{v} {k}" for k, v in total.items()) + f" over {len(results)} step(s)"
        )
        status, line = verdict(results, checksum_errors)
        out.append(line)
        return status, out
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            out.append(f"# scratch kept in {root}")


def _shown(path: Path) -> str:
    """The path relative to the repository (or its parent, for ../shared/facts) when inside."""
    resolved = path.resolve()
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../")):
        if resolved.is_relative_to(base):
            return prefix + str(resolved.relative_to(base))
    return str(path)


def _glibc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or "glibc ?"
    except (AttributeError, ValueError, OSError):
        return "glibc ?"


def _dry_run(scratch: Scratch, call: PipCall, root: Path, number: int) -> tuple[int, dict, str]:
    args: list[str] = []
    if call.constraints:
        cfile = root / f"constraints-{number}.txt"
        cfile.write_text(call.constraints)
        args += ["-c", str(cfile)]
    if call.requirement_text:
        rfile = root / f"requirements-{number}.txt"
        rfile.write_text(call.requirement_text)
        args += ["-r", str(rfile)]
    args += call.options + call.requirements
    return scratch.report(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values-file", default=str(DEFAULT_VALUES), help="YAML file holding the block")
    parser.add_argument(
        "--block", default=DEFAULT_BLOCK, help="dotted key of the block with `bootstrap` (tts_desired)"
    )
    parser.add_argument("--freeze", default=str(DEFAULT_FREEZE), help="pip freeze of the image")
    parser.add_argument(
        "--python", help="Python 3.12 interpreter (default: python3.12 on PATH or under ~/.pyenv)"
    )
    parser.add_argument(
        "--uploaded-prior-to", help="only files uploaded before this ISO 8601 time (pip >= 26)"
    )
    parser.add_argument("--index-url", default=INDEX_URL, help=argparse.SUPPRESS)
    parser.add_argument("--output", help="also write the report to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)
    try:
        status, lines = run_check(args)
    except CheckError as exc:
        print(f"check_bootstrap: error: {exc}", file=sys.stderr)
        return 2
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    return status


if __name__ == "__main__":
    sys.exit(main())
