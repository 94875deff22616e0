"""Whether a sandbox already runs in a state directory: its endpoint file, a live server process and an
API server that answers /readyz. Light on imports, so runner.py can ask before spawning `sandbox up`."""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from pathlib import Path


def read_endpoint(state_dir: Path) -> dict | None:
    path = state_dir / "endpoint.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ready(state_dir: Path, endpoint: dict, timeout: float = 2.0) -> bool:
    context = ssl.create_default_context(cafile=str(state_dir / "pki" / "ca.crt"))
    try:
        with urllib.request.urlopen(f"{endpoint['server']}/readyz", timeout=timeout, context=context) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError, ValueError):
        return False


def running_endpoint(state_dir: Path) -> dict | None:
    endpoint = read_endpoint(state_dir)
    if endpoint and alive(int(endpoint.get("pid", 0))) and ready(state_dir, endpoint):
        return endpoint
    return None


def running_time_scale(state_dir: Path) -> float:
    try:
        return float(json.loads((state_dir / "config.json").read_text()).get("timeScale", 1.0))
    except (OSError, ValueError):
        return 1.0
