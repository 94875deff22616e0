"""Safe unattended runs on a real sandbox: the release Lease (two runners, a dead holder) and a release left
in pending-upgrade by an interrupted helm (helm itself refuses to upgrade it; recovery lets it again).

Two runners meet as two `ansible` ad hoc processes; the race itself is also driven with threads calling
module_utils, so the writes really land together. The other steps call the modules' main() in process
(ansible's start-up costs seconds per call), except one real recovery through `ansible`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.local_llm.tts.plugins.module_utils import helm_cli
from ansible_collections.local_llm.tts.plugins.module_utils import lease as lease_utils
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import open_cluster
from ansible_collections.local_llm.tts.plugins.modules import helm_pending as helm_pending_module
from ansible_collections.local_llm.tts.plugins.modules import lease as lease_module

from tests.support import (
    RELEASE,
    REPO,
    Sandbox,
    binary,
    leave_interrupted_upgrade,
    run,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

NAMESPACE = "default"
LEASE = f"tts-runbooks-{RELEASE}"
IN_PROGRESS = "another operation (install/upgrade/rollback) is in progress"


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("lease"))
    sandbox.up("--time-scale", "600", "--seed", "incident")
    yield sandbox
    sandbox.down()


@pytest.fixture
def leases(box):
    """The LeaseApi, with the release's Lease removed before and after each test."""
    api = lease_utils.LeaseApi(open_cluster(str(box.kubeconfig), None))
    box.kubectl("delete", "lease", LEASE, "--ignore-not-found")
    yield api
    box.kubectl("delete", "lease", LEASE, "--ignore-not-found")


# -- running a module as its own process -----------------------------------------------------------------
def ansible_module(box: Sandbox, module: str, args: dict, check_mode: bool = False) -> dict:
    """Run local_llm.tts.<module> ad hoc on localhost; its result (with `failed` when it failed)."""
    env = {
        **box.env,
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "json",
        "ANSIBLE_NOCOLOR": "1",
    }
    cmd = [
        binary("ansible"),
        "localhost",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "-m",
        f"local_llm.tts.{module}",
        "-a",
        json.dumps(args),
        *(["--check"] if check_mode else []),
    ]
    output = run(cmd, check=False, env=env, timeout=120).stdout
    return json.loads(output)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def module_in_process(module, args: dict, capsys, check_mode: bool = False) -> dict:
    """Run a module's main() here, the way Ansible would (arguments in, JSON result out)."""
    with patch_module_args({**args, "_ansible_check_mode": check_mode}), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def helm_home(box, monkeypatch):
    """helm run by in-process modules uses the sandbox's own HELM_* directories."""
    for key, value in box.env.items():
        if key.startswith("HELM_"):
            monkeypatch.setenv(key, value)


def lease_args(box: Sandbox, holder: str, **extra) -> dict:
    return {
        "release": RELEASE,
        "namespace": NAMESPACE,
        "kubeconfig": str(box.kubeconfig),
        "holder": holder,
        "cluster_name": "sandbox-a",
        **extra,
    }


def stored_lease(box: Sandbox) -> dict:
    return box.kubectl_json("get", "lease", LEASE)


