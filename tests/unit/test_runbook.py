"""module_utils/runbook.py: the whole steps of the runbooks, with helm replaced at its runner boundary and
the cluster by a small fake client (the e2e tests run the same steps against the sandbox)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import runbook
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import ClusterConfigError
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import StepFailed

from runbooks.defaults import shipped_block

BLOCK = shipped_block()
OLD_BLOCK = {"image": {"repository": "vllm/vllm-omni", "tag": "v0.14.0rc1"}, "extraArgs": ["--dtype", "auto"]}


def manifest(block: dict) -> str:
    image = block["image"]
    return yaml.safe_dump(
        {
            "kind": "Deployment",
            "metadata": {"name": "local-llm-tts"},
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "image": f"{image['repository']}:{image['tag']}",
                                "args": [str(a) for a in block.get("extraArgs") or []],
                            }
                        ]
                    }
                }
            },
        }
    )


class FakeHelm:
    """helm's answers from data; records each invocation (the subprocess boundary of HelmCli)."""

    def __init__(self, values: dict, history: list[dict] | None = None, version: str = "v4.1.4") -> None:
        self.values = values
        self.history = history or [
            {"revision": 1, "status": "superseded", "chart": "custom-chart-0.1.0"},
            {"revision": 2, "status": "deployed", "chart": "custom-chart-0.1.0"},
        ]
        self.version = version
        self.rendered: dict | None = None
        self.fail_upgrade = False
        self.calls: list[list[str]] = []

    def __call__(self, argv, env) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        verb, out = argv[1], ""
        if verb == "version":
            if not self.version:
                raise FileNotFoundError(2, "No such file or directory")
            out = self.version
        elif verb == "history":
            entries = self.history[-int(argv[argv.index("--max") + 1]) :] if "--max" in argv else self.history
            out = json.dumps(entries)
        elif argv[1:3] == ["get", "values"]:
            out = json.dumps(self.values)
        elif argv[1:3] == ["get", "metadata"]:
            newest = self.history[-1]
            out = json.dumps(
                {"name": "local-llm", "revision": newest["revision"], "status": newest["status"]}
            )
        elif verb == "upgrade" and self.fail_upgrade:
            self.history.append(
                {"revision": len(self.history) + 1, "status": "failed", "chart": "custom-chart-0.1.0"}
            )
            return subprocess.CompletedProcess(
                argv, 1, "", "Error: UPGRADE FAILED: context deadline exceeded"
            )
        elif verb == "template":
            source = argv[argv.index("-f") + 1]
            self.rendered = yaml.safe_load(Path(source).read_text())
            out = manifest(self.rendered["tts"])
        elif verb in ("upgrade", "rollback"):
            for entry in self.history:
                if entry["status"] == "deployed":
                    entry["status"] = "superseded"
            self.history.append(
                {"revision": len(self.history) + 1, "status": "deployed", "chart": "custom-chart-0.1.0"}
            )
            if verb == "upgrade":
                self.values = yaml.safe_load(Path(argv[argv.index("--values") + 1]).read_text())
        return subprocess.CompletedProcess(argv, 0, out, "")

    def verbs(self) -> list[str]:
        return [" ".join(call[1:3]) if call[1] == "get" else call[1] for call in self.calls]


class FakeCluster:
    server, context = "https://127.0.0.1:6443", "sandbox"

    def __init__(self, nodes: list[dict] | None = None) -> None:
        self.nodes = nodes or []
        self.patches: list[tuple[str, list]] = []

    def version(self, timeout: float) -> str:
        return "v1.35.0"

    def get_json(self, path: str, query=None, timeout: float = 30) -> dict:
        assert path == "/api/v1/nodes"
        return {"items": self.nodes}

    def request(self, method, path, query=None, body=None, headers=None, timeout=30):
        self.patches.append((path, body))
        return _Response()


class _Response:
    status, reason = 200, "OK"

    def read(self) -> bytes:
        return b"{}"

    def release_conn(self) -> None:
        pass


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: custom-chart\nversion: 0.1.0\n")
    return tmp_path / "chart"


