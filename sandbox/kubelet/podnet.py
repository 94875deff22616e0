"""Which loopback /16 a sandbox's pods get their IPs from.

Several sandboxes may run on one machine at once (tests do). Each takes its own
127.X.0.0/16 by holding an advisory lock on a file named for X for as long as it runs; the
kernel drops the lock when the process ends, so a crashed sandbox frees its range.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

FIRST, LAST = 2, 254  # 127.0/16 and 127.1/16 are left to other loopback users


class PodNetworkError(RuntimeError):
    pass


def acquire_pod_network(lock_dir: Path | None = None) -> tuple[str, int]:
    """Returns (prefix such as "127.7", the open lock fd to keep for the process's life)."""
    directory = lock_dir or Path(tempfile.gettempdir()) / "k8s-sandbox-podnet"
    directory.mkdir(mode=0o777, parents=True, exist_ok=True)
    for second_octet in range(FIRST, LAST + 1):
        fd = os.open(directory / f"127.{second_octet}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return f"127.{second_octet}", fd
    raise PodNetworkError(f"all {LAST - FIRST + 1} pod networks are taken by running sandboxes")
