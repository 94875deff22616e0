"""The whole steps of the runbooks, one module call each: preflight, apply, verify and undo.

Each step sequences the collection's parts (helm_cli, cluster_client, values_block, pitfalls, rollout,
tts_checks) in one Python process, because every Ansible task costs a process start; the decisions
stay in those parts, which are tested on their own. A step returns plain data and a ``tts_report``:
the facts runner.py's summary shows for the host (merged in task order, a later step's keys win).
A step that cannot go on raises ``StepFailed`` with the message to show and the report so far.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterClient,
    ClusterConfigError,
    ClusterUnavailable,
)
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import (
    HelmCli,
    HelmError,
    chart_identity,
    last_deployed_revision,
    pending_status,
    plan_upgrade,
    recover_pending,
    roll_back,
    values_from_text,
)
from ansible_collections.local_llm.tts.plugins.module_utils.log_markers import log_findings
from ansible_collections.local_llm.tts.plugins.module_utils.pitfalls import (
    SEVERITY_RANK,
    check_block,
    check_values_text,
    failure_message,
    selected_gpu_products,
)
from ansible_collections.local_llm.tts.plugins.module_utils.progress import Reporter
from ansible_collections.local_llm.tts.plugins.module_utils.rendered import carries_args, rendered_container
from ansible_collections.local_llm.tts.plugins.module_utils.rollout import watch_rollout
from ansible_collections.local_llm.tts.plugins.module_utils.tts_checks import (
    run_checks,
    service_proxy_transport,
    url_transport,
)
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import (
    ValuesError,
    read_text,
    restore_file,
    set_block_in_file,
)

MINIMUM_HELM = (3, 13, 0)
CLUSTER_TIMEOUT = 10  # seconds for the preflight's API check (connection refused fails at once)


class StepFailed(Exception):
    """A step stopped: ``str()`` is the message for the operator; ``report`` what was found so far."""

    def __init__(self, message: str, report: dict | None = None, **result: object) -> None:
        super().__init__(message)
        self.report = report or {}
        self.result = result


# -- preflight -----------------------------------------------------------------------------------------
def parse_helm_version(text: str) -> tuple[int, ...]:
    """(3, 18, 0) from "v3.18.0" or "v4.1.4+g0123"; () when it is not a version."""
    core = text.strip().lstrip("v").split("+", 1)[0].split("-", 1)[0]
    try:
        return tuple(int(part) for part in core.split("."))
    except ValueError:
        return ()


def check_helm(helm: HelmCli) -> str:
    """The helm version string; StepFailed (CONFIG:) when helm is missing or older than 3.13."""
    try:
        text = helm.run("version", "--template", "{{.Version}}").strip()
    except HelmError as exc:
        text, problem = "", str(exc)
    else:
        problem = text or "no version printed"
    if not text or parse_helm_version(text) < MINIMUM_HELM:
        raise StepFailed(
            f"CONFIG: helm {helm.binary} is missing or too old ({problem}); helm 3.13+ or 4.x is required"
        )
    return text


def reach_cluster(open_client: Callable[[], ClusterClient], timeout: float = CLUSTER_TIMEOUT) -> tuple:
    """(client, {server, context, version}); StepFailed with CONFIG: for what a person must fix."""
    try:
        cluster = open_client()
        version = cluster.version(timeout)
    except ClusterConfigError as exc:
        raise StepFailed(str(exc)) from None
    except ClusterUnavailable as exc:  # 5xx for the whole timeout: an outage, not a configuration error
        raise StepFailed(f"the cluster is not serving: {exc}") from None
    return cluster, {"server": cluster.server, "context": cluster.context, "version": version}


def check_files(chart_path: str, values_file: str) -> None:
    chart_file = os.path.join(chart_path, "Chart.yaml")
    if not os.path.isfile(chart_file):
        raise StepFailed(f"CONFIG: {chart_file} does not exist")
    if not os.path.exists(values_file):
        raise StepFailed(f"CONFIG: {values_file} does not exist")
    if not os.access(values_file, os.R_OK):
        raise StepFailed(f"CONFIG: {values_file} is not readable")


def naming_the_file(path: str, exc: Exception) -> str:
    """The error's message, starting with the file it is about (YAML errors carry only line and column)."""
    message = str(exc)
    return message if path in message else f"{path}: {message}"


