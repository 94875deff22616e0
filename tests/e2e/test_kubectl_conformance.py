"""The real kubectl (1.35) against the sandbox: reads, writes, patches, watches and waits."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time

import pytest
import yaml

from tests.support import binary

pytestmark = pytest.mark.e2e

DEPLOYMENT = textwrap.dedent("""\
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web, tier: front}
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: app
            image: nginx:1.27
            env:
            - {name: A, value: "1"}
            - {name: B, value: "2"}
            ports:
            - containerPort: 80
          - name: sidecar
            image: busybox:1.36
    """)


@pytest.fixture(scope="module")
def deployed(sandbox):
    sandbox.kubectl("apply", "-f", "-", input_text=DEPLOYMENT)
    return sandbox


def _containers(sandbox, name="web") -> dict:
    dep = sandbox.kubectl_json("get", "deployment", name)
    return {c["name"]: c for c in dep["spec"]["template"]["spec"]["containers"]}


def test_get_formats_and_selectors(deployed):
    sandbox = deployed
    as_json = sandbox.kubectl_json("get", "deployment", "web")
    assert as_json["kind"] == "Deployment" and as_json["metadata"]["labels"]["tier"] == "front"
    as_yaml = yaml.safe_load(sandbox.kubectl("get", "deployment", "web", "-o", "yaml").stdout)
    assert as_yaml["metadata"]["uid"] == as_json["metadata"]["uid"]
    sandbox.kubectl("create", "configmap", "sel-a", "--from-literal=k=v")
    sandbox.kubectl("label", "configmap", "sel-a", "team=x")
    sandbox.kubectl("create", "configmap", "sel-b", "--from-literal=k=v")
    names = sandbox.kubectl("get", "configmaps", "-l", "team=x", "-o", "name").stdout.split()
    assert names == ["configmap/sel-a"]
    names = sandbox.kubectl("get", "configmaps", "-l", "team!=x", "-o", "name").stdout.split()
    assert "configmap/sel-b" in names and "configmap/sel-a" not in names
    names = sandbox.kubectl(
        "get", "configmaps", "--field-selector", "metadata.name=sel-b", "-o", "name"
    ).stdout
    assert names.split() == ["configmap/sel-b"]
    bad = sandbox.kubectl("get", "configmaps", "--field-selector", "spec.nope=1", check=False)
    assert bad.returncode != 0 and "field label not supported" in bad.stderr
    table = sandbox.kubectl("get", "deployment", "web").stdout
    assert table.splitlines()[0].split()[:4] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE"]


def test_watch_sees_a_later_change(deployed):
    sandbox = deployed
    sandbox.kubectl("create", "configmap", "watched", "--from-literal=v=1")
    proc = subprocess.Popen(
        [binary("kubectl"), "get", "configmap", "watched", "-w", "-o", 'jsonpath={.data.v}{"\\n"}'],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sandbox.env,
    )
    try:
        assert proc.stdout.readline().strip() == "1"
        sandbox.kubectl("patch", "configmap", "watched", "--type=merge", "-p", '{"data":{"v":"2"}}')
        deadline = time.monotonic() + 20
        line = proc.stdout.readline().strip()
        assert line == "2" and time.monotonic() < deadline
    finally:
        proc.kill()
        proc.wait()


def test_apply_client_side_then_server_side(deployed):
    sandbox = deployed
    changed = re.sub(r"^ *- \{name: B.*\n", "", DEPLOYMENT.replace("nginx:1.27", "nginx:1.28"), flags=re.M)
    out = sandbox.kubectl("apply", "-f", "-", input_text=changed).stdout
    assert "deployment.apps/web configured" in out
    containers = _containers(sandbox)
    assert containers["app"]["image"] == "nginx:1.28"
    assert [e["name"] for e in containers["app"]["env"]] == ["A"]  # dropped from config → removed
    assert set(containers) == {"app", "sidecar"}
    unchanged = sandbox.kubectl("apply", "-f", "-", input_text=changed).stdout
    assert "unchanged" in unchanged

    ssa = changed.replace("name: web\n", "name: web-ssa\n", 1)
    sandbox.kubectl("apply", "--server-side", "-f", "-", input_text=ssa)
    dep = sandbox.kubectl_json("get", "deployment", "web-ssa", "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in dep["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    without_sidecar = ssa.replace("      - name: sidecar\n        image: busybox:1.36\n", "")
    sandbox.kubectl("apply", "--server-side", "-f", "-", input_text=without_sidecar)
    assert set(_containers(sandbox, "web-ssa")) == {"app"}  # field dropped by its only applier


def test_diff_shows_pending_change(deployed):
    sandbox = deployed
    current = yaml.safe_load(DEPLOYMENT)
    current["metadata"]["name"] = "web-diff"
    sandbox.kubectl("apply", "-f", "-", input_text=yaml.safe_dump(current))
    same = sandbox.kubectl("diff", "-f", "-", input_text=yaml.safe_dump(current), check=False)
    assert same.returncode == 0 and same.stdout == ""
    current["spec"]["replicas"] = 5
    diff = sandbox.kubectl("diff", "-f", "-", input_text=yaml.safe_dump(current), check=False)
    assert diff.returncode == 1, diff.stderr
    assert "-  replicas: 2" in diff.stdout and "+  replicas: 5" in diff.stdout
    assert (
        sandbox.kubectl_json("get", "deployment", "web-diff")["spec"]["replicas"] == 2
    )  # diff changed nothing


def test_patch_json_merge_strategic(deployed):
    sandbox = deployed
    sandbox.kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":3}]',
    )
    assert sandbox.kubectl_json("get", "deployment", "web")["spec"]["replicas"] == 3
    sandbox.kubectl(
        "patch", "deployment", "web", "--type=merge", "-p", '{"metadata":{"labels":{"tier":null}}}'
    )
    assert "tier" not in sandbox.kubectl_json("get", "deployment", "web")["metadata"]["labels"]
    sandbox.kubectl(
        "patch",
        "deployment",
        "web",
        "--type=strategic",
        "-p",
        json.dumps(
            {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}}}
        ),
    )
    containers = _containers(sandbox)
    assert containers["sidecar"]["image"] == "busybox:1.37"
    assert containers["app"]["image"] == "nginx:1.28"  # merged by name, not replaced
    failed = sandbox.kubectl(
        "patch",
        "deployment",
        "web",
        "--type=json",
        "-p",
        '[{"op":"test","path":"/spec/replicas","value":99}]',
        check=False,
    )
    assert failed.returncode != 0


def test_label_annotate_delete(deployed):
    sandbox = deployed
    sandbox.kubectl("create", "configmap", "tagged", "--from-literal=a=b")
    sandbox.kubectl("label", "configmap", "tagged", "color=blue")
    sandbox.kubectl("annotate", "configmap", "tagged", "note=hello world")
    meta = sandbox.kubectl_json("get", "configmap", "tagged")["metadata"]
    assert meta["labels"] == {"color": "blue"} and meta["annotations"] == {"note": "hello world"}
    sandbox.kubectl("label", "configmap", "tagged", "color-")
    assert (
        "labels" not in sandbox.kubectl_json("get", "configmap", "tagged")["metadata"]
        or sandbox.kubectl_json("get", "configmap", "tagged")["metadata"]["labels"] == {}
    )
    relabel = sandbox.kubectl("label", "configmap", "tagged", "note=x", "--overwrite=false")
    assert relabel.returncode == 0
    clash = sandbox.kubectl("annotate", "configmap", "tagged", "note=other", check=False)
    assert clash.returncode != 0 and "already has a value" in clash.stderr
    sandbox.kubectl("delete", "configmap", "tagged")
    gone = sandbox.kubectl("get", "configmap", "tagged", check=False)
    assert gone.returncode == 1 and 'configmaps "tagged" not found' in gone.stderr


def test_wait_for_jsonpath(deployed):
    sandbox = deployed
    sandbox.kubectl("create", "configmap", "flag", "--from-literal=state=pending")
    waiter = subprocess.Popen(
        [binary("kubectl"), "wait", "configmap/flag", "--for=jsonpath={.data.state}=done", "--timeout=30s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sandbox.env,
    )
    time.sleep(1)
    assert waiter.poll() is None  # still waiting: the condition is not met yet
    sandbox.kubectl("patch", "configmap", "flag", "--type=merge", "-p", '{"data":{"state":"done"}}')
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_errors_are_kubernetes_statuses(deployed):
    sandbox = deployed
    missing = sandbox.kubectl("get", "deployment", "nope", check=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr
    dup = sandbox.kubectl("create", "configmap", "sel-a", check=False)
    assert 'configmaps "sel-a" already exists' in dup.stderr
    invalid = sandbox.kubectl("create", "configmap", "Bad_Name", check=False)
    assert invalid.returncode != 0 and "Invalid" in invalid.stderr and "RFC 1123" in invalid.stderr
    unknown = sandbox.kubectl(
        "apply",
        "-f",
        "-",
        check=False,
        input_text="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\nbogus: 1\n",
    )
    assert unknown.returncode != 0 and 'unknown field "bogus"' in unknown.stderr
