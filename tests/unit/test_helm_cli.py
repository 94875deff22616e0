"""helm_cli: parsing and decisions, with subprocess replaced only at the runner boundary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from ansible_collections.local_llm.tts.plugins.module_utils import helm_cli
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import (
    HelmCli,
    HelmError,
    ReleaseNotFound,
    default_rollback_revision,
    ensure_present,
    last_deployed_revision,
    plan_upgrade,
    roll_back,
    rollback_target,
)
from ansible_collections.local_llm.tts.plugins.module_utils.rollback_plan import choose_target

# `helm get metadata -o json` as Helm 4.1.4 printed it against the sandbox (3.18 lacks labels/applyMethod).
METADATA = {
    "name": "local-llm",
    "chart": "custom-chart",
    "version": "0.1.0",
    "appVersion": "0.14.0",
    "namespace": "default",
    "revision": 2,
    "status": "deployed",
    "deployedAt": "2026-11-26T12:10:16Z",
}
HISTORY = [
    {"revision": 1, "status": "superseded", "chart": "custom-chart-0.1.0", "app_version": "0.14.0"},
    {"revision": 2, "status": "deployed", "chart": "custom-chart-0.1.0", "app_version": "0.14.0"},
]
VALUES = {"tts": {"image": {"repository": "vllm/vllm-openai", "tag": "v0.14.0"}, "extraArgs": ["--omni"]}}


class FakeHelm:
    """Answers helm commands from data and records them; the only replaced boundary."""

    def __init__(self, metadata=METADATA, history=HISTORY, values=VALUES, fail: dict | None = None):
        self.metadata, self.history, self.values = dict(metadata), list(history), values
        self.fail = fail or {}
        self.calls: list[list[str]] = []

    def __call__(self, argv, env) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        verb = argv[1:3]
        for key, (code, stderr) in self.fail.items():
            if key in " ".join(argv):
                return subprocess.CompletedProcess(argv, code, "", stderr)
        out = ""
        if verb == ["get", "metadata"]:
            out = json.dumps(self.metadata)
        elif verb == ["get", "values"]:
            out = json.dumps(self.values)
        elif argv[1] == "history":
            out = json.dumps(self.history)
        elif argv[1] in ("upgrade", "rollback"):
            revision = self.metadata["revision"] + 1
            for entry in self.history:
                if entry["status"] == "deployed":
                    entry["status"] = "superseded"
            self.history.append({"revision": revision, "status": "deployed"})
            self.metadata = {**self.metadata, "revision": revision, "status": "deployed"}
        return subprocess.CompletedProcess(argv, 0, out, "")

    def verbs(self) -> list[str]:
        return [c[1] for c in self.calls if c[1] in ("upgrade", "rollback", "install")]


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    (tmp_path / "chart").mkdir()
    (tmp_path / "chart" / "Chart.yaml").write_text("apiVersion: v2\nname: custom-chart\nversion: 0.1.0\n")
    return tmp_path / "chart"


def values_file(tmp_path: Path, values: dict) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(json.dumps(values))  # JSON is YAML
    return str(path)


def cli(fake: FakeHelm) -> HelmCli:
    return HelmCli("local-llm", kubeconfig="/tmp/kubeconfig", context="sandbox", binary="helm", runner=fake)


def test_equal_values_and_chart_change_nothing(tmp_path, chart):
    fake = FakeHelm()
    result = ensure_present(cli(fake), str(chart), values_file(tmp_path, VALUES))
    assert result["changed"] is False and result["revision_before"] == result["revision_after"] == 2
    assert result["last_deployed_revision"] == 2 and fake.verbs() == []


def test_different_values_upgrade_without_install(tmp_path, chart):
    fake = FakeHelm()
    desired = {"tts": {**VALUES["tts"], "bootstrap": "echo hi"}}
    path = values_file(tmp_path, desired)
    result = ensure_present(cli(fake), str(chart), path)
    assert result["changed"] and (result["revision_before"], result["revision_after"]) == (2, 3)
    upgrade = next(c for c in fake.calls if c[1] == "upgrade")
    assert upgrade[:6] == ["helm", "upgrade", "local-llm", str(chart), "--values", path]
    assert "--install" not in upgrade
    assert upgrade[6:] == [
        "--namespace",
        "default",
        "--kubeconfig",
        "/tmp/kubeconfig",
        "--kube-context",
        "sandbox",
    ]


def test_check_mode_reports_but_does_not_upgrade(tmp_path, chart):
    fake = FakeHelm()
    result = ensure_present(cli(fake), str(chart), values_file(tmp_path, {"tts": {}}), check_mode=True)
    assert result["changed"] is True and result["reasons"] == ["values differ"]
    assert result["revision_after"] == 2 and fake.verbs() == []


def test_chart_version_or_failed_status_forces_an_upgrade():
    assert plan_upgrade(METADATA, VALUES, VALUES, ("custom-chart", "0.2.0")).reasons == (
        "chart version 0.1.0 -> 0.2.0",
    )
    failed = {**METADATA, "status": "failed"}
    assert plan_upgrade(failed, VALUES, VALUES, ("custom-chart", "0.1.0")).needed


def test_pending_release_is_refused():
    with pytest.raises(HelmError, match="pending-upgrade"):
        plan_upgrade({**METADATA, "status": "pending-upgrade"}, VALUES, VALUES, ("custom-chart", "0.1.0"))


def test_yaml_values_compare_like_helm_json():
    # YAML ints/floats/bools and helm's JSON agree after the round trip; None means no values.
    assert plan_upgrade(METADATA, {}, None or {}, ("", "")).needed is False
    assert not plan_upgrade(METADATA, {"a": {"n": 1, "f": 0.5}}, {"a": {"f": 0.5, "n": 1}}, ("", "")).needed


def test_missing_release_is_an_error_naming_it(tmp_path, chart):
    fake = FakeHelm(fail={"get metadata": (1, "Error: release: not found")})
    with pytest.raises(ReleaseNotFound, match="release local-llm not found in namespace default"):
        ensure_present(cli(fake), str(chart), values_file(tmp_path, VALUES))
    assert fake.verbs() == []


def test_helm_errors_carry_stderr_first_lines(tmp_path, chart):
    stderr = "Error: UPGRADE FAILED: cannot patch\n" + "".join(f"detail {i}\n" for i in range(20))
    fake = FakeHelm(fail={"upgrade": (1, stderr)})
    with pytest.raises(HelmError) as info:
        ensure_present(cli(fake), str(chart), values_file(tmp_path, {"x": 1}))
    message = str(info.value)
    assert "UPGRADE FAILED" in message and "detail 3" in message and "detail 10" not in message


def test_revisions_for_rollback():
    history = [
        {"revision": 1, "status": "superseded"},
        {"revision": 2, "status": "deployed"},
        {"revision": 3, "status": "failed"},
    ]
    assert last_deployed_revision(history) == 2
    assert default_rollback_revision(history, 3) == 2
    assert default_rollback_revision(history, 2) == 1
    assert default_rollback_revision(history[:1], 1) is None


def test_roll_back_to_the_previous_served_revision():
    fake = FakeHelm()
    result = roll_back(cli(fake))
    assert result["target_revision"] == 1 and (result["revision_before"], result["revision_after"]) == (2, 3)
    rollback = next(c for c in fake.calls if c[1] == "rollback")
    assert rollback[1:4] == ["rollback", "local-llm", "1"]


def test_roll_back_check_mode_and_unknown_revision():
    fake = FakeHelm()
    assert roll_back(cli(fake), 1, check_mode=True)["revision_after"] == 2 and fake.verbs() == []
    with pytest.raises(HelmError, match="no revision 7"):
        roll_back(cli(fake), 7)


def test_missing_binary_is_reported():
    def runner(argv, env):
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    with pytest.raises(HelmError, match="cannot run /nope/helm"):
        HelmCli("r", binary="/nope/helm", runner=runner).metadata()


def test_kubeconfig_contents_never_reach_messages(tmp_path):
    secret = "token-abc123"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"users: [{{name: u, user: {{token: {secret}}}}}]\n")
    fake = FakeHelm(fail={"get metadata": (1, "Error: Kubernetes cluster unreachable")})
    helm = HelmCli("local-llm", kubeconfig=str(kubeconfig), runner=fake)
    with pytest.raises(HelmError) as info:
        helm.metadata()
    assert secret not in str(info.value)


def test_values_file_must_be_a_mapping(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text("- a\n")
    with pytest.raises(HelmError, match="mapping"):
        helm_cli.load_values_file(str(path))


def test_built_from_module_params_it_passes_the_cluster_flags_helm_needs():
    params = {"release": "r1", "namespace": "llm", "binary": "/opt/helm", "kubeconfig": "/k", "context": "c1"}
    fake = FakeHelm()
    helm = HelmCli.from_params(params)
    helm.runner = fake
    helm.history()
    argv = fake.calls[-1]
    assert argv[0] == "/opt/helm" and argv[1:3] == ["history", "r1"]
    assert argv[-6:] == ["--namespace", "llm", "--kubeconfig", "/k", "--kube-context", "c1"]


def test_rollback_target_shared_by_roll_back_and_the_rollback_plan():
    history = [
        {"revision": 1, "status": "superseded"},
        {"revision": 2, "status": "failed"},
        {"revision": 3, "status": "deployed"},
    ]
    assert rollback_target(history, 3) == 1  # the failed revision is skipped
    assert rollback_target(history, 3, 2) == 2  # asked for: taken as asked
    with pytest.raises(HelmError, match=r"no revision 9 in the release history \(revisions: \[1, 2, 3\]\)"):
        rollback_target(history, 3, 9)
    with pytest.raises(HelmError, match=r"before the current one \(1\)"):
        rollback_target(history[:1], 1)
    # The rollback runbook's plan: 0 means the default, the current revision itself is refused.
    assert choose_target(history, 3, 0) == 1
    with pytest.raises(HelmError, match="revision 3 is the current revision"):
        choose_target(history, 3, 3)