def preview_values(values_file: str, key: str, block: dict) -> dict:
    """The edit the apply step would make, without writing: {changed, before, after}."""
    try:
        return set_block_in_file(values_file, key, block, backup=False, dry_run=True)
    except ValuesError as exc:
        raise StepFailed(f"CONFIG: {naming_the_file(values_file, exc)}") from None
    except OSError as exc:
        raise StepFailed(f"CONFIG: {values_file}: {exc.strerror or exc}") from None


def read_history(helm: HelmCli) -> list[dict]:
    try:
        history = helm.history()
    except HelmError as exc:
        raise StepFailed(f"CONFIG: {exc}") from None
    if not history:
        raise StepFailed(f"CONFIG: release {helm.release} has no history in namespace {helm.namespace}")
    return history


def release_state(history: list[dict], chart_name: str = "") -> dict:
    """What the newest revision says, in the shape ``plan_upgrade`` reads (helm's metadata keys):
    ``helm history`` names the chart ``name-version``, split here at the known chart name."""
    newest = max(history, key=lambda entry: int(entry["revision"]))
    chart = str(newest.get("chart", ""))
    name, version = chart, ""
    if chart_name and chart.startswith(chart_name + "-"):
        name, version = chart_name, chart[len(chart_name) + 1 :]
    return {
        "status": newest.get("status"),
        "revision": int(newest["revision"]),
        "chart": chart,
        "chart_name": name,
        "chart_version": version,
        "app_version": newest.get("app_version"),
        "last_deployed_revision": last_deployed_revision(history),
    }


def pending_message(helm: HelmCli, pending: dict) -> str:
    return (
        f"release {helm.release} is {pending['status']} at revision {pending['revision']} (an interrupted "
        f"helm operation left it so); rerun with --recover-pending to roll it back to revision "
        f"{pending['rollback_to']}"
    )


def gpu_products_for(
    block: dict, open_client: Callable[[], ClusterClient], warn: Callable[[str], None]
) -> list[str] | None:
    """The GPU products of the nodes the block selects (bf16-pre-ampere); None, with a warning, when
    the nodes cannot be read."""
    try:
        nodes = open_client().get_json("/api/v1/nodes", timeout=30).get("items") or []
    except Exception as exc:  # RBAC, API down: the other rules still apply
        warn(f"cannot read the nodes' GPU products ({exc}); bf16-pre-ampere not checked")
        return None
    return selected_gpu_products(block, nodes)


def preflight(
    helm: HelmCli,
    open_client: Callable[[], ClusterClient],
    chart_path: str,
    values_file: str,
    key: str,
    block: dict,
    fail_on: str = "error",
    recover: bool = False,
    check_mode: bool = False,
    warn: Callable[[str], None] = lambda _message: None,
) -> dict:
    """Everything `fix` needs to know before it changes anything, each source read once: the files
    and the edit (local, so first), helm, the cluster, the release (history and values), a pending
    operation, the pitfalls of the block. Returns the plan; StepFailed on anything that must stop."""
    check_files(chart_path, values_file)  # the local checks first: a wrong path fails at once
    edit = preview_values(values_file, key, block)
    helm_version = check_helm(helm)
    cluster, cluster_info = reach_cluster(open_client)
    history, pending, recovered = check_release(helm, recover, check_mode)
    try:
        chart = chart_identity(chart_path)
    except HelmError as exc:
        raise StepFailed(f"CONFIG: {exc}") from None
    state = release_state(history, chart[0])
    report = {
        "revision_before": state["revision"],
        "revision_after": state["revision"],
        "values_changed": edit["changed"],
        "pitfall_findings": [],
    }
    try:
        upgrade = plan_upgrade(
            {
                "name": helm.release,
                "status": state["status"],
                "chart": state["chart_name"],
                "version": state["chart_version"],
            },
            helm.values(),
            values_from_text(edit["after"], values_file),
            chart,
        )
    except HelmError as exc:
        raise StepFailed(str(exc), report) from None
    products = gpu_products_for(block, lambda: cluster, warn)
    findings = check_block(block, key=key, gpu_products=products)
    report["pitfall_findings"] = [finding.as_dict() for finding in findings]
    threshold = SEVERITY_RANK.get(fail_on)
    blocking = [f for f in findings if threshold is not None and SEVERITY_RANK[f.severity] >= threshold]
    if blocking:
        raise StepFailed(failure_message(blocking), report, findings=report["pitfall_findings"])
    needed = upgrade.needed or edit["changed"]  # a changed values file is always upgraded with
    return {
        "changed": bool(recovered and recovered.get("changed")),
        "helm_version": helm_version,
        "helm_major": parse_helm_version(helm_version)[0],
        "cluster": cluster_info,
        "release": state,
        "history": history,
        "pending": pending,
        "recovered": recovered,
        "values_changed": edit["changed"],
        "upgrade_needed": needed,
        "upgrade_reasons": list(upgrade.reasons) or (["values file changes"] if edit["changed"] else []),
        "change_needed": needed,
        "findings": report["pitfall_findings"],
        "gpu_products": products or [],
        "tts_report": report,
    }


