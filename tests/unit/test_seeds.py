"""chart_copy: the sandbox's own copy of the example chart, made once, edits kept."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from sandbox import seeds
from sandbox.seeds import EXAMPLE_CHART, SeedError, chart_copy, seed


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_example_chart_is_there():
    assert (EXAMPLE_CHART / "Chart.yaml").is_file() and (EXAMPLE_CHART / "values.yaml").is_file()


def test_first_call_copies_the_whole_chart_into_the_state_dir(tmp_path):
    target = chart_copy(tmp_path)
    assert target == tmp_path / "HelmChart" / "custom-chart"
    assert tree(target) == tree(EXAMPLE_CHART)
    assert not filecmp.dircmp(EXAMPLE_CHART, target).diff_files
    assert [p.name for p in target.parent.iterdir()] == ["custom-chart"]  # no temporary left behind


def test_later_calls_keep_edits_and_never_touch_the_checkout(tmp_path):
    original = tree(EXAMPLE_CHART)
    target = chart_copy(tmp_path)
    values = target / "values.yaml"
    values.write_text(values.read_text() + "\n# edited by a runbook\n")
    (target / "templates" / "extra.yaml").write_text("# added\n")
    (target / "Chart.yaml").unlink()

    assert chart_copy(tmp_path) == target
    assert values.read_text().endswith("# edited by a runbook\n")
    assert (target / "templates" / "extra.yaml").exists()
    assert not (target / "Chart.yaml").exists()  # not restored either: the copy is the sandbox's
    assert tree(EXAMPLE_CHART) == original


def test_a_leftover_temporary_copy_is_replaced(tmp_path):
    stale = tmp_path / "HelmChart" / ".custom-chart.tmp"
    stale.mkdir(parents=True)
    (stale / "half-copied.yaml").write_text("x")
    target = chart_copy(tmp_path)
    assert tree(target) == tree(EXAMPLE_CHART)
    assert not stale.exists()


def test_state_dirs_get_separate_copies(tmp_path):
    first = chart_copy(tmp_path / "a")
    (first / "values.yaml").write_text("edited: true\n")
    second = chart_copy(tmp_path / "b")
    assert tree(second) == tree(EXAMPLE_CHART)


def test_unknown_seed_is_refused_before_anything_happens(tmp_path, monkeypatch):
    monkeypatch.setattr(seeds, "chart_copy", lambda state_dir: pytest.fail("copied for an unknown seed"))
    with pytest.raises(SeedError, match=r"unknown seed 'demo'; known: incident"):
        seed("demo", tmp_path, tmp_path / "kubeconfig")
