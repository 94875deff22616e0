"""runbooks.locks: one local run per (inventory host, release); the loser is told the holder's pid."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from runbooks.locks import RunLocked, lock_path, read_holder_pid, run_lock

ROOT = Path(__file__).resolve().parents[2]
# A second process that takes the lock, says so, and holds it until its stdin closes.
HOLDER_SCRIPT = """
import sys
from pathlib import Path
from runbooks.locks import run_lock
with run_lock("cluster-a", "local-llm", Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def locks_dir(tmp_path) -> Path:
    return tmp_path / "artifacts" / ".locks"


@pytest.fixture
def other_process(locks_dir):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(locks_dir)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    yield holder
    if holder.poll() is None:
        holder.kill()
        holder.wait()


def test_the_second_process_is_refused_naming_the_holder_pid(locks_dir, other_process):
    with pytest.raises(RunLocked) as refused, run_lock("cluster-a", "local-llm", locks_dir):
        pytest.fail("both processes hold the lock")
    assert refused.value.pid == other_process.pid
    assert f"pid {other_process.pid}" in str(refused.value)
    assert "cluster-a" in str(refused.value) and "local-llm" in str(refused.value)


def test_the_lock_is_free_once_the_holder_exits(locks_dir, other_process):
    other_process.stdin.close()  # lets it leave its with-block and exit
    assert other_process.wait(timeout=10) == 0
    with run_lock("cluster-a", "local-llm", locks_dir) as path:
        assert read_holder_pid(path) == os.getpid()


def test_a_killed_holder_leaves_no_stale_lock(locks_dir, other_process):
    other_process.kill()  # no cleanup code runs: the kernel drops the flock
    other_process.wait()
    with run_lock("cluster-a", "local-llm", locks_dir):
        pass


def test_other_hosts_and_releases_are_independent(locks_dir, other_process):
    with run_lock("cluster-b", "local-llm", locks_dir), run_lock("cluster-a", "other-release", locks_dir):
        pass


def test_threads_contend_one_wins(locks_dir):
    """Each thread opens its own file description, so flock excludes threads of one process too."""
    start = threading.Barrier(8)
    release = threading.Event()
    outcomes: list[str] = []

    def contender() -> None:
        start.wait()
        try:
            with run_lock("cluster-a", "local-llm", locks_dir):
                outcomes.append("won")
                release.wait(10)
        except RunLocked as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=contender) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(outcomes) < len(threads) and time.monotonic() < deadline:  # the winner still holds it
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(10)
    assert outcomes.count("won") == 1
    losers = [text for text in outcomes if text != "won"]
    assert len(losers) == 7
    assert all(f"pid {os.getpid()}" in text or "pid not yet written" in text for text in losers)


def test_lock_released_on_exception_and_pid_cleared(locks_dir):
    with pytest.raises(RuntimeError), run_lock("h", "r", locks_dir):
        raise RuntimeError("the run failed")
    assert read_holder_pid(lock_path("h", "r", locks_dir)) is None
    with run_lock("h", "r", locks_dir):
        pass


def test_lock_directory_is_private_and_names_are_safe(locks_dir):
    with run_lock("prod/gpu:443", "local-llm", locks_dir) as path:
        assert path.parent == locks_dir
        assert path.name == "prod_gpu_443--local-llm.lock"
    assert stat.S_IMODE(locks_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(locks_dir.parent.stat().st_mode) == 0o700