# -- apply ---------------------------------------------------------------------------------------------
def render_check(helm: HelmCli, chart_path: str, values_source: str, deployment: str, block: dict) -> dict:
    """helm lint and helm template with the values; the rendered Deployment must carry the block's image
    and serve flags. Returns the rendered container."""
    try:
        helm.run("lint", chart_path, "-f", values_source)
        manifests = helm.run("template", helm.release, chart_path, "-f", values_source)
    except HelmError as exc:
        raise StepFailed(str(exc)) from None
    container = rendered_container(manifests, deployment)
    image = block.get("image") or {}
    wanted_image = f"{image.get('repository')}:{image.get('tag')}"
    wanted_args = block.get("extraArgs") or []
    if (
        not container["found"]
        or container["image"] != wanted_image
        or not carries_args(container, wanted_args)
    ):
        raise StepFailed(
            f"the chart does not render the desired TTS container for {deployment}: image "
            f"{container['image'] or 'none'}, expected {wanted_image} and args {wanted_args}"
        )
    return container


def newest_revision(helm: HelmCli) -> int:
    entries = helm.run_json("history", helm.release, "--max", "1") or []
    return max((int(entry["revision"]) for entry in entries), default=0)


def apply(
    helm: HelmCli,
    chart_path: str,
    values_file: str,
    key: str,
    block: dict,
    deployment: str,
    revision_before: int,
    upgrade_needed: bool = True,
    force: bool = False,
    check_mode: bool = False,
    remove_added: list[dict] | None = None,
    open_client: Callable[[], ClusterClient] | None = None,
) -> dict:
    """Write the block (backup before the first write), check the chart renders it, upgrade the release.
    In check mode nothing is written: the render check reads a scratch copy of the would-be file."""
    try:
        edit = set_block_in_file(values_file, key, block, backup=True, dry_run=check_mode)
    except ValuesError as exc:
        raise StepFailed(naming_the_file(values_file, exc)) from None
    except OSError as exc:
        raise StepFailed(f"{values_file}: {exc.strerror or exc}") from None
    report = {
        "values_changed": edit["changed"],
        "revision_before": revision_before,
        "revision_after": revision_before,
    }
    result = {
        "values_changed": edit["changed"],
        "new_revision": False,
        "backup_file": edit["backup_file"],
        "diff": {
            "before": edit["before"],
            "after": edit["after"],
            "before_header": f"{values_file} (before)",
            "after_header": f"{values_file} (after)",
        },
    }
    scratch = None
    if check_mode and edit["changed"]:
        handle, scratch = tempfile.mkstemp(suffix=".values.yaml")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(edit["after"])
    try:
        render_check(helm, chart_path, scratch or values_file, deployment, block)
    except StepFailed as exc:
        raise StepFailed(str(exc), report, **result) from None
    finally:
        if scratch:
            os.unlink(scratch)
    needed = upgrade_needed or edit["changed"] or force
    if needed and not check_mode:
        try:
            helm.upgrade(chart_path, values_file, force_conflicts=force)
        except HelmError as exc:
            # A failed upgrade may still have recorded a (failed) revision: the undo rolls that back.
            after = _revision_or(helm, revision_before)
            report["revision_after"] = after
            raise StepFailed(
                str(exc), report, **{**result, "new_revision": after != revision_before}
            ) from None
        report["revision_after"] = newest_revision(helm)
        result["new_revision"] = report["revision_after"] != revision_before
    if remove_added and not check_mode and open_client is not None:
        result["removed"] = remove_added_fields(open_client(), helm.namespace, remove_added)
    changed = edit["changed"] or needed or bool(result.get("removed"))
    return {
        **result,
        "changed": changed,
        "upgraded": needed,
        "tts_report": report,
        "revision_before": revision_before,
        "revision_after": report["revision_after"],
    }


