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
