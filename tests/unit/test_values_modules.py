"""The modules values_block, values_restore and pitfalls, run the way Ansible runs them
(AnsibleModule reading its arguments, exit_json/fail_json printing JSON)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.local_llm.tts.plugins.module_utils import values_block as vb
from ansible_collections.local_llm.tts.plugins.modules import pitfalls as pitfalls_module
from ansible_collections.local_llm.tts.plugins.modules import values_block as values_block_module
from ansible_collections.local_llm.tts.plugins.modules import values_restore as values_restore_module

from runbooks.defaults import shipped_block

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/HelmChart/custom-chart/values.yaml"


def desired_block() -> dict:
    return shipped_block()


def run(module, capsys, check_mode: bool = False, **args) -> dict:
    """Run a module's main() and return its JSON result (with `failed` when it failed)."""
    args = {**args, "_ansible_check_mode": check_mode, "_ansible_diff": True}
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def values(tmp_path) -> Path:
    path = tmp_path / "values.yaml"
    shutil.copyfile(EXAMPLE, path)
    path.chmod(0o640)
    return path


def snapshot(path: Path) -> tuple[bytes, int, int]:
    info = path.stat()
    return path.read_bytes(), info.st_mtime_ns, stat.S_IMODE(info.st_mode)


# ---------------------------------------------------------------------------- values_block


def test_check_mode_reports_change_and_writes_nothing(values, capsys):
    before = snapshot(values)
    result = run(values_block_module, capsys, check_mode=True, path=str(values), block=desired_block())
    assert result["changed"] is True
    assert result["diff"]["before"] == EXAMPLE.read_text(encoding="utf-8")
    assert "  bootstrap: |\n" in result["diff"]["after"]
    assert snapshot(values) == before
    assert not Path(f"{values}.orig").exists()


def test_write_makes_backup_keeps_mode_and_only_tts_changes(values, capsys):
    original = values.read_bytes()
    result = run(values_block_module, capsys, path=str(values), block=desired_block())
    assert result["changed"] is True
    assert result["backup_file"] == f"{values}.orig"
    assert Path(result["backup_file"]).read_bytes() == original
    assert stat.S_IMODE(values.stat().st_mode) == 0o640
    assert stat.S_IMODE(Path(result["backup_file"]).stat().st_mode) == 0o640
    text = values.read_text(encoding="utf-8")
    assert vb.outside_unchanged(original.decode(), text, "tts")
    assert yaml.safe_load(text)["tts"] == desired_block()
    assert not [p for p in values.parent.iterdir() if p.name.endswith(".tmp")]  # no temp file left


def test_second_run_is_unchanged_and_does_not_touch_the_file(values, capsys):
    run(values_block_module, capsys, path=str(values), block=desired_block())
    before = snapshot(values)
    result = run(values_block_module, capsys, path=str(values), block=desired_block())
    assert result["changed"] is False
    assert result["backup_file"] == f"{values}.orig"
    assert snapshot(values) == before


def test_backup_keeps_the_first_original(values, capsys):
    original = values.read_bytes()
    run(values_block_module, capsys, path=str(values), block=desired_block())
    run(values_block_module, capsys, path=str(values), block={**desired_block(), "replicaCount": 2})
    assert Path(f"{values}.orig").read_bytes() == original


def test_backup_false_makes_no_backup(values, capsys):
    result = run(values_block_module, capsys, path=str(values), block=desired_block(), backup=False)
    assert result["changed"] is True and result["backup_file"] is None
    assert not Path(f"{values}.orig").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: 1\nb:\n  c: [1, 2\nd: 4\n", "malformed YAML"),
        ("a: 1\ntts: [1, 2]\n", "not a mapping"),
    ],
)
def test_failure_leaves_file_byte_identical(tmp_path, capsys, content, message):
    path = tmp_path / "values.yaml"
    path.write_text(content)
    before = snapshot(path)
    result = run(values_block_module, capsys, path=str(path), block=desired_block())
    assert result["failed"] is True and message in result["msg"]
    assert "line" in result["msg"]
    assert snapshot(path) == before
    assert not Path(f"{path}.orig").exists()


