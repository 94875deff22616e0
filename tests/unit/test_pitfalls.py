"""pitfalls: each rule of BRIEF.md's facts, positive and negative, and the reference blocks."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import pitfalls as pf
from ansible_collections.local_llm.tts.plugins.module_utils import values_block as vb

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/HelmChart/custom-chart/values.yaml"
FIXTURES = ROOT / "tests/fixtures/tts"
PLAN_RULES = {
    "missing-omni",
    "unpinned-vllm-omni-clone",
    "no-deps-hides-dependencies",
    "torch-not-held",
    "flash-attn-hard-dependency",
}


def good_block() -> dict:
    """good.yaml plus the plan's other fields: the product's desired block."""
    good = yaml.safe_load((FIXTURES / "good.yaml").read_text())["tts"]
    plan_fields = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["tts"]
    return {**plan_fields, **good, "enabled": True}


def plan_block() -> dict:
    """The plan's literal block: its bootstrap, its extraArgs (no --omni)."""
    block = good_block()
    block["bootstrap"] = yaml.safe_load((FIXTURES / "plan-literal.yaml").read_text())["tts"]["bootstrap"]
    block["extraArgs"] = [arg for arg in block["extraArgs"] if arg != "--omni"]
    return block


def pre_fix_block() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["tts"]


def ids(findings, severity=None) -> set[str]:
    return {f.rule_id for f in findings if severity is None or f.severity == severity}


def with_bootstrap(script: str, **changes) -> dict:
    block = copy.deepcopy(good_block())
    block["bootstrap"] = script
    block.update(changes)
    return block


# ---------------------------------------------------------------------------- reference blocks


def test_good_block_has_no_findings():
    assert pf.check_block(good_block()) == []


def test_plan_literal_block():
    assert ids(pf.check_block(plan_block()), "error") == PLAN_RULES


def test_pre_fix_block():
    found = ids(pf.check_block(pre_fix_block()), "error")
    assert {"prerelease-image", "transformers-upgrade", "flash-attn-hard-dependency"} <= found
    # The vllm-omni image also needs --omni (fact 1), so the pre-fix block lacks it too.
    assert found - {"prerelease-image", "transformers-upgrade", "flash-attn-hard-dependency"} == {
        "missing-omni"
    }


def test_rules_table_is_complete_and_kebab_case():
    assert set(pf.RULES) == {
        "prerelease-image",
        "transformers-upgrade",
        "unpinned-vllm-omni-clone",
        "missing-omni",
        "no-deps-hides-dependencies",
        "torch-not-held",
        "flash-attn-hard-dependency",
        "port-mismatch",
    }
    for rule_id, rule in pf.RULES.items():
        assert rule.rule_id == rule_id and rule_id == rule_id.lower() and " " not in rule_id
        assert rule.severity in ("error", "warning") and rule.message and rule.fix
        assert 0 <= rule.fact <= 8


def test_finding_fields():
    finding = next(f for f in pf.check_block(plan_block()) if f.rule_id == "missing-omni")
    assert finding.as_dict() == {
        "rule_id": "missing-omni",
        "severity": "error",
        "message": finding.message,
        "fix": pf.RULES["missing-omni"].fix,
        "path": "tts.extraArgs",
        "line": None,
    }
    assert "--omni" in finding.message


