"""``python -m sandbox up|status|down``: lifecycle, persistence, credentials, bad input."""

from __future__ import annotations

import base64
import json
import stat
import sys

import pytest
import yaml

from tests.support import Sandbox, run

pytestmark = pytest.mark.e2e


def test_up_is_idempotent_and_down_keeps_objects(tmp_path):
    box = Sandbox(tmp_path / "state")
    path = box.up()
    assert path == box.kubeconfig and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pid = box.endpoint()["pid"]
    assert box.up() == path and box.endpoint()["pid"] == pid  # no second server
    assert box.cli("status").returncode == 0
    box.kubectl("create", "configmap", "kept", "--from-literal=k=v")
    uid = box.kubectl_json("get", "configmap", "kept")["metadata"]["uid"]
    box.down()
    assert box.cli("status", check=False).returncode == 3
    assert box.kubectl("get", "configmap", "kept", check=False).returncode != 0
    box.up()
    kept = box.kubectl_json("get", "configmap", "kept")
    assert kept["metadata"]["uid"] == uid and kept["data"] == {"k": "v"}
    box.down()


def test_kubeconfig_verifies_tls_and_carries_a_token(tmp_path):
    box = Sandbox(tmp_path / "state")
    box.up()
    try:
        config = yaml.safe_load(box.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        assert "insecure-skip-tls-verify" not in cluster
        assert base64.b64decode(cluster["certificate-authority-data"]).startswith(
            b"-----BEGIN CERTIFICATE-----"
        )
        assert config["users"][0]["user"]["token"]
        assert cluster["server"].startswith("https://127.0.0.1:")
    finally:
        box.down()


def test_nodes_file_is_stored(tmp_path):
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {"name": f"gpu-{i}", "labels": {"memorysize": "16GB"}},
                    "status": {
                        "capacity": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "64Gi"},
                        "allocatable": {"nvidia.com/gpu": "1", "cpu": "8", "memory": "64Gi"},
                    },
                }
                for i in range(2)
            ]
        )
    )
    box = Sandbox(tmp_path / "state")
    box.up("--nodes", str(nodes), "--time-scale", "60")
    try:
        listed = box.kubectl_json("get", "nodes", "-l", "memorysize=16GB")["items"]
        assert [n["metadata"]["name"] for n in listed] == ["gpu-0", "gpu-1"]
        assert listed[0]["status"]["allocatable"]["nvidia.com/gpu"] == "1"
        assert json.loads((box.state_dir / "config.json").read_text())["timeScale"] == 60
    finally:
        box.down()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", "expected a v1 Node manifest"),
        ("apiVersion: v1\nkind: Node\nmetadata: {}\n", "metadata.name is required"),
        ("{unclosed", "is not valid YAML"),
    ],
)
def test_bad_nodes_file_is_a_usage_error(tmp_path, content, message):
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(content)
    result = run(
        [sys.executable, "-m", "sandbox", "up", "--state-dir", str(tmp_path / "s"), "--nodes", str(nodes)],
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s" / "endpoint.json").exists()


def test_bad_time_scale_is_a_usage_error(tmp_path):
    result = run(
        [sys.executable, "-m", "sandbox", "up", "--state-dir", str(tmp_path / "s"), "--time-scale", "0"],
        check=False,
    )
    assert result.returncode == 2 and "--time-scale must be greater than 0" in result.stderr


def test_help_names_every_command():
    out = run([sys.executable, "-m", "sandbox", "--help"]).stdout
    for command in ("up", "status", "down", "serve"):
        assert command in out
