"""OpenAPI v3 documents for the served group-versions, as kube-apiserver publishes them.

Clients fetch ``GET /openapi/v3`` (an index of group-versions) and then one
document per group-version. kubectl and helm (client-go) use them to:

* decide whether the server validates fields itself: cli-runtime's query-param
  verifier takes the first PATCH operation whose ``x-kubernetes-group-version-kind``
  names the kind and requires an (inline) ``in: query`` parameter named
  ``fieldValidation``. Every PATCH here carries it, subresources included,
  because the verifier stops at whichever matching PATCH it meets first;
* compute strategic-merge patches (``kubectl apply``) and ``kubectl explain``
  from ``components.schemas``, found by their ``x-kubernetes-group-version-kind``
  list and followed through ``allOf``/``$ref`` to ``#/components/schemas/...``;
  list fields carry ``x-kubernetes-patch-merge-key``/``-patch-strategy`` and
  ``x-kubernetes-list-type``/``-list-map-keys`` from :mod:`listtypes`.

Schemas come from :mod:`schema` (the official client's models). Documents are
built once per process and must not be mutated by callers.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from functools import cache

from . import schema
from .listtypes import list_type
from .resources import RESOURCES, Resource, group_versions, resources_in
from .schema import FieldType

KUBERNETES_VERSION = "v1.35.0"

_REF_PREFIX = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_TIME = f"{_META}.Time"
_PATCH = f"{_META}.Patch"
_STATUS = f"{_META}.Status"
_DELETE_OPTIONS = f"{_META}.DeleteOptions"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

# Client models defined in apimachinery's meta/v1 package rather than in an API group.
_META_MODELS = frozenset(
    {
        "V1ObjectMeta",
        "V1ListMeta",
        "V1LabelSelector",
        "V1LabelSelectorRequirement",
        "V1OwnerReference",
        "V1ManagedFieldsEntry",
        "V1Condition",
        "V1Status",
        "V1StatusDetails",
        "V1StatusCause",
        "V1DeleteOptions",
        "V1Preconditions",
    }
)
# Core types first reached from another group's kind (StorageClass.allowedTopologies).
_CORE_MODELS = frozenset({"V1TopologySelectorTerm", "V1TopologySelectorLabelRequirement"})
# Meta types every document carries, referenced by the operations themselves.
_OPERATION_MODELS = ("V1Status", "V1DeleteOptions")

PATCH_CONTENT_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_OBJECT_CONTENT_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_LIST_CONTENT_TYPES = (
    *_OBJECT_CONTENT_TYPES,
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf;stream=watch",
)

# Fixed schemas for types the client does not model.
_SPECIAL_COMPONENTS = {
    _TIME: {
        "description": "Time is a wrapper around time.Time, serialized as an RFC 3339 string.",
        "type": "string",
        "format": "date-time",
    },
    _QUANTITY: {
        "description": "Quantity is a fixed-point number such as 100m, 1.5Gi or 2.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    _INT_OR_STRING: {
        "description": "IntOrString holds either an int32 or a string.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    _PATCH: {
        "description": "Patch is the body of a PATCH request; its format follows the Content-Type.",
        "type": "object",
    },
}


# --- public API -----------------------------------------------------------------------------


def v3_index() -> dict:
    """The ``/openapi/v3`` index: one entry per served group-version."""
    paths = {}
    for group, versions in group_versions().items():
        for version in versions:
            key = _index_key(group, version)
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={v3_hash(group, version)}"}
    return {"paths": paths}


def v3_document(group: str, version: str) -> dict | None:
    """The document for one group-version (core group: ``""``), or None when it is not served."""
    if not resources_in(group, version):
        return None
    return _document(group, version)


@cache
def v3_hash(group: str, version: str) -> str:
    """Uppercase hex SHA-512 of the document's canonical JSON; stable within and across processes."""
    document = v3_document(group, version)
    if document is None:
        raise KeyError(f"{group or 'core'}/{version} is not served")
    return hashlib.sha512(canonical_json(document)).hexdigest().upper()