# ---------------------------------------------------------------------------- each rule


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"repository": "vllm/vllm-omni", "tag": "v0.14.0"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "v0.14.0rc1"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "v0.15.0-beta.2"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "0.15.0.dev3"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "v0.14.0"}, False),
        ({"repository": "vllm/vllm-openai", "tag": "v0.14.0-cu128"}, False),
        ({"repository": "vllm/vllm-openai", "tag": "latest"}, False),
    ],
)
def test_prerelease_image(image, expected):
    block = {**good_block(), "image": {**image, "pullPolicy": "Always"}}
    assert ("prerelease-image" in ids(pf.check_block(block))) is expected


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install -U transformers", True),
        ("pip install transformers", True),
        ("pip install 'transformers>=4.56'", True),
        ("pip install transformers==5.0.0", True),
        ("python -m pip install --upgrade transformers", True),
        ("pip install transformers==4.57.3", False),
        ("pip install 'transformers>=4.56,<5'", False),
        ("pip install 'transformers~=4.57.0'", False),
        ("pip install -c /tmp/c.txt transformers\necho 'transformers<5' >> /tmp/c.txt", False),
        ("pip install qwen-tts -c /tmp/c.txt", False),
    ],
)
def test_transformers_upgrade(script, expected):
    assert ("transformers-upgrade" in ids(pf.check_block(with_bootstrap(script)))) is expected


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("git clone --depth 1 https://github.com/vllm-project/vllm-omni.git /tmp/o", True),
        ("git clone -b v0.13.0 https://github.com/vllm-project/vllm-omni.git /tmp/o", True),
        ("pip install git+https://github.com/vllm-project/vllm-omni.git", True),
        ("pip install vllm-omni", True),
        ("git clone --depth 1 --branch v0.14.0 https://github.com/vllm-project/vllm-omni.git /tmp/o", False),
        ("git clone --branch=v0.14.0 https://github.com/vllm-project/vllm-omni.git", False),
        (
            "git clone https://github.com/vllm-project/vllm-omni.git o && git -C o checkout v0.14.0",
            False,
        ),
        ("pip install git+https://github.com/vllm-project/vllm-omni.git@v0.14.0", False),
        ("pip install vllm-omni==0.14.0", False),
        ("git clone https://github.com/other/project.git", False),
    ],
)
def test_unpinned_vllm_omni_clone(script, expected):
    found = ids(pf.check_block(with_bootstrap(script)))
    assert ("unpinned-vllm-omni-clone" in found) is expected


def test_missing_omni():
    block = good_block()
    assert "missing-omni" not in ids(pf.check_block(block))
    block["extraArgs"] = block["extraArgs"][1:]
    assert "missing-omni" in ids(pf.check_block(block))
    block["model"] = {"name": "Qwen/Qwen3-14B", "path": "/models/Qwen3-14B"}
    assert "missing-omni" not in ids(pf.check_block(block))  # not a TTS model


@pytest.mark.parametrize(
    ("script", "severity"),
    [
        ("pip install -e /tmp/o --no-deps 2>/dev/null || pip install -e /tmp/o", "error"),
        ("pip install -e /tmp/o --no-deps || pip install -e /tmp/o", "error"),
        ("pip install --no-deps foo 2>/dev/null", "error"),
        ("pip install -e /tmp/vllm-omni --no-deps", "warning"),
        ("pip install -e /tmp/o 2>/dev/null || true", None),
        ("pip install -c /tmp/c.txt -e /tmp/o", None),
    ],
)
def test_no_deps_hides_dependencies(script, severity):
    found = [f for f in pf.check_block(with_bootstrap(script)) if f.rule_id == "no-deps-hides-dependencies"]
    assert [f.severity for f in found] == ([severity] if severity else [])


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install qwen-tts", True),
        ("pip install torchaudio", True),
        ("pip install qwen_tts==0.1.1", True),
        ("pip install -c /tmp/c.txt qwen-tts", False),
        ("pip install --constraint=/tmp/c.txt qwen-tts", False),
        ("PIP_CONSTRAINT=/tmp/c.txt pip install qwen-tts", False),
        ("export PIP_CONSTRAINT=/tmp/c.txt\npip install qwen-tts", False),
        ("pip install qwen-tts torch==2.9.0", False),
        ("pip install einops", False),
    ],
)
def test_torch_not_held(script, expected):
    assert ("torch-not-held" in ids(pf.check_block(with_bootstrap(script)))) is expected


