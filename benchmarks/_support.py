"""What the benchmark scripts share: sandbox start/stop, tool environment, process readings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"


def tool_env(state: Path | None = None) -> dict:
    """The environment for helm/kubectl/runner.py: the pinned tools first, helm state in ``state``."""
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    if state is not None:
        env |= {
            "KUBECONFIG": str(state / "kubeconfig"),
            "HELM_CACHE_HOME": str(state / "h"),
            "HELM_CONFIG_HOME": str(state / "h"),
            "HELM_DATA_HOME": str(state / "h"),
        }
    return env


def sandbox_up(state: Path, *extra: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "sandbox", "up", "--state-dir", str(state), *extra],
        check=True,
        cwd=REPO,
        capture_output=True,
    )


def sandbox_down(state: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "sandbox", "down", "--state-dir", str(state)], cwd=REPO, capture_output=True
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
