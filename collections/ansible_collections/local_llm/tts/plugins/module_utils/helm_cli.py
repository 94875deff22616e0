"""A thin, version-neutral wrapper around the helm CLI (Helm 3 and Helm 4).

Why not kubernetes.core.helm: its 6.2.0 release runs ``helm list --all`` after an upgrade, a flag Helm 4
removed ("Error: unknown flag: --all"). Everything here uses only commands and JSON shapes that both majors
share: ``helm get metadata -o json``, ``helm get values -o json``, ``helm history -o json``,
``helm upgrade`` and ``helm rollback``.

The decisions (is an upgrade needed, which revision is the rollback target) are pure functions; the only
side effect is ``HelmCli.run``, which tests replace with a fake runner. The kubeconfig is passed by path and
its contents are never read or reported.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import yaml

# Statuses of a revision that once served (the rollback targets); see `helm history`.
SERVED_STATUSES = ("deployed", "superseded")
# A release in one of these is mid-operation: another upgrade/rollback must not start.
PENDING_STATUSES = ("pending-install", "pending-upgrade", "pending-rollback", "uninstalling")
STDERR_LINES_REPORTED = 5

Runner = Callable[[Sequence[str], dict], subprocess.CompletedProcess]


class HelmError(Exception):
    """A helm command failed; the message carries helm's own stderr (first lines)."""


class ReleaseNotFound(HelmError):
    pass