def values_file(tmp_path: Path, block: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(
        "# the user's file\nllm:\n  replicas: 1  # keep\n" + yaml.safe_dump({"tts": block}, sort_keys=False)
    )
    return path


def helm_for(fake: FakeHelm) -> HelmCli:
    return HelmCli("local-llm", binary="helm", runner=fake)


def plan(fake: FakeHelm, chart: Path, values: Path, cluster=None, **kwargs) -> dict:
    return runbook.preflight(
        helm_for(fake), lambda: cluster or FakeCluster(), str(chart), str(values), "tts", BLOCK, **kwargs
    )


# -- preflight ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "parsed"),
    [("v3.18.0", (3, 18, 0)), ("v4.1.4+g0123abc", (4, 1, 4)), ("v3.13.0-rc.1", (3, 13, 0)), ("garbage", ())],
)
def test_helm_versions_parse(text, parsed):
    assert runbook.parse_helm_version(text) == parsed


@pytest.mark.parametrize("version", ["v3.12.3", ""])
def test_a_missing_or_old_helm_is_a_config_error(version, tmp_path, chart):
    fake = FakeHelm({"tts": BLOCK}, version=version)
    with pytest.raises(StepFailed, match=r"^CONFIG: helm helm is missing or too old .*helm 3.13\+ or 4.x"):
        plan(fake, chart, values_file(tmp_path, BLOCK))
    assert fake.verbs() == ["version"]


def test_a_fixed_release_needs_no_change_in_three_helm_calls(tmp_path, chart):
    values = values_file(tmp_path, BLOCK)
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    result = plan(fake, chart, values)
    assert result["change_needed"] is False and result["values_changed"] is False
    assert result["upgrade_needed"] is False and result["upgrade_reasons"] == []
    assert fake.verbs() == ["version", "history", "get values"]
    assert result["release"]["revision"] == 2 and result["release"]["chart_version"] == "0.1.0"
    assert result["tts_report"]["revision_before"] == result["tts_report"]["revision_after"] == 2


def test_the_incident_plans_the_edit_and_writes_nothing(tmp_path, chart):
    values = values_file(tmp_path, OLD_BLOCK)
    before = values.read_bytes()
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    result = plan(fake, chart, values)
    assert result["change_needed"] and result["values_changed"] and result["upgrade_needed"]
    assert values.read_bytes() == before and not (tmp_path / "values.yaml.orig").exists()
    assert "upgrade" not in fake.verbs()


def test_a_release_whose_values_differ_from_the_file_is_upgraded_though_the_file_stays(tmp_path, chart):
    values = values_file(tmp_path, BLOCK)
    fake = FakeHelm({"tts": OLD_BLOCK})
    result = plan(fake, chart, values)
    assert (
        result["values_changed"] is False
        and result["change_needed"]
        and result["upgrade_reasons"] == ["values differ"]
    )


def test_a_missing_values_file_stops_before_the_release_is_read(tmp_path, chart):
    fake = FakeHelm({})
    with pytest.raises(StepFailed, match=r"^CONFIG: .*/nope.yaml does not exist$"):
        plan(fake, chart, tmp_path / "nope.yaml")
    assert "history" not in fake.verbs()


def test_a_malformed_values_file_names_file_and_line(tmp_path, chart):
    values = tmp_path / "values.yaml"
    values.write_text("tts:\n  image: [unclosed\n")
    with pytest.raises(StepFailed, match=r"^CONFIG: .*malformed YAML") as failed:
        plan(FakeHelm({}), chart, values)
    assert str(failed.value).startswith(f"CONFIG: {values}: malformed YAML") and "(line 3" in str(
        failed.value
    )


def test_an_unreachable_cluster_is_a_config_error(tmp_path, chart):
    def unreachable():
        raise ClusterConfigError("cannot reach https://127.0.0.1:1 (context sandbox): connection refused")

    with pytest.raises(StepFailed, match=r"^CONFIG: cannot reach"):
        runbook.preflight(
            helm_for(FakeHelm({})), unreachable, str(chart), str(values_file(tmp_path, BLOCK)), "tts", BLOCK
        )


