#!/usr/bin/env python3
"""Benchmark our runbooks against the peer, the same plan as one stock-Ansible playbook
(benchmarks/peer/fix.yml, README there). Prints one table (ours, the peer's where it has one, the
ratio); asserts nothing; progress lines go to stderr. Each group gets fresh sandboxes (seeded with the
incident, started one at a time under a temporary directory, all stopped at the end) so no group
helps another. Wall seconds, and CPU seconds of the controller process tree (getrusage(RUSAGE_CHILDREN)
deltas: runner.py or ansible-playbook and everything they wait for; the sandbox is not part of it).

Groups (each can be skipped):
  ours, peer  the fix from the incident (and the overhead over the new TTS pod's own time to Ready,
              read from the sandbox afterwards); the no-op rerun (best and mean of --runs); a broken
              block until failure; in one more no-op run with counting wrappers, module processes and
              helm invocations. Ours only, on the fixed sandbox: `drift` with no drift, `status`, and
              five configuration errors (wall until exit, with the exit code; 2 expected).
  many        `drift` over --clusters releases in as many namespaces of one sandbox (one inventory
              host each), one run, against one run over one of them.
  idle        the sandbox's own CPU (% of one core) over --idle-seconds, seeded release, nothing running.
The conditions (values file lines, Services the chart renders) are printed above the table; a values
file much shorter than 300 lines would be padded with inert comments in each sandbox's copy first.

Run: .venv/bin/python benchmarks/bench_peer.py [--time-scale 60] [--runs 3] [--clusters 10]
         [--idle-seconds 20] [--skip-ours] [--skip-peer] [--skip-many] [--skip-idle]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import re
import resource
import shutil
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
from _support import (
    BIN,
    REPO,
    cpu_seconds,
    cpu_share,
    kubectl_json,
    pod_ready,
    pods,
    rss_mib,
    sandbox_down,
    sandbox_pid,
    sandbox_up,
    tool_env,
    wait_seeded_settled,
)

from runbooks.defaults import shipped_block
from sandbox.default_nodes import POOLS, node_manifest
from sandbox.seeds import EXAMPLE_CHART, chart_copy

PEER_DIR = REPO / "benchmarks" / "peer"
HOST = "bench_peer"  # the inventory host of either path (ours takes a per-host run lock by this name)
MANY_HOST = "bench_d{}"  # the hosts of the many-clusters group, in namespaces ns0, ns1, ...
RELEASE, NAMESPACE = "local-llm", "default"
TTS_DEPLOYMENT = f"{RELEASE}-tts"
# The "hidden-chart-like conditions": a values file of about 300 lines and six Services. The
# example chart (examples/HelmChart/custom-chart, which --seed incident installs) has both: 300 lines,
# and six enabled model servers (vision is disabled), each a Deployment and a Service. The fixtures
# under tests/fixtures/charts (conformance, twelve) are not TTS charts. A values file much shorter
# than that would be padded (inert comments, prepended) in every sandbox's copy before the runs.
VALUES_LINES_WANTED = 300
PAD_BELOW = 270
# The configuration errors, in the order Ours.config_errors makes them (each `fix` exits 2, expected).
CONFIG_ERRORS = (
    "no such context",  # -e kube_context=nope
    "server refuses",  # a kubeconfig copy whose server is https://127.0.0.1:1
    "values file missing",  # -e values_file=/nonexistent.yaml
    "values file malformed",  # a copy with a YAML syntax error
    "no such release",  # -e helm_release=nope
)
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
    started: float = 0.0  # time.time() at the start and the end of the run, to place the sandbox's
    ended: float = 0.0  # timestamps (wall-clock, see new_tts_pod) in it
    sandbox_cpu: float | None = None  # CPU seconds of the sandbox process during the run, if read


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict, log: Path) -> Result:
    """Run to completion; wall seconds and CPU seconds of the whole (waited-for) process tree."""
    epoch, cpu0, start = time.time(), children_cpu(), time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    result = Result(
        time.perf_counter() - start,
        children_cpu() - cpu0,
        proc.returncode,
        proc.stdout,
        proc.stderr,
        epoch,
        time.time(),
    )
    with log.open("a") as out:
        out.write(
            f"$ {' '.join(command)}\n--- exit {proc.returncode}\n{proc.stdout}\n--- stderr\n{proc.stderr}\n"
        )
    return result


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def expect(who: str, what: str, result: Result, code: int = 0) -> None:
    """Say on stderr, with the last lines of its output, when a run did not end with ``code``."""
    if result.code != code:
        say(
            f"  {who}: {what} exited {result.code} (expected {code}); its output ends:\n"
            f"{tail(result.stdout + chr(10) + result.stderr)}"
        )


class Sandboxes:
    """Starts sandboxes one at a time and stops every one it started, whatever happens."""

    def __init__(self, time_scale: float, pad_to: int | None = None) -> None:
        self.time_scale = time_scale
        self.pad_to = pad_to
        self.started: list[Path] = []

    def up(self, state: Path, *extra: str, seed: bool = True) -> None:
        """Start a sandbox (``--seed incident`` unless ``seed`` is false: then only the chart copy is
        made); pad its copy of the values file when the benchmark pads."""
        say(
            f"  starting sandbox {state.parent.name}/{state.name} "
            f"({'seed incident' if seed else 'no seed'}, time scale {self.time_scale:g}"
            f"{', ' + ' '.join(extra) if extra else ''})"
        )
        self.started.append(state)
        if not seed:
            chart_copy(state)
        args = ["--seed", "incident"] if seed else []
        try:
            sandbox_up(state, *args, "--time-scale", f"{self.time_scale:g}", *extra)
        except subprocess.CalledProcessError as exc:
            raise SystemExit(f"sandbox {state} did not start:\n{tail(exc.stderr.decode())}") from None
        if self.pad_to:
            pad_values(state / "HelmChart" / "custom-chart" / "values.yaml", self.pad_to)

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


# ----------------------------------------------------------------------------- conditions


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def pad_values(path: Path, target: int) -> int:
    """Prepend inert comment lines to a values file until it has ``target`` lines (no value changes,
    so the release's values still match it and no block, the tts one included, moves). Returns the
    number of lines added."""
    missing = target - line_count(path)
    if missing <= 0:
        return 0
    padding = [
        f"# bench padding {n}/{missing}: inert comment line (benchmarks/bench_peer.py pads to {target} lines)"
        for n in range(1, missing + 1)
    ]
    path.write_text("\n".join(padding) + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    return missing


@dataclass
class Conditions:
    values_lines: int  # the example chart's values file, as the incident seed installs it
    padded_to: int | None  # what each sandbox's copy is padded to, if it is
    kinds: Counter  # the kinds `helm template` renders with it

    def describe(self) -> str:
        if self.padded_to:
            padding = (
                f"padded to {self.padded_to} lines (inert comments) in every sandbox's copy before the runs"
            )
        else:
            padding = f"not padded (>= {PAD_BELOW} lines already)"
        rendered = ", ".join(f"{kind} {n}" for kind, n in sorted(self.kinds.items())) or "nothing"
        return (
            f"conditions: values file {self.values_lines} lines (examples/HelmChart/custom-chart/"
            f"values.yaml, the seed's; the issue asks for ~{VALUES_LINES_WANTED}), {padding}; "
            f"the chart renders {self.kinds.get('Service', 0)} Services (helm template: {rendered})"
        )


def conditions(tmp: Path) -> Conditions:
    """The values file's length and what the chart renders (on a scratch copy, padded if it must be)."""
    lines = line_count(EXAMPLE_CHART / "values.yaml")
    padded_to = VALUES_LINES_WANTED if lines < PAD_BELOW else None
    chart = tmp / "render" / "custom-chart"
    shutil.copytree(EXAMPLE_CHART, chart)
    if padded_to:
        pad_values(chart / "values.yaml", padded_to)
    proc = subprocess.run(
        [str(BIN / "helm"), "template", RELEASE, str(chart), "-f", str(chart / "values.yaml")],
        env=tool_env(tmp / "render"),
        capture_output=True,
        text=True,
    )
    kinds: Counter = Counter()
    if proc.returncode == 0:
        kinds.update(d.get("kind", "?") for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict))
    else:
        say(f"helm template of the example chart failed:\n{tail(proc.stderr)}")
    return Conditions(lines, padded_to, kinds)


