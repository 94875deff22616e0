"""diagnose(): each rule from evidence shaped as the sandbox (and Kubernetes) produce it, with log text
taken from real upstream output (tests/fixtures/upstream/, README.md there) where a tool prints it."""

from __future__ import annotations

import io
import re
import wave
from pathlib import Path

import pytest
import yaml
from ansible_collections.local_llm.tts.plugins.module_utils.diagnosis import RULES, Diagnosis, diagnose
from ansible_collections.local_llm.tts.plugins.module_utils.rollout import (
    assess,
    failure_message,
    pod_failure,
    selector_string,
)
from ansible_collections.local_llm.tts.plugins.module_utils.tts_checks import (
    CheckFailed,
    inspect_wav,
    speech_request,
)

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "tests/fixtures/upstream"
FACTS = {fact["id"]: fact for fact in yaml.safe_load((ROOT / "docs/facts.yml").read_text())["facts"]}
POD_NAME = "local-llm-tts-5495cf6556-d8sgm"
SITE = "/usr/local/lib/python3.12/dist-packages"

# Real pip 26.3 output (see tests/fixtures/upstream/README.md).
INCIDENT_PIP_LOG = (UPSTREAM / "incident-pip-install-U-transformers-flash-attn.log").read_text()
ONLY_BINARY_LOG = (UPSTREAM / "step-c-flash-attn-only-binary.log").read_text()
RESOLUTION_LOG = (UPSTREAM / "pip-resolution-impossible.log").read_text()
PIP_GIT_URL_LOG = (UPSTREAM / "pip-git-url-without-git.log").read_text()
# transformers' own error for a qwen3_tts config (fact transformers-no-qwen3-tts), as the user saw it.
ARCHITECTURE_ERROR = re.search(r'raises "(.+?)"', FACTS["transformers-no-qwen3-tts"]["claim"]).group(1)
ARCHITECTURE_LOG = f"""\
  File "{SITE}/transformers/models/auto/configuration_auto.py", line 1372, in from_pretrained
    raise ValueError(
ValueError: {ARCHITECTURE_ERROR}
"""
# The seeded incident's previous-container log: the chart echoes the bootstrap, runs it (pip fails,
# installs nothing) and then `vllm serve` without --omni (fact chart-entrypoint).
INCIDENT_LOG = (
    "Running bootstrap command: pip install -U transformers flash-attn\n"
    + INCIDENT_PIP_LOG
    + ARCHITECTURE_LOG
)
# bash's own texts for a missing command: `bash script` / `bash -c script` (bash 5.1+).
GIT_MISSING = "bash: git: command not found"
GIT_MISSING_BASH_C = "bash: line 2: git: command not found"
PLAN_LITERAL_LOG = (
    'Running bootstrap command: echo "Cloning vllm-omni repository..."\n'
    "Cloning vllm-omni repository...\n"
    f"{GIT_MISSING_BASH_C}\n" + ARCHITECTURE_LOG
)
# Python's and argparse's own formats.
TORCH_LOG = (
    "ERROR 11-26 12:10:20 [core.py:866]     import vllm._C  # noqa\n"
    f"ImportError: {SITE}/vllm/_C.abi3.so: undefined symbol: _ZN3c1013MessageLoggerC1EPKciib\n"
)
IMPORT_NAME_LOG = (
    "    from vllm.config import RendererConfig\n"
    f"ImportError: cannot import name 'RendererConfig' from 'vllm.config' ({SITE}/vllm/config/__init__.py)\n"
)
MISSING_MODULE_LOG = "    from omegaconf import OmegaConf\nModuleNotFoundError: No module named 'omegaconf'\n"
NO_OMNI_LOG = "usage: vllm serve [model_tag] [options]\nvllm serve: error: unrecognized arguments: --omni\n"
# pip 24's texts for a failed wheel build (a source build that ran and failed).
FLASH_ATTN_LOG = (
    "  ERROR: Failed building wheel for flash-attn\nFailed to build flash-attn\n"
    "ERROR: Failed to build installable wheels for some pyproject.toml based projects (flash-attn)\n"
)
BOOTSTRAP_LOG = (
    "Running bootstrap command: ...\n  Building wheel for flash-attn (pyproject.toml): still running...\n"
)
SOURCE_BUILD_LOG = (
    "Running bootstrap command: ...\nInstalling flash-attn...\n"
    + FACTS["flash-attn-no-build-isolation"]["signature"]
    + "\n"
)