def test_a_pending_release_stops_unless_recovering(tmp_path, chart):
    values = values_file(tmp_path, BLOCK)
    history = [
        {"revision": 1, "status": "superseded", "chart": "custom-chart-0.1.0"},
        {"revision": 2, "status": "deployed", "chart": "custom-chart-0.1.0"},
        {"revision": 3, "status": "pending-upgrade", "chart": "custom-chart-0.1.0"},
    ]
    pending = r"is pending-upgrade at revision 3 .*--recover-pending .*revision 2"
    with pytest.raises(StepFailed, match=pending):
        plan(FakeHelm({}, history=[dict(h) for h in history]), chart, values)
    fake = FakeHelm(yaml.safe_load(values.read_text()), history=[dict(h) for h in history])
    result = plan(fake, chart, values, recover=True)
    assert result["changed"] and result["recovered"]["target_revision"] == 2 and "rollback" in fake.verbs()
    assert result["release"]["revision"] == 4 and result["release"]["status"] == "deployed"


def test_blocking_pitfalls_fail_with_each_finding(tmp_path, chart):
    broken = {**BLOCK, "extraArgs": [a for a in BLOCK["extraArgs"] if a != "--omni"]}
    values = values_file(tmp_path, BLOCK)
    with pytest.raises(StepFailed) as failed:
        runbook.preflight(helm_for(FakeHelm({})), FakeCluster, str(chart), str(values), "tts", broken)
    assert "missing-omni" in str(failed.value)
    assert any(f["rule_id"] == "missing-omni" for f in failed.value.report["pitfall_findings"])


# -- apply -------------------------------------------------------------------------------------------------
def test_apply_writes_the_block_renders_and_upgrades(tmp_path, chart):
    values = values_file(tmp_path, OLD_BLOCK)
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    result = runbook.apply(helm_for(fake), str(chart), str(values), "tts", BLOCK, "local-llm-tts", 2)
    assert result["values_changed"] and result["upgraded"] and result["new_revision"]
    assert (result["revision_before"], result["revision_after"]) == (2, 3)
    assert yaml.safe_load(values.read_text())["tts"] == BLOCK and "# keep" in values.read_text()
    assert (tmp_path / "values.yaml.orig").exists()
    assert fake.verbs() == ["lint", "template", "upgrade", "history"]


def test_a_failed_upgrade_that_recorded_a_revision_tells_the_undo(tmp_path, chart):
    values = values_file(tmp_path, OLD_BLOCK)
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    fake.fail_upgrade = True
    with pytest.raises(StepFailed, match="UPGRADE FAILED") as failed:
        runbook.apply(helm_for(fake), str(chart), str(values), "tts", BLOCK, "local-llm-tts", 2)
    assert failed.value.result["new_revision"] is True and failed.value.result["values_changed"] is True
    assert failed.value.report["revision_after"] == 3


def test_apply_in_check_mode_renders_a_scratch_copy_and_changes_nothing(tmp_path, chart):
    values = values_file(tmp_path, OLD_BLOCK)
    before = values.read_bytes()
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    result = runbook.apply(
        helm_for(fake), str(chart), str(values), "tts", BLOCK, "local-llm-tts", 2, check_mode=True
    )
    assert result["values_changed"] and not result["new_revision"] and values.read_bytes() == before
    assert fake.rendered["tts"] == BLOCK and "upgrade" not in fake.verbs()
    scratch = next(call[call.index("-f") + 1] for call in fake.calls if call[1] == "template")
    assert scratch != str(values) and not Path(scratch).exists()


def test_a_chart_that_does_not_render_the_block_fails_saying_the_file_was_written(tmp_path, chart):
    values = values_file(tmp_path, OLD_BLOCK)
    fake = FakeHelm({})
    other = {**BLOCK, "image": {"repository": "example/other", "tag": "1"}}
    fake_manifest = manifest(other)
    real_call = fake.__call__

    def runner(argv, env):
        done = real_call(argv, env)
        return subprocess.CompletedProcess(argv, 0, fake_manifest, "") if argv[1] == "template" else done

    with pytest.raises(StepFailed, match="does not render the desired TTS container") as failed:
        runbook.apply(
            HelmCli("local-llm", runner=runner), str(chart), str(values), "tts", BLOCK, "local-llm-tts", 2
        )
    assert failed.value.result["values_changed"] is True and "upgrade" not in fake.verbs()


