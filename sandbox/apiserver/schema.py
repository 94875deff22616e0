"""Field schema of the served kinds, derived from the official Python client's models.

The ``kubernetes`` client ships one generated model class per API type. Each has
``openapi_types`` (attribute -> type string such as ``'V1ObjectMeta'``,
``'List[V1Container]'``, ``'Dict[str, str]'``, ``'int'``) and ``attribute_map``
(attribute -> JSON field name); its pydantic ``model_fields`` add descriptions,
required flags and the real Python annotation. From those we build, lazily and
once per process, a graph of :class:`ModelSchema` nodes that the API server uses
to reject unknown fields and wrongly typed values the way kube-apiserver's strict
JSON decoder does, and that ``openapi.py`` turns into OpenAPI schemas.

Two Kubernetes types are not visible as such in the client and are recovered here:
``IntOrString`` (typed ``object`` with an ``int | str`` annotation) and
``resource.Quantity`` (typed ``str``; listed in :data:`QUANTITY_FIELDS`).
"""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from functools import cache

import kubernetes.client as client_models

from .resources import Resource

# Fields every object may carry at any level (type meta).
TYPE_META_FIELDS = frozenset({"apiVersion", "kind"})

# resource.Quantity fields: the client types them ``str``, but the API also
# accepts JSON numbers for them (``cpu: 1``). (model, attribute) pairs.
QUANTITY_FIELDS = frozenset(
    {
        ("V1ResourceRequirements", "limits"),
        ("V1ResourceRequirements", "requests"),
        ("V1VolumeResourceRequirements", "limits"),
        ("V1VolumeResourceRequirements", "requests"),
        ("V1ResourceFieldSelector", "divisor"),
        ("V1EmptyDirVolumeSource", "size_limit"),
        ("V1PodSpec", "overhead"),
        ("V1PodStatus", "allocated_resources"),
        ("V1ContainerStatus", "allocated_resources"),
        ("V1NodeStatus", "allocatable"),
        ("V1NodeStatus", "capacity"),
        ("V1NodeAllocatableMappedResources", "quantity"),
        ("V1PersistentVolumeSpec", "capacity"),
        ("V1PersistentVolumeClaimStatus", "capacity"),
        ("V1PersistentVolumeClaimStatus", "allocated_resources"),
        ("V1LimitRangeItem", "default"),
        ("V1LimitRangeItem", "default_request"),
        ("V1LimitRangeItem", "max"),
        ("V1LimitRangeItem", "min"),
        ("V1LimitRangeItem", "max_limit_request_ratio"),
        ("V1ResourceQuotaSpec", "hard"),
        ("V1ResourceQuotaStatus", "hard"),
        ("V1ResourceQuotaStatus", "used"),
        ("V2MetricTarget", "average_value"),
        ("V2MetricTarget", "value"),
        ("V2MetricValueStatus", "average_value"),
        ("V2MetricValueStatus", "value"),
    }
)

# Integer fields that are int64 in the Go types (all other integers are int32).
# The client only says ``int``; the width shows in OpenAPI formats and decode errors.
INT64_ATTRIBUTES = frozenset(
    {
        "generation",
        "observed_generation",
        "deletion_grace_period_seconds",
        "grace_period_seconds",
        "active_deadline_seconds",
        "termination_grace_period_seconds",
        "starting_deadline_seconds",
        "run_as_user",
        "run_as_group",
        "fs_group",
        "supplemental_groups",
        "uid",
        "gid",
        "toleration_seconds",
        "expiration_seconds",
        "revision",
    }
)

_INT32_RANGE = range(-(2**31), 2**31)
_INT64_RANGE = range(-(2**63), 2**63)

# Client class name -> (group prefix, version, Go type name), e.g. CoreV1EventSeries.
_CLASS_NAME = re.compile(r"^((?:[A-Z][a-z]+)*?)(V\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$")

_SCALAR_KINDS = {
    "str": "string",
    "int": "integer",
    "bool": "boolean",
    "float": "number",
    "datetime": "datetime",
    "date": "datetime",
    "bytes": "bytes",
}
_LIST_TYPE = re.compile(r"^(?:List|list)\[(.+)\]$")
_MAP_TYPE = re.compile(r"^(?:Dict\[str, (.+)\]|dict\(str, (.+)\))$")


