"""scripts/check_bootstrap.py: bootstrap parsing, report classification and the verdict (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scripts import check_bootstrap as cb

ROOT = Path(__file__).resolve().parents[2]


ENV = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.1",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "6.1.0",
    "platform_system": "Linux",
    "platform_version": "#1 SMP",
    "python_full_version": "3.12.1",
    "python_version": "3.12",
    "sys_platform": "linux",
}

DRAFT = """\
set -e
echo "Cloning vllm-omni repository..."
curl -fsSL -o /tmp/vllm_omni-0.14.0.tar.gz https://files.pythonhosted.org/packages/b0/b0/x/vllm_omni-0.14.0.tar.gz
echo "b5931232f9cd9d99081e9e90f591266dce54bae716cd3be35c2e17bb82c35689  /tmp/vllm_omni-0.14.0.tar.gz" \\
  | sha256sum -c -
mkdir -p /tmp/vllm-omni
tar -xzf /tmp/vllm_omni-0.14.0.tar.gz -C /tmp/vllm-omni --strip-components=1
cat > /tmp/constraints.txt <<'EOF'
torch==2.9.1
pillow==11.3.0
EOF
echo "Installing vllm-omni from source..."
pip install -c /tmp/constraints.txt -e /tmp/vllm-omni
echo "Installing qwen-tts..."
pip install -c /tmp/constraints.txt qwen-tts==0.1.1
echo "Installing flash-attn..."
pip install -c /tmp/constraints.txt --only-binary=:all: flash-attn || echo "flash-attn: no wheel"
echo "Bootstrap complete!"
"""


def pip_steps(ops):
    return [op for op in ops if isinstance(op, cb.PipInstall)]


def run_files(ops, installed=None):
    """Replay the file-writing operations like run_check does: (files, sources)."""
    files, sources = {}, {}
    for op in ops:
        if isinstance(op, cb.WriteFile):
            files[op.path] = (files.get(op.path, "") if op.append else "") + op.text
        elif isinstance(op, cb.FreezeToFile):
            files[op.path] = (files.get(op.path, "") if op.append else "") + cb.run_freeze(
                op, installed or {}
            )
        elif isinstance(op, cb.Source):
            sources[op.path] = op
    return files, sources


# --- parsing ------------------------------------------------------------------------------


def test_draft_block_steps_in_order():
    ops = cb.parse_bootstrap(DRAFT)
    steps = pip_steps(ops)
    assert [s.requirements for s in steps] == [["/tmp/vllm-omni"], ["qwen-tts==0.1.1"], ["flash-attn"]]
    assert [s.editables for s in steps] == [["/tmp/vllm-omni"], [], []]
    assert all(s.constraint_files == ["/tmp/constraints.txt"] for s in steps)
    assert steps[2].options == ["--only-binary=:all:"]
    assert [s.tolerated for s in steps] == [False, False, True]
    assert steps[2].fallback.startswith("|| echo")


def test_draft_block_sdist_source_and_constraints():
    ops = cb.parse_bootstrap(DRAFT)
    files, sources = run_files(ops)
    assert files["/tmp/constraints.txt"] == "torch==2.9.1\npillow==11.3.0\n"
    src = sources["/tmp/vllm-omni"]
    assert (src.name, src.version) == ("vllm-omni", "0.14.0")
    assert "files.pythonhosted.org" in src.origin
    call = cb.build_pip_call(pip_steps(ops)[0], files, sources)
    assert call.requirements == ["vllm-omni==0.14.0"]
    assert call.constraints == "torch==2.9.1\npillow==11.3.0\n"
    checksum = next(op for op in ops if isinstance(op, cb.Checksum))
    assert checksum.path == "/tmp/vllm_omni-0.14.0.tar.gz"
    assert checksum.sha256.startswith("b5931232")
    assert checksum.url.endswith("/vllm_omni-0.14.0.tar.gz")


def test_shipped_block_parses():
    """The block in roles/tts_common/defaults/main.yml (whatever it holds now) parses."""
    script = cb.load_bootstrap(cb.DEFAULT_VALUES, cb.DEFAULT_BLOCK)
    ops = cb.parse_bootstrap(script)
    assert pip_steps(ops)


def test_git_clone_and_freeze_grep_and_echo_append():
    script = """\