def pod(*, state=None, last_state=None, restarts=0, conditions=()) -> dict:
    return {
        "metadata": {"name": POD_NAME, "namespace": "default"},
        "status": {
            "phase": "Running" if state and "running" in state else "Pending",
            "conditions": list(conditions),
            "containerStatuses": [
                {
                    "name": "tts",
                    "restartCount": restarts,
                    "state": state or {"waiting": {"reason": "ContainerCreating"}},
                    "lastState": last_state or {},
                }
            ],
        },
    }


def event(reason: str, message: str, type_: str = "Warning") -> dict:
    return {"reason": reason, "message": message, "type": type_, "involvedObject": {"name": POD_NAME}}


CRASHED = pod(
    state={"running": {"startedAt": "2026-11-26T12:10:23Z"}},
    last_state={"terminated": {"exitCode": 1, "reason": "Error"}},
    restarts=2,
)
INCIDENT_EVENTS = [
    event("Scheduled", f"Successfully assigned default/{POD_NAME} to gpu-16gb-2", "Normal"),
    event("Started", "Started container tts", "Normal"),
    event(
        "Unhealthy",
        'Startup probe failed: Get "http://127.1.0.3:8006/health": dial tcp 127.1.0.3:8006: connect: '
        "connection refused",
    ),
]
STARTUP_KILL = event("Killing", "Container tts failed startup probe, will be restarted", "Normal")
KILLED = pod(
    state={"running": {}}, last_state={"terminated": {"exitCode": 137, "reason": "Error"}}, restarts=1
)
PROGRESS_DEADLINE = {
    "metadata": {"name": "local-llm-tts", "generation": 1},
    "status": {
        "observedGeneration": 1,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "local-llm-tts-5495cf6556" has timed out progressing.',
            }
        ],
    },
}
UNSCHEDULABLE_MESSAGE = (
    "0/9 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 3 Insufficient "
    "nvidia.com/gpu, 5 node(s) had untolerated taint {nvidia.com/gpu: }. preemption: 0/9 nodes are "
    "available: 9 Preemption is not helpful for scheduling."
)


def diagnosis(**evidence) -> Diagnosis | None:
    args = {"pod": None, "events": [], "logs": "", "previous_logs": "", "deployment": None, **evidence}
    return diagnose(**args)


def cause(**evidence) -> str | None:
    found = diagnosis(**evidence)
    return found.cause_id if found else None


def also(found: Diagnosis) -> list[str]:
    return [other.cause_id for other in found.also]


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        (ARCHITECTURE_LOG, "qwen3-tts-not-registered"),
        (GIT_MISSING, "git-missing"),
        (GIT_MISSING_BASH_C, "git-missing"),
        (PIP_GIT_URL_LOG, "git-missing"),
        (TORCH_LOG, "torch-abi-break"),
        (IMPORT_NAME_LOG, "vllm-omni-version-mismatch"),
        (RESOLUTION_LOG, "pip-resolution-impossible"),
        (INCIDENT_PIP_LOG, "flash-attn-build-isolation"),
        (MISSING_MODULE_LOG, "missing-dependency"),
        (NO_OMNI_LOG, "vllm-omni-not-installed"),
        (FLASH_ATTN_LOG, "flash-attn-build-failed"),
    ],
)
def test_each_log_rule_from_the_previous_container(logs, expected):
    assert (
        cause(pod=CRASHED, events=INCIDENT_EVENTS, previous_logs=logs, deployment=PROGRESS_DEADLINE)
        == expected
    )


def test_the_incident_names_the_fix_quotes_the_line_and_the_failed_bootstrap():
    found = diagnose(CRASHED, INCIDENT_EVENTS, BOOTSTRAP_LOG, INCIDENT_LOG, PROGRESS_DEADLINE)
    assert found.cause_id == "qwen3-tts-not-registered"
    assert found.evidence.startswith("ValueError: The checkpoint you are trying to load has model type")
    assert "--omni" in found.fix and "0.14.0" in found.fix and "git" in found.fix
    assert "without --omni" in found.summary and "vllm-omni is not installed" in found.summary
    assert "transformers>=5" not in found.summary and "pre-release" not in found.summary
    # The bootstrap's pip failed and installed nothing: that is the secondary cause, not a missing
    # module (its `No module named 'torch'` is flash-attn's setup.py in pip's isolated build).
    assert also(found) == ["flash-attn-build-isolation", "progress-deadline-exceeded"]
    (isolation,) = [other for other in found.also if other.cause_id == "flash-attn-build-isolation"]
    assert isolation.evidence == (
        "ERROR: Failed to build 'flash-attn' when getting requirements to build wheel"
    )
    assert "installed nothing" in isolation.summary and "own pip command" in isolation.fix


