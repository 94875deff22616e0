"""OpenAPI v3 index and documents, checked the way kubectl and helm read them."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from sandbox.apiserver import openapi, resources

GROUP_VERSIONS = [
    (group, version) for group, versions in resources.group_versions().items() for version in versions
]
GV_IDS = [f"{group or 'core'}/{version}" for group, version in GROUP_VERSIONS]
METHODS = ("get", "put", "post", "delete", "patch")


def _document(group: str, version: str) -> dict:
    document = openapi.v3_document(group, version)
    assert document is not None
    return json.loads(json.dumps(document))  # proves it is plain JSON


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if "$ref" in node else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _patch_operations_for(document: dict, res: resources.Resource) -> list[dict]:
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    return [
        item["patch"]
        for item in document["paths"].values()
        if "patch" in item and item["patch"].get("x-kubernetes-group-version-kind") == gvk
    ]


def test_index_lists_every_served_group_version_with_its_hash() -> None:
    paths = openapi.v3_index()["paths"]
    expected = {("api/v1" if not group else f"apis/{group}/{version}") for group, version in GROUP_VERSIONS}
    assert set(paths) == expected
    for group, version in GROUP_VERSIONS:
        key = "api/v1" if not group else f"apis/{group}/{version}"
        digest = openapi.v3_hash(group, version)
        assert re.fullmatch(r"[0-9A-F]{128}", digest)
        assert paths[key]["serverRelativeURL"] == f"/openapi/v3/{key}?hash={digest}"


def test_hash_is_taken_over_the_canonical_document() -> None:
    document = openapi.v3_document("apps", "v1")
    expected = hashlib.sha512(openapi.canonical_json(document)).hexdigest().upper()
    assert openapi.v3_hash("apps", "v1") == expected
    assert openapi.v3_hash("apps", "v1") != openapi.v3_hash("", "v1")


def test_unserved_group_versions_have_no_document() -> None:
    assert openapi.v3_document("apps", "v1beta1") is None
    assert openapi.v3_document("example.com", "v1") is None


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_every_patch_of_every_kind_accepts_field_validation(group: str, version: str) -> None:
    # cli-runtime's verifier uses the first PATCH it finds for the kind, so all of them must qualify.
    document = _document(group, version)
    for res in resources.resources_in(group, version):
        patches = _patch_operations_for(document, res)
        assert patches, res.kind
        for operation in patches:
            query = {p["name"] for p in operation["parameters"] if p.get("in") == "query"}
            assert {"fieldValidation", "dryRun", "fieldManager", "force"} <= query
            assert set(operation["requestBody"]["content"]) == set(openapi.PATCH_CONTENT_TYPES)
            assert operation["x-kubernetes-action"] == "patch"


def test_core_document_has_the_namespace_patch_the_crd_fallback_checks() -> None:
    operation = _document("", "v1")["paths"]["/api/v1/namespaces/{name}"]["patch"]
    assert operation["operationId"] == "patchCoreV1Namespace"
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in operation["parameters"])


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_paths_operations_and_components_cover_every_kind(group: str, version: str) -> None:
    document = _document(group, version)
    schemas = document["components"]["schemas"]
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for res in resources.resources_in(group, version):
        scope = f"{base}/namespaces/{{namespace}}" if res.namespaced else base
        collection = f"{scope}/{res.plural}"
        assert set(document["paths"][collection]) >= {"get", "post", "delete"}
        assert set(document["paths"][f"{collection}/{{name}}"]) >= {"get", "put", "patch", "delete"}
        if res.namespaced:
            assert document["paths"][f"{base}/{res.plural}"]["get"]["x-kubernetes-action"] == "list"
        kinds = {
            gvk["kind"]
            for component in schemas.values()
            for gvk in component.get("x-kubernetes-group-version-kind", [])
            if gvk["group"] == res.group and gvk["version"] == res.version
        }
        assert {res.kind, res.list_kind} <= kinds
    operation_ids = [
        op["operationId"]
        for item in document["paths"].values()
        for method, op in item.items()
        if method in METHODS
    ]
    assert len(operation_ids) == len(set(operation_ids))
    for meta in ("ObjectMeta", "ListMeta", "Status", "DeleteOptions", "Patch"):
        assert f"io.k8s.apimachinery.pkg.apis.meta.v1.{meta}" in schemas


@pytest.mark.parametrize(("group", "version"), GROUP_VERSIONS, ids=GV_IDS)
def test_every_ref_resolves_inside_the_document(group: str, version: str) -> None:
    document = _document(group, version)
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in document["components"]["schemas"], ref


def test_deployment_schema_has_types_and_merge_strategies() -> None:
    schemas = _document("apps", "v1")["components"]["schemas"]
    deployment = schemas["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    spec = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]
    assert spec["replicas"]["type"] == "integer" and spec["replicas"]["format"] == "int32"
    assert spec["template"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert (
        schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"]["x-kubernetes-patch-strategy"]
        == "merge,retainKeys"
    )
    target_port = schemas["io.k8s.api.core.v1.HTTPGetAction"]["properties"]["port"]
    assert target_port["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}
    ]
    assert "required" in schemas["io.k8s.api.core.v1.Container"] and schemas["io.k8s.api.core.v1.Container"][
        "required"
    ] == ["name"]


def test_documents_are_built_once() -> None:
    assert openapi.v3_document("", "v1") is openapi.v3_document("", "v1")
