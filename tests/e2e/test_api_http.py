"""Raw HTTP checks of API semantics the clients rely on: watch options, discovery, OpenAPI."""

from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest

pytestmark = pytest.mark.e2e


def _request(sandbox, method: str, path: str, body: dict | None = None, accept: str = "application/json"):
    context = ssl.create_default_context(cafile=str(sandbox.state_dir / "pki" / "ca.crt"))
    conn = http.client.HTTPSConnection("127.0.0.1", sandbox.endpoint()["port"], context=context, timeout=30)
    token = (sandbox.state_dir / "pki" / "token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "Accept": accept, "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    return conn, conn.getresponse()


def _events(response) -> list[dict]:
    return [json.loads(line) for line in response.read().decode().splitlines() if line.strip()]


def test_watch_list_sends_initial_events_then_a_bookmark(sandbox):
    sandbox.kubectl("create", "configmap", "initial", "--from-literal=a=b")
    path = (
        "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
        "&resourceVersionMatch=NotOlderThan&timeoutSeconds=1&fieldSelector=metadata.name%3Dinitial"
    )
    started = time.monotonic()
    conn, response = _request(sandbox, "GET", path)
    events = _events(response)
    conn.close()
    assert time.monotonic() - started < 10  # timeoutSeconds ends the stream
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[0]["object"]["metadata"]["name"] == "initial"
    bookmark = events[1]["object"]["metadata"]
    assert bookmark["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["resourceVersion"]) >= int(events[0]["object"]["metadata"]["resourceVersion"])


def test_watch_from_a_version_sees_only_later_changes_and_selector_exits(sandbox):
    sandbox.kubectl("create", "configmap", "moving", "--from-literal=a=b")
    sandbox.kubectl("label", "configmap", "moving", "stage=one")
    rv = json.loads(sandbox.kubectl("get", "configmap", "moving", "-o", "json").stdout)["metadata"][
        "resourceVersion"
    ]
    sandbox.kubectl("label", "configmap", "moving", "stage=two", "--overwrite")
    conn, response = _request(
        sandbox,
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        "&labelSelector=stage%3Done",
    )
    events = _events(response)
    conn.close()
    # The object left the selector's set: a watch on that selector sees it as deleted.
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "moving")]


def test_watch_from_an_expired_version_gets_410(sandbox):
    """A restart empties the watch cache, as it does on a real API server: older versions expire."""
    sandbox.kubectl("create", "configmap", "before-restart")
    old_rv = sandbox.kubectl_json("get", "configmap", "before-restart")["metadata"]["resourceVersion"]
    sandbox.kubectl("create", "configmap", "bump")
    sandbox.down()
    sandbox.up()
    path = f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={old_rv}&timeoutSeconds=5"
    conn, response = _request(sandbox, "GET", path)
    events = _events(response)
    conn.close()
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


def test_aggregated_and_legacy_discovery(sandbox):
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    conn, response = _request(sandbox, "GET", "/apis", accept=accept)
    body = json.loads(response.read())
    conn.close()
    assert response.getheader("Content-Type").startswith("application/json;g=apidiscovery.k8s.io;v=v2")
    apps = next(g for g in body["items"] if g["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deployments["subresources"]} == {"status", "scale"}
    conn, response = _request(sandbox, "GET", "/apis")
    legacy = json.loads(response.read())
    conn.close()
    assert legacy["kind"] == "APIGroupList"
    assert {"apps", "batch", "coordination.k8s.io"} <= {g["name"] for g in legacy["groups"]}


def test_openapi_v3_index_and_documents_are_served(sandbox):
    conn, response = _request(sandbox, "GET", "/openapi/v3")
    index = json.loads(response.read())
    conn.close()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    conn, response = _request(sandbox, "GET", url)
    doc = json.loads(response.read())
    conn.close()
    assert "io.k8s.api.apps.v1.Deployment" in doc["components"]["schemas"]


def test_dry_run_create_over_http(sandbox):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}
    conn, response = _request(sandbox, "POST", "/api/v1/namespaces/default/configmaps?dryRun=All", body)
    assert response.status == 201 and json.loads(response.read())["metadata"]["uid"]
    conn.close()
    assert sandbox.kubectl("get", "configmap", "dry", check=False).returncode == 1


def test_kubectl_server_side_dry_run_and_explain(sandbox):
    out = sandbox.kubectl(
        "create", "configmap", "dry2", "--from-literal=a=b", "--dry-run=server", "-o", "name"
    )
    assert out.stdout.strip() == "configmap/dry2"
    assert sandbox.kubectl("get", "configmap", "dry2", check=False).returncode == 1
