"""Per-host summary from ansible-runner events: stats counts, set_stats facts, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from runbooks.summary import PRODUCT_FACTS, RunRecord, build_summary, exit_code_for, format_human

REPO = Path(__file__).resolve().parents[2]


def _ok(host: str, res: dict, task: str = "Publish", role: str | None = None) -> dict:
    # Trimmed from a real ansible-runner 2.4.3 runner_on_ok event of ansible.builtin.set_stats.
    data = {"host": host, "task": task, "task_action": "ansible.builtin.set_stats", "res": res}
    if role:
        data["role"] = role
    return {"event": "runner_on_ok", "event_data": data}


def _stats(event_data: dict) -> dict:
    base = {"changed": {}, "dark": {}, "failures": {}, "ignored": {}, "ok": {}, "processed": {}}
    base.update({"rescued": {}, "skipped": {}, "artifact_data": {}})
    return {"event": "playbook_on_stats", "event_data": {**base, **event_data}}


def _failed(host: str, msg: str, ignore_errors: bool | None = None) -> dict:
    res = {"msg": msg, "changed": False, "_ansible_no_log": False}
    return {
        "event": "runner_on_failed",
        "event_data": {"host": host, "task": "Fail", "res": res, "ignore_errors": ignore_errors},
    }


def _set_stats(data: dict, per_host: bool = True, aggregate: bool = True) -> dict:
    return {"changed": False, "ansible_stats": {"data": data, "per_host": per_host, "aggregate": aggregate}}


def _record(*events: dict) -> RunRecord:
    record = RunRecord()
    for event in events:
        record.observe(event)
    return record


def test_per_host_set_stats_facts_and_counts_make_the_json_document():
    record = _record(
        _ok("sandbox", _set_stats({"revision_before": 1, "revision_after": 2})),
        _ok("sandbox", _set_stats({"health": "ok", "speech_latency_ms": [812]})),
        _ok("sandbox", _set_stats({"values_changed": True, "tts_pod": "local-llm-tts-abc"})),
        _stats({"ok": {"sandbox": 12}, "changed": {"sandbox": 3}, "processed": {"sandbox": 1}}),
    )
    summary = build_summary("fix", record, "/repo/artifacts/x-fix")
    assert summary["command"] == "fix" and summary["status"] == "ok"
    assert summary["artifacts"] == "/repo/artifacts/x-fix"
    host = summary["hosts"]["sandbox"]
    assert (host["ok"], host["changed"], host["failed"]) == (12, 3, 0)
    assert (host["revision_before"], host["revision_after"], host["health"]) == (1, 2, "ok")
    assert host["diagnosis"] is None and host["rolled_back"] is None and host["error"] is None
    assert set(PRODUCT_FACTS) <= set(host)
    assert json.loads(json.dumps(summary)) == summary
    assert exit_code_for(summary["hosts"]) == 0


def test_a_fact_published_twice_keeps_the_later_value_not_the_sum():
    record = _record(
        _ok("h", _set_stats({"revision_after": 2, "health": "starting", "extra": {"a": 1}})),
        _ok("h", _set_stats({"revision_after": 1, "health": "ok", "extra": {"b": 2}})),
        _stats({"ok": {"h": 2}}),
    )
    host = build_summary("fix", record, None)["hosts"]["h"]
    assert (host["revision_after"], host["health"], host["extra"]) == (1, "ok", {"a": 1, "b": 2})


def test_run_wide_set_stats_come_from_artifact_data():
    record = _record(
        _ok("h", _set_stats({"note": "x"}, per_host=False)),
        _stats({"ok": {"h": 1}, "artifact_data": {"note": "x"}}),
    )
    summary = build_summary("fix", record, None)
    assert summary["run_facts"] == {"note": "x"} and "note" not in summary["hosts"]["h"]


def test_set_stats_in_a_loop_is_read_from_each_item():
    res = {"changed": False, "results": [_set_stats({"tts_pod": "p1"}), _set_stats({"health": "ok"})]}
    host = build_summary("fix", _record(_ok("h", res), _stats({"ok": {"h": 1}})), None)["hosts"]["h"]
    assert (host["tts_pod"], host["health"]) == ("p1", "ok")


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        ({}, 0),
        ({"a": "helm upgrade failed"}, 1),
        ({"a": "CONFIG: values file /x/values.yaml does not exist"}, 2),
        ({"a": "CONFIG: context 'nope' not found", "b": "CONFIG: 401 Unauthorized"}, 2),
        ({"a": "CONFIG: context 'nope' not found", "b": "rollout timed out"}, 1),
    ],
)
def test_exit_code_maps_config_failures_to_2(failures, expected):
    events = [_failed(host, msg) for host, msg in failures.items()]
    counts = {"ok": {"a": 1, "b": 1}, "failures": dict.fromkeys(failures, 1)}
    summary = build_summary("fix", _record(*events, _stats(counts)), None)
    assert exit_code_for(summary["hosts"]) == expected
    assert summary["status"] == ("ok" if expected == 0 else "failed")
    for host, msg in failures.items():
        assert summary["hosts"][host]["error"] == msg


def test_unreachable_is_a_host_failure_and_ignored_errors_are_not():
    unreachable = {"event": "runner_on_unreachable", "event_data": {"host": "b", "res": {"msg": "no route"}}}
    record = _record(
        _failed("a", "CONFIG: tolerated", ignore_errors=True),
        unreachable,
        _stats({"ok": {"a": 2}, "dark": {"b": 1}, "ignored": {"a": 1}}),
    )
    hosts = build_summary("fix", record, None)["hosts"]
    assert (
        hosts["a"]["error"] is None and hosts["b"]["unreachable"] == 1 and hosts["b"]["error"] == "no route"
    )
    assert exit_code_for(hosts) == 1


def test_a_failure_rescued_earlier_does_not_hide_the_final_message():
    record = _record(
        _failed("a", "CONFIG: first try"),
        _ok("a", _set_stats({"diagnosis": "pod crash-looped", "rolled_back": True})),
        _failed("a", "pod crash-looped Rolled back; the values file is restored."),
        _stats({"ok": {"a": 5}, "failures": {"a": 1}, "rescued": {"a": 1}}),
    )
    summary = build_summary("fix", record, "art")
    host = summary["hosts"]["a"]
    assert host["error"].startswith("pod crash-looped") and exit_code_for(summary["hosts"]) == 1
    text = format_human(summary)
    assert "diagnosis: pod crash-looped" in text and "rolled back yes" in text and "fix: failed" in text


def _timed(event: dict, start: str, end: str) -> dict:
    event["event_data"].update(start=f"2026-11-26T10:00:{start}+00:00", end=f"2026-11-26T10:00:{end}+00:00")
    return event


def test_each_hosts_window_runs_from_its_first_task_start_to_its_last_task_end():
    record = _record(
        _timed(_ok("east", _set_stats({})), "01.000", "02.500"),
        _timed(_ok("west", _set_stats({})), "01.200", "03.000"),
        _timed(_failed("east", "boom"), "09.000", "11.250"),
        _ok("west", _set_stats({})),  # no times: says nothing about the window
        _stats({"ok": {"east": 1, "west": 2}, "failures": {"east": 1}}),
    )
    hosts = build_summary("drift", record, None)["hosts"]
    assert (hosts["east"]["started"], hosts["east"]["finished"]) == (
        "2026-11-26T10:00:01+00:00",
        "2026-11-26T10:00:11.250000+00:00",
    )
    assert (hosts["east"]["seconds"], hosts["west"]["seconds"]) == (10.2, 1.8)
    assert "east  ok=1 changed=0 failed=1 unreachable=0 skipped=0  10.2s" in format_human(
        build_summary("drift", record, None)
    )
    assert build_summary("drift", _record(_stats({"ok": {"h": 0}})), None)["hosts"]["h"]["seconds"] is None


def test_human_summary_shows_counts_and_facts():
    record = _record(
        _ok("sandbox", _set_stats({"revision_before": 1, "revision_after": 2, "health": "ok"})),
        _ok("sandbox", _set_stats({"speech_latency_ms": [812, 640], "values_changed": True})),
        _stats({"ok": {"sandbox": 12}, "changed": {"sandbox": 3}}),
    )
    text = format_human(build_summary("fix", record, "/repo/artifacts/x-fix"))
    assert "sandbox  ok=12 changed=3 failed=0" in text
    assert "revision 1 -> 2" in text and "health ok" in text and "speech 812, 640 ms" in text
    assert "values changed yes" in text and "artifacts: /repo/artifacts/x-fix" in text


def test_human_summary_shows_the_pitfalls_preflight_let_through():
    finding = {
        "rule_id": "bf16-pre-ampere",
        "severity": "warning",
        "message": "the Qwen3-TTS stage loads bfloat16 [Tesla-T4]",
        "fix": "schedule on Ampere or newer nodes",
    }
    record = _record(
        _ok("sandbox", _set_stats({"pitfall_findings": [finding]})), _stats({"ok": {"sandbox": 1}})
    )
    text = format_human(build_summary("fix", record, None))
    assert (
        "warning: bf16-pre-ampere: the Qwen3-TTS stage loads bfloat16 [Tesla-T4] "
        "Fix: schedule on Ampere or newer nodes"
    ) in text


RECORDER_PLAYBOOK = """\
- name: Record events
  hosts: all
  gather_facts: false
  tasks:
    - name: Publish per host
      ansible.builtin.set_stats:
        per_host: true
        data: {revision_before: 1, health: ok}
    - name: Publish run-wide
      ansible.builtin.set_stats:
        per_host: false
        data: {run_note: hello}
    - name: Fail with a CONFIG message
      ansible.builtin.fail:
        msg: "CONFIG: the values file does not exist"
