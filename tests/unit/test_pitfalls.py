"""pitfalls: each rule (docs/facts.yml ids), positive and negative, the plan's literal block, the
pre-fix block and the shipped desired block (read from roles/tts_common/defaults/main.yml itself)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import pitfalls as pf
from ansible_collections.local_llm.tts.plugins.module_utils import values_block as vb

from runbooks.defaults import shipped_block

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/HelmChart/custom-chart/values.yaml"
PLAN_LITERAL = ROOT / "tests/fixtures/tts/plan-literal.yaml"
FACTS = yaml.safe_load((ROOT / "docs/facts.yml").read_text(encoding="utf-8"))["facts"]
RULE_IDS = {
    "prerelease-image",
    "transformers-upgrade",
    "unpinned-vllm-omni-clone",
    "missing-omni",
    "no-deps-hides-dependencies",
    "port-mismatch",
    "git-not-in-image",
    "floating-install",
    "engine-flags-ignored-under-omni",
    "flash-attn-source-build",
    "flash-attn-hard-dependency",
    "bf16-pre-ampere",
}
SDIST = "https://files.pythonhosted.org/packages/source/v/vllm-omni/vllm_omni-0.14.0.tar.gz"
TAG_ARCHIVE = "https://github.com/vllm-project/vllm-omni/archive/refs/tags/v0.14.0.tar.gz"
# A bootstrap of the fixed form (not the shipped one): source by curl with a sha256 check, a
# here-document of exact pins covering everything installed, flash-attn alone and tolerated.
PINS = [
    "transformers==4.57.3",
    "omegaconf==2.4.0",
    "librosa==1.0.0",
    "resampy==0.4.3",
    "diffusers==0.39.0",
    "soundfile==0.14.0",
    "tqdm==4.67.1",
    "torchsde==0.2.6",
    "openai-whisper==20250625",
    "imageio==2.38.2",
    "onnxruntime==1.32.0",
    "sox==1.5.0",
    "flash-attn==2.8.3.post2",
]
PINNED_BOOTSTRAP = (
    "set -e\n"
    f"curl -fsSL -o /tmp/vllm-omni.tar.gz {SDIST}\n"
    'echo "0000  /tmp/vllm-omni.tar.gz" | sha256sum -c -\n'
    "mkdir -p /tmp/vllm-omni && tar -xzf /tmp/vllm-omni.tar.gz -C /tmp/vllm-omni --strip-components=1\n"
    "cat > /tmp/constraints.txt <<'EOF'\n" + "\n".join(PINS) + "\nEOF\n"
    "pip install -c /tmp/constraints.txt -e /tmp/vllm-omni\n"
    "pip install -c /tmp/constraints.txt qwen-tts==0.1.1\n"
    'pip install -c /tmp/constraints.txt --only-binary=:all: flash-attn || echo "flash-attn skipped"\n'
)


def plan_block() -> dict:
    """The plan's literal block (tests/fixtures/tts/plan-literal.yaml): the whole of it, as written."""
    return yaml.safe_load(PLAN_LITERAL.read_text(encoding="utf-8"))["tts"]


def pre_fix_block() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["tts"]


def ids(findings, severity=None) -> set[str]:
    return {f.rule_id for f in findings if severity is None or f.severity == severity}


def with_bootstrap(script: str, **changes) -> dict:
    block = copy.deepcopy(shipped_block())
    block["bootstrap"] = script
    block.update(changes)
    return block


def rule_hits(rule_id: str, script: str, **changes) -> list[pf.Finding]:
    return [f for f in pf.check_block(with_bootstrap(script, **changes)) if f.rule_id == rule_id]


# ---------------------------------------------------------------------------- reference blocks


def test_shipped_block_gives_only_the_engine_flags_warning():
    # The shipped block keeps the user's engine flags (with --omni): they are reported, not an error.
    findings = pf.check_block(shipped_block())
    assert [(f.rule_id, f.severity) for f in findings] == [("engine-flags-ignored-under-omni", "warning")]


def test_a_fixed_form_bootstrap_gives_only_the_engine_flags_warning():
    findings = pf.check_block(with_bootstrap(PINNED_BOOTSTRAP))
    assert [(f.rule_id, f.severity) for f in findings] == [("engine-flags-ignored-under-omni", "warning")]