def _revision_or(helm: HelmCli, default: int) -> int:
    try:
        return newest_revision(helm)
    except HelmError:
        return default


# -- verify --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceChecks:
    """What verify checks of the TTS service, and how long it waits."""

    deployment: str
    service: str
    port: int = 8006
    timeout: float = 1800
    markers: tuple[str, ...] = ()
    forbidden: tuple[str, ...] = ()
    verify_speech: bool = True
    health_url: str | None = None
    check_log: bool = True
    progress: Reporter | None = None


def verify(
    open_client: Callable[[], ClusterClient],
    namespace: str,
    checks: ServiceChecks,
    helm: HelmCli | None = None,
) -> dict:
    """The new pod Ready (watched), its bootstrap log clean, /health 200 and, unless turned off, speech.
    With ``helm`` (the verify runbook) helm, the cluster and the release are checked first (CONFIG:)."""
    if helm is not None:
        check_helm(helm)
        cluster, _info = reach_cluster(open_client)
        read_history(helm)
    else:
        cluster = open_client()
    try:
        result = check_service(cluster, namespace, checks)
    except StepFailed as exc:
        exc.report["verified"] = False
        raise
    result["tts_report"]["verified"] = True
    return result


def check_service(cluster: ClusterClient, namespace: str, checks: ServiceChecks) -> dict:
    rollout = watch_rollout(
        cluster, namespace, checks.deployment, checks.timeout, 0, checks.progress
    ).as_dict()
    pod = (rollout.get("pod") or {}).get("name")
    report: dict = {"tts_pod": pod}
    if not rollout["ready"]:
        diagnosis = rollout.get("diagnosis")
        message = diagnosis["text"] if diagnosis and diagnosis.get("text") else rollout["msg"]
        report["diagnosis"] = message
        raise StepFailed(message, report, rollout=rollout)
    if checks.check_log:
        log = cluster.get_text(f"/api/v1/namespaces/{namespace}/pods/{pod}/log", timeout=60)
        found = log_findings(log, checks.markers, checks.forbidden)
        if found["missing"] or found["out_of_order"] or found["forbidden_found"]:
            message = (
                f"the TTS pod's log does not show a clean bootstrap: missing {found['missing']}, "
                f"out of order {found['out_of_order']}, found {found['forbidden_found']}"
            )
            report["diagnosis"] = message
            raise StepFailed(message, report, rollout=rollout, log_check=found)
    found = run_checks(
        service_proxy_transport(cluster, namespace, checks.service, checks.port),
        checks.timeout,
        verify_speech=checks.verify_speech,
        health_send=url_transport(checks.health_url) if checks.health_url else None,
    )
    speech = found.get("speech") or []
    report.update(
        health=found["health"],
        speech=speech,
        speech_latency_ms=[item.get("latency_ms") for item in speech],
    )
    if found.get("failed"):
        report["diagnosis"] = found.get("msg") or "the service check failed"
        raise StepFailed(report["diagnosis"], report, rollout=rollout)
    return {
        "changed": False,
        "rollout": rollout,
        "pod": pod,
        "health": found["health"],
        "speech": speech,
        "tts_report": report,
    }


# -- undo ----------------------------------------------------------------------------------------------
def undo(
    helm: HelmCli,
    failure: str,
    values_file: str,
    new_revision: bool,
    rollback_to: int | None,
    values_changed: bool,
    enabled: bool = True,
    check_mode: bool = False,
) -> StepFailed:
    """After a failed change: roll back the revision this run made and put the values file back. Returns
    the failure to raise (the run failed either way); the message says what was undone."""
    report: dict = {"diagnosis": failure, "rolled_back": False}
    if not enabled:
        return StepFailed(f"{failure} Not rolled back (auto_rollback is off).", report)
    if check_mode:
        return StepFailed(failure, report)
    undone = []
    try:
        if new_revision:
            back = roll_back(helm, rollback_to)
            target = back["target_revision"]
            report.update(rolled_back=True, revision_after=back["revision_after"], rollback_target=target)
            if back["status"] != "deployed":
                return StepFailed(
                    f"{failure} The rollback did not take: release {helm.release} is {back['status']} at "
                    f"revision {back['revision_after']}.",
                    report,
                )
            undone.append(f"rolled back to revision {target}")
        if values_changed:
            restore_file(values_file)
            undone.append("the values file is restored")
    except (HelmError, ValuesError, OSError) as exc:
        return StepFailed(f"{failure} The undo failed: {exc}", report)
    if not undone:
        return StepFailed(f"{failure} Nothing to undo (no revision made, the values file unchanged).", report)
    return StepFailed(f"{failure} Undone: {'; '.join(undone)}.", report)


