"""The three PATCH content types on plain JSON-like values.

* ``application/json-patch+json``: RFC 6902, :func:`apply_json_patch`;
* ``application/merge-patch+json``: RFC 7386, :func:`apply_merge_patch`;
* ``application/strategic-merge-patch+json``: Kubernetes strategic merge patch,
  :func:`apply_strategic_merge_patch`, driven by :mod:`sandbox.apiserver.listtypes`.

Inputs are never mutated: each function works on its own deep copy and returns it.
Failures raise :class:`PatchError` carrying the HTTP status the real API server answers with
(400 for a patch that cannot be decoded, 422 for one that does not apply to the object).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .listtypes import list_type

BAD_REQUEST = 400
UNPROCESSABLE = 422


class PatchError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# --- RFC 6902 JSON Patch ---------------------------------------------------------------------------


def apply_json_patch(doc: Any, ops: Any) -> Any:
    if not isinstance(ops, list):
        raise PatchError(
            f"json: cannot unmarshal {_json_kind(ops)} into Go value of type jsonpatch.Patch", BAD_REQUEST
        )
    result = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError(
                f"json: cannot unmarshal {_json_kind(op)} into Go value of type jsonpatch.Operation",
                BAD_REQUEST,
            )
        if not isinstance(op.get("path"), str):
            raise PatchError(f"operation missing path field: {_go_json(op)}", BAD_REQUEST)
        result = _apply_operation(result, op)
    return result


def _apply_operation(doc: Any, op: dict) -> Any:
    name, path = op.get("op"), op["path"]
    if name in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f"{name} operation missing value: {_go_json(op)}", UNPROCESSABLE)
    if name in ("move", "copy") and not isinstance(op.get("from"), str):
        raise PatchError(f"{name} operation missing from field: {_go_json(op)}", UNPROCESSABLE)
    if name == "add":
        return _add(doc, path, copy.deepcopy(op["value"]), "add")
    if name == "remove":
        return _remove(doc, path, "remove")[0]
    if name == "replace":
        doc, _ = _remove(doc, path, "replace")
        return _add(doc, path, copy.deepcopy(op["value"]), "replace")
    if name == "move":
        source = op["from"]
        if path.startswith(source + "/"):
            message = f'move operation does not apply: "{path}" is a child of "{source}"'
            raise PatchError(message, UNPROCESSABLE)
        doc, value = _remove(doc, source, "move")
        return _add(doc, path, value, "move")
    if name == "copy":
        return _add(doc, path, copy.deepcopy(_get(doc, op["from"], "copy")), "copy")
    if name == "test":
        if not json_equal(_get(doc, path, "test"), op["value"]):
            raise PatchError(f"testing value {path} failed: test failed", UNPROCESSABLE)
        return doc
    raise PatchError(f"Unexpected kind: {name}", UNPROCESSABLE)


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'JSON pointer must be empty or start with a "/": "{pointer}"', UNPROCESSABLE)
    # ~1 first, then ~0, so that "~01" decodes to "~1" (RFC 6901 section 4).
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _missing(op: str, pointer: str) -> PatchError:
    message = f'{op} operation does not apply: doc is missing path: "{pointer}": missing value'
    return PatchError(message, UNPROCESSABLE)


def _index(token: str, length: int, op: str, pointer: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return length
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")) or not token.isascii():
        raise PatchError(f"Unable to access invalid index: {token}: invalid index referenced", UNPROCESSABLE)
    index = int(token)
    if index > length or (index == length and not allow_end):
        raise _missing(op, pointer)
    return index


def _container(doc: Any, tokens: list[str], op: str, pointer: str) -> Any:
    """The object or array holding the last token of ``pointer``."""
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(token, len(node), op, pointer, allow_end=False)]
        else:
            raise _missing(op, pointer)
    if not isinstance(node, (dict, list)):
        raise _missing(op, pointer)
    return node


def _get(doc: Any, pointer: str, op: str) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return doc
    node, last = _container(doc, tokens, op, pointer), tokens[-1]
    if isinstance(node, list):
        return node[_index(last, len(node), op, pointer, allow_end=False)]
    if last not in node:
        raise _missing(op, pointer)
    return node[last]


def _add(doc: Any, pointer: str, value: Any, op: str) -> Any:
    tokens = _tokens(pointer)
    if not tokens:
        return value
    node, last = _container(doc, tokens, op, pointer), tokens[-1]
    if isinstance(node, list):
        node.insert(_index(last, len(node), op, pointer, allow_end=True), value)
    else:
        node[last] = value
    return doc


def _remove(doc: Any, pointer: str, op: str) -> tuple[Any, Any]:
    """Remove the value at ``pointer``; returns (document, removed value)."""
    tokens = _tokens(pointer)
    if not tokens:
        return None, doc
    node, last = _container(doc, tokens, op, pointer), tokens[-1]
    if isinstance(node, list):
        return doc, node.pop(_index(last, len(node), op, pointer, allow_end=False))
    if last not in node:
        raise _missing(op, pointer)
    return doc, node.pop(last)


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: unlike Python ``==``, ``true`` is not ``1``; ``1`` and ``1.0`` are equal numbers."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    return type(left) is type(right) and left == right


def _json_kind(value: Any) -> str:
    """The JSON type name Go's decoder uses in "cannot unmarshal X" errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "null")