def canonical_json(document: dict) -> bytes:
    """The bytes the hash is taken over; serving these keeps URL hash and body in step."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _index_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


# --- component naming -----------------------------------------------------------------------


_Origin = tuple[Resource | None, tuple[str, ...]]


@cache
def _origins() -> dict[str, _Origin]:
    """The first served kind (core kinds come first) and field path reaching each client model.

    The kind names the Go package of nested types, which the client does not record;
    kind and path locate the type's lists in :mod:`listtypes`. Types reached only from
    the operations' own models (Status, DeleteOptions) have no kind.
    """
    origins: dict[str, _Origin] = {}
    for res in RESOURCES:
        _record_origins(schema.root_type(res).model, res, origins)
    for class_name in _OPERATION_MODELS:
        _record_origins(class_name, None, origins)
    return origins


def _record_origins(root: str, res: Resource | None, origins: dict[str, _Origin]) -> None:
    queue = deque([(root, ())])
    while queue:
        class_name, path = queue.popleft()
        if class_name in origins:
            continue
        origins[class_name] = (res, path)
        for json_name, field in schema.model_schema(class_name).fields.items():
            queue.extend((model, (*path, json_name)) for model in _models_in(field.type))


@cache
def _component_names() -> dict[str, str]:
    """Component name of every client model reachable from a served kind.

    Meta/v1 types and a few core ones are named explicitly; any other type belongs
    to the group of the first kind reaching it.
    """
    return {class_name: _component_name(class_name, res) for class_name, (res, _) in _origins().items()}


def _component_name(class_name: str, reached_from: Resource | None) -> str:
    model = schema.model_schema(class_name)
    if class_name in _META_MODELS or reached_from is None:
        return f"{_META}.{model.go_name}"
    package = "core" if class_name in _CORE_MODELS else (reached_from.group.split(".")[0] or "core")
    return f"io.k8s.api.{package}.{model.version}.{model.go_name}"


def _referenced_models(class_name: str) -> list[str]:
    return [
        model for field in schema.model_schema(class_name).fields.values() for model in _models_in(field.type)
    ]


def _models_in(field_type: FieldType) -> list[str]:
    if field_type.kind == "model":
        return [field_type.model]
    if field_type.item is not None:
        return _models_in(field_type.item)
    return []


def _closure(class_names: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    queue = deque(class_names)
    while queue:
        class_name = queue.popleft()
        if class_name not in seen:
            seen[class_name] = None
            queue.extend(_referenced_models(class_name))
    return list(seen)


def _ref(component: str) -> dict:
    return {"$ref": _REF_PREFIX + component}


def _model_ref(class_name: str) -> dict:
    return _ref(_component_names()[class_name])


# --- schemas --------------------------------------------------------------------------------


def _components(kinds: list[Resource]) -> dict[str, dict]:
    roots = [schema.root_type(res).model for res in kinds]
    components = dict(_SPECIAL_COMPONENTS)
    for class_name in _closure(roots + list(_OPERATION_MODELS)):
        components[_component_names()[class_name]] = _model_component(class_name)
    for res in kinds:
        components[_kind_component_name(res)]["x-kubernetes-group-version-kind"] = [_gvk(res)]
        components[_list_component_name(res)] = _list_component(res)
    return dict(sorted(components.items()))


def _model_component(class_name: str) -> dict:
    model = schema.model_schema(class_name)
    properties = {
        name: _property(field) | _merge_extensions(class_name, field) for name, field in model.fields.items()
    }
    component: dict = {"description": model.description, "type": "object", "properties": properties}
    required = sorted(name for name, field in model.fields.items() if field.required)
    if required:
        component["required"] = required
    if class_name == "V1Status":
        component["x-kubernetes-group-version-kind"] = [{"group": "", "kind": "Status", "version": "v1"}]
    return component


def _property(field: schema.Field) -> dict:
    prop = _type_schema(field.type)
    if field.description:
        prop["description"] = field.description
    return prop


def _merge_extensions(class_name: str, field: schema.Field) -> dict:
    """List types for server-side apply and patch strategies for kubectl's strategic merge patches."""
    res, path = _origins()[class_name]
    if res is None:
        return {}
    rule = list_type(res.kind, (*path, field.json_name))
    extensions: dict = {}
    if field.type.kind == "list":
        extensions["x-kubernetes-list-type"] = rule.kind
        if rule.kind == "map":
            extensions["x-kubernetes-list-map-keys"] = list(rule.keys)
    if rule.merge_key:
        extensions["x-kubernetes-patch-merge-key"] = rule.merge_key
    strategies = []
    if rule.merge_key or rule.smp_merge_primitives:
        strategies.append("merge")
    if rule.retain_keys:
        strategies.append("retainKeys")
    if strategies:
        extensions["x-kubernetes-patch-strategy"] = ",".join(strategies)
    return extensions


def _type_schema(field_type: FieldType) -> dict:
    """OpenAPI schema of a field type; named types are wrapped in ``allOf`` as Kubernetes does."""
    kind = field_type.kind
    if kind == "model":
        return {"allOf": [_model_ref(field_type.model)]}
    if kind == "list":
        return {"type": "array", "items": _type_schema(field_type.item)}
    if kind == "map":
        return {"type": "object", "additionalProperties": _type_schema(field_type.item)}
    if kind == "integer":
        return {"type": "integer", "format": "int64" if field_type.int64 else "int32"}
    named = {"datetime": _TIME, "quantity": _QUANTITY, "int-or-string": _INT_OR_STRING}
    if kind in named:
        return {"allOf": [_ref(named[kind])]}
    return {
        "string": {"type": "string"},
        "boolean": {"type": "boolean"},
        "number": {"type": "number", "format": "double"},
        "bytes": {"type": "string", "format": "byte"},
        "any": {"type": "object"},
    }[kind]


