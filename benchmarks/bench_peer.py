#!/usr/bin/env python3
"""Benchmark our fix (`runner.py fix`) against the peer, the same plan as one stock-Ansible playbook
(benchmarks/peer/fix.yml, README there). Each path gets fresh sandboxes (one at a time, seeded with
the incident) so neither helps the other. Measured per path: the fix from the incident, the no-op
rerun (best and mean of --runs), a broken block until failure; wall seconds and the CPU seconds of
the controller process tree (getrusage(RUSAGE_CHILDREN) deltas); then, in one more no-op run with
counting wrappers, module processes and helm invocations. Prints one table; asserts nothing.

Run: .venv/bin/python benchmarks/bench_peer.py [--time-scale 60] [--runs 3] [--skip-peer|--skip-ours]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import signal
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml
from _support import BIN, REPO, sandbox_down, sandbox_up, tool_env

from runbooks.defaults import shipped_block

PEER_DIR = REPO / "benchmarks" / "peer"
HOST = "bench_peer"  # the inventory host of either path (ours takes a per-host run lock by this name)
RELEASE, NAMESPACE = "local-llm", "default"
# Actions that run on the controller only (no module process); everything else is a module run.
CONTROLLER_ONLY = {
    "set_fact",
    "debug",
    "set_stats",
    "assert",
    "fail",
    "meta",
    "pause",
    "add_host",
    "group_by",
    "validate_argument_spec",
    "include_role",
    "include_tasks",
    "include_vars",
    "import_role",
    "import_tasks",
    "import_playbook",
}
REMOTE_PREFIXES = ("local_llm.tts.", "kubernetes.core.", "ansible.builtin.", "ansible.legacy.")


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Result:
    wall: float
    cpu: float
    code: int
    stdout: str
    stderr: str


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict, log: Path) -> Result:
    """Run to completion; wall seconds and CPU seconds of the whole (waited-for) process tree."""
    cpu0, start = children_cpu(), time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    result = Result(
        time.perf_counter() - start, children_cpu() - cpu0, proc.returncode, proc.stdout, proc.stderr
    )
    with log.open("a") as out:
        out.write(
            f"$ {' '.join(command)}\n--- exit {proc.returncode}\n{proc.stdout}\n--- stderr\n{proc.stderr}\n"
        )
    return result


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


class Sandboxes:
    """Starts sandboxes one at a time and stops every one it started, whatever happens."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self.started: list[Path] = []

    def up(self, state: Path) -> None:
        say(
            f"  starting sandbox {state.parent.name}/{state.name} "
            f"(seed incident, time scale {self.time_scale:g})"
        )
        self.started.append(state)
        try:
            sandbox_up(state, "--seed", "incident", "--time-scale", f"{self.time_scale:g}")
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"sandbox {state} did not start:\n{tail(exc.stderr.decode())}") from None

    def down(self, state: Path) -> None:
        if state in self.started:
            sandbox_down(state)
            self.started.remove(state)
            say(f"  stopped sandbox {state.parent.name}/{state.name}")

    def down_all(self) -> None:
        for state in list(self.started):
            self.down(state)


def helm_history(state: Path) -> str:
    """The release's last revision and status, e.g. '3 deployed' (read outside any timed window)."""
    proc = subprocess.run(
        [str(BIN / "helm"), "history", RELEASE, "-n", NAMESPACE, "--max", "1", "-o", "json"],
        env=tool_env(state),
        capture_output=True,
        text=True,
    )
    try:
        last = json.loads(proc.stdout)[-1]
    except (ValueError, IndexError):
        return "unknown"
    return f"revision {last['revision']} {last['status']}"


def wrapper(path: Path, counter: Path, real: Path) -> Path:
    """A script that appends its arguments to ``counter``, then execs ``real``."""
    path.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{counter}"\nexec "{real}" "$@"\n')
    path.chmod(0o755)
    return path