# -- the Lease -------------------------------------------------------------------------------------------
def test_two_runners_started_together_one_wins_the_other_names_it(box, leases):
    results: dict[str, dict] = {}

    def runner(holder: str) -> None:
        results[holder] = ansible_module(box, "lease", lease_args(box, holder))

    threads = [threading.Thread(target=runner, args=(holder,)) for holder in ("runner-a-1", "runner-b-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [holder for holder, result in results.items() if result.get("acquired")]
    assert len(winners) == 1, results
    (winner,) = winners
    (loser_result,) = [result for holder, result in results.items() if holder != winner]
    assert loser_result["failed"] and loser_result["locked"]
    assert loser_result["msg"].startswith(
        f"LOCKED: drift run already in progress on cluster sandbox-a, held by {winner} since "
    )
    assert " expires at " in loser_result["msg"]
    assert stored_lease(box)["spec"]["holderIdentity"] == winner


def test_simultaneous_writes_exactly_one_wins(box, leases):
    """Eight acquisitions released by one barrier: resourceVersion preconditions let one write win."""
    start = threading.Barrier(8)
    outcomes: dict[str, str] = {}

    def contender(holder: str) -> None:
        start.wait()
        try:
            lease_utils.acquire_lease(leases, NAMESPACE, RELEASE, holder, cluster="sandbox-a")
            outcomes[holder] = "won"
        except lease_utils.LeaseLocked as exc:
            outcomes[holder] = str(exc)

    threads = [threading.Thread(target=contender, args=(f"racer-{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [holder for holder, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1, outcomes
    assert all(f"held by {winners[0]}" in text for text in outcomes.values() if text != "won")


def test_the_holder_renews_and_releases_others_cannot_release(box, leases, capsys):
    first = module_in_process(lease_module, lease_args(box, "cron-7"), capsys)
    assert first["created"]
    renewed = module_in_process(lease_module, lease_args(box, "cron-7"), capsys)
    assert renewed["renewed"] and renewed["expires_at"] > first["expires_at"]
    foreign = module_in_process(lease_module, lease_args(box, "operator-9", state="released"), capsys)
    assert foreign["released"] is False and foreign["holder"] == "cron-7"
    assert stored_lease(box)["spec"]["holderIdentity"] == "cron-7"
    ours = module_in_process(lease_module, lease_args(box, "cron-7", state="released"), capsys)
    assert ours["released"] is True
    assert box.kubectl("get", "lease", LEASE, check=False).returncode != 0


def test_a_dead_holders_expired_lease_is_taken_over(box, leases, capsys):
    renewed = datetime.now(UTC) - timedelta(minutes=10)  # last renewal long past its 60 s duration
    dead = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE, "namespace": NAMESPACE},
        "spec": {
            "holderIdentity": "crashed-host-4711",
            "acquireTime": lease_utils.format_micro_time(renewed - timedelta(minutes=1)),
            "renewTime": lease_utils.format_micro_time(renewed),
            "leaseDurationSeconds": 60,
            "leaseTransitions": 0,
        },
    }
    box.kubectl("create", "-f", "-", input_text=json.dumps(dead))
    result = module_in_process(lease_module, lease_args(box, "new-runner-1"), capsys)
    assert result["acquired"] and result["taken_over"]
    assert result["previous_holder"] == "crashed-host-4711"
    spec = stored_lease(box)["spec"]
    assert spec["holderIdentity"] == "new-runner-1" and spec["leaseTransitions"] == 1


# A run that takes a short Lease and is then killed (SIGKILL: nothing releases it).
KILLED_RUN = """
import sys
from ansible_collections.local_llm.tts.plugins.module_utils import lease
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import open_cluster
api = lease.LeaseApi(open_cluster(sys.argv[1], None))
lease.acquire_lease(api, "default", "local-llm", "killed-run-1", lease_seconds=int(sys.argv[2]))
print("acquired", flush=True)
sys.stdin.read()
"""


def test_a_killed_runs_lease_blocks_until_it_expires_then_is_taken_over(box, leases):
    seconds = 3
    killed = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(box.kubeconfig), str(seconds)],
        cwd=REPO,
        env={**box.env, "PYTHONPATH": str(REPO / "collections")},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert killed.stdout.readline().strip() == "acquired"
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    with pytest.raises(lease_utils.LeaseLocked, match="held by killed-run-1"):
        lease_utils.acquire_lease(leases, NAMESPACE, RELEASE, "next-run-2", cluster="sandbox-a")
    time.sleep(seconds + 0.5)
    result = lease_utils.acquire_lease(leases, NAMESPACE, RELEASE, "next-run-2", cluster="sandbox-a")
    assert result["taken_over"] and result["previous_holder"] == "killed-run-1"


# -- a release left pending ------------------------------------------------------------------------------
def chart(box: Sandbox) -> Path:
    return box.state_dir / "HelmChart" / "custom-chart"


def helm_upgrade(box: Sandbox, helm_binary: str):
    return box.helm(
        helm_binary, "upgrade", RELEASE, str(chart(box)), "-f", str(chart(box) / "values.yaml"), check=False
    )


def pending_args(box: Sandbox, helm_binary: str, **extra) -> dict:
    return {"release": RELEASE, "kubeconfig": str(box.kubeconfig), "binary": binary(helm_binary), **extra}


def history(box: Sandbox) -> list[dict]:
    env = {k: v for k, v in box.env.items() if k.startswith("HELM_")}
    return helm_cli.HelmCli(RELEASE, binary=binary("helm"), kubeconfig=str(box.kubeconfig), env=env).history()


@pytest.mark.parametrize("helm_binary", ["helm", "helm3"])
def test_pending_upgrade_is_detected_and_recovered(box, helm_binary, helm_home, capsys):
    stuck = leave_interrupted_upgrade(box)
    # helm itself sees the release as stuck: status says so, an upgrade refuses.
    assert "STATUS: pending-upgrade" in box.helm(helm_binary, "status", RELEASE).stdout
    refused = helm_upgrade(box, helm_binary)
    assert refused.returncode != 0 and IN_PROGRESS in refused.stderr

    reported = module_in_process(helm_pending_module, pending_args(box, helm_binary), capsys)
    assert reported["changed"] is False and reported["recovered"] is False
    assert reported["pending"]["status"] == "pending-upgrade"
    assert reported["pending"]["revision"] == stuck
    assert reported["pending"]["rollback_to"] == stuck - 1

    recover = pending_args(box, helm_binary, recover=True)
    would = module_in_process(helm_pending_module, recover, capsys, check_mode=True)
    assert would["changed"] is True and would["recovered"] is False and would["target_revision"] == stuck - 1
    assert max(int(h["revision"]) for h in history(box)) == stuck  # check mode ran no rollback

    # The real thing once: through ansible, as the playbooks run it.
    recovered = ansible_module(box, "helm_pending", recover)
    assert recovered["changed"] and recovered["recovered"], recovered
    assert recovered["revision_after"] == stuck + 1 and recovered["status"] == "deployed"
    assert helm_cli.pending_status(history(box)) is None

    upgraded = helm_upgrade(box, helm_binary)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "STATUS: deployed" in box.helm(helm_binary, "status", RELEASE).stdout
    again = module_in_process(helm_pending_module, recover, capsys)
    assert again["changed"] is False and again["pending"] is None
