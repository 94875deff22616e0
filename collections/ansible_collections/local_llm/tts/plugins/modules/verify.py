#!/usr/bin/python
"""Module local_llm.tts.verify."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verify
short_description: Watch the TTS rollout, check the bootstrap log, /health and a speech request
description:
  - One call for the checks of a fix - watches (not sleep-polls) I(deployment) until its new pod is
    Ready, failing within seconds of clear evidence (CrashLoopBackOff, ImagePullBackOff,
    FailedScheduling, ...) with a diagnosis; reads the pod's log and requires I(markers) in order and
    none of I(forbidden); then C(GET /health) on I(service) (retried until I(timeout)) and, with
    I(verify_speech), speech requests whose answers must be WAV audio.
  - While waiting it appends progress lines (pod, phase, container state, restarts, last event, seconds
    waited) to the file named by C(TTS_RUNBOOKS_PROGRESS), when set, on every change and every 15 s.
  - Read-only (C(changed) is always false). Fails with the diagnosis as the message.
options:
  deployment:
    description: Name of the TTS Deployment.
    type: str
    required: true
  service:
    description: Name of the TTS Service.
    type: str
    required: true
  port:
    description: Port of the TTS Service.
    type: int
    default: 8006
  health_url:
    description: When set, GET this URL for the health check instead of the API server's service proxy.
    type: str
  timeout:
    description: Seconds to wait for the rollout, and for /health afterwards.
    type: int
    default: 1800
  verify_speech:
    description: Send speech requests after /health passes.
    type: bool
    default: true
  check_log:
    description: Check the pod's log for I(markers) and I(forbidden).
    type: bool
    default: true
  markers:
    description: Lines expected in the pod's log, in order.
    type: list
    elements: str
    default: []
  forbidden:
    description: Lines that must not appear in the pod's log.
    type: list
    elements: str
    default: []
  progress_host:
    description: Name of the cluster in progress lines (the inventory host).
    type: str
  preflight:
    description: First check helm (3.13+), the cluster and that I(release) exists (C(CONFIG:) failures).
    type: bool
    default: false
  release:
    description: Name of the Helm release (for I(preflight)).
    type: str
    default: local-llm
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
attributes:
  check_mode:
    support: full
requirements:
  - kubernetes (the official Python client)
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Verify the TTS service
  local_llm.tts.verify:
    kubeconfig: "{{ kubeconfig }}"
    deployment: local-llm-tts
    service: local-llm-tts
    markers: ["==> Installing vllm-omni", "==> Starting server"]
"""

RETURN = r"""
pod:
  description: Name of the new TTS pod.
  returned: success
  type: str
rollout:
  description: The rollout watch's result (ready, pod, elapsed_seconds, diagnosis, verdict).
  returned: always
  type: dict
health:
  description: C(ok), or why /health failed.
  returned: success
  type: str
speech:
  description: One entry per speech request (text, language, ok, latency_ms, duration_seconds, error).
  returned: success
  type: list
  elements: dict
tts_report:
  description: The facts runner.py's summary shows (tts_pod, health, speech, diagnosis).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import open_cluster
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, HELM, NAMESPACE
from ansible_collections.local_llm.tts.plugins.module_utils.progress import Reporter
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import ServiceChecks, run_step, verify


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            "release": {"type": "str", "default": "local-llm"},
            "deployment": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "port": {"type": "int", "default": 8006},
            "health_url": {"type": "str"},
            "timeout": {"type": "int", "default": 1800},
            "verify_speech": {"type": "bool", "default": True},
            "check_log": {"type": "bool", "default": True},
            "markers": {"type": "list", "elements": "str", "default": []},
            "forbidden": {"type": "list", "elements": "str", "default": []},
            "progress_host": {"type": "str"},
            "preflight": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    run_step(
        module,
        lambda: verify(
            lambda: open_cluster(p["kubeconfig"], p["context"]),
            p["namespace"],
            ServiceChecks(
                deployment=p["deployment"],
                service=p["service"],
                port=p["port"],
                timeout=p["timeout"],
                markers=tuple(p["markers"]),
                forbidden=tuple(p["forbidden"]),
                verify_speech=p["verify_speech"],
                health_url=p["health_url"] or None,
                check_log=p["check_log"],
                progress=Reporter(p["progress_host"]),
            ),
            helm=HelmCli.from_params(p) if p["preflight"] else None,
        ),
    )


if __name__ == "__main__":
    main()
