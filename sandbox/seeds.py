"""Starting points installed with ``python -m sandbox up --seed NAME``.

``incident``: the example chart (``examples/HelmChart/custom-chart``), copied into the
state dir so demos never touch the checkout, installed with the real helm as release
``local-llm``; its ``tts`` block is the plan's pre-fix state, so the TTS pod crash-loops
with the user's error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_CHART = REPO / "examples" / "HelmChart" / "custom-chart"
SEEDS = ("incident",)
RELEASE = "local-llm"
NAMESPACE = "default"


class SeedError(RuntimeError):
    pass


def helm_binary() -> str:
    """The pinned helm next to this interpreter (``.venv/bin``), else the one on PATH."""
    beside = Path(sys.executable).parent / "helm"
    if beside.exists():
        return str(beside)
    found = shutil.which("helm")
    if found is None:
        raise SeedError("helm not found next to the Python interpreter or on PATH: run `make setup`")
    return found


def chart_copy(state_dir: Path) -> Path:
    """The sandbox's own copy of the example chart (made once; later edits are kept)."""
    target = state_dir / "HelmChart" / "custom-chart"
    if not target.exists():
        tmp = target.with_name(".custom-chart.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(EXAMPLE_CHART, tmp)
        tmp.rename(target)
    return target


def seed(name: str, state_dir: Path, kubeconfig: Path) -> None:
    if name not in SEEDS:
        raise SeedError(f"unknown seed {name!r}; known: {', '.join(SEEDS)}")
    chart = chart_copy(state_dir)
    env = dict(
        os.environ,
        KUBECONFIG=str(kubeconfig),
        HELM_CACHE_HOME=str(state_dir / "helm" / "cache"),
        HELM_CONFIG_HOME=str(state_dir / "helm" / "config"),
        HELM_DATA_HOME=str(state_dir / "helm" / "data"),
    )
    helm = helm_binary()
    installed = subprocess.run(
        [helm, "status", RELEASE, "-n", NAMESPACE], env=env, capture_output=True, text=True
    )
    if installed.returncode == 0:
        print(f"seed {name}: release {RELEASE} already installed", file=sys.stderr)
        return
    print(f"seed {name}: helm install {RELEASE} {chart}", file=sys.stderr)
    result = subprocess.run(
        [
            helm,
            "upgrade",
            "--install",
            RELEASE,
            str(chart),
            "-f",
            str(chart / "values.yaml"),
            "-n",
            NAMESPACE,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SeedError(f"seed {name}: helm install failed: {result.stderr.strip()}")