@pytest.mark.parametrize(
    ("script", "severity"),
    [
        ("pip install flash-attn", "error"),
        ("set -e\npip install --only-binary=:all: flash-attn", "error"),
        ("pip install flash-attn || echo skipped", "warning"),
        ("set +e\npip install flash-attn", "warning"),
        ("pip install --only-binary=:all: flash-attn || echo skipped", None),
        ("pip install https://example.invalid/flash_attn-2.8.3-cp312-linux_x86_64.whl || true", None),
        ("pip install einops", None),
    ],
)
def test_flash_attn_hard_dependency(script, severity):
    found = [f for f in pf.check_block(with_bootstrap(script)) if f.rule_id == "flash-attn-hard-dependency"]
    assert [f.severity for f in found] == ([severity] if severity else [])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--omni", "--port", "8000"], True),
        (["--omni", "--port=9000"], True),
        (["--omni", "--port", "8006"], False),
        (["--omni"], False),
    ],
)
def test_port_mismatch(extra, expected):
    block = {**good_block(), "extraArgs": extra}
    assert ("port-mismatch" in ids(pf.check_block(block))) is expected


# ---------------------------------------------------------------------------- the splitter


def test_split_commands_operators_comments_and_errexit():
    script = (
        "# comment line\n"
        "echo a && pip install x || echo failed  # trailing comment\n"
        "set -euo pipefail\n"
        "pip install \\\n  -c c.txt y; git clone -b v1 u d\n"
    )
    commands = pf.split_commands(script, errexit=False)
    assert [c.words for c in commands] == [
        ["echo", "a"],
        ["pip", "install", "x"],
        ["echo", "failed"],
        ["set", "-euo", "pipefail"],
        ["pip", "install", "-c", "c.txt", "y"],
        ["git", "clone", "-b", "v1", "u", "d"],
    ]
    assert [c.line for c in commands] == [1, 1, 1, 2, 3, 3]
    assert commands[1].next_op == "||" and commands[1].tolerated
    assert [c.errexit for c in commands] == [False, False, False, True, True, True]


def test_split_commands_survives_unbalanced_quotes():
    assert pf.split_commands("echo 'oops\npip install x")[1].words == ["pip", "install", "x"]


# ---------------------------------------------------------------------------- line numbers


def test_values_text_line_numbers_pre_fix():
    text = EXAMPLE.read_text(encoding="utf-8")
    lines = text.split("\n")
    found = {(f.rule_id, f.path): f.line for f in pf.check_values_text(text)}
    assert lines[found["prerelease-image", "tts.image.repository"] - 1] == '    repository: "vllm/vllm-omni"'
    assert lines[found["prerelease-image", "tts.image.tag"] - 1] == '    tag: "v0.14.0rc1"'
    assert lines[found["transformers-upgrade", "tts.bootstrap"] - 1].startswith("  bootstrap: ")
    assert lines[found["missing-omni", "tts.extraArgs"] - 1] == "  extraArgs:"


def test_values_text_line_numbers_inside_literal_bootstrap():
    text = vb.render(EXAMPLE.read_text(encoding="utf-8"), "tts", plan_block())
    lines = text.split("\n")
    by_rule = {f.rule_id: lines[f.line - 1].strip() for f in pf.check_values_text(text)}
    assert by_rule["unpinned-vllm-omni-clone"].startswith("git clone --depth 1 https://")
    assert by_rule["no-deps-hides-dependencies"].startswith("pip install -e /tmp/vllm-omni --no-deps")
    assert by_rule["torch-not-held"] == "pip install qwen-tts"
    assert by_rule["flash-attn-hard-dependency"] == "pip install -U flash-attn --no-build-isolation"


def test_values_text_port_line_and_missing_key():
    text = "tts:\n  service:\n    port: 8006\n  extraArgs:\n    - --omni\n    - --port\n    - '9000'\n"
    (finding,) = pf.check_values_text(text)
    assert (finding.rule_id, finding.path, finding.line) == ("port-mismatch", "tts.extraArgs.1", 6)
    assert pf.check_values_text("chat: {}\n") == []


def test_values_text_good_block_clean():
    text = vb.render(EXAMPLE.read_text(encoding="utf-8"), "tts", good_block())
    assert pf.check_values_text(text) == []
