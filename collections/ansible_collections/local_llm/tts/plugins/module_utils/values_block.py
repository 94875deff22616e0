"""Rewrite one top-level block of a Helm values file, leaving every other byte alone.

The user's values.yaml is hand-written: Chinese comments, banners between services,
two list-indentation styles. A plain load/dump would reformat all of it, so `render`
parses the file once (ruamel round trip) only to learn *where* the block is, updates the
block's own node in place (comments inside it survive), dumps just that block in the
block's own indentation style and splices the new lines between the untouched prefix
and suffix. The result is re-parsed and compared before it is returned.

No Ansible imports. The text functions are pure; the file helpers at the end (atomic write,
`.orig` backup, verify-or-restore) hold the modules' whole behaviour, so the modules
`values_block` and `values_restore` stay thin and everything is unit-tested here.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import io
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml as pyyaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString, ScalarString
from ruamel.yaml.tokens import CommentToken

__all__ = [
    "ValuesError",
    "check",
    "current_block",
    "equal",
    "load_document",
    "outside_unchanged",
    "read_text",
    "render",
    "restore_file",
    "set_block_in_file",
    "to_plain",
    "unified_diff",
    "write_atomic",
]

# ruamel counts these as line breaks; splitting the same way keeps its line numbers valid.
_LINE_BREAK = re.compile(r"\r\n|[\n\r\x85\u2028\u2029]")
# A key whose value is a block scalar: content follows on more-indented lines.
_BLOCK_SCALAR_HEADER = re.compile(r"(?:^|:|-)\s+[|>][0-9+-]*\s*(?:#.*)?$")
_DEFAULT_MAPPING_INDENT = 2
# Width large enough that ruamel never folds a long string onto a second line.
_NO_WRAP = 1 << 16

Path = tuple[str, ...]


class ValuesError(Exception):
    """The values file or the requested change cannot be handled; the message says why."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line  # 1-based, when the problem has a position
        self.column = column
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(f"{message}{where}")


# ---------------------------------------------------------------------------- public API


def render(text: str, key: str, block: dict) -> str:
    """Return `text` with the top-level `key` block set to `block`; nothing else changes.

    A missing key is appended at the end after one blank line. A `key` whose value is
    null is treated like an empty mapping; any other non-mapping value is an error.
    """
    if not isinstance(block, dict):
        raise ValuesError(f"the desired {key!r} block must be a mapping, got {type(block).__name__}")
    lines = _split_lines(text)
    root = load_document(text)
    eol = _line_ending(lines)
    layout = _detect_layout(root, key)

    if root is None or key not in root:
        new_text = _append_block(text, lines, key, block, layout, eol)
    else:
        new_text = _replace_block(lines, root, key, block, layout, eol)
    _verify(text, new_text, key, block)
    return new_text


def current_block(text: str, key: str = "tts") -> dict | None:
    """The `key` block as plain data; None when the key is missing or null."""
    root = load_document(text)
    if root is None or key not in root or root[key] is None:
        return None
    value = root[key]
    if not isinstance(value, dict):
        raise _not_a_mapping(key, value, root)
    return to_plain(value)


def equal(a: Any, b: Any) -> bool:
    """Data equality as YAML would load it: 1, 1.0, True and "1" are all different."""
    return _canonical(a) == _canonical(b)


