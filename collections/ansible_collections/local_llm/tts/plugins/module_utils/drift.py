"""Drift between what the runbooks want and what runs, in four layers, as JSON-patch style entries.

The layers, in the order a fix brings them back:

1. ``values_file``: the values file's ``tts`` block against ``tts_desired``;
2. ``release``: the release's user-supplied values (``helm get values -o json``) against the values
   file, as the fix leaves it (its ``tts`` block set to ``tts_desired``; see ``release_expected_values``),
   so an edited block is reported once, in layer 1, and not again here;
3. ``live``: the live TTS Deployment and Service against the release manifest (``helm get manifest``):
   only the fields in ``LIVE_FIELDS``, and inside them only what the manifest sets, because the API server
   fills in defaults (probe timeouts, ``scheme: HTTP``, ``protocol``, requests copied from limits...);
4. ``health``: rollout complete, pod Ready, ``/health`` 200, as read by the caller (``drift_gather``).

Every difference is a ``DriftEntry`` whose ``op`` reads as the JSON patch that turns ``expected`` into
``actual`` (what drifted): ``add`` only the actual side has the path, ``remove`` only the expected side,
``replace`` both, with different values. Paths are JSON pointers (RFC 6901). Lists of scalars
(``args``, ``command``) are reported whole, as one ``replace``: an inserted flag would otherwise show as
a shifted tail of replaces. Ignore rules work like Flux's ``driftDetection.ignore``.

Pure: no I/O, no clock. The inputs are read by ``drift_gather``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import normalise
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import equal as yaml_equal

LAYERS = ("values_file", "release", "live", "health")
REDACTED = "<redacted>"
# Names whose values must never reach a report or a log (env vars, values keys).
SENSITIVE_NAME = re.compile(r"pass(word|wd)?|secret|token|api[-_]?key|credential|private[-_]?key", re.I)

# -- what the live layer compares (data) ------------------------------------------------------------
CONTAINERS = ("spec", "template", "spec", "containers")
LIVE_FIELDS: dict[str, dict[str, tuple[tuple[str, ...], ...]]] = {
    "Deployment": {
        "object": (("spec", "replicas"), ("spec", "template", "spec", "affinity")),
        "container": (
            ("image",),
            ("command",),
            ("args",),
            ("env",),
            ("envFrom",),
            ("resources",),
            ("startupProbe",),
            ("readinessProbe",),
            ("livenessProbe",),
        ),
    },
    "Service": {"object": (("spec", "ports"),)},
}
# Values the API server sets when the manifest leaves a compared field out: not drift.
SERVER_DEFAULTS: dict[tuple[str, ...], Any] = {("spec", "replicas"): 1}
# Keys that identify an item of a list of objects (the strategic-merge keys of the compared lists).
LIST_ITEM_KEYS = ("name", "port", "containerPort", "mountPath")
# `kubectl scale` and autoscalers own the replica count; like Flux, not drift unless asked.
REPLICAS_RULE = {"paths": ["/spec/replicas"], "target": {"kind": "Deployment"}}


class HealthCheck(NamedTuple):
    key: str  # in the caller's health dict; absent = the check did not run
    path: str
    expected: Any
    kind: str  # the object the check is about
    name_key: str  # key of the health dict naming that object
    detail_key: str


HEALTH_CHECKS = (
    HealthCheck("rollout_complete", "/rollout/complete", True, "Deployment", "deployment", "rollout_detail"),
    HealthCheck("pod_ready", "/pod/ready", True, "Pod", "pod", "pod_detail"),
    HealthCheck("health_status", "/health/status", 200, "Service", "service", "health_detail"),
)


# -- results ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DriftEntry:
    layer: str  # one of LAYERS
    op: str  # add | remove | replace
    path: str  # JSON pointer into the expected/actual document of the layer
    expected: Any
    actual: Any
    target: dict | None = None  # {kind, name} for live and health entries
    detail: str | None = None  # a short human reason, when the values alone do not say it

    def as_dict(self) -> dict:
        return asdict(self)


class DriftRuleError(ValueError):
    """An ignore rule that cannot be applied (no paths, a path that is not a JSON pointer)."""


class _Change(NamedTuple):
    op: str
    segments: tuple
    expected: Any
    actual: Any


# -- JSON pointers ----------------------------------------------------------------------------------
def pointer(segments: Iterable[Any]) -> str:
    """RFC 6901: each segment prefixed with '/', '~' written '~0' and '/' written '~1'."""
    return "".join("/" + str(s).replace("~", "~0").replace("/", "~1") for s in segments)


def _under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or inside it, segment-wise (/spec/replicas is not under /spec/rep)."""
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


