"""Progress of a long wait, for the runner to show while the task still runs.

An Ansible module cannot print until it returns, and a rollout on a real cluster waits 10-30
minutes. So a module appends JSON lines (``{"host", "text"}``) to the file named by the
environment variable ``TTS_RUNBOOKS_PROGRESS`` (set by runner.py for each run, under its
artifacts) and the runner tails it onto the progress stream, which keeps ``--json`` on stdout
clean. Without the variable nothing is written. A line goes out when the text changes and at
least every ``interval`` seconds while it does not; each line ends with the seconds waited of the
timeout.

``describe`` (what the line says about a pod) is pure and unit-tested.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

PROGRESS_ENV = "TTS_RUNBOOKS_PROGRESS"
HEARTBEAT_SECONDS = 15.0


def describe(pod: dict | None, last_event: str | None) -> str:
    """What a progress line says of the pod: name, phase, container state, restarts, the last event."""
    if not pod:
        return "waiting for a pod of the new revision"
    status = pod.get("status") or {}
    parts = [f"pod {(pod.get('metadata') or {}).get('name', '?')} {status.get('phase') or 'Pending'}"]
    for container in status.get("containerStatuses") or []:
        state = container.get("state") or {}
        kind = next(iter(state), "waiting")
        reason = (state.get(kind) or {}).get("reason")
        ready = "ready" if container.get("ready") else "not ready"
        parts.append(f"{container.get('name')} {kind}{f' ({reason})' if reason else ''}, {ready}")
        parts.append(f"restarts {container.get('restartCount', 0)}")
    if last_event:
        parts.append(f"last event: {last_event}")
    return ", ".join(parts)


class Reporter:
    """Writes a progress line on change, and as a heartbeat every ``interval`` seconds."""

    def __init__(
        self,
        host: str | None,
        path: str | None = None,
        interval: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path if path is not None else os.environ.get(PROGRESS_ENV)
        self.host = host
        self.interval = interval
        self.clock = clock
        self.last_text: str | None = None
        self.last_at = float("-inf")

    @property
    def enabled(self) -> bool:
        return bool(self.path and self.host)

    def due_in(self) -> float:
        """Seconds until the next heartbeat is owed (a waiting loop sleeps at most this long)."""
        return max(0.0, self.last_at + self.interval - self.clock())

    def report(self, state: str, waited: float, timeout: float) -> None:
        """A line ``<state>, <waited>/<timeout> s`` when ``state`` changed or a heartbeat is due."""
        if not self.enabled:
            return
        now = self.clock()
        if state == self.last_text and now - self.last_at < self.interval:
            return
        text = f"{state}, {waited:.0f}/{timeout:.0f} s"
        line = json.dumps({"host": self.host, "text": text}) + "\n"
        try:
            with open(self.path, "a", encoding="utf-8") as stream:  # O_APPEND: one write per line
                stream.write(line)
        except OSError:
            self.path = None  # progress is a courtesy: never fail the wait for it
            return
        self.last_text, self.last_at = state, now
