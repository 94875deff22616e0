"""Each module's documentation (as ansible-doc resolves it, shared fragments included) says exactly
what its argument spec accepts: the same options, types, defaults, choices and required flags."""

from __future__ import annotations

import importlib
import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES_DIR = REPO / "collections" / "ansible_collections" / "local_llm" / "tts" / "plugins" / "modules"
MODULES = sorted(path.stem for path in MODULES_DIR.glob("*.py") if path.stem != "__init__")
COMPARED = ("type", "default", "required", "choices", "elements")


class _SpecSeen(Exception):
    def __init__(self, argument_spec: dict) -> None:
        super().__init__("argument spec captured")
        self.argument_spec = argument_spec


class _CapturingModule:
    def __init__(self, argument_spec: dict, **_kwargs) -> None:
        raise _SpecSeen(argument_spec)


def _argument_spec(name: str, monkeypatch) -> dict:
    module = importlib.import_module(f"ansible_collections.local_llm.tts.plugins.modules.{name}")
    monkeypatch.setattr(module, "AnsibleModule", _CapturingModule)
    with pytest.raises(_SpecSeen) as seen:
        module.main()
    return seen.value.argument_spec


@pytest.fixture(scope="module")
def documented() -> dict[str, dict]:
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible-doc"), "-t", "module", "--json"]
        + [f"local_llm.tts.{name}" for name in MODULES],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        name.rsplit(".", 1)[1]: entry["doc"]["options"] for name, entry in json.loads(result.stdout).items()
    }


def _normalised(option: dict) -> dict:
    shown = {key: option[key] for key in COMPARED if key in option}
    shown.setdefault("type", "str")
    if not shown.get("required"):
        shown.pop("required", None)
    if shown.get("default") is None:
        shown.pop("default", None)
    return shown


def test_every_module_is_documented(documented):
    assert MODULES and set(documented) == set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_the_argument_spec(name, documented, monkeypatch):
    spec = _argument_spec(name, monkeypatch)
    options = documented[name]
    assert sorted(options) == sorted(spec)
    for option, accepted in spec.items():
        assert _normalised(options[option]) == _normalised(accepted), option
        assert options[option].get("description"), f"{name}: {option} has no description"


def test_shared_connection_options_come_from_one_fragment(documented):
    kubeconfig = {
        json.dumps(options["kubeconfig"], sort_keys=True)
        for options in documented.values()
        if "kubeconfig" in options
    }
    assert len(kubeconfig) == 1  # every cluster module documents kubeconfig the same way


def test_filter_documentation_parses():
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "ansible-doc"), "-t", "filter", "--json", "local_llm.tts.log_findings"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    options = json.loads(result.stdout)["local_llm.tts.log_findings"]["doc"]["options"]
    assert sorted(options) == ["_input", "forbidden", "markers"]