def test_plan_literal_block():
    findings = pf.check_block(plan_block())
    assert ids(findings, "error") == {
        "git-not-in-image",
        "unpinned-vllm-omni-clone",
        "missing-omni",
        "no-deps-hides-dependencies",
        "flash-attn-source-build",
        "flash-attn-hard-dependency",
    }
    assert ids(findings, "warning") == {"floating-install", "engine-flags-ignored-under-omni"}
    assert all(f.fix for f in findings)
    floating = [f.message for f in findings if f.rule_id == "floating-install"]
    assert len(floating) == 3  # the second vllm-omni install (its dependencies), qwen-tts, flash-attn
    assert any("diffusers" in message and "more)" in message for message in floating)


def test_pre_fix_block():
    findings = pf.check_block(pre_fix_block())
    assert ids(findings, "error") == {
        "prerelease-image",
        "transformers-upgrade",
        "flash-attn-hard-dependency",
        "missing-omni",  # the vllm-omni image also needs --omni
    }
    assert ids(findings, "warning") == {"floating-install", "engine-flags-ignored-under-omni"}
    (hard,) = [f for f in findings if f.rule_id == "flash-attn-hard-dependency"]
    assert "transformers" in hard.message and "install nothing" in hard.message


def test_rules_table_is_complete_and_cites_the_facts_table():
    assert set(pf.RULES) == RULE_IDS
    fact_ids = {fact["id"] for fact in FACTS}
    for rule_id, rule in pf.RULES.items():
        assert rule.rule_id == rule_id and rule_id == rule_id.lower() and " " not in rule_id
        assert rule.severity in ("error", "warning") and rule.message and rule.fix
        assert isinstance(rule.facts, tuple) and rule.facts and set(rule.facts) <= fact_ids
    declared: dict[str, set[str]] = {}
    for fact in FACTS:
        for rule_id in (fact.get("used_by") or {}).get("pitfalls") or ():
            declared.setdefault(rule_id, set()).add(fact["id"])
    assert {rule_id: set(rule.facts) for rule_id, rule in pf.RULES.items()} == declared


def test_severities_and_wording_of_the_rules_the_facts_changed():
    assert pf.RULES["prerelease-image"].severity == "error"
    assert "plan" in pf.RULES["prerelease-image"].message
    assert "not by itself a cause" in pf.RULES["prerelease-image"].message
    for rule_id in ("floating-install", "engine-flags-ignored-under-omni", "bf16-pre-ampere"):
        assert pf.RULES[rule_id].severity == "warning"
    for rule_id in ("flash-attn-hard-dependency", "flash-attn-source-build"):
        rule = pf.RULES[rule_id]
        assert "vLLM's own" not in rule.message + rule.fix
    assert "transformers' default attention" in pf.RULES["flash-attn-hard-dependency"].message


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
        ({"repository": "docker.io/vllm/vllm-omni", "tag": "v0.14.0"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "v0.14.0rc1"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "v0.15.0-beta.2"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "0.15.0.dev3"}, True),
        ({"repository": "vllm/vllm-openai", "tag": "v0.14.0"}, False),
        ({"repository": "vllm/vllm-openai", "tag": "v0.14.0-cu128"}, False),
        ({"repository": "vllm/vllm-openai", "tag": "latest"}, False),
    ],
)
def test_prerelease_image(image, expected):
    block = {**shipped_block(), "image": {**image, "pullPolicy": "Always"}}
    assert ("prerelease-image" in ids(pf.check_block(block))) is expected


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install -U transformers", True),
        ("pip install transformers", True),
        ("pip install 'transformers>=4.56'", True),
        ("pip install transformers==5.0.0", True),
        ("python -m pip install --upgrade transformers", True),
        ("pip install -c /tmp/c.txt transformers", True),  # a constraints file the script never wrote
        ("echo 'torch==2.9.1' > /tmp/c.txt\npip install -c /tmp/c.txt transformers", True),
        ("pip install transformers==4.57.3", False),
        ("pip install 'transformers>=4.56,<5'", False),
        ("pip install 'transformers~=4.57.0'", False),
        ("echo 'transformers<5' >> /tmp/c.txt\npip install -c /tmp/c.txt transformers", False),
        (
            "cat > /tmp/c.txt <<EOF\ntransformers==4.57.3\nEOF\npip install -c /tmp/c.txt -U transformers",
            False,
        ),
        (
            "pip freeze > /tmp/c.txt\necho 'transformers<5' >> /tmp/c.txt\n"
            "pip install -c /tmp/c.txt transformers",
            False,
        ),
        ("pip install qwen-tts -c /tmp/c.txt", False),
    ],
)
def test_transformers_upgrade(script, expected):
    assert bool(rule_hits("transformers-upgrade", script)) is expected


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("git clone --depth 1 https://github.com/vllm-project/vllm-omni.git /tmp/o", True),
        ("git clone -b v0.13.0 https://github.com/vllm-project/vllm-omni.git /tmp/o", True),
        ("pip install git+https://github.com/vllm-project/vllm-omni.git", True),
        ("pip install git+https://github.com/vllm-project/vllm-omni.git@main", True),
        ("pip install vllm-omni", True),
        ("pip install 'vllm-omni>=0.14.0'", True),
        (
            "curl -fsSL -o o.tgz https://github.com/vllm-project/vllm-omni/archive/refs/heads/main.tar.gz",
            True,
        ),
        ("curl -L https://github.com/vllm-project/vllm-omni/archive/main.tar.gz | tar xz", True),
        ("curl -LO https://files.pythonhosted.org/x/vllm_omni-0.13.0.tar.gz", True),
        ("git clone --depth 1 --branch v0.14.0 https://github.com/vllm-project/vllm-omni.git /tmp/o", False),
        ("git clone --branch=v0.14.0 https://github.com/vllm-project/vllm-omni.git", False),
        (
            "git clone https://github.com/vllm-project/vllm-omni.git o && git -C o checkout v0.14.0",
            False,
        ),
        ("pip install git+https://github.com/vllm-project/vllm-omni.git@v0.14.0", False),
        ("pip install vllm-omni==0.14.0", False),
        (f"curl -fsSL -o /tmp/o.tar.gz {TAG_ARCHIVE}", False),
        (f"curl -fsSLO {SDIST}", False),
        (f"pip install {TAG_ARCHIVE}", False),
        ("curl -fsSL https://pypi.org/pypi/vllm-omni/json", False),  # not a source download
        ("git clone https://github.com/other/project.git", False),
    ],
)
def test_unpinned_vllm_omni_clone(script, expected):
    assert bool(rule_hits("unpinned-vllm-omni-clone", script)) is expected