def counting_tools(base: Path) -> Path:
    """Counting wrappers under ``base``: bin/helm (execs .venv/bin/helm) and bin/helm3 (helm3), put first
    on PATH; interpreter/python (the venv's python, for ansible_python_interpreter: one run per module
    process), kept off PATH. Returns the directory of the counter files."""
    counters, bin_dir, interpreter = base / "counters", base / "bin", base / "interpreter"
    for d in (counters, bin_dir, interpreter):
        d.mkdir(parents=True, exist_ok=True)
    wrapper(bin_dir / "helm", counters / "helm", BIN / "helm")
    wrapper(bin_dir / "helm3", counters / "helm", BIN / "helm3")
    wrapper(interpreter / "python", counters / "python", BIN / "python")
    return counters


def read_counter(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def helm_subcommands(lines: list[str]) -> Counter:
    return Counter(next((w for w in line.split() if not w.startswith("-")), "?") for line in lines)


def module_events(run_dir: Path) -> Counter:
    """Module runs by action, from ansible-runner job events: runner_on_ok/failed of tasks whose
    action runs a module (loop tasks: one per item)."""
    tasks: dict[tuple[str, str], dict] = {}
    for path in sorted((run_dir / "job_events").glob("*.json")):
        event = json.loads(path.read_text())
        data = event.get("event_data") or {}
        kind = event.get("event")
        if kind not in ("runner_on_ok", "runner_on_failed", "runner_item_on_ok", "runner_item_on_failed"):
            continue
        task = tasks.setdefault((data.get("task_uuid", ""), data.get("host", "")), {"items": 0, "done": 0})
        task["action"] = data.get("task_action", "")
        task["items" if "item" in kind else "done"] += 1
    counts: Counter = Counter()
    for task in tasks.values():
        action = task["action"]
        if action.rsplit(".", 1)[-1] in CONTROLLER_ONLY:
            continue
        if "." in action and not action.startswith(REMOTE_PREFIXES):
            continue
        counts[action] += task["items"] or task["done"]
    return counts


# ----------------------------------------------------------------------------- the two paths


class Contender:
    """One way to run the fix: how to write its inventory, run it and read what it changed."""

    name = ""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp / self.name
        self.tmp.mkdir()
        self.log = self.tmp / "log.txt"

    def inventory(self, state: Path, count: bool = False) -> Path:
        raise NotImplementedError

    def command(self, inventory: Path, vars_file: Path | None, count: bool = False) -> list[str]:
        raise NotImplementedError

    def changed(self, result: Result) -> str:
        raise NotImplementedError

    def run(self, state: Path, vars_file: Path | None = None, count: bool = False) -> Result:
        env = tool_env(state) | {"ANSIBLE_NOCOLOR": "1"}
        if count:
            env["PATH"] = f"{self.tmp / 'count' / 'bin'}:{env['PATH']}"
        return timed(self.command(self.inventory(state, count), vars_file, count), env, self.log)

    def report(self, what: str, result: Result) -> None:
        say(
            f"  {self.name}: {what}: {result.wall:.1f}s wall, {result.cpu:.1f}s CPU, exit {result.code}, "
            f"changed {self.changed(result)}"
        )


class Ours(Contender):
    name = "ours"

    def inventory(self, state: Path, count: bool = False) -> Path:
        # A plain cluster host (no sandbox_state_dir): the sandbox is already up, so runner.py
        # does not spend time on `sandbox up` and both paths time only the fix.
        host = {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "kubeconfig": str(state / "kubeconfig"),
            "chart_path": str(state / "HelmChart" / "custom-chart"),
        }
        if count:
            # runner.py puts .venv/bin first on PATH, so helm_binary names the wrapper too.
            host["helm_binary"] = str(self.tmp / "count" / "bin" / "helm")
            host["ansible_python_interpreter"] = str(self.tmp / "count" / "interpreter" / "python")
        path = self.tmp / f"inventory-{state.name}{'-count' if count else ''}.yml"
        path.write_text(yaml.safe_dump({"all": {"children": {"clusters": {"hosts": {HOST: host}}}}}))
        return path

    def command(self, inventory: Path, vars_file: Path | None, count: bool = False) -> list[str]:
        extra = ["-e", f"@{vars_file}"] if vars_file else []
        return [sys.executable, str(REPO / "runner.py"), "fix", "-i", str(inventory), "--json", *extra]

    def summary(self, result: Result) -> dict:
        try:
            return json.loads(result.stdout)
        except ValueError:
            return {}

    def changed(self, result: Result) -> str:
        return str(self.summary(result).get("hosts", {}).get(HOST, {}).get("changed", "?"))


class Peer(Contender):
    name = "peer"

    def inventory(self, state: Path, count: bool = False) -> Path:
        helm3 = self.tmp / "count" / "bin" / "helm3" if count else BIN / "helm3"
        template = string.Template((PEER_DIR / "inventory.yml.in").read_text())
        path = self.tmp / f"inventory-{state.name}{'-count' if count else ''}.yml"
        path.write_text(template.substitute(host=HOST, state_dir=state, helm3=helm3))
        return path

    def command(self, inventory: Path, vars_file: Path | None, count: bool = False) -> list[str]:
        python = self.tmp / "count" / "interpreter" / "python"
        extra = ["-e", f"ansible_python_interpreter={python}"] if count else []
        return [
            str(BIN / "ansible-playbook"),
            "-i",
            str(inventory),
            str(PEER_DIR / "fix.yml"),
            "-e",
            f"@{vars_file}",
            *extra,
        ]

    def changed(self, result: Result) -> str:
        found = re.search(rf"^{HOST}\s*:.*?changed=(\d+)", result.stdout, re.MULTILINE)
        return found.group(1) if found else "?"


def measure(path: Contender, sandboxes: Sandboxes, good: Path | None, bad: Path, runs: int) -> dict:
    """The fix, the no-op reruns and the counting rerun on one sandbox; the broken block on another."""
    figures: dict = {}
    say(f"{path.name}: fix from the incident")
    state = path.tmp / "good"
    sandboxes.up(state)
    fix = path.run(state, good)
    path.report("fix from the incident", fix)
    figures["fix"] = fix
    if fix.code != 0:
        say(f"  {path.name}: the fix failed; its output ends:\n{tail(fix.stdout + fix.stderr)}")
    reruns = []
    for n in range(1, runs + 1):
        rerun = path.run(state, good)
        path.report(f"no-op rerun {n}/{runs}", rerun)
        reruns.append(rerun)
    figures["reruns"] = reruns

    say(f"{path.name}: one more no-op rerun with counting helm and python wrappers")
    counters = counting_tools(path.tmp / "count")
    counted = path.run(state, good, count=True)
    path.report("counted no-op rerun", counted)
    figures["helm"] = read_counter(counters / "helm")
    figures["python"] = read_counter(counters / "python")
    if isinstance(path, Ours):
        run_dir = path.summary(counted).get("artifacts")
        figures["events"] = module_events(REPO / run_dir) if run_dir else None
    sandboxes.down(state)

    say(f"{path.name}: broken block (no --omni) until failure")
    state = path.tmp / "bad"
    sandboxes.up(state)
    broken = path.run(state, bad)
    path.report("broken block", broken)
    figures["broken"] = broken
    figures["broken_after"] = helm_history(state)
    say(f"  {path.name}: release after the failure: {figures['broken_after']}")
    sandboxes.down(state)
    return figures


# ----------------------------------------------------------------------------- the table


def table(ours: dict | None, peer: dict | None, runs: int) -> str:
    def num(fig: dict | None, get, fmt: str = "{:.1f}") -> tuple[str, float | None]:
        if fig is None:
            return "-", None
        value = get(fig)
        return ("-", None) if value is None else (fmt.format(value), float(value))

    rows = [
        ("fix from the incident, wall s", lambda f: f["fix"].wall, "{:.1f}"),
        ("fix from the incident, CPU s", lambda f: f["fix"].cpu, "{:.1f}"),
        ("no-op rerun, wall s, best", lambda f: min(r.wall for r in f["reruns"]), "{:.1f}"),
        (f"no-op rerun, wall s, mean of {runs}", lambda f: sum(r.wall for r in f["reruns"]) / runs, "{:.1f}"),
        ("no-op rerun, CPU s, best", lambda f: min(r.cpu for r in f["reruns"]), "{:.1f}"),
        (f"no-op rerun, CPU s, mean of {runs}", lambda f: sum(r.cpu for r in f["reruns"]) / runs, "{:.1f}"),
        ("broken block until failure, wall s", lambda f: f["broken"].wall, "{:.1f}"),
        ("broken block until failure, CPU s", lambda f: f["broken"].cpu, "{:.1f}"),
        (
            "module processes per no-op (job events)",
            lambda f: sum(f["events"].values()) if f.get("events") is not None else None,
            "{:.0f}",
        ),
        ("module processes per no-op (interpreter runs)", lambda f: len(f["python"]), "{:.0f}"),
        ("helm invocations per no-op", lambda f: len(f["helm"]), "{:.0f}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'figure':<{width}}  {'ours':>8}  {'peer':>8}  {'ours/peer':>9}", "-" * (width + 33)]
    for label, get, fmt in rows:
        (o_text, o_val), (p_text, p_val) = num(ours, get, fmt), num(peer, get, fmt)
        ratio = f"{o_val / p_val:.2f}" if o_val is not None and p_val else "-"
        lines.append(f"{label:<{width}}  {o_text:>8}  {p_text:>8}  {ratio:>9}")
    lines.append("")
    for name, fig in (("ours", ours), ("peer", peer)):
        if fig is None:
            continue
        reruns = [r.code for r in fig["reruns"]]
        codes = f"exit codes: fix {fig['fix'].code}, reruns {reruns}, broken {fig['broken'].code}"
        lines.append(f"{name}: {codes}; release after the broken block: {fig['broken_after']}")
        if fig.get("events") is not None:
            lines.append(
                f"{name}: module runs by action: "
                + ", ".join(f"{a} {n}" for a, n in sorted(fig["events"].items()))
            )
        helm = helm_subcommands(fig["helm"])
        lines.append(f"{name}: helm by subcommand: " + ", ".join(f"{c} {n}" for c, n in sorted(helm.items())))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--time-scale", type=float, default=60, help="sandbox time scale (default 60)")
    parser.add_argument("--runs", type=int, default=3, help="no-op reruns per path (default 3)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--skip-peer", action="store_true", help="measure only ours")
    group.add_argument("--skip-ours", action="store_true", help="measure only the peer")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    sandboxes = Sandboxes(args.time_scale)
    ours = peer = None
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp_name:
        tmp = Path(tmp_name)
        desired = shipped_block()
        good = tmp / "desired.yml"
        good.write_text(yaml.safe_dump({"tts_desired": desired}, sort_keys=False))
        faulty = dict(desired, extraArgs=[a for a in desired["extraArgs"] if a != "--omni"])
        bad_peer = tmp / "faulty-peer.yml"
        bad_peer.write_text(yaml.safe_dump({"tts_desired": faulty}, sort_keys=False))
        bad_ours = tmp / "faulty-ours.yml"
        bad_ours.write_text(yaml.safe_dump({"tts_desired": faulty, "tts_pitfalls_fail_on": "never"}))
        try:
            if not args.skip_ours:
                ours = measure(Ours(tmp), sandboxes, None, bad_ours, args.runs)
            if not args.skip_peer:
                peer = measure(Peer(tmp), sandboxes, good, bad_peer, args.runs)
        except KeyboardInterrupt:
            say("interrupted: stopping the sandboxes")
            return 130
        finally:
            sandboxes.down_all()
    print(f"time scale {args.time_scale:g}; ours = runner.py fix, peer = benchmarks/peer/fix.yml (Helm 3)")
    print(table(ours, peer, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
