"""The command table, argument parsing and ``-e`` typing; :func:`main` is runner.py's body."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from runbooks import REPO_ROOT, metrics
from runbooks.summary import format_human

PROG = "runner.py"
DEFAULT_INVENTORY = "inventory/local"

# The variables the playbooks document, with their types, read from the one role's argument spec
# (roles/tts_common/meta/argument_specs.yml: the inventory contract and every command's settings,
# defaults and comments in its defaults/main.yml), shown in --help.
ARGUMENT_SPECS = REPO_ROOT / "roles" / "tts_common" / "meta" / "argument_specs.yml"
_SPEC_TYPES: dict[str, type] = {"str": str, "int": int, "bool": bool, "dict": dict, "list": list}


def _spec_variables(path: Path) -> dict[str, type]:
    """Every option of every entry point of one role's meta/argument_specs.yml."""
    variables: dict[str, type] = {}
    for entry_point in (yaml.safe_load(path.read_text()) or {}).get("argument_specs", {}).values():
        for name, spec in (entry_point.get("options") or {}).items():
            kind = _SPEC_TYPES.get(spec.get("type", "str"))
            if kind is not None:  # raw, path, ...: known to the roles, not typed here
                variables[name] = kind
    return variables


CONTRACT_VARIABLES: dict[str, type] = _spec_variables(ARGUMENT_SPECS)
KNOWN_VARIABLES: dict[str, type] = CONTRACT_VARIABLES
_POSITIVE_INTS = {"tts_port", "rollout_timeout"}
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "a boolean (true/false)",
    dict: "a mapping",
    list: "a list",
}
# Credentials belong in the kubeconfig: extra vars end up in artifacts/*/env/extravars.
_SECRET_NAME = re.compile(r"(?i)token|secret|password|passwd|api[_-]?key|client[_-]?key|private[_-]?key")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

EXIT_CODES_TEXT = """\
exit codes:
  0  success (every host ok)
  1  a host failed or was unreachable
  2  usage or configuration error: bad option, missing inventory, bad -e value,
     sandbox or ansible-runner cannot start, the command's playbook missing, or every
     failed host failed in the playbook's preflight with a message starting "CONFIG:"
     (unreadable values file, unreachable cluster, wrong context, bad token)
  3  `drift` without --fix: drift found (nothing was changed)
"""

TOP_EPILOG = f"""\
Run `{PROG} COMMAND --help` for a command's options.

{EXIT_CODES_TEXT}
runner.py re-executes itself with the project's .venv/bin/python when started with
another interpreter (./runner.py uses the system python3); without .venv it asks you
to run `make setup` first and exits 2. Every run leaves its ansible-runner artifacts,
scrubbed of secrets, in artifacts/<UTC timestamp>-<command>/ (mode 0700).
"""


@dataclass(frozen=True)
class Option:
    """A command-specific option that becomes one extra var."""

    flags: tuple[str, ...]
    variable: str
    help: str
    value: Any = True  # the variable's value when the flag is given; None: takes an argument
    metavar: str | None = None
    type: Callable[[str], Any] | None = None


