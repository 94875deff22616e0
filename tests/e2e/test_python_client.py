"""The official kubernetes Python client against the sandbox: list, watch, patch, errors, TLS."""

from __future__ import annotations

import threading

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(sandbox):
    api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig))
    assert api_client.configuration.verify_ssl is True
    yield api_client
    api_client.close()


def test_list_with_selector_and_pagination(api):
    core = client.CoreV1Api(api)
    for i in range(5):
        core.create_namespaced_config_map(
            "default",
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"page-{i}", labels={"suite": "pagination"}),
                data={"i": str(i)},
            ),
        )
    first = core.list_namespaced_config_map("default", label_selector="suite=pagination", limit=2)
    assert [c.metadata.name for c in first.items] == ["page-0", "page-1"]
    assert first.metadata.remaining_item_count == 3
    rest = core.list_namespaced_config_map(
        "default", label_selector="suite=pagination", limit=10, _continue=first.metadata._continue
    )
    assert [c.metadata.name for c in rest.items] == ["page-2", "page-3", "page-4"]
    assert not rest.metadata._continue


def test_watch_from_resource_version(api):
    core = client.CoreV1Api(api)
    listed = core.list_namespaced_config_map("default", label_selector="suite=watch")
    seen: list[tuple[str, str]] = []
    done = threading.Event()

    def follow():
        w = watch.Watch()
        for event in w.stream(
            core.list_namespaced_config_map,
            "default",
            label_selector="suite=watch",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=20,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()
        done.set()

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="watched", labels={"suite": "watch"}), data={"v": "1"}
    )
    core.create_namespaced_config_map("default", body)
    core.patch_namespaced_config_map("watched", "default", {"data": {"v": "2"}})
    core.delete_namespaced_config_map("watched", "default")
    assert done.wait(20)
    assert seen == [("ADDED", "watched"), ("MODIFIED", "watched"), ("DELETED", "watched")]


def test_patch_and_optimistic_concurrency(api):
    apps = client.AppsV1Api(api)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="py-dep"),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels={"app": "py"}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": "py"}),
                spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]),
            ),
        ),
    )
    created = apps.create_namespaced_deployment("default", dep)
    patched = apps.patch_namespaced_deployment("py-dep", "default", {"spec": {"replicas": 3}})
    assert patched.spec.replicas == 3 and patched.metadata.generation == 2
    stale = created
    stale.spec.replicas = 5
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("py-dep", "default", stale)
    assert err.value.status == 409
    scale = apps.read_namespaced_deployment_scale("py-dep", "default")
    assert scale.spec.replicas == 3
    apps.patch_namespaced_deployment_scale("py-dep", "default", {"spec": {"replicas": 4}})
    assert apps.read_namespaced_deployment("py-dep", "default").spec.replicas == 4


def test_not_found_is_404(api):
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).read_namespaced_secret("absent", "default")
    assert err.value.status == 404


def test_wrong_ca_is_rejected(sandbox, tmp_path):
    """TLS is verified: the same server with a CA it was not signed by fails the handshake."""
    cfg = client.Configuration()
    cfg.host = sandbox.endpoint()["server"]
    other_ca = tmp_path / "other-ca.crt"
    from sandbox.apiserver import pki

    other_ca.write_bytes(pki.ensure_credentials(tmp_path / "other").ca_cert.read_bytes())
    cfg.ssl_ca_cert = str(other_ca)
    cfg.retries = 0
    with pytest.raises(urllib3.exceptions.MaxRetryError) as err:
        client.VersionApi(client.ApiClient(cfg)).get_code()
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)


def test_bad_token_is_401(sandbox):
    cfg = client.Configuration()
    cfg.host = sandbox.endpoint()["server"]
    cfg.ssl_ca_cert = str(sandbox.state_dir / "pki" / "ca.crt")
    cfg.api_key = {"authorization": "Bearer wrong-token"}
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(client.ApiClient(cfg)).list_namespace()
    assert err.value.status == 401
