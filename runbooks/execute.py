"""Run one command's playbook through ansible-runner and turn its events into a result.

Other code (tests, a scheduler) calls :func:`run_playbook`; ``runner.py`` is a thin CLI on
top of it. Each run gets ``artifacts/<UTC timestamp>-<command>/`` (mode 0700) as both
ansible-runner's private data dir and its artifact dir, so ``env/``, ``job_events/``,
``stdout`` and the generated host-overrides inventory of one run live together and are
scrubbed of secrets together when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from runbooks import EXIT_DRIFT, EXIT_HOST_FAILED, EXIT_OK, EXIT_USAGE, REPO_ROOT
from runbooks.artifacts import ScrubbingStream, kubeconfig_secrets, new_run_dir, scrub_text, scrub_tree
from runbooks.inventory import (
    Inventory,
    InventoryError,
    SandboxStartError,
    kubeconfig_overrides,
    load_inventory,
    plain_kubeconfig_paths,
    start_sandboxes,
    tool_bin_dir,
    tool_env,
    write_host_overrides,
)
from runbooks.locks import RunLocked, run_lock
from runbooks.progress import PROGRESS_ENV, PROGRESS_FILE, ProgressPrinter, ProgressTail, strip_ansi
from runbooks.summary import RunRecord, build_summary, error_summary, exit_code_for

HOST_OVERRIDES_FILE = "host_overrides.yml"


@dataclass
class RunResult:
    exit_code: int
    summary: dict  # the --json document
    artifacts: Path | None = None
    error: str | None = None  # a usage/configuration error that stopped the run early


class _ConfigError(Exception):
    """Stops the run before or instead of ansible-playbook; exit 2."""


def playbook_path(name: str, project_dir: Path = REPO_ROOT) -> Path:
    return project_dir / "playbooks" / f"{name}.yml"


def run_playbook(
    name: str,
    inventory: Path | str,
    extravars: dict[str, Any] | None = None,
    check: bool = False,
    diff: bool = False,
    limit: str | None = None,
    verbosity: int = 0,
    json_mode: bool = False,
    *,
    project_dir: Path = REPO_ROOT,
    progress_stream: TextIO | None = None,
) -> RunResult:
    """Run ``playbooks/<name>.yml`` against ``inventory``; print progress; return the result.

    Progress goes to ``progress_stream`` (default: stdout, or stderr when ``json_mode`` so
    that stdout can carry only the JSON document, which the caller prints).
    """
    stream = progress_stream or (sys.stderr if json_mode else sys.stdout)
    extravars = dict(extravars or {})
    try:
        return _run(
            name, Path(inventory), extravars, check, diff, limit, verbosity, json_mode, project_dir, stream
        )
    except _ConfigError as exc:
        return RunResult(EXIT_USAGE, error_summary(name, str(exc)), error=str(exc))


def _run(
    name: str,
    inventory_path: Path,
    extravars: dict[str, Any],
    check: bool,
    diff: bool,
    limit: str | None,
    verbosity: int,
    json_mode: bool,
    project_dir: Path,
    stream: TextIO,
) -> RunResult:
    playbook = playbook_path(name, project_dir)
    if not playbook.is_file():
        raise _ConfigError(f"playbook missing: {playbook.relative_to(project_dir)}")
    printer = ProgressPrinter(stream, show_diff=diff)
    try:
        inventory = load_inventory(inventory_path.resolve(), limit, project_dir)
        sandbox_kubeconfigs = start_sandboxes(inventory, project_dir, printer.say)
    except (InventoryError, SandboxStartError) as exc:
        raise _ConfigError(str(exc)) from None
    secrets = _known_secrets(inventory, list(sandbox_kubeconfigs.values()), extravars, project_dir)
    printer.set_hosts(inventory.hosts)
    printer.say(f"hosts: {', '.join(inventory.hosts)} (inventory {inventory_path})")
    printer.add_secrets(secrets)

    artifacts_root = project_dir / "artifacts"
    held = contextlib.ExitStack()
    if name in LOCKED_COMMANDS:
        try:
            for host in inventory.hosts:  # one acting run per (cluster, release) on this machine
                release = str(inventory.hostvars.get(host, {}).get("helm_release") or "local-llm")
                held.enter_context(run_lock(host, release, artifacts_root / ".locks"))
        except RunLocked as exc:
            held.close()
            return RunResult(EXIT_HOST_FAILED, error_summary(name, str(exc)), error=str(exc))
    try:
        ident, run_dir = new_run_dir(artifacts_root, name)
        sources = [str(source) for source in inventory.sources]
        overrides = write_host_overrides(
            run_dir / HOST_OVERRIDES_FILE, kubeconfig_overrides(inventory, sandbox_kubeconfigs)
        )
        if overrides:
            sources.append(str(overrides))

        record = RunRecord()
        progress_file = run_dir / PROGRESS_FILE
        tail = ProgressTail(progress_file, printer.waiting)  # what long-running modules report

        def on_event(event: dict) -> bool:
            record.observe(event)
            tail.read_new()  # a task's own progress lines come before its result
            if not verbosity:
                printer(event)
            return True  # keep writing job_events/*.json

        raw_output = ScrubbingStream(stream, secrets)
        try:
            with contextlib.redirect_stdout(raw_output), tail:  # ansible's own output under -v
                runner = _start_runner(
                    project_dir=project_dir,
                    playbook=playbook,
                    inventory=sources,
                    extravars=extravars,
                    cmdline=ansible_cmdline(check, diff, limit, verbosity, forks=len(inventory.hosts)),
                    run_dir=run_dir,
                    artifacts_root=artifacts_root,
                    ident=ident,
                    quiet=verbosity == 0,
                    on_event=on_event,
                    progress_file=progress_file,
                )
        finally:
            scrub_tree(run_dir, secrets)
        return _result(name, runner, record, run_dir, secrets)
    finally:
        held.close()


# Commands that change a cluster take the local lock of every (host, release) they touch.
LOCKED_COMMANDS = ("fix", "drift", "rollback")


def drift_found(hosts: dict[str, dict]) -> bool:
    """Whether the drift playbook published differences that remain (after --fix: none)."""
    return any(sum((host.get("drift_counts") or {}).values()) > 0 for host in hosts.values())


def ansible_cmdline(check: bool, diff: bool, limit: str | None, verbosity: int, forks: int = 0) -> str:
    # One fork per cluster: clusters are independent, so they run side by side (ansible's
    # default of 5 would queue the sixth).
    args = [f"--forks={max(forks, 5)}"] if forks else []
    if check:
        args.append("--check")
    if diff:
        args.append("--diff")
    if limit:
        args += ["--limit", limit]
    if verbosity:
        args.append("-" + "v" * verbosity)
    return shlex.join(args)


def _start_runner(
    *,
    project_dir: Path,
    playbook: Path,
    inventory: list[str],
    extravars: dict[str, Any],
    cmdline: str,
    run_dir: Path,
    artifacts_root: Path,
    ident: str,
    quiet: bool,
    on_event,
    progress_file: Path,
):
    import ansible_runner  # imported late: `runner.py --help` stays fast

    env = tool_env(project_dir)
    envvars = {
        "PATH": env["PATH"],  # ansible-runner finds ansible-playbook on PATH
        # Names this run as the holder of a release's Lease (roles/tts_lease).
        "TTS_RUNBOOKS_HOLDER": f"{socket.gethostname()}-{os.getpid()}",
        PROGRESS_ENV: str(progress_file),  # modules append progress lines while they wait
    }
    if "ANSIBLE_CONFIG" in env:
        envvars["ANSIBLE_CONFIG"] = env["ANSIBLE_CONFIG"]
    try:
        return ansible_runner.run(
            private_data_dir=str(run_dir),
            artifact_dir=str(artifacts_root),
            ident=ident,
            project_dir=str(project_dir),
            playbook=str(playbook),
            inventory=inventory,  # a list of absolute paths: never copied into the run dir
            extravars=extravars or None,
            cmdline=cmdline or None,
            envvars=envvars,
            quiet=quiet,
            event_handler=on_event,
        )
    except Exception as exc:  # any failure to start is a configuration problem
        raise _ConfigError(f"ansible-runner could not start {playbook.name}: {exc}") from None


def _result(name: str, runner, record: RunRecord, run_dir: Path, secrets: set[str]) -> RunResult:
    artifacts = str(run_dir)
    rc = runner.rc
    if record.stats is None:
        message = f"ansible-playbook stopped before any play ran (status {runner.status}, rc {rc})"
        detail = _output_tail(run_dir, secrets)
        message = f"{message}: {detail}" if detail else message
        return RunResult(EXIT_USAGE, error_summary(name, message, artifacts), run_dir, error=message)
    summary = build_summary(name, record, artifacts)
    if not summary["hosts"]:
        message = "no inventory host matched the playbook's hosts pattern"
        summary.update(status="error", error=message)
        return RunResult(EXIT_USAGE, summary, run_dir, error=message)
    exit_code = exit_code_for(summary["hosts"])
    if exit_code == EXIT_OK and name == "drift" and drift_found(summary["hosts"]):
        exit_code = EXIT_DRIFT
        summary["status"] = "drift"
    if exit_code == EXIT_OK and rc != 0:
        exit_code = EXIT_HOST_FAILED
        summary.update(
            status="failed", error=f"ansible-playbook exited with rc {rc}: {_output_tail(run_dir, secrets)}"
        )
    return RunResult(exit_code, summary, run_dir)


def _output_tail(run_dir: Path, secrets: set[str], count: int = 6) -> str:
    try:
        text = (run_dir / "stdout").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in strip_ansi(text).splitlines() if line.strip()]
    return scrub_text(" | ".join(lines[-count:]), secrets)


def _known_secrets(
    inventory: Inventory, sandbox_kubeconfigs: list[Path], extravars: dict[str, Any], project_dir: Path
) -> set[str]:
    paths = [*sandbox_kubeconfigs, *plain_kubeconfig_paths(inventory, project_dir)]
    if isinstance(extravars.get("kubeconfig"), str):
        paths.append(Path(extravars["kubeconfig"]).expanduser())
    secrets: set[str] = set()
    for path in paths:
        secrets |= kubeconfig_secrets(path)
    return secrets


__all__ = ["RunResult", "ansible_cmdline", "playbook_path", "run_playbook", "tool_bin_dir"]