def subprocess_runner(argv: Sequence[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, env=env, check=False)


def first_lines(text: str, count: int = STDERR_LINES_REPORTED) -> str:
    return "\n".join(line for line in text.strip().splitlines()[:count])


@dataclass
class HelmCli:
    """Where helm runs: the binary, the cluster (kubeconfig path, kube-context) and the release."""

    release: str
    namespace: str = "default"
    binary: str = "helm"
    kubeconfig: str | None = None
    context: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # extra environment (HELM_*_HOME in tests)
    runner: Runner = subprocess_runner

    @classmethod
    def from_params(cls, params: dict) -> HelmCli:
        """From a module's parameters: release plus the shared cluster and helm options (module_args)."""
        return cls(
            release=params["release"],
            namespace=params["namespace"],
            binary=params["binary"],
            kubeconfig=params["kubeconfig"],
            context=params["context"],
        )

    def _cluster_flags(self) -> list[str]:
        flags = ["--namespace", self.namespace]
        if self.kubeconfig:
            flags += ["--kubeconfig", self.kubeconfig]
        if self.context:
            flags += ["--kube-context", self.context]
        return flags

    def run(self, *args: str) -> str:
        argv = [self.binary, *args, *self._cluster_flags()]
        try:
            result = self.runner(argv, {**os.environ, **self.env})
        except OSError as exc:  # binary missing or not executable
            raise HelmError(f"cannot run {self.binary}: {exc}") from None
        if result.returncode != 0:
            stderr = first_lines(result.stderr or result.stdout or "")
            command = " ".join([os.path.basename(self.binary), *args[:2]])
            if "not found" in stderr and args[:1] in (("get",), ("history",), ("status",)):
                raise ReleaseNotFound(f"release {self.release} not found in namespace {self.namespace}")
            raise HelmError(f"`{command}` failed (exit {result.returncode}): {stderr}")
        return result.stdout

    def run_json(self, *args: str) -> object:
        text = self.run(*args, "--output", "json")
        try:
            return json.loads(text) if text.strip() else None
        except ValueError:
            raise HelmError(f"`helm {' '.join(args[:2])}` printed no JSON: {first_lines(text, 2)}") from None

    # -- reads ------------------------------------------------------------------------------
    def metadata(self) -> dict:
        """name, chart, version (chart version), revision, status: same keys in Helm 3.18 and 4.1."""
        return self.run_json("get", "metadata", self.release) or {}

    def values(self) -> dict:
        """The user-supplied values of the current revision (what `-f` gave)."""
        return self.run_json("get", "values", self.release) or {}

    def history(self) -> list[dict]:
        return self.run_json("history", self.release, "--max", "256") or []

    # -- writes -----------------------------------------------------------------------------
    def major_version(self) -> int:
        """3 or 4: Helm 4 applies server-side and needs --force-conflicts to take fields back."""
        version = self.run("version", "--template", "{{.Version}}").strip().lstrip("v")
        return int(version.split(".", 1)[0] or 0)

    def upgrade(self, chart_path: str, values_file: str, force_conflicts: bool = False) -> None:
        # Never --install: the fix job repairs an existing release, it does not create one.
        args = ["upgrade", self.release, chart_path, "--values", values_file]
        if force_conflicts and self.major_version() >= 4:
            args.append("--force-conflicts")
        self.run(*args)

    def rollback(self, revision: int) -> None:
        self.run("rollback", self.release, str(revision))


# -- pure decisions ------------------------------------------------------------------------------
def load_values_file(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        return values_from_text(handle.read(), path)


def values_from_text(text: str, path: str) -> dict:
    """A values file's data (``path`` names it in the error); a file that is not a mapping is an error."""
    data = yaml.safe_load(text)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HelmError(f"{path}: values must be a YAML mapping, got {type(data).__name__}")
    return data


def chart_identity(chart_path: str) -> tuple[str, str]:
    """(name, version) from the chart directory's Chart.yaml."""
    with open(os.path.join(chart_path, "Chart.yaml"), encoding="utf-8") as handle:
        chart = yaml.safe_load(handle) or {}
    if not isinstance(chart, dict):
        raise HelmError(f"{chart_path}/Chart.yaml is not a mapping")
    return str(chart.get("name", "")), str(chart.get("version", ""))


def normalise(values: object) -> object:
    """JSON round trip, so YAML-only types (dates, tuples) compare like helm's JSON output."""
    return json.loads(json.dumps(values if values is not None else {}, default=str, sort_keys=True))


def served_revisions(history: list[dict]) -> list[int]:
    return sorted(int(h["revision"]) for h in history if h.get("status") in SERVED_STATUSES)


def last_deployed_revision(history: list[dict]) -> int | None:
    """The newest revision that served (deployed or superseded): where a failed change rolls back to."""
    served = served_revisions(history)
    return served[-1] if served else None


def default_rollback_revision(history: list[dict], current_revision: int) -> int | None:
    """The newest served revision older than the current one (`helm rollback` with no revision is
    the one before the current, whatever its status; we skip failed ones)."""
    older = [rev for rev in served_revisions(history) if rev < current_revision]
    return older[-1] if older else None


def rollback_target(history: list[dict], current_revision: int, requested: int | None = None) -> int:
    """The revision a rollback goes to: ``requested`` when the history has it, else the default above."""
    if requested is not None:
        revisions = {int(h["revision"]) for h in history}
        if requested not in revisions:
            raise HelmError(
                f"no revision {requested} in the release history (revisions: {sorted(revisions)})"
            )
        return requested
    target = default_rollback_revision(history, current_revision)
    if target is None:
        raise HelmError(
            f"no deployed or superseded revision before the current one ({current_revision}) to roll back to"
        )
    return target


@dataclass(frozen=True)
class UpgradePlan:
    needed: bool
    reasons: tuple[str, ...]


def plan_upgrade(
    metadata: dict, current_values: dict, desired_values: dict, chart: tuple[str, str]
) -> UpgradePlan:
    """Whether `helm upgrade` would change anything: values, chart name/version, or a release that
    is not in `deployed` state (a failed last upgrade is retried even with the same values)."""
    status = str(metadata.get("status", ""))
    if status in PENDING_STATUSES:
        raise HelmError(
            f"release {metadata.get('name')} is {status}: another helm operation is in progress or was "
            "interrupted; resolve it (helm history / helm rollback) before upgrading"
        )
    reasons = []
    if normalise(current_values) != normalise(desired_values):
        reasons.append("values differ")
    name, version = chart
    if name and metadata.get("chart") != name:
        reasons.append(f"chart {metadata.get('chart')} -> {name}")
    if version and str(metadata.get("version", "")) != version:
        reasons.append(f"chart version {metadata.get('version')} -> {version}")
    if status != "deployed":
        reasons.append(f"release status is {status or 'unknown'}")
    return UpgradePlan(bool(reasons), tuple(reasons))


# -- operations (what the module calls) -------------------------------------------------------------
def release_info(helm: HelmCli) -> dict:
    metadata = helm.metadata()
    history = helm.history()
    return {
        "status": metadata.get("status"),
        "revision": int(metadata.get("revision", 0)),
        "chart": metadata.get("chart"),
        "chart_version": metadata.get("version"),
        "app_version": metadata.get("appVersion"),
        "last_deployed_revision": last_deployed_revision(history),
        "history": history,
    }


def ensure_present(
    helm: HelmCli, chart_path: str, values_file: str, check_mode: bool = False, force: bool = False
) -> dict:
    """Upgrade the release to chart_path + values_file unless it already runs exactly that.

    ``force`` upgrades all the same, taking back fields changed on the live objects by hand
    (``kubectl set image``, ``kubectl edit``): Helm 3's three-way merge resets them, Helm 4 does
    with --force-conflicts.
    """
    metadata = helm.metadata()
    history = helm.history()
    chart = chart_identity(chart_path)
    plan = plan_upgrade(metadata, helm.values(), load_values_file(values_file), chart)
    revision_before = int(metadata.get("revision", 0))
    needed = plan.needed or force
    result = {
        "changed": needed,
        "reasons": [*plan.reasons, *(["forced: live objects drifted from the release"] if force else [])],
        "revision_before": revision_before,
        "revision_after": revision_before,
        "status": metadata.get("status"),
        "chart_version": metadata.get("version"),
        "last_deployed_revision": last_deployed_revision(history),
    }
    if not needed or check_mode:
        return result
    helm.upgrade(chart_path, values_file, force_conflicts=force)
    after = helm.metadata()
    result.update(
        revision_after=int(after.get("revision", 0)),
        status=after.get("status"),
        chart_version=after.get("version"),
    )
    return result


def roll_back(helm: HelmCli, revision: int | None = None, check_mode: bool = False) -> dict:
    metadata = helm.metadata()
    revision_before = int(metadata.get("revision", 0))
    history = helm.history()
    target = rollback_target(history, revision_before, revision)
    result = {
        "changed": True,
        "target_revision": target,
        "revision_before": revision_before,
        "revision_after": revision_before,
        "status": metadata.get("status"),
    }
    if check_mode:
        return result
    helm.rollback(target)
    after = helm.metadata()
    result.update(revision_after=int(after.get("revision", 0)), status=after.get("status"))
    return result


# -- releases left pending by an interrupted helm --------------------------------------------------------
# A helm killed mid-operation leaves its newest revision in one of these; every later upgrade or rollback
# by helm then refuses with "another operation (install/upgrade/rollback) is in progress". (`uninstalling`
# is pending too, but rolling back would undo an uninstall someone asked for, so it is only reported.)
RECOVERABLE_PENDING_STATUSES = ("pending-install", "pending-upgrade", "pending-rollback")


def pending_status(history: list[dict]) -> dict | None:
    """The newest revision when it is pending: {status, revision, rollback_to}; None when not pending.

    Only the newest revision counts, as for helm itself: an older pending entry was superseded.
    ``rollback_to`` is the newest served (deployed/superseded) revision before it, or None
    (an interrupted first install has nothing to go back to).
    """
    if not history:
        return None
    newest = max(history, key=lambda entry: int(entry["revision"]))
    status = str(newest.get("status", ""))
    if status not in PENDING_STATUSES:
        return None
    revision = int(newest["revision"])
    older = [rev for rev in served_revisions(history) if rev < revision]
    return {"status": status, "revision": revision, "rollback_to": older[-1] if older else None}


def recover_pending(helm: HelmCli, check_mode: bool = False) -> dict:
    """Roll a release stuck in pending-install/upgrade/rollback back to its last deployed revision.

    Nothing runs when the release is not pending. Raises HelmError when it cannot be recovered by a
    rollback (pending `uninstalling`, or an interrupted first install with no revision that served).
    """
    history = helm.history()
    pending = pending_status(history)
    result = {"changed": False, "pending": pending, "recovered": False, "target_revision": None}
    if pending is None:
        return result
    if pending["status"] not in RECOVERABLE_PENDING_STATUSES:
        raise HelmError(
            f"release {helm.release} is {pending['status']} at revision {pending['revision']}: "
            "not recovered by a rollback (that would undo the uninstall); finish it with `helm uninstall`"
        )
    target = pending["rollback_to"]
    if target is None:
        raise HelmError(
            f"release {helm.release} is {pending['status']} at revision {pending['revision']} and has no "
            "deployed revision to roll back to; `helm uninstall` it and install again"
        )
    result.update(changed=True, target_revision=target, revision_after=pending["revision"])
    if check_mode:
        return result
    helm.rollback(target)
    after = helm.metadata()
    result.update(recovered=True, revision_after=int(after.get("revision", 0)), status=after.get("status"))
    return result
