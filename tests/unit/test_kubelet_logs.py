"""LogStore: one CRI-style file per container start, read as ``GET .../pods/<name>/log`` serves it."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest

from sandbox.kubelet.logs import LogStore

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")


@pytest.fixture
def logs(tmp_path) -> LogStore:
    return LogStore(tmp_path / "logs")


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def write_file(logs: LogStore, lines: list[tuple[dt.datetime, str]]):
    path = logs.path("default", "uid-1", "web", 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{stamp(t)} {text}\n" for t, text in lines), encoding="utf-8")
    return path


def test_writer_stamps_each_line_and_splits_multi_line_writes(logs, tmp_path):
    write = logs.writer("ns", "uid-1", "web", 0)
    before = dt.datetime.now(dt.UTC)
    write("first")
    write("two\nlines")
    write("")
    write(42)
    write.close()
    after = dt.datetime.now(dt.UTC)
    path = tmp_path / "logs" / "ns" / "uid-1" / "web" / "0.log"
    assert logs.path("ns", "uid-1", "web", 0) == path
    raw = path.read_text().splitlines()
    assert [line.split(" ", 1)[1] if " " in line else None for line in raw] == [
        "first",
        "two",
        "lines",
        "",
        "42",
    ]
    for line in raw:
        text_stamp = line.split(" ", 1)[0]
        assert STAMP.fullmatch(text_stamp)
        moment = dt.datetime.strptime(text_stamp[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC)
        assert before - dt.timedelta(microseconds=1) <= moment <= after
    assert logs.read(path) == ["first", "two", "lines", "", "42"]


def test_each_restart_has_its_own_file_and_writers_append(logs):
    first = logs.writer("ns", "uid-1", "web", 0)
    first("run 0")
    first.close()
    second = logs.writer("ns", "uid-1", "web", 1)
    second("run 1")
    second.close()
    again = logs.writer("ns", "uid-1", "web", 0)
    again("run 0, more")
    again.close()
    assert logs.read(logs.path("ns", "uid-1", "web", 0)) == ["run 0", "run 0, more"]
    assert logs.read(logs.path("ns", "uid-1", "web", 1)) == ["run 1"]


def test_read_of_a_missing_file_is_empty(logs):
    assert logs.read(logs.path("ns", "nobody", "web", 0), tail_lines=3, timestamps=True) == []


def test_tail_lines(logs):
    write = logs.writer("ns", "uid", "c", 0)
    for n in range(5):
        write(f"line {n}")
    path = logs.path("ns", "uid", "c", 0)
    assert logs.read(path, tail_lines=2) == ["line 3", "line 4"]
    assert logs.read(path, tail_lines=1) == ["line 4"]
    assert logs.read(path, tail_lines=0) == []
    assert logs.read(path, tail_lines=50) == [f"line {n}" for n in range(5)]
    assert logs.read(path) == [f"line {n}" for n in range(5)]


def test_timestamps_keep_the_stamp(logs):
    t0 = dt.datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    path = write_file(logs, [(t0, "hello world")])
    assert logs.read(path, timestamps=True) == ["2030-01-02T03:04:05.678901000Z hello world"]
    assert logs.read(path) == ["hello world"]


def test_since_keeps_lines_at_or_after_the_time(logs):
    t0 = dt.datetime(2030, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
    path = write_file(logs, [(t0 + dt.timedelta(seconds=s), f"at {s}") for s in (0, 10, 20, 30)])
    assert logs.read(path, since=t0 + dt.timedelta(seconds=10)) == ["at 10", "at 20", "at 30"]
    assert logs.read(path, since=t0 + dt.timedelta(seconds=11)) == ["at 20", "at 30"]
    assert logs.read(path, since=t0 + dt.timedelta(seconds=31)) == []
    assert logs.read(path, since=t0 - dt.timedelta(days=1)) == ["at 0", "at 10", "at 20", "at 30"]
    # since and tail together: the newest lines that are also recent enough
    assert logs.read(path, since=t0 + dt.timedelta(seconds=5), tail_lines=2) == ["at 20", "at 30"]
    assert logs.read(path, since=t0 + dt.timedelta(seconds=25), tail_lines=3) == ["at 30"]


def test_limit_bytes_keeps_whole_lines_within_the_limit(logs):
    t0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    path = write_file(logs, [(t0, "aaaa"), (t0, "bbbb"), (t0, "cccc")])
    # each line costs its text plus the newline: 5 bytes
    assert logs.read(path, limit_bytes=15) == ["aaaa", "bbbb", "cccc"]
    assert logs.read(path, limit_bytes=10) == ["aaaa", "bbbb"]
    assert logs.read(path, limit_bytes=9) == ["aaaa"]
    assert logs.read(path, limit_bytes=4) == []
    # with timestamps the stamp counts too (30 bytes + space + text + newline)
    assert logs.read(path, timestamps=True, limit_bytes=36) == [f"{stamp(t0)} aaaa"]
    assert logs.read(path, timestamps=True, limit_bytes=35) == []
    # the limit applies after tail
    assert logs.read(path, tail_lines=2, limit_bytes=5) == ["bbbb"]


def test_limit_bytes_counts_utf8_bytes_not_characters(logs):
    t0 = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    path = write_file(logs, [(t0, "显存"), (t0, "ok")])  # 6 bytes + newline, then 3
    assert logs.read(path, limit_bytes=7) == ["显存"]
    assert logs.read(path, limit_bytes=6) == []
    assert logs.read(path, limit_bytes=10) == ["显存", "ok"]


def test_follow_yields_new_lines_as_written_and_ends_when_the_container_stops(logs):
    write = logs.writer("ns", "uid", "c", 0)
    write("before")  # already served by the caller: start_after=1
    path = logs.path("ns", "uid", "c", 0)
    first_read = threading.Event()

    def container() -> None:
        write("live 0")
        first_read.wait(2)  # the container keeps running until the follower saw its first line
        for n in (1, 2):
            write(f"live {n}")
            time.sleep(0.005)
        write("last words")  # written just before the container exits

    thread = threading.Thread(target=container, daemon=True)
    started = time.monotonic()
    thread.start()
    seen: list[tuple[str, bool]] = []
    for line in logs.follow(path, start_after=1, timestamps=False, alive=thread.is_alive, poll=0.005):
        seen.append((line, thread.is_alive()))
        first_read.set()
    assert [line for line, _ in seen] == ["live 0", "live 1", "live 2", "last words"]
    assert seen[0][1] is True  # streamed while the container ran, not read at the end
    assert not thread.is_alive() and time.monotonic() - started < 2


def test_follow_ends_at_once_for_a_stopped_container_after_the_rest_of_the_file(logs):
    write = logs.writer("ns", "uid", "c", 0)
    for n in range(4):
        write(f"line {n}")
    path = logs.path("ns", "uid", "c", 0)
    assert list(logs.follow(path, 2, timestamps=False, alive=lambda: False)) == ["line 2", "line 3"]
    stamped = list(logs.follow(path, 3, timestamps=True, alive=lambda: False))
    assert len(stamped) == 1 and STAMP.fullmatch(stamped[0].split(" ")[0]) and stamped[0].endswith(" line 3")


def test_follow_waits_for_a_file_that_does_not_exist_yet(logs):
    path = logs.path("ns", "uid", "late", 0)
    state = {"alive": True}

    def container() -> None:
        time.sleep(0.02)
        write = logs.writer("ns", "uid", "late", 0)
        write("hello")
        write.close()
        state["alive"] = False

    threading.Thread(target=container, daemon=True).start()
    assert list(logs.follow(path, 0, False, alive=lambda: state["alive"], poll=0.005)) == ["hello"]
