"""values_block: the round trip that may change only the lines of one top-level block."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import values_block as vb
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import ValuesError

from runbooks.defaults import shipped_block

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples/HelmChart/custom-chart/values.yaml"


def desired_block() -> dict:
    """The product's desired block as shipped (tts_desired)."""
    return shipped_block()


def block_span(text: str, key: str) -> range:
    """0-based line indices of the key's block, found independently of values_block."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{key}:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] not in ("", " ")), len(lines))
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return range(start, end)


def changed_old_lines(old: str, new: str) -> set[int]:
    """Indices of old lines touched by the diff (replaced, deleted, or an insertion point)."""
    matcher = difflib.SequenceMatcher(None, old.split("\n"), new.split("\n"), autojunk=False)
    touched: set[int] = set()
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag != "equal":
            touched.update(range(i1, i2) if i2 > i1 else [i1 - 1])
    return touched


def assert_only_block_changed(old: str, new: str, key: str) -> None:
    span = block_span(old, key)
    outside = changed_old_lines(old, new) - set(span)
    assert not outside, f"lines outside {key!r} changed: {sorted(outside)}"
    lines = old.split("\n")
    assert new.startswith("\n".join(lines[: span.start]))
    assert new.endswith("\n".join(lines[span.stop :]))


# ---------------------------------------------------------------------------- the example file


def test_example_only_tts_lines_change():
    old = EXAMPLE.read_text(encoding="utf-8")
    new = vb.render(old, "tts", desired_block())
    assert new != old
    assert_only_block_changed(old, new, "tts")
    assert yaml.safe_load(new)["tts"] == desired_block()
    others = {k: v for k, v in yaml.safe_load(old).items() if k != "tts"}
    assert {k: v for k, v in yaml.safe_load(new).items() if k != "tts"} == others


def test_example_keeps_unchanged_block_lines_and_styles():
    old = EXAMPLE.read_text(encoding="utf-8")
    new = vb.render(old, "tts", desired_block())
    tts_new = new.split("\n")[block_span(new, "tts").start :]
    assert '    repository: "vllm/vllm-openai"' in tts_new  # double quotes kept
    assert "        - matchExpressions:" in tts_new  # dash at its key's column, as in the file
    assert '    - "--omni"' in tts_new  # extraArgs keep their 4-space dash, new item quoted alike
    assert "  bootstrap: |" in tts_new
    # Only image, bootstrap and the new --omni line differ from the old block.
    removed = [line for line in difflib.ndiff(old.split("\n"), new.split("\n")) if line.startswith("- ")]
    assert removed == [
        '-     repository: "vllm/vllm-omni"',
        '-     tag: "v0.14.0rc1"',
        '-   bootstrap: "pip install -U transformers flash-attn"',
    ]


def test_example_comments_and_cjk_preserved():
    old = EXAMPLE.read_text(encoding="utf-8")
    new = vb.render(old, "tts", desired_block())
    for line in old.split("\n"):
        if line.lstrip().startswith("#"):
            assert line in new.split("\n")
    assert "# 7. 语音合成 TTS (Qwen3-TTS)" in new


def test_bootstrap_is_a_literal_block():
    new = vb.render(EXAMPLE.read_text(encoding="utf-8"), "tts", desired_block())
    lines = new.split("\n")
    index = lines.index("  bootstrap: |")
    script = desired_block()["bootstrap"].rstrip("\n").split("\n")
    assert lines[index + 1 : index + 1 + len(script)] == ["    " + line if line else "" for line in script]
    assert lines[index + len(script)] == '    echo "Bootstrap complete!"'
    assert lines[index + 1 + len(script)] == "  replicaCount: 1"


def test_idempotent():
    old = EXAMPLE.read_text(encoding="utf-8")
    once = vb.render(old, "tts", desired_block())
    assert vb.render(once, "tts", desired_block()) == once
    assert vb.equal(vb.current_block(once, "tts"), desired_block())
    assert not vb.equal(vb.current_block(old, "tts"), desired_block())


def test_render_same_data_returns_same_text():
    old = EXAMPLE.read_text(encoding="utf-8")
    assert vb.render(old, "tts", vb.current_block(old, "tts")) == old


# ---------------------------------------------------------------------------- layouts

BLOCK = {"enabled": True, "image": {"tag": "v2"}, "extraArgs": ["--omni", "--x"], "bootstrap": "a\nb\n"}

FIRST = """tts:
  enabled: false
  image:
    tag: v1
  extraArgs:
  - --x