def _go_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- RFC 7386 JSON Merge Patch ---------------------------------------------------------------------


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


# --- Kubernetes strategic merge patch --------------------------------------------------------------

PATCH_DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"

_DELETED = object()  # a map patched with {"$patch": "delete"}: its parent drops the key


def apply_strategic_merge_patch(doc: Any, patch: Any, kind: str) -> dict:
    if not isinstance(patch, dict):
        raise PatchError(
            f"json: cannot unmarshal {_json_kind(patch)} into Go value of type map[string]interface {{}}",
            BAD_REQUEST,
        )
    original = copy.deepcopy(doc) if isinstance(doc, dict) else None
    merged = _merge_map(original, copy.deepcopy(patch), kind, ())
    return {} if merged is _DELETED else merged


def _merge_map(original: dict | None, patch: dict, kind: str, path: tuple[str, ...]) -> Any:
    directive = patch.get(PATCH_DIRECTIVE)
    if directive == "delete":
        return _DELETED
    if directive == "replace":
        return _merge_map(None, {k: v for k, v in patch.items() if k != PATCH_DIRECTIVE}, kind, path)
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive} in map: {_go_json(patch)}", BAD_REQUEST)

    result = dict(original or {})
    if RETAIN_KEYS in patch:
        # Applied to the live map before merging, as the API server does: keys the patch sets survive.
        retained = _directive_list(patch, RETAIN_KEYS)
        result = {k: v for k, v in result.items() if k in retained}
    for key in patch:
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            field, doomed = key.removeprefix(DELETE_FROM_PRIMITIVE_LIST), _directive_list(patch, key)
            if isinstance(result.get(field), list):
                result[field] = [item for item in result[field] if item not in doomed]
    for key, value in patch.items():
        if _is_directive(key):
            continue
        merged = _DELETED if value is None else _merge_value(result.get(key), value, kind, (*path, key))
        if merged is _DELETED:
            result.pop(key, None)
        else:
            result[key] = merged
    for key in patch:
        if key.startswith(SET_ELEMENT_ORDER):
            field = key.removeprefix(SET_ELEMENT_ORDER)
            if isinstance(result.get(field), list):
                order = _directive_list(patch, key)
                result[field] = _apply_element_order(result[field], order, kind, (*path, field))
    return result


def _is_directive(key: str) -> bool:
    prefixes = (SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST)
    return key in (PATCH_DIRECTIVE, RETAIN_KEYS) or key.startswith(prefixes)