@dataclass(frozen=True)
class FieldType:
    """A node of the schema graph.

    ``kind`` is one of ``string``, ``integer``, ``boolean``, ``number``, ``bytes``,
    ``datetime``, ``quantity``, ``int-or-string``, ``any`` (arbitrary JSON),
    ``model`` (see ``model``), ``list`` or ``map`` (element type in ``item``).
    """

    kind: str
    model: str = ""
    item: FieldType | None = None
    int64: bool = False


@dataclass(frozen=True)
class Field:
    attribute: str
    json_name: str
    type: FieldType
    description: str
    required: bool


@dataclass(frozen=True)
class ModelSchema:
    class_name: str  # client class, e.g. "CoreV1EventSeries"
    go_name: str  # Go type name, e.g. "EventSeries"
    version: str  # Go package version, e.g. "v1"
    description: str
    fields: dict[str, Field]  # by JSON name


def model_for(kind_res: Resource) -> type:
    """The client's model class for a served kind (``V1Deployment``, ``CoreV1Event``, ...)."""
    return getattr(client_models, _model_class_name(kind_res))


@cache
def _model_class_name(kind_res: Resource) -> str:
    version = kind_res.version.capitalize()
    group_prefix = (kind_res.group.split(".")[0] or "core").capitalize()
    # The client prefixes the group only when two groups define the same name (CoreV1Event).
    for name in (f"{version}{kind_res.kind}", f"{group_prefix}{version}{kind_res.kind}"):
        if hasattr(getattr(client_models, name, None), "openapi_types"):
            return name
    raise LookupError(f"the kubernetes client has no model for {kind_res.api_version} {kind_res.kind}")


def root_type(kind_res: Resource) -> FieldType:
    return FieldType("model", model=_model_class_name(kind_res))


@cache
def model_schema(class_name: str) -> ModelSchema:
    """The schema node of one client model class, built on first use."""
    model = getattr(client_models, class_name)
    _, version, go_name = _split_class_name(class_name)
    fields = {}
    for attribute, type_string in model.openapi_types.items():
        json_name = model.attribute_map[attribute]
        info = _field_info(model, json_name)
        field_type = _parse_type(type_string, info.annotation, attribute)
        if (class_name, attribute) in QUANTITY_FIELDS:
            field_type = _as_quantity(field_type)
        fields[json_name] = Field(
            attribute, json_name, field_type, info.description or "", info.is_required()
        )
    return ModelSchema(class_name, go_name, version.lower(), _class_description(model), fields)


def _field_info(model: type, json_name: str):
    """The pydantic field for a JSON name (Python keywords are renamed: ``exec`` -> ``var_exec``)."""
    for name, info in model.model_fields.items():
        if json_name in (name, info.serialization_alias):
            return info
    raise LookupError(f"{model.__name__} has no field serialized as {json_name!r}")


def _split_class_name(class_name: str) -> tuple[str, str, str]:
    match = _CLASS_NAME.match(class_name)
    if match is None:
        raise ValueError(f"unexpected client model name {class_name!r}")
    return match.group(1), match.group(2), match.group(3)


def _class_description(model: type) -> str:
    # Generated docstrings: the type's description, then a fixed "Attributes:" block.
    return (model.__doc__ or "").split("Attributes:")[0].strip()


def _parse_type(type_string: str, annotation: object, attribute: str) -> FieldType:
    if match := _LIST_TYPE.match(type_string):
        return FieldType("list", item=_parse_type(match.group(1), None, attribute))
    if match := _MAP_TYPE.match(type_string):
        return FieldType("map", item=_parse_type(match.group(1) or match.group(2), None, attribute))
    if type_string == "object":
        # IntOrString is the only ``object`` the client annotates as ``int | str``.
        return FieldType("int-or-string" if {int, str} <= _base_types(annotation) else "any")
    if type_string in _SCALAR_KINDS:
        kind = _SCALAR_KINDS[type_string]
        return FieldType(kind, int64=kind == "integer" and attribute in INT64_ATTRIBUTES)
    return FieldType("model", model=type_string)


def _base_types(annotation: object) -> set[object]:
    """The plain types inside Optional/Union/Annotated wrappers."""
    arguments = typing.get_args(annotation)
    if not arguments:
        return {annotation}
    if typing.get_origin(annotation) is typing.Annotated:
        return _base_types(arguments[0])
    return set().union(*(_base_types(argument) for argument in arguments))


def _as_quantity(field_type: FieldType) -> FieldType:
    if field_type.kind in ("map", "list"):
        return FieldType(field_type.kind, item=_as_quantity(field_type.item))
    return FieldType("quantity")


# --- unknown fields -------------------------------------------------------------------------