# ----------------------------------------------------------------------------- reading the sandbox


def parse_stamp(text: str | None) -> float | None:
    """An RFC 3339 timestamp as the sandbox (and Kubernetes) writes it, e.g. 2026-12-02T13:01:54Z."""
    try:
        return dt.datetime.fromisoformat(text).timestamp() if text else None
    except ValueError:
        return None


@dataclass
class PodTiming:
    name: str
    created: float
    ready: float
    in_run: bool  # both timestamps inside the run's wall-clock window (± their 1 s resolution)

    @property
    def own(self) -> float:
        return self.ready - self.created


def new_tts_pod(state: Path, run: Result, namespace: str = NAMESPACE) -> PodTiming | None:
    """The new TTS pod's creation and Ready times: the pod of the ReplicaSet that carries the
    Deployment's current revision, read with kubectl after the run (outside any timed window).

    The sandbox stamps metadata.creationTimestamp and the conditions' lastTransitionTime with the real
    wall-clock time (datetime.now(UTC) in sandbox/apiserver/registry.py's now_rfc3339), not with a
    simulated clock: --time-scale divides the simulated durations (pulls, pip, model load, probes),
    not the clock. So Ready - creation is the real seconds the pod itself took, comparable with the
    run's wall time, and both stamps must fall inside the run (checked: ``in_run``). Like Kubernetes'
    they have a resolution of one second, so the pod's own time, and the overhead, are +-1 s."""
    env = tool_env(state)
    deployment = kubectl_json(env, "get", "deployment", TTS_DEPLOYMENT, "-n", namespace)
    replicasets = kubectl_json(env, "get", "replicasets", "-n", namespace)
    if not deployment or not replicasets:
        return None
    annotation = "deployment.kubernetes.io/revision"
    revision = (deployment["metadata"].get("annotations") or {}).get(annotation)
    current = {
        rs["metadata"]["name"]
        for rs in replicasets["items"]
        if (rs["metadata"].get("annotations") or {}).get(annotation) == revision
        and any(o.get("name") == TTS_DEPLOYMENT for o in rs["metadata"].get("ownerReferences") or [])
    }
    timings = []
    for pod in pods(env, "-n", namespace):
        owners = {o.get("name") for o in pod["metadata"].get("ownerReferences") or []}
        if not owners & current or not pod_ready(pod):
            continue
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        created = parse_stamp(pod["metadata"].get("creationTimestamp"))
        became_ready = parse_stamp(ready.get("lastTransitionTime"))
        if created is None or became_ready is None:
            continue
        in_run = run.started - 1 <= created <= became_ready <= run.ended + 1
        timings.append(PodTiming(pod["metadata"]["name"], created, became_ready, in_run))
    return min(timings, key=lambda t: t.ready, default=None)


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


