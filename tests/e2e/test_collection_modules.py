"""The collection's module_utils against a real sandbox seeded with the user's incident.

Calls the parts behind local_llm.tts.{preflight,apply,verify,undo} (helm_cli, rollout, tts_checks)
directly (the playbook e2e tests drive the modules through ansible-playbook). Tests run in file order
and share one cluster: the incident, the fix (revision 2), a rerun, a rollout under dropped watches, a
broken upgrade and a rollback.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils import (
    cluster_client,
    helm_cli,
    rollout,
    tts_checks,
)

from runbooks.defaults import shipped_block
from tests.support import Sandbox, binary

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DEPLOYMENT, SERVICE = "local-llm-tts", "local-llm-tts"
FAST_FAILURE_SECONDS = 20  # the crash comes a few seconds after start at --time-scale 600
MEASURED: dict[str, float] = {}


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("modules"))
    sandbox.up("--seed", "incident", "--time-scale", "600")
    yield sandbox
    sandbox.cli("fault", "clear", "--all", check=False)
    sandbox.down()
    if MEASURED:
        print("\nmeasured seconds:", {k: round(v, 2) for k, v in MEASURED.items()})


@pytest.fixture(scope="module")
def api(box):
    return cluster_client.open_cluster(str(box.kubeconfig), None)


def chart_dir(box: Sandbox) -> Path:
    return box.state_dir / "HelmChart" / "custom-chart"


def helm(box: Sandbox, helm_binary: str = "helm") -> helm_cli.HelmCli:
    env = {k: v for k, v in box.env.items() if k.startswith("HELM_")}
    return helm_cli.HelmCli("local-llm", binary=binary(helm_binary), kubeconfig=str(box.kubeconfig), env=env)


def values_with_tts(box: Sandbox, tmp_path: Path, block: dict, edit=None) -> str:
    """A copy of the chart's values.yaml whose tts block is ``block`` (what the fix writes)."""
    values = yaml.safe_load((chart_dir(box) / "values.yaml").read_text())
    merged = copy.deepcopy(values)
    merged["tts"] = copy.deepcopy(block)
    if edit:
        edit(merged["tts"])
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(merged, allow_unicode=True, sort_keys=False))
    return str(path)


def watch(api, timeout: float = 120, settle: float = 0) -> rollout.RolloutResult:
    return rollout.watch_rollout(api, "default", DEPLOYMENT, timeout, settle)


def checks(api, timeout: float = 30, speech: bool = True) -> dict:
    send = tts_checks.service_proxy_transport(api, "default", SERVICE, 8006)
    return tts_checks.run_checks(send, timeout, verify_speech=speech)


def _crash_finished_at(pod: dict | None) -> dt.datetime | None:
    for status in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        for key in ("state", "lastState"):
            finished = ((status.get(key) or {}).get("terminated") or {}).get("finishedAt")
            if finished:
                return dt.datetime.fromisoformat(finished.replace("Z", "+00:00"))
    return None


# -- the incident as seeded ------------------------------------------------------------------------
def test_incident_rollout_fails_fast_with_the_architecture_diagnosis(api):
    result = watch(api, timeout=300)
    assert not result.ready and result.verdict == "failed", result.msg
    assert result.diagnosis["cause_id"] == "qwen3-tts-not-registered", result.msg
    assert "does not recognize this architecture" in result.diagnosis["evidence"]
    assert "--omni" in result.msg and "v0.14.0" in result.msg
    assert result.pod["name"].startswith("local-llm-tts-") and result.pod["ip"].startswith("127.")
    assert result.elapsed_seconds < FAST_FAILURE_SECONDS
    MEASURED["incident: start -> diagnosis"] = result.elapsed_seconds


def test_service_check_on_the_broken_service_fails_clearly(api):
    result = checks(api, timeout=2)
    assert result["failed"] and result["speech"] == []
    assert result["health"].startswith("failed after") and "503" in result["health"]
    assert 'no endpoints available for service \\"local-llm-tts:8006\\"' in result["health"]


@pytest.mark.parametrize("helm_binary", ["helm", "helm3"])
def test_present_with_the_installed_values_changes_nothing(box, helm_binary):
    chart = chart_dir(box)
    result = helm_cli.ensure_present(helm(box, helm_binary), str(chart), str(chart / "values.yaml"))
    assert result["changed"] is False and result["revision_before"] == result["revision_after"] == 1
    assert (result["status"], result["chart_version"], result["last_deployed_revision"]) == (
        "deployed",
        "0.1.0",
        1,
    )
    assert len(helm(box).history()) == 1


def test_absent_release_is_an_error(box):
    missing = helm(box)
    missing.release = "nope"
    with pytest.raises(helm_cli.ReleaseNotFound, match="release nope not found in namespace default"):
        helm_cli.ensure_present(missing, str(chart_dir(box)), str(chart_dir(box) / "values.yaml"))


