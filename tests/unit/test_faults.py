"""Faults: typed parameters, the shared faults.json (atomic writes) and re-reading it on change."""

from __future__ import annotations

import json
import os

import pytest

from sandbox.faults import KNOWN, FaultError, Faults, parse_params


# -- parse_params ----------------------------------------------------------------------------
def test_defaults_when_no_parameters_are_given():
    assert parse_params("api-errors", []) == {"rate": 0.2, "code": 500}
    assert parse_params("flash-attn-build-failure", []) == {}


def test_values_take_the_type_of_the_default():
    params = parse_params("api-errors", ["rate=0.5", "code=503"])
    assert params == {"rate": 0.5, "code": 503}
    assert type(params["rate"]) is float and type(params["code"]) is int
    assert parse_params("api-errors", ["rate=1"])["rate"] == 1.0  # an int-looking float is a float
    assert parse_params("api-latency", ["ms=750"]) == {"ms": 750}
    assert parse_params("node-not-ready", ["node=gpu-16gb-1"]) == {"node": "gpu-16gb-1"}
    # only the first "=" separates: the value may contain more
    assert parse_params("image-pull-failure", ["image=repo/x:tag=1"]) == {"image": "repo/x:tag=1"}


def test_last_value_wins():
    assert parse_params("api-latency", ["ms=1", "ms=2"]) == {"ms": 2}


def test_unknown_fault():
    with pytest.raises(FaultError, match=r"unknown fault 'nope'; known: api-errors, api-latency, "):
        parse_params("nope", [])


@pytest.mark.parametrize("pair", ["rate", "speed=3", "=1"])
def test_unknown_or_malformed_parameter(pair):
    with pytest.raises(FaultError) as caught:
        parse_params("api-errors", [pair])
    assert str(caught.value) == f"fault api-errors: bad parameter {pair!r}; parameters: rate, code"


def test_a_fault_without_parameters_says_none():
    with pytest.raises(FaultError, match=r"bad parameter 'x=1'; parameters: none$"):
        parse_params("flash-attn-build-failure", ["x=1"])


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("code=5xx", "fault api-errors: code must be a int, got '5xx'"),
        ("code=1.5", "fault api-errors: code must be a int, got '1.5'"),
        ("rate=lots", "fault api-errors: rate must be a float, got 'lots'"),
    ],
)
def test_badly_typed_values(pair, message):
    with pytest.raises(FaultError) as caught:
        parse_params("api-errors", [pair])
    assert str(caught.value) == message


@pytest.mark.parametrize(("name", "key"), [("node-not-ready", "node"), ("image-pull-failure", "image")])
def test_required_string_parameters(name, key):
    with pytest.raises(FaultError, match=rf"^fault {name}: {key}=\.\.\. is required$"):
        parse_params(name, [])
    with pytest.raises(FaultError, match="is required"):
        parse_params(name, [f"{key}="])


def test_every_known_fault_has_a_description_and_parses():
    for name, (what, defaults) in KNOWN.items():
        assert what
        pairs = [f"{k}=x" for k, v in defaults.items() if isinstance(v, str)]
        assert set(parse_params(name, pairs)) == set(defaults)


# -- Faults ----------------------------------------------------------------------------------
def test_nothing_active_without_a_file(tmp_path):
    faults = Faults(tmp_path / "state")
    assert faults.active() == {} and faults.get("api-errors") is None
    assert not (tmp_path / "state").exists()  # reading creates nothing


def test_set_get_clear(tmp_path):
    faults = Faults(tmp_path)
    faults.set("node-not-ready", {"node": "gpu-1"})
    faults.set("api-latency", {"ms": 50})
    assert faults.get("node-not-ready") == {"node": "gpu-1"}
    assert faults.active() == {"node-not-ready": {"node": "gpu-1"}, "api-latency": {"ms": 50}}
    faults.set("node-not-ready", {"node": "gpu-2"})  # setting again replaces the parameters
    assert faults.get("node-not-ready") == {"node": "gpu-2"}

    faults.clear("node-not-ready")
    assert faults.active() == {"api-latency": {"ms": 50}}
    with pytest.raises(FaultError, match="fault 'node-not-ready' is not active"):
        faults.clear("node-not-ready")
    faults.clear()
    assert faults.active() == {}
    assert json.loads((tmp_path / "faults.json").read_text()) == {}


