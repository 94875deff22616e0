"""Protobuf request bodies, built here with an independent minimal encoder of the wire format."""

from __future__ import annotations

import base64

import pytest

from sandbox.apiserver.protobuf import ProtobufError, decode


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value) -> bytes:
    if isinstance(value, bool | int):
        return _varint(number << 3) + _varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _entry(number: int, key: str, value) -> bytes:
    return _field(number, _field(1, key) + _field(2, value))


def _envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = _field(1, api_version) + _field(2, kind)
    return b"k8s\x00" + _field(1, type_meta) + _field(2, raw) + _field(3, "") + _field(4, "")


def _meta(name: str, namespace: str = "", labels: dict[str, str] | None = None) -> bytes:
    meta = _field(1, name) + _field(2, "") + _field(3, namespace)
    zero_time = _field(1, -62135596800)
    meta += _field(8, zero_time)
    for k, v in (labels or {}).items():
        meta += _entry(11, k, v)
    return meta


def test_secret_as_helm_release_storage_sends_it():
    raw = (
        _field(1, _meta("sh.helm.release.v1.local-llm.v1", "default", {"owner": "helm", "name": "local-llm"}))
        + _entry(2, "release", b"\x1f\x8b binary")
        + _field(3, "helm.sh/release.v1")
    )
    obj = decode(_envelope("v1", "Secret", raw))
    assert obj["kind"] == "Secret" and obj["apiVersion"] == "v1"
    assert obj["metadata"] == {
        "name": "sh.helm.release.v1.local-llm.v1",
        "namespace": "default",
        "labels": {"owner": "helm", "name": "local-llm"},
    }
    assert base64.b64decode(obj["data"]["release"]) == b"\x1f\x8b binary"
    assert obj["type"] == "helm.sh/release.v1"


def test_configmap_and_delete_options():
    cm = decode(_envelope("v1", "ConfigMap", _field(1, _meta("c")) + _entry(2, "a", "b") + _field(4, True)))
    assert cm["data"] == {"a": "b"} and cm["immutable"] is True
    opts = decode(
        _envelope(
            "meta.k8s.io/v1",
            "DeleteOptions",
            _field(2, _field(1, "uid-1")) + _field(4, "Foreground") + _field(5, "All"),
        )
    )
    assert opts == {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": "uid-1"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


def test_unknown_fields_are_skipped():
    raw = _field(1, _meta("c")) + _field(99, "future") + _entry(2, "k", "v")
    assert decode(_envelope("v1", "ConfigMap", raw))["data"] == {"k": "v"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not protobuf", "magic"),
        (b"k8s\x00\x0a\x05", "truncated"),
        (_envelope("apps/v1", "Deployment", b""), "send apps/v1/Deployment as application/json"),
    ],
)
def test_bad_bodies_raise_clear_errors(body, message):
    with pytest.raises(ProtobufError, match=message):
        decode(body)
