"""The release Lease: pure decisions (expired? ours? what to do), and acquire/release against an in-memory
API server that enforces resourceVersion preconditions like the real one."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.local_llm.tts.plugins.module_utils import lease as lease_utils
from ansible_collections.local_llm.tts.plugins.module_utils.lease import (
    Action,
    LeaseConflict,
    LeaseLocked,
    LeaseView,
    acquire_lease,
    decide_acquire,
    expires_at,
    format_micro_time,
    is_expired,
    is_ours,
    lease_body,
    locked_message,
    release_lease,
)
from ansible_collections.local_llm.tts.plugins.modules import lease as lease_module

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NAME = "tts-runbooks-local-llm"


def lease_object(
    holder: str, renewed: datetime, seconds: int = 300, acquired: datetime | None = None
) -> dict:
    return {
        "metadata": {"name": NAME, "namespace": "default", "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder,
            "acquireTime": format_micro_time(acquired or renewed),
            "renewTime": format_micro_time(renewed),
            "leaseDurationSeconds": seconds,
            "leaseTransitions": 2,
        },
    }


def view(holder: str = "cron-1", renewed: datetime = NOW, seconds: int = 300) -> LeaseView:
    return LeaseView.from_object(lease_object(holder, renewed, seconds))


# ------------------------------------------------------------------------------------ pure decisions


def test_expiry_is_renew_time_plus_duration():
    assert expires_at(view(renewed=NOW, seconds=60)) == NOW + timedelta(seconds=60)


@pytest.mark.parametrize(("age_seconds", "expired"), [(0, False), (299, False), (300, True), (3600, True)])
def test_a_lease_expires_when_its_holder_stops_renewing(age_seconds, expired):
    assert is_expired(view(renewed=NOW - timedelta(seconds=age_seconds)), NOW) is expired


def test_a_lease_without_holder_or_times_is_free():
    assert is_expired(LeaseView.from_object({"spec": {"renewTime": format_micro_time(NOW)}}), NOW)
    assert is_expired(LeaseView.from_object({"spec": {"holderIdentity": "x"}}), NOW)
    assert is_expired(LeaseView.from_object({"spec": {"holderIdentity": "x", "renewTime": "garbage"}}), NOW)


def test_ours_is_an_exact_holder_match():
    assert is_ours(view("host-12"), "host-12")
    assert not is_ours(view("host-12"), "host-1")
    assert not is_ours(LeaseView.from_object({"spec": {}}), "")


@pytest.mark.parametrize(
    ("current", "action"),
    [
        (None, Action.CREATE),
        (view("me"), Action.RENEW),
        (view("me", renewed=NOW - timedelta(hours=1)), Action.RENEW),
        (view("other", renewed=NOW - timedelta(seconds=301)), Action.TAKE_OVER),
        (view("other"), Action.LOCKED),
    ],
)
def test_decide_acquire(current, action):
    assert decide_acquire(current, "me", NOW) is action


def test_taking_over_counts_a_transition_and_sets_a_new_acquire_time():
    previous = lease_object("dead-1", NOW - timedelta(hours=1))
    body = lease_body(NAME, "default", "me", 120, "drift", NOW, previous)
    assert body["metadata"]["resourceVersion"] == "7"  # the precondition of the write
    assert body["spec"]["holderIdentity"] == "me"
    assert body["spec"]["leaseTransitions"] == 3
    assert body["spec"]["acquireTime"] == body["spec"]["renewTime"] == "2026-03-01T12:00:00.000000Z"
    assert body["spec"]["leaseDurationSeconds"] == 120


def test_renewing_keeps_the_acquire_time_and_transitions():
    acquired = NOW - timedelta(minutes=3)
    previous = lease_object("me", NOW - timedelta(minutes=1), acquired=acquired)
    body = lease_body(NAME, "default", "me", 300, "fix", NOW, previous)
    assert body["spec"]["acquireTime"] == format_micro_time(acquired)
    assert body["spec"]["renewTime"] == format_micro_time(NOW)
    assert body["spec"]["leaseTransitions"] == 2
    assert body["metadata"]["annotations"][lease_utils.OPERATION_ANNOTATION] == "fix"


def test_locked_message_names_cluster_holder_since_and_expiry():
    current = LeaseView.from_object(
        {
            "metadata": {"annotations": {lease_utils.OPERATION_ANNOTATION: "drift"}},
            "spec": {
                "holderIdentity": "ops-host-4242",
                "acquireTime": "2026-03-01T11:58:00.000000Z",
                "renewTime": "2026-03-01T11:59:00.000000Z",
                "leaseDurationSeconds": 300,
            },
        }
    )
    assert locked_message(current, "gpu-prod") == (
        "LOCKED: drift run already in progress on cluster gpu-prod, held by ops-host-4242 "
        "since 2026-03-01T11:58:00Z, expires at 2026-03-01T12:04:00Z"
    )


# ------------------------------------------------------------------------------------ against a fake server


class FakeLeaseApi:
    """Stores one Lease; writes must carry the current resourceVersion (409 otherwise), as the API does."""

    def __init__(self) -> None:
        self.stored: dict | None = None
        self.version = 0
        self.before_write = None  # a hook: another runner writing between our read and our write

    def get(self, namespace: str, name: str) -> dict | None:
        return copy.deepcopy(self.stored)

    def _store(self, lease: dict) -> dict:
        self.version += 1
        self.stored = copy.deepcopy(lease)
        self.stored["metadata"]["resourceVersion"] = str(self.version)
        return copy.deepcopy(self.stored)

    def _interfere(self) -> None:
        hook, self.before_write = self.before_write, None
        if hook:
            hook(self)

    def create(self, namespace: str, lease: dict) -> dict:
        self._interfere()
        if self.stored is not None:
            raise LeaseConflict("already exists")
        return self._store(lease)

    def replace(self, namespace: str, name: str, lease: dict) -> dict:
        self._interfere()
        if self.stored is None or lease["metadata"].get("resourceVersion") != str(self.version):
            raise LeaseConflict("the object has been modified")
        return self._store(lease)

    def delete(self, namespace: str, name: str, resource_version: str) -> None:
        self._interfere()
        if self.stored is None or resource_version != str(self.version):
            raise LeaseConflict("precondition failed")
        self.stored = None


def clock_at(moment: datetime):
    return lambda: moment


def take(api: FakeLeaseApi, holder: str, at: datetime = NOW, **kwargs) -> dict:
    return acquire_lease(api, "default", "local-llm", holder, cluster="c1", clock=clock_at(at), **kwargs)


def test_first_acquire_creates_then_the_holder_renews():
    api = FakeLeaseApi()
    first = take(api, "me")
    assert first["created"] and first["acquired"] and first["holder"] == "me"
    renewed = take(api, "me", NOW + timedelta(seconds=100))
    assert renewed["renewed"] and not renewed["created"]
    assert renewed["expires_at"] == format_micro_time(NOW + timedelta(seconds=400))


def test_a_second_runner_is_refused_with_the_holder_named():
    api = FakeLeaseApi()
    take(api, "cron-11")
    with pytest.raises(LeaseLocked, match=r"held by cron-11 since .* expires at"):
        take(api, "operator-22", NOW + timedelta(seconds=10))
    assert api.stored["spec"]["holderIdentity"] == "cron-11"


def test_an_expired_lease_is_taken_over():
    api = FakeLeaseApi()
    take(api, "dead-1", lease_seconds=60)
    result = take(api, "me", NOW + timedelta(seconds=61))
    assert result["taken_over"] and result["previous_holder"] == "dead-1"
    assert api.stored["spec"]["leaseTransitions"] == 1


def test_losing_the_create_race_reports_the_winner():
    api = FakeLeaseApi()
    api.before_write = lambda fake: take(fake, "winner-1")  # creates between our read and our create
    with pytest.raises(LeaseLocked, match="held by winner-1"):
        take(api, "loser-2")


def test_losing_the_take_over_race_reports_the_winner():
    api = FakeLeaseApi()
    take(api, "dead-1", lease_seconds=60)
    later = NOW + timedelta(minutes=5)
    api.before_write = lambda fake: take(fake, "winner-1", later)
    with pytest.raises(LeaseLocked, match="held by winner-1"):
        take(api, "loser-2", later)
    assert api.stored["spec"]["holderIdentity"] == "winner-1"


def test_check_mode_decides_but_writes_nothing():
    api = FakeLeaseApi()
    assert take(api, "me", check_mode=True)["created"]
    assert api.stored is None


def test_release_deletes_only_our_lease():
    api = FakeLeaseApi()
    take(api, "cron-11")
    assert release_lease(api, "default", "local-llm", "other") == {
        "lease": NAME,
        "released": False,
        "holder": "cron-11",
    }
    assert api.stored is not None
    assert release_lease(api, "default", "local-llm", "cron-11")["released"] is True
    assert api.stored is None
    assert release_lease(api, "default", "local-llm", "cron-11")["released"] is False  # already gone


def test_release_after_a_take_over_leaves_the_new_holder_alone():
    api = FakeLeaseApi()
    take(api, "slow-1", lease_seconds=60)
    # slow-1 reads its Lease, then (expired) it is taken over before slow-1's delete lands.
    api.before_write = lambda fake: take(fake, "new-2", NOW + timedelta(minutes=2))
    assert release_lease(api, "default", "local-llm", "slow-1")["released"] is False
    assert api.stored["spec"]["holderIdentity"] == "new-2"


# ------------------------------------------------------------------------------------ the module


def run_module(monkeypatch, capsys, fake: FakeLeaseApi, **args) -> dict:
    cluster = type("Cluster", (), {"context": "ctx"})
    monkeypatch.setattr(lease_module, "open_cluster", lambda kubeconfig, context: cluster)
    monkeypatch.setattr(lease_module, "LeaseApi", lambda cluster: fake)
    with patch_module_args({"release": "local-llm", **args}), pytest.raises(SystemExit):
        lease_module.main()
    return json.loads(capsys.readouterr().out)


def test_module_acquires_reports_unchanged_and_fails_for_a_second_holder(monkeypatch, capsys):
    fake = FakeLeaseApi()
    first = run_module(monkeypatch, capsys, fake, holder="runner-1")
    assert first["acquired"] is True and first["changed"] is False and first["holder"] == "runner-1"
    second = run_module(monkeypatch, capsys, fake, holder="runner-2", cluster_name="gpu-prod")
    assert second["failed"] is True and second["locked"] is True
    assert second["msg"].startswith(
        "LOCKED: drift run already in progress on cluster gpu-prod, held by runner-1"
    )
    released = run_module(monkeypatch, capsys, fake, holder="runner-1", state="released")
    assert released["released"] is True and fake.stored is None


def test_module_default_holder_is_host_and_pid(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, FakeLeaseApi())
    host, _, pid = result["holder"].rpartition("-")
    assert host and pid.isdigit()


def test_module_rejects_a_non_positive_duration(monkeypatch, capsys):
    result = run_module(monkeypatch, capsys, FakeLeaseApi(), holder="x", lease_seconds=0)
    assert result["failed"] and "lease_seconds must be positive" in result["msg"]


# ------------------------------------------------------------------------------------ pending releases
# helm_cli.pending_status / recover_pending live next to the other helm decisions; tested here with the
# other "safe unattended runs" guards (the e2e file drives them against a real stuck release).

from ansible_collections.local_llm.tts.plugins.module_utils import helm_cli  # noqa: E402

STUCK_HISTORY = [
    {"revision": 1, "status": "superseded"},
    {"revision": 2, "status": "deployed"},
    {"revision": 3, "status": "pending-upgrade"},
]


def test_pending_status_reports_the_newest_revision_and_rollback_target():
    assert helm_cli.pending_status(STUCK_HISTORY) == {
        "status": "pending-upgrade",
        "revision": 3,
        "rollback_to": 2,
    }


def test_an_older_pending_revision_is_history_not_a_stuck_release():
    recovered = [*STUCK_HISTORY, {"revision": 4, "status": "deployed"}]
    assert helm_cli.pending_status(recovered) is None
    assert helm_cli.pending_status([]) is None


def test_an_interrupted_first_install_has_no_rollback_target():
    assert helm_cli.pending_status([{"revision": 1, "status": "pending-install"}])["rollback_to"] is None


class StuckHelm:
    """A HelmCli stand-in: history from a list, rollback recorded."""

    release = "local-llm"

    def __init__(self, history: list[dict]) -> None:
        self._history = history
        self.rollbacks: list[int] = []

    def history(self) -> list[dict]:
        return self._history

    def rollback(self, revision: int) -> None:
        self.rollbacks.append(revision)
        self._history = [*self._history, {"revision": len(self._history) + 1, "status": "deployed"}]

    def metadata(self) -> dict:
        return {"revision": self._history[-1]["revision"], "status": self._history[-1]["status"]}


def test_recover_pending_rolls_back_to_the_last_deployed_revision():
    helm = StuckHelm(STUCK_HISTORY)
    result = helm_cli.recover_pending(helm)
    assert helm.rollbacks == [2]
    assert result["recovered"] and result["changed"] and result["revision_after"] == 4


def test_recover_pending_in_check_mode_runs_nothing():
    helm = StuckHelm(STUCK_HISTORY)
    result = helm_cli.recover_pending(helm, check_mode=True)
    assert result["changed"] and not result["recovered"] and result["target_revision"] == 2
    assert helm.rollbacks == []


def test_recover_pending_leaves_a_healthy_release_alone():
    helm = StuckHelm(STUCK_HISTORY[:2])
    assert helm_cli.recover_pending(helm)["changed"] is False
    assert helm.rollbacks == []


@pytest.mark.parametrize(
    ("history", "advice"),
    [
        ([{"revision": 1, "status": "pending-install"}], "no deployed revision"),
        (
            [{"revision": 1, "status": "deployed"}, {"revision": 2, "status": "uninstalling"}],
            "helm uninstall",
        ),
    ],
)
def test_recover_pending_refuses_what_a_rollback_cannot_fix(history, advice):
    with pytest.raises(helm_cli.HelmError, match=advice):
        helm_cli.recover_pending(StuckHelm(history))