# -- equality ---------------------------------------------------------------------------------------
def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON data: 1 == 1.0 (helm's JSON may print a float as an integer), but true != 1 and
    "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_QUANTITY_SCALE = {
    **{
        suffix: Decimal(1024) ** power
        for power, suffix in enumerate(("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"))
    },
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(value: Any) -> Decimal | None:
    """A Kubernetes resource quantity as a number ("1", 1, "1000m" are equal; "1Gi" is 2**30); None
    when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    number, suffix = match.groups()
    try:
        if suffix and suffix[0] in "eE":
            return Decimal(number + suffix)
        return Decimal(number) * _QUANTITY_SCALE[suffix or ""]
    except InvalidOperation:
        return None


def _is_quantity_path(segments: tuple) -> bool:
    # .../resources/limits/<name> or .../resources/requests/<name>
    return len(segments) >= 3 and segments[-3] == "resources" and segments[-2] in ("limits", "requests")


def live_equal(expected: Any, actual: Any, segments: tuple) -> bool:
    """Manifest (YAML) against live (JSON): quantities by value, the rest as JSON."""
    if _is_quantity_path(segments):
        left, right = parse_quantity(expected), parse_quantity(actual)
        if left is not None and right is not None:
            return left == right
    return json_equal(expected, actual)


def _is_empty(value: Any) -> bool:
    return value is None or value == {} or value == [] or value == ""


# -- full diff: the values layers -------------------------------------------------------------------
def diff_values(
    expected: Any, actual: Any, equal: Callable[[Any, Any], bool], segments: tuple = ()
) -> Iterator[_Change]:
    """Every difference, both ways: keys only in one side, changed scalars, changed lists (whole when
    they hold scalars or change length; item by item when they hold mappings)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual), key=str):
            yield from _sensitive(key, _diff_key(expected, actual, key, equal, (*segments, key)))
        return
    if _same_length_lists_of_mappings(expected, actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            yield from diff_values(left, right, equal, (*segments, index))
        return
    if not equal(expected, actual):
        yield _Change("replace", segments, expected, actual)


def _diff_key(expected: dict, actual: dict, key: Any, equal: Callable, here: tuple) -> Iterator[_Change]:
    if key not in actual:
        yield _Change("remove", here, expected[key], None)
    elif key not in expected:
        yield _Change("add", here, None, actual[key])
    else:
        yield from diff_values(expected[key], actual[key], equal, here)


def _same_length_lists_of_mappings(expected: Any, actual: Any) -> bool:
    return (
        isinstance(expected, list)
        and isinstance(actual, list)
        and len(expected) == len(actual)
        and all(isinstance(item, dict) for item in [*expected, *actual])
    )


# -- subset diff: the live layer --------------------------------------------------------------------
def diff_subset(expected: Any, actual: Any, segments: tuple = ()) -> Iterator[_Change]:
    """Differences in what ``expected`` (the manifest) sets; keys only the live side has are server
    defaults and are not compared. Items of lists of objects are matched by their key (name, port...),
    so an added or removed env var is one entry."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(expected, key=str):
            here = (*segments, key)
            if key not in actual:
                if not _is_empty(expected[key]):  # the server drops empty fields the manifest wrote
                    yield _Change("remove", here, expected[key], None)
            else:
                yield from _sensitive(key, diff_subset(expected[key], actual[key], here))
        return
    if _lists_of_objects(expected, actual):
        yield from _diff_object_list(expected, actual, segments)
        return
    if not live_equal(expected, actual, segments):
        yield _Change("replace", segments, expected, actual)


def _lists_of_objects(expected: Any, actual: Any) -> bool:
    both_lists = isinstance(expected, list) and isinstance(actual, list) and bool(expected or actual)
    return both_lists and all(isinstance(item, dict) for item in [*expected, *actual])


def _item_key(expected: list[dict], actual: list[dict]) -> str | None:
    """The first of LIST_ITEM_KEYS that every item has, unique on each side."""
    for key in LIST_ITEM_KEYS:
        sides = ([item.get(key) for item in expected], [item.get(key) for item in actual])
        if all(None not in side and len(set(map(str, side))) == len(side) for side in sides):
            return key
    return None


def _diff_object_list(expected: list[dict], actual: list[dict], segments: tuple) -> Iterator[_Change]:
    key = _item_key(expected, actual)
    if key is None:  # no identity: item by item when the lengths agree, else the whole list
        if len(expected) == len(actual):
            for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
                yield from diff_subset(left, right, (*segments, index))
        else:
            yield _Change("replace", segments, expected, actual)
        return
    live_index = {str(item[key]): index for index, item in enumerate(actual)}
    wanted = {str(item[key]) for item in expected}
    for index, item in enumerate(expected):
        found = live_index.get(str(item[key]))
        if found is None:
            yield _Change("remove", (*segments, index), item, None)  # _entries redacts a secret's value
        else:
            yield from _sensitive(item.get("name"), diff_subset(item, actual[found], (*segments, found)))
    for index, item in enumerate(actual):
        if str(item[key]) not in wanted:
            yield _Change("add", (*segments, index), None, item)


# -- secrets ----------------------------------------------------------------------------------------
def _sensitive(name: Any, changes: Iterator[_Change]) -> Iterator[_Change]:
    """Changes under a sensitive key or env var name, with their values replaced by REDACTED."""
    if not (isinstance(name, str) and SENSITIVE_NAME.search(name)):
        yield from changes
        return
    for change in changes:
        yield change._replace(
            expected=_redact(change.expected, force=True), actual=_redact(change.actual, force=True)
        )


def _redact(value: Any, force: bool = False) -> Any:
    """``value`` with sensitive parts hidden: everything when ``force``, else keys with sensitive names
    and env items ({name, value}) whose name is sensitive."""
    if value is None:
        return None
    if force:
        return REDACTED
    if isinstance(value, dict):
        hidden = isinstance(value.get("name"), str) and SENSITIVE_NAME.search(value["name"])
        return {
            k: REDACTED
            if (hidden and k == "value") or (isinstance(k, str) and SENSITIVE_NAME.search(k))
            else _redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    return value


# -- the layers -------------------------------------------------------------------------------------
def release_expected_values(file_values: dict, values_key: str, desired: dict | None) -> dict:
    """What the release should carry: the values file as the fix leaves it (its block set to desired)."""
    if desired is None:
        return file_values
    return {**file_values, values_key: desired}


def _entries(layer: str, changes: Iterable[_Change], target: dict | None = None) -> list[DriftEntry]:
    return [
        DriftEntry(
            layer, c.op, pointer(c.segments), _redact(c.expected), _redact(c.actual), target and dict(target)
        )
        for c in changes
    ]


def values_file_drift(values_block: dict | None, desired: dict | None, values_key: str) -> list[DriftEntry]:
    if desired is None:  # nothing desired: the layer is not checked
        return []
    if values_block is None:
        return _entries("values_file", [_Change("remove", (values_key,), desired, None)])
    return _entries("values_file", diff_values(desired, values_block, yaml_equal, (values_key,)))


def release_drift(release_values: dict, expected_values: dict) -> list[DriftEntry]:
    expected, actual = normalise(expected_values), normalise(release_values or {})
    return _entries("release", diff_values(expected, actual, json_equal))


def _find(objects: list[dict], kind: str, name: str) -> dict | None:
    return next(
        (o for o in objects if o.get("kind") == kind and (o.get("metadata") or {}).get("name") == name), None
    )


def _dig(obj: Any, path: tuple) -> Any:
    for segment in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(segment)
    return obj


def _field_drift(expected_obj: dict, live_obj: dict, path: tuple, at: tuple) -> Iterator[_Change]:
    """One compared field: ``path`` inside both objects, reported at ``at``."""
    expected, actual = _dig(expected_obj, path), _dig(live_obj, path)
    if expected is None:  # the manifest leaves it to the server: only a user's non-default value is drift
        if not _is_empty(actual) and not json_equal(actual, SERVER_DEFAULTS.get(path)):
            yield _Change("add", at, None, actual)
        return
    if actual is None:
        if not _is_empty(expected):
            yield _Change("remove", at, expected, None)
        return
    yield from diff_subset(expected, actual, at)


def _container_drift(manifest_obj: dict, live_obj: dict, fields: tuple) -> Iterator[_Change]:
    expected = _dig(manifest_obj, CONTAINERS) or []
    actual = _dig(live_obj, CONTAINERS) or []
    live_index = {c.get("name"): i for i, c in enumerate(actual)}
    for index, container in enumerate(expected):
        found = live_index.get(container.get("name"))
        if found is None:
            yield _Change("remove", (*CONTAINERS, index), container, None)
            continue
        for field in fields:
            yield from _field_drift(container, actual[found], field, (*CONTAINERS, found, *field))
    wanted = {c.get("name") for c in expected}
    for index, container in enumerate(actual):
        if container.get("name") not in wanted:
            yield _Change("add", (*CONTAINERS, index), None, {"name": container.get("name")})


def object_drift(manifest_obj: dict, live_obj: dict) -> Iterator[_Change]:
    fields = LIVE_FIELDS.get(manifest_obj.get("kind", ""), {})
    for path in fields.get("object", ()):
        yield from _field_drift(manifest_obj, live_obj, path, path)
    if fields.get("container"):
        yield from _container_drift(manifest_obj, live_obj, fields["container"])


def live_drift(
    manifest_objects: list[dict], live_objects: list[dict], targets: list[dict]
) -> list[DriftEntry]:
    entries: list[DriftEntry] = []
    for target in targets:
        kind, name = target["kind"], target["name"]
        manifest_obj, live_obj = _find(manifest_objects, kind, name), _find(live_objects, kind, name)
        where = {"kind": kind, "name": name}
        if manifest_obj is None and live_obj is None:
            continue  # neither the release nor the cluster has it: nothing to compare
        if live_obj is None:
            missing = DriftEntry("live", "remove", "", where, None, where, "not found in the cluster")
            entries.append(missing)
        elif manifest_obj is None:
            extra = DriftEntry("live", "add", "", None, where, where, "not in the release manifest")
            entries.append(extra)
        else:
            entries += _entries("live", object_drift(manifest_obj, live_obj), where)
    return entries


def health_drift(health: dict) -> list[DriftEntry]:
    entries = []
    for check in HEALTH_CHECKS:
        if check.key not in health:
            continue  # not checked (check_health off, or the caller had nothing to check)
        actual = health[check.key]
        if json_equal(actual, check.expected):
            continue
        target = {"kind": check.kind, "name": health.get(check.name_key)}
        entries.append(
            DriftEntry(
                "health", "replace", check.path, check.expected, actual, target, health.get(check.detail_key)
            )
        )
    return entries


# -- ignore rules -----------------------------------------------------------------------------------
def _check_rules(rules: list[dict]) -> None:
    for number, rule in enumerate(rules, 1):
        paths = rule.get("paths") if isinstance(rule, dict) else None
        if not isinstance(paths, list) or not paths:
            raise DriftRuleError(f"ignore rule {number}: 'paths' must be a non-empty list of JSON pointers")
        bad = [p for p in paths if not isinstance(p, str) or (p and not p.startswith("/"))]
        if bad:
            raise DriftRuleError(f"ignore rule {number}: not JSON pointers (must start with '/'): {bad}")
        target = rule.get("target")
        if target is not None and not isinstance(target, dict):
            raise DriftRuleError(f"ignore rule {number}: 'target' must be a mapping with kind and/or name")


def ignored(entry: DriftEntry, rule: dict) -> bool:
    """Flux-like: a rule's paths are prefixes; its optional target (kind and/or name) must match the
    entry's object, so a rule with a target never hides a values-layer entry (they have none)."""
    target = rule.get("target")
    if target:
        if entry.target is None:
            return False
        if any(target.get(k) is not None and target[k] != entry.target.get(k) for k in ("kind", "name")):
            return False
    return any(_under(entry.path, path) for path in rule["paths"])


# -- the entry point --------------------------------------------------------------------------------
def compare_layers(
    values_block: dict | None,
    desired: dict | None,
    release_values: dict,
    file_values: dict,
    manifest_objects: list[dict],
    live_objects: list[dict],
    health: dict,
    ignore: list[dict] | None = None,
    ignore_replicas: bool = True,
    *,
    values_key: str = "tts",
    live_targets: list[dict] | None = None,
) -> list[DriftEntry]:
    """All four layers, in LAYERS order, minus ignored entries.

    ``live_targets`` ({kind, name}) are the objects the live layer compares, so that a deleted one is
    reported; by default the live objects given. ``desired`` None skips layer 1 and makes layer 2
    compare against the values file as it is.
    """
    rules = list(ignore or [])
    _check_rules(rules)
    if ignore_replicas:
        rules.append(REPLICAS_RULE)
    targets = live_targets
    if targets is None:
        targets = [
            {"kind": o.get("kind"), "name": (o.get("metadata") or {}).get("name")} for o in live_objects
        ]
    entries = [
        *values_file_drift(values_block, desired, values_key),
        *release_drift(release_values, release_expected_values(file_values or {}, values_key, desired)),
        *live_drift(manifest_objects, live_objects, targets),
        *health_drift(health or {}),
    ]
    return [e for e in entries if not any(ignored(e, rule) for rule in rules)]


def summarise(entries: list[DriftEntry]) -> dict:
    """The module's result: the entries as dicts, counts per layer, and whether anything drifted."""
    counts = {layer: 0 for layer in LAYERS}
    for entry in entries:
        counts[entry.layer] += 1
    return {"drift": [e.as_dict() for e in entries], "counts": counts, "drifted": bool(entries)}
