"""Object validation: the checks whose failures clients see as ``422 Invalid``.

Sources: k8s.io/apimachinery ``pkg/util/validation`` (name and label rules) and
k8s.io/kubernetes ``pkg/apis/*/validation`` (v1.35). Only the rules that matter to the
charts and clients we serve are encoded; each returns (field, reason, message) causes.
"""

from __future__ import annotations

import base64
import binascii
import re

from .resources import Resource

Cause = tuple[str, str, str]

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")

# Kinds whose names must be DNS-1123 labels rather than subdomains.
_LABEL_NAMED = {"Namespace"}
_DNS1035_NAMED = {"Service"}

_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)


def _invalid(field: str, value, detail: str) -> Cause:
    return field, "FieldValueInvalid", f"Invalid value: {_quote(value)}: {detail}"


def _quote(value) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _required(field: str, detail: str = "") -> Cause:
    return field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else "")


def name_causes(kind: str, name) -> list[Cause]:
    if not isinstance(name, str) or not name:
        return [_required("metadata.name", "name or generateName is required")]
    if kind in _LABEL_NAMED:
        pattern, msg, limit = DNS1123_LABEL, _LABEL_MSG, 63
    elif kind in _DNS1035_NAMED:
        pattern, msg, limit = DNS1035_LABEL, _DNS1035_MSG, 63
    else:
        pattern, msg, limit = DNS1123_SUBDOMAIN, _SUBDOMAIN_MSG, 253
    if len(name) > limit:
        return [_invalid("metadata.name", name, f"must be no more than {limit} characters")]
    if not pattern.match(name):
        return [_invalid("metadata.name", name, msg)]
    return []


def _label_key_causes(field: str, key: str) -> list[Cause]:
    prefix, _, label = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not DNS1123_SUBDOMAIN.match(prefix)):
        return [_invalid(field, key, "prefix part " + _SUBDOMAIN_MSG)]
    if not label or len(label) > 63 or not LABEL_NAME.match(label):
        return [
            _invalid(
                field,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', "
                "and must start and end with an alphanumeric character",
            )
        ]
    return []


def metadata_causes(meta: dict) -> list[Cause]:
    causes: list[Cause] = []
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        return [_invalid("metadata.labels", labels, "must be a map of strings")]
    for key, value in labels.items():
        causes += _label_key_causes("metadata.labels", key)
        if not isinstance(value, str) or len(value) > 63 or not LABEL_VALUE.match(value):
            causes.append(
                _invalid(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an "
                    "alphanumeric character",
                )
            )
    for key in meta.get("annotations") or {}:
        causes += _label_key_causes("metadata.annotations", key)
    return causes


def _containers_causes(field: str, pod_spec) -> list[Cause]:
    if not isinstance(pod_spec, dict):
        return [_required(field)]
    containers = pod_spec.get("containers")
    if not containers:
        return [_required(f"{field}.containers")]
    causes: list[Cause] = []
    seen = set()
    for i, c in enumerate(containers):
        path = f"{field}.containers[{i}]"
        if not isinstance(c, dict):
            causes.append(_invalid(path, c, "must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append(_required(f"{path}.name"))
        elif not DNS1123_LABEL.match(str(name)):
            causes.append(_invalid(f"{path}.name", name, _LABEL_MSG))
        elif name in seen:
            causes.append((f"{path}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"'))
        seen.add(name)
        if not c.get("image"):
            causes.append(_required(f"{path}.image"))
        for j, port in enumerate(c.get("ports") or []):
            number = port.get("containerPort") if isinstance(port, dict) else None
            if not isinstance(number, int) or not 0 < number < 65536:
                causes.append(
                    _invalid(
                        f"{path}.ports[{j}].containerPort", number, "must be between 1 and 65535, inclusive"
                    )
                )
    return causes


def _selector_causes(spec: dict) -> list[Cause]:
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        return [_required("spec.selector")]
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    wanted = selector.get("matchLabels") or {}
    if any(template_labels.get(k) != v for k, v in wanted.items()):
        return [
            _invalid(
                "spec.template.metadata.labels",
                template_labels,
                "`selector` does not match template `labels`",
            )
        ]
    return []


def _workload_causes(obj: dict) -> list[Cause]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [_required("spec")]
    causes = _selector_causes(spec)
    replicas = spec.get("replicas")
    if replicas is not None and (not isinstance(replicas, int) or replicas < 0):
        causes.append(_invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    return causes + _containers_causes("spec.template.spec", (spec.get("template") or {}).get("spec"))


def _service_causes(obj: dict) -> list[Cause]:
    spec = obj.get("spec") or {}
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") == "None":
        return []
    ports = spec.get("ports")
    if not ports:
        return [_required("spec.ports")]
    causes: list[Cause] = []
    for i, port in enumerate(ports):
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 0 < number < 65536:
            causes.append(_invalid(f"spec.ports[{i}].port", number, "must be between 1 and 65535, inclusive"))
        if len(ports) > 1 and isinstance(port, dict) and not port.get("name"):
            causes.append(_required(f"spec.ports[{i}].name"))
    return causes


def _data_causes(obj: dict, binary_field: str | None) -> list[Cause]:
    causes: list[Cause] = []
    for field in ("data", binary_field):
        if field is None:
            continue
        for key in obj.get(field) or {}:
            if not CONFIG_KEY.match(key) or len(key) > 253:
                causes.append(
                    _invalid(
                        f"{field}[{key}]",
                        key,
                        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    )
                )
    return causes


def _secret_causes(obj: dict) -> list[Cause]:
    causes = _data_causes(obj, None)
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            causes.append(_invalid(f"data[{key}]", "<value omitted>", "illegal base64 data"))
    return causes


def object_causes(res: Resource, obj: dict) -> list[Cause]:
    meta = obj.get("metadata") or {}
    causes = name_causes(res.kind, meta.get("name")) + metadata_causes(meta)
    kind = res.kind
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        causes += _workload_causes(obj)
    elif kind == "Pod":
        causes += _containers_causes("spec", obj.get("spec"))
    elif kind == "Service":
        causes += _service_causes(obj)
    elif kind == "ConfigMap":
        causes += _data_causes(obj, "binaryData")
    elif kind == "Secret":
        causes += _secret_causes(obj)
    return causes


def update_causes(res: Resource, old: dict, new: dict) -> list[Cause]:
    """Fields Kubernetes makes immutable once set."""
    causes: list[Cause] = []
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if res.group == "apps" and old_spec.get("selector") != new_spec.get("selector"):
        causes.append(
            (
                "spec.selector",
                "FieldValueInvalid",
                f"Invalid value: {new_spec.get('selector')}: field is immutable",
            )
        )
    if (
        res.kind == "Service"
        and old_spec.get("clusterIP")
        and new_spec.get("clusterIP") not in (None, "", old_spec.get("clusterIP"))
    ):
        causes.append(
            (
                "spec.clusterIPs[0]",
                "FieldValueInvalid",
                f'Invalid value: []string{{"{new_spec.get("clusterIP")}"}}: may not change once set',
            )
        )
    data_changed = old.get("data") != new.get("data") or old.get("binaryData") != new.get("binaryData")
    if res.kind in ("ConfigMap", "Secret") and old.get("immutable") and data_changed:
        causes.append(
            ("data", "FieldValueForbidden", "Forbidden: field is immutable when `immutable` is set")
        )
    return causes
