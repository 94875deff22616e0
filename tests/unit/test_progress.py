"""Progress during long waits: the module's lines (describe, Reporter) and the runner's tail of them."""

from __future__ import annotations

import io
import json

from ansible_collections.local_llm.tts.plugins.module_utils.progress import Reporter, describe

from runbooks.progress import ProgressPrinter, ProgressTail

POD = {
    "metadata": {"name": "local-llm-tts-5495cf6556-d8sgm"},
    "status": {
        "phase": "Running",
        "containerStatuses": [
            {"name": "tts", "ready": False, "restartCount": 2, "state": {"running": {"startedAt": "t"}}}
        ],
    },
}


def test_describe_names_pod_phase_container_restarts_and_the_last_event():
    text = describe(POD, "Unhealthy: Startup probe failed: HTTP probe failed with statuscode: 503")
    assert text == (
        "pod local-llm-tts-5495cf6556-d8sgm Running, tts running, not ready, restarts 2, "
        "last event: Unhealthy: Startup probe failed: HTTP probe failed with statuscode: 503"
    )
    waiting = {
        "status": {
            "containerStatuses": [{"name": "tts", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]
        }
    }
    assert "tts waiting (CrashLoopBackOff), not ready, restarts 0" in describe(waiting, None)
    assert describe(None, None) == "waiting for a pod of the new revision"


def test_reporter_writes_on_change_and_as_a_heartbeat_with_the_clock(tmp_path):
    path = tmp_path / "progress.jsonl"
    now = [0.0]
    reporter = Reporter("east", str(path), interval=15, clock=lambda: now[0])
    reporter.report("a", 0, 60)
    now[0] = 14.9
    reporter.report("a", 14.9, 60)  # unchanged, heartbeat not due: the clock alone is no change
    assert reporter.due_in() > 0
    now[0] = 15.0
    reporter.report("a", 15, 60)  # heartbeat
    reporter.report("b", 15.2, 60)  # change
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines == [
        {"host": "east", "text": "a, 0/60 s"},
        {"host": "east", "text": "a, 15/60 s"},
        {"host": "east", "text": "b, 15/60 s"},
    ]


def test_reporter_is_off_without_the_runner_and_never_fails_the_wait(tmp_path, monkeypatch):
    monkeypatch.delenv("TTS_RUNBOOKS_PROGRESS", raising=False)
    assert not Reporter("east").enabled
    unwritable = Reporter("east", str(tmp_path / "missing-dir" / "progress.jsonl"))
    unwritable.report("a", 1, 60)  # OSError swallowed: the rollout goes on
    assert not unwritable.enabled


def test_tail_prints_complete_lines_as_waiting_lines(tmp_path):
    path = tmp_path / "progress.jsonl"
    out = io.StringIO()
    printer = ProgressPrinter(out, hosts=["east"], clock=lambda: 12.0)
    tail = ProgressTail(path, printer.waiting)
    tail.read_new()  # no file yet: nothing
    path.write_text(json.dumps({"host": "east", "text": "pod x Pending, 3/1200 s"}) + "\n" + '{"host": "ea')
    tail.read_new()
    with path.open("a") as stream:
        stream.write('st", "text": "pod x Running, 18/1200 s"}\nnot json\n')
    tail.read_new()
    assert out.getvalue().splitlines() == [
        "[  0.0s] east  waiting  pod x Pending, 3/1200 s",
        "[  0.0s] east  waiting  pod x Running, 18/1200 s",
    ]