@dataclass(frozen=True)
class Command:
    name: str
    summary: str  # one line in `runner.py --help`
    description: str
    changes_cluster: bool  # offers --check and --diff
    options: tuple[Option, ...] = field(default=())

    @property
    def playbook(self) -> str:
        return f"playbooks/{self.name}.yml"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command(
            "fix",
            "set the tts block of values.yaml, helm upgrade, wait for the pod, check /health "
            "(idempotent; rolls back on failure)",
            "Apply the TTS fix on every selected cluster: preflight checks, set the tts block of "
            "the values file (comments kept), check the rendered chart, helm upgrade, wait for the "
            "rollout, verify /health and speech. A failure after the change rolls the release back "
            "and restores the values file (auto_rollback). A rerun with nothing to do changes nothing.",
            changes_cluster=True,
            options=(
                Option(
                    ("--recover-pending",),
                    "recover_pending",
                    "roll back a release left pending-install/upgrade/rollback by an interrupted helm",
                ),
            ),
        ),
        Command(
            "drift",
            "compare values file, release, live objects and health with the desired state (exit 3 on drift)",
            "Compare four layers per cluster and report each difference as a JSON-patch style entry: "
            "the values file's tts block against tts_desired, the release's values against the values "
            "file, the live TTS Deployment and Service against the release manifest (spec.replicas "
            "ignored unless drift_ignore_replicas=false; more rules with -e drift_ignore=...), and "
            "health. Without --fix nothing changes and drift exits 3; with --fix every layer is "
            "brought back (file, release, live objects) and verified, exit 0 when converged. One "
            "acting run per release at a time: a local lock and a Lease in the release namespace.",
            changes_cluster=True,
            options=(
                Option(("--fix",), "drift_fix", "correct the drift found instead of only reporting it"),
                Option(
                    ("--recover-pending",),
                    "recover_pending",
                    "roll back a release left pending-install/upgrade/rollback by an interrupted helm",
                ),
            ),
        ),
        Command(
            "rollback",
            "show helm history, roll the release back (refuses known-broken tts configs unless --force)",
            "Show helm history and roll the release back to the previous deployed revision (or "
            "--revision N); refuse a target whose tts block fails the known-pitfall checks (exit 1) "
            "unless --force; with --restore-values also put the values file back from "
            "values.yaml.orig (the backup fix made); then wait for the rollout and check /health "
            "(exit 1 with the diagnosis when the rolled-back service is not healthy).",
            changes_cluster=True,
            options=(
                Option(
                    ("--revision", "--to-revision"),
                    "rollback_revision",
                    "the Helm revision to roll back to (default: the newest deployed or superseded "
                    "revision before the current one)",
                    value=None,
                    metavar="N",
                    type=_positive_int,
                ),
                Option(
                    ("--restore-values",),
                    "rollback_restore_values",
                    "also restore the values file from its backup <values_file>.orig",
                ),
                Option(
                    ("--force",),
                    "rollback_force",
                    "roll back even when the target revision's tts block fails the known-pitfall checks",
                ),
            ),
        ),
        Command(
            "status",
            "one screen per cluster: release, revision, chart, tts image, pod, health (read-only)",
            "Read-only, one screen per cluster: the release, its revision and chart, the tts image, "
            "the pod's phase, restarts, age and readiness, its last events and /health. An unhealthy "
            "service is reported (exit 0); an unreachable cluster or a missing release is a "
            "configuration error (exit 2).",
            changes_cluster=False,
        ),
        Command(
            "verify",
            "check the running tts service: rollout, log markers, /health, speech (read-only)",
            "Read-only: check the tts Deployment is rolled out, the bootstrap log markers are "
            "present, /health answers 200 and (unless --no-speech) a short speech request succeeds. "
            "Exit 1 with the diagnosis when any check fails.",
            changes_cluster=False,
            options=(
                Option(
                    ("--no-speech",),
                    "verify_speech",
                    "skip the speech request (sets verify_speech=false)",
                    value=False,
                ),
            ),
        ),
        Command(
            "lint",
            "check the values file and tts_desired against the known pitfalls (no cluster)",
            "No cluster, no API call: check the values file's tts block (any file with "
            "-e values_file=PATH) and tts_desired against the known pitfalls (git in an image without "
            "it, missing --omni, unpinned vllm-omni source, --no-deps hiding dependencies, flash-attn "
            "built from source or not tolerated, transformers upgrade, port mismatch, pre-release image; "
            "warnings: installs that float between pod starts, engine flags --omni ignores). Each "
            "finding: rule id, line in the file, severity, message, fix. Exit 1 on errors "
            "(-e tts_lint_fail_on=warning: also on warnings).",
            changes_cluster=False,
        ),
    )
}


# ----------------------------------------------------------------------------- -e parsing