def _kind_component_name(res: Resource) -> str:
    return _component_names()[schema.root_type(res).model]


def _list_component_name(res: Resource) -> str:
    return _kind_component_name(res) + "List"


def _list_component(res: Resource) -> dict:
    return {
        "description": f"{res.list_kind} is a list of {res.kind} objects.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this representation."},
            "items": {
                "type": "array",
                "items": _model_ref(schema.root_type(res).model),
                "description": f"The {res.plural}.",
            },
            "kind": {"type": "string", "description": "REST resource this object represents."},
            "metadata": {"allOf": [_model_ref("V1ListMeta")], "description": "Standard list metadata."},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [
            {"group": res.group, "kind": res.list_kind, "version": res.version}
        ],
    }


def _gvk(res: Resource) -> dict:
    return {"group": res.group, "kind": res.kind, "version": res.version}


# --- paths ----------------------------------------------------------------------------------


def _query(name: str, description: str, value_type: str = "string") -> dict:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": value_type, "uniqueItems": True},
    }


def _path_param(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "uniqueItems": True},
    }


_PRETTY = _query("pretty", "If 'true', the output is pretty printed.")
_NAME = _path_param("name", "name of the object")
_NAMESPACE = _path_param("namespace", "object name and auth scope, such as for teams and projects")
_WRITE_PARAMS = [
    _query("dryRun", "When present, modifications are not persisted. Valid value: All."),
    _query("fieldManager", "Name of the actor making the change, recorded in managedFields."),
    _query(
        "fieldValidation",
        "How to treat unknown or duplicate fields in the body: Ignore, Warn (default) or Strict.",
    ),
]
_PATCH_PARAMS = [
    *_WRITE_PARAMS,
    _query("force", "Force an apply request to take ownership of conflicting fields.", "boolean"),
]
_LIST_PARAMS = [
    _query("allowWatchBookmarks", "Request BOOKMARK watch events.", "boolean"),
    _query("continue", "Continue token from a previous paginated list."),
    _query("fieldSelector", "Restrict the returned objects by their fields."),
    _query("labelSelector", "Restrict the returned objects by their labels."),
    _query("limit", "Maximum number of objects to return in one page.", "integer"),
    _query("resourceVersion", "Resource version constraint for the request."),
    _query("resourceVersionMatch", "How resourceVersion applies: Exact or NotOlderThan."),
    _query("sendInitialEvents", "Start a watch with synthetic events for existing objects.", "boolean"),
    _query("timeoutSeconds", "Timeout for the list or watch call.", "integer"),
    _query("watch", "Watch for changes and return them as a stream of events.", "boolean"),
]
_DELETE_PARAMS = [
    _query("dryRun", "When present, modifications are not persisted. Valid value: All."),
    _query("gracePeriodSeconds", "Seconds before the object is deleted; 0 deletes immediately.", "integer"),
    _query("orphanDependents", "Deprecated: use propagationPolicy.", "boolean"),
    _query("propagationPolicy", "Garbage collection of dependents: Orphan, Background or Foreground."),
]


def _content(component: str, content_types: tuple[str, ...]) -> dict:
    return {content_type: {"schema": _ref(component)} for content_type in content_types}


def _responses(component: str, codes: tuple[str, ...], content_types=_OBJECT_CONTENT_TYPES) -> dict:
    responses = {
        code: {"description": _CODE_TEXT[code], "content": _content(component, content_types)}
        for code in codes
    }
    responses["401"] = {"description": "Unauthorized"}
    return responses


_CODE_TEXT = {"200": "OK", "201": "Created", "202": "Accepted"}


def _operation(
    res: Resource,
    action: str,
    operation_id: str,
    description: str,
    parameters: list[dict],
    responses: dict,
    request_body: dict | None = None,
) -> dict:
    operation = {
        "description": description,
        "operationId": operation_id,
        "tags": [_tag(res)],
        "parameters": parameters,
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(res),
    }
    if request_body is not None:
        operation["requestBody"] = request_body
    return operation


def _body(component: str, content_types: tuple[str, ...] = ("*/*",)) -> dict:
    return {"content": _content(component, content_types), "required": True}