# -- drift ---------------------------------------------------------------------------------------------
def check_release(helm: HelmCli, recover: bool = False, check_mode: bool = False) -> tuple:
    """(history, pending, recovered): StepFailed on a missing release, or a pending one unless
    ``recover``, which rolls it back to its last deployed revision and reads the history again."""
    history = read_history(helm)
    pending = pending_status(history)
    if pending is None:
        return history, None, None
    if not recover:
        raise StepFailed(pending_message(helm, pending), pending=pending)
    try:
        recovered = recover_pending(helm, check_mode)
    except HelmError as exc:
        raise StepFailed(str(exc), pending=pending) from None
    return read_history(helm), pending, recovered


def drift(
    helm: HelmCli,
    open_client: Callable[[], ClusterClient],
    drift_params: dict,
    chart_path: str | None = None,
    lease: dict | None = None,
    keep_lease: bool = False,
    correcting: bool = False,
    require_none: bool = False,
    recover: bool = False,
    check_mode: bool = False,
) -> dict:
    """Detect drift (module_utils/drift_gather.py). With ``chart_path`` the preflight runs first (helm,
    cluster, files, release, pending); with ``lease`` ({holder, lease_seconds, cluster_name, operation})
    the release's Lease is taken before reading and given back afterwards unless ``keep_lease`` (a
    correction of found drift holds it until its end). ``require_none`` fails when drift remains
    (the check after a correction)."""
    from ansible_collections.local_llm.tts.plugins.module_utils.drift_gather import gather_and_compare
    from ansible_collections.local_llm.tts.plugins.module_utils.lease import (
        LeaseApi,
        LeaseLocked,
        acquire_lease,
        release_lease,
    )

    state = None
    cluster = None
    if chart_path is not None:
        check_helm(helm)
        cluster, _info = reach_cluster(open_client)
        check_files(chart_path, drift_params["values_file"])
        state = release_state(check_release(helm, recover, check_mode)[0])
    leases = None
    if lease is not None:
        leases = LeaseApi(cluster or open_client())
        try:
            acquire_lease(
                leases,
                helm.namespace,
                helm.release,
                lease["holder"],
                lease_seconds=lease["lease_seconds"],
                cluster=lease.get("cluster_name") or "",
                operation=lease.get("operation") or "drift",
                check_mode=check_mode,
            )
        except LeaseLocked as exc:
            raise StepFailed(str(exc), locked=True) from None
    found = None
    try:
        found = gather_and_compare(drift_params)
    finally:
        if leases is not None and not (keep_lease and found and found["drifted"]):
            release_lease(leases, helm.namespace, helm.release, lease["holder"], check_mode=check_mode)
    report = {"drift": found["drift"], "drift_counts": found["counts"]}
    if correcting and found["drifted"]:
        report["drift_corrected"] = found["drift"]
    if require_none and found["drifted"]:
        raise StepFailed(f"drift remains after correction: {found['drift']}", report, **found)
    result = {"changed": False, **found, "tts_report": report}
    if state is not None:
        result["release"] = state
    return result