def runner_command(command: str, inventory: Path, *extra: str) -> list[str]:
    return [sys.executable, str(REPO / "runner.py"), command, "-i", str(inventory), "--json", *extra]


def runner_summary(result: Result) -> dict:
    """runner.py's --json document, or {} when it printed none (e.g. it crashed)."""
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        return {}
    return summary if isinstance(summary, dict) else {}


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
        return runner_command("fix", inventory, *extra)

    def run_command(self, state: Path, command: str, *extra: str) -> Result:
        """``runner.py COMMAND -i <the plain inventory> --json EXTRA...``, timed."""
        env = tool_env(state) | {"ANSIBLE_NOCOLOR": "1"}
        return timed(runner_command(command, self.inventory(state), *extra), env, self.log)

    def summary(self, result: Result) -> dict:
        return runner_summary(result)

    def changed(self, result: Result) -> str:
        return str(self.summary(result).get("hosts", {}).get(HOST, {}).get("changed", "?"))

    def config_errors(self, state: Path) -> list[tuple[str, list[str]]]:
        """The five configuration errors, as `-e` options for `fix` on the fixed sandbox."""
        kubeconfig = yaml.safe_load((state / "kubeconfig").read_text())
        for cluster in kubeconfig["clusters"]:
            cluster["cluster"]["server"] = "https://127.0.0.1:1"  # nothing listens: connection refused
        unreachable = self.tmp / "unreachable.kubeconfig"
        unreachable.touch(mode=0o600)  # it carries the sandbox's token
        unreachable.write_text(yaml.safe_dump(kubeconfig))
        malformed = self.tmp / "malformed-values.yaml"
        values = (state / "HelmChart" / "custom-chart" / "values.yaml").read_text(encoding="utf-8")
        malformed.write_text(values + "broken: [unclosed, flow sequence\n", encoding="utf-8")
        extra = (
            ["-e", "kube_context=nope"],
            ["-e", f"kubeconfig={unreachable}"],
            ["-e", "values_file=/nonexistent.yaml"],
            ["-e", f"values_file={malformed}"],
            ["-e", "helm_release=nope"],
        )
        return list(zip(CONFIG_ERRORS, extra, strict=True))


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
    figures["pod"] = pod = new_tts_pod(state, fix)
    if pod is None:
        say(f"  {path.name}: no Ready pod of the TTS Deployment's current ReplicaSet after the fix")
    else:
        say(
            f"  {path.name}: new pod {pod.name}: {pod.own:.0f}s from creation to Ready, so "
            f"{fix.wall - pod.own:.1f}s of the fix's wall are overhead"
            + ("" if pod.in_run else "; WARNING: its timestamps are outside the run's wall-clock window")
        )
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
        figures["events"] = (
            module_events(REPO / run_dir) if run_dir and Path(REPO / run_dir).is_dir() else None
        )
        figures |= ours_on_fixed(path, state)
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


