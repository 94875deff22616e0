"""runbooks.execute with the real ansible-runner and ansible-playbook on a tiny local playbook
(no network, no sandbox): progress lines, stats, artifact dir mode, secret scrubbing."""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest
import yaml

from runbooks.artifacts import REDACTED, scrub_text
from runbooks.execute import ansible_cmdline, run_playbook
from runbooks.inventory import Inventory, InventoryError, kubeconfig_overrides, sandbox_requests

FAKE_TOKEN = "fake-bearer-token-5f3c9a1e7d"
FAKE_KEY_DATA = "ZmFrZS1jbGllbnQta2V5LWRhdGEtZm9yLXRlc3Rz"
CA_DATA = "Q0EtZGF0YS1pcy1wdWJsaWM="

PLAYBOOK = """\
- name: Tiny fix
  hosts: clusters
  gather_facts: false
  tasks:
    - name: Leak the kubeconfig and a bearer header into the output
      ansible.builtin.debug:
        msg: "{{ lookup('ansible.builtin.file', kubeconfig) }} Authorization: Bearer another-secret-value-123"
    - name: Change the values file
      ansible.builtin.command: "true"
      changed_when: true
    - name: Publish the facts
      ansible.builtin.set_stats:
        per_host: true
        data:
          revision_before: 1
          revision_after: 2
          health: ok
    - name: Preflight
      ansible.builtin.fail:
        msg: "{{ fail_message }}"
      when: fail_message is defined
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "fix.yml").write_text(PLAYBOOK)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": CA_DATA},
                    }
                ],
                "users": [{"name": "u", "user": {"token": FAKE_TOKEN, "client-key-data": FAKE_KEY_DATA}}],
            }
        )
    )
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "kubeconfig": str(kubeconfig),
    }
    inventory = {"all": {"children": {"clusters": {"hosts": {"cluster1": host}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    return tmp_path


def _run(project: Path, **kwargs):
    stream = io.StringIO()
    result = run_playbook("fix", project / "hosts.yml", project_dir=project, progress_stream=stream, **kwargs)
    return result, stream.getvalue()


def test_a_run_prints_progress_summarises_and_scrubs_its_artifacts(project):
    result, progress = _run(project, extravars={"verify_speech": False})
    assert result.exit_code == 0, progress
    assert re.search(r"^\[\s*\d+\.\ds\] PLAY Tiny fix$", progress, re.M)
    assert re.search(r"^\[\s*\d+\.\ds\] cluster1  changed  Change the values file$", progress, re.M)
    assert re.search(r"^\[\s*\d+\.\ds\] cluster1  ok       Publish the facts$", progress, re.M)
    assert re.search(r"cluster1  skipped  Preflight$", progress, re.M)
    assert "TASK [" not in progress and FAKE_TOKEN not in progress  # never ansible's raw output

    host = result.summary["hosts"]["cluster1"]
    assert result.summary["status"] == "ok" and result.summary["command"] == "fix"
    assert (host["ok"], host["changed"], host["failed"], host["skipped"]) == (3, 1, 0, 1)
    assert (host["revision_before"], host["revision_after"], host["health"]) == (1, 2, "ok")

    run_dir = result.artifacts
    assert run_dir.parent == project / "artifacts" and run_dir.name.endswith("-fix")
    assert re.fullmatch(r"\d{8}T\d{6}Z-fix", run_dir.name)
    for directory in (project / "artifacts", run_dir):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert (run_dir / "env" / "extravars").is_file() and list((run_dir / "job_events").glob("*.json"))
    texts = {p: p.read_text(errors="replace") for p in files}
    for path, text in texts.items():
        for secret in (FAKE_TOKEN, FAKE_KEY_DATA, "another-secret-value-123"):
            assert secret not in text, f"{secret} left in {path}"
    assert any(REDACTED in text for text in texts.values())
    assert CA_DATA in texts[run_dir / "stdout"]  # public, left alone


def test_a_config_failure_exits_2_and_prints_the_message(project):
    result, progress = _run(
        project, extravars={"fail_message": "CONFIG: context 'nope' not found"}, json_mode=True
    )
    assert result.exit_code == 2 and result.summary["status"] == "failed"
    assert "cluster1  FAILED   Preflight" in progress
    assert "msg: CONFIG: context 'nope' not found" in progress
    assert result.summary["hosts"]["cluster1"]["error"] == "CONFIG: context 'nope' not found"


def test_other_failures_exit_1_and_check_mode_reaches_ansible(project):
    result, progress = _run(
        project, extravars={"fail_message": "rollout timed out"}, check=True, limit="cluster1"
    )
    assert result.exit_code == 1 and "msg: rollout timed out" in progress
    command = (result.artifacts / "command").read_text()
    assert "--check" in command and "--limit" in command


def test_cmdline_flags():
    assert ansible_cmdline(True, True, "gpu-*,!b", 2) == "--check --diff --limit 'gpu-*,!b' -vv"
    assert ansible_cmdline(False, False, None, 0) == ""


def test_a_sandbox_that_cannot_start_is_a_configuration_error(project):
    inventory = yaml.safe_load((project / "hosts.yml").read_text())
    host = inventory["all"]["children"]["clusters"]["hosts"]["cluster1"]
    host.update(sandbox_state_dir=str(project / "box"), sandbox_seed="no-such-seed")
    (project / "hosts.yml").write_text(yaml.safe_dump(inventory))
    result, progress = _run(project)
    assert result.exit_code == 2 and "did not start" in result.error and "no-such-seed" in result.error
    assert "starting sandbox" in progress and not (project / "artifacts").exists()


def test_sandbox_requests_and_kubeconfig_overrides(tmp_path):
    inventory = Inventory(
        [tmp_path / "inv"],
        ["a", "b", "c"],
        {
            "a": {"sandbox_state_dir": ".sandbox", "sandbox_seed": "incident", "sandbox_time_scale": 300},
            "b": {"sandbox_state_dir": "/abs/box", "kubeconfig": "/elsewhere/kubeconfig"},
            "c": {},
        },
    )
    requests = sandbox_requests(inventory, tmp_path)
    assert requests["a"].state_dir == tmp_path / ".sandbox" and requests["a"].seed == "incident"
    assert requests["a"].time_scale == 300 and requests["b"].seed is None and "c" not in requests
    started = {"a": Path("/k/a"), "b": Path("/k/b")}
    assert kubeconfig_overrides(inventory, started) == {"a": {"kubeconfig": "/k/a"}}  # the inventory's wins
    inventory.hostvars["a"]["sandbox_time_scale"] = 0
    with pytest.raises(InventoryError, match="sandbox_time_scale"):
        sandbox_requests(inventory, tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        f'"token": "{FAKE_TOKEN}"',
        f"token: {FAKE_TOKEN}",
        f'{{\\"token\\": \\"{FAKE_TOKEN}\\"}}',
        f"client-key-data: {FAKE_KEY_DATA}",
        f"Authorization: Bearer {FAKE_TOKEN}",
        f'"GITHUB_TOKEN": "{FAKE_TOKEN}"',
        f"-----BEGIN RSA PRIVATE KEY-----\nMIIE{FAKE_TOKEN}\n-----END RSA PRIVATE KEY-----",
    ],
)
def test_scrub_text_patterns(text):
    assert FAKE_TOKEN not in scrub_text(text) and FAKE_KEY_DATA not in scrub_text(text)
    assert REDACTED in scrub_text(text)


def test_scrub_text_leaves_public_and_harmless_text_alone():
    for text in (
        f"certificate-authority-data: {CA_DATA}",
        "CONFIG: bad token: the API server said 401",
        "--tokenizer=Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice",
        "secretName: tls-cert-for-tts",
    ):
        assert scrub_text(text) == text
    assert scrub_text("x plain-secret-value y", {"plain-secret-value"}) == f"x {REDACTED} y"


def test_a_running_sandbox_is_used_without_spawning_sandbox_up(tmp_path, monkeypatch):
    import sandbox.endpoint
    from runbooks import inventory as inventory_module

    state = tmp_path / "state"
    state.mkdir()
    server = "https://127.0.0.1:45678"
    (state / "kubeconfig").write_text(
        yaml.safe_dump({"clusters": [{"name": "s", "cluster": {"server": server}}]})
    )
    monkeypatch.setattr(sandbox.endpoint, "running_endpoint", lambda _state: {"server": server, "pid": 1})

    def no_spawn(*_args, **_kwargs):
        raise AssertionError("sandbox up was spawned for a running sandbox")

    monkeypatch.setattr(inventory_module.subprocess, "run", no_spawn)
    said: list[str] = []
    (state / "config.json").write_text('{"timeScale": 60}')
    request = inventory_module.SandboxRequest(state_dir=state, seed=None, time_scale=60)
    assert inventory_module.start_sandbox(request, tmp_path, said.append) == (state / "kubeconfig").resolve()
    assert said == ["sandbox state already running"]

    # A kubeconfig that points elsewhere (the sandbox restarted on another port) is not trusted.
    monkeypatch.setattr(
        sandbox.endpoint, "running_endpoint", lambda _state: {"server": server + "1", "pid": 1}
    )
    assert inventory_module.running_sandbox(request, "state", said.append) is None