def remove_added_fields(cluster: ClusterClient, namespace: str, entries: list[dict]) -> list[str]:
    """JSON-patch ``remove`` of the live fields drift found added by hand (helm's apply leaves fields it
    never owned): deepest paths first, so list indexes stay valid. Returns what was removed."""
    added = [e for e in entries if e.get("layer") == "live" and e.get("op") == "add" and e.get("target")]
    removed = []
    for entry in sorted(added, key=lambda e: e["path"], reverse=True):
        kind, name = entry["target"]["kind"], entry["target"]["name"]
        base = (
            f"/apis/apps/v1/namespaces/{namespace}/deployments"
            if kind == "Deployment"
            else (f"/api/v1/namespaces/{namespace}/services")
        )
        response = cluster.request(
            "PATCH",
            f"{base}/{name}",
            body=[{"op": "remove", "path": entry["path"]}],
            headers={"Content-Type": "application/json-patch+json"},
        )
        data = response.read()
        response.release_conn()
        if not 200 <= response.status < 300:
            raise StepFailed(
                f"cannot remove {entry['path']} from {kind}/{name}: {response.status} "
                f"{response.reason} {data[:200]!r}"
            )
        removed.append(f"{kind}/{name} {entry['path']}")
    return removed


# -- rollback ------------------------------------------------------------------------------------------
def rollback(
    helm: HelmCli,
    open_client: Callable[[], ClusterClient],
    values_file: str,
    key: str,
    requested: int | None,
    wait: ServiceChecks,
    force: bool = False,
    restore_values: bool = False,
    check_mode: bool = False,
) -> dict:
    """The rollback runbook: history read once, the target chosen (module_utils/rollback_plan.py) and
    refused when its block repeats a known pitfall (unless ``force``), ``helm rollback``, the values
    file restored from its backup on request, then the rollout watched and /health checked (``wait``,
    without the log and the speech request)."""
    from ansible_collections.local_llm.tts.plugins.module_utils.rollback_plan import (
        choose_target,
        plan_rollback,
    )

    check_helm(helm)
    cluster, _info = reach_cluster(open_client)
    history = read_history(helm)
    state = release_state(history)
    current = state["revision"]
    try:
        target = choose_target(history, current, requested or None)
        values = helm.run_json("get", "values", helm.release, "--revision", str(target), "--all") or {}
    except HelmError as exc:
        raise StepFailed(str(exc)) from None
    plan = plan_rollback(history, current, str(state["status"]), target, values, key)
    report = {
        "history": plan["history_lines"],
        "history_revisions": history,
        "revision_before": current,
        "revision_after": current,
        "target_revision": target,
        "target_image": plan["target_image"],
        "target_chart": plan["target_chart"],
        "target_findings": plan["findings"],
        "rolled_back": False,
    }
    errors = [f for f in plan["findings"] if f["severity"] == "error"]
    if errors and not force:
        rule_ids = ", ".join(dict.fromkeys(f["rule_id"] for f in errors))
        raise StepFailed(
            f"refusing to roll back to revision {target} (image {plan['target_image']}): its {key} block has "
            f"{len(errors)} known pitfall(s): {rule_ids}. Pass --force (-e rollback_force=true) to roll back "
            "anyway, or --revision N for another revision.",
            report,
        )
    if plan["findings"] and force:
        report["forced"] = True
    backup = values_file + ".orig"
    if restore_values and not os.path.exists(backup):
        raise StepFailed(
            f"CONFIG: --restore-values: {backup} does not exist (fix makes it before its first write)", report
        )
    if not check_mode:
        try:
            helm.rollback(target)
            after = release_state(helm.history())
        except HelmError as exc:
            raise StepFailed(str(exc), report) from None
        report.update(rolled_back=True, revision_after=after["revision"])
    if restore_values:
        restored = restore_file(values_file, dry_run=check_mode)
        report["values_changed"] = restored["changed"]
    if not check_mode:
        try:
            checked = check_service(cluster, helm.namespace, wait)
        except StepFailed as exc:
            report.update(exc.report)
            raise StepFailed(
                f"Rolled back, but the service is not healthy: {exc}", report, changed=True
            ) from None
        report.update(checked["tts_report"])
    return {"changed": not check_mode or bool(report.get("values_changed")), **report, "tts_report": report}