set -e
git clone --depth 1 --branch v0.14.0 https://github.com/vllm-project/vllm-omni.git /tmp/vllm-omni
pip freeze | grep -iE '^(torch|vllm)==' > /tmp/constraints.txt
echo "transformers<5" >> /tmp/constraints.txt
pip install -c /tmp/constraints.txt -e /tmp/vllm-omni
"""
    ops = cb.parse_bootstrap(script)
    installed = cb.parse_freeze("torch==2.9.1\nTorchaudio==2.9.1\nvllm==0.14.0\nnumpy==2.2.6\n")
    files, sources = run_files(ops, installed)
    assert files["/tmp/constraints.txt"] == "torch==2.9.1\nvllm==0.14.0\ntransformers<5\n"
    assert (sources["/tmp/vllm-omni"].name, sources["/tmp/vllm-omni"].version) == ("vllm-omni", "0.14.0")
    call = cb.build_pip_call(pip_steps(ops)[0], files, sources)
    assert call.requirements == ["vllm-omni==0.14.0"]


def test_continuation_cd_relative_editable_and_options():
    script = """\
cd /tmp/src
tar xzf /tmp/dl/pkg_x-1.2.3.tar.gz
pip install --no-cache-dir -q \\
    --constraint=/tmp/c.txt -U "foo[bar]>=1,<2" -e ./pkg_x-1.2.3 2>&1
