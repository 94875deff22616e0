"""ansible-runner events → one readable line per task and host, as results arrive.

    [  4.2s] sandbox  ok       tts_values : Set the tts block of the values file
    [  9.8s] sandbox  FAILED   tts_preflight : Check the cluster
                      msg: CONFIG: cannot reach the API server at https://127.0.0.1:9

Ansible's own output is never shown here (``-v`` shows it instead of these lines).
"""

from __future__ import annotations

import difflib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TextIO

import yaml

from runbooks.artifacts import scrub_text
from runbooks.summary import failure_message

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_STATUS_WIDTH = 8
_RESULT_WORDS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "FAILED",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "UNREACH",
    "runner_on_async_failed": "FAILED",
}


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text).replace("\r", "")


def task_label(event_data: dict) -> str:
    """``role : task`` as ansible prints it."""
    task = event_data.get("task") or event_data.get("name") or "(unnamed task)"
    role = event_data.get("role")
    return f"{role} : {task}" if role else str(task)


class ProgressPrinter:
    """Writes progress lines for events; call it with each event dict."""

    def __init__(
        self,
        stream: TextIO,
        hosts: Iterable[str] = (),
        show_diff: bool = False,
        known_secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._host_width = 8
        self.set_hosts(hosts)
        self._show_diff = show_diff
        self._secrets = set(known_secrets)
        self._clock = clock
        self._started = clock()
        self._line_open = False

    def set_hosts(self, hosts: Iterable[str]) -> None:
        """Align the host column to the longest selected host name."""
        self._host_width = max((len(h) for h in hosts), default=self._host_width)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        self._secrets |= set(secrets)

    def __call__(self, event: dict) -> None:
        for line in self.lines_for(event):
            self._stream.write(scrub_text(line, self._secrets) + "\n")
        self._stream.flush()

    def say(self, text: str, end: str = "\n") -> None:
        """A line of our own (sandbox start) with the same time prefix; ``end=""`` leaves it open."""
        prefix = "" if self._line_open else f"{self._stamp()} "
        self._stream.write(f"{prefix}{scrub_text(text, self._secrets)}{end}")
        self._line_open = not end.endswith("\n")
        self._stream.flush()

    def waiting(self, host: str, text: str) -> None:
        """A line of a module's progress while its task runs (``ProgressTail``)."""
        self(_progress_event(host, text))

    def lines_for(self, event: dict) -> list[str]:
        kind = event.get("event", "")
        data = event.get("event_data") or {}
        if kind == "playbook_on_play_start":
            return [f"{self._stamp()} PLAY {data.get('name') or data.get('pattern', '')}"]
        if kind == "playbook_on_no_hosts_matched":
            return [f"{self._stamp()} no hosts matched"]
        if kind in ("warning", "deprecated", "error", "system_warning"):
            text = strip_ansi(event.get("stdout", "")).strip()
            return [f"{self._stamp()} {line}" for line in text.splitlines() if line.strip()]
        if kind == "runner_retry":
            res = data.get("res") or {}
            attempt = f"attempt {res.get('attempts', '?')}/{res.get('retries', '?')}"
            return [self._result_line(data, "retry", f"{task_label(data)} ({attempt})")]
        if kind in _RESULT_WORDS and data.get("host"):
            return self._result_lines(kind, data)
        if kind == _PROGRESS_EVENT:
            return [self._result_line(data, "waiting", data.get("text", ""))]
        return []

    def _result_lines(self, kind: str, data: dict) -> list[str]:
        res = data.get("res") or {}
        word = _RESULT_WORDS[kind]
        if word == "ok" and res.get("changed"):
            word = "changed"
        label = task_label(data)
        if word == "FAILED" and data.get("ignore_errors"):
            label += " (ignored)"
        lines = [self._result_line(data, word, label)]
        indent = " " * (len(self._stamp()) + 1 + self._host_width + 2)
        if word in ("FAILED", "UNREACH"):
            message = failure_message(res).splitlines() or [""]
            lines.append(f"{indent}msg: {message[0]}")
            lines += [f"{indent}     {line}" for line in message[1:]]
        if self._show_diff and res.get("diff") and res.get("changed"):  # as ansible shows diffs
            lines += [f"{indent}{line}" for line in render_diff(res["diff"])]
        return lines

    def _result_line(self, data: dict, word: str, label: str) -> str:
        host = str(data.get("host", ""))
        return f"{self._stamp()} {host:<{self._host_width}}  {word:<{_STATUS_WIDTH}} {label}"

    def _stamp(self) -> str:
        return f"[{self._clock() - self._started:5.1f}s]"


_PROGRESS_EVENT = "tts_progress"  # ours, not ansible-runner's: a module's progress line
# The file modules append progress lines to, in the run's directory, and the variable that names it
# for them (the same name as in the collection's module_utils/progress.py, which reads it).
PROGRESS_FILE = "progress.jsonl"
PROGRESS_ENV = "TTS_RUNBOOKS_PROGRESS"


def _progress_event(host: str, text: str) -> dict:
    return {"event": _PROGRESS_EVENT, "event_data": {"host": host, "text": text}}


class ProgressTail:
    """Follows the progress file modules append to (module_utils/progress.py) and hands each complete
    line to ``on_line(host, text)``, from a thread, until stopped; the last lines are read on stop."""

    def __init__(self, path: Path, on_line: Callable[[str, str], None], poll_seconds: float = 0.5) -> None:
        self.path = path
        self.on_line = on_line
        self.poll_seconds = poll_seconds
        self._offset = 0
        self._lock = threading.Lock()  # read_new runs in the tail's thread and before each task result
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="progress-tail", daemon=True)

    def __enter__(self) -> ProgressTail:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.read_new()

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self.read_new()

    def read_new(self) -> None:
        with self._lock:
            try:
                with open(self.path, "rb") as stream:
                    stream.seek(self._offset)
                    chunk = stream.read()
            except FileNotFoundError:
                return
            complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits for the next read
            self._offset += len(complete)
            self._hand_on(complete)

    def _hand_on(self, complete: bytes) -> None:
        for raw in complete.splitlines():
            try:
                entry = json.loads(raw)
                self.on_line(str(entry["host"]), str(entry["text"]))
            except (ValueError, KeyError, TypeError):
                continue  # not ours or damaged: progress is a courtesy


def render_diff(diff: Any) -> list[str]:
    """Unified diff lines from a task result's ``diff`` (one dict or a list of them)."""
    entries = diff if isinstance(diff, list) else [diff]
    lines: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        if entry.get("prepared"):
            lines += strip_ansi(str(entry["prepared"])).splitlines()
            continue
        if "before" not in entry and "after" not in entry:
            continue
        before, after = _diff_text(entry.get("before")), _diff_text(entry.get("after"))
        lines += [
            line.rstrip("\n")
            for line in difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=str(entry.get("before_header", "before")),
                tofile=str(entry.get("after_header", "after")),
            )
        ]
    return lines


def _diff_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value if value.endswith("\n") or not value else value + "\n"
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False)