def test_missing_omni():
    block = shipped_block()
    assert "missing-omni" not in ids(pf.check_block(block))
    block["extraArgs"] = [arg for arg in block["extraArgs"] if arg != "--omni"]
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
    found = rule_hits("no-deps-hides-dependencies", script)
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
    block = {**shipped_block(), "extraArgs": extra}
    assert ("port-mismatch" in ids(pf.check_block(block))) is expected


@pytest.mark.parametrize(
    ("script", "repository", "expected"),
    [
        (
            "git clone --branch v0.14.0 https://github.com/vllm-project/vllm-omni.git /tmp/o",
            "vllm/vllm-openai",
            1,
        ),
        ("git clone https://x/y.git && git -C y checkout v1", "vllm/vllm-openai", 2),
        ("if true; then git --version; fi", "vllm/vllm-openai", 1),
        ("/usr/bin/git clone https://x/y.git", "docker.io/vllm/vllm-omni", 1),
        ("pip install git+https://github.com/vllm-project/vllm-omni.git@v0.14.0", "vllm/vllm-openai", 1),
        ("git clone https://x/y.git", "my-registry/vllm-with-git", 0),
        ("apt-get update && apt-get install -y git\ngit clone https://x/y.git", "vllm/vllm-openai", 0),
        (f"curl -fsSL -o /tmp/o.tar.gz {TAG_ARCHIVE} && tar -xzf /tmp/o.tar.gz", "vllm/vllm-openai", 0),
        ("echo 'git clone is not run here'", "vllm/vllm-openai", 0),
    ],
)
def test_git_not_in_image(script, repository, expected):
    image = {"repository": repository, "tag": "v0.14.0", "pullPolicy": "Always"}
    found = rule_hits("git-not-in-image", script, image=image)
    assert len(found) == expected
    assert all(f.severity == "error" and "curl" in f.fix and "sha256" in f.fix for f in found)


