"""What the benchmark scripts share: sandbox start/stop, inventories, tool environment, process readings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
sys.path.insert(0, str(REPO))  # the benchmarks read the shipped defaults through runbooks.defaults


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


def write_inventory(path: Path, states: dict[str, Path], time_scale: float) -> Path:
    """One cluster per state directory: a sandbox that runner.py starts and seeds with the incident."""
    hosts = {
        name: {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "sandbox_state_dir": str(state),
            "sandbox_seed": "incident",
            "sandbox_time_scale": time_scale,
            "kubeconfig": str(state / "kubeconfig"),
            "chart_path": str(state / "HelmChart" / "custom-chart"),
        }
        for name, state in states.items()
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"clusters": {"hosts": hosts}}}}))
    return path


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
