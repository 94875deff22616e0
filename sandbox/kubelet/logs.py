"""Container logs on disk, read the way ``GET .../pods/<name>/log`` serves them.

One file per container start: ``<root>/<namespace>/<pod-uid>/<container>/<restart>.log``,
each line ``<RFC3339Nano timestamp> <text>`` (the CRI log format without the stream tag).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path


def _stamp(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def _parse_stamp(text: str) -> dt.datetime:
    return dt.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC)


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def path(self, namespace: str, pod_uid: str, container: str, restart: int) -> Path:
        return self.root / namespace / pod_uid / container / f"{restart}.log"

    def writer(self, namespace: str, pod_uid: str, container: str, restart: int):
        path = self.path(namespace, pod_uid, container, restart)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a", encoding="utf-8")

        def write(line: str) -> None:
            with self._lock:
                for part in str(line).splitlines() or [""]:
                    handle.write(f"{_stamp()} {part}\n")
                handle.flush()

        write.close = handle.close  # type: ignore[attr-defined]
        return write

    def read(
        self,
        path: Path,
        tail_lines: int | None = None,
        since: dt.datetime | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> list[str]:
        try:
            raw = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        lines = [line for line in raw if since is None or _parse_stamp(line) >= since]
        if tail_lines is not None:
            lines = lines[-tail_lines:] if tail_lines > 0 else []
        out = [line if timestamps else line.split(" ", 1)[1] if " " in line else "" for line in lines]
        if limit_bytes is not None:
            kept, size = [], 0
            for line in out:
                size += len(line.encode()) + 1
                if size > limit_bytes:
                    break
                kept.append(line)
            out = kept
        return out

    def follow(
        self, path: Path, start_after: int, timestamps: bool, alive, poll: float = 0.1
    ) -> Iterator[str]:
        """Lines appended after the first ``start_after`` lines, until ``alive()`` is False."""
        seen = start_after
        while True:
            running = alive()
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except FileNotFoundError:
                lines = []
            for line in lines[seen:]:
                yield line if timestamps else line.split(" ", 1)[1] if " " in line else ""
            seen = max(seen, len(lines))
            if not running:
                return
            threading.Event().wait(poll)