def _directive_list(patch: dict, key: str) -> list:
    value = patch[key]
    if not isinstance(value, list):
        raise PatchError(f"invalid patch: {key} must be a list, got {_go_json(value)}", BAD_REQUEST)
    return value


def _merge_value(original: Any, patch: Any, kind: str, path: tuple[str, ...]) -> Any:
    if isinstance(patch, dict):
        return _merge_map(original if isinstance(original, dict) else None, patch, kind, path)
    if isinstance(patch, list):
        return _merge_list(original if isinstance(original, list) else [], patch, kind, path)
    return patch


def _merge_list(original: list, patch: list, kind: str, path: tuple[str, ...]) -> list:
    semantics = list_type(kind, path)
    if semantics.merge_key is not None:
        return _merge_keyed_list(original, patch, semantics.merge_key, kind, path)
    if semantics.smp_merge_primitives:
        union = list(original)
        union.extend(item for i, item in enumerate(patch) if item not in original and item not in patch[:i])
        return union
    return patch


def _merge_keyed_list(original: list, patch: list, merge_key: str, kind: str, path: tuple[str, ...]) -> list:
    for item in patch:
        if not isinstance(item, dict) or (merge_key not in item and PATCH_DIRECTIVE not in item):
            raise PatchError(
                f"map: {_go_json(item)} does not contain declared merge key: {merge_key}", UNPROCESSABLE
            )
    if any(item.get(PATCH_DIRECTIVE) == "replace" for item in patch):
        # {"$patch": "replace"} as a list item: the rest of the patch list is the whole new list.
        return _merge_keyed_list([], [i for i in patch if PATCH_DIRECTIVE not in i], merge_key, kind, path)
    doomed = [item.get(merge_key) for item in patch if item.get(PATCH_DIRECTIVE) == "delete"]
    result = [item for item in original if _merge_key_of(item, merge_key) not in doomed]
    for item in patch:
        if item.get(PATCH_DIRECTIVE) == "delete":
            continue
        key = item[merge_key]
        position = next((i for i, live in enumerate(result) if _merge_key_of(live, merge_key) == key), None)
        if position is None:
            result.append(_merge_map(None, item, kind, path))
        else:
            result[position] = _merge_map(result[position], item, kind, path)
    return result


def _merge_key_of(item: Any, merge_key: str) -> Any:
    return item.get(merge_key) if isinstance(item, dict) else None


def _apply_element_order(items: list, order: list, kind: str, path: tuple[str, ...]) -> list:
    """Sort ``items`` as ``$setElementOrder`` says.

    Items the order does not mention (added on the server side) stay right after the item they
    followed in the merged list, or at the front when nothing listed preceded them.
    """
    merge_key = list_type(kind, path).merge_key
    if merge_key is not None:
        if not all(isinstance(entry, dict) and merge_key in entry for entry in order):
            raise PatchError(
                f"invalid patch: $setElementOrder list for {'.'.join(path)} must contain the merge key "
                f"{merge_key} in every element",
                BAD_REQUEST,
            )
        wanted = [entry[merge_key] for entry in order]
        identity = [_merge_key_of(item, merge_key) for item in items]
    else:
        wanted, identity = order, items

    def rank(value: Any) -> int | None:
        return next((i for i, w in enumerate(wanted) if json_equal(w, value)), None)

    leading: list = []
    followers: dict[int, list] = {}
    listed: list[tuple[int, Any]] = []
    anchor: int | None = None
    for item, ident in zip(items, identity, strict=True):
        position = rank(ident)
        if position is None:
            (leading if anchor is None else followers.setdefault(anchor, [])).append(item)
        else:
            listed.append((position, item))
            anchor = position
    result = leading
    for position, item in sorted(listed, key=lambda pair: pair[0]):
        result.append(item)
        result.extend(followers.pop(position, []))
    return result