def test_the_plans_literal_block_under_the_example_chart():
    # git fails (no git in the image), the chart still runs `vllm serve` without --omni.
    found = diagnosis(pod=CRASHED, previous_logs=PLAN_LITERAL_LOG)
    assert (found.cause_id, also(found)) == ("qwen3-tts-not-registered", ["git-missing"])
    assert found.also[0].evidence == GIT_MISSING_BASH_C
    assert "curl" in found.also[0].fix and "sha256" in found.also[0].fix


def test_a_strict_chart_stops_at_git():
    found = diagnosis(pod=CRASHED, previous_logs=f"Cloning vllm-omni repository...\n{GIT_MISSING}\n")
    assert (found.cause_id, found.also) == ("git-missing", ())


def test_no_module_named_torch_inside_flash_attns_build_is_not_a_missing_dependency():
    found = diagnosis(previous_logs=INCIDENT_PIP_LOG)
    assert found.cause_id == "flash-attn-build-isolation" and found.also == ()


def test_a_real_missing_module_next_to_the_build_failure_is_still_reported():
    found = diagnosis(previous_logs=INCIDENT_PIP_LOG + MISSING_MODULE_LOG)
    assert (found.cause_id, also(found)) == ("flash-attn-build-isolation", ["missing-dependency"])
    assert "omegaconf" in found.also[0].summary


def test_a_tolerated_only_binary_failure_is_no_cause():
    assert cause(previous_logs=ONLY_BINARY_LOG) is None
    found = diagnosis(previous_logs=ONLY_BINARY_LOG + "flash-attn skipped\n" + ARCHITECTURE_LOG)
    assert (found.cause_id, found.also) == ("qwen3-tts-not-registered", ())


def test_resolution_impossible_quotes_pips_verdict():
    found = diagnosis(previous_logs=RESOLUTION_LOG)
    assert found.evidence.startswith("ERROR: ResolutionImpossible")
    assert "installed nothing" in found.summary


def test_current_log_counts_when_there_is_no_previous_one():
    assert cause(logs=ARCHITECTURE_LOG) == "qwen3-tts-not-registered"


def test_a_tolerated_flash_attn_failure_does_not_hide_the_real_crash():
    found = diagnosis(previous_logs=FLASH_ATTN_LOG + ARCHITECTURE_LOG)
    assert (found.cause_id, also(found)) == ("qwen3-tts-not-registered", ["flash-attn-build-failed"])


def test_missing_module_names_the_module():
    found = diagnose(CRASHED, [], "", MISSING_MODULE_LOG, None)
    assert "omegaconf" in found.summary


def test_startup_probe_kill_during_a_source_build_quotes_the_last_log_line():
    events = [*INCIDENT_EVENTS, STARTUP_KILL]
    found = diagnosis(pod=KILLED, events=events, previous_logs=SOURCE_BUILD_LOG, deployment=PROGRESS_DEADLINE)
    assert found.cause_id == "startup-too-slow"
    assert found.evidence == "Precompiled wheel not found. Building from source..."
    assert "compiling flash-attn" in found.summary
    found = diagnosis(pod=KILLED, events=events, logs=BOOTSTRAP_LOG)
    assert found.evidence == "Building wheel for flash-attn (pyproject.toml): still running..."


def test_startup_probe_kill_without_a_build_quotes_the_event():
    events = [*INCIDENT_EVENTS, STARTUP_KILL]
    found = diagnosis(pod=KILLED, events=events, logs="Running bootstrap command: ...\nDownloading x\n")
    assert found.cause_id == "startup-too-slow" and found.evidence.startswith("Killing: ")


def test_a_source_build_without_a_kill_is_no_cause():
    assert cause(pod=KILLED, events=INCIDENT_EVENTS, logs=SOURCE_BUILD_LOG) is None


def test_startup_probe_failures_alone_are_not_a_cause():
    # Every start-up logs "Startup probe failed" until /health answers: only the kill is evidence.
    assert cause(pod=CRASHED, events=INCIDENT_EVENTS, logs=BOOTSTRAP_LOG) is None