def _operation_prefix(res: Resource) -> str:
    """``AppsV1``, ``CoreV1``, ``RbacAuthorizationV1``: the group-version part of operation ids."""
    group = res.group.removesuffix(".k8s.io")
    words = group.split(".") if group else ["core"]
    return "".join(word.capitalize() for word in words) + res.version.capitalize()


def _tag(res: Resource) -> str:
    prefix = _operation_prefix(res).removesuffix(res.version.capitalize())
    return f"{prefix[0].lower()}{prefix[1:]}_{res.version}"


def _resource_paths(res: Resource) -> dict[str, dict]:
    base = f"/apis/{res.group}/{res.version}" if res.group else f"/api/{res.version}"
    collection = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{base}/{res.plural}"
    scope = [_NAMESPACE] if res.namespaced else []
    prefix = _operation_prefix(res)
    scoped_kind = ("Namespaced" if res.namespaced else "") + res.kind
    kind_ref = _kind_component_name(res)
    list_ref = _list_component_name(res)

    def op_id(verb: str, suffix: str = "") -> str:
        return f"{verb}{prefix}{scoped_kind}{suffix}"

    paths = {
        collection: {
            "parameters": [*scope, _PRETTY],
            "get": _operation(
                res,
                "list",
                op_id("list"),
                f"list or watch objects of kind {res.kind}",
                _LIST_PARAMS,
                _responses(list_ref, ("200",), _LIST_CONTENT_TYPES),
            ),
            "post": _operation(
                res,
                "post",
                op_id("create"),
                f"create a {res.kind}",
                list(_WRITE_PARAMS),
                _responses(kind_ref, ("200", "201", "202")),
                _body(kind_ref),
            ),
            "delete": _operation(
                res,
                "deletecollection",
                f"delete{prefix}Collection{scoped_kind}",
                f"delete collection of {res.kind}",
                _DELETE_PARAMS + _LIST_PARAMS,
                _responses(_STATUS, ("200",)),
                _body(_DELETE_OPTIONS),
            ),
        },
        f"{collection}/{{name}}": {
            "parameters": [_NAME, *scope, _PRETTY],
            "get": _operation(
                res,
                "get",
                op_id("read"),
                f"read the specified {res.kind}",
                [],
                _responses(kind_ref, ("200",)),
            ),
            "put": _operation(
                res,
                "put",
                op_id("replace"),
                f"replace the specified {res.kind}",
                list(_WRITE_PARAMS),
                _responses(kind_ref, ("200", "201")),
                _body(kind_ref),
            ),
            "patch": _operation(
                res,
                "patch",
                op_id("patch"),
                f"partially update the specified {res.kind}",
                list(_PATCH_PARAMS),
                _responses(kind_ref, ("200", "201")),
                _body(_PATCH, PATCH_CONTENT_TYPES),
            ),
            "delete": _operation(
                res,
                "delete",
                op_id("delete"),
                f"delete a {res.kind}",
                list(_DELETE_PARAMS),
                _responses(kind_ref, ("200", "202")),
                _body(_DELETE_OPTIONS),
            ),
        },
    }
    if res.has_status:
        paths[f"{collection}/{{name}}/status"] = {
            "parameters": [_NAME, *scope, _PRETTY],
            "get": _operation(
                res,
                "get",
                op_id("read", "Status"),
                f"read status of the specified {res.kind}",
                [],
                _responses(kind_ref, ("200",)),
            ),
            "put": _operation(
                res,
                "put",
                op_id("replace", "Status"),
                f"replace status of the specified {res.kind}",
                list(_WRITE_PARAMS),
                _responses(kind_ref, ("200", "201")),
                _body(kind_ref),
            ),
            "patch": _operation(
                res,
                "patch",
                op_id("patch", "Status"),
                f"partially update status of the specified {res.kind}",
                list(_PATCH_PARAMS),
                _responses(kind_ref, ("200", "201")),
                _body(_PATCH, PATCH_CONTENT_TYPES),
            ),
        }
    if res.namespaced:
        paths[f"{base}/{res.plural}"] = {
            "parameters": [_PRETTY],
            "get": _operation(
                res,
                "list",
                f"list{prefix}{res.kind}ForAllNamespaces",
                f"list or watch objects of kind {res.kind} in all namespaces",
                _LIST_PARAMS,
                _responses(list_ref, ("200",), _LIST_CONTENT_TYPES),
            ),
        }
    return paths


# --- documents ------------------------------------------------------------------------------


@cache
def _document(group: str, version: str) -> dict:
    kinds = resources_in(group, version)
    paths: dict[str, dict] = {}
    for res in kinds:
        paths.update(_resource_paths(res))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": _components(kinds),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "authorization",
                    "description": "Bearer token authentication",
                }
            },
        },
        "security": [{"BearerToken": []}],
    }
