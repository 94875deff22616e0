"""Inventory loading (through ``ansible-inventory``) and starting sandboxes the hosts ask for.

Each inventory host is one cluster. A host whose vars contain ``sandbox_state_dir`` asks
runner.py to start the embedded sandbox before the playbook runs:
``python -m sandbox up --state-dir DIR [--seed SEED] --time-scale X`` (``sandbox_seed``,
default none; ``sandbox_time_scale``, default 1). Its kubeconfig becomes the host's
``kubeconfig`` unless the inventory sets ``kubeconfig`` itself (the inventory wins, so a
test can point a sandbox host at a deliberately broken kubeconfig).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from runbooks import REPO_ROOT, VENV_BIN

INVENTORY_TIMEOUT = 60
SANDBOX_START_TIMEOUT = 180  # a first start with --seed incident installs a chart


class InventoryError(Exception):
    """The inventory cannot be used; a configuration error (exit 2)."""


class SandboxStartError(Exception):
    """A sandbox did not start; a configuration error (exit 2)."""


@dataclass
class Inventory:
    sources: list[Path]
    hosts: list[str]  # the hosts selected by --limit, in inventory order
    hostvars: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class SandboxRequest:
    state_dir: Path
    seed: str | None
    time_scale: float


def tool_env(project_dir: Path) -> dict[str, str]:
    """Environment for ansible tools: the venv's bin first on PATH, the project's ansible.cfg."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(tool_bin_dir()), env.get("PATH", "")])
    config = project_dir / "ansible.cfg"
    if config.is_file():
        env["ANSIBLE_CONFIG"] = str(config)
    return env


def tool_bin_dir() -> Path:
    """The venv's bin directory (the pinned ansible-playbook, helm, kubectl)."""
    return VENV_BIN if VENV_BIN.is_dir() else Path(sys.executable).parent


def load_inventory(source: Path, limit: str | None, project_dir: Path) -> Inventory:
    """Hosts and their (untemplated) vars, as ``ansible-inventory -i SOURCE --list`` sees them."""
    if not source.exists():
        raise InventoryError(f"inventory not found: {source}")
    command = [str(tool_bin_dir() / "ansible-inventory"), "-i", str(source), "--list"]
    if limit:
        command += ["--limit", limit]
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=project_dir,
            env=tool_env(project_dir),
            timeout=INVENTORY_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InventoryError(f"cannot run ansible-inventory: {exc}") from None
    if result.returncode != 0:
        raise InventoryError(f"ansible-inventory failed for {source}: {_last_lines(result.stderr)}")
    try:
        listing = json.loads(result.stdout)
    except ValueError:
        raise InventoryError(f"ansible-inventory printed no JSON for {source}") from None
    hosts = _hosts_of(listing, "all")
    if not hosts:
        why = _last_lines(result.stderr) or "it defines no hosts"
        selection = f" matching --limit {limit!r}" if limit else ""
        raise InventoryError(f"no hosts{selection} in inventory {source}: {why}")
    hostvars = listing.get("_meta", {}).get("hostvars", {})
    return Inventory([source], hosts, {host: dict(hostvars.get(host, {})) for host in hosts})


def _hosts_of(listing: dict, group: str, seen: set[str] | None = None) -> list[str]:
    seen = set() if seen is None else seen
    if group in seen:
        return []
    seen.add(group)
    entry = listing.get(group, {})
    hosts = list(entry.get("hosts", []))
    for child in entry.get("children", []):
        hosts += _hosts_of(listing, child, seen)
    return list(dict.fromkeys(hosts))


def _last_lines(text: str, count: int = 5) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def sandbox_requests(inventory: Inventory, project_dir: Path) -> dict[str, SandboxRequest]:
    """The sandbox each selected host asks for, by host name."""
    requests: dict[str, SandboxRequest] = {}
    for host in inventory.hosts:
        hostvars = inventory.hostvars.get(host, {})
        state_dir = hostvars.get("sandbox_state_dir")
        if state_dir in (None, ""):
            continue
        if not isinstance(state_dir, str) or "{{" in state_dir:
            raise InventoryError(f"host {host}: sandbox_state_dir must be a plain path, got {state_dir!r}")
        seed = hostvars.get("sandbox_seed")
        time_scale = hostvars.get("sandbox_time_scale", 1)
        if isinstance(time_scale, bool) or not isinstance(time_scale, int | float) or time_scale <= 0:
            raise InventoryError(f"host {host}: sandbox_time_scale must be a number > 0, got {time_scale!r}")
        path = Path(state_dir)
        requests[host] = SandboxRequest(
            state_dir=path if path.is_absolute() else project_dir / path,
            seed=str(seed) if seed not in (None, "", "none") else None,
            time_scale=float(time_scale),
        )
    return requests