def test_missing_file_fails_clearly(tmp_path, capsys):
    result = run(values_block_module, capsys, path=str(tmp_path / "nope.yaml"), block={"a": 1})
    assert result["failed"] is True and "no such file" in result["msg"]


def test_verification_failure_restores_original(values, capsys, monkeypatch):
    original = values.read_bytes()
    real_write = vb.write_atomic

    def corrupting_write(path, text, mode_from=None):
        if path == str(values) and text != original.decode():
            text = "# injected\n" + text  # bytes outside the block change
        real_write(path, text, mode_from)

    monkeypatch.setattr(vb, "write_atomic", corrupting_write)
    result = run(values_block_module, capsys, path=str(values), block=desired_block())
    assert result["failed"] is True and "original restored" in result["msg"]
    assert values.read_bytes() == original
    assert stat.S_IMODE(values.stat().st_mode) == 0o640


def test_unreadable_file_fails(values, capsys):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    values.chmod(0o000)
    result = run(values_block_module, capsys, path=str(values), block=desired_block())
    values.chmod(0o640)
    assert result["failed"] is True and "cannot read" in result["msg"]


# ---------------------------------------------------------------------------- values_restore


def test_restore_puts_the_original_back(values, capsys):
    original = values.read_bytes()
    run(values_block_module, capsys, path=str(values), block=desired_block())
    checked = run(values_restore_module, capsys, check_mode=True, path=str(values))
    assert checked["changed"] is True and values.read_bytes() != original
    result = run(values_restore_module, capsys, path=str(values))
    assert result["changed"] is True and result["backup_file"] == f"{values}.orig"
    assert values.read_bytes() == original
    assert stat.S_IMODE(values.stat().st_mode) == 0o640
    assert run(values_restore_module, capsys, path=str(values))["changed"] is False


def test_restore_from_a_given_backup_and_missing_backup(values, tmp_path, capsys):
    other = tmp_path / "other.yaml"
    other.write_text("tts:\n  enabled: false\n")
    assert run(values_restore_module, capsys, path=str(values), backup_file=str(other))["changed"] is True
    assert values.read_text() == "tts:\n  enabled: false\n"
    result = run(values_restore_module, capsys, path=str(tmp_path / "x.yaml"))
    assert result["failed"] is True and "no backup" in result["msg"]


# ---------------------------------------------------------------------------- pitfalls


def test_pitfalls_module_passes_the_shipped_block_with_its_one_warning(capsys):
    result = run(pitfalls_module, capsys, block=desired_block())
    assert "failed" not in result and result["changed"] is False
    assert [(f["rule_id"], f["severity"]) for f in result["findings"]] == [
        ("engine-flags-ignored-under-omni", "warning")
    ]


def test_pitfalls_module_fails_on_errors_with_readable_message(capsys):
    result = run(pitfalls_module, capsys, path=str(EXAMPLE))
    assert result["failed"] is True
    assert "prerelease-image [error] at tts.image.tag (line 268)" in result["msg"]
    assert "Fix:" in result["msg"]
    assert {f["rule_id"] for f in result["findings"]} >= {"prerelease-image", "transformers-upgrade"}


def test_pitfalls_module_fail_on_never_and_warning(capsys):
    block = {**desired_block(), "bootstrap": "pip install flash-attn || true"}
    reported = run(pitfalls_module, capsys, block=block, fail_on="never")
    assert "failed" not in reported
    rules = {f["rule_id"] for f in reported["findings"]}
    assert rules == {"floating-install", "engine-flags-ignored-under-omni"}
    assert {f["severity"] for f in reported["findings"]} == {"warning"}
    assert "failed" not in run(pitfalls_module, capsys, block=block)  # default: errors only
    assert run(pitfalls_module, capsys, block=block, fail_on="warning")["failed"] is True


def test_pitfalls_module_needs_block_or_path(capsys):
    assert run(pitfalls_module, capsys)["failed"] is True
    assert run(pitfalls_module, capsys, block={}, path=str(EXAMPLE))["failed"] is True
