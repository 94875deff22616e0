"""Server-side apply (``application/apply-patch+yaml``) and ``metadata.managedFields`` bookkeeping.

A *field set* is the set of paths a manager owns. A path is a tuple of elements:

* ``("f", name)``: a map field, FieldsV1 ``f:name``;
* ``("k", (("name", "app"), ...))``: a list-map item by its keys, FieldsV1 ``k:{"name":"app"}``;
* ``("v", '"json"')``: a set item by its compact JSON, FieldsV1 ``v:"json"``;
* ``("i", 0)``: a list index, FieldsV1 ``i:0`` (decoded for completeness; never produced here).

Members are what Kubernetes records: scalars, atomic lists and maps, empty maps and lists, and list
items themselves (FieldsV1 ``.``). A non-empty granular map is only the parent of its members.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from .listtypes import LIST_MAP_KEY_DEFAULTS, list_type, map_is_atomic
from .patch import BAD_REQUEST, UNPROCESSABLE, PatchError, json_equal

PathElement = tuple[str, Any]
FieldPath = tuple[PathElement, ...]

# Never part of a field set: identity and server-maintained fields (what Kubernetes strips too).
_IDENTITY_FIELDS = ("apiVersion", "kind")
_SYSTEM_METADATA = (
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "managedFields",
)
# Server-maintained metadata an apply request cannot set.
_SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_STATUS: PathElement = ("f", "status")
_ABSENT = object()


class ApplyConflict(Exception):
    """Apply changed fields another manager owns (HTTP 409 Conflict)."""

    def __init__(self, conflicts: list[tuple[str, str]], described: list[tuple[str, str]]) -> None:
        self.conflicts = conflicts  # (manager name, field path like ".spec.replicas")
        # Ready for Status.details.causes, as the real server sends them.
        self.causes = [
            {"reason": "FieldManagerConflict", "message": f"conflict with {who}", "field": field}
            for who, field in described
        ]
        super().__init__(_conflict_message(described))


def _conflict_message(described: list[tuple[str, str]]) -> str:
    if len(described) == 1:
        who, field = described[0]
        return f"Apply failed with 1 conflict: conflict with {who}: {field}"
    by_manager: dict[str, list[str]] = {}
    for who, field in described:
        by_manager.setdefault(who, []).append(field)
    lines = [f"Apply failed with {len(described)} conflicts: "]
    for who in sorted(by_manager):
        fields = by_manager[who]
        if len(fields) == 1:
            lines.append(f"conflicts with {who}: {fields[0]}\n")
        else:
            lines.append(f"conflicts with {who}:\n" + "".join(f"- {field}\n" for field in fields))
    return "".join(lines)


# --- field sets ----------------------------------------------------------------------------------


def field_set(obj: dict, kind: str) -> set[FieldPath]:
    """The member paths of ``obj`` (identity and system metadata excluded)."""
    return _collect(obj, kind, strict=False)


def _collect(obj: dict, kind: str, *, strict: bool) -> set[FieldPath]:
    """``strict`` rejects list-map items without their keys, as apply does for the applied config."""
    body = {k: v for k, v in obj.items() if k not in _IDENTITY_FIELDS}
    if isinstance(body.get("metadata"), dict):
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k not in _SYSTEM_METADATA}
        if not body["metadata"]:
            del body["metadata"]  # only identity fields: nothing to own
    out: set[FieldPath] = set()
    _walk(body, kind, (), (), out, strict)
    return out


def _walk(value: Any, kind: str, names: tuple[str, ...], path: FieldPath, out: set, strict: bool) -> None:
    if isinstance(value, dict):
        if path and (not value or map_is_atomic(kind, names)):
            out.add(path)
            return
        for key, child in value.items():
            _walk(child, kind, (*names, key), (*path, ("f", key)), out, strict)
        return
    if not isinstance(value, list):
        out.add(path)
        return
    semantics = list_type(kind, names)
    if semantics.kind == "atomic" or not value:
        out.add(path)
    elif semantics.kind == "set":
        out.update((*path, ("v", _compact(item))) for item in value)
    else:
        seen: set = set()
        for item in value:
            key = _key_of(item, semantics.keys)
            if strict:
                _check_item_key(item, key, semantics.keys, path, seen)
            item_path = (*path, ("k", key))
            out.add(item_path)
            for field, child in item.items() if isinstance(item, dict) else ():
                _walk(child, kind, (*names, field), (*item_path, ("f", field)), out, strict)


def _key_of(item: Any, keys: tuple[str, ...]) -> tuple:
    """The list-map key of ``item``; a missing key field takes its API default when it has one."""
    if not isinstance(item, dict):
        return ()
    values = ((name, item.get(name, LIST_MAP_KEY_DEFAULTS.get(name))) for name in keys)
    return tuple((name, value) for name, value in values if value is not None)


def _check_item_key(item: Any, key: tuple, keys: tuple[str, ...], path: FieldPath, seen: set) -> None:
    where = format_path(path)
    missing = [name for name in keys if name not in dict(key)]
    if not isinstance(item, dict) or missing:
        field = missing[0] if missing else keys[0]
        raise PatchError(
            f"{where}: associative list with keys has an element that omits key field "
            f'"{field}" (and doesn\'t have default value)',
            UNPROCESSABLE,
        )
    if key in seen:
        raise PatchError(f"{where}: duplicate entries for key {format_path((('k', key),))}", UNPROCESSABLE)
    seen.add(key)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _value_at(obj: Any, path: FieldPath, kind: str) -> Any:
    """The value at ``path``, or ``_ABSENT``."""
    node, names = obj, ()
    for element_kind, arg in path:
        if element_kind == "f":
            if not isinstance(node, dict) or arg not in node:
                return _ABSENT
            node, names = node[arg], (*names, arg)
        elif not isinstance(node, list):
            return _ABSENT
        elif element_kind == "k":
            keys = list_type(kind, names).keys
            node = next((item for item in node if _key_of(item, keys) == arg), _ABSENT)
        elif element_kind == "v":
            node = next((item for item in node if _compact(item) == arg), _ABSENT)
        else:
            node = node[arg] if 0 <= arg < len(node) else _ABSENT
        if node is _ABSENT:
            return _ABSENT
    return node


def _changed_paths(old: dict, new: dict, kind: str) -> set[FieldPath]:
    """Members of ``new`` that ``old`` lacks or holds with another value.

    A list item that exists on both sides is not itself changed; only its members can be.
    """
    old_fields = field_set(old, kind)

    def differs(path: FieldPath) -> bool:
        return path[-1][0] == "f" and not json_equal(_value_at(old, path, kind), _value_at(new, path, kind))

    return {path for path in field_set(new, kind) if path not in old_fields or differs(path)}


def format_path(path: FieldPath) -> str:
    """A path as Kubernetes prints it: ``.spec.containers[name="app"].image``."""
    parts = []
    for element_kind, arg in path:
        if element_kind == "f":
            parts.append(f".{arg}")
        elif element_kind == "k":
            parts.append("[" + ",".join(f"{name}={_compact(value)}" for name, value in arg) + "]")
        elif element_kind == "v":
            parts.append(f"[={arg}]")
        else:
            parts.append(f"[{arg}]")
    return "".join(parts)


# --- FieldsV1 ------------------------------------------------------------------------------------

_ELEMENT_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}


def encode_fields_v1(paths: set[FieldPath]) -> dict:
    tree: dict = {}
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    for path in paths:
        node = tree
        for element in path:
            node = node[element]
        if node:  # a member that also has members below it is marked with "."
            node["."] = {}
    return _render(tree)


def _render(tree: dict) -> dict:
    rendered: dict = {".": {}} if "." in tree else {}
    elements = sorted((e for e in tree if e != "."), key=lambda e: (_ELEMENT_ORDER[e[0]], _element_text(e)))
    for element in elements:
        rendered[_element_text(element)] = _render(tree[element])
    return rendered


def _element_text(element: PathElement) -> str:
    element_kind, arg = element
    if element_kind == "k":
        return "k:" + _compact(dict(arg))
    return f"{element_kind}:{arg}"


def decode_fields_v1(fields: dict, prefix: FieldPath = ()) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    for text, children in fields.items():
        if text == ".":
            if prefix:
                paths.add(prefix)
            continue
        path = (*prefix, _parse_element(text))
        if children:
            paths |= decode_fields_v1(children, path)
        else:
            paths.add(path)
    return paths


def _parse_element(text: str) -> PathElement:
    element_kind, _, arg = text.partition(":")
    if element_kind == "f":
        return ("f", arg)
    if element_kind == "k":
        return ("k", tuple(json.loads(arg).items()))
    if element_kind == "v":
        return ("v", _compact(json.loads(arg)))
    if element_kind == "i":
        return ("i", int(arg))
    raise ValueError(f"unknown FieldsV1 path element {text!r}")


# --- managedFields entries -----------------------------------------------------------------------


@dataclass
class _Entry:
    manager: str
    operation: str  # "Apply" | "Update"
    api_version: str
    subresource: str
    time: str | None
    fields: set[FieldPath]

    @property
    def identity(self) -> tuple[str, str, str, str]:
        # Kubernetes keys Update entries by API version too, but one Apply entry serves all versions.
        version = self.api_version if self.operation == "Update" else ""
        return (self.manager, self.operation, self.subresource, version)

    def describe(self) -> str:
        """The manager as Kubernetes names it in conflict messages."""
        text = json.dumps(self.manager, ensure_ascii=False)
        if self.subresource:
            text += f' with subresource "{self.subresource}"'
        if self.operation == "Update":
            text += f" using {self.api_version}"
        return text

    def encode(self) -> dict:
        entry = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode_fields_v1(self.fields),
        }
        if self.time is None:
            del entry["time"]
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


def _decode_entries(obj: dict | None) -> dict[tuple, _Entry]:
    """The entries of ``obj``'s managedFields; unreadable managedFields count as none, as in Kubernetes."""
    metadata = (obj or {}).get("metadata") or {}
    entries: dict[tuple, _Entry] = {}
    try:
        for raw in metadata.get("managedFields") or []:
            entry = _Entry(
                manager=raw.get("manager", ""),
                operation=raw["operation"],
                api_version=raw.get("apiVersion", ""),
                subresource=raw.get("subresource", ""),
                time=raw.get("time"),
                fields=decode_fields_v1(raw.get("fieldsV1") or {}),
            )
            entries[entry.identity] = entry
    except (AttributeError, KeyError, TypeError, ValueError):
        return {}
    return entries


