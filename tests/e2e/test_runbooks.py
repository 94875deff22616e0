"""`runner.py lint|verify|status|rollback` end to end, on sandboxes seeded with the incident (one state
dir per test, time scale 600), through the real ansible-playbook, helm and the `--json` summary.

Exit codes the tests pin down: lint 1 on findings; verify 1 with the diagnosis when the service is not
healthy; status 0 whether healthy or not; rollback refused for a target revision whose tts block fails
the known-pitfall checks is a host failure (exit 1, not 2: the configuration is fine, the target is not).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import render

from runbooks.defaults import shipped_block
from tests.support import REPO, VENV_BIN, Sandbox, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

TIME_SCALE = 600
EXAMPLE_VALUES = REPO / "examples" / "HelmChart" / "custom-chart" / "values.yaml"
PRE_FIX_IMAGE = "vllm/vllm-omni:v0.14.0rc1"
FIXED_IMAGE = "vllm/vllm-openai:v0.14.0"


def _inventory(tmp_path: Path, state_dir: Path | None, **hostvars) -> Path:
    return write_inventory(
        tmp_path / "inventory.yml", {"sandbox": sandbox_host(state_dir, TIME_SCALE, **hostvars)}
    )


def _run(command: str, inventory: Path, *args: str, timeout: float = 900) -> tuple[int, dict]:
    result = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), command, "-i", str(inventory), "--json", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not one JSON document:\n{result.stdout}\nstderr:\n{result.stderr}") from None
    return result.returncode, summary


def _host(summary: dict) -> dict:
    return summary["hosts"]["sandbox"]


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


def only_the_ignored_engine_flags(findings: list[dict]) -> bool:
    """The shipped block keeps the plan's engine flags, which --omni does not pass on: one warning each
    for the values file and tts_desired, nothing else (fact omni-stage-config)."""
    return bool(findings) and all(
        (f["rule_id"], f["severity"]) == ("engine-flags-ignored-under-omni", "warning") for f in findings
    )


def _history(box: Sandbox) -> list[dict]:
    return json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)


@pytest.fixture
def incident(tmp_path):
    box = Sandbox(tmp_path / "sandbox")  # runner.py starts it (seed incident) on first use
    yield box
    box.down()


def test_lint_needs_no_cluster_reports_lines_and_passes_the_fixed_block(tmp_path):
    chart = tmp_path / "chart"
    shutil.copytree(EXAMPLE_VALUES.parent, chart)
    values = chart / "values.yaml"
    text = values.read_text()
    inventory = _inventory(tmp_path, None, chart_path=str(chart), kubeconfig="/nonexistent/kubeconfig")

    code, summary = _run("lint", inventory)
    host = _host(summary)
    assert code == 1, summary
    findings = host["lint_findings"]
    by_rule = {}
    for finding in findings:
        by_rule.setdefault(finding["rule_id"], []).append(finding)
        assert finding["message"] and finding["fix"]
    assert {"prerelease-image", "transformers-upgrade", "missing-omni"} <= set(by_rule)
    assert _line_of(text, 'tag: "v0.14.0rc1"') in [f["line"] for f in by_rule["prerelease-image"]]
    from_desired = [f for f in findings if f["source"] != str(values)]
    assert only_the_ignored_engine_flags(from_desired)  # the default tts_desired has only that warning
    assert host["error"].startswith("LINT:") and "prerelease-image" in host["error"]
    assert values.read_text() == text  # lint never writes

    # Any file, via -e values_file: the incident's file with the desired block set is clean.
    fixed = tmp_path / "fixed-values.yaml"
    fixed.write_text(render(text, "tts", shipped_block()))
    code, summary = _run("lint", inventory, "-e", f"values_file={fixed}")
    assert code == 0, summary
    assert only_the_ignored_engine_flags(_host(summary)["lint_findings"]), summary


def test_verify_status_and_lint_before_and_after_the_fix(incident, tmp_path):
    inventory = _inventory(tmp_path, incident.state_dir)

    code, summary = _run("verify", inventory)
    host = _host(summary)
    assert code == 1, summary
    assert "does not recognize this architecture" in host["diagnosis"]
    assert "qwen3_tts" in host["diagnosis"] and "--omni" in host["diagnosis"]

    code, summary = _run("status", inventory)
    host = _host(summary)
    assert code == 0, summary
    assert host["image"] == PRE_FIX_IMAGE and host["revision"] == 1
    assert host["health"] != "ok" and host["ready"] is False and host["pod"]
    assert host["restarts"] >= 1 and host["events"] and host["chart"] and host["phase"]

    code, summary = _run("lint", inventory)
    assert code == 1 and _host(summary)["lint_findings"], summary

    code, summary = _run("fix", inventory)
    assert code == 0, summary

    code, summary = _run("verify", inventory)
    host = _host(summary)
    assert code == 0, summary
    assert host["verified"] is True and host["health"] == "ok" and host["diagnosis"] is None

    code, summary = _run("status", inventory)
    host = _host(summary)
    assert code == 0, summary
    assert host["image"] == FIXED_IMAGE and host["revision"] == 2
    assert host["health"] == "ok" and host["ready"] is True and host["phase"] == "Running"

    code, summary = _run("lint", inventory)
    assert code == 0 and only_the_ignored_engine_flags(_host(summary)["lint_findings"]), summary


def test_rollback_refuses_known_pitfalls_unless_forced_and_restores_values(incident, tmp_path):
    inventory = _inventory(tmp_path, incident.state_dir)
    values = incident.state_dir / "HelmChart" / "custom-chart" / "values.yaml"
    code, summary = _run("fix", inventory)
    assert code == 0, summary
    fixed_text = values.read_text()

    # Default target: the previous deployed revision, 1, the incident's block: refused (exit 1).
    code, summary = _run("rollback", inventory)
    host = _host(summary)
    assert code == 1, summary
    assert host["target_revision"] == 1 and host["target_image"] == PRE_FIX_IMAGE
    assert "refusing to roll back to revision 1" in host["error"] and "prerelease-image" in host["error"]
    assert {f["rule_id"] for f in host["target_findings"]} >= {"prerelease-image", "missing-omni"}
    assert any("deployed" in line for line in host["history"])
    assert [h["revision"] for h in _history(incident)] == [1, 2]
    assert values.read_text() == fixed_text

    # --force rolls back anyway; the rolled-back service crash-loops again, so the run fails with the
    # diagnosis (exit 1) after the rollback took; --restore-values puts values.yaml.orig back.
    code, summary = _run("rollback", inventory, "--force", "--restore-values")
    host = _host(summary)
    assert code == 1, summary
    assert host["rolled_back"] is True and (host["revision_before"], host["revision_after"]) == (2, 3)
    assert "does not recognize this architecture" in host["diagnosis"]
    history = _history(incident)
    assert [h["revision"] for h in history] == [1, 2, 3] and "Rollback to 1" in history[-1]["description"]
    assert values.read_text() == EXAMPLE_VALUES.read_text()
    assert host["values_changed"] is True

    code, summary = _run("status", inventory)
    host = _host(summary)
    assert code == 0 and host["image"] == PRE_FIX_IMAGE and host["revision"] == 3, summary

    # An explicit, clean revision: allowed, waits and checks health.
    code, summary = _run("rollback", inventory, "--revision", "2")
    host = _host(summary)
    assert code == 0, summary
    assert host["target_revision"] == 2 and only_the_ignored_engine_flags(host["target_findings"])
    assert host["revision_after"] == 4 and host["health"] == "ok"
    code, summary = _run("status", inventory)
    assert code == 0 and _host(summary)["image"] == FIXED_IMAGE, summary


def test_rollback_check_mode_and_missing_backup_change_nothing(incident, tmp_path):
    inventory = _inventory(tmp_path, incident.state_dir)
    # No fix ran: there is no earlier revision and no values.yaml.orig.
    code, summary = _run("rollback", inventory, "--revision", "1")
    assert code == 1 and "current revision" in _host(summary)["error"], summary
    code, summary = _run("fix", inventory)
    assert code == 0, summary
    (incident.state_dir / "HelmChart" / "custom-chart" / "values.yaml.orig").unlink()
    code, summary = _run("rollback", inventory, "--force", "--restore-values")
    assert code == 2 and "values.yaml.orig does not exist" in _host(summary)["error"], summary
    code, summary = _run("rollback", inventory, "--force", "--check")
    assert code == 0, summary
    assert [h["revision"] for h in _history(incident)] == [1, 2]
