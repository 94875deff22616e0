"""What the benchmark scripts share: sandbox start/stop, inventories, tool environment, process readings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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


def cpu_share(pid: int, seconds: float) -> float:
    """CPU of process ``pid`` alone over the next ``seconds``, in % of one core."""
    before, started = cpu_seconds(pid), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / (time.perf_counter() - started) * 100


def sandbox_pid(state: Path) -> int:
    return json.loads((state / "endpoint.json").read_text())["pid"]


def kubectl_json(env: dict, *args: str) -> dict | None:
    """``kubectl ... -o json`` parsed, or None when kubectl fails."""
    result = subprocess.run(
        [str(BIN / "kubectl"), *args, "-o", "json"], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


def pods(env: dict, *args: str) -> list[dict]:
    """The pods ``kubectl get pods ARGS`` lists (the kubeconfig's namespace unless ARGS say otherwise)."""
    listed = kubectl_json(env, "get", "pods", *args)
    return listed["items"] if listed else []


def pod_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def seeded_settled(listed: list[dict]) -> bool:
    """Every pod of the seeded release Ready, but the TTS one, which crash-loops by design."""
    return len(listed) >= 6 and sum(pod_ready(p) for p in listed) >= len(listed) - 1


def wait_seeded_settled(env: dict, timeout: float = 120) -> list[dict]:
    """Wait (up to ``timeout`` s) for the seeded release to settle, then 2 s more for the last probes
    and status writes of the start-up; returns the pods."""
    deadline = time.monotonic() + timeout
    while not seeded_settled(listed := pods(env)) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(2)
    return listed
