"""The shipped bootstrap in the sandbox agrees with real pip: after it runs, every package the real resolver
installed or moved (docs/bootstrap-resolution.txt, from `make check-bootstrap`) is at that version."""

from __future__ import annotations

import re
from pathlib import Path

from runbooks.defaults import shipped_block
from sandbox.faults import Faults
from sandbox.runtimes.vllm import canonical_name
from tests.unit.test_runtime_vllm import run_bootstrap

RESOLUTION = Path(__file__).resolve().parents[2] / "docs" / "bootstrap-resolution.txt"


def real_resolution() -> dict[str, str]:
    """name -> version after all steps, as real pip resolved them (installs and up/downgrades)."""
    result: dict[str, str] = {}
    section = ""
    for line in RESOLUTION.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"   (install|upgrade|downgrade):", line)
        if heading:
            section = heading.group(1)
            continue
        if not line.startswith("     "):  # an entry is indented under its heading; anything else ends it
            section = ""
        if not section:
            continue
        entry = line.strip()
        if section == "install":
            name, version = entry.split("==")
        else:
            name, change = entry.split(" ", 1)
            version = change.split("->")[1]
        result[canonical_name(name)] = version
    return result


def test_the_committed_resolution_is_clean_and_of_the_shipped_block():
    text = RESOLUTION.read_text(encoding="utf-8")
    assert "VERDICT: OK" in text
    assert "tts_desired.bootstrap" in text
    for line in shipped_block()["bootstrap"].splitlines():
        if line.startswith("pip install"):
            assert line in text, f"the committed resolution is not of the shipped block: {line}"


def test_the_sandbox_installs_what_real_pip_resolved(tmp_path):
    expected = real_resolution()
    assert len(expected) >= 50 and expected["vllm-omni"] == "0.14.0" and expected["qwen-tts"] == "0.1.1"
    running = run_bootstrap(Faults(tmp_path), shipped_block()["bootstrap"])
    assert running.wait_exit() == 0, "\n".join(running.lines[-20:])
    installed = {canonical_name(name): version for name, version in running.packages.items()}
    wrong = {name: (version, installed.get(name)) for name, version in expected.items()}
    wrong = {name: pair for name, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"real pip vs sandbox: {wrong}"
    assert "Bootstrap complete!" in running.lines
