"""Decoding request bodies that client-go sends as ``application/vnd.kubernetes.protobuf``.

Since client-go 1.31 the typed clientsets send built-in objects as protobuf (kubectl's
``create configmap|secret|namespace|serviceaccount``, Helm's release-storage Secrets, and
DeleteOptions bodies of typed deletes). Responses need no protobuf: every client also
accepts JSON. We decode the kinds those clients send; any other kind gets a clear 415.

Wire format: the 4-byte magic ``k8s\\0`` then a ``runtime.Unknown`` message whose ``raw``
field holds the object's own protobuf. Field numbers are from k8s.io/api
``core/v1/generated.proto`` and k8s.io/apimachinery ``pkg/apis/meta/v1/generated.proto``
and ``pkg/runtime/generated.proto`` (v1.35).
"""

from __future__ import annotations

import base64
import datetime as dt
import json

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    pass


# message name -> {field number: (json name, type)}. Types: "string", "bytes", "int64",
# "int32", "bool", "time", "fieldsv1", "map<string,string>", "map<string,bytes>",
# another message name; a leading "repeated " marks repeated fields.
MESSAGES: dict[str, dict[int, tuple[str, str]]] = {
    "runtime.Unknown": {
        1: ("typeMeta", "runtime.TypeMeta"),
        2: ("raw", "bytes"),
        3: ("contentEncoding", "string"),
        4: ("contentType", "string"),
    },
    "runtime.TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "ObjectMeta": {
        1: ("name", "string"),
        2: ("generateName", "string"),
        3: ("namespace", "string"),
        4: ("selfLink", "string"),
        5: ("uid", "string"),
        6: ("resourceVersion", "string"),
        7: ("generation", "int64"),
        8: ("creationTimestamp", "time"),
        9: ("deletionTimestamp", "time"),
        10: ("deletionGracePeriodSeconds", "int64"),
        11: ("labels", "map<string,string>"),
        12: ("annotations", "map<string,string>"),
        13: ("ownerReferences", "repeated OwnerReference"),
        14: ("finalizers", "repeated string"),
        17: ("managedFields", "repeated ManagedFieldsEntry"),
    },
    "OwnerReference": {
        1: ("kind", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("controller", "bool"),
        7: ("blockOwnerDeletion", "bool"),
    },
    "ManagedFieldsEntry": {
        1: ("manager", "string"),
        2: ("operation", "string"),
        3: ("apiVersion", "string"),
        4: ("time", "time"),
        6: ("fieldsType", "string"),
        7: ("fieldsV1", "fieldsv1"),
        8: ("subresource", "string"),
    },
    "ObjectReference": {
        1: ("kind", "string"),
        2: ("namespace", "string"),
        3: ("name", "string"),
        4: ("uid", "string"),
        5: ("apiVersion", "string"),
        6: ("resourceVersion", "string"),
        7: ("fieldPath", "string"),
    },
    "LocalObjectReference": {1: ("name", "string")},
    "ConfigMap": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map<string,string>"),
        3: ("binaryData", "map<string,bytes>"),
        4: ("immutable", "bool"),
    },
    "Secret": {
        1: ("metadata", "ObjectMeta"),
        2: ("data", "map<string,bytes>"),
        3: ("type", "string"),
        4: ("stringData", "map<string,string>"),
        5: ("immutable", "bool"),
    },
    "Namespace": {
        1: ("metadata", "ObjectMeta"),
        2: ("spec", "NamespaceSpec"),
        3: ("status", "NamespaceStatus"),
    },
    "NamespaceSpec": {1: ("finalizers", "repeated string")},
    "NamespaceStatus": {1: ("phase", "string")},
    "ServiceAccount": {
        1: ("metadata", "ObjectMeta"),
        2: ("secrets", "repeated ObjectReference"),
        3: ("imagePullSecrets", "repeated LocalObjectReference"),
        4: ("automountServiceAccountToken", "bool"),
    },
    "DeleteOptions": {
        1: ("gracePeriodSeconds", "int64"),
        2: ("preconditions", "Preconditions"),
        3: ("orphanDependents", "bool"),
        4: ("propagationPolicy", "string"),
        5: ("dryRun", "repeated string"),
        6: ("ignoreStoreReadErrorWithClusterBreakingPotential", "bool"),
    },
    "Preconditions": {1: ("uid", "string"), 2: ("resourceVersion", "string")},
}

# (apiVersion, kind) a body may carry -> its message.
DECODABLE = {("v1", k): k for k in ("ConfigMap", "Secret", "Namespace", "ServiceAccount")} | {
    ("meta.k8s.io/v1", "DeleteOptions"): "DeleteOptions",
    ("v1", "DeleteOptions"): "DeleteOptions",
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(buf: bytes):
    """Yield (field number, wire type, value) for each field of a message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise ProtobufError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ProtobufError("truncated field")
        yield number, wire, value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


ZERO_TIME_SECONDS = -62135596800  # Go's time.Time{} (year 1), which JSON renders as null


def _time(buf: bytes) -> str | None:
    seconds = _signed({n: v for n, _w, v in _fields(buf)}.get(1, 0))
    if seconds <= ZERO_TIME_SECONDS:
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map_entry(buf: bytes, value_type: str) -> tuple[str, object]:
    entry = {n: v for n, _w, v in _fields(buf)}
    key = entry.get(1, b"").decode()
    raw = entry.get(2, b"")
    return key, (base64.b64encode(raw).decode() if value_type == "bytes" else raw.decode())


def _scalar(kind: str, wire: int, value):
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind in ("int64", "int32"):
        return _signed(value)
    if kind == "bool":
        return bool(value)
    if kind == "time":
        return _time(value)
    if kind == "fieldsv1":
        raw = {n: v for n, _w, v in _fields(value)}.get(1, b"{}")
        return json.loads(raw)
    return decode_message(kind, value)


def decode_message(name: str, buf: bytes) -> dict:
    schema = MESSAGES[name]
    out: dict = {}
    for number, wire, value in _fields(buf):
        if number not in schema:
            continue  # a newer field we do not know: ignored, as old servers do
        json_name, kind = schema[number]
        if kind.startswith("map<"):
            key, item = _map_entry(value, kind[len("map<string,") : -1])
            out.setdefault(json_name, {})[key] = item
        elif kind.startswith("repeated "):
            out.setdefault(json_name, []).append(_scalar(kind[len("repeated ") :], wire, value))
        else:
            decoded = _scalar(kind, wire, value)
            # Go's protobuf always writes non-pointer fields; JSON would omit their empty values.
            if decoded not in (None, ""):
                out[json_name] = decoded
    return out


def decode(body: bytes) -> dict:
    """A Kubernetes protobuf body as the equivalent JSON object."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = decode_message("runtime.Unknown", body[len(MAGIC) :])
    type_meta = envelope.get("typeMeta", {})
    api_version, kind = type_meta.get("apiVersion", ""), type_meta.get("kind", "")
    message = DECODABLE.get((api_version, kind))
    if message is None:
        raise ProtobufError(
            f"the sandbox decodes protobuf bodies only for {sorted(k for _v, k in DECODABLE)}; "
            f"send {api_version}/{kind} as application/json"
        )
    obj = decode_message(message, base64.b64decode(envelope.get("raw", "")))
    obj["apiVersion"], obj["kind"] = api_version, kind
    return obj