def check_variable_type(name: str, value: Any) -> None:
    """Raise ArgumentTypeError when a known variable gets a value of the wrong YAML type."""
    if _SECRET_NAME.search(name):
        raise argparse.ArgumentTypeError(
            f"{name}: credentials are not accepted as extra vars (they would be written to the "
            "artifacts); put them in the kubeconfig"
        )
    expected = KNOWN_VARIABLES.get(name)
    if expected is None:
        return
    fits = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
    if not fits:
        shown = "null" if value is None else f"{value!r} ({type(value).__name__})"
        hint = f"; quote it to pass a string: -e '{name}=\"...\"'" if expected is str else ""
        raise argparse.ArgumentTypeError(f"{name} must be {_TYPE_NAMES[expected]}, got {shown}{hint}")
    if name in _POSITIVE_INTS and not (0 < value <= (65535 if name == "tts_port" else 10**7)):
        raise argparse.ArgumentTypeError(f"{name} out of range: {value}")


def parse_extra_vars(text: str) -> dict[str, Any]:
    """One ``-e`` argument: ``KEY=VALUE`` (VALUE is YAML), ``@file.yml`` or a YAML/JSON mapping."""
    if text.startswith("@"):
        variables = _load_vars_file(Path(text[1:]).expanduser())
    elif text.lstrip().startswith("{"):
        variables = _yaml_mapping(text, "the -e mapping")
    elif "=" in text:
        name, _, raw = text.partition("=")
        name = name.strip()
        if not _VAR_NAME.match(name):
            raise argparse.ArgumentTypeError(f"not a variable name: {name!r}")
        variables = {name: _yaml_value(name, raw)}
    else:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE or @file.yml, got {text!r}")
    for name, value in variables.items():
        if not isinstance(name, str) or not _VAR_NAME.match(name):
            raise argparse.ArgumentTypeError(f"not a variable name: {name!r}")
        check_variable_type(name, value)
    return variables


def _yaml_value(name: str, raw: str) -> Any:
    if raw == "":
        return ""  # `-e key=` is the empty string, as in ansible
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"{name}: value is not valid YAML: {exc}") from None


def _yaml_mapping(text: str, where: str) -> dict:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise argparse.ArgumentTypeError(f"{where} is not valid YAML: {exc}") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{where} must be a mapping of variables")
    return value


def _load_vars_file(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror}") from None
    return _yaml_mapping(text, str(path))


# ----------------------------------------------------------------------------- parser


def _type_label(name: str, kind: type) -> str:
    return "int, seconds" if name == "rollout_timeout" else kind.__name__


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=textwrap.fill(
            "Runbooks for the local-llm TTS service: drive the Ansible playbooks in playbooks/ "
            "through ansible-runner against every cluster (inventory host) selected.",
            88,
        ),
        epilog=TOP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    subparsers = {}
    for command in COMMANDS.values():
        subparsers[command.name] = _add_command(sub, command)
    return parser, subparsers


