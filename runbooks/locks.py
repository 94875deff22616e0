"""A local lock per (inventory host, release), so two runs on this machine never act on one release at once.

The cluster-side Lease (local_llm.tts.lease) stops runs on different machines; this lock stops a cron run
and an operator on the same machine before either starts ansible-playbook, and it costs nothing.

``fcntl.flock`` is held on ``artifacts/.locks/<host>--<release>.lock`` (directory mode 0700) for the whole
run; the kernel drops it when the process exits, however it exits, so a crashed run never leaves a stale
lock. The holder writes its pid into the file so that the loser can name it. The file is never deleted:
unlinking a lock file that another process has open and is about to lock would give two holders.

Usage::

    with run_lock(host, release):
        run_playbook(...)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator
from pathlib import Path

from runbooks import REPO_ROOT
from runbooks.artifacts import make_private_dir

LOCKS_DIR = REPO_ROOT / "artifacts" / ".locks"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RunLocked(Exception):
    """Another local run holds the lock; the message names its pid and the lock file."""

    def __init__(self, message: str, pid: int | None, path: Path) -> None:
        super().__init__(message)
        self.pid = pid
        self.path = path


def lock_path(host: str, release: str, locks_dir: Path = LOCKS_DIR) -> Path:
    """One file per (host, release); names are made filesystem-safe (host patterns may hold ':' or '/')."""
    return locks_dir / f"{_UNSAFE.sub('_', host)}--{_UNSAFE.sub('_', release)}.lock"


def read_holder_pid(path: Path) -> int | None:
    """The pid the holder wrote; None if unreadable or not yet written (it writes right after locking)."""
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def run_lock(host: str, release: str, locks_dir: Path = LOCKS_DIR) -> Iterator[Path]:
    """Hold the lock of (host, release) for the ``with`` body; raise RunLocked at once if it is taken."""
    if not locks_dir.parent.exists():
        make_private_dir(locks_dir.parent)  # artifacts/ holds run logs: private like its runs
    make_private_dir(locks_dir)
    path = lock_path(host, release, locks_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = read_holder_pid(path)
            holder = f"pid {pid}" if pid is not None else "another process (pid not yet written)"
            raise RunLocked(
                f"LOCKED: another run on {host} for release {release} is in progress ({holder}); "
                f"lock file {path}",
                pid,
                path,
            ) from None
        _write_pid(fd)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)  # no pid left behind for a run that has ended
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    os.fsync(fd)