def test_image_pull_failures_name_the_image():
    image = "vllm/vllm-openai:v0.14.9"
    waiting = pod(
        state={"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
    )
    found = diagnose(waiting, [], "", "", None)
    assert (found.cause_id, image in found.summary) == ("image-pull-failed", True)
    err = pod(
        state={"waiting": {"reason": "ErrImagePull", "message": f'failed to pull image "{image}": not found'}}
    )
    assert cause(pod=err) == "image-pull-failed"
    events = [
        event(
            "Failed",
            f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
            f"failed to pull and unpack image "
            f'"docker.io/{image}": failed to resolve reference "docker.io/{image}": not found',
        )
    ]
    found = diagnose(pod(), events, "", "", None)
    assert found.cause_id == "image-pull-failed" and image in found.summary


def test_unschedulable_on_gpu_or_affinity_says_so():
    events = [event("FailedScheduling", UNSCHEDULABLE_MESSAGE)]
    found = diagnose(pod(), events, "", "", None)
    assert found.cause_id == "unschedulable"
    assert found.summary.startswith("no node with a free GPU matching the affinity")
    assert UNSCHEDULABLE_MESSAGE in found.summary


def test_unschedulable_for_other_reasons_quotes_the_scheduler():
    message = "0/9 nodes are available: 9 Insufficient memory."
    found = diagnose(pod(), [event("FailedScheduling", message)], "", "", None)
    assert found.cause_id == "unschedulable" and "free GPU" not in found.summary and message in found.summary


def test_unschedulable_from_the_pod_condition_alone():
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": UNSCHEDULABLE_MESSAGE,
    }
    found = diagnose(pod(conditions=[condition]), [], "", "", None)
    assert found.cause_id == "unschedulable" and "free GPU" in found.summary


def test_oom_killed():
    oom = pod(
        state={"running": {}}, last_state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, restarts=1
    )
    assert cause(pod=oom, deployment=PROGRESS_DEADLINE) == "oom-killed"


def test_config_error_quotes_the_kubelet():
    waiting = pod(
        state={
            "waiting": {
                "reason": "CreateContainerConfigError",
                "message": 'configmap "local-llm-common-env" not found',
            }
        }
    )
    found = diagnose(waiting, [], "", "", None)
    assert found.cause_id == "config-error" and "local-llm-common-env" in found.summary


def test_progress_deadline_is_the_last_resort():
    assert cause(pod=pod(state={"running": {}}), logs=BOOTSTRAP_LOG, deployment=PROGRESS_DEADLINE) == (
        "progress-deadline-exceeded"
    )


def test_nothing_known_gives_none():
    assert cause(pod=CRASHED, logs="OSError: [Errno 98] Address already in use") is None


def test_as_dict_is_json_friendly_and_lists_the_secondary_causes():
    import json

    found = diagnosis(pod=CRASHED, previous_logs=PLAN_LITERAL_LOG)
    data = json.loads(json.dumps(found.as_dict()))
    assert set(data) == {"cause_id", "summary", "evidence", "fix", "also", "text"}
    assert [other["cause_id"] for other in data["also"]] == ["git-missing"]
    assert set(data["also"][0]) == {"cause_id", "summary", "evidence", "fix"}
    # one rendering, in Python: the playbooks publish `text`, the rollout's failure message embeds it
    assert data["text"].startswith("[qwen3-tts-not-registered] ")
    assert f"Evidence: {data['evidence']}" in data["text"]
    assert f"Fix: {data['fix'].rstrip('.')}" in data["text"]
    assert "Also [git-missing]" in data["text"] and "git: command not found" in data["text"]
    message = failure_message("pod crash-looped", data, "")
    assert "Cause [qwen3-tts-not-registered]" in message and data["text"] in message


CAUSES = {
    "qwen3-tts-not-registered",
    "git-missing",
    "torch-abi-break",
    "vllm-omni-version-mismatch",
    "pip-resolution-impossible",
    "flash-attn-build-isolation",
    "missing-dependency",
    "vllm-omni-not-installed",
    "startup-too-slow",
    "flash-attn-build-failed",
    "oom-killed",
    "config-error",
    "image-pull-failed",
    "unschedulable",
    "progress-deadline-exceeded",
}