def test_active_returns_a_copy(tmp_path):
    faults = Faults(tmp_path)
    faults.set("api-latency", {"ms": 50})
    faults.active()["api-errors"] = {"rate": 1.0}
    assert faults.get("api-errors") is None


def test_file_is_replaced_atomically_and_readable_json(tmp_path):
    faults = Faults(tmp_path / "state")
    faults.set("api-errors", {"rate": 0.5, "code": 503})
    path = tmp_path / "state" / "faults.json"
    first_inode = path.stat().st_ino
    with path.open() as reader:  # a reader holding the old file keeps seeing a whole old file
        faults.set("api-latency", {"ms": 10})
        assert json.loads(reader.read()) == {"api-errors": {"code": 503, "rate": 0.5}}
    assert path.stat().st_ino != first_inode  # a new file was renamed over the old one
    assert json.loads(path.read_text()) == {
        "api-errors": {"code": 503, "rate": 0.5},
        "api-latency": {"ms": 10},
    }
    assert sorted(p.name for p in path.parent.iterdir()) == ["faults.json"]  # no temporary left


def test_changes_by_another_writer_are_seen(tmp_path):
    server, cli = Faults(tmp_path), Faults(tmp_path)
    assert server.active() == {}
    cli.set("node-not-ready", {"node": "gpu-1"})
    assert server.get("node-not-ready") == {"node": "gpu-1"}
    cli.set("node-not-ready", {"node": "gpu-2"})
    assert server.get("node-not-ready") == {"node": "gpu-2"}
    cli.clear()
    assert server.active() == {}
    (tmp_path / "faults.json").unlink()
    assert server.active() == {}


def test_a_change_within_one_timestamp_tick_is_still_seen(tmp_path):
    """File systems with coarse timestamps (whole seconds on some) give two quick writes the same
    mtime; the second must not be missed by a reader that read the first."""
    server, cli = Faults(tmp_path), Faults(tmp_path)
    path = tmp_path / "faults.json"
    cli.set("node-not-ready", {"node": "gpu-1"})
    tick = path.stat().st_mtime_ns // 1_000_000_000 * 1_000_000_000
    os.utime(path, ns=(tick, tick))
    assert server.get("node-not-ready") == {"node": "gpu-1"}
    cli.set("node-not-ready", {"node": "gpu-2"})
    os.utime(path, ns=(tick, tick))
    assert server.get("node-not-ready") == {"node": "gpu-2"}
    cli.clear()
    os.utime(path, ns=(tick, tick))
    assert server.active() == {}


def test_an_unchanged_file_is_not_read_again(tmp_path, monkeypatch):
    faults = Faults(tmp_path)
    faults.set("api-latency", {"ms": 5})
    path = tmp_path / "faults.json"
    old = path.stat().st_mtime_ns - 10_000_000_000  # written long ago
    os.utime(path, ns=(old, old))
    assert faults.get("api-latency") == {"ms": 5}
    reads = []
    real_read_text = type(path).read_text
    monkeypatch.setattr(
        type(path), "read_text", lambda self, *a, **k: reads.append(self) or real_read_text(self)
    )
    for _ in range(3):
        assert faults.get("api-latency") == {"ms": 5}
    assert reads == []


def test_an_unreadable_file_keeps_the_last_good_state(tmp_path):
    faults = Faults(tmp_path)
    faults.set("api-latency", {"ms": 5})
    assert faults.active() == {"api-latency": {"ms": 5}}
    (tmp_path / "faults.json").write_text("{not json")
    assert faults.active() == {"api-latency": {"ms": 5}}