def test_apply_removes_hand_added_live_fields_deepest_first(tmp_path, chart):
    values = values_file(tmp_path, BLOCK)
    cluster = FakeCluster()
    entries = [
        {
            "layer": "live",
            "op": "add",
            "path": "/spec/template/spec/containers/0/env/0",
            "target": {"kind": "Deployment", "name": "local-llm-tts"},
        },
        {
            "layer": "live",
            "op": "add",
            "path": "/spec/template/spec/containers/0/env/1",
            "target": {"kind": "Deployment", "name": "local-llm-tts"},
        },
        {
            "layer": "live",
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "target": {"kind": "Deployment", "name": "local-llm-tts"},
        },
        {"layer": "release", "op": "add", "path": "/tts/x", "target": None},
    ]
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    result = runbook.apply(
        helm_for(fake),
        str(chart),
        str(values),
        "tts",
        BLOCK,
        "local-llm-tts",
        2,
        upgrade_needed=False,
        force=True,
        remove_added=entries,
        open_client=lambda: cluster,
    )
    assert [body[0]["path"] for _path, body in cluster.patches] == [
        "/spec/template/spec/containers/0/env/1",
        "/spec/template/spec/containers/0/env/0",
    ]
    assert all(body[0]["op"] == "remove" for _path, body in cluster.patches)
    assert cluster.patches[0][0] == "/apis/apps/v1/namespaces/default/deployments/local-llm-tts"
    assert result["changed"] and len(result["removed"]) == 2


# -- undo --------------------------------------------------------------------------------------------------
def test_undo_rolls_back_this_runs_revision_and_restores_the_file(tmp_path, chart):
    values = values_file(tmp_path, OLD_BLOCK)
    original = values.read_bytes()
    fake = FakeHelm(yaml.safe_load(values.read_text()))
    runbook.apply(helm_for(fake), str(chart), str(values), "tts", BLOCK, "local-llm-tts", 2)
    failed = runbook.undo(helm_for(fake), "the pod crash-looped.", str(values), True, 2, True)
    assert str(failed) == (
        "the pod crash-looped. Undone: rolled back to revision 2; the values file is restored."
    )
    assert failed.report["rolled_back"] and failed.report["revision_after"] == 4
    assert values.read_bytes() == original
    assert ["rollback", "local-llm", "2"] in [call[1:4] for call in fake.calls]


def test_undo_when_disabled_or_in_check_mode_changes_nothing(tmp_path):
    fake = FakeHelm({})
    off = runbook.undo(helm_for(fake), "boom.", str(tmp_path / "values.yaml"), True, 2, True, enabled=False)
    assert str(off) == "boom. Not rolled back (auto_rollback is off)." and not off.report["rolled_back"]
    checked = runbook.undo(
        helm_for(fake), "boom.", str(tmp_path / "values.yaml"), True, 2, True, check_mode=True
    )
    assert str(checked) == "boom." and fake.calls == []


# -- lint --------------------------------------------------------------------------------------------------
def test_lint_lists_findings_with_their_source_and_fails_on_errors(tmp_path):
    broken = {**BLOCK, "extraArgs": [a for a in BLOCK["extraArgs"] if a != "--omni"]}
    values = values_file(tmp_path, broken)
    with pytest.raises(
        StepFailed, match=r"^LINT: \d+ known pitfall\(s\) of severity error or worse \(missing-omni"
    ):
        runbook.lint(str(values), "tts", None)
    result = runbook.lint(str(values_file(tmp_path, BLOCK)), "tts", BLOCK)
    assert {f["source"] for f in result["findings"]} == {str(values), "tts_desired"}
    assert all(f["severity"] == "warning" for f in result["findings"])


def test_lint_of_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(StepFailed, match=r"^CONFIG: .*nope.yaml: no such file"):
        runbook.lint(str(tmp_path / "nope.yaml"), "tts", None)
