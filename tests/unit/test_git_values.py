"""The plan's commit step: only the values file, only our change, the plan's message."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from ansible_collections.local_llm.tts.plugins.module_utils.git_values import GitValuesError, commit_values
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import render

MESSAGE = "fix(tts): switch to base vllm-openai image with source-install vllm-omni"
ORIGINAL = '# 服务配置\nchat:\n  enabled: true\ntts:\n  image:\n    tag: "v0.14.0rc1"\n'
DESIRED = {"image": {"tag": "v0.14.0"}}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "config", "user.email", "ops@example.invalid")
    _git(tmp_path, "config", "user.name", "ops")
    (tmp_path / "values.yaml").write_text(ORIGINAL)
    (tmp_path / "other.txt").write_text("x\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "initial")
    return tmp_path


def test_commits_only_the_values_file_with_the_plans_message(repo):
    values = repo / "values.yaml"
    values.write_text(render(ORIGINAL, "tts", DESIRED))
    (repo / "other.txt").write_text("someone else's edit\n")
    result = commit_values(str(values), "tts", DESIRED, MESSAGE)
    assert result["changed"] and result["commit"] == _git(repo, "rev-parse", "HEAD").strip()
    assert _git(repo, "log", "-1", "--format=%s").strip() == MESSAGE
    assert _git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["values.yaml"]
    assert _git(repo, "status", "--porcelain").strip() == "M other.txt"  # left alone


def test_no_commit_when_nothing_changed(repo):
    result = commit_values(str(repo / "values.yaml"), "tts", DESIRED, MESSAGE)
    assert not result["changed"] and result["commit"] is None
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_refuses_unrelated_uncommitted_edits(repo):
    values = repo / "values.yaml"
    values.write_text(render(ORIGINAL, "tts", DESIRED).replace("enabled: true", "enabled: false"))
    with pytest.raises(GitValuesError, match="uncommitted edits besides the tts block"):
        commit_values(str(values), "tts", DESIRED, MESSAGE)
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_dry_run_commits_nothing(repo):
    values = repo / "values.yaml"
    values.write_text(render(ORIGINAL, "tts", DESIRED))
    assert commit_values(str(values), "tts", DESIRED, MESSAGE, dry_run=True)["changed"]
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"


def test_outside_a_repository_is_refused(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(ORIGINAL)
    with pytest.raises(GitValuesError, match="not in a git repository"):
        commit_values(str(values), "tts", DESIRED, MESSAGE)