def test_rules_are_documented_data_citing_the_facts_table():
    assert {rule.cause_id for rule in RULES} == CAUSES
    cited: dict[str, set[str]] = {}
    for rule in RULES:
        assert rule.summary and rule.fix and rule.pattern and rule.facts
        assert set(rule.facts) <= set(FACTS), rule.cause_id
        cited.setdefault(rule.cause_id, set()).update(rule.facts)
    declared: dict[str, set[str]] = {}
    for fact_id, fact in FACTS.items():
        for cause_id in (fact.get("used_by") or {}).get("diagnosis") or ():
            declared.setdefault(cause_id, set()).add(fact_id)
    assert cited == declared


# -- when the rollout watch stops and asks for a diagnosis (module_utils/rollout.py) --------------------
# and the service check's WAV judgement (module_utils/tts_checks.py): pure parts, no cluster.
HASH = "5495cf6556"


def rollout_deployment(**status) -> dict:
    base = {"observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}
    return {"metadata": {"generation": 2}, "spec": {"replicas": 1}, "status": {**base, **status}}


def new_pod(ready=False, restarts=0, state=None, last_state=None, template_hash=HASH) -> dict:
    return {
        "metadata": {"name": "p", "labels": {"pod-template-hash": template_hash}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": "tts",
                    "restartCount": restarts,
                    "state": state or {"running": {}},
                    "lastState": last_state or {},
                }
            ],
        },
    }


DEADLINE = {"conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}


def test_complete_needs_status_and_a_ready_new_pod():
    assert assess(rollout_deployment(), HASH, [new_pod(ready=True)]).state == "complete"
    assert assess(rollout_deployment(), HASH, [new_pod(ready=True, template_hash="old")]).state == "waiting"
    assert assess(rollout_deployment(observedGeneration=1), HASH, [new_pod(ready=True)]).state == "waiting"
    assert (
        assess(rollout_deployment(replicas=2), HASH, [new_pod(ready=True)]).state == "waiting"
    )  # old pod left


def test_crash_with_a_restart_fails_fast():
    crashed = new_pod(restarts=1, last_state={"terminated": {"exitCode": 1, "reason": "Error"}})
    assert assess(rollout_deployment(availableReplicas=0), HASH, [crashed]).state == "failed"
    first_exit = new_pod(state={"terminated": {"exitCode": 1}})
    assert pod_failure(first_exit) is None  # restartCount 0: not yet a pattern


@pytest.mark.parametrize(
    "reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError"]
)
def test_waiting_reasons_fail_fast(reason):
    assert reason in pod_failure(new_pod(state={"waiting": {"reason": reason}}))


def test_deadline_waits_for_a_first_attempt_still_running():
    running = new_pod(state={"running": {}})
    assert assess(rollout_deployment(availableReplicas=0, **DEADLINE), HASH, [running]).state == "waiting"
    waiting = new_pod(state={"waiting": {"reason": "ContainerCreating"}})
    assert assess(rollout_deployment(availableReplicas=0, **DEADLINE), HASH, [waiting]).state == "failed"
    assert (
        assess(rollout_deployment(availableReplicas=0, **DEADLINE), None, []).state == "waiting"
    )  # no picture yet


def test_selector_string():
    selector = {
        "matchLabels": {"b": "2", "a": "1"},
        "matchExpressions": [
            {"key": "c", "operator": "In", "values": ["x", "y"]},
            {"key": "d", "operator": "Exists"},
        ],
    }
    assert selector_string(selector) == "a=1,b=2,c in (x,y),d"


def wav_bytes(seconds: float, rate=24000, channels=1, width=2) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(b"\0" * int(seconds * rate) * width * channels)
    return buffer.getvalue()


def test_wav_checks():
    assert inspect_wav(wav_bytes(1.5))["duration_seconds"] == 1.5
    with pytest.raises(CheckFailed, match="format"):
        inspect_wav(wav_bytes(1.0, rate=16000))
    with pytest.raises(CheckFailed, match="duration"):
        inspect_wav(wav_bytes(0.1))
    with pytest.raises(CheckFailed, match="RIFF"):
        inspect_wav(b'{"error": "x"}')


def test_speech_request_language():
    assert speech_request("你好", "vivian")["language"] == "Chinese"
    assert speech_request("Hello", "ryan") == {
        "input": "Hello",
        "voice": "ryan",
        "response_format": "wav",
        "language": "English",
    }
