#!/usr/bin/python
"""local_llm.tts.rollout: wait for a Deployment's rollout, or fail fast with a diagnosis."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollout
short_description: Wait for a Deployment's rollout to a Ready pod, or fail fast with a diagnosis
description:
  - Read-only (never changes anything; C(changed) is always false).
  - Watches the Deployment and its pods with the official Kubernetes client's C(watch.Watch()) (no
    sleep-polling) until the rollout is complete the way C(kubectl rollout status) decides
    (observedGeneration >= generation, updated == desired replicas, no old replicas left, all updated
    replicas available) and a pod of the new ReplicaSet is Ready.
  - Fails fast on clear evidence from a new pod (CrashLoopBackOff, a non-zero exit with restartCount >= 1,
    ImagePullBackOff/ErrImagePull, OOMKilled, CreateContainerConfigError, PodScheduled=False Unschedulable)
    or the Deployment (Progressing=False ProgressDeadlineExceeded once no new container is still in its
    first attempt). Then it reads the pod, its events and its current and previous logs (last 200 lines)
    and names the cause (C(diagnosis)), e.g. C(qwen3-tts-not-registered) for the transformers
    "does not recognize this architecture" crash.
  - Survives a flaky API server, retrying 5xx/429/connection resets with back-off until the timeout;
    watch streams that end early are resumed from the last resourceVersion, and a 410 Gone relists.
  - Configuration errors (see I(kubeconfig)) fail at once with a C(CONFIG:) message (the same client,
    source choice and errors as the preflight's C(local_llm.tts.cluster_check)).
options:
  deployment:
    description: Deployment name, e.g. C(local-llm-tts).
    type: str
    required: true
  timeout:
    description: Seconds to wait for the rollout before failing (with the evidence gathered then).
    type: int
    default: 1800
  settle_seconds:
    description: Once Ready, keep watching this many seconds and fail if the pod crashes or turns unready.
    type: float
    default: 0
  progress_host:
    description:
      - Name to report progress under while waiting (the inventory host). When set and the environment
        variable C(TTS_RUNBOOKS_PROGRESS) names a file, a JSON line C({"host", "text"}) is appended to it
        on every change of the new pod and at least every 15 s (pod, phase, container state, restarts,
        last event, seconds waited of I(timeout)); runner.py shows these lines while the task runs.
    type: str
notes:
  - Supports check mode (it only reads).
requirements:
  - kubernetes (official Python client)
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Wait for the TTS pod of the new revision
  local_llm.tts.rollout:
    kubeconfig: "{{ kubeconfig }}"
    deployment: local-llm-tts
    timeout: 1800
    settle_seconds: 30
  register: rollout
  ignore_errors: true

- name: Explain a failure
  ansible.builtin.debug:
    msg: "{{ rollout.diagnosis.summary }} -> {{ rollout.diagnosis.fix }}"
  when: rollout.diagnosis
"""

RETURN = r"""
ready:
  description: Whether the rollout completed with a Ready pod.
  returned: always
  type: bool
pod:
  description: The new pod (Ready one on success, failing one on failure), or null.
  returned: always
  type: dict
  contains:
    name: {description: Pod name, type: str}
    uid: {description: Pod UID, type: str}
    ip: {description: Pod IP, type: str}
    node: {description: Node name, type: str}
    restarts: {description: Sum of container restart counts, type: int}
    phase: {description: Pod phase, type: str}
elapsed_seconds:
  description: Seconds from start to the verdict.
  returned: always
  type: float
diagnosis:
  description: The cause found on failure (null on success or when no rule matched).
  returned: always
  type: dict
  contains:
    cause_id: {description: Stable id such as qwen3-tts-not-registered, type: str}
    summary: {description: What went wrong, type: str}
    evidence: {description: The log line, event or condition that matched, type: str}
    fix: {description: What to change, type: str}
    also:
      description: Other distinct causes whose evidence also matched, in rule order (same keys, no text).
      type: list
      elements: dict
    text: {description: "The whole diagnosis as one message: cause, evidence, fix, other causes.", type: str}
verdict:
  description: complete, failed or timeout.
  returned: always
  type: str
watch_stats:
  description: How often the watches were resumed (rewatches) or restarted from a list (relists).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, NAMESPACE

try:
    import kubernetes  # noqa: F401

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterConfigError,
    open_cluster,
)
from ansible_collections.local_llm.tts.plugins.module_utils.progress import Reporter
from ansible_collections.local_llm.tts.plugins.module_utils.rollout import ApiUnavailable, watch_rollout


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            "deployment": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 1800},
            "settle_seconds": {"type": "float", "default": 0},
            "progress_host": {"type": "str"},
        },
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    params = module.params
    try:
        result = watch_rollout(
            open_cluster(params["kubeconfig"], params["context"]),
            params["namespace"],
            params["deployment"],
            params["timeout"],
            params["settle_seconds"] or 0,
            Reporter(params["progress_host"]),
        ).as_dict()
    except ClusterConfigError as exc:  # kubeconfig, context, credentials, TLS, address
        module.fail_json(msg=str(exc), changed=False, ready=False)
    except ApiUnavailable as exc:
        module.fail_json(msg=str(exc), changed=False, ready=False)
    except Exception as exc:  # 404 deployment, API down past the timeout
        module.fail_json(
            msg=f"cannot watch deployment {params['deployment']}: {exc}", changed=False, ready=False
        )
    msg = result.pop("msg")
    if result["ready"]:
        module.exit_json(changed=False, msg=msg, **result)
    module.fail_json(changed=False, msg=msg, **result)


if __name__ == "__main__":
    main()