def ours_on_fixed(path: Ours, state: Path) -> dict:
    """On the fixed sandbox: drift with no drift, status, and the configuration errors."""
    figures: dict = {}
    say("ours: drift and status on the fixed release")
    for command in ("drift", "status"):
        result = path.run_command(state, command)
        path.report(command, result)
        expect("ours", command, result)
        figures[command] = result
    say("ours: configuration errors (fix, wall until exit)")
    before = helm_history(state)
    errors = []
    for label, extra in path.config_errors(state):
        result = path.run_command(state, "fix", *extra)
        error = runner_summary(result).get("hosts", {}).get(HOST, {}).get("error")
        say(f"  ours: {label}: {result.wall:.1f}s wall, exit {result.code}: {error or '(no error reported)'}")
        expect("ours", f"fix with {label}", result, 2)
        errors.append((label, result))
    figures["config_errors"] = errors
    after = helm_history(state)
    figures["config_release"] = (before, after)
    if after != before:
        say(f"  ours: the release changed during the configuration errors: {before} -> {after}")
    return figures


# ----------------------------------------------------------------------------- many clusters


def many_nodes(path: Path, clusters: int) -> Path:
    """The default nodes with the pools the example chart uses (memorysize 16GB and 24GB) multiplied by
    ``clusters``, so every release's six model servers get a GPU: the default cluster fits one."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    nodes = []
    for pool in POOLS:
        scaled = (
            dataclasses.replace(pool, count=pool.count * clusters)
            if pool.memorysize in ("16GB", "24GB")
            else pool
        )
        nodes += [node_manifest(f"{scaled.prefix}-{i}", scaled, i, now) for i in range(1, scaled.count + 1)]
    path.write_text(yaml.safe_dump_all(nodes))
    return path


def fixed_values(values: str, block: dict) -> str:
    """The values file with its top-level ``tts`` block replaced by ``block`` (every other line kept),
    as the fix leaves it up to formatting: what drift compares is the parsed block."""
    lines = values.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if re.match(r"tts:\s*(#.*)?$", line))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ", "\t", "#", "\n")),
        len(lines),
    )
    while end > start + 1 and (lines[end - 1].lstrip().startswith("#") or not lines[end - 1].strip()):
        end -= 1  # comments and blank lines before the next block belong to it
    dumped = yaml.safe_dump({"tts": block}, sort_keys=False, allow_unicode=True, width=1000)
    return "".join(lines[:start]) + dumped + "".join(lines[end:])


def rollouts(env: dict, namespaces: list[str]) -> tuple[int, int, int]:
    """(Deployments whose rollout is complete, Deployments, Ready TTS pods) in ``namespaces``."""
    listed = kubectl_json(env, "get", "deployments", "-A")
    items = [d for d in (listed or {}).get("items", []) if d["metadata"]["namespace"] in namespaces]

    def complete(d: dict) -> bool:
        status, want = d.get("status") or {}, (d.get("spec") or {}).get("replicas", 1)
        return (
            status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1)
            and status.get("updatedReplicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("replicas", 0) == want
        )

    tts = [
        p
        for p in pods(env, "-A", "-l", "app.kubernetes.io/component=tts")
        if p["metadata"]["namespace"] in namespaces and pod_ready(p)
    ]
    return sum(complete(d) for d in items), len(items), len(tts)


def many_inventory(path: Path, state: Path, values: dict[str, Path]) -> Path:
    hosts = {
        MANY_HOST.format(namespace.removeprefix("ns")): {
            "ansible_connection": "local",
            "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "kubeconfig": str(state / "kubeconfig"),
            "chart_path": str(state / "HelmChart" / "custom-chart"),
            "helm_namespace": namespace,
            "values_file": str(values_file),
        }
        for namespace, values_file in values.items()
    }
    path.write_text(yaml.safe_dump({"all": {"children": {"clusters": {"hosts": hosts}}}}))
    return path


def measure_many(tmp: Path, sandboxes: Sandboxes, clusters: int) -> dict:
    """``clusters`` releases (the example chart with the fixed tts block) in namespaces ns0.. of one
    sandbox; drift over all of them in one run, then over ns0 alone."""
    figures: dict = {"clusters": clusters}
    base = tmp / "many"
    base.mkdir()
    log = base / "log.txt"
    state = base / "sandbox"
    say(f"many: {clusters} releases in {clusters} namespaces of one sandbox")
    # The incident seed installs into `default` only; the other namespaces get the chart copy by helm
    # install. No seed here: the seeded release would hold GPUs and crash-loop beside the ten.
    sandboxes.up(state, "--nodes", str(many_nodes(base / "nodes.yaml", clusters)), seed=False)
    env = tool_env(state)
    chart = state / "HelmChart" / "custom-chart"
    seeded = (chart / "values.yaml").read_text(encoding="utf-8")
    values: dict[str, Path] = {}
    for k in range(clusters):
        namespace = f"ns{k}"
        values[namespace] = base / f"values-{namespace}.yaml"
        values[namespace].write_text(fixed_values(seeded, shipped_block()), encoding="utf-8")
        install = [str(BIN / "helm"), "install", RELEASE, str(chart), "-n", namespace, "--create-namespace"]
        proc = subprocess.run(
            [*install, "-f", str(values[namespace])],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            say(f"  many: helm install in {namespace} failed:\n{tail(proc.stderr)}")
            figures["error"] = f"helm install in {namespace} failed (exit {proc.returncode})"
            sandboxes.down(state)
            return figures
    started, deadline = time.perf_counter(), time.monotonic() + 300
    namespaces = list(values)
    while True:
        done, total, tts = rollouts(env, namespaces)
        if (total == 6 * clusters and done == total and tts == clusters) or time.monotonic() > deadline:
            break
        time.sleep(2)
    figures["settle"] = time.perf_counter() - started
    say(
        f"  many: {done}/{total} rollouts complete, {tts}/{clusters} TTS pods Ready "
        f"after {figures['settle']:.0f}s"
    )
    if done != total or tts != clusters:
        figures["note"] = f"not settled: {done}/{total} rollouts complete, {tts}/{clusters} TTS pods Ready"
    pid = sandbox_pid(state)
    one = many_inventory(base / "inventory-1.yml", state, {namespaces[0]: values[namespaces[0]]})
    every = many_inventory(base / f"inventory-{clusters}.yml", state, values)
    run_env = env | {"ANSIBLE_NOCOLOR": "1"}
    for key, inventory, hosts in (("one", one, 1), ("every", every, clusters)):
        before = cpu_seconds(pid)
        result = timed(runner_command("drift", inventory), run_env, log)
        result.sandbox_cpu = cpu_seconds(pid) - before
        summary = runner_summary(result).get("hosts", {})
        drifted = sorted(h for h, r in summary.items() if any((r.get("drift_counts") or {}).values()))
        failed = sorted(h for h, r in summary.items() if r.get("failed"))
        seconds = sorted(r["seconds"] for r in summary.values() if isinstance(r.get("seconds"), int | float))
        say(
            f"  many: drift over {hosts} cluster(s): {result.wall:.1f}s wall, {result.cpu:.1f}s CPU "
            f"(sandbox {result.sandbox_cpu:.1f}s), exit {result.code}, {len(summary)} hosts reported, "
            f"drift on {drifted or 'none'}, failed {failed or 'none'}"
        )
        expect("many", f"drift over {hosts} cluster(s)", result)
        figures[key] = result
        figures[f"{key}_hosts"] = (len(summary), drifted, failed, seconds)
    sandboxes.down(state)
    return figures


# ----------------------------------------------------------------------------- idle sandbox


def measure_idle(tmp: Path, sandboxes: Sandboxes, seconds: float) -> dict:
    """The sandbox process's CPU, seeded release settled (the TTS pod crash-looping), nothing running:
    the measurement of benchmarks/bench_cluster.py (its _support helpers), at this time scale, once."""
    say(f"idle: the sandbox's own CPU over {seconds:g}s")
    state = tmp / "idle" / "sandbox"
    sandboxes.up(state)
    listed = wait_seeded_settled(tool_env(state))
    pid = sandbox_pid(state)
    figures = {"share": cpu_share(pid, seconds), "pods": len(listed), "rss": rss_mib(pid)}
    figures["ready"] = sum(pod_ready(p) for p in listed)
    say(
        f"  idle: {figures['share']:.1f}% of one core ({figures['pods']} pods, {figures['ready']} Ready), "
        f"RSS {figures['rss']:.0f} MiB"
    )
    sandboxes.down(state)
    return figures


# ----------------------------------------------------------------------------- the table


def value(fig: dict | None, get):
    """``get(fig)``, or None when the group was skipped or the figure is missing."""
    if fig is None:
        return None
    try:
        return get(fig)
    except (KeyError, TypeError, AttributeError, ValueError, ZeroDivisionError):
        return None


def pod_own(fig: dict) -> float:
    """The new pod's own seconds to Ready; no figure when its timestamps are not inside the run."""
    if not fig["pod"].in_run:
        raise ValueError("the pod's timestamps are outside the fix's wall-clock window")
    return fig["pod"].own