"""
    ops = cb.parse_bootstrap(script)
    (step,) = pip_steps(ops)
    assert step.constraint_files == ["/tmp/c.txt"]
    assert step.requirements == ["foo[bar]>=1,<2", "/tmp/src/pkg_x-1.2.3"]
    assert step.options == ["-U"]
    _, sources = run_files(ops)
    assert sources["/tmp/src/pkg_x-1.2.3"].version == "1.2.3"


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("pip install --frobnicate x\n", "not modelled"),
        ("cat > /tmp/c.txt <<'EOF'\ntorch==2.9.1\n", "never closed"),
        ("cat > /tmp/c.txt <<EOF\ntorch==$V\nEOF\n", "unquoted here-document"),
        ("git clone https://github.com/a/b.git /tmp/b\n", "release tag"),
    ],
)
def test_parse_errors(script, message):
    with pytest.raises(cb.BootstrapParseError, match=message):
        cb.parse_bootstrap(script)


def test_unknown_local_source_and_missing_constraints_file():
    ops = cb.parse_bootstrap("pip install -e /tmp/nowhere\npip install -c /tmp/none.txt x\n")
    steps = pip_steps(ops)
    with pytest.raises(cb.BootstrapParseError, match="not a source"):
        cb.build_pip_call(steps[0], {}, {})
    with pytest.raises(cb.BootstrapParseError, match="not written"):
        cb.build_pip_call(steps[1], {}, {})


def test_sdist_name_version():
    assert cb.sdist_name_version("https://x/y/vllm_omni-0.14.0.tar.gz") == ("vllm-omni", "0.14.0")
    assert cb.sdist_name_version("flash_attn-2.8.3.post2.tar.gz") == ("flash-attn", "2.8.3.post2")
    assert cb.sdist_name_version("notes.txt") is None


def test_parse_freeze_skips_noise():
    got = cb.parse_freeze("rc=0\n# c\n\nPillow==12.1.0\n-e git+https://x#egg=y\ndocstring_parser==0.17\n")
    assert {k: v.version for k, v in got.items()} == {"pillow": "12.1.0", "docstring-parser": "0.17"}


def test_load_bootstrap_from_values_file(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump({"tts": {"bootstrap": "pip install x\n"}, "other": {"a": 1}}))
    assert cb.load_bootstrap(values, "tts") == "pip install x\n"
    with pytest.raises(cb.CheckError, match="no key"):
        cb.load_bootstrap(values, "nope")
    with pytest.raises(cb.CheckError, match="not a shell script"):
        cb.load_bootstrap(values, "other")


# --- classification -----------------------------------------------------------------------


def item(name, version, requires=()):
    return {"metadata": {"name": name, "version": version, "requires_dist": list(requires)}}


def image():
    installed = cb.parse_freeze(
        "vllm==0.14.0\ntorch==2.9.1\ntriton==3.5.1\npillow==12.1.0\npydantic==2.12.5\n"
        "transformers==4.57.6\nwebsockets==16.0\n"
    )
    installed["vllm"].requires_dist = [
        "torch==2.9.1",
        "pillow",
        "pydantic>=2.12.0",
        "transformers<5,>=4.56.0",
        'xgrammar==0.1.29; platform_machine == "s390x"',
        'pandas; extra == "bench"',
    ]
    installed["torch"].requires_dist = ['triton==3.5.1; platform_system == "Linux"']
    return installed


def test_classify_report_kinds():
    report = {
        "install": [
            item("gradio", "5.50.0"),
            item("Pillow", "11.3.0"),
            item("transformers", "4.57.10"),
            item("websockets", "16.0"),
        ]
    }
    changes = cb.classify_report(report, image())
    assert [(c.name, c.old, c.new, c.kind) for c in changes] == [
        ("gradio", None, "5.50.0", "install"),
        ("Pillow", "12.1.0", "11.3.0", "downgrade"),
        ("transformers", "4.57.6", "4.57.10", "upgrade"),
        ("websockets", "16.0", "16.0", "reinstall"),
    ]
    assert [c.describe() for c in changes] == [
        "gradio==5.50.0",
        "Pillow 12.1.0->11.3.0",
        "transformers 4.57.6->4.57.10",
        "websockets==16.0 (reinstall)",
    ]


def test_exact_pins_follow_pinned_dependencies_and_markers():
    assert cb.exact_pins(image(), ENV) == {"torch": "2.9.1", "triton": "3.5.1"}


def assessed(report, installed=None):
    before = installed or image()
    call = cb.PipCall(cb.PipInstall("pip install x", 1), ["x"], "", "", [], [])
    result = cb.StepResult(1, call, 0, cb.classify_report(report, before))
    after = cb.apply_report(report, before)
    cb.assess_step(
        result, before, after, cb.broken_requirements(before, ENV), ENV, cb.exact_pins(before, ENV)
    )
    return result


def test_downgrades_that_vllm_accepts_pass():
    r = assessed(
        {"install": [item("pillow", "11.3.0"), item("pydantic", "2.12.3"), item("transformers", "4.57.3")]}
    )
    assert not r.pinned_changes and not r.anchor_broken and not r.other_broken
    assert cb.verdict([r])[0] == 0


def test_specifier_break_and_pin_change_fail():
    r = assessed({"install": [item("transformers", "5.24.0"), item("triton", "3.6.0")]})
    assert [c.name for c in r.pinned_changes] == ["triton"]
    assert r.anchor_broken == [("vllm", "transformers<5,>=4.56.0", "5.24.0")]
    # torch's own pin on triton is broken too: reported, but not as vLLM's requirement
    assert ("torch", 'triton==3.5.1; platform_system == "Linux"', "3.6.0") in r.other_broken
    status, line = cb.verdict([r])
    assert status == 1
    assert "exact pins (triton 3.5.1->3.6.0)" in line and "transformers<5,>=4.56.0 (found 5.24.0)" in line


def test_other_packages_left_broken_fail():
    """A step that moves a package another installed one needs (pip does not look) fails."""
    installed = image()
    installed["diffusers"] = cb.Installed("diffusers", "0.42.1", ["huggingface-hub<3.0,>=1.32.0"])
    installed["huggingface-hub"] = cb.Installed("huggingface_hub", "1.33.0")
    r = assessed({"install": [item("huggingface_hub", "0.36.2")]}, installed)
    assert r.other_broken == [("diffusers", "huggingface-hub<3.0,>=1.32.0", "0.36.2")]
    status, line = cb.verdict([r])
    assert status == 1 and "leaves unmet requirements" in line


def test_extras_are_checked():
    installed = image()
    installed["vllm"].requires_dist.append("fastapi[standard]>=0.115")
    installed["fastapi"] = cb.Installed(
        "fastapi", "0.128.0", ['uvicorn>=0.12; extra == "standard"'], ["standard"]
    )
    installed["uvicorn"] = cb.Installed("uvicorn", "0.40.0")
    assert cb.broken_requirements(installed, ENV) == set()
    r = assessed({"install": [item("uvicorn", "0.11.0")]}, installed)
    assert r.other_broken == [("fastapi[standard]", 'uvicorn>=0.12; extra == "standard"', "0.11.0")]


def test_floating_lists_what_no_exact_pin_fixes():
    step = cb.PipInstall("pip install -c c.txt vllm-omni==0.14.0", 1)
    constraints = "# pins\npillow==11.3.0\ntransformers<5\nGradio == 5.50.0\n"
    call = cb.PipCall(step, ["vllm-omni==0.14.0"], constraints, "", [], [])
    report = {
        "install": [
            item("vllm-omni", "0.14.0"),
            item("pillow", "11.3.0"),
            item("gradio", "5.50.0"),
            item("transformers", "4.57.3"),
            item("diffusers", "0.39.0"),
        ]
    }
    changes = cb.classify_report(report, image())
    assert [c.name for c in cb.floating(call, changes)] == ["diffusers", "transformers"]


def test_step_header_shows_the_line_as_written():
    line = 'pip install --only-binary=:all: flash-attn || echo "it\'s ok"'
    (step,) = pip_steps(cb.parse_bootstrap(line + "\n"))
    assert step.text == line
    assert step.tolerated


def test_vllm_change_itself_is_a_pin_change():
    r = assessed({"install": [item("vllm", "0.15.0")]})
    assert [c.describe() for c in r.pinned_changes] == ["vllm 0.14.0->0.15.0"]


# --- failures and verdict -----------------------------------------------------------------


def test_classify_failure():
    assert cb.classify_failure(0, "") is None
    assert cb.classify_failure(1, "ERROR: ResolutionImpossible: for help visit ...") == "conflict"
    assert cb.classify_failure(1, "ERROR: No matching distribution found for flash-attn") == "no-distribution"
    assert cb.classify_failure(1, "ERROR: Failed to build 'flash-attn'") == "error"


def failed_step(number, tolerated, failure="no-distribution"):
    step = cb.PipInstall(
        "pip install flash-attn", 10, tolerated=tolerated, fallback="|| echo x" if tolerated else ""
    )
    call = cb.PipCall(step, ["flash-attn"], "", "", ["--only-binary=:all:"], [])
    return cb.StepResult(number, call, 1, [], failure=failure)


def test_tolerated_failure_passes_and_is_named():
    ok = assessed({"install": [item("gradio", "5.50.0")]})
    status, line = cb.verdict([ok, failed_step(2, tolerated=True)])
    assert status == 0
    assert line.startswith("VERDICT: OK") and "tolerated failures: step 2 no-distribution" in line
    text = "\n".join(cb.format_step(failed_step(2, tolerated=True)))
    assert "TOLERATED FAILURE (no-distribution, pip rc 1)" in text


def test_untolerated_failure_and_conflict_fail():
    status, line = cb.verdict([failed_step(1, tolerated=False, failure="conflict")])
    assert status == 1 and "step 1 conflict" in line
    skipped = failed_step(2, tolerated=False)
    skipped.skipped = True
    assert "NOT REACHED" in "\n".join(cb.format_step(skipped))
    assert cb.verdict([skipped])[0] == 0


def test_checksum_errors_fail():
    status, line = cb.verdict([], ["sha256 of x.tar.gz in the script does not match PyPI's (abc)"])
    assert status == 1 and "does not match" in line


def test_no_python_is_exit_2(tmp_path, capsys):
    status = cb.main(["--python", str(tmp_path / "python3.12"), "--freeze", str(ROOT / "pyproject.toml")])
    assert status == 2
    assert "no Python 3.12 interpreter" in capsys.readouterr().err
