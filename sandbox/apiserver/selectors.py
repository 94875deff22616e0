"""Label and field selectors, parsed and matched as the API server does.

Grammar (k8s.io/apimachinery labels and fields packages): comma-separated requirements;
labels support ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``;
fields support ``=``, ``==`` and ``!=`` on the fields each kind indexes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        return not present  # "!"


_SET_RE = re.compile(
    r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\)|(==|!=|=)\s*([^,]*?))?\s*$"
)
_LABEL_KEY_RE = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE_RE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _split_requirements(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text or not text.strip():
        return []
    requirements = []
    for part in _split_requirements(text):
        m = _SET_RE.match(part)
        if not m:
            raise SelectorError(f"unable to parse requirement: {part.strip()!r}")
        negate, key, set_op, set_values, eq_op, eq_value = m.groups()
        if not _LABEL_KEY_RE.match(key):
            raise SelectorError(f"invalid label key {key!r}")
        if negate:
            if set_op or eq_op:
                raise SelectorError(f"unable to parse requirement: {part.strip()!r}")
            requirements.append(Requirement(key, "!"))
        elif set_op:
            values = tuple(v.strip() for v in set_values.split(",") if v.strip())
            requirements.append(Requirement(key, set_op, values))
        elif eq_op:
            value = eq_value.strip()
            if not _LABEL_VALUE_RE.match(value):
                raise SelectorError(f"invalid label value: {value!r}")
            requirements.append(Requirement(key, "!=" if eq_op == "!=" else "=", (value,)))
        else:
            requirements.append(Requirement(key, "exists"))
    return requirements


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in requirements)


def selector_from_label_selector(selector: dict | None) -> list[Requirement] | None:
    """A metav1.LabelSelector (matchLabels + matchExpressions) as requirements; None matches nothing."""
    if selector is None:
        return None
    requirements = [Requirement(k, "=", (v,)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}[expr["operator"]]
        requirements.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return requirements


# Field selectors: which fields each kind lets clients select on (the API server's field
# label conversion funcs). Every kind supports metadata.name and metadata.namespace.
_FIELDS_BY_KIND = {
    "Pod": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Node": ("spec.unschedulable",),
    "ReplicaSet": ("status.replicas",),
    "Job": ("status.successful",),
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    op: str  # "=" or "!="
    value: str


def parse_field_selector(text: str | None, kind: str) -> list[FieldRequirement]:
    if not text or not text.strip():
        return []
    allowed = ("metadata.name", "metadata.namespace", *_FIELDS_BY_KIND.get(kind, ()))
    out = []
    for part in _split_requirements(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
        if not m:
            raise SelectorError(f"invalid selector: '{part.strip()}'; can't understand '{part.strip()}'")
        field, op, value = m.groups()
        if field not in allowed:
            raise SelectorError(f"field label not supported: {field}")
        out.append(FieldRequirement(field, "!=" if op == "!=" else "=", value))
    return out


def _field_value(obj: dict, dotted: str) -> str:
    value: object = obj
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if dotted == "source" and isinstance(value, dict):
        return str(value.get("component", ""))
    return str(value)


def fields_match(requirements: list[FieldRequirement], obj: dict) -> bool:
    for r in requirements:
        equal = _field_value(obj, r.field) == r.value
        if equal != (r.op == "="):
            return False
    return True