def config_error(fig: dict, index: int) -> Result:
    return fig["config_errors"][index][1]


def table(ours: dict | None, peer: dict | None, many: dict | None, idle: dict | None, args) -> str:
    runs, n = args.runs, args.clusters
    both = [
        ("fix from the incident, wall s", lambda f: f["fix"].wall, "{:.1f}"),
        ("fix from the incident, CPU s", lambda f: f["fix"].cpu, "{:.1f}"),
        ("fix: new TTS pod's own time, creation to Ready, s", pod_own, "{:.0f}"),
        (
            "fix: overhead over the new pod's own time to Ready, s",
            lambda f: f["fix"].wall - pod_own(f),
            "{:.1f}",
        ),
        ("no-op rerun, wall s, best", lambda f: min(r.wall for r in f["reruns"]), "{:.1f}"),
        (f"no-op rerun, wall s, mean of {runs}", lambda f: sum(r.wall for r in f["reruns"]) / runs, "{:.1f}"),
        ("no-op rerun, CPU s, best", lambda f: min(r.cpu for r in f["reruns"]), "{:.1f}"),
        (f"no-op rerun, CPU s, mean of {runs}", lambda f: sum(r.cpu for r in f["reruns"]) / runs, "{:.1f}"),
        ("broken block until failure, wall s", lambda f: f["broken"].wall, "{:.1f}"),
        ("broken block until failure, CPU s", lambda f: f["broken"].cpu, "{:.1f}"),
        ("module processes per no-op (job events)", lambda f: sum(f["events"].values()), "{:.0f}"),
        ("module processes per no-op (interpreter runs)", lambda f: len(f["python"]), "{:.0f}"),
        ("helm invocations per no-op", lambda f: len(f["helm"]), "{:.0f}"),
    ]
    rows = [(label, value(ours, get), value(peer, get), fmt) for label, get, fmt in both]
    ours_only = [
        ("drift, no drift (after the fix), wall s", lambda f: f["drift"].wall, "{:.1f}"),
        ("drift, no drift (after the fix), CPU s", lambda f: f["drift"].cpu, "{:.1f}"),
        ("status, wall s", lambda f: f["status"].wall, "{:.1f}"),
        ("status, CPU s", lambda f: f["status"].cpu, "{:.1f}"),
    ]
    rows += [(label, value(ours, get), None, fmt) for label, get, fmt in ours_only]
    for index, label in enumerate(CONFIG_ERRORS):
        code = value(ours, lambda f, i=index: config_error(f, i).code)
        wall = value(ours, lambda f, i=index: config_error(f, i).wall)
        rows.append(
            (f"config error, {label}: wall s (exit {'-' if code is None else code})", wall, None, "{:.1f}")
        )
    many_rows = [
        (f"drift over {n} clusters in one run (one sandbox), wall s", lambda f: f["every"].wall, "{:.1f}"),
        (f"drift over {n} clusters in one run (one sandbox), CPU s", lambda f: f["every"].cpu, "{:.1f}"),
        ("drift over 1 of those clusters, wall s", lambda f: f["one"].wall, "{:.1f}"),
        ("drift over 1 of those clusters, CPU s", lambda f: f["one"].cpu, "{:.1f}"),
        (f"drift, {n} clusters / 1, wall (target <= 2)", lambda f: f["every"].wall / f["one"].wall, "{:.2f}"),
        (f"drift, {n} clusters / 1, CPU", lambda f: f["every"].cpu / f["one"].cpu, "{:.2f}"),
    ]
    rows += [(label, value(many, get), None, fmt) for label, get, fmt in many_rows]
    rows.append(
        (
            f"idle sandbox (seeded), CPU % of one core over {args.idle_seconds:g} s",
            value(idle, lambda f: f["share"]),
            None,
            "{:.1f}",
        )
    )

    width = max(len(r[0]) for r in rows)
    lines = [f"{'figure':<{width}}  {'ours':>8}  {'peer':>8}  {'ours/peer':>9}", "-" * (width + 33)]
    for label, o_val, p_val, fmt in rows:
        o_text = "-" if o_val is None else fmt.format(o_val)
        p_text = "-" if p_val is None else fmt.format(p_val)
        ratio = f"{o_val / p_val:.2f}" if o_val is not None and p_val else "-"
        lines.append(f"{label:<{width}}  {o_text:>8}  {p_text:>8}  {ratio:>9}")
    lines.append("")
    lines += notes(ours, peer, many, idle)
    return "\n".join(lines)


