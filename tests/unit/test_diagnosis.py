"""diagnose(): each rule from evidence shaped as the sandbox (and Kubernetes) produce it."""

from __future__ import annotations

import io
import wave

import pytest
from ansible_collections.local_llm.tts.plugins.module_utils.diagnosis import RULES, diagnose
from ansible_collections.local_llm.tts.plugins.module_utils.rollout import (
    assess,
    pod_failure,
    selector_string,
)
from ansible_collections.local_llm.tts.plugins.module_utils.tts_checks import (
    CheckFailed,
    inspect_wav,
    speech_request,
)

POD_NAME = "local-llm-tts-5495cf6556-d8sgm"
SITE = "/usr/local/lib/python3.12/dist-packages"

# The seeded incident's previous-container log tail, as `kubectl logs --previous` printed it.
ARCHITECTURE_LOG = f"""\
Running bootstrap command: pip install -U transformers flash-attn
  File "{SITE}/transformers/models/auto/configuration_auto.py", line 1372, in from_pretrained
    raise ValueError(
ValueError: The checkpoint you are trying to load has model type `qwen3_tts` but Transformers does not \
recognize this architecture. This could be because of an issue with the checkpoint, or because your version \
of Transformers is out of date.
"""
TORCH_LOG = (
    f"ERROR 11-26 12:10:20 [core.py:866]     import vllm._C  # noqa\n"
    f"ImportError: {SITE}/vllm/_C.abi3.so: undefined symbol: _ZN3c1013MessageLoggerC1EPKciib\n"
)
IMPORT_NAME_LOG = (
    "    from vllm.config import RendererConfig\n"
    f"ImportError: cannot import name 'RendererConfig' from 'vllm.config' ({SITE}/vllm/config/__init__.py)\n"
)
MISSING_MODULE_LOG = "    from omegaconf import OmegaConf\nModuleNotFoundError: No module named 'omegaconf'\n"
NO_OMNI_LOG = "usage: vllm serve [model_tag] [options]\nvllm serve: error: unrecognized arguments: --omni\n"
FLASH_ATTN_LOG = (
    "  ERROR: Failed building wheel for flash-attn\nFailed to build flash-attn\n"
    "ERROR: Failed to build installable wheels for some pyproject.toml based projects (flash-attn)\n"
)
BOOTSTRAP_LOG = (
    "Running bootstrap command: ...\n  Building wheel for flash-attn (pyproject.toml): still running...\n"
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


def cause(**evidence) -> str | None:
    args = {"pod": None, "events": [], "logs": "", "previous_logs": "", "deployment": None, **evidence}
    found = diagnose(**args)
    return found.cause_id if found else None


@pytest.mark.parametrize(
    ("logs", "expected"),
    [
        (ARCHITECTURE_LOG, "qwen3-tts-not-registered"),
        (TORCH_LOG, "torch-abi-break"),
        (IMPORT_NAME_LOG, "vllm-omni-version-mismatch"),
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


def test_the_incident_names_the_fix_and_quotes_the_line():
    found = diagnose(CRASHED, INCIDENT_EVENTS, BOOTSTRAP_LOG, ARCHITECTURE_LOG, PROGRESS_DEADLINE)
    assert found.cause_id == "qwen3-tts-not-registered"
    assert found.evidence.startswith("ValueError: The checkpoint you are trying to load has model type")
    assert "--omni" in found.fix and "v0.14.0" in found.fix
    assert "transformers>=5" in found.summary


def test_current_log_counts_when_there_is_no_previous_one():
    assert cause(logs=ARCHITECTURE_LOG) == "qwen3-tts-not-registered"


def test_a_tolerated_flash_attn_failure_does_not_hide_the_real_crash():
    assert cause(previous_logs=FLASH_ATTN_LOG + ARCHITECTURE_LOG) == "qwen3-tts-not-registered"


def test_missing_module_names_the_module():
    found = diagnose(CRASHED, [], "", MISSING_MODULE_LOG, None)
    assert "omegaconf" in found.summary


def test_startup_probe_kill_means_start_up_too_slow():
    events = [
        *INCIDENT_EVENTS,
        event("Killing", "Container tts failed startup probe, will be restarted", "Normal"),
    ]
    killed = pod(
        state={"running": {}}, last_state={"terminated": {"exitCode": 137, "reason": "Error"}}, restarts=1
    )
    assert cause(pod=killed, events=events, logs=BOOTSTRAP_LOG, deployment=PROGRESS_DEADLINE) == (
        "startup-too-slow"
    )


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


def test_rules_are_documented_data():
    for rule in RULES:
        assert rule.summary and rule.fix and rule.pattern
    cited = {rule.cause_id: rule.facts for rule in RULES}
    assert cited["qwen3-tts-not-registered"] == (1, 8)
    assert cited["torch-abi-break"] == (4,)
    assert cited["vllm-omni-version-mismatch"] == (2,)
    assert cited["missing-dependency"] == (3,)
    assert cited["flash-attn-build-failed"] == (5,)


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