"""


@pytest.fixture(scope="module")
def recorded_events(tmp_path_factory) -> list[dict]:
    """Real events of a tiny playbook run through ansible-runner (no network, no cluster)."""
    import ansible_runner

    root = tmp_path_factory.mktemp("recorded")
    (root / "pb.yml").write_text(RECORDER_PLAYBOOK)
    (root / "hosts.yml").write_text(
        "all:\n  hosts:\n    cluster1:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    (root / "pdd").mkdir()
    events: list[dict] = []
    ansible_runner.run(
        private_data_dir=str(root / "pdd"),
        project_dir=str(root),
        playbook=str(root / "pb.yml"),
        inventory=[str(root / "hosts.yml")],
        envvars={"PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"},
        quiet=True,
        event_handler=lambda event: events.append(event) or True,
    )
    return events


def test_ansible_runner_drops_per_host_set_stats_from_artifact_data(recorded_events):
    stats = next(e for e in recorded_events if e["event"] == "playbook_on_stats")
    # ansible-runner 2.4's callback reads only stats.custom['_run'] (per_host: false).
    assert stats["event_data"]["artifact_data"] == {"run_note": "hello"}
    published = [
        e["event_data"]["res"]["ansible_stats"]
        for e in recorded_events
        if e["event"] == "runner_on_ok" and "ansible_stats" in e["event_data"]["res"]
    ]
    assert published[0] == {
        "data": {"revision_before": 1, "health": "ok"},
        "per_host": True,
        "aggregate": True,
    }


def test_summary_from_recorded_events(recorded_events):
    summary = build_summary("fix", _record(*recorded_events), None)
    host = summary["hosts"]["cluster1"]
    assert (host["ok"], host["failed"], host["revision_before"], host["health"]) == (2, 1, 1, "ok")
    assert host["error"] == "CONFIG: the values file does not exist"
    assert summary["run_facts"] == {"run_note": "hello"}
    assert exit_code_for(summary["hosts"]) == 2 and summary["status"] == "failed"
    assert host["started"] < host["finished"] and 0 <= host["seconds"] < 60


def test_a_published_diagnosis_dict_prints_its_cause_and_the_secondary_causes():
    diagnosis = {
        "cause_id": "qwen3-tts-not-registered",
        "summary": "plain vLLM served the model",
        "evidence": "ValueError: The checkpoint you are trying to load has model type `qwen3_tts` ...",
        "fix": "serve with --omni",
        "also": [
            {
                "cause_id": "git-missing",
                "summary": "the bootstrap runs git, which the image does not have",
                "evidence": "bash: line 2: git: command not found",
                "fix": "curl the sdist",
            }
        ],
    }
    record = _record(
        _ok("a", _set_stats({"diagnosis": diagnosis, "rolled_back": True})),
        _failed("a", "rollout failed"),
        _stats({"ok": {"a": 3}, "failures": {"a": 1}}),
    )
    summary = build_summary("fix", record, None)
    assert summary["hosts"]["a"]["diagnosis"]["also"][0]["cause_id"] == "git-missing"  # JSON keeps the dict
    lines = format_human(summary).splitlines()
    assert any(
        line.strip().startswith(
            "diagnosis: qwen3-tts-not-registered: plain vLLM served the model (evidence: "
        )
        for line in lines
    )
    assert any(line.strip() == "fix: serve with --omni" for line in lines)
    also = [line.strip() for line in lines if line.strip().startswith("also: ")]
    assert also == [
        "also: git-missing: the bootstrap runs git, which the image does not have "
        "(evidence: bash: line 2: git: command not found)"
    ]


def test_a_diagnosis_without_secondary_causes_prints_no_also_line():
    diagnosis = {
        "cause_id": "oom-killed",
        "summary": "OOMKilled",
        "evidence": "terminated: OOMKilled",
        "fix": "x",
    }
    record = _record(_ok("a", _set_stats({"diagnosis": diagnosis})), _stats({"ok": {"a": 1}}))
    text = format_human(build_summary("verify", record, None))
    assert (
        "diagnosis: oom-killed: OOMKilled (evidence: terminated: OOMKilled)" in text and "also:" not in text
    )


# -- each command's human output, rendered from the facts its roles publish ---------------------------
def _human(command: str, *published: dict, failed: str | None = None) -> list[str]:
    events = [_ok("sandbox", _set_stats(data)) for data in published]
    if failed:
        events.append(_failed("sandbox", failed))
    counts = {"ok": {"sandbox": len(published)}, "failures": {"sandbox": 1} if failed else {}}
    return [
        line.strip()
        for line in format_human(build_summary(command, _record(*events, _stats(counts)), None)).splitlines()
    ]


STATUS_FACTS = {  # as roles/tts_status/tasks/report.yml publishes them
    "release": "local-llm",
    "namespace": "default",
    "release_status": "deployed",
    "revision": 1,
    "chart": "custom-chart",
    "image": "vllm/vllm-omni:v0.14.0rc1",
    "rollout": "0 of 1 updated replicas available",
    "rolled_out": False,
    "deployment_found": True,
    "pod": "local-llm-tts-5d9c-abcde",
    "tts_pod": "local-llm-tts-5d9c-abcde",
    "phase": "Running",
    "state": "CrashLoopBackOff",
    "restarts": 4,
    "age": "12m3s",
    "ready": False,
    "node": "gpu-16gb-2",
    "health": "unhealthy: HTTP 503",
    "events": ["Normal Pulled: Container image already present", "Warning BackOff (x7): Back-off restarting"],
    "drift_checked": True,
    "drift": [{"layer": "live", "op": "replace", "path": "/spec/replicas", "expected": 1, "actual": 2}],
    "drift_counts": {"values_file": 0, "release": 0, "live": 1, "health": 0},
    "drift_error": None,
}


def test_status_prints_the_screen_from_the_published_facts():
    lines = _human("status", STATUS_FACTS, {"pending": None})
    for expected in (
        "release   local-llm (namespace default)",
        "revision  1 deployed",
        "chart     custom-chart",
        "image     vllm/vllm-omni:v0.14.0rc1",
        "rollout   0 of 1 updated replicas available",
        "pod       local-llm-tts-5d9c-abcde on gpu-16gb-2",
        "phase     Running (CrashLoopBackOff)",
        "ready     no",
        "restarts  4",
        "age       12m3s",
        "health    unhealthy: HTTP 503",
        "drift     live 1",
        "pending   none",
        "events    (last 2, oldest first)",
        "Normal Pulled: Container image already present",
        "Warning BackOff (x7): Back-off restarting",
    ):
        assert expected in lines, (expected, lines)
    # the screen carries pod, health and the drift summary: no second "pod ..., health ..." line, no entries
    assert not any(line.startswith(("pod local-llm", "drift:")) for line in lines), lines


def test_status_shows_a_pending_release_and_a_drift_check_that_could_not_run():
    facts = {**STATUS_FACTS, "drift_checked": False, "drift": [], "drift_counts": None}
    pending = {"status": "pending-upgrade", "revision": 3, "rollback_to": 2}
    lines = _human("status", {**facts, "drift_error": "values file /x does not exist"}, {"pending": pending})
    assert "drift     not checked: values file /x does not exist" in lines
    assert "pending   pending-upgrade at revision 3 (--recover-pending rolls back to 2)" in lines
    assert "drift     not checked" in _human("status", {**facts, "drift_error": None})


DRIFT_ENTRIES = [
    {
        "layer": "values_file",
        "op": "replace",
        "path": "/tts/image/tag",
        "expected": "v0.14.0",
        "actual": "v0.14.1",
    },
    {
        "layer": "live",
        "op": "add",
        "path": "/spec/template/spec/containers/0/env/1",
        "expected": None,
        "actual": {"name": "DEBUG", "value": "1"},
        "target": {"kind": "Deployment", "name": "local-llm-tts"},
    },
    {
        "layer": "health",
        "op": "replace",
        "path": "/pod/ready",
        "expected": True,
        "actual": False,
        "target": {"kind": "Pod", "name": "local-llm-tts-x"},
        "detail": "readiness probe failing",
    },
]


def test_drift_prints_every_entry_with_its_layer_path_expected_and_actual_and_the_counts():
    counts = {"values_file": 1, "release": 0, "live": 1, "health": 1}
    lines = _human("drift", {"drift": DRIFT_ENTRIES, "drift_counts": counts})
    assert "drift: 3 entries (values_file 1, release 0, live 1, health 1)" in lines
    assert 'values_file  replace /tts/image/tag: expected "v0.14.0", actual "v0.14.1"' in lines
    assert (
        "live  Deployment/local-llm-tts add /spec/template/spec/containers/0/env/1: "
        'expected (absent), actual {"name": "DEBUG", "value": "1"}'
    ) in lines
    assert (
        "health  Pod/local-llm-tts-x replace /pod/ready: expected true, actual false "
        "(readiness probe failing)"
    ) in lines
    clean = _human("drift", {"drift": [], "drift_counts": dict.fromkeys(counts, 0)})
    assert "drift: 0 entries (values_file 0, release 0, live 0, health 0)" in clean


def test_drift_fix_prints_what_it_corrected_and_long_values_are_cut():
    long_args = [f"--flag-{n}" for n in range(40)]
    entry = {
        "layer": "release",
        "op": "replace",
        "path": "/tts/extraArgs",
        "expected": [],
        "actual": long_args,
    }
    counts = {"values_file": 0, "release": 0, "live": 0, "health": 0}
    lines = _human("drift", {"drift_corrected": [entry]}, {"drift": [], "drift_counts": counts})
    assert "corrected: 1 entry" in lines
    corrected = next(line for line in lines if line.startswith("release  replace /tts/extraArgs"))
    assert corrected.endswith("...") and len(corrected) < 200


LINT_FINDINGS = [  # as roles/tts_lint/tasks/report.yml publishes them (pitfalls findings + source)
    {
        "rule_id": "prerelease-image",
        "severity": "error",
        "message": "the plan requires the stable image",
        "fix": 'set tts.image to vllm/vllm-openai tag "v0.14.0"',
        "path": "tts.image.tag",
        "line": 362,
        "source": "/srv/chart/values.yaml",
    },
    {
        "rule_id": "engine-flags-ignored-under-omni",
        "severity": "warning",
        "message": "engine flags do not reach the stage",
        "fix": "use --stage-configs-path",
        "path": "tts.extraArgs",
        "line": None,
        "source": "tts_desired",
    },
]


def test_lint_prints_each_finding_with_rule_source_line_severity_message_and_fix():
    failure = "LINT: 1 known pitfall(s) of severity error or worse (prerelease-image)"
    lines = _human("lint", {"lint_findings": LINT_FINDINGS, "lint_finding_count": 2}, failed=failure)
    assert "lint: 2 finding(s) (1 error, 1 warning)" in lines
    assert (
        "/srv/chart/values.yaml:362: error: prerelease-image: the plan requires the stable image "
        'Fix: set tts.image to vllm/vllm-openai tag "v0.14.0"'
    ) in lines
    assert (
        "tts_desired (tts.extraArgs): warning: engine-flags-ignored-under-omni: engine flags do not reach "
        "the stage Fix: use --stage-configs-path"
    ) in lines
    assert f"error: {failure}" in lines
    assert "lint: no known pitfalls" in _human("lint", {"lint_findings": [], "lint_finding_count": 0})


HISTORY = [  # helm history -o json, as rollback_plan returns it
    {"revision": 1, "status": "superseded", "chart": "custom-chart-0.1.0", "description": "Install complete"},
    {"revision": 2, "status": "deployed", "chart": "custom-chart-0.1.0", "description": "Upgrade complete"},
]


def test_rollback_prints_the_history_with_the_current_and_target_revisions_and_the_target():
    plan = {
        "history": [
            "1  superseded  custom-chart-0.1.0  Install complete",
            "2  deployed  custom-chart-0.1.0  Upgrade complete",
        ],
        "history_revisions": HISTORY,
        "revision_before": 2,
        "target_revision": 1,
        "target_image": "vllm/vllm-omni:v0.14.0rc1",
        "target_chart": "custom-chart-0.1.0",
        "target_findings": [{**LINT_FINDINGS[0], "source": None, "line": None}],
    }
    failure = "refusing to roll back to revision 1 (image vllm/vllm-omni:v0.14.0rc1): ... prerelease-image."
    lines = _human("rollback", plan, failed=failure)
    assert "history: 2 revision(s)" in lines
    assert "REV  STATUS      CHART               DESCRIPTION" in lines
    assert "1    superseded  custom-chart-0.1.0  Install complete  <- target" in lines
    assert "2    deployed    custom-chart-0.1.0  Upgrade complete  <- current" in lines
    assert "target: revision 1 (custom-chart-0.1.0, vllm/vllm-omni:v0.14.0rc1), 1 known pitfall(s)" in lines
    assert any(line.startswith("tts.image.tag: error: prerelease-image: ") for line in lines), lines
    assert f"error: {failure}" in lines
    assert not any(line.startswith("revision 2 ->") for line in lines)  # refused: no revision after

    forced = _human("rollback", plan, {"forced": True}, {"rolled_back": True, "revision_after": 3})
    assert any(line.endswith("1 known pitfall(s), rolled back to anyway (--force)") for line in forced), (
        forced
    )
    assert "revision 2 -> 3" in forced and any("rolled back yes" in line for line in forced)
    # only the lines (an older publication): shown as they are
    lines = _human("rollback", {"history": plan["history"], "target_revision": 1, "revision_before": 2})
    assert "2  deployed  custom-chart-0.1.0  Upgrade complete" in lines and "target: revision 1" in lines


def test_rollback_history_shows_only_the_last_revisions():
    history = [
        {"revision": n, "status": "superseded", "chart": "c-1", "description": "Upgrade complete"}
        for n in range(1, 31)
    ]
    lines = _human("rollback", {"history_revisions": history, "revision_before": 30, "target_revision": 29})
    assert "history: 30 revision(s), last 10" in lines
    assert not any(line.startswith("20 ") for line in lines) and any(line.startswith("21 ") for line in lines)


def test_fix_prints_each_speech_latency_with_the_language_of_its_text():
    speech = [  # as service_check returns it (tts_verify publishes it as speech)
        {
            "text": "你好，欢迎使用语音合成服务。",  # noqa: RUF001 (Chinese punctuation is the point)
            "language": "Chinese",
            "latency_ms": 812.3,
            "ok": True,
            "duration_seconds": 2.4,
        },
        {
            "text": "Hello, the speech service is working.",
            "language": "English",
            "latency_ms": 640.0,
            "ok": True,
        },
        {
            "text": "Bonjour à tous",
            "language": None,
            "latency_ms": 700.0,
            "ok": False,
            "error": "HTTP 500: boom",
        },
    ]
    lines = _human("fix", {"speech_latency_ms": [812.3, 640.0, 700.0], "speech": speech, "health": "ok"})
    assert (
        "speech: Chinese 812.3 ms (2.4 s audio), English 640.0 ms, "
        "'Bonjour à tous' 700.0 ms FAILED: HTTP 500: boom"
    ) in lines
    assert not any("speech 812.3" in line for line in lines)  # the unlabelled list is not repeated


def test_verify_prints_whether_it_verified():
    assert "health ok, verified yes" in _human("verify", {"health": "ok", "verified": True})
