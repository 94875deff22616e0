"""``python -m sandbox``: start, inspect and stop an embedded sandbox cluster."""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from sandbox.apiserver import pki
from sandbox.cluster import write_json_atomic
from sandbox.endpoint import alive, read_endpoint, ready, running_endpoint, running_time_scale
from sandbox.faults import KNOWN, FaultError, Faults, parse_params
from sandbox.nodes import NodesFileError, load_nodes
from sandbox.seeds import SEEDS, SeedError, seed

READY_TIMEOUT = 30.0
EXIT_USAGE = 2


class SandboxError(Exception):
    """A failure the user can act on; printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def write_kubeconfig(state_dir: Path, endpoint: dict) -> Path:
    creds = pki.ensure_credentials(state_dir)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {
                    "server": endpoint["server"],
                    "certificate-authority-data": base64.b64encode(creds.ca_cert.read_bytes()).decode(),
                },
            }
        ],
        "users": [{"name": "sandbox-admin", "user": {"token": creds.token}}],
        "contexts": [
            {
                "name": "sandbox",
                "context": {"cluster": "sandbox", "user": "sandbox-admin", "namespace": "default"},
            }
        ],
        "current-context": "sandbox",
        "preferences": {},
    }
    path = state_dir / "kubeconfig"
    tmp = path.with_name(".kubeconfig.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    os.replace(tmp, path)
    return path


def cmd_up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    if args.time_scale <= 0:
        raise SandboxError(f"--time-scale must be greater than 0 (got {args.time_scale})", EXIT_USAGE)
    if args.seed is not None and args.seed not in SEEDS:
        raise SandboxError(f"unknown seed {args.seed!r}; known: {', '.join(SEEDS)}", EXIT_USAGE)
    if args.nodes is not None:
        try:
            load_nodes(args.nodes)  # fail here, clearly, before anything starts
        except NodesFileError as exc:
            raise SandboxError(str(exc), EXIT_USAGE) from None
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    endpoint = running_endpoint(state_dir)
    if endpoint is not None:
        running_scale = running_time_scale(state_dir)
        if args.nodes is not None or args.time_scale not in (1.0, running_scale):
            print(
                f"sandbox already running (time scale {running_scale:g}); --nodes and --time-scale apply "
                "only when it starts",
                file=sys.stderr,
            )
        kubeconfig = write_kubeconfig(state_dir, endpoint)
        _seed(args, kubeconfig)
        print(kubeconfig)
        return 0
    pki.ensure_credentials(state_dir)
    write_json_atomic(state_dir / "config.json", {"timeScale": args.time_scale})
    stale = read_endpoint(state_dir)
    command = [sys.executable, "-m", "sandbox", "serve", "--state-dir", str(state_dir)]
    if args.nodes is not None:
        command += ["--nodes", str(args.nodes.resolve())]
    log_path = state_dir / "apiserver.out"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxError(f"sandbox API server exited with code {proc.returncode}; see {log_path}")
        endpoint = read_endpoint(state_dir)
        if endpoint and endpoint != stale and endpoint.get("pid") == proc.pid and ready(state_dir, endpoint):
            kubeconfig = write_kubeconfig(state_dir, endpoint)
            _seed(args, kubeconfig)
            print(kubeconfig)
            return 0
        time.sleep(0.1)
    proc.terminate()
    raise SandboxError(f"sandbox API server did not become ready within {READY_TIMEOUT:.0f}s; see {log_path}")


def _seed(args: argparse.Namespace, kubeconfig: Path) -> None:
    if args.seed is None:
        return
    try:
        seed(args.seed, args.state_dir, kubeconfig)
    except SeedError as exc:
        raise SandboxError(str(exc)) from None


def cmd_fault(args: argparse.Namespace) -> int:
    faults = Faults(args.state_dir)
    try:
        if args.action == "list":
            active = faults.active()
            for name, (what, defaults) in sorted(KNOWN.items()):
                state = f"ON  {json.dumps(active[name], sort_keys=True)}" if name in active else "off"
                params = " ".join(f"{k}={v}" for k, v in defaults.items()) or "-"
                print(f"{name:<26} {state:<40} {what} (parameters: {params})")
            return 0
        if args.action == "set":
            if not args.name:
                raise FaultError("fault set needs a fault name")
            faults.set(args.name, parse_params(args.name, args.params))
            print(f"fault {args.name} on")
            return 0
        if args.all:
            faults.clear()
            print("all faults off")
        elif args.name:
            faults.clear(args.name)
            print(f"fault {args.name} off")
        else:
            raise FaultError("fault clear needs a fault name or --all")
        return 0
    except FaultError as exc:
        raise SandboxError(str(exc), EXIT_USAGE) from None


def cmd_status(args: argparse.Namespace) -> int:
    endpoint = running_endpoint(args.state_dir)
    if endpoint is None:
        print(f"stopped ({args.state_dir})")
        return 3
    kubeconfig = args.state_dir / "kubeconfig"
    print(f"running  pid={endpoint['pid']}  server={endpoint['server']}  kubeconfig={kubeconfig}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    endpoint = read_endpoint(args.state_dir)
    if not endpoint or not alive(int(endpoint.get("pid", 0))):
        print(f"not running ({args.state_dir})")
        return 0
    pid = int(endpoint["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    print(f"stopped ({args.state_dir})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from sandbox.cluster import serve

    args.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return serve(args.state_dir, args.nodes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="An embedded Kubernetes-compatible cluster (HTTPS API server, simulated nodes) "
        "that the real helm, kubectl and Python client use like any cluster.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "--state-dir",
            type=Path,
            required=True,
            help="directory holding the sandbox's store, certificates and kubeconfig",
        )
        p.set_defaults(func=func)
        return p

    up = add(
        "up", "start the sandbox in the background (no-op if running) and print its kubeconfig path", cmd_up
    )
    up.add_argument("--nodes", type=Path, help="YAML stream of v1 Node manifests to register at start")
    up.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="divide every simulated duration by X (60: a simulated minute per second)",
    )
    up.add_argument(
        "--seed",
        choices=SEEDS,
        help="install a starting point once it runs ('incident': the "
        "example chart as release local-llm, its TTS pod crash-looping)",
    )
    add("status", "say whether the sandbox runs (exit 0) or not (exit 3)", cmd_status)
    fault = add("fault", "list, set or clear injected faults (they take effect at once)", cmd_fault)
    fault.add_argument("action", choices=("list", "set", "clear"))
    fault.add_argument("name", nargs="?", help="fault name (see 'fault list')")
    fault.add_argument("params", nargs="*", help="KEY=VALUE parameters for 'set'")
    fault.add_argument("--all", action="store_true", help="with 'clear': every fault")
    add("down", "stop the sandbox; stored objects are kept for the next up", cmd_down)
    serve = add("serve", "run the sandbox in the foreground (what 'up' starts in the background)", cmd_serve)
    serve.add_argument("--nodes", type=Path, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SandboxError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