def check(text: str) -> None:
    """The plan's validation step: PyYAML's safe_load must accept the text."""
    try:
        pyyaml.safe_load(text)
    except pyyaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ValuesError(
            f"YAML check failed: {exc.problem or exc}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from exc
    except pyyaml.YAMLError as exc:
        raise ValuesError(f"YAML check failed: {exc}") from exc


def unified_diff(old: str, new: str, path: str) -> str:
    """A `diff -u` style text; marks a missing final newline like git does."""
    old_lines, new_lines = _diff_lines(old), _diff_lines(new)
    return "".join(difflib.unified_diff(old_lines, new_lines, f"{path} (original)", f"{path} (desired)"))


# ------------------------------------------------------------------------- load and locate


@dataclass
class _Layout:
    """How the file indents: mapping step and, per list path, the dash offset."""

    mapping_indent: int = _DEFAULT_MAPPING_INDENT
    own_offsets: dict[Path, int] = field(default_factory=dict)  # from the block itself
    sibling_offsets: dict[Path, int] = field(default_factory=dict)  # from other top-level blocks

    def dash_offset(self, path: Path) -> int:
        if path in self.own_offsets:
            return self.own_offsets[path]
        if path in self.sibling_offsets:
            return self.sibling_offsets[path]
        # The plan's text: lists directly under the block (extraArgs) are indented,
        # deeper ones (nodeSelectorTerms, values) sit at their key's column.
        return self.mapping_indent if len(path) == 1 else 0


def _new_yaml() -> YAML:
    yml = YAML(typ="rt")
    yml.preserve_quotes = True
    yml.width = _NO_WRAP
    return yml


def load_document(text: str) -> CommentedMap | None:
    try:
        root = _new_yaml().load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise ValuesError(
            f"malformed YAML: {exc.problem or exc.context or exc}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from exc
    except YAMLError as exc:
        raise ValuesError(f"malformed YAML: {exc}") from exc
    if root is not None and not isinstance(root, CommentedMap):
        raise ValuesError(f"the values file must be a mapping at the top level, got {type(root).__name__}")
    return root


def _split_lines(text: str) -> list[str]:
    """Lines with their terminators; the last one may have none."""
    lines, start = [], 0
    for match in _LINE_BREAK.finditer(text):
        lines.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        lines.append(text[start:])
    return lines


def _line_ending(lines: list[str]) -> str:
    """The file's own line ending (first line that has one); LF for new files."""
    for line in lines:
        body = line.rstrip("\r\n\x85\u2028\u2029")
        if body != line:
            return line[len(body) :]
    return "\n"


def _is_outside_line(line: str) -> bool:
    """Blank lines, column-0 comments and document markers belong to what follows."""
    body = line.rstrip("\r\n\x85\u2028\u2029")
    return not body.strip() or body.startswith(("#", "---", "..."))


def _block_span(lines: list[str], root: CommentedMap, key: str) -> tuple[int, int]:
    """[start, end) line indices: from the `key:` line to the block's last own line."""
    keys = list(root)
    start = root.lc.key(key)[0]
    index = keys.index(key)
    end = root.lc.key(keys[index + 1])[0] if index + 1 < len(keys) else len(lines)
    while end - 1 > start and _is_outside_line(lines[end - 1]):
        end -= 1
    return start, end


def _not_a_mapping(key: str, value: Any, root: CommentedMap) -> ValuesError:
    line, column = root.lc.key(key)
    return ValuesError(
        f"top-level key {key!r} is a {type(value).__name__}, not a mapping", line=line + 1, column=column + 1
    )


# ------------------------------------------------------------------------- indentation style


def _detect_layout(root: CommentedMap | None, key: str) -> _Layout:
    layout = _Layout()
    if root is None:
        return layout
    indents: list[int] = []
    for name, value in root.items():
        if not isinstance(value, CommentedMap) or value.fa.flow_style() or not value:
            continue
        first_key_col = value.lc.key(next(iter(value)))[1]
        target = layout.own_offsets if name == key else layout.sibling_offsets
        if name == key:
            indents.insert(0, first_key_col)
        else:
            indents.append(first_key_col)
        for path, offset in _dash_offsets(value, ()):
            target.setdefault(path, offset)
    if indents:
        layout.mapping_indent = indents[0] or _DEFAULT_MAPPING_INDENT
    return layout


def _dash_offsets(node: Any, path: Path) -> Iterator[tuple[Path, int]]:
    """(path, dash column minus parent key column) for every block list under a key."""
    if isinstance(node, CommentedMap):
        for name, value in node.items():
            child = (*path, str(name))
            if isinstance(value, CommentedSeq) and value and not value.fa.flow_style():
                key_line, key_col = node.lc.key(name)
                if value.lc.line > key_line:
                    yield child, max(value.lc.col - key_col, 0)
            yield from _dash_offsets(value, child)
    elif isinstance(node, CommentedSeq):
        for value in node:
            yield from _dash_offsets(value, (*path, "[]"))


# ------------------------------------------------------------------------- in-place update


def _to_node(value: Any) -> Any:
    """Plain data → ruamel nodes; multi-line strings become `|` literals."""
    if isinstance(value, dict):
        node = CommentedMap()
        for name, item in value.items():
            node[name] = _to_node(item)
        return node
    if isinstance(value, list | tuple):
        return CommentedSeq(_to_node(item) for item in value)
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)
    return value


def _restyle(old: Any, new: Any) -> Any:
    """The new scalar, written the way the old one was (quotes, number format)."""
    if isinstance(new, str) and "\n" in new:
        return old if isinstance(old, LiteralScalarString) and old == new else LiteralScalarString(new)
    if equal(old, new) and not isinstance(old, dict | list):
        return old  # keeps ScalarFloat widths, quoting, anchors
    if isinstance(new, str) and isinstance(old, ScalarString) and "\n" not in old:
        return type(old)(new)
    return _to_node(new)


def _update_map(node: CommentedMap, desired: dict) -> None:
    for name in [name for name in node if name not in desired]:
        del node[name]
    for name, value in desired.items():
        if name not in node:
            node[name] = _to_node(value)
        else:
            node[name] = _updated(node[name], value)
    for name in desired:  # the desired key order
        node.move_to_end(name)


def _update_seq(node: CommentedSeq, desired: list) -> None:
    old_items, old_comments = list(node), dict(node.ca.items)
    unused = list(range(len(old_items)))
    items, comments = [], {}
    for index, value in enumerate(desired):
        source = _matching_item(old_items, unused, index, value)
        if source is None:
            items.append(_to_node(value) if not isinstance(value, str) else _styled_like(old_items, value))
            continue
        unused.remove(source)
        items.append(_updated(old_items[source], value))
        if source in old_comments:
            comments[index] = old_comments[source]
    list.clear(node)
    list.extend(node, items)
    node.ca.items.clear()
    node.ca.items.update(comments)
    if node.fa.flow_style() and not old_items and items:
        node.fa.set_block_style()  # `extraArgs: []` being filled reads better as a block list


def _matching_item(old_items: list, unused: list[int], index: int, value: Any) -> int | None:
    """The old item a new one continues: an equal scalar, else a container at the same index."""
    if not isinstance(value, dict | list):
        return next((i for i in unused if equal(old_items[i], value)), None)
    if index in unused and isinstance(old_items[index], type(_to_node(value))):
        return index
    return None


def _styled_like(old_items: list, value: str) -> Any:
    """A new list string quoted like its neighbours (all of extraArgs is double-quoted)."""
    styles = [type(item) for item in old_items if isinstance(item, str) and "\n" not in item]
    if "\n" not in value and styles and issubclass(styles[-1], ScalarString):
        return styles[-1](value)
    return _to_node(value)


def _updated(old: Any, new: Any) -> Any:
    if isinstance(new, dict) and isinstance(old, CommentedMap) and not old.merge:
        _update_map(old, new)
        return old
    if isinstance(new, list | tuple) and isinstance(old, CommentedSeq):
        _update_seq(old, list(new))
        return old
    return _restyle(old, new)


# ------------------------------------------------------------------------- comments


def _comment_tokens(node: Any) -> Iterator[tuple[list, int]]:
    """Every (holder list, index) that holds a CommentToken or a list of them, recursively."""
    if not isinstance(node, CommentedMap | CommentedSeq):
        return
    holders = [node.ca.comment, *node.ca.items.values(), node.ca.end]
    for holder in holders:
        if not isinstance(holder, list):
            continue
        for index, entry in enumerate(holder):
            if entry is not None:
                yield holder, index
    for child in node.values() if isinstance(node, CommentedMap) else node:
        yield from _comment_tokens(child)


def _drop_comments_after(node: Any, end_line: int) -> None:
    """Remove comment text located at or after `end_line` (0-based): it belongs to the
    next block's banner, which stays in the untouched suffix of the file."""
    for holder, index in list(_comment_tokens(node)):
        entry = holder[index]
        if isinstance(entry, list):
            holder[index] = [kept for token in entry if (kept := _truncated(token, end_line)) is not None]
        else:
            holder[index] = _truncated(entry, end_line)


def _truncated(token: Any, end_line: int) -> CommentToken | None:
    if not isinstance(token, CommentToken) or token.start_mark is None:
        return token
    first = token.start_mark.line
    if first >= end_line:
        return None
    pieces = token.value.split("\n")
    # A leading newline only ends the node's own line: the first comment line is `first`.
    keep = end_line - first + (1 if token.value.startswith("\n") else 0)
    if len(pieces) - 1 > keep:
        token.value = "\n".join(pieces[:keep]) + "\n"
    return token


# ------------------------------------------------------------------------- dump and splice


def _compensate_eol_columns(node: Any, layout: _Layout, path: Path = (), shift: int = 0) -> None:
    """End-of-line comments are placed at their old column by ruamel, before `_indent_lists`
    moves their line right; pull them left by the same amount so they end up where they were."""
    if isinstance(node, CommentedMap):
        for name, value in node.items():
            child = (*path, str(name))
            _move_eol_comment(node.ca.items.get(name), 2, shift)
            inner = shift
            if isinstance(value, CommentedSeq) and value and not value.fa.flow_style():
                inner += layout.dash_offset(child)
            _compensate_eol_columns(value, layout, child, inner)
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            _move_eol_comment(node.ca.items.get(index), 0, shift)
            _compensate_eol_columns(value, layout, (*path, "[]"), shift)


def _move_eol_comment(entry: list | None, slot: int, shift: int) -> None:
    token = entry[slot] if entry and len(entry) > slot else None
    if shift and isinstance(token, CommentToken) and token.start_mark and not token.value.startswith("\n"):
        token.column = max(token.column - shift, 0)


def _dump_block(key: str, node: Any, layout: _Layout) -> list[str]:
    """The block as lines without terminators, in the layout's indentation style."""
    _compensate_eol_columns(node, layout)
    yml = _new_yaml()
    yml.indent(mapping=layout.mapping_indent, sequence=2, offset=0)
    stream = io.StringIO()
    wrapper = CommentedMap()
    wrapper[key] = node
    yml.dump(wrapper, stream)
    dumped = stream.getvalue().split("\n")
    if dumped and dumped[-1] == "":
        dumped.pop()
    if dumped and dumped[-1] == "...":  # ruamel ends a document after a `|+` scalar
        dumped.pop()
    return _indent_lists(dumped, layout)


def _indent_lists(lines: list[str], layout: _Layout) -> list[str]:
    """ruamel has one global list style; shift each list to the offset the file uses for it.

    The dump puts every dash at its key's column; a list whose dash sits further right in
    the original (`extraArgs:` / `    - "..."`) has its lines moved right as a unit, which
    keeps nested content and block scalars valid.
    """
    dumped = _new_yaml().load("\n".join(lines) + "\n")
    block = next(iter(dumped.values())) if dumped else None
    shifts = [0] * len(lines)
    scalar_lines = _block_scalar_lines(lines)
    for path, dash_line, dash_col in _block_lists(block, ()):
        offset = layout.dash_offset(path)
        if not offset:
            continue
        for index in _list_lines(lines, dash_line, dash_col, scalar_lines):
            shifts[index] += offset
    return [
        " " * shift + line if shift and line.strip() else line
        for line, shift in zip(lines, shifts, strict=True)
    ]


def _block_lists(node: Any, path: Path) -> Iterator[tuple[Path, int, int]]:
    if isinstance(node, CommentedMap):
        for name, value in node.items():
            child = (*path, str(name))
            is_block_list = isinstance(value, CommentedSeq) and value and not value.fa.flow_style()
            if is_block_list and value.lc.line > node.lc.key(name)[0]:
                yield child, value.lc.line, value.lc.col
            yield from _block_lists(value, child)
    elif isinstance(node, CommentedSeq):
        for value in node:
            yield from _block_lists(value, (*path, "[]"))


def _block_scalar_lines(lines: list[str]) -> set[int]:
    """Indices of content lines of `|`/`>` scalars (they may start with '#')."""
    inside: set[int] = set()
    index = 0
    while index < len(lines):
        line = lines[index]
        if index not in inside and _BLOCK_SCALAR_HEADER.search(line) and not line.lstrip().startswith("#"):
            parent_indent = len(line) - len(line.lstrip())
            index += 1
            while index < len(lines) and (
                not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > parent_indent
            ):
                inside.add(index)
                index += 1
            continue
        index += 1
    return inside


def _list_lines(lines: list[str], dash_line: int, dash_col: int, scalar_lines: set[int]) -> Iterator[int]:
    """Lines of the list starting at `dash_line`, comments excepted (they keep their column)."""
    for index in range(dash_line, len(lines)):
        line = lines[index]
        stripped = line.lstrip()
        if index in scalar_lines:
            yield index
            continue
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if indent < dash_col or (indent == dash_col and not stripped.startswith("-")):
            return
        yield index


def _replace_block(
    lines: list[str], root: CommentedMap, key: str, block: dict, layout: _Layout, eol: str
) -> str:
    node = root[key]
    if node is not None and not isinstance(node, CommentedMap):
        raise _not_a_mapping(key, node, root)
    start, end = _block_span(lines, root, key)
    keep_header = isinstance(node, CommentedMap) and not node.fa.flow_style() and bool(node)
    if node is None or node.merge:
        node = CommentedMap()  # merge keys cannot be edited key by key; write it out plainly
    _drop_comments_after(node, end)
    _update_map(node, block)
    node.fa.set_block_style()
    new_lines = _dump_block(key, node, layout)
    if keep_header:
        header = lines[start].rstrip("\r\n\x85\u2028\u2029")
        new_lines[0] = header  # keeps anchors, tags and an end-of-line comment on `key:`
    last_has_eol = lines[end - 1] != lines[end - 1].rstrip("\r\n\x85\u2028\u2029")
    body = eol.join(new_lines)
    if last_has_eol or not _loads_same_without_final_newline(body):
        body += eol
    return "".join(lines[:start]) + body + "".join(lines[end:])


def _loads_same_without_final_newline(body: str) -> bool:
    """A block at the very end of a file without a final newline keeps that style only if
    its data survives it (a closing `|` scalar would lose its last line break)."""
    return equal(to_plain(load_document(body)), to_plain(load_document(body + "\n")))


def _append_block(text: str, lines: list[str], key: str, block: dict, layout: _Layout, eol: str) -> str:
    new_lines = _dump_block(key, _to_node(block), layout)
    body = eol.join(new_lines)
    if not text.strip():
        return body + eol
    ends_with_eol = lines[-1] != lines[-1].rstrip("\r\n\x85\u2028\u2029")
    separator = (eol if not ends_with_eol else "") + ("" if _is_blank(lines[-1]) else eol)
    return text + separator + body + (eol if ends_with_eol else "")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _verify(old_text: str, new_text: str, key: str, block: dict) -> None:
    """The spliced file must load, carry the desired block and leave every other key as it was."""
    try:
        old_root, new_root = load_document(old_text), load_document(new_text)
    except ValuesError as exc:
        raise ValuesError(f"internal error: the rewritten file does not parse: {exc}") from exc
    if not equal(to_plain(new_root.get(key)), block):
        raise ValuesError(f"internal error: the rewritten {key!r} block does not load as the desired data")
    old_rest = {name: value for name, value in to_plain(old_root or {}).items() if name != key}
    new_rest = {name: value for name, value in to_plain(new_root).items() if name != key}
    if not equal(old_rest, new_rest) or [n for n in (old_root or {}) if n != key] != [
        n for n in new_root if n != key
    ]:
        raise ValuesError(f"internal error: rewriting {key!r} would change other keys; file left as it was")


# ------------------------------------------------------------------------- data helpers


def to_plain(value: Any) -> Any:
    """ruamel nodes → plain Python data."""
    if isinstance(value, dict):
        return {to_plain(name): to_plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _canonical(value: Any) -> Any:
    """A comparable form where types YAML distinguishes stay distinct."""
    if isinstance(value, dict):
        return ("map", {_canonical(name): _canonical(item) for name, item in value.items()})
    if isinstance(value, list | tuple):
        return ("seq", [_canonical(item) for item in value])
    if isinstance(value, bool):
        return ("bool", bool(value))
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", float(value))
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, datetime.date):
        return ("date", value.isoformat())
    return ("other", value)


def _diff_lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


# ---------------------------------------------------------------------------- files
# Used by the modules values_block and values_restore. No Ansible imports here either, so
# the write/verify/restore path is unit-tested like the rest.

BACKUP_SUFFIX = ".orig"


def outside_unchanged(old: str, new: str, key: str) -> bool:
    """Every byte before and after the old `key` block is still there, in place, in `new`."""
    lines = _split_lines(old)
    root = load_document(old)
    if root is None or key not in root:
        return new.startswith(old.rstrip("\r\n")) if old.strip() else True
    start, end = _block_span(lines, root, key)
    prefix, suffix = "".join(lines[:start]), "".join(lines[end:])
    return new.startswith(prefix) and new.endswith(suffix) and len(new) >= len(prefix) + len(suffix)


def read_text(path: str) -> str:
    """The file as text, bytes kept as they are (no newline translation)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise ValuesError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ValuesError(f"{path}: is a directory, not a values file") from exc
    except OSError as exc:
        raise ValuesError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValuesError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def write_atomic(path: str, text: str, mode_from: str | None = None) -> None:
    """Replace `path` with `text` via a synced temp file in the same directory.

    The new file gets the mode (and, where permitted, the owner) of `mode_from`, which
    defaults to `path` itself, so a 0640 values file stays 0640.
    """
    directory = os.path.dirname(os.path.abspath(path))
    reference = mode_from or path
    info = os.stat(reference) if os.path.exists(reference) else None
    handle, temp_path = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        if info is not None:
            os.chmod(temp_path, stat.S_IMODE(info.st_mode))
            with contextlib.suppress(OSError):  # only root may give files away; the mode is what matters
                os.chown(temp_path, info.st_uid, info.st_gid)
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    with contextlib.suppress(OSError):  # not every file system allows opening a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def set_block_in_file(path: str, key: str, block: dict, backup: bool = True, dry_run: bool = False) -> dict:
    """Set the `key` block of the file at `path`; the modules' whole behaviour.

    Returns {changed, before, after, backup_file, path}. A data-equal block writes nothing.
    After a write the file is re-read, checked with PyYAML and compared outside the block;
    on any mismatch the original is put back and ValuesError is raised.
    """
    before = read_text(path)
    backup_path = path + BACKUP_SUFFIX
    result = {"changed": False, "before": before, "after": before, "path": path, "backup_file": None}
    if backup and os.path.exists(backup_path):
        result["backup_file"] = backup_path
    current = current_block(before, key)
    if current is not None and equal(current, block):
        return result
    after = render(before, key, block)
    check(after)
    result.update(changed=after != before, after=after)
    if dry_run or after == before:
        return result
    if backup and not os.path.exists(backup_path):
        write_atomic(backup_path, before, mode_from=path)
    if backup:
        result["backup_file"] = backup_path
    write_atomic(path, after)
    _verify_written(path, before, after, key)
    return result


def _verify_written(path: str, before: str, after: str, key: str) -> None:
    problem = None
    try:
        written = read_text(path)
        check(written)
        if written != after:
            problem = "the file on disk differs from what was written"
        elif not outside_unchanged(before, written, key):
            problem = f"lines outside the {key!r} block changed"
    except ValuesError as exc:
        problem = str(exc)
    if problem:
        write_atomic(path, before)  # put the original back, same mode
        raise ValuesError(f"{path}: verification after writing failed ({problem}); original restored")


def restore_file(path: str, backup_file: str | None = None, dry_run: bool = False) -> dict:
    """Put `backup_file` (default `<path>.orig`) back at `path`, atomically, keeping the mode."""
    source = backup_file or path + BACKUP_SUFFIX
    if not os.path.exists(source):
        raise ValuesError(f"{source}: no backup to restore from")
    wanted = read_text(source)
    before = read_text(path) if os.path.exists(path) else ""
    result = {
        "changed": before != wanted,
        "before": before,
        "after": wanted,
        "path": path,
        "backup_file": source,
    }
    if result["changed"] and not dry_run:
        write_atomic(path, wanted, mode_from=path if os.path.exists(path) else source)
    return result
