"""Helpers shared by the end-to-end tests: the real binaries and a running sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"


def binary(name: str) -> str:
    """A tool installed by `make setup` (.venv/bin first, then PATH); missing is a setup error."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found in {VENV_BIN} or on PATH: run `make setup`")
    return found


def run(
    cmd: list[str],
    *,
    check: bool = True,
    env: dict | None = None,
    input_text: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd, capture_output=True, text=True, env=env, input=input_text, timeout=timeout, cwd=REPO
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"command failed ({result.returncode}): {' '.join(cmd)}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@dataclass
class Sandbox:
    state_dir: Path

    @property
    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig"

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["HELM_CACHE_HOME"] = str(self.state_dir / "helm-cache")
        env["HELM_CONFIG_HOME"] = str(self.state_dir / "helm-config")
        env["HELM_DATA_HOME"] = str(self.state_dir / "helm-data")
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([sys.executable, "-m", "sandbox", *args, "--state-dir", str(self.state_dir)], check=check)

    def up(self, *extra: str) -> Path:
        out = self.cli("up", *extra).stdout.strip().splitlines()
        return Path(out[-1])

    def down(self) -> None:
        self.cli("down")

    def kubectl(
        self, *args: str, check: bool = True, input_text: str | None = None
    ) -> subprocess.CompletedProcess:
        return run([binary("kubectl"), *args], check=check, env=self.env, input_text=input_text)

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def helm(self, helm_bin: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([binary(helm_bin), *args], check=check, env=self.env)

    def endpoint(self) -> dict:
        return json.loads((self.state_dir / "endpoint.json").read_text())