def _add_command(sub, command: Command) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        command.name,
        help=command.summary,
        description=textwrap.fill(command.description, 88) + f"\n\nPlaybook: {command.playbook}.",
        epilog=EXIT_CODES_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-i",
        "--inventory",
        metavar="PATH",
        default=DEFAULT_INVENTORY,
        help=f"inventory file or directory, one host per cluster (default: {DEFAULT_INVENTORY}, "
        "the embedded sandbox, started automatically for hosts that set sandbox_state_dir)",
    )
    if command.changes_cluster:
        parser.add_argument(
            "--check",
            action="store_true",
            help="dry run (ansible --check): report what would change, change nothing",
        )
        parser.add_argument(
            "--diff",
            action="store_true",
            help="show the changes made (or, with --check, that would be made) as unified diffs",
        )
    parser.add_argument(
        "-e",
        "--extra-vars",
        metavar="KEY=VALUE",
        action="append",
        type=parse_extra_vars,
        default=[],
        help="set a variable for every host, overriding the inventory; VALUE is parsed as YAML "
        "(verify_speech=false is a boolean); @file.yml reads a YAML mapping; repeatable. The "
        "inventory contract and its types: "
        + ", ".join(f"{name} ({_type_label(name, kind)})" for name, kind in CONTRACT_VARIABLES.items())
        + "; each role's own settings (e.g. drift_ignore, drift_ignore_replicas) are typed in "
        "roles/*/meta/argument_specs.yml. A value of the wrong type is a usage error (exit 2); "
        "names no role documents are passed on with a warning",
    )
    parser.add_argument(
        "--limit",
        metavar="PATTERN",
        help="only these hosts or groups (an Ansible host pattern, e.g. 'sandbox' or 'gpu-prod-*')",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly one JSON document on stdout: command, status ('ok', 'failed', or "
        "'error' when a usage or configuration error stopped the run before any host ran), "
        "hosts (per host: ok/changed/failed/unreachable/skipped counts, the facts the playbook "
        "published, error, started/finished/seconds of its tasks), artifacts (the run's directory); "
        "progress goes to stderr",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="pass -v to ansible-playbook and show its own output instead of the progress "
        "lines (repeat for more: -vvv)",
    )
    if command.name == "drift":
        parser.add_argument(
            "--metrics-file",
            metavar="PATH",
            type=Path,
            help="also write the result in Prometheus text format for node_exporter's textfile "
            "collector (atomically): drift per cluster and layer, last run, last success, duration",
        )
    for option in command.options:
        kwargs: dict[str, Any] = {"dest": option.variable, "help": option.help}
        if option.value is None:
            kwargs.update(metavar=option.metavar, type=option.type)
        else:
            kwargs.update(action="store_const", const=option.value)
        parser.add_argument(*option.flags, **kwargs)
    parser.set_defaults(check=False, diff=False)
    return parser


# ----------------------------------------------------------------------------- main


def collect_extravars(args: argparse.Namespace, command: Command) -> dict[str, Any]:
    """All -e values (later wins), then the command's own options (they win over -e)."""
    extravars: dict[str, Any] = {}
    for variables in args.extra_vars:
        extravars.update(variables)
    for option in command.options:
        value = getattr(args, option.variable, None)
        if value is not None:
            extravars[option.variable] = value
    return extravars


def unknown_variables(extravars: dict[str, Any], command: Command) -> list[str]:
    own = {option.variable for option in command.options}
    return sorted(name for name in extravars if name not in KNOWN_VARIABLES and name not in own)


def main(
    argv: list[str] | None = None,
    *,
    project_dir: Path = REPO_ROOT,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser, _subparsers = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return int(exc.code or 0)
    command = COMMANDS[args.command]
    extravars = collect_extravars(args, command)
    for name in unknown_variables(extravars, command):
        print(f"warning: -e {name}: not a variable the playbooks document; passed on as is", file=stderr)

    from runbooks.execute import run_playbook  # late: keeps --help and usage errors fast

    inventory = Path(args.inventory)
    if args.inventory == DEFAULT_INVENTORY:
        inventory = project_dir / DEFAULT_INVENTORY
    started = time.monotonic()
    result = run_playbook(
        command.name,
        inventory,
        extravars,
        check=args.check,
        diff=args.diff,
        limit=args.limit,
        verbosity=args.verbose,
        json_mode=args.json,
        project_dir=project_dir,
        progress_stream=stderr if args.json else stdout,
    )
    if getattr(args, "metrics_file", None) is not None:
        metrics.write(args.metrics_file, result.summary.get("hosts") or {}, time.monotonic() - started)
    if result.error:
        print(f"{PROG} {command.name}: error: {result.error}", file=stderr)
    if args.json:
        print(json.dumps(result.summary, indent=2, default=str), file=stdout)
    elif result.summary.get("hosts"):
        print(format_human(result.summary), file=stdout)
    return result.exit_code