def notes(ours: dict | None, peer: dict | None, many: dict | None, idle: dict | None) -> list[str]:
    lines = []
    for name, fig in (("ours", ours), ("peer", peer)):
        if fig is None:
            continue
        reruns = [r.code for r in fig["reruns"]]
        codes = f"exit codes: fix {fig['fix'].code}, reruns {reruns}, broken {fig['broken'].code}"
        lines.append(f"{name}: {codes}; release after the broken block: {fig['broken_after']}")
        pod = fig.get("pod")
        if pod is None:
            lines.append(f"{name}: no Ready pod of the new ReplicaSet after the fix: no pod time or overhead")
        else:
            stamps = "inside" if pod.in_run else "OUTSIDE (so no pod time or overhead in the table)"
            created, ready = (time.strftime("%H:%M:%S", time.gmtime(t)) for t in (pod.created, pod.ready))
            lines.append(
                f"{name}: new TTS pod {pod.name}: created {created}Z, "
                f"Ready {ready}Z (1 s resolution), {stamps} "
                "the fix's wall-clock window"
            )
        if fig.get("events") is not None:
            lines.append(
                f"{name}: module runs by action: "
                + ", ".join(f"{a} {n}" for a, n in sorted(fig["events"].items()))
            )
        helm = helm_subcommands(fig["helm"])
        by_subcommand = ", ".join(f"{c} {n}" for c, n in sorted(helm.items())) or "none"
        lines.append(f"{name}: helm by subcommand: {by_subcommand}")
        if name == "ours":
            lines.append(
                f"ours: drift exit {fig['drift'].code} (0 expected), status exit {fig['status'].code} "
                "(0 expected); config errors run `fix`, exit 2 expected: "
                + ", ".join(f"{r.code}" for _, r in fig["config_errors"])
            )
            for label, result in fig["config_errors"]:
                error = runner_summary(result).get("hosts", {}).get(HOST, {}).get("error")
                missing = f"(no error in its --json: exit {result.code}; its output's end is on stderr above)"
                lines.append(f"ours:   {label}: {error or missing}")
            before, after = fig["config_release"]
            lines.append(f"ours: release before/after the config errors: {before} / {after}")
    if many is not None:
        if "error" in many:
            lines.append(f"many: {many['error']}")
        else:
            lines.append(
                f"many: {many['clusters']} releases (ns0..ns{many['clusters'] - 1}) "
                f"settled in {many['settle']:.0f}s" + (f" ({many['note']})" if "note" in many else "")
            )
            for key, hosts in (("one", 1), ("every", many["clusters"])):
                result, (reported, drifted, failed, seconds) = many[key], many[f"{key}_hosts"]
                spread = f"{seconds[0]:.1f}-{seconds[-1]:.1f}s" if seconds else "-"
                lines.append(
                    f"many: drift over {hosts}: exit {result.code} (0 expected), {reported} hosts reported "
                    f"(each host's own seconds {spread}), drift on {', '.join(drifted) or 'none'}, "
                    f"failed {', '.join(failed) or 'none'}; the sandbox's own CPU meanwhile "
                    f"{result.sandbox_cpu:.1f}s"
                )
    if idle is not None:
        lines.append(
            f"idle: {idle['pods']} pods ({idle['ready']} Ready, the TTS one crash-looping), "
            f"sandbox RSS {idle['rss']:.0f} MiB"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--time-scale", type=float, default=60, help="sandbox time scale (default 60)")
    parser.add_argument("--runs", type=int, default=3, help="no-op reruns per path (default 3)")
    parser.add_argument(
        "--clusters", type=int, default=10, help="releases (namespaces) of the many group (default 10)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=20, help="sampling window of the idle group (default 20)"
    )
    parser.add_argument(
        "--skip-ours", action="store_true", help="skip our fix path (and drift, status, config errors)"
    )
    parser.add_argument("--skip-peer", action="store_true", help="skip the peer's fix path")
    parser.add_argument("--skip-many", action="store_true", help="skip drift over many clusters")
    parser.add_argument("--skip-idle", action="store_true", help="skip the idle sandbox's CPU")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.clusters < 1:
        parser.error("--clusters must be at least 1")

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    ours = peer = many = idle = None
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp_name:
        tmp = Path(tmp_name)
        found = conditions(tmp)
        say(found.describe())
        sandboxes = Sandboxes(args.time_scale, found.padded_to)
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
            if not args.skip_many:
                many = measure_many(tmp, sandboxes, args.clusters)
            if not args.skip_idle:
                idle = measure_idle(tmp, sandboxes, args.idle_seconds)
        except KeyboardInterrupt:
            say("interrupted: stopping the sandboxes")
            return 130
        finally:
            sandboxes.down_all()
    print(
        f"time scale {args.time_scale:g}; ours = runner.py, peer = benchmarks/peer/fix.yml (Helm 3); "
        "'-': no such figure (or the group was skipped)"
    )
    print(found.describe())
    print(table(ours, peer, many, idle, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
