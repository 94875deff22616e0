"""`runner.py status|lint|rollback|drift|fix` without --json: the summary printed after the progress
lines shows what the command found, rendered by runbooks/summary.py from the facts the roles publish
(the status screen, lint findings with file:line and fix, the rollback's history and target, drift
entries with layer and path, the speech latencies with their language)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO, VENV_BIN, Sandbox, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

TIME_SCALE = 600
PRE_FIX_IMAGE = "vllm/vllm-omni:v0.14.0rc1"
FIXED_IMAGE = "vllm/vllm-openai:v0.14.0"


def _human(command: str, inventory: Path, *args: str) -> tuple[int, list[str]]:
    """Exit code and the summary's lines (stripped), from `SUMMARY  command: status` on."""
    result = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), command, "-i", str(inventory), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=900,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
    )
    lines = result.stdout.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith(f"SUMMARY  {command}: ")), None)
    assert start is not None, f"no summary:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.returncode, [line.strip() for line in lines[start:]]


def _line(lines: list[str], pattern: str) -> str:
    found = [line for line in lines if re.search(pattern, line)]
    assert found, f"no line matches {pattern!r}:\n" + "\n".join(lines)
    return found[0]


def _values(box: Sandbox) -> Path:
    return box.state_dir / "HelmChart" / "custom-chart" / "values.yaml"


def _line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


@pytest.fixture
def incident(tmp_path):
    box = Sandbox(tmp_path / "sandbox")  # runner.py starts it (seed incident) on first use
    inventory = write_inventory(
        tmp_path / "inventory.yml", {"sandbox": sandbox_host(box.state_dir, TIME_SCALE)}
    )
    yield box, inventory
    box.down()


def test_status_and_lint_of_the_incident_print_the_screen_and_the_findings(incident):
    box, inventory = incident
    code, lines = _human("status", inventory)
    assert code == 0, lines
    assert lines[0] == "SUMMARY  status: ok"
    _line(lines, r"^release\s+local-llm \(namespace default\)$")
    _line(lines, r"^revision\s+1 deployed$")
    _line(lines, r"^chart\s+\S+")
    _line(lines, rf"^image\s+{re.escape(PRE_FIX_IMAGE)}$")
    _line(lines, r"^pod\s+local-llm-tts-\S+ on \S+")
    _line(lines, r"^phase\s+\w+")
    _line(lines, r"^ready\s+no$")
    assert int(_line(lines, r"^restarts\s+\d+$").split()[1]) >= 1
    _line(lines, r"^age\s+\d+[smhd]")
    assert _line(lines, r"^health\s+").split(None, 1)[1] != "ok"
    _line(lines, r"^drift\s+(none|(values_file|release|live) \d+)")
    _line(lines, r"^pending\s+none$")
    _line(lines, r"^events\s+\(last \d+, oldest first\)$")
    _line(lines, r"^(Normal|Warning) \w+")

    values = _values(box)
    code, lines = _human("lint", inventory)
    assert code == 1, lines
    tag_line = _line_of(values, 'tag: "v0.14.0rc1"')
    finding = _line(lines, rf"^{re.escape(str(values))}:{tag_line}: error: prerelease-image: ")
    assert " Fix: " in finding and finding.split(" Fix: ", 1)[1]
    _line(lines, r"^lint: \d+ finding\(s\) \(\d+ error")
    _line(lines, r"^tts_desired \(tts\.extraArgs\): warning: engine-flags-ignored-under-omni: .* Fix: ")
    _line(lines, r"^error: LINT: \d+ known pitfall\(s\).*prerelease-image")


def test_fix_rollback_and_drift_print_speech_history_target_and_entries(incident):
    box, inventory = incident
    code, lines = _human("fix", inventory)
    assert code == 0, lines
    _line(lines, r"^revision 1 -> 2$")
    _line(lines, r"^speech: Chinese [\d.]+ ms \([\d.]+ s audio\), English [\d.]+ ms \([\d.]+ s audio\)$")

    code, lines = _human("status", inventory)
    assert code == 0, lines
    _line(lines, rf"^image\s+{re.escape(FIXED_IMAGE)}$")
    _line(lines, r"^revision\s+2 deployed$")
    _line(lines, r"^phase\s+Running$")
    _line(lines, r"^ready\s+yes$")
    _line(lines, r"^health\s+ok$")
    _line(lines, r"^drift\s+none$")

    # The default target, revision 1, repeats the incident: refused (exit 1), history and target shown.
    code, lines = _human("rollback", inventory)
    assert code == 1, lines
    _line(lines, r"^history: 2 revision\(s\)$")
    _line(lines, r"^REV\s+STATUS\s+CHART\s+DESCRIPTION$")
    _line(lines, r"^1\s+superseded\s+\S+\s+.*<- target$")
    _line(lines, r"^2\s+deployed\s+\S+\s+.*<- current$")
    target = _line(lines, r"^target: revision 1 \(")
    assert PRE_FIX_IMAGE in target and "known pitfall(s)" in target
    _line(lines, r"^tts\.image\.tag: error: prerelease-image: .* Fix: ")
    _line(lines, r"^error: refusing to roll back to revision 1")

    # Warn mode with the values file's tts block edited: exit 3, the entry with its layer and path.
    values = _values(box)
    text = values.read_text()
    start = text.index("\ntts:")
    values.write_text(text[:start] + re.sub(r"tag: (\"?)v0\.14\.0", r"tag: \1v0.14.1", text[start:], count=1))
    code, lines = _human("drift", inventory)
    assert code == 3, lines
    assert lines[0] == "SUMMARY  drift: drift"
    _line(lines, r"^drift: 1 entry \(values_file 1, release 0, live 0, health 0\)$")
    _line(lines, r'^values_file  replace /tts/image/tag: expected "v0\.14\.0", actual "v0\.14\.1"$')

    code, lines = _human("drift", inventory, "--fix")
    assert code == 0, lines
    _line(lines, r"^corrected: 1 entry$")
    _line(lines, r'^values_file  replace /tts/image/tag: expected "v0\.14\.0", actual "v0\.14\.1"$')
    _line(lines, r"^drift: 0 entries \(values_file 0, release 0, live 0, health 0\)$")