@pytest.mark.parametrize(
    ("script", "unpinned"),
    [
        ("pip install qwen-tts", ["qwen-tts"]),
        ("pip install 'qwen-tts>=0.1'", ["qwen-tts"]),
        ("pip install qwen-tts==0.1.*", ["qwen-tts"]),
        ("pip install -U transformers flash-attn", ["transformers, flash-attn"]),
        ("pip install -e /tmp/vllm-omni", ["diffusers, imageio, librosa (+7 more)"]),
        ("pip install vllm-omni==0.14.0", ["diffusers, imageio, librosa (+7 more)"]),
        ("pip install -c /tmp/never-written.txt qwen-tts", ["qwen-tts"]),
        (
            "cat > /tmp/c.txt <<'EOF'\nomegaconf==2.4.0\nlibrosa==1.0.0\nEOF\n"
            "pip install -c /tmp/c.txt -e /tmp/vllm-omni",
            ["diffusers, imageio, onnxruntime (+5 more)"],
        ),
        ("pip install qwen-tts==0.1.1", []),
        ("pip install -e /tmp/vllm-omni --no-deps", []),  # nothing else installed (no-deps reports it)
        ("pip install https://example.invalid/flash_attn-2.8.3-cp312-linux_x86_64.whl || true", []),
        ("cat > /tmp/c.txt <<EOF\nqwen-tts==0.1.1\nEOF\npip install -c /tmp/c.txt qwen-tts", []),
        ("echo qwen-tts==0.1.1 > /tmp/c.txt\npip install -c /tmp/c.txt qwen-tts", []),
        (
            "printf '%s\\n' einops==0.8.1 qwen-tts==0.1.1 > /tmp/c.txt\n"
            "pip install -c/tmp/c.txt einops qwen-tts",
            [],
        ),
        ("export PIP_CONSTRAINT=/tmp/c.txt\necho qwen-tts==0.1.1 >> /tmp/c.txt\npip install qwen-tts", []),
        ("tee /tmp/r.txt <<EOF\nqwen-tts==0.1.1\nEOF\npip install -r /tmp/r.txt", []),
        ("tee /tmp/r.txt <<EOF\nqwen-tts\nEOF\npip install -r /tmp/r.txt", ["qwen-tts"]),
    ],
)
def test_floating_install(script, unpinned):
    found = rule_hits("floating-install", script)
    assert len(found) == len(unpinned)
    for finding, names in zip(found, unpinned, strict=True):
        assert finding.severity == "warning" and names in finding.message
        assert "constraints file of exact pins" in finding.fix or "exact pins" in finding.fix


def test_floating_install_counts_the_images_own_packages_as_held():
    # tqdm 4.67.1 is in vllm/vllm-openai:v0.14.0 and satisfies vllm-omni's range: pip keeps it.
    pins = "\n".join(pin for pin in PINS if not pin.startswith("tqdm"))
    script = f"cat > /tmp/c.txt <<'EOF'\n{pins}\nEOF\npip install -c /tmp/c.txt -e /tmp/vllm-omni"
    assert rule_hits("floating-install", script) == []
    (eager,) = rule_hits("floating-install", script + " --upgrade-strategy eager")
    assert eager.message.endswith("tqdm]")
    other_image = {"repository": "vllm/vllm-omni", "tag": "v0.14.0rc1", "pullPolicy": "Always"}
    assert len(rule_hits("floating-install", script, image=other_image)) == 1


def test_floating_install_constraints_written_after_the_install_do_not_count():
    script = "pip install -c /tmp/c.txt qwen-tts\necho qwen-tts==0.1.1 > /tmp/c.txt"
    assert len(rule_hits("floating-install", script)) == 1