def _with_entries(obj: dict, entries: dict[tuple, _Entry]) -> dict:
    """``obj`` with managedFields set from ``entries`` (sorted like Kubernetes: operation, time, manager)."""
    live = [entry for entry in entries.values() if entry.fields]
    live.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    metadata = obj.setdefault("metadata", {})
    if live:
        metadata["managedFields"] = [entry.encode() for entry in live]
    else:
        metadata.pop("managedFields", None)
    return obj


def _without_managed_fields(obj: dict | None) -> dict:
    body = copy.deepcopy(obj) if obj else {}
    if isinstance(body.get("metadata"), dict):
        body["metadata"].pop("managedFields", None)
    return body


# --- server-side apply ---------------------------------------------------------------------------


def server_side_apply(
    live: dict | None, applied: dict, kind: str, manager: str, force: bool, now: str
) -> dict:
    """Apply ``applied`` (the parsed apply-patch body) to ``live`` (None: create) for ``manager``."""
    if (applied.get("metadata") or {}).get("managedFields"):
        raise PatchError("metadata.managedFields must be nil", BAD_REQUEST)
    config = _apply_config(applied)
    live_body = _without_managed_fields(live)
    entries = _decode_entries(live)
    merged = _merge(copy.deepcopy(live_body), config, kind, ())  # pruning below edits it in place
    applied_fields = _collect(config, kind, strict=True)
    changed = _changed_paths(live_body, merged, kind)

    me = _Entry(manager, "Apply", applied.get("apiVersion", ""), "", now, applied_fields)
    clashes = sorted(
        (entry.describe(), format_path(path), entry.manager)
        for entry in entries.values()
        if entry.identity != me.identity
        for path in entry.fields & changed
    )
    if clashes and not force:
        raise ApplyConflict(
            [(name, field) for _, field, name in clashes], [(who, f) for who, f, _ in clashes]
        )
    for entry in entries.values():
        entry.fields -= changed  # force: the applier takes these fields over
    previous = entries.get(me.identity)
    entries[me.identity] = me

    owned = set().union(*(entry.fields for entry in entries.values()))
    released = (previous.fields if previous else set()) - owned
    _prune(merged, released, owned, kind)
    if previous is not None and previous.time and merged == live_body:
        me.time = previous.time  # a no-op apply leaves the object, and so its resourceVersion, untouched
    return _with_entries(merged, entries)