# -- the fix -------------------------------------------------------------------------------------------------
def test_upgrade_to_the_good_tts_block_then_rerun_changes_nothing(box, tmp_path):
    values = values_with_tts(box, tmp_path, shipped_block())
    chart = str(chart_dir(box))
    dry = helm_cli.ensure_present(helm(box), chart, values, check_mode=True)
    assert dry["changed"] and dry["revision_after"] == 1 and len(helm(box).history()) == 1
    first = helm_cli.ensure_present(helm(box), chart, values)
    assert first["changed"] and (first["revision_before"], first["revision_after"]) == (1, 2)
    assert first["last_deployed_revision"] == 1  # the rollback target had this failed
    again = helm_cli.ensure_present(helm(box, "helm3"), chart, values)
    assert again["changed"] is False and again["revision_after"] == 2


def test_rollout_of_the_good_config_becomes_ready(api):
    result = watch(api, timeout=120, settle=1)
    assert result.ready, result.msg
    assert result.diagnosis is None and result.pod["restarts"] == 0 and result.pod["phase"] == "Running"
    MEASURED["good config: rollout -> ready (incl. 1 s settle)"] = result.elapsed_seconds


def test_service_check_health_and_speech(api):
    result = checks(api, timeout=60)
    assert not result["failed"], result["msg"]
    assert result["health"] == "ok"
    assert [s["text"] for s in result["speech"]] == list(tts_checks.DEFAULT_SPEECH_TEXTS)
    for speech in result["speech"]:
        assert speech["ok"] and speech["duration_seconds"] > 0.3 and speech["latency_ms"] > 0


def test_health_url_is_checked_directly(box, api):
    pod = watch(api, timeout=30).pod
    result = tts_checks.run_checks(
        None, 10, verify_speech=False, health_send=tts_checks.url_transport(f"http://{pod['ip']}:8006/health")
    )
    assert result["health"] == "ok" and not result["failed"]


def test_rollout_survives_dropped_watches(box, api, tmp_path):
    values = values_with_tts(
        box, tmp_path, shipped_block(), edit=lambda tts: tts["extraArgs"].extend(["--seed", "1"])
    )
    box.cli("fault", "set", "drop-watches", "after_seconds=0.3")
    try:
        assert helm_cli.ensure_present(helm(box), str(chart_dir(box)), values)["revision_after"] == 3
        result = watch(api, timeout=120, settle=1)
    finally:
        box.cli("fault", "clear", "drop-watches")
    assert result.ready, result.msg
    assert result.watch_stats["relists"] + result.watch_stats["rewatches"] >= 2, result.watch_stats


# -- a broken change, then the rollback ---------------------------------------------------------------------
def test_broken_upgrade_fails_fast_then_rolls_back(box, api):
    chart = chart_dir(box)
    started = time.monotonic()
    upgrade = helm_cli.ensure_present(helm(box), str(chart), str(chart / "values.yaml"))
    # Seen once (not reproduced since): revision_after 1 here; the message keeps what helm said then.
    assert upgrade["revision_after"] == 4 and upgrade["last_deployed_revision"] == 3, (
        upgrade,
        helm(box).history(),
    )
    result = watch(api, timeout=300)
    diagnosed_at = dt.datetime.now(dt.UTC)
    assert result.diagnosis["cause_id"] == "qwen3-tts-not-registered", result.msg
    MEASURED["broken upgrade: helm upgrade -> diagnosis"] = time.monotonic() - started
    crashed = _crash_finished_at(api.get_json(f"/api/v1/namespaces/default/pods/{result.pod['name']}"))
    if crashed:  # second resolution: an upper bound
        MEASURED["broken upgrade: crash (finishedAt) -> diagnosis"] = (diagnosed_at - crashed).total_seconds()
    assert time.monotonic() - started < FAST_FAILURE_SECONDS + 10

    plan = helm_cli.roll_back(helm(box), check_mode=True)
    assert (plan["target_revision"], plan["revision_before"]) == (3, 4)  # default: the last served one
    box.cli("fault", "set", "api-errors", "rate=0.3", "code=503")
    try:
        back = helm_cli.roll_back(helm(box), plan["target_revision"])
    except helm_cli.HelmError:
        # helm itself does not retry 503s; we do, to the same target: a 503 may come after helm
        # already wrote the new revision, and a default target would then be worked out from that.
        box.cli("fault", "clear", "api-errors")
        back = helm_cli.roll_back(helm(box), plan["target_revision"])
    assert back["target_revision"] == 3 and back["revision_after"] > 4
    try:
        result = watch(api, timeout=120, settle=1)  # retried through the injected 503s
    finally:
        box.cli("fault", "clear", "--all")
    assert result.ready, result.msg
    info = helm_cli.release_info(helm(box))
    assert info["revision"] == back["revision_after"] and info["status"] == "deployed"
    assert helm(box).values()["tts"]["extraArgs"][-2:] == ["--seed", "1"]  # revision 3's values
    assert not checks(api, timeout=30, speech=False)["failed"]