@pytest.mark.parametrize(
    ("extra", "model", "expected"),
    [
        (["--omni", "--dtype", "float16"], None, ["--dtype"]),
        (
            ["--omni", "--max-model-len=4096", "--max-num-seqs", "8"],
            None,
            ["--max-num-seqs", "--max-model-len"],
        ),
        (["--dtype", "float16"], None, ["--dtype"]),  # a Qwen3-TTS model: --omni is its fix (missing-omni)
        (["--omni", "--dtype", "float16"], {"name": "Qwen/Qwen3-14B", "path": "/m"}, ["--dtype"]),
        (["--dtype", "float16"], {"name": "Qwen/Qwen3-14B", "path": "/m"}, None),  # plain vLLM honours them
        (["--omni", "--dtype", "float16", "--stage-configs-path", "/cfg/qwen3_tts.yaml"], None, None),
        (["--omni", "--trust-remote-code"], None, None),
    ],
)
def test_engine_flags_ignored_under_omni(extra, model, expected):
    block = {**shipped_block(), "extraArgs": extra}
    if model:
        block["model"] = model
    found = [f for f in pf.check_block(block) if f.rule_id == "engine-flags-ignored-under-omni"]
    if expected is None:
        assert found == []
        return
    (finding,) = found
    assert finding.severity == "warning" and finding.path == "tts.extraArgs"
    assert all(flag in finding.message for flag in expected)
    assert "qwen3_tts.yaml" in finding.message and "bfloat16" in finding.message
    assert "--stage-configs-path" in finding.fix


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install -U flash-attn --no-build-isolation", True),
        ("pip install flash-attn --no-build-isolation || echo skipped", True),  # tolerated, still hours
        ("FLASH_ATTENTION_FORCE_BUILD=TRUE pip install flash-attn || true", True),
        ("export FLASH_ATTENTION_FORCE_BUILD=TRUE\npip install flash-attn || true", True),
        ("uv pip install --no-build-isolation flash-attn || true", True),
        ("pip install --no-build-isolation --only-binary=:all: flash-attn || true", False),
        ("pip install --no-build-isolation https://x.invalid/flash_attn-2.8.3-cp312-linux_x86_64.whl", False),
        ("pip install flash-attn || echo skipped", False),  # build isolation: fails fast
        ("pip install --no-build-isolation einops", False),
    ],
)
def test_flash_attn_source_build(script, expected):
    found = rule_hits("flash-attn-source-build", script)
    assert bool(found) is expected
    assert all(f.severity == "error" and "--only-binary=:all:" in f.fix for f in found)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pip install flash-attn", True),  # bash -e: its failure stops the bootstrap
        ("set -e\npip install --only-binary=:all: flash-attn", True),
        ("pip install -U transformers flash-attn || true", True),  # one failure installs nothing
        ("pip install --only-binary=:all: einops flash-attn || echo skipped", True),
        ("pip install flash-attn || echo skipped", False),
        ("set +e\npip install flash-attn", False),
        ("pip install --only-binary=:all: flash-attn || echo skipped", False),
        ("pip install https://example.invalid/flash_attn-2.8.3-cp312-linux_x86_64.whl || true", False),
        ("pip install einops", False),
    ],
)
def test_flash_attn_hard_dependency(script, expected):
    found = rule_hits("flash-attn-hard-dependency", script)
    assert bool(found) is expected
    assert all(f.severity == "error" for f in found)


@pytest.mark.parametrize(
    ("products", "expected"),
    [
        (["Tesla-T4"], True),
        (["Tesla-T4-SHARED"], True),
        (["Tesla-V100-SXM2-16GB"], True),
        (["Tesla-P100-PCIE-16GB", "NVIDIA-A10"], True),
        (["Quadro-RTX-6000"], True),
        (["NVIDIA-GeForce-RTX-2080-Ti"], True),
        (["NVIDIA-A10"], False),
        (["NVIDIA-A100-SXM4-40GB", "NVIDIA-L4", "NVIDIA-H100-80GB-HBM3"], False),
        (["NVIDIA-RTX-A6000"], False),  # Ampere, despite "RTX" and "6000"
        ([], False),
        (None, False),  # unknown (lint): the rule is silent
    ],
)
def test_bf16_pre_ampere(products, expected):
    found = [
        f for f in pf.check_block(shipped_block(), gpu_products=products) if f.rule_id == "bf16-pre-ampere"
    ]
    assert bool(found) is expected
    for finding in found:
        assert finding.severity == "warning" and finding.path == "tts.affinity"
        assert "bfloat16" in finding.message and "unclear" in finding.message
        assert "Ampere" in finding.fix and "T4" in finding.fix


def test_bf16_pre_ampere_line_in_the_values_file():
    text = EXAMPLE.read_text(encoding="utf-8")
    (finding,) = [
        f for f in pf.check_values_text(text, gpu_products=["Tesla-T4"]) if f.rule_id == "bf16-pre-ampere"
    ]
    assert text.split("\n")[finding.line - 1] == "  affinity:"


# ---------------------------------------------------------------------------- the nodes a block selects


def node(name: str, product: str | None = None, **labels: str) -> dict:
    if product:
        labels[pf.GPU_PRODUCT_LABEL] = product
    return {"metadata": {"name": name, "labels": labels}}


NODES = [
    node("t4-a", "Tesla-T4", memorysize="16GB", gpus="1"),
    node("t4-b", "Tesla-T4", memorysize="16GB", gpus="2"),
    node("a10", "NVIDIA-A10", memorysize="24GB", gpus="4"),
    node("cpu", memorysize="0GB"),
]


def affinity(*terms) -> dict:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


