"""Why a TTS pod does not come up: evidence (logs, events, pod and Deployment state) -> one cause.

Pure: no cluster access. ``RULES`` is data; ``diagnose`` walks it in order and the first row whose pattern
matches its source wins. "fact N" refers to /work/shared/BRIEF.md.

Order (documented, tested):
1. container logs, previous attempt first (it is the one that crashed), then the current one. Specific
   errors first; flash-attn last because a tolerated build failure (fact 5) can precede the real cause;
2. container states (OOMKilled, CreateContainerConfigError, image pulls);
3. pod events (startup-probe kills, pull failures, FailedScheduling);
4. pod conditions (PodScheduled=False);
5. the Deployment's conditions (ProgressDeadlineExceeded): the most generic, so last.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass

LOGS, CONTAINER_STATE, EVENTS, POD_CONDITIONS, DEPLOYMENT = (
    "logs",
    "container-state",
    "events",
    "pod-conditions",
    "deployment",
)


@dataclass(frozen=True)
class Diagnosis:
    cause_id: str
    summary: str
    evidence: str  # the log line, event or condition that matched
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Rule:
    cause_id: str
    source: str  # one of LOGS, CONTAINER_STATE, EVENTS, POD_CONDITIONS, DEPLOYMENT
    pattern: str  # regex searched in each line of the source; named groups fill summary/fix
    summary: str  # may use {evidence} and the pattern's named groups
    fix: str
    facts: tuple[int, ...] = ()  # BRIEF.md facts the row rests on (none: general Kubernetes knowledge)


RULES: tuple[Rule, ...] = (
    # -- 1. logs ------------------------------------------------------------------------------
    Rule(
        cause_id="qwen3-tts-not-registered",
        source=LOGS,
        pattern=r"model type `qwen3_tts` but Transformers does not recognize this architecture"
        r"|does not recognize this architecture",
        summary=(
            "vLLM loaded qwen3_tts through transformers: vllm-omni is not active (serve without --omni, "
            "vllm-omni not installed) or transformers>=5 / a pre-release image"
        ),
        fix=(
            "serve with --omni (add it to tts.extraArgs) and install vllm-omni v0.14.0 from source "
            "(git clone --depth 1 --branch v0.14.0) on the vllm/vllm-openai:v0.14.0 image, keeping "
            "transformers<5; installing qwen-tts alone registers nothing (facts 1, 8)"
        ),
        facts=(1, 8),
    ),
    Rule(
        cause_id="torch-abi-break",
        source=LOGS,
        pattern=r"_C\.abi3\.so: undefined symbol|undefined symbol.*_C\.abi3\.so",
        summary=(
            "torch was replaced by a newer release (qwen-tts pulls an unpinned torchaudio), so vLLM's "
            "compiled kernels no longer load"
        ),
        fix=(
            "hold torch/torchaudio/vllm at the image's versions: "
            "pip freeze | grep -iE '^(torch|torchaudio|torchvision|vllm|triton)==' > /tmp/constraints.txt "
            "and pass -c /tmp/constraints.txt to every pip install (fact 4)"
        ),
        facts=(4,),
    ),
    Rule(
        cause_id="vllm-omni-version-mismatch",
        source=LOGS,
        pattern=r"ImportError: cannot import name .* from '?vllm",
        summary="the installed vllm-omni does not match the image's vLLM 0.14.0 (an unpinned clone of main)",
        fix="clone the matching tag: git clone --depth 1 --branch v0.14.0 .../vllm-omni.git (fact 2)",
        facts=(2,),
    ),
    Rule(
        cause_id="missing-dependency",
        source=LOGS,
        pattern=r"ModuleNotFoundError: No module named '?(?P<module>[\w.]+)",
        summary="module {module} is missing: vllm-omni's dependencies were skipped or hidden",
        fix=(
            "install vllm-omni with its dependencies (no --no-deps, no 2>/dev/null || fallback), under "
            "the constraints file (fact 3)"
        ),
        facts=(3,),
    ),
    Rule(
        cause_id="vllm-omni-not-installed",
        source=LOGS,
        pattern=r"unrecognized arguments: .*--omni",
        summary="--omni was passed but plain vLLM owns the `vllm` command: vllm-omni is not installed",
        fix="make the bootstrap install vllm-omni v0.14.0 (and let a failing install stop the pod) (fact 1)",
        facts=(1,),
    ),
    Rule(
        cause_id="flash-attn-build-failed",
        source=LOGS,
        pattern=r"Failed to build flash-attn|Failed building wheel for flash-attn",
        summary="pip compiled flash-attn from source (PyPI has no wheels) and the build failed",
        fix=(
            "install flash-attn only from a prebuilt wheel (--only-binary=:all:) and tolerate its absence "
            "(|| echo ...): vLLM has its own attention kernels (fact 5)"
        ),
        facts=(5,),
    ),
    # -- 2. container states --------------------------------------------------------------------
    Rule(
        cause_id="oom-killed",
        source=CONTAINER_STATE,
        pattern=r"^terminated: OOMKilled",
        summary="the container was killed for exceeding its memory limit (OOMKilled)",
        fix="raise tts.resources.limits.memory or lower --gpu-memory-utilization / --max-num-seqs",
    ),
    Rule(
        cause_id="config-error",
        source=CONTAINER_STATE,
        pattern=r"^waiting: CreateContainerConfigError: (?P<detail>.*)",
        summary="the container cannot be created: {detail}",
        fix="create the missing ConfigMap/Secret (or key) the pod references, or fix the reference",
    ),
    Rule(
        cause_id="image-pull-failed",
        source=CONTAINER_STATE,
        pattern=r"^waiting: (ErrImagePull|ImagePullBackOff).*?image \\?\"(?P<image>[^\"\\]+)",
        summary="image {image} cannot be pulled",
        fix="check tts.image.repository/tag (vllm/vllm-openai:v0.14.0 exists) and registry access",
    ),
    # -- 3. events ------------------------------------------------------------------------------
    Rule(
        cause_id="startup-too-slow",
        source=EVENTS,
        pattern=r"^Killing: .*failed startup probe",
        summary="the kubelet killed the container during start-up: the startupProbe allows less time "
        "than bootstrap (clone + pip) plus model load",
        fix=(
            "give the startupProbe room (failureThreshold x periodSeconds above the whole bootstrap) and "
            "avoid source builds such as flash-attn (facts 5, 7)"
        ),
        facts=(5, 7),
    ),
    Rule(
        cause_id="image-pull-failed",
        source=EVENTS,
        pattern=r'^Failed: Failed to pull image "(?P<image>[^"]+)"',
        summary="image {image} cannot be pulled",
        fix="check tts.image.repository/tag (vllm/vllm-openai:v0.14.0 exists) and registry access",
    ),
    Rule(
        cause_id="unschedulable",
        source=EVENTS,
        pattern=r"^FailedScheduling: (?P<detail>.*(nvidia\.com/gpu|node affinity).*)",
        summary="no node with a free GPU matching the affinity: {detail}",
        fix=(
            "free a GPU on a node labelled as tts.affinity requires (memorysize=16GB), or relax the "
            "affinity; with one GPU per node the Recreate strategy must remove the old pod first"
        ),
    ),
    Rule(
        cause_id="unschedulable",
        source=EVENTS,
        pattern=r"^FailedScheduling: (?P<detail>.*)",
        summary="the scheduler cannot place the pod: {detail}",
        fix="compare the pod's requests, node selector/affinity and tolerations with the nodes",
    ),
    # -- 4. pod conditions -------------------------------------------------------------------------
    Rule(
        cause_id="unschedulable",
        source=POD_CONDITIONS,
        pattern=r"^PodScheduled=False Unschedulable: (?P<detail>.*(nvidia\.com/gpu|node affinity).*)",
        summary="no node with a free GPU matching the affinity: {detail}",
        fix=(
            "free a GPU on a node labelled as tts.affinity requires (memorysize=16GB), or relax the "
            "affinity; with one GPU per node the Recreate strategy must remove the old pod first"
        ),
    ),
    Rule(
        cause_id="unschedulable",
        source=POD_CONDITIONS,
        pattern=r"^PodScheduled=False Unschedulable: (?P<detail>.*)",
        summary="the scheduler cannot place the pod: {detail}",
        fix="compare the pod's requests, node selector/affinity and tolerations with the nodes",
    ),
    # -- 5. the Deployment -------------------------------------------------------------------------
    Rule(
        cause_id="progress-deadline-exceeded",
        source=DEPLOYMENT,
        pattern=r"^Progressing=False ProgressDeadlineExceeded: (?P<detail>.*)",
        summary="the rollout made no progress within progressDeadlineSeconds: {detail}",
        fix=(
            "read the pod's logs: a long bootstrap (source builds, fact 5) or a crash loop; raise "
            "progressDeadlineSeconds only if start-up is legitimately slow (fact 7)"
        ),
        facts=(5, 7),
    ),
)


# -- evidence lines per source ---------------------------------------------------------------------
def _log_lines(logs: str, previous_logs: str) -> Iterator[str]:
    for text in (previous_logs, logs):
        yield from (text or "").splitlines()


def _container_state_lines(pod: dict | None) -> Iterator[str]:
    status = (pod or {}).get("status") or {}
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        for key in ("state", "lastState"):
            for phase, detail in (container.get(key) or {}).items():
                if isinstance(detail, dict) and detail.get("reason"):
                    yield f"{phase}: {detail['reason']}: {detail.get('message', '')}".rstrip(": ")


def _event_lines(events: list[dict]) -> Iterator[str]:
    for event in events or []:
        yield f"{event.get('reason', '')}: {event.get('message', '')}"


def _condition_lines(obj: dict | None) -> Iterator[str]:
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        yield (
            f"{condition.get('type')}={condition.get('status')} {condition.get('reason', '')}: "
            f"{condition.get('message', '')}"
        )


def diagnose(
    pod: dict | None,
    events: list[dict],
    logs: str,
    previous_logs: str,
    deployment: dict | None,
) -> Diagnosis | None:
    """The first rule (in RULES order) whose pattern matches its source; None when nothing matches.

    ``pod``, ``events`` and ``deployment`` are API objects as JSON dicts (camelCase, as kubectl prints
    them); ``logs``/``previous_logs`` are the current and previous containers' log text.
    """
    sources = {
        LOGS: lambda: _log_lines(logs, previous_logs),
        CONTAINER_STATE: lambda: _container_state_lines(pod),
        EVENTS: lambda: _event_lines(events),
        POD_CONDITIONS: lambda: _condition_lines(pod),
        DEPLOYMENT: lambda: _condition_lines(deployment),
    }
    for rule in RULES:
        pattern = re.compile(rule.pattern)
        for line in sources[rule.source]():
            match = pattern.search(line)
            if match:
                groups = {k: v for k, v in match.groupdict().items() if v is not None}
                evidence = line.strip()
                return Diagnosis(
                    cause_id=rule.cause_id,
                    summary=rule.summary.format(evidence=evidence, **groups),
                    evidence=evidence,
                    fix=rule.fix.format(evidence=evidence, **groups),
                )
    return None
