"""examples/scheduling: the CronJob manifests are accepted by an API server and grant exactly what the
product uses; the systemd units verify; the cron line is a valid five-field schedule plus a drift command."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import REPO

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "examples" / "scheduling"
RUNNER_IN_UNITS = "/opt/tts-runbooks/runner.py"
DRIFT_ARGS = ["drift", "--json", "--metrics-file", "/var/lib/node_exporter/textfile/tts_drift.prom"]

# What the product does against the API (rollout watch, diagnosis, drift layers, helm storage, health and
# speech through the service proxy, the Lease): (apiGroup, resource, verb). Anything more is not least
# privilege; anything less breaks the in-cluster run.
PRODUCT_PERMISSIONS = {
    *{("apps", "deployments", verb) for verb in ("get", "list", "watch")},
    *{("apps", "replicasets", verb) for verb in ("get", "list")},
    *{("", "pods", verb) for verb in ("get", "list", "watch")},
    ("", "pods/log", "get"),
    *{("", "services", verb) for verb in ("get", "list")},
    *{("", "events", verb) for verb in ("get", "list")},
    *{("", "secrets", verb) for verb in ("get", "list")},
    *{("", "services/proxy", verb) for verb in ("get", "create")},
    *{("coordination.k8s.io", "leases", verb) for verb in ("get", "create", "update", "delete")},
}


def manifests() -> list[dict]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / "drift-cronjob.yaml").read_text()) if doc]


def by_kind(kind: str) -> dict:
    (found,) = [doc for doc in manifests() if doc["kind"] == kind]
    return found


def granted(rules: list[dict]) -> set[tuple[str, str, str]]:
    """Flatten RBAC rules into (apiGroup, resource, verb); wildcards are refused outright."""
    permissions = set()
    for rule in rules:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], f"wildcard in {field}: {rule}"
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                permissions |= {(group, resource, verb) for verb in rule["verbs"]}
    return permissions


# -- the CronJob and its RBAC ----------------------------------------------------------------------------
def test_manifests_are_accepted_by_the_api_server(sandbox):
    result = sandbox.kubectl("apply", "--dry-run=server", "-f", str(EXAMPLES / "drift-cronjob.yaml"))
    for kind in ("serviceaccount", "role", "rolebinding", "configmap", "cronjob"):
        created = rf"^{kind}[./].* created \(server dry run\)$"
        assert re.search(created, result.stdout, re.MULTILINE), result.stdout


def test_role_grants_exactly_what_the_product_uses():
    assert granted(by_kind("Role")["rules"]) == PRODUCT_PERMISSIONS


def test_lease_writes_are_limited_to_the_releases_lease():
    for rule in by_kind("Role")["rules"]:
        if "leases" in rule["resources"] and set(rule["verbs"]) & {"get", "update", "delete"}:
            assert rule.get("resourceNames") == ["tts-runbooks-local-llm"], rule


def test_every_rule_says_why():
    text = (EXAMPLES / "drift-cronjob.yaml").read_text()
    rules_block = text.split("rules:", 1)[1].split("\n---", 1)[0]
    rule_starts = [m.start() for m in re.finditer(r"^  - apiGroups:", rules_block, re.MULTILINE)]
    for start in rule_starts:
        line_before = rules_block[:start].rstrip("\n").rsplit("\n", 1)[-1]
        assert line_before.strip().startswith("#"), (
            f"rule without a reason: {rules_block[start : start + 80]}"
        )


def test_cronjob_runs_the_drift_check_as_the_bound_service_account():
    cronjob, binding = by_kind("CronJob"), by_kind("RoleBinding")
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod["serviceAccountName"] == by_kind("ServiceAccount")["metadata"]["name"]
    role = by_kind("Role")["metadata"]["name"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
    (container,) = pod["containers"]
    assert container["command"][:2] == ["./runner.py", "drift"] and "--fix" not in container["command"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert cron_fields_valid(cronjob["spec"]["schedule"].split())


# -- systemd ---------------------------------------------------------------------------------------------
def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((EXAMPLES / name).read_text())
    return parser


def test_service_runs_runner_drift_with_metrics_as_a_hardened_oneshot():
    service = unit("tts-drift.service")["Service"]
    command = service["ExecStart"].split()
    assert command[0] == RUNNER_IN_UNITS
    assert command[1] == "drift"
    assert command[command.index("--json") :] == DRIFT_ARGS[1:]
    assert service["Type"] == "oneshot"
    assert service["SuccessExitStatus"] == "3"  # drift found is reported through the metrics file
    for option in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert service[option] == "yes"
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/node_exporter/textfile" in service["ReadWritePaths"].split()


def test_timer_starts_the_service():
    timer = unit("tts-drift.timer")
    assert timer["Timer"]["Unit"] == "tts-drift.service"
    assert timer["Timer"]["OnCalendar"]
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    """systemd's own check; ExecStart must exist, so the copies point at this checkout's runner.py."""
    for name in ("tts-drift.service", "tts-drift.timer"):
        text = (EXAMPLES / name).read_text().replace(RUNNER_IN_UNITS, str(REPO / "runner.py"))
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "tts-drift.timer"), str(tmp_path / "tts-drift.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "tts-drift" not in result.stderr, result.stderr  # no warning about our units


# -- cron ------------------------------------------------------------------------------------------------
CRON_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]  # minute hour day-of-month month day-of-week


def cron_field_valid(field: str, low: int, high: int) -> bool:
    """One crontab field: `*`, numbers, ranges, lists and `/step` (names like `mon` are not used here)."""
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        bounds = base.split("-")
        if len(bounds) > 2 or not all(b.isdigit() and low <= int(b) <= high for b in bounds):
            return False
    return True


def cron_fields_valid(fields: list[str]) -> bool:
    return len(fields) == 5 and all(
        cron_field_valid(field, low, high) for field, (low, high) in zip(fields, CRON_RANGES, strict=True)
    )


def cron_jobs(path: Path) -> list[str]:
    """The job lines: not blank, not a comment, not an environment assignment (MAILTO=...)."""
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not re.match(r"^\w+\s*=", line)]


@pytest.mark.parametrize(
    ("fields", "valid"),
    [("*/15 * * * *", True), ("0 3 1-7,15 * 1", True), ("60 * * * *", False), ("* * *", False)],
)
def test_cron_parser(fields, valid):
    assert cron_fields_valid(fields.split()) is valid


def test_cron_line_is_five_fields_and_the_drift_command():
    (job,) = cron_jobs(EXAMPLES / "drift.cron")
    fields = job.split(None, 5)
    assert cron_fields_valid(fields[:5]), job
    command = fields[5]
    assert "%" not in command  # cron turns % into a newline
    assert "./runner.py drift" in command
    assert all(arg in command.split() for arg in DRIFT_ARGS)
