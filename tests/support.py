"""Helpers shared by the end-to-end tests: the real binaries and a running sandbox."""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
RELEASE = "local-llm"


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


# -- inventories --------------------------------------------------------------------------------------
def sandbox_host(state_dir: Path | None, time_scale: float = 600, **hostvars) -> dict:
    """One cluster's inventory vars: the sandbox in state_dir, which runner.py starts and seeds with the
    incident when it is not running (None: only the connection, for hosts with no cluster)."""
    host: dict = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "rollout_timeout": 120,
    }
    if state_dir is not None:
        host.update(
            sandbox_state_dir=str(state_dir),
            sandbox_seed="incident",
            sandbox_time_scale=time_scale,
            kubeconfig=str(state_dir / "kubeconfig"),
            chart_path=str(state_dir / "HelmChart" / "custom-chart"),
        )
    return {**host, **hostvars}


def write_inventory(path: Path, hosts: dict[str, dict]) -> Path:
    """An inventory with these hosts in the group the playbooks target (clusters)."""
    path.write_text(yaml.safe_dump({"all": {"children": {"clusters": {"hosts": hosts}}}}))
    return path


# -- helm's release storage -----------------------------------------------------------------------------
def release_secrets(box: Sandbox, release: str = RELEASE) -> list[dict]:
    return box.kubectl_json("get", "secrets", "-l", f"owner=helm,name={release}")["items"]


def decode_release(secret: dict) -> dict:
    """Helm's storage: the Secret's data.release is base64(gzip(json)) (base64 once more in the API)."""
    raw = base64.b64decode(base64.b64decode(secret["data"]["release"]))
    return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def encode_release(release: dict) -> str:
    return base64.b64encode(base64.b64encode(gzip.compress(json.dumps(release).encode()))).decode()


def leave_interrupted_upgrade(box: Sandbox, release: str = RELEASE) -> int:
    """What a helm killed mid-upgrade leaves: a new revision in pending-upgrade on top of the deployed one.
    Returns the pending revision."""
    latest = max(release_secrets(box, release), key=lambda s: int(s["metadata"]["labels"]["version"]))
    record = decode_release(latest)
    revision = int(record["version"]) + 1
    record["version"] = revision
    record["info"].update(status="pending-upgrade", description="Preparing upgrade")
    labels = {**latest["metadata"]["labels"], "version": str(revision), "status": "pending-upgrade"}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": latest["type"],
        "metadata": {
            "name": f"sh.helm.release.v1.{release}.v{revision}",
            "namespace": latest["metadata"]["namespace"],
            "labels": labels,
        },
        "data": {"release": encode_release(record)},
    }
    box.kubectl("create", "-f", "-", input_text=json.dumps(secret))
    return revision