def running_sandbox(request: SandboxRequest, shown: str, say: Callable[..., None]) -> Path | None:
    """The kubeconfig of a sandbox that already runs in the state dir (server alive, /readyz 200, its
    kubeconfig pointing at it), after the seed check ``sandbox up`` would make; else None. In process:
    ``python -m sandbox up`` would cost a Python start and the server package's imports per run."""
    from sandbox.endpoint import running_endpoint, running_time_scale
    from sandbox.seeds import SeedError, seed

    endpoint = running_endpoint(request.state_dir)
    kubeconfig = request.state_dir / "kubeconfig"
    if endpoint is None or not kubeconfig.is_file():
        return None
    try:
        clusters = (yaml.safe_load(kubeconfig.read_text()) or {}).get("clusters") or [{}]
        server = (clusters[0].get("cluster") or {}).get("server")
    except (OSError, yaml.YAMLError, AttributeError):
        return None
    if server != endpoint.get("server"):
        return None
    say(f"sandbox {shown} already running")
    scale = running_time_scale(request.state_dir)
    if request.time_scale not in (1.0, scale):
        say(f"  sandbox: already running (time scale {scale:g}); --time-scale applies only when it starts")
    if request.seed:
        messages = io.StringIO()
        try:
            with contextlib.redirect_stderr(messages):
                seed(request.seed, request.state_dir, kubeconfig)
        except SeedError as exc:
            raise SandboxStartError(f"sandbox {request.state_dir}: {exc}") from None
        for line in messages.getvalue().strip().splitlines():
            say(f"  sandbox: {line}")
    return kubeconfig.resolve()


def start_sandbox(request: SandboxRequest, project_dir: Path, say: Callable[..., None]) -> Path:
    """``python -m sandbox up`` unless it already runs; return its kubeconfig path."""
    shown = _display_path(request.state_dir, project_dir)
    running = running_sandbox(request, shown, say)
    if running is not None:
        return running
    command = [sys.executable, "-m", "sandbox", "up", "--state-dir", str(request.state_dir)]
    if request.seed:
        command += ["--seed", request.seed]
    command += ["--time-scale", f"{request.time_scale:g}"]
    started = time.monotonic()
    say(f"starting sandbox {shown} ... ", end="")
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,  # where the sandbox package lives
            env=tool_env(project_dir),
            timeout=SANDBOX_START_TIMEOUT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        say("failed")
        raise SandboxStartError(f"sandbox {shown} did not start: {exc}") from None
    lines = result.stdout.strip().splitlines()
    kubeconfig = Path(lines[-1].strip()) if lines else None
    if result.returncode != 0 or kubeconfig is None or not kubeconfig.is_file():
        message = _last_lines(result.stderr) or _last_lines(result.stdout) or f"exit code {result.returncode}"
        say("failed")
        raise SandboxStartError(f"sandbox {shown} did not start: {message}")
    say(f"ready in {time.monotonic() - started:.1f}s")
    for line in result.stderr.strip().splitlines():  # e.g. "already running; --time-scale ..."
        say(f"  sandbox: {line}")
    return kubeconfig.resolve()


def _display_path(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def start_sandboxes(inventory: Inventory, project_dir: Path, say: Callable[..., None]) -> dict[str, Path]:
    """Start every sandbox the selected hosts ask for (each state dir once); kubeconfig by host."""
    by_state_dir: dict[Path, Path] = {}
    kubeconfigs: dict[str, Path] = {}
    for host, request in sandbox_requests(inventory, project_dir).items():
        if request.state_dir not in by_state_dir:
            by_state_dir[request.state_dir] = start_sandbox(request, project_dir, say)
        kubeconfigs[host] = by_state_dir[request.state_dir]
    return kubeconfigs


def write_host_overrides(path: Path, overrides: dict[str, dict]) -> Path | None:
    """A YAML inventory source that sets per-host vars, given after the user's inventory.

    Extra vars would apply to every host; a later inventory source sets vars per host.
    """
    if not overrides:
        return None
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"all": {"hosts": overrides}}, sort_keys=True))
    path.chmod(0o600)
    return path


def kubeconfig_overrides(inventory: Inventory, sandbox_kubeconfigs: dict[str, Path]) -> dict[str, dict]:
    """``kubeconfig`` for sandbox hosts whose inventory does not set one."""
    return {
        host: {"kubeconfig": str(kubeconfig)}
        for host, kubeconfig in sandbox_kubeconfigs.items()
        if not inventory.hostvars.get(host, {}).get("kubeconfig")
    }


def plain_kubeconfig_paths(inventory: Inventory, project_dir: Path) -> list[Path]:
    """The hosts' ``kubeconfig`` vars that are plain paths (read for secrets to scrub)."""
    paths = []
    for host in inventory.hosts:
        value = inventory.hostvars.get(host, {}).get("kubeconfig")
        if isinstance(value, str) and value and "{{" not in value:
            path = Path(value).expanduser()
            paths.append(path if path.is_absolute() else project_dir / path)
    return paths
