"""runner.py's command line: parsing, -e typing, help texts, the command table."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runbooks import cli
from runbooks.cli import COMMANDS, CONTRACT_VARIABLES, KNOWN_VARIABLES, main, parse_extra_vars

REPO = Path(__file__).resolve().parents[2]


def _main(argv: list[str], project_dir: Path = REPO) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, project_dir=project_dir, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _help(argv: list[str], capsys) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def test_command_table_has_every_command_mapped_to_its_playbook():
    assert list(COMMANDS) == ["fix", "drift", "rollback", "status", "verify", "lint"]
    for name, command in COMMANDS.items():
        assert command.playbook == f"playbooks/{name}.yml"
    assert COMMANDS["fix"].changes_cluster and not COMMANDS["status"].changes_cluster


def test_top_help_lists_commands_exit_codes_and_the_venv(capsys):
    text = _help(["--help"], capsys)
    for command in COMMANDS.values():
        assert command.name in text
    for code in (
        "0  success",
        "1  a host failed",
        "2  usage or configuration error",
        "3  `drift` without --fix",
    ):
        assert code in text
    assert "CONFIG:" in text and ".venv/bin/python" in text and "make setup" in text


def test_fix_help_explains_every_option_and_variable(capsys):
    text = _help(["fix", "--help"], capsys)
    for option in ("-i", "--inventory", "--check", "--diff", "-e", "--extra-vars", "--limit", "--json"):
        assert option in text
    assert "-v, --verbose" in text and "inventory/local" in text
    for variable in CONTRACT_VARIABLES:
        assert variable in text
    assert "roles/*/meta/argument_specs.yml" in text
    assert "exit codes" in text and "CONFIG:" in text


def test_command_specific_options_become_extra_vars():
    parser, _ = cli.build_parser()
    drift = parser.parse_args(["drift", "--fix", "--recover-pending"])
    assert cli.collect_extravars(drift, COMMANDS["drift"]) == {"drift_fix": True, "recover_pending": True}
    rollback = parser.parse_args(["rollback", "--to-revision", "3", "--check"])
    assert cli.collect_extravars(rollback, COMMANDS["rollback"]) == {"rollback_revision": 3}
    verify = parser.parse_args(["verify", "--no-speech", "-e", "verify_speech=true"])
    assert cli.collect_extravars(verify, COMMANDS["verify"]) == {"verify_speech": False}


def test_read_only_commands_have_no_check_option():
    code, _, err = _main(["status", "--check"])
    assert code == 2 and "unrecognized arguments: --check" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("verify_speech=false", {"verify_speech": False}),
        ("rollout_timeout=600", {"rollout_timeout": 600}),
        ("tts_port=8006", {"tts_port": 8006}),
        ("helm_release=local-llm", {"helm_release": "local-llm"}),
        ("tts_desired={image: {tag: v0.14.0}}", {"tts_desired": {"image": {"tag": "v0.14.0"}}}),
        ("kube_context=", {"kube_context": ""}),
        ('{"auto_rollback": false, "git_commit": true}', {"auto_rollback": False, "git_commit": True}),
        ("my_flag=3", {"my_flag": 3}),
    ],
)
def test_extra_vars_are_parsed_as_yaml(text, expected):
    assert parse_extra_vars(text) == expected


def test_extra_vars_from_a_file(tmp_path):
    path = tmp_path / "vars.yml"
    path.write_text("verify_speech: false\ntts_desired:\n  extraArgs: [--omni]\n")
    assert parse_extra_vars(f"@{path}") == {"verify_speech": False, "tts_desired": {"extraArgs": ["--omni"]}}
    path.write_text("tts_port: not-a-port\n")
    with pytest.raises(Exception, match="tts_port must be an integer"):
        parse_extra_vars(f"@{path}")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tts_port=abc", "tts_port must be an integer"),
        ("tts_port=70000", "tts_port out of range"),
        ("rollout_timeout=true", "rollout_timeout must be an integer"),
        ("rollout_timeout=-5", "rollout_timeout out of range"),
        ("verify_speech=maybe", "verify_speech must be a boolean"),
        ("tts_desired=foo", "tts_desired must be a mapping"),
        ("helm_release=123", "helm_release must be a string"),
        ("kubeconfig=null", "kubeconfig must be a string, got null"),
        ("kube_token=abcdefgh", "credentials are not accepted"),
        ("no-equals-sign", "expected KEY=VALUE"),
        ("9bad=1", "not a variable name"),
        ("@/nonexistent/vars.yml", "cannot read"),
        ("tts_desired={unclosed", "not valid YAML"),
    ],
)
def test_bad_extra_vars_are_usage_errors(value, message):
    code, out, err = _main(["fix", "-e", value])
    assert code == 2 and out == ""
    assert message in err and "usage: runner.py fix" in err


def test_unknown_variables_are_warned_about():
    assert cli.unknown_variables({"verify_speech": True, "my_var": 1}, COMMANDS["fix"]) == ["my_var"]
    assert cli.unknown_variables({"drift_fix": True}, COMMANDS["drift"]) == []
    # Every command's documented settings are known (and typed), whichever command runs.
    assert (
        cli.unknown_variables({"drift_ignore_replicas": False, "drift_ignore": []}, COMMANDS["drift"]) == []
    )
    assert KNOWN_VARIABLES["drift_ignore"] is list and KNOWN_VARIABLES["drift_ignore_replicas"] is bool
    assert {"tts_desired", "rollback_force", "tts_lint_fail_on"} <= set(KNOWN_VARIABLES)


def test_a_role_setting_of_the_wrong_type_is_a_usage_error():
    code, out, err = _main(["drift", "-e", "drift_ignore_replicas=sometimes"])
    assert code == 2 and out == "" and "drift_ignore_replicas" in err


@pytest.mark.parametrize("name", ["drift", "rollback", "status", "verify", "lint"])
def test_a_command_whose_playbook_is_missing_is_a_configuration_error(tmp_path, name):
    code, out, err = _main([name], project_dir=tmp_path)
    assert code == 2 and f"playbook missing: playbooks/{name}.yml" in err and out == ""
    code, out, _ = _main([name, "--json"], project_dir=tmp_path)
    assert code == 2 and json.loads(out)["status"] == "error"


def test_a_missing_inventory_is_a_configuration_error(tmp_path):
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "fix.yml").write_text("- hosts: all\n  tasks: []\n")
    code, out, err = _main(["fix", "-i", str(tmp_path / "nope"), "--json"], project_dir=tmp_path)
    assert code == 2
    assert "inventory not found" in err and json.loads(out)["error"].startswith("inventory not found")
    assert not (tmp_path / "artifacts").exists()


def test_runner_py_reexecutes_into_the_venv_from_the_system_python():
    system_python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    result = subprocess.run(
        [system_python, str(REPO / "runner.py"), "fix", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "--extra-vars" in result.stdout


def test_runner_py_without_a_venv_asks_for_make_setup(tmp_path):
    shutil.copy(REPO / "runner.py", tmp_path / "runner.py")
    result = subprocess.run(
        ["/usr/bin/env", "python3", str(tmp_path / "runner.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2 and "make setup" in result.stderr