# -- lint ----------------------------------------------------------------------------------------------
def lint(values_file: str, key: str, desired: dict | None, fail_on: str = "error") -> dict:
    """The known-pitfall checks, no cluster: the values file's block (with line numbers) and, when given,
    the desired block. Fails (LINT:) on findings at or above ``fail_on``; CONFIG: when the file cannot
    be read or parsed."""
    try:
        text = read_text(values_file)
        found = [{**f.as_dict(), "source": values_file} for f in check_values_text(text, key=key)]
    except ValuesError as exc:
        raise StepFailed(f"CONFIG: {naming_the_file(values_file, exc)}") from None
    if desired is not None:
        found += [{**f.as_dict(), "source": "tts_desired"} for f in check_block(desired, key=key)]
    report = {"lint_findings": found, "lint_finding_count": len(found)}
    threshold = SEVERITY_RANK.get(fail_on, SEVERITY_RANK["error"])
    failing = [f for f in found if SEVERITY_RANK[f["severity"]] >= threshold]
    if failing:
        rule_ids = ", ".join(dict.fromkeys(f["rule_id"] for f in failing))
        raise StepFailed(
            f"LINT: {len(failing)} known pitfall(s) of severity {fail_on} or worse ({rule_ids}); the summary "
            "lists each with its fix",
            report,
        )
    return {"changed": False, "findings": found, "tts_report": report}


# -- status --------------------------------------------------------------------------------------------
def status(
    helm: HelmCli,
    open_client: Callable[[], ClusterClient],
    deployment: str,
    service: str,
    port: int,
    health_url: str | None = None,
    events: int = 5,
    health_timeout: float = 5,
    drift_params: dict | None = None,
) -> dict:
    """One screen's facts: release (history read once, pending included), Deployment and pod, /health
    (no speech), and, with ``drift_params``, the drift counts. An unhealthy service or a drift check
    that cannot run is reported, not a failure; an unusable configuration fails (CONFIG:)."""
    from ansible_collections.local_llm.tts.plugins.module_utils.drift_gather import gather_and_compare
    from ansible_collections.local_llm.tts.plugins.module_utils.status import gather_status

    check_helm(helm)
    cluster, _info = reach_cluster(open_client)
    history = read_history(helm)
    state = release_state(history)
    pod = gather_status(cluster, helm.namespace, deployment, events)
    try:
        checks = run_checks(
            service_proxy_transport(cluster, helm.namespace, service, port),
            health_timeout,
            verify_speech=False,
            health_send=url_transport(health_url) if health_url else None,
        )
        health = checks["health"]
    except ClusterConfigError:
        raise
    except Exception as exc:  # the service's own trouble is what status reports
        health = f"cannot check: {exc}"
    report = {
        "release": helm.release,
        "namespace": helm.namespace,
        "release_status": state["status"],
        "revision": state["revision"],
        "chart": state["chart"],
        **{
            key: pod.get(key)
            for key in (
                "image",
                "rollout",
                "rolled_out",
                "deployment_found",
                "pod",
                "phase",
                "state",
                "restarts",
                "age",
                "ready",
                "node",
                "events",
            )
        },
        "tts_pod": pod.get("pod"),
        "health": health,
        "pending": pending_status(history),
        "drift_checked": False,
        "drift": [],
        "drift_counts": None,
        "drift_error": None,
    }
    if drift_params is not None:
        try:
            found = gather_and_compare({**drift_params, "check_health": False})
        except ClusterConfigError:
            raise
        except Exception as exc:  # a drift check that cannot run is reported on the screen
            report["drift_error"] = str(exc) or type(exc).__name__
        else:
            report.update(drift_checked=True, drift=found["drift"], drift_counts=found["counts"])
    return {"changed": False, **report, "tts_report": report}


# -- the modules' shared main ----------------------------------------------------------------------------
def run_step(module, step: Callable[[], dict]) -> None:
    """Run one step for an AnsibleModule: exit with its result, or fail with its message and report."""
    try:
        result = step()
    except StepFailed as exc:
        module.fail_json(
            msg=str(exc), changed=bool(exc.result.pop("changed", False)), tts_report=exc.report, **exc.result
        )
    except ClusterConfigError as exc:  # kubeconfig, context, credentials, TLS, address: exit 2
        module.fail_json(msg=str(exc), changed=False)
    except (ClusterUnavailable, HelmError, ValuesError, OSError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    except ImportError as exc:
        from ansible.module_utils.basic import missing_required_lib

        module.fail_json(msg=missing_required_lib(exc.name or "kubernetes"), changed=False)
    except Exception as exc:
        if getattr(exc, "status", None) is None:
            raise  # a bug: Ansible shows the traceback
        # The client's API errors: status and reason only, the body may echo the request.
        module.fail_json(msg=f"the API server answered {exc.status} {exc.reason}", changed=False)
    module.exit_json(**result)
