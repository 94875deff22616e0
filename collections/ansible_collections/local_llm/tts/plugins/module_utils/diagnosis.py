"""Why a TTS pod does not come up: evidence (logs, events, pod and Deployment state) -> a cause.

Pure: no cluster access. ``RULES`` is data; ``diagnose`` walks it in order and the first row whose
pattern matches its source is the cause. Other distinct causes whose rows also matched are listed in
``Diagnosis.also`` (in RULES order): a failed bootstrap is often the reason for the crash that
follows it. Each row cites the ids of the facts in docs/facts.yml it rests on.

Order (documented, tested):
1. container logs, previous attempt first (it is the one that crashed), then the current one. The
   serving crash first (with the example chart a failed bootstrap is followed by `vllm serve`, whose
   error is what the user sees), then the bootstrap's own failures; flash-attn-build-isolation before
   missing-dependency (its `No module named 'torch'` is flash-attn's setup.py in pip's isolated build
   environment, not a missing runtime dependency); the flash-attn build failure last because a
   tolerated one can precede the real cause. Lines inside pip's captured subprocess output
   (`╰─> [N lines of output]` ... `[end of output]`) are not read as the pod's own errors;
2. container states (OOMKilled, CreateContainerConfigError, image pulls);
3. pod events (startup-probe kills, pull failures, FailedScheduling);
4. pod conditions (PodScheduled=False);
5. the Deployment's conditions (ProgressDeadlineExceeded): the most generic, so last.

A startup-probe kill whose container log ends in a build in progress (flash-attn compiling) is
reported with that last log line as evidence (the row on LAST_LOG_LINE, which needs the kill event
too); otherwise with the kill event itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

LOGS, LAST_LOG_LINE, CONTAINER_STATE, EVENTS, POD_CONDITIONS, DEPLOYMENT = (
    "logs",
    "last-log-line",
    "container-state",
    "events",
    "pod-conditions",
    "deployment",
)


@dataclass(frozen=True)
class Cause:
    """One cause: what went wrong, the line that shows it, what to change."""

    cause_id: str
    summary: str
    evidence: str  # the log line, event or condition that matched
    fix: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Diagnosis(Cause):
    also: tuple[Cause, ...] = field(default=())  # other distinct causes that matched, in RULES order

    def as_dict(self) -> dict:
        fields = {**Cause.as_dict(self), "also": [cause.as_dict() for cause in self.also]}
        return {**fields, "text": render(fields)}


def render(diagnosis: dict) -> str:
    """The diagnosis as one message (the summary's ``diagnosis``): cause, evidence, fix, other causes."""
    text = (
        f"[{diagnosis['cause_id']}] {diagnosis['summary'].rstrip('.')}. Evidence: {diagnosis['evidence']}. "
        f"Fix: {diagnosis['fix'].rstrip('.')}."
    )
    for other in diagnosis.get("also") or ():
        summary = other["summary"].rstrip(".")
        text += f" Also [{other['cause_id']}]: {summary} (evidence: {other['evidence']})."
    return text


@dataclass(frozen=True)
class Rule:
    cause_id: str
    source: str  # one of LOGS, LAST_LOG_LINE, CONTAINER_STATE, EVENTS, POD_CONDITIONS, DEPLOYMENT
    pattern: str  # regex searched in each line of the source; named groups fill summary/fix
    summary: str  # may use {evidence} and the pattern's named groups
    fix: str
    facts: tuple[str, ...] = ()  # ids in docs/facts.yml the row rests on
    requires: tuple[str, str] | None = None  # (source, pattern) that must match somewhere as well


_STARTUP_KILL = r"^Killing: .*failed startup probe"
_NO_GIT_FIX = (
    "fetch vllm-omni without git: curl -fsSL the PyPI sdist vllm_omni-0.14.0.tar.gz (or "
    "https://github.com/vllm-project/vllm-omni/archive/refs/tags/v0.14.0.tar.gz), check its sha256 "
    "with sha256sum -c, unpack it with tar and pip install it from the directory"
)
_FLASH_ATTN_FIX = (
    "install flash-attn in its own pip command, from binaries only, and tolerate failure: pip install "
    '--only-binary=:all: flash-attn || echo "flash-attn skipped" (without it Qwen3-TTS uses '
    "transformers' default attention)"
)
_STARTUP_FIX = (
    "give the startupProbe room (failureThreshold x periodSeconds above the whole bootstrap plus the "
    "model load, repeated at every pod start) and avoid source builds: no --no-build-isolation or "
    "FLASH_ATTENTION_FORCE_BUILD for flash-attn (install it with --only-binary=:all: || echo ...)"
)
_GPU_FIX = (
    "free a GPU on a node labelled as tts.affinity requires (memorysize=16GB), or relax the "
    "affinity; with one GPU per node the Recreate strategy must remove the old pod first"
)

RULES: tuple[Rule, ...] = (
    # -- 1. logs ------------------------------------------------------------------------------
    Rule(
        cause_id="qwen3-tts-not-registered",
        source=LOGS,
        pattern=r"model type `qwen3_tts` but Transformers does not recognize this architecture"
        r"|does not recognize this architecture",
        summary=(
            "plain vLLM served the model: it was started without --omni, or vllm-omni is not installed, "
            "so the config went through transformers, which has no qwen3_tts"
        ),
        fix=(
            "serve with --omni (the first entry of tts.extraArgs) and make the bootstrap install "
            "vllm-omni 0.14.0 on vllm/vllm-openai:v0.14.0 (curl the PyPI sdist or the v0.14.0 tag "
            "archive: the image has no git)"
        ),
        facts=("omni-cli-handover", "transformers-no-qwen3-tts"),
    ),
    Rule(
        cause_id="git-missing",
        source=LOGS,
        pattern=r"\bgit: command not found|Cannot find command 'git'",
        summary="the bootstrap runs git, which the image does not have (exit 127): nothing was fetched",
        fix=_NO_GIT_FIX,
        facts=("image-no-git",),
    ),
    Rule(
        cause_id="torch-abi-break",
        source=LOGS,
        pattern=r"_C\.abi3\.so: undefined symbol|undefined symbol.*_C\.abi3\.so",
        summary="torch was replaced by another release, so vLLM's compiled kernels no longer load",
        fix=(
            "do not install or upgrade torch, torchaudio or torchvision in the bootstrap; hold them at the "
            "image's versions with exact pins in the constraints file passed to every pip install (-c)"
        ),
        facts=("torch-abi",),
    ),
    Rule(
        cause_id="vllm-omni-version-mismatch",
        source=LOGS,
        pattern=r"ImportError: cannot import name(?: '?(?P<name>[\w.]+)'? from '?(?P<module>[\w.]+))?",
        summary=(
            "the installed vllm-omni does not match the image's vLLM 0.14.0 (source not pinned to "
            "v0.14.0): {evidence}"
        ),
        fix=(
            "install the v0.14.0 release: curl the PyPI sdist vllm_omni-0.14.0.tar.gz or "
            ".../vllm-omni/archive/refs/tags/v0.14.0.tar.gz (not the default branch)"
        ),
        facts=("omni-main-ahead",),
    ),
    Rule(
        cause_id="pip-resolution-impossible",
        source=LOGS,
        pattern=r"ResolutionImpossible",
        summary=(
            "pip found the bootstrap's pins and constraints contradictory (ResolutionImpossible) and "
            "installed nothing in that command"
        ),
        fix=(
            'read the lines after "The conflict is caused by:" in the log and make the pins agree (e.g. '
            "qwen-tts 0.1.1 requires transformers==4.57.3)"
        ),
        facts=("pip-resolution-impossible",),
    ),
    Rule(
        cause_id="flash-attn-build-isolation",
        source=LOGS,
        pattern=r"Failed to build '?flash[-_]attn'? when getting requirements to build wheel",
        summary=(
            "flash-attn's setup.py imports torch, which pip's isolated build environment lacks "
            "(No module named 'torch'): the whole pip command failed and installed nothing, "
            "including the other packages named with it"
        ),
        fix=_FLASH_ATTN_FIX + "; install the other packages in their own commands",
        facts=("flash-attn-build-isolation",),
    ),
    Rule(
        cause_id="missing-dependency",
        source=LOGS,
        pattern=r"ModuleNotFoundError: No module named\s*'?(?P<module>[\w.]*)",
        summary="module {module} is missing: vllm-omni's dependencies were skipped or hidden",
        fix=(
            "install vllm-omni with its dependencies (no --no-deps, no 2>/dev/null || fallback), under "
            "an exact-pin constraints file"
        ),
        facts=("omni-dependencies",),
    ),
    Rule(
        cause_id="vllm-omni-not-installed",
        source=LOGS,
        pattern=r"unrecognized arguments: .*--omni",
        summary="--omni was passed but plain vLLM owns the `vllm` command: vllm-omni is not installed",
        fix="make the bootstrap install vllm-omni 0.14.0 (and let a failing install stop the pod)",
        facts=("omni-cli-handover",),
    ),
    Rule(
        cause_id="startup-too-slow",
        source=LAST_LOG_LINE,
        pattern=r"Precompiled wheel not found\. Building from source|Building wheel for flash[-_]attn"
        r"|building 'flash_attn",
        summary=(
            "the kubelet killed the container during start-up while the bootstrap was still compiling "
            "flash-attn from source (a multi-hour build)"
        ),
        fix=_STARTUP_FIX,
        facts=("flash-attn-no-build-isolation", "startup-per-pod-start"),
        requires=(EVENTS, _STARTUP_KILL),
    ),
    Rule(
        cause_id="flash-attn-build-failed",
        source=LOGS,
        pattern=r"Failed building wheel for flash[-_]attn"
        r"|Failed to build (?:'flash[-_]attn'|flash[-_]attn)(?! when getting requirements)",
        summary="pip compiled flash-attn from source (PyPI has no wheels) and the build failed",
        fix=_FLASH_ATTN_FIX,
        facts=("flash-attn-no-build-isolation",),
    ),
    # -- 2. container states --------------------------------------------------------------------
    Rule(
        cause_id="oom-killed",
        source=CONTAINER_STATE,
        pattern=r"^terminated: OOMKilled",
        summary="the container was killed for exceeding its memory limit (OOMKilled)",
        fix="raise tts.resources.limits.memory (the bootstrap's pip and the model load both need memory)",
        facts=("k8s-container-states",),
    ),
    Rule(
        cause_id="config-error",
        source=CONTAINER_STATE,
        pattern=r"^waiting: CreateContainerConfigError: (?P<detail>.*)",
        summary="the container cannot be created: {detail}",
        fix="create the missing ConfigMap/Secret (or key) the pod references, or fix the reference",
        facts=("k8s-container-states",),
    ),
    Rule(
        cause_id="image-pull-failed",
        source=CONTAINER_STATE,
        pattern=r"^waiting: (ErrImagePull|ImagePullBackOff).*?image \\?\"(?P<image>[^\"\\]+)",
        summary="image {image} cannot be pulled",
        fix="check tts.image.repository/tag (vllm/vllm-openai:v0.14.0 exists) and registry access",
        facts=("k8s-container-states",),
    ),
    # -- 3. events ------------------------------------------------------------------------------
    Rule(
        cause_id="startup-too-slow",
        source=EVENTS,
        pattern=_STARTUP_KILL,
        summary="the kubelet killed the container during start-up: the startupProbe allows less time "
        "than the bootstrap (download + pip) plus the model load",
        fix=_STARTUP_FIX,
        facts=("startup-per-pod-start", "flash-attn-no-build-isolation"),
    ),
    Rule(
        cause_id="image-pull-failed",
        source=EVENTS,
        pattern=r'^Failed: Failed to pull image "(?P<image>[^"]+)"',
        summary="image {image} cannot be pulled",
        fix="check tts.image.repository/tag (vllm/vllm-openai:v0.14.0 exists) and registry access",
        facts=("k8s-container-states",),
    ),
    Rule(
        cause_id="unschedulable",
        source=EVENTS,
        pattern=r"^FailedScheduling: (?P<detail>.*(nvidia\.com/gpu|node affinity).*)",
        summary="no node with a free GPU matching the affinity: {detail}",
        fix=_GPU_FIX,
        facts=("k8s-scheduling",),
    ),
    Rule(
        cause_id="unschedulable",
        source=EVENTS,
        pattern=r"^FailedScheduling: (?P<detail>.*)",
        summary="the scheduler cannot place the pod: {detail}",
        fix="compare the pod's requests, node selector/affinity and tolerations with the nodes",
        facts=("k8s-scheduling",),
    ),
    # -- 4. pod conditions -------------------------------------------------------------------------
    Rule(
        cause_id="unschedulable",
        source=POD_CONDITIONS,
        pattern=r"^PodScheduled=False Unschedulable: (?P<detail>.*(nvidia\.com/gpu|node affinity).*)",
        summary="no node with a free GPU matching the affinity: {detail}",
        fix=_GPU_FIX,
        facts=("k8s-scheduling",),
    ),
    Rule(
        cause_id="unschedulable",
        source=POD_CONDITIONS,
        pattern=r"^PodScheduled=False Unschedulable: (?P<detail>.*)",
        summary="the scheduler cannot place the pod: {detail}",
        fix="compare the pod's requests, node selector/affinity and tolerations with the nodes",
        facts=("k8s-scheduling",),
    ),
    # -- 5. the Deployment -------------------------------------------------------------------------
    Rule(
        cause_id="progress-deadline-exceeded",
        source=DEPLOYMENT,
        pattern=r"^Progressing=False ProgressDeadlineExceeded: (?P<detail>.*)",
        summary="the rollout made no progress within progressDeadlineSeconds: {detail}",
        fix=(
            "read the pod's logs: a long bootstrap (source builds) or a crash loop; raise "
            "progressDeadlineSeconds only if start-up is legitimately slow"
        ),
        facts=("k8s-progress-deadline",),
    ),
)


# -- evidence lines per source ---------------------------------------------------------------------
_SUBPROCESS_OUTPUT_START = re.compile(r"╰─> \[\d+ lines? of output\]")
_SUBPROCESS_OUTPUT_END = re.compile(r"^\s*\[end of output\]\s*$")


def _own_lines(text: str) -> Iterator[str]:
    """The log's lines, without the subprocess output pip quotes inside an error box."""
    quoted = False
    for line in (text or "").splitlines():
        if quoted:
            quoted = not _SUBPROCESS_OUTPUT_END.search(line)
            continue
        if _SUBPROCESS_OUTPUT_START.search(line):
            quoted = True
        yield line


def _log_lines(logs: str, previous_logs: str) -> Iterator[str]:
    for text in (previous_logs, logs):
        yield from _own_lines(text)


def _last_log_lines(logs: str, previous_logs: str) -> Iterator[str]:
    """The last non-blank line of each attempt's log, previous attempt first."""
    for text in (previous_logs, logs):
        lines = [line for line in (text or "").splitlines() if line.strip()]
        if lines:
            yield lines[-1]


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


def _cause(rule: Rule, lines: Iterator[str]) -> Cause | None:
    pattern = re.compile(rule.pattern)
    for line in lines:
        match = pattern.search(line)
        if match:
            groups = {k: v for k, v in match.groupdict().items() if v is not None}
            evidence = line.strip()
            return Cause(
                cause_id=rule.cause_id,
                summary=rule.summary.format(evidence=evidence, **groups),
                evidence=evidence,
                fix=rule.fix.format(evidence=evidence, **groups),
            )
    return None


def causes(
    pod: dict | None,
    events: list[dict],
    logs: str,
    previous_logs: str,
    deployment: dict | None,
) -> list[Cause]:
    """Every distinct cause whose rule matches, in RULES order (the first row per cause_id)."""
    sources = {
        LOGS: lambda: _log_lines(logs, previous_logs),
        LAST_LOG_LINE: lambda: _last_log_lines(logs, previous_logs),
        CONTAINER_STATE: lambda: _container_state_lines(pod),
        EVENTS: lambda: _event_lines(events),
        POD_CONDITIONS: lambda: _condition_lines(pod),
        DEPLOYMENT: lambda: _condition_lines(deployment),
    }
    found: dict[str, Cause] = {}
    for rule in RULES:
        if rule.cause_id in found:
            continue
        if rule.requires is not None:
            source, pattern = rule.requires
            if not any(re.search(pattern, line) for line in sources[source]()):
                continue
        cause = _cause(rule, sources[rule.source]())
        if cause is not None:
            found[rule.cause_id] = cause
    return list(found.values())


def diagnose(
    pod: dict | None,
    events: list[dict],
    logs: str,
    previous_logs: str,
    deployment: dict | None,
) -> Diagnosis | None:
    """The first rule (in RULES order) whose pattern matches its source, with the other distinct
    causes that matched in ``also``; None when nothing matches.

    ``pod``, ``events`` and ``deployment`` are API objects as JSON dicts (camelCase, as kubectl prints
    them); ``logs``/``previous_logs`` are the current and previous containers' log text.
    """
    found = causes(pod, events, logs, previous_logs, deployment)
    if not found:
        return None
    first, *others = found
    return Diagnosis(first.cause_id, first.summary, first.evidence, first.fix, also=tuple(others))