def _apply_config(applied: dict) -> dict:
    """The applied object without nulls, status and server-maintained metadata."""
    config = _without_nulls(copy.deepcopy(applied))
    config.pop("status", None)  # applying to the main resource never sets status
    if isinstance(config.get("metadata"), dict):
        for name in _SERVER_METADATA:
            config["metadata"].pop(name, None)
    return config


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _merge(live: Any, config: Any, kind: str, names: tuple[str, ...]) -> Any:
    """Structured merge: the applied config wins; live values it does not mention stay."""
    if isinstance(config, dict):
        if not isinstance(live, dict) or map_is_atomic(kind, names):
            return config
        merged = dict(live)
        for key, value in config.items():
            merged[key] = _merge(live.get(key), value, kind, (*names, key))
        return merged
    if isinstance(config, list) and isinstance(live, list):
        semantics = list_type(kind, names)
        if semantics.kind == "map":
            live_by_key: dict[tuple, Any] = {}
            for item in live:
                live_by_key.setdefault(_key_of(item, semantics.keys), item)
            applied_keys = [_key_of(item, semantics.keys) for item in config]
            # Applied items in applied order, then the items only others have.
            merged_items = [
                _merge(live_by_key.get(key), item, kind, names)
                for key, item in zip(applied_keys, config, strict=True)
            ]
            return merged_items + [item for item in live if _key_of(item, semantics.keys) not in applied_keys]
        if semantics.kind == "set":
            return config + [item for item in live if item not in config]
    return config


