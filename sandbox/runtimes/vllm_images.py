"""The vLLM images the sandbox knows, and what their containers can download, as data.

Every row cites the facts of ``docs/facts.yml`` it rests on (``facts``); the mechanism that uses
the rows is ``sandbox/runtimes/vllm.py`` (images) and ``sandbox/runtimes/fetch.py`` (downloads).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: ``Jinja2`` -> ``jinja2``, ``docstring_parser`` -> ``docstring-parser``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def load_freeze(filename: str) -> dict[str, str]:
    """A ``pip freeze`` file as {canonical name: version}.

    ``vllm-openai-v0.14.0-freeze.txt`` is copied unedited from /work/shared/facts/ (checked 2026-12):
    the packages of resolving vllm==0.14.0 for Python 3.12 on manylinux x86-64 as of vLLM 0.14.0's
    release date (2026-01-21), i.e. the image's site-packages as nearly as it can be rebuilt (fact
    image-packages). The step logs of facts omni-install-resolves and qwen-tts-requires were resolved
    against exactly this set.
    """
    return dict(_read_freeze(filename))


@cache
def _read_freeze(filename: str) -> tuple[tuple[str, str], ...]:
    packages = []
    for line in (IMAGES_DIR / filename).read_text(encoding="utf-8").splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            packages.append((canonical_name(name), version))
    return tuple(packages)


@cache
def freeze_names(filename: str) -> dict[str, str]:
    """{canonical name: the name as pip prints it} for the same file (``Jinja2``, ``pydantic_core``)."""
    names = {}
    for line in (IMAGES_DIR / filename).read_text(encoding="utf-8").splitlines():
        name, sep, _version = line.strip().partition("==")
        if sep:
            names[canonical_name(name)] = name
    return names


# ---------------------------------------------------------------------------------------------
# Commands on PATH
# ---------------------------------------------------------------------------------------------

# What an Ubuntu 22.04 base (nvidia/cuda:12.9.1-base-ubuntu22.04) has on PATH before vLLM's stages add
# anything: bash, dash as sh, coreutils, grep, sed, mawk, findutils, tar, gzip, apt (fact image-base).
UBUNTU_BASE_COMMANDS = frozenset(
    {
        "bash", "sh", "dash", "rbash",
        "cat", "tee", "mkdir", "touch", "rm", "rmdir", "sleep", "echo", "printf", "true", "false",
        "ls", "cp", "mv", "ln", "chmod", "chown", "env", "head", "tail", "sort", "uniq", "cut", "tr",
        "wc", "dirname", "basename", "pwd", "date", "uname", "id", "whoami", "nproc", "df", "du",
        "readlink", "realpath", "mktemp", "stat", "test", "[", "sha256sum", "sha1sum", "md5sum",
        "grep", "egrep", "fgrep", "sed", "awk", "mawk", "find", "xargs", "tar", "gzip", "gunzip", "zcat",
        "which", "ps", "kill", "hostname", "apt", "apt-get", "dpkg",
    }
)  # fmt: skip

# Added by the final stages of vLLM's docker/Dockerfile (fact image-commands): apt's curl, sudo,
# python3-pip, python3.12, ffmpeg and cuda-nvcc; `python3 -m pip install uv`; vllm's console script.
VLLM_IMAGE_COMMANDS = frozenset(
    {"curl", "sudo", "ffmpeg", "python3", "python3.12", "python", "pip", "pip3", "uv", "uvx", "nvcc"}
)

# Mounted into every GPU container by the NVIDIA container toolkit, whatever the image.
NVIDIA_RUNTIME_COMMANDS = frozenset({"nvidia-smi"})

# Console scripts that exist while their package is installed (vllm-omni's `vllm` replaces vLLM's:
# both point at a `main`, fact omni-cli-handover).
CONSOLE_SCRIPTS: dict[str, str] = {
    "vllm": "vllm",
    "vllm-omni": "vllm-omni",
    "huggingface-cli": "huggingface-hub",
    "hf": "huggingface-hub",
    "ray": "ray",
    "uvicorn": "uvicorn",
    "fastapi": "fastapi",
    "transformers": "transformers",
    "transformers-cli": "transformers",
    "accelerate": "accelerate",
    "torchrun": "torch",
    "ninja": "ninja",
    "tqdm": "tqdm",
    "gradio": "gradio",
    "whisper": "openai-whisper",
    "ruff": "ruff",
}


# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    name: str  # the row's name in SANDBOX_CITATIONS
    repository: str
    tag: str
    facts: tuple[str, ...]
    commands: frozenset[str]  # on PATH besides console scripts of installed packages
    entrypoint: tuple[str, ...]
    freeze: str  # file under sandbox/images/
    extra_packages: tuple[tuple[str, str], ...] = ()  # on top of the freeze (canonical name, version)
    note: str = ""

    @property
    def packages(self) -> dict[str, str]:
        return load_freeze(self.freeze) | dict(self.extra_packages)

    @property
    def omni_version(self) -> str | None:
        return dict(self.extra_packages).get("vllm-omni")


# The image's torch, torchaudio and torchvision are the +cu129 builds (fact image-packages); the freeze
# was resolved from PyPI and names them without the local version.
_CUDA_BUILDS = (("torch", "2.9.1+cu129"), ("torchaudio", "2.9.1+cu129"), ("torchvision", "0.24.1+cu129"))

# What `pip install -c constraints -e <vllm-omni 0.14.0>` added to and changed in the freeze
# (step-a-vllm-omni-install.log, its "Would install" line; fact omni-install-resolves). The rc1 image's
# own freeze is not available: this stands in for its vllm-omni dependencies (an approximation).
_OMNI_DEPENDENCY_PACKAGES = (
    ("imageio", "2.38.2"), ("aiofiles", "24.1.0"), ("brotli", "1.2.1"), ("cache-dit", "1.2.0"),
    ("decorator", "5.3.1"), ("diffusers", "0.39.0"), ("fa3-fwd", "0.0.1"), ("ffmpy", "1.0.0"),
    ("flatbuffers", "25.12.19"), ("gradio", "5.50.0"), ("gradio-client", "1.14.0"), ("groovy", "0.1.2"),
    ("imageio-ffmpeg", "0.8.1"), ("importlib-metadata", "10.2.0"), ("joblib", "1.6.0"),
    ("lazy-importer", "0.1.0"), ("lazy-loader", "0.6"), ("librosa", "1.0.0"), ("more-itertools", "11.2.1"),
    ("narwhals", "2.29.0"), ("omegaconf", "2.4.0"), ("onnxruntime", "1.32.0"),
    ("openai-whisper", "20250625"), ("orjson", "3.13.0"), ("pandas", "2.3.3"), ("pillow", "11.3.0"),
    ("platformdirs", "4.14.9"), ("pooch", "1.9.0"), ("pydantic", "2.12.3"), ("pydantic-core", "2.41.4"),
    ("pydub", "0.25.1"), ("python-dateutil", "4.0.0"), ("pytz", "2026.6"), ("resampy", "0.4.3"),
    ("ruff", "0.17.6"), ("safehttpx", "0.1.7"), ("safetensors", "0.8.0"), ("scikit-learn", "1.9.1"),
    ("scipy", "1.18.1"), ("semantic-version", "2.10.0"), ("soundfile", "0.14.0"), ("sox", "1.5.0"),
    ("soxr", "1.1.0"), ("threadpoolctl", "3.8.0"), ("tomlkit", "0.13.3"), ("torchsde", "0.2.6"),
    ("trampoline", "0.1.2"), ("tzdata", "2026.6"), ("websockets", "15.0.1"), ("zipp", "4.1.2"),
)  # fmt: skip

_COMMANDS = UBUNTU_BASE_COMMANDS | VLLM_IMAGE_COMMANDS | NVIDIA_RUNTIME_COMMANDS  # no git (image-no-git)

IMAGES: tuple[Image, ...] = (
    Image(
        name="image-vllm-openai",
        repository="vllm/vllm-openai",
        tag="v0.14.0",
        facts=("image-base", "image-commands", "image-entrypoint", "image-packages", "torchaudio-in-image"),
        commands=_COMMANDS,
        entrypoint=("vllm", "serve"),
        freeze="vllm-openai-v0.14.0-freeze.txt",
        # accelerate: installed by the Dockerfile on top of vLLM's requirements (fact image-packages).
        extra_packages=(*_CUDA_BUILDS, ("accelerate", "1.12.0")),
        note="torchaudio 2.9.1 is part of it: an unpinned torchaudio requirement is already satisfied",
    ),
    Image(
        name="image-vllm-omni",
        repository="vllm/vllm-omni",
        tag="v0.14.0rc1",
        facts=("image-commands", "image-entrypoint", "image-packages", "rc1-supports-qwen3-tts"),
        commands=_COMMANDS,
        entrypoint=("vllm", "serve"),
        freeze="vllm-openai-v0.14.0-freeze.txt",
        extra_packages=(
            *_CUDA_BUILDS,
            ("accelerate", "1.12.0"),
            *_OMNI_DEPENDENCY_PACKAGES,
            ("vllm-omni", "0.14.0rc1"),
        ),
        note="vllm-omni 0.14.0rc1 supports qwen3_tts; its `vllm` script hands over to vLLM without --omni",
    ),
)

IMAGE_REPOSITORIES = tuple(dict.fromkeys(image.repository for image in IMAGES))


def image_row(repository: str, tag: str) -> Image:
    """The row for ``repository:tag``. Other tags of a known repository reuse that repository's row
    (its tools and packages) with the tag's own vllm (and vllm-omni) version: we have no other freeze."""
    exact = next((i for i in IMAGES if (i.repository, i.tag) == (repository, tag)), None)
    return exact or next(i for i in IMAGES if i.repository == repository)


