"""Progress during the rollout wait: runner.py shows what the waiting module reports, while it waits,
without breaking --json (the lines go to stderr there)."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys

import pytest

from tests.support import REPO, VENV_BIN, Sandbox, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Slow enough that the load takes real seconds, fast enough that bootstrap + load stay inside the chart's
# 30-minute startupProbe (45 s real at this scale).
TIME_SCALE = 40


def test_a_long_model_load_is_reported_while_it_lasts(tmp_path):
    box = Sandbox(tmp_path / "sandbox")
    box.up("--seed", "incident", "--time-scale", str(TIME_SCALE))
    try:
        # 90 s of model load x 12 = 18 simulated minutes: 27 s of real time at this scale
        box.cli("fault", "set", "slow-model-load", "factor=12")
        inventory = write_inventory(
            tmp_path / "inventory.yml", {"east": sandbox_host(box.state_dir, TIME_SCALE)}
        )
        result = subprocess.run(
            [sys.executable, str(REPO / "runner.py"), "fix", "-i", str(inventory), "--json"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=280,
            env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"},
        )
    finally:
        box.down()
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["hosts"]["east"]["health"] == "ok"  # stdout: one JSON document
    waiting = [line for line in result.stderr.splitlines() if re.match(r"\[ *[\d.]+s\] east +waiting ", line)]
    assert waiting, result.stderr
    assert any("pod local-llm-tts-" in line and "tts running, not ready" in line for line in waiting)
    clocks = [int(m.group(1)) for line in waiting if (m := re.search(r", (\d+)/120 s$", line))]
    # at least one line every 15 s while the pod loads for ~27 s: changes, then heartbeats
    assert len(clocks) >= 3 and clocks == sorted(clocks) and clocks[-1] - clocks[0] >= 20, waiting
    stamps = [float(re.match(r"\[ *([\d.]+)s\]", line).group(1)) for line in waiting]
    assert all(b - a <= 16 for a, b in itertools.pairwise(stamps)), waiting
