"""The package index ("PyPI today") and what installed packages require, as data.

Sources: vllm-omni 0.14.0's pyproject.toml (fact omni-dependencies), the real pip 26.3 dry runs against
the image's freeze (facts omni-install-resolves, unpinned-floats, qwen-tts-requires: the step logs in
/work/shared/facts/), qwen-tts 0.1.1's METADATA and vLLM 0.14.0's requirements files (fact
vllm-requires-transformers-4). Requirement strings are written as pip prints them (specifiers sorted),
so its "Collecting ... (from ...)" lines come out as in the logs.

Simplifications, on purpose:
- A package's requirements are listed as far as the replayed resolutions need: what the step logs
  show pip collecting or finding satisfied under it. Packages already installed are not recursed into
  (pip also lists their requirements as "already satisfied"; nothing changes because of them).
- pip's backtracking is not replayed line by line: the resolver takes the newest version whose own
  requirements fit the constraints and what installed packages require (``vllm.PipInstall.fits``).
  That is how the log's diffusers 0.42.1 -> 0.39.0 comes out: diffusers >= 0.40 needs huggingface-hub
  1.x, which transformers 4.57 (kept by vLLM's <5) does not allow. The exact bound is inferred from
  the log's backtracking, not read from diffusers' metadata.
- safetensors 0.7.0 -> 0.8.0 in the step-a log is not reproduced: nothing that stays in the final
  resolution asks for 0.8 (a left-over of pip's backtracking); safetensors stays at 0.7.0 here.

Adding a version (e.g. the release-date pins of a constraints file) is a data edit: append it to
``versions``; ``requires_from`` says from which version on a different requirement list applies.
The release-date versions (the shipped block's constraints, docs/bootstrap-resolution.txt) are in:
omegaconf 2.3.0 with antlr4, librosa 0.11.0 with audioread, onnxruntime 1.23.2 with coloredlogs,
and the older versions of the pure-Python packages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Which facts the table as a whole rests on (SANDBOX_CITATIONS["package-index"]).
PACKAGE_INDEX_FACTS = (
    "omni-dependencies",
    "omni-main-ahead",
    "omni-install-resolves",
    "unpinned-floats",
    "qwen-tts-requires",
    "qwen-tts-registers-nothing",
)


@dataclass(frozen=True)
class Package:
    versions: tuple[str, ...]  # ascending; the last is what an unpinned install gets today
    requires: tuple[str, ...] = ()  # requirement strings; "{version}" is the package's own version
    requires_from: dict[str, tuple[str, ...]] = field(default_factory=dict)  # version -> list from then on
    extras: dict[str, tuple[str, ...]] = field(default_factory=dict)  # imageio[ffmpeg] -> imageio-ffmpeg
    display: str = ""  # the name pip prints, when not the canonical one (ImageIO, pydantic_core)
    import_name: str = ""  # the module a missing package is reported under
    sdist: bool = False  # PyPI has only a source distribution (pip builds it)
    note: str = ""

    def requirements(self, version: str, key) -> tuple[str, ...]:
        """The requirement list of ``version``: the last ``requires_from`` entry at or below it."""
        chosen = self.requires
        for start in sorted(self.requires_from, key=key):
            if key(start) <= key(version):
                chosen = self.requires_from[start]
        return chosen


_LIBROSA_REQUIRES = (
    "numba>=0.61.0", "scipy>=1.15.0", "scikit-learn>=1.6.0", "joblib>=1.2", "decorator>=5.2.1",
    "pooch>=1.7", "soxr>=1.0.0", "lazy_loader>=0.3", "msgpack>=1.0.5",
)  # fmt: skip

# librosa 0.11.0 (vllm-omni's release date): audioread still required; 1.0.0 dropped it.
_LIBROSA_0_11_REQUIRES = (
    "audioread>=2.1.9", "numba>=0.51.0", "scipy>=1.6.0", "scikit-learn>=1.1.0", "joblib>=1.0",
    "decorator>=4.3.0", "pooch>=1.1", "soxr>=0.3.2", "lazy_loader>=0.1", "msgpack>=1.0",
)  # fmt: skip

_GRADIO_REQUIRES = (
    "aiofiles<25.0,>=22.0", "anyio<5.0,>=3.0", "brotli>=1.1.0", "fastapi<1.0,>=0.115.2", "ffmpy",
    "gradio-client==1.14.0", "groovy~=0.1", "httpx<1.0,>=0.24.1", "jinja2<4.0", "markupsafe<4.0,>=2.0",
    "orjson~=3.0", "pandas<3.0,>=1.0", "pillow<12.0,>=8.0", "pydantic<=2.12.3,>=2.0", "pydub",
    "python-multipart>=0.0.18", "ruff>=0.9.3", "safehttpx<0.2.0,>=0.1.6", "semantic-version~=2.0",
    "starlette<1.0,>=0.40.0", "tomlkit<0.14.0,>=0.12.0", "typer<1.0,>=0.12", "typing-extensions~=4.0",
    "uvicorn>=0.14.0",
)  # fmt: skip

# vllm-omni 0.14.0's pyproject.toml dependencies, in its order (fact omni-dependencies): no vllm, torch
# or transformers.
VLLM_OMNI_REQUIRES = (
    "omegaconf>=2.3.0", "librosa>=0.11.0", "resampy>=0.4.3", "diffusers>=0.36.0", "accelerate==1.12.0",
    "gradio==5.50", "soundfile>=0.13.1", "cache-dit==1.2.0", "tqdm>=4.66.0", "torchsde>=0.2.6",
    "fa3-fwd==0.0.1", "openai-whisper>=20250625", "imageio[ffmpeg]>=2.37.2", "onnxruntime>=1.19.0",
    "sox>=1.5.0",
)  # fmt: skip

PACKAGE_INDEX: dict[str, Package] = {
    # -- the image's own stack (vLLM 0.14.0 pins torch 2.9.1; newer releases exist, fact torch-abi) --
    "vllm": Package(("0.14.0", "0.33.0"), note="image 0.14.0; PyPI has 0.33.0 (fact omni-main-ahead)"),
    "torch": Package(("2.9.1", "2.10.0"), note="2.10.0 stands for any newer release"),
    "torchaudio": Package(("2.9.1", "2.10.0"), ("torch=={version}",), note="built against one torch"),
    "torchvision": Package(
        ("0.24.1", "0.25.0"), ("torch==2.9.1",), requires_from={"0.25.0": ("torch==2.10.0",)}
    ),
    "transformers": Package(
        ("4.55.2", "4.56.0", "4.57.1", "4.57.3", "4.57.5", "4.57.6", "5.24.0"),
        ("huggingface-hub<1.0,>=0.34.0", "tokenizers<=0.23.0,>=0.22.0"),
        # transformers 5 moved to huggingface-hub 1.x (bound approximate).
        requires_from={"5.0.0": ("huggingface-hub<2.0,>=1.0.0", "tokenizers<=0.23.0,>=0.22.0")},
        note="image 4.57.6; `pip install -U transformers` picks 5.24.0 (fact vllm-requires-transformers-4)",
    ),
    "huggingface-hub": Package(
        ("0.36.0", "1.33.0"), requires_from={"1.0.0": ("hf-xet<2.0.0,>=1.6.0",)}, display="huggingface_hub"
    ),
    "hf-xet": Package(("1.2.0", "1.8.0")),
    "accelerate": Package(
        ("1.12.0",),
        (
            "numpy>=1.17",
            "packaging>=20.0",
            "psutil",
            "pyyaml",
            "torch>=2.0.0",
            "huggingface_hub>=0.21.0",
            "safetensors>=0.4.3",
        ),
        import_name="accelerate",
    ),
    "safetensors": Package(("0.7.0", "0.8.0")),
    "pillow": Package(("11.3.0", "12.1.0")),
    "pydantic": Package(
        ("2.12.3", "2.12.5"),
        ("annotated-types>=0.6.0", "pydantic-core==2.41.4", "typing-inspection>=0.4.2"),
        requires_from={
            "2.12.5": ("annotated-types>=0.6.0", "pydantic-core==2.41.5", "typing-inspection>=0.4.2")
        },
    ),
    "pydantic-core": Package(("2.41.4", "2.41.5"), display="pydantic_core"),
    "websockets": Package(("15.0.1", "16.0")),
    # -- vllm-omni and what its install brings (step-a log; versions as resolved today) --
    "vllm-omni": Package(
        ("0.14.0", "0.30.0"),
        VLLM_OMNI_REQUIRES,
        note="0.14.0 matches vLLM 0.14.0; PyPI's newest, 0.30.0, does not (fact omni-main-ahead)",
    ),
    "omegaconf": Package(
        ("2.3.0", "2.4.0"),
        ("antlr4-python3-runtime==4.9.*", "PyYAML>=5.1.0"),
        requires_from={"2.4.0": ("PyYAML>=5.1.0",)},
        import_name="omegaconf",
    ),
    "antlr4-python3-runtime": Package(("4.9.3",)),
    "librosa": Package(
        ("0.11.0", "1.0.0"),
        _LIBROSA_0_11_REQUIRES,
        requires_from={"1.0.0": _LIBROSA_REQUIRES},
        import_name="librosa",
    ),
    "audioread": Package(("3.1.0",)),
    "resampy": Package(("0.4.3",)),
    "diffusers": Package(
        ("0.36.0", "0.39.0", "0.40.0", "0.41.0", "0.42.0", "0.42.1"),
        ("importlib_metadata", "huggingface_hub>=0.34.0", "regex!=2019.12.17"),
        requires_from={"0.40.0": ("importlib_metadata", "huggingface_hub>=1.0.0", "regex!=2019.12.17")},
        import_name="diffusers",
        note="0.42.1 is newest; resolution gives 0.39.0 on this image (see the module docstring)",
    ),
    "gradio": Package(("5.50.0",), _GRADIO_REQUIRES),
    "gradio-client": Package(("1.14.0",), ("fsspec", "websockets<16.0,>=13.0"), display="gradio_client"),
    "soundfile": Package(("0.13.1", "0.14.0"), ("cffi>=1.0",), import_name="soundfile"),
    "cache-dit": Package(("1.2.0",), ("transformers>=4.55.2",), display="cache_dit"),
    "torchsde": Package(("0.2.6",), ("trampoline>=0.1.2",)),
    "fa3-fwd": Package(("0.0.1",), ("einops", "ninja"), display="fa3_fwd"),
    "openai-whisper": Package(("20250625",), ("more-itertools", "tiktoken", "triton>=2"), sdist=True),
    "imageio": Package(("2.37.2", "2.38.2"), extras={"ffmpeg": ("imageio-ffmpeg",)}, display="ImageIO"),
    "imageio-ffmpeg": Package(("0.6.0", "0.8.1")),
    "onnxruntime": Package(
        ("1.23.2", "1.32.0"),
        ("coloredlogs", "flatbuffers", "protobuf"),
        requires_from={"1.32.0": ("flatbuffers", "protobuf>=4.25.8")},
        import_name="onnxruntime",
    ),
    "coloredlogs": Package(("15.0.1",), ("humanfriendly>=9.1",)),
    "humanfriendly": Package(("10.0",)),
    "sox": Package(("1.5.0",), sdist=True, import_name="sox"),
    "aiofiles": Package(("24.1.0",)),
    "brotli": Package(("1.2.0", "1.2.1")),
    "ffmpy": Package(("1.0.0",)),
    "groovy": Package(("0.1.2",)),
    "orjson": Package(("3.11.6", "3.13.0")),
    "pandas": Package(("2.3.3",), ("python-dateutil>=2.8.2", "pytz>=2020.1", "tzdata>=2022.7")),
    "python-dateutil": Package(("2.9.0.post0", "4.0.0")),
    "pytz": Package(("2025.2", "2026.6")),
    "tzdata": Package(("2025.3", "2026.6")),
    "pydub": Package(("0.25.1",)),
    "ruff": Package(("0.14.14", "0.17.6")),
    "safehttpx": Package(("0.1.7",)),
    "semantic-version": Package(("2.10.0",)),
    "tomlkit": Package(("0.13.3",)),
    "importlib-metadata": Package(
        ("8.7.1", "10.2.0"),
        ("zipp>=3.20",),
        requires_from={"10.0.0": ("zipp>=3.20", "lazy-importer>=0.1")},
        display="importlib_metadata",
    ),
    "zipp": Package(("3.23.0", "4.1.2")),
    "lazy-importer": Package(("0.1.0",)),
    "lazy-loader": Package(("0.4", "0.6")),
    "scipy": Package(("1.17.0", "1.18.1")),
    "scikit-learn": Package(
        ("1.8.0", "1.9.1"),
        ("threadpoolctl>=3.5.0",),
        requires_from={"1.9.0": ("narwhals>=2.0.1", "threadpoolctl>=3.5.0")},
    ),
    "narwhals": Package(("2.29.0",)),
    "threadpoolctl": Package(("3.6.0", "3.8.0")),
    "joblib": Package(("1.5.3", "1.6.0"), ("cloudpickle>=3.0",)),
    "decorator": Package(("5.2.1", "5.3.1")),
    "pooch": Package(("1.9.0",), ("platformdirs>=2.5.0",)),
    "platformdirs": Package(("4.5.1", "4.14.9")),
    "soxr": Package(("1.0.0", "1.1.0")),
    "more-itertools": Package(("10.8.0", "11.2.1")),
    "flatbuffers": Package(("25.12.19",)),
    "trampoline": Package(("0.1.2",)),
    # -- qwen-tts and flash-attn --
    "qwen-tts": Package(
        ("0.1.1",),
        (
            "transformers==4.57.3",
            "accelerate==1.12.0",
            "gradio",
            "librosa",
            "torchaudio",
            "soundfile",
            "sox",
            "onnxruntime",
            "einops",
        ),
        note="fact qwen-tts-requires; registers qwen3_tts only for itself (fact qwen-tts-registers-nothing)",
    ),
    "flash-attn": Package(
        ("2.8.3.post2",),
        ("torch", "einops"),
        sdist=True,
        note="sdist only; setup.py imports torch (facts flash-attn-build-isolation, flash-attn-only-binary)",
    ),
}

# The symbol each missing vllm-omni dependency is first imported for (rule vllm-omni-dependencies-skipped;
# the import site is illustrative).
MISSING_MODULE_SYMBOLS = {"omegaconf": "OmegaConf", "librosa": "load", "diffusers": "DiffusionPipeline"}

# What installed packages require beyond their index rows: pip checks these after an install and warns
# (it does not refuse) when the install broke them. vLLM 0.14.0's requirements/cuda.txt and common.txt
# (fact vllm-requires-transformers-4). Other vllm versions reuse them (no other data).
INSTALLED_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "vllm": ("torch==2.9.1", "torchaudio==2.9.1", "torchvision==0.24.1", "transformers<5,>=4.56.0"),
}
INSTALLED_REQUIREMENTS_FACTS = ("vllm-requires-transformers-4",)