# ---------------------------------------------------------------------------------------------
# Downloads (what curl can fetch)
# ---------------------------------------------------------------------------------------------


def stand_in_digest(label: str) -> str:
    """A stable sha256 for an archive whose real digest nobody here has: never a real file's."""
    return hashlib.sha256(f"sandbox stand-in digest: {label}".encode()).hexdigest()


# The vllm-omni 0.14.0 sdist on PyPI (fact omni-sdist-on-pypi): its file URL and sha256 as PyPI lists
# them (checked with pip download + sha256sum; docs/bootstrap-resolution.txt compares them again).
VLLM_OMNI_SDIST_URL = (
    "https://files.pythonhosted.org/packages/b0/b0/06b63544c69b760da44e04833e139e8d8e590f47a0d1932138b9a7764bea/"
    "vllm_omni-0.14.0.tar.gz"
)
VLLM_OMNI_SDIST_SHA256 = "b5931232f9cd9d99081e9e90f591266dce54bae716cd3be35c2e17bb82c35689"

_GITHUB_ARCHIVE = r"https://github\.com/vllm-project/vllm-omni/archive/"


@dataclass(frozen=True)
class Download:
    name: str
    url: re.Pattern[str]  # the URLs that serve it (full match)
    filename: str  # what `curl -O` saves it as
    top_directory: str  # the one directory the tarball unpacks to
    project: str  # the Python project inside (its pyproject.toml)
    version: str
    sha256: str
    facts: tuple[str, ...]
    redirects: bool = False  # answers 302 first: without -L curl saves the redirect, not the file
    note: str = ""