def _prune(obj: dict, released: set[FieldPath], owned: set[FieldPath], kind: str) -> None:
    """Remove released fields nobody owns; a field with an owned member below it stays."""
    owned_ancestors = {path[:i] for path in owned for i in range(1, len(path))}
    for path in sorted(released, key=len):
        if path in owned_ancestors or _is_key_field_of_kept_item(path, released):
            continue
        _remove(obj, path, kind)
        _drop_empty_ancestors(obj, path, owned, kind)


def _is_key_field_of_kept_item(path: FieldPath, released: set[FieldPath]) -> bool:
    """A list-map item's key fields go only with the item itself."""
    if len(path) < 2 or path[-2][0] != "k" or path[:-1] in released:
        return False
    return path[-1][1] in dict(path[-2][1])


def _remove(obj: dict, path: FieldPath, kind: str) -> None:
    parent = _value_at(obj, path[:-1], kind)
    element_kind, arg = path[-1]
    if element_kind == "f" and isinstance(parent, dict):
        parent.pop(arg, None)
    elif isinstance(parent, list):
        names = tuple(name for kind_, name in path if kind_ == "f")
        keys = list_type(kind, names).keys
        parent[:] = [item for item in parent if not _matches(item, element_kind, arg, keys)]


def _matches(item: Any, element_kind: str, arg: Any, keys: tuple[str, ...]) -> bool:
    if element_kind == "k":
        return _key_of(item, keys) == arg
    return element_kind == "v" and _compact(item) == arg


def _drop_empty_ancestors(obj: dict, path: FieldPath, owned: set[FieldPath], kind: str) -> None:
    """Maps and lists emptied by pruning disappear, unless someone owns them as they are."""
    for depth in range(len(path) - 1, 0, -1):
        ancestor = path[:depth]
        value = _value_at(obj, ancestor, kind)
        if ancestor[-1][0] != "f" or value not in ({}, []) or ancestor in owned:
            return
        _remove(obj, ancestor, kind)


# --- update bookkeeping --------------------------------------------------------------------------


def track_update(
    old: dict | None, new: dict, kind: str, manager: str, now: str, subresource: str = ""
) -> dict:
    """``new`` with managedFields saying ``manager`` wrote what changed since ``old`` (None: create)."""
    result = copy.deepcopy(new)
    sent = (result.get("metadata") or {}).get("managedFields")
    if sent == [{}]:  # the documented way for a client to clear managedFields
        result["metadata"].pop("managedFields")
        return result
    # Clients that send no managedFields keep the stored ones; clients that send some replace them.
    entries = _decode_entries(result) or _decode_entries(old)
    changed = {
        path
        for path in _changed_paths(_without_managed_fields(old), _without_managed_fields(result), kind)
        if _belongs_to(path, subresource)
    }
    me = _Entry(manager, "Update", result.get("apiVersion", ""), subresource, now, set())
    for entry in entries.values():
        entry.fields -= changed
    if changed:
        me.fields = changed | entries.get(me.identity, me).fields
        entries[me.identity] = me
    return _with_entries(result, entries)


def _belongs_to(path: FieldPath, subresource: str) -> bool:
    """Writes to the main resource never own status; writes to /status own only status."""
    in_status = path[0] == _STATUS
    if subresource == "":
        return not in_status
    return in_status if subresource == "status" else True
