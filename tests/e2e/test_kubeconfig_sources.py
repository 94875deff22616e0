"""Where the runbooks find the cluster: `runner.py` with the kubeconfig given only through $KUBECONFIG
(one file, or a ``:``-separated list), a kubeconfig whose user is an exec credential plugin, and a missing
kubeconfig. The inventory host is not a sandbox host (no ``sandbox_state_dir``), so runner.py hands it no
kubeconfig of its own: the modules and helm must find it as kubectl does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import REPO, VENV_BIN, Sandbox, sandbox_host, write_inventory

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TIME_SCALE = 600


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    sandbox = Sandbox(tmp_path_factory.mktemp("sources"))
    sandbox.up("--seed", "incident", "--time-scale", str(TIME_SCALE))
    yield sandbox
    sandbox.down()


def _inventory(tmp_path: Path, box: Sandbox, **hostvars) -> Path:
    host = sandbox_host(
        None, chart_path=str(box.state_dir / "HelmChart" / "custom-chart"), rollout_timeout=120, **hostvars
    )
    assert "kubeconfig" not in host or hostvars.get("kubeconfig")
    return write_inventory(tmp_path / "inventory.yml", {"sandbox": host})


def _run(command: str, inventory: Path, kubeconfig_env: str | None, timeout: float = 600):
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"
    env["HOME"] = str(inventory.parent / "home")  # no ~/.kube/config to fall back on
    if kubeconfig_env is not None:
        env["KUBECONFIG"] = kubeconfig_env
    result = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), command, "-i", str(inventory), "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env=env,
    )
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"not one JSON document:\n{result.stdout}\nstderr:\n{result.stderr}") from None
    return result.returncode, summary, result.stdout + result.stderr


def _revisions(box: Sandbox) -> list[int]:
    return [h["revision"] for h in json.loads(box.helm("helm", "history", "local-llm", "-o", "json").stdout)]


def test_fix_with_the_kubeconfig_only_in_the_environment_converges(box, tmp_path):
    inventory = _inventory(tmp_path, box)
    code, summary, output = _run("fix", inventory, str(box.kubeconfig))
    host = summary["hosts"]["sandbox"]
    assert code == 0, output
    assert (host["revision_before"], host["revision_after"]) == (1, 2), host
    assert host["health"] == "ok" and host["diagnosis"] is None
    assert _revisions(box) == [1, 2]


def test_a_kubeconfig_list_with_an_empty_and_another_file_first(box, tmp_path):
    empty = tmp_path / "empty.kubeconfig"
    empty.write_text("")
    other = tmp_path / "other.kubeconfig"  # another cluster, no current-context: the sandbox's file says it
    other.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "elsewhere", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "someone", "user": {"token": "not-this-one"}}],
                "contexts": [{"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "someone"}}],
            }
        )
    )
    listed = os.pathsep.join([str(empty), str(other), str(box.kubeconfig)])
    inventory = _inventory(tmp_path, box)
    code, summary, output = _run("fix", inventory, listed)
    host = summary["hosts"]["sandbox"]
    assert code == 0, output
    assert host["changed"] == 0 and host["failed"] == 0, host
    assert _revisions(box) == [1, 2]
    code, summary, output = _run("status", inventory, listed)
    assert code == 0 and summary["hosts"]["sandbox"]["revision"] == 2, output


def _exec_kubeconfig(box: Sandbox, tmp_path: Path) -> Path:
    """The sandbox's kubeconfig with its token replaced by an exec plugin that prints it."""
    config = yaml.safe_load(box.kubeconfig.read_text())
    user = config["users"][0]["user"]
    token = user.pop("token")
    plugin = tmp_path / "credential-plugin.py"
    plugin.write_text(
        "import json\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        f"                  'status': {{'token': {token!r}}}}}))\n"
    )
    user["exec"] = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(plugin)],
        "interactiveMode": "Never",
    }
    path = tmp_path / "exec.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize("through", ["inventory", "environment"])
def test_an_exec_credential_plugin_user_for_status_and_verify(box, tmp_path, through):
    kubeconfig = _exec_kubeconfig(box, tmp_path)
    if through == "inventory":
        inventory, env = _inventory(tmp_path, box, kubeconfig=str(kubeconfig)), None
    else:
        inventory, env = _inventory(tmp_path, box), str(kubeconfig)
    code, summary, output = _run("status", inventory, env)
    host = summary["hosts"]["sandbox"]
    assert code == 0, output
    assert host["revision"] == 2 and host["ready"] is True and host["health"] == "ok", host
    code, summary, output = _run("verify", inventory, env)
    assert code == 0, output
    assert summary["hosts"]["sandbox"]["verified"] is True


def test_a_missing_kubeconfig_is_a_config_error_naming_the_path(box, tmp_path):
    missing = tmp_path / "no-such-dir" / "kubeconfig"
    code, _, output = _run("status", _inventory(tmp_path, box, kubeconfig=str(missing)), None)
    assert code == 2, output
    assert f"kubeconfig {missing} not found" in output
    assert "No configuration found" not in output

    code, _, output = _run("fix", _inventory(tmp_path, box), str(missing))
    assert code == 2, output
    assert f"$KUBECONFIG={missing} not found" in output and "No configuration found" not in output
    assert _revisions(box) == [1, 2]