DOWNLOADS: tuple[Download, ...] = (
    Download(
        name="vllm-omni-sdist",
        url=re.compile(r"https://files\.pythonhosted\.org/packages/.*/vllm_omni-0\.14\.0\.tar\.gz"),
        filename="vllm_omni-0.14.0.tar.gz",
        top_directory="vllm_omni-0.14.0",
        project="vllm-omni",
        version="0.14.0",
        sha256=VLLM_OMNI_SDIST_SHA256,
        facts=("omni-sdist-on-pypi",),
        note="the tag's contents; /packages/source/... URLs redirect to the hashed path",
    ),
    Download(
        name="vllm-omni-tag-archive",
        url=re.compile(_GITHUB_ARCHIVE + r"(refs/tags/)?v0\.14\.0\.tar\.gz"),
        filename="v0.14.0.tar.gz",
        top_directory="vllm-omni-0.14.0",
        project="vllm-omni",
        version="0.14.0",
        # Unknown here: GitHub's generated archives are stable in practice; a stand-in digest models that.
        sha256=stand_in_digest("github vllm-project/vllm-omni v0.14.0.tar.gz"),
        facts=("omni-sdist-on-pypi",),
        redirects=True,  # github.com answers 302 to codeload.github.com
    ),
    Download(
        name="vllm-omni-main-archive",
        url=re.compile(_GITHUB_ARCHIVE + r"(refs/heads/)?main\.tar\.gz"),
        filename="main.tar.gz",
        top_directory="vllm-omni-main",
        project="vllm-omni",
        version="0.30.1.dev0",
        # A branch moves: a real digest would change with every commit. One stand-in is enough here.
        sha256=stand_in_digest("github vllm-project/vllm-omni main.tar.gz"),
        facts=("omni-sdist-on-pypi", "omni-main-ahead"),
        redirects=True,
        note="the default branch targets a much newer vLLM than 0.14",
    ),
)


def download_for(url: str) -> Download | None:
    return next((d for d in DOWNLOADS if d.url.fullmatch(url)), None)