def expressions(*items) -> dict:
    return {
        "matchExpressions": [dict(zip(("key", "operator", "values"), item, strict=False)) for item in items]
    }


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"affinity": affinity(expressions(("memorysize", "In", ["16GB"])))}, ["Tesla-T4"]),
        ({"affinity": affinity(expressions(("memorysize", "NotIn", ["16GB"])))}, ["NVIDIA-A10"]),
        ({"affinity": affinity(expressions(("gpus", "Gt", ["1"])))}, ["NVIDIA-A10", "Tesla-T4"]),
        ({"affinity": affinity(expressions(("gpus", "Lt", ["2"])))}, ["Tesla-T4"]),
        ({"affinity": affinity(expressions(("gpus", "DoesNotExist")))}, []),
        (
            {"affinity": affinity(expressions(("gpus", "Exists"), ("memorysize", "In", ["24GB"])))},
            ["NVIDIA-A10"],
        ),
        (
            {
                "affinity": affinity(
                    expressions(("memorysize", "In", ["24GB"])), expressions(("gpus", "In", ["1"]))
                )
            },
            ["NVIDIA-A10", "Tesla-T4"],  # terms are ORed
        ),
        (
            {
                "affinity": affinity(
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a10"]}]}
                )
            },
            ["NVIDIA-A10"],
        ),
        ({"affinity": affinity({})}, []),  # an empty term matches no node
        ({"nodeSelector": {"memorysize": "24GB"}}, ["NVIDIA-A10"]),
        (
            {
                "nodeSelector": {"memorysize": "16GB"},
                "affinity": affinity(expressions(("gpus", "In", ["2"]))),
            },
            ["Tesla-T4"],
        ),
        ({}, ["NVIDIA-A10", "Tesla-T4"]),  # no constraint: every node
    ],
)
def test_selected_gpu_products(block, expected):
    assert pf.selected_gpu_products(block, NODES) == expected


def test_selected_gpu_products_of_the_shipped_block():
    assert pf.selected_gpu_products(shipped_block(), NODES) == ["Tesla-T4"]
    assert "bf16-pre-ampere" in ids(
        pf.check_block(shipped_block(), gpu_products=pf.selected_gpu_products(shipped_block(), NODES))
    )


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


def test_split_commands_keeps_here_documents_out_of_the_commands():
    script = (
        "cat > /tmp/c.txt <<'EOF'\npip install not-a-command\ntorch==2.9.1\nEOF\n"
        "tee -a /tmp/c.txt <<-END >/dev/null\n\tx==1\n\tEND\n"
        "pip install -c /tmp/c.txt y\n"
    )
    commands = pf.split_commands(script)
    assert [c.words for c in commands] == [
        ["cat"],
        ["tee", "-a", "/tmp/c.txt"],
        ["pip", "install", "-c", "/tmp/c.txt", "y"],
    ]
    assert commands[0].heredoc == "pip install not-a-command\ntorch==2.9.1"
    assert commands[1].heredoc == "x==1"
    assert [c.line for c in commands] == [0, 4, 7]


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
    by_rule: dict[str, list[str]] = {}
    for finding in pf.check_values_text(text):
        by_rule.setdefault(finding.rule_id, []).append(lines[finding.line - 1].strip())
    assert by_rule["git-not-in-image"] == [
        "git clone --depth 1 https://github.com/vllm-project/vllm-omni.git /tmp/vllm-omni"
    ]
    assert by_rule["unpinned-vllm-omni-clone"][0].startswith("git clone --depth 1 https://")
    assert by_rule["no-deps-hides-dependencies"][0].startswith("pip install -e /tmp/vllm-omni --no-deps")
    assert "pip install qwen-tts" in by_rule["floating-install"]
    assert by_rule["flash-attn-source-build"] == ["pip install -U flash-attn --no-build-isolation"]
    assert by_rule["flash-attn-hard-dependency"] == ["pip install -U flash-attn --no-build-isolation"]


def test_values_text_port_line_and_missing_key():
    text = "tts:\n  service:\n    port: 8006\n  extraArgs:\n    - --omni\n    - --port\n    - '9000'\n"
    (finding,) = pf.check_values_text(text)
    assert (finding.rule_id, finding.path, finding.line) == ("port-mismatch", "tts.extraArgs.1", 6)
    assert pf.check_values_text("chat: {}\n") == []


def test_values_text_shipped_block_gives_only_the_engine_flags_warning():
    text = vb.render(EXAMPLE.read_text(encoding="utf-8"), "tts", shipped_block())
    assert [f.rule_id for f in pf.check_values_text(text)] == ["engine-flags-ignored-under-omni"]