def unknown_fields(kind_res: Resource, obj: dict) -> list[str]:
    """Paths of fields the kind does not define, in Kubernetes' strict-decoding form.

    Paths have no leading dot and index lists, e.g. ``spec.template.spec.containers[0].imagee``;
    the API server reports each as ``unknown field "<path>"``.
    """
    found: list[str] = []
    _collect_unknown(root_type(kind_res), obj, "", found)
    return found


def _collect_unknown(field_type: FieldType, value: object, path: str, found: list[str]) -> None:
    if field_type.kind == "model" and isinstance(value, dict):
        fields = model_schema(field_type.model).fields
        for key, item in value.items():
            item_path = f"{path}.{key}" if path else key
            if key in fields:
                _collect_unknown(fields[key].type, item, item_path, found)
            elif key not in TYPE_META_FIELDS:
                found.append(item_path)
    elif field_type.kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _collect_unknown(field_type.item, item, f"{path}[{index}]", found)
    elif field_type.kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _collect_unknown(field_type.item, item, f"{path}[{key}]", found)


# --- type errors ----------------------------------------------------------------------------


def type_errors(kind_res: Resource, obj: dict) -> list[str]:
    """Values of the wrong JSON type, worded like Go's JSON decoder in kube-apiserver.

    E.g. ``json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of
    type int32``. Only plain string/integer/boolean/number/object/array mismatches are reported;
    quantities, int-or-strings, timestamps and free-form objects have their own decoders
    and are left alone. The API server prefixes the first error with
    ``<Kind> in version "<v>" cannot be handled as a <Kind>: ``.
    """
    errors: list[str] = []
    _check_model(model_schema(_model_class_name(kind_res)), obj, "", errors)
    return errors


def _check_model(schema: ModelSchema, value: dict, path: str, errors: list[str]) -> None:
    for key, item in value.items():
        field = schema.fields.get(key)
        if field is not None:
            _check_value(field.type, item, schema.go_name, f"{path}.{key}" if path else key, errors)


def _check_value(field_type: FieldType, value: object, struct: str, path: str, errors: list[str]) -> None:
    """``path`` is dotted JSON names from the root; Go's decoder leaves out list indices and map keys."""
    if value is None:
        return  # JSON null decodes to the zero value of any Go type
    mismatch = _json_mismatch(field_type, value)
    if mismatch is not None:
        errors.append(
            f"json: cannot unmarshal {mismatch} into Go struct field {struct}.{path} "
            f"of type {go_type_name(field_type)}"
        )
    elif field_type.kind == "model":
        _check_model(model_schema(field_type.model), value, path, errors)
    elif field_type.kind == "list":
        for item in value:
            _check_value(field_type.item, item, struct, path, errors)
    elif field_type.kind == "map":
        for item in value.values():
            _check_value(field_type.item, item, struct, path, errors)


def _json_mismatch(field_type: FieldType, value: object) -> str | None:
    """How Go names the offending JSON value, or None when the value fits (or is not checked)."""
    kind = field_type.kind
    json_kind = _json_kind(value)
    if kind in ("string", "bytes"):
        return None if json_kind == "string" else json_kind
    if kind == "boolean":
        return None if json_kind == "bool" else json_kind
    if kind == "number":
        return None if json_kind == "number" else json_kind
    if kind == "integer":
        return _integer_mismatch(value, field_type.int64)
    if kind in ("model", "map"):
        return None if json_kind == "object" else json_kind
    if kind == "list":
        return None if json_kind == "array" else json_kind
    return None


def _integer_mismatch(value: object, int64: bool) -> str | None:
    if _json_kind(value) != "number":
        return _json_kind(value)
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return f"number {value!r}"
    allowed = _INT64_RANGE if int64 else _INT32_RANGE
    return None if int(value) in allowed else f"number {value!r}"


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def go_type_name(field_type: FieldType) -> str:
    """The Go type as ``reflect.Type.String()`` prints it (``int32``, ``[]v1.Container``, ...).

    Only defined for the kinds :func:`type_errors` checks.
    """
    kind = field_type.kind
    if kind == "model":
        schema = model_schema(field_type.model)
        return f"{schema.version}.{schema.go_name}"
    if kind == "list":
        return "[]" + go_type_name(field_type.item)
    if kind == "map":
        return "map[string]" + go_type_name(field_type.item)
    if kind == "integer":
        return "int64" if field_type.int64 else "int32"
    return {"string": "string", "boolean": "bool", "number": "float64", "bytes": "[]uint8"}[kind]
