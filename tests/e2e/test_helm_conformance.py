"""The real helm (4.1.4 and 3.18.0) against the sandbox: the release lifecycle end to end."""

from __future__ import annotations

import base64
import json
import re

import pytest

CHART = "tests/fixtures/charts/conformance"

pytestmark = pytest.mark.e2e

VARIANTS = [
    pytest.param("helm", [], id="helm4-server-side-apply"),
    pytest.param("helm", ["--server-side=false"], id="helm4-client-side"),
    pytest.param("helm3", [], id="helm3"),
]


def _release_secrets(sandbox, release: str) -> list[str]:
    items = sandbox.kubectl_json("get", "secrets", "-l", f"owner=helm,name={release}")["items"]
    return sorted(s["metadata"]["name"] for s in items)


def _configmap(sandbox, release: str) -> dict:
    return sandbox.kubectl_json("get", "configmap", f"{release}-config")["data"]


@pytest.mark.parametrize(("helm", "mode"), VARIANTS)
def test_release_lifecycle(sandbox, helm, mode):
    release = f"conf-{helm}-{'ssa' if not mode else 'csa'}"
    sandbox.helm(helm, "install", release, CHART, *mode)
    assert _configmap(sandbox, release) == {"message": "hello", "replicas": "1"}
    secret = sandbox.kubectl_json("get", "secret", f"{release}-secret")
    assert base64.b64decode(secret["data"]["token"]) == b"s3cr3t"
    assert base64.b64decode(secret["data"]["message"]) == b"hello"  # stringData merged into data
    assert "stringData" not in secret
    service = sandbox.kubectl_json("get", "service", f"{release}-web")
    assert re.fullmatch(r"10\.\d+\.\d+\.\d+", service["spec"]["clusterIP"])
    deployment = sandbox.kubectl_json("get", "deployment", f"{release}-web")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["metadata"]["generation"] == 1

    # Upgrade with changed values: revision 2 and new content everywhere.
    sandbox.helm(
        helm,
        "upgrade",
        release,
        CHART,
        "--set",
        "message=changed,replicas=2",
        "--set-string",
        "image.tag=3.9",
        *mode,
    )
    assert _configmap(sandbox, release) == {"message": "changed", "replicas": "2"}
    deployment = sandbox.kubectl_json("get", "deployment", f"{release}-web")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.9"
    assert deployment["metadata"]["generation"] == 2
    assert (
        service["spec"]["clusterIP"]
        == sandbox.kubectl_json("get", "service", f"{release}-web")["spec"]["clusterIP"]
    )  # clusterIP survives the upgrade

    history = json.loads(sandbox.helm(helm, "history", release, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2]
    assert [h["status"] for h in history] == ["superseded", "deployed"]

    values = json.loads(sandbox.helm(helm, "get", "values", release, "-o", "json").stdout)
    assert values == {"message": "changed", "replicas": 2, "image": {"tag": "3.9"}}
    manifest = sandbox.helm(helm, "get", "manifest", release).stdout
    assert "name: " + release + "-config" in manifest and 'message: "changed"' in manifest
    status = sandbox.helm(helm, "status", release).stdout
    assert "STATUS: deployed" in status and "REVISION: 2" in status

    # Rollback to revision 1: a third revision whose objects carry revision-1 content.
    sandbox.helm(helm, "rollback", release, "1")
    history = json.loads(sandbox.helm(helm, "history", release, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2, 3]
    assert history[-1]["status"] == "deployed"
    assert _configmap(sandbox, release) == {"message": "hello", "replicas": "1"}
    deployment = sandbox.kubectl_json("get", "deployment", f"{release}-web")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.10"

    # upgrade --install twice on an existing release: two more revisions, content as asked.
    for message in ("again", "again"):
        sandbox.helm(helm, "upgrade", "--install", release, CHART, "--set", f"message={message}", *mode)
    history = json.loads(sandbox.helm(helm, "history", release, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2, 3, 4, 5]
    assert _configmap(sandbox, release)["message"] == "again"
    assert len(_release_secrets(sandbox, release)) == 5

    # Uninstall: objects and release records gone.
    sandbox.helm(helm, "uninstall", release)
    for kind, name in (
        ("configmap", "config"),
        ("secret", "secret"),
        ("service", "web"),
        ("deployment", "web"),
    ):
        result = sandbox.kubectl("get", kind, f"{release}-{name}", check=False)
        assert result.returncode != 0 and "NotFound" in result.stderr
    assert _release_secrets(sandbox, release) == []


@pytest.mark.parametrize("helm", ["helm", "helm3"])
def test_upgrade_install_creates_then_upgrades(sandbox, helm):
    release = f"fresh-{helm}"
    sandbox.helm(helm, "upgrade", "--install", release, CHART)
    sandbox.helm(helm, "upgrade", "--install", release, CHART, "--set", "message=second")
    history = json.loads(sandbox.helm(helm, "history", release, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1, 2]
    assert _configmap(sandbox, release)["message"] == "second"
    sandbox.helm(helm, "uninstall", release)


def test_helm_release_survives_sandbox_restart(sandbox):
    release = "restart-check"
    sandbox.helm("helm", "install", release, CHART, "--set", "message=persisted")
    sandbox.down()
    sandbox.up()
    history = json.loads(sandbox.helm("helm", "history", release, "-o", "json").stdout)
    assert [h["revision"] for h in history] == [1]
    assert _configmap(sandbox, release)["message"] == "persisted"
    sandbox.helm("helm", "upgrade", release, CHART, "--set", "message=after-restart")
    assert _configmap(sandbox, release)["message"] == "after-restart"
    sandbox.helm("helm", "uninstall", release)