# ---- 2. chat ----
chat:
  enabled: true
"""

MIDDLE = """# 全局
global:
  shm: 8Gi   # 共享内存

tts:   # 语音
  # 注释 inside the block
  enabled: false
  image:
    tag: 'v1'  # old
  extraArgs:
    - "--x"    # keep me
  # trailing indented comment belongs to tts
# ---- 8. banner of the next block ----

# 下一个
code:
  extraArgs:
    - "--y"
"""

LAST_NO_NEWLINE = "chat:\n  enabled: true\ntts:\n  enabled: false"


@pytest.mark.parametrize("text", [FIRST, MIDDLE, LAST_NO_NEWLINE], ids=["first", "middle", "last-no-eol"])
def test_layouts_only_block_changes(text):
    new = vb.render(text, "tts", BLOCK)
    assert_only_block_changed(text, new, "tts")
    assert yaml.safe_load(new)["tts"] == BLOCK
    assert vb.render(new, "tts", BLOCK) == new


def test_banner_after_block_stays_outside():
    new = vb.render(MIDDLE, "tts", BLOCK)
    assert new.endswith(MIDDLE[MIDDLE.index("# ---- 8.") :])
    assert new.count("# ---- 8. banner") == 1


def test_comments_inside_block_kept_and_header_comment_kept():
    new = vb.render(MIDDLE, "tts", BLOCK)
    assert "tts:   # 语音\n  # 注释 inside the block\n" in new
    assert '    - "--x"    # keep me' in new  # end-of-line comment stays at its column
    assert "  # trailing indented comment belongs to tts" in new
    assert "    tag: 'v2'  # old" in new  # single quotes kept


def test_list_dash_style_follows_the_block():
    assert "  extraArgs:\n  - --omni\n  - --x\n" in vb.render(FIRST, "tts", BLOCK)
    assert '  extraArgs:\n    - "--omni"\n    - "--x"' in vb.render(MIDDLE, "tts", BLOCK)


def test_no_trailing_newline_kept():
    new = vb.render(LAST_NO_NEWLINE, "tts", {"enabled": True, "bootstrap": "a\nb"})
    assert new == "chat:\n  enabled: true\ntts:\n  enabled: true\n  bootstrap: |-\n    a\n    b"


def test_no_trailing_newline_added_when_a_final_literal_needs_it():
    # `|` at the end of a file without a newline would lose the script's last line break.
    new = vb.render(LAST_NO_NEWLINE, "tts", BLOCK)
    assert new.endswith("    a\n    b\n")
    assert yaml.safe_load(new)["tts"] == BLOCK


def test_crlf_file_keeps_crlf():
    text = MIDDLE.replace("\n", "\r\n")
    new = vb.render(text, "tts", BLOCK)
    assert "\n" not in new.replace("\r\n", "")
    assert new.startswith(text[: text.index("tts:")])
    assert new.endswith(text[text.index("# ---- 8.") :])
    assert yaml.safe_load(new)["tts"] == BLOCK


def test_key_order_follows_desired_block():
    new = vb.render(FIRST, "tts", {"image": {"tag": "v1"}, "enabled": False})
    assert new.startswith("tts:\n  image:\n    tag: v1\n  enabled: false\n\n# ---- 2. chat")


def test_flow_and_null_blocks_become_block_style():
    assert (
        vb.render("tts: {enabled: false}\nx: 1\n", "tts", {"enabled": True})
        == "tts:\n  enabled: true\nx: 1\n"
    )
    assert vb.render("tts:\nx: 1\n", "tts", {"enabled": True}) == "tts:\n  enabled: true\nx: 1\n"


def test_missing_key_is_appended_after_one_blank_line():
    new = vb.render("chat:\n  enabled: true\n", "tts", {"enabled": True, "extraArgs": ["--omni"]})
    assert new == "chat:\n  enabled: true\n\ntts:\n  enabled: true\n  extraArgs:\n    - --omni\n"
    assert vb.render("", "tts", {"enabled": True}) == "tts:\n  enabled: true\n"


def test_appended_block_borrows_sibling_list_style():
    text = "chat:\n  affinity:\n    terms:\n    - a\n"
    new = vb.render(text, "tts", {"affinity": {"terms": ["b"]}})
    assert new.endswith("\ntts:\n  affinity:\n    terms:\n    - b\n")


# ---------------------------------------------------------------------------- errors


def test_key_not_a_mapping():
    with pytest.raises(ValuesError, match=r"'tts' is a .*not a mapping.*line 2"):
        vb.render("a: 1\ntts: [1, 2]\n", "tts", BLOCK)
    with pytest.raises(ValuesError, match="not a mapping"):
        vb.current_block("tts: text\n", "tts")


def test_top_level_not_a_mapping():
    with pytest.raises(ValuesError, match="mapping at the top level"):
        vb.render("- a\n- b\n", "tts", BLOCK)


def test_malformed_yaml_names_line_and_column():
    with pytest.raises(ValuesError, match=r"malformed YAML.*line 4, column 2") as info:
        vb.render("a: 1\nb:\n  c: [1, 2\nd: 4\n", "tts", BLOCK)
    assert info.value.line is not None


def test_duplicate_key_is_an_error():
    with pytest.raises(ValuesError, match="malformed YAML"):
        vb.current_block("tts:\n  a: 1\ntts:\n  a: 2\n", "tts")


def test_block_must_be_a_mapping():
    with pytest.raises(ValuesError, match="must be a mapping"):
        vb.render("tts:\n  a: 1\n", "tts", ["x"])


# ---------------------------------------------------------------------------- small helpers


def test_current_block_plain_data():
    assert vb.current_block("tts:\n  a: '1'\n  b: 1\n", "tts") == {"a": "1", "b": 1}
    assert vb.current_block("x: 1\n", "tts") is None
    assert type(vb.current_block(EXAMPLE.read_text(encoding="utf-8"), "tts")["image"]["tag"]) is str


def test_equal_distinguishes_yaml_types():
    assert vb.equal({"a": [1, "x"]}, {"a": [1, "x"]})
    assert not vb.equal({"a": 1}, {"a": "1"})
    assert not vb.equal({"a": 1}, {"a": True})
    assert not vb.equal({"a": 1}, {"a": 1.0})
    assert not vb.equal({"a": [1]}, {"a": [1, 2]})


def test_check_is_pyyaml_safe_load():
    vb.check("a: 1\n")
    with pytest.raises(ValuesError, match=r"YAML check failed.*line 2"):
        vb.check("a: 1\n b: [\n")


def test_unified_diff():
    diff = vb.unified_diff("a\nb\n", "a\nc", "values.yaml")
    assert diff.startswith("--- values.yaml (original)\n+++ values.yaml (desired)\n")
    assert "-b\n" in diff
    assert "+c\n\\ No newline at end of file\n" in diff
    assert vb.unified_diff("a\n", "a\n", "v") == ""


@pytest.mark.parametrize("key", ["global", "chat", "embedding", "reranker", "vision", "asr", "code", "tts"])
def test_every_block_of_the_example_can_be_rewritten_alone(key):
    old = EXAMPLE.read_text(encoding="utf-8")
    block = {**vb.current_block(old, key), "extraArgs": ["--omni", "--x"], "bootstrap": "set -e\necho hi\n"}
    new = vb.render(old, key, block)
    assert_only_block_changed(old, new, key)
    assert yaml.safe_load(new)[key] == block
    assert vb.render(new, key, block) == new
