#!/usr/bin/python
"""local_llm.tts.tts_status: the TTS Deployment's image, pod, phase, restarts, age, readiness, events."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tts_status
short_description: One cluster's TTS status - release, Deployment, pod, events, health, pending, drift
description:
  - One call for the C(status) runbook - checks helm (3.13+) and the cluster (see I(kubeconfig)), reads
    the release's history once (status, revision, chart, a revision left pending by an interrupted helm),
    the Deployment's container image and rollout (as C(kubectl rollout status) decides), the newest
    non-terminating pod with its phase, container state (e.g. C(CrashLoopBackOff)), restarts, age,
    readiness and node, the last I(events) events of the Deployment and that pod, C(GET /health) (no
    speech), and with I(drift) the drift of the values file, the release and the live objects
    (M(local_llm.tts.drift) without its health layer).
  - Read-only (C(changed) is always false). An unhealthy service and a drift check that cannot run are
    reported, not failures; fails only on an unusable configuration (C(CONFIG:)) or an API that cannot be
    read.
options:
  deployment:
    description: Deployment name, e.g. C(local-llm-tts).
    type: str
    required: true
  service:
    description: Service name, e.g. C(local-llm-tts).
    type: str
    required: true
  port:
    description: Service port.
    type: int
    default: 8006
  health_url:
    description: When set, GET this URL for the health check instead of the API server's service proxy.
    type: str
  health_timeout:
    description: Seconds to retry /health.
    type: int
    default: 5
  events:
    description: How many of the latest events to report.
    type: int
    default: 5
  drift:
    description: Report drift too.
    type: bool
    default: true
  values_file:
    description: The values file (for the drift check).
    type: path
  key:
    description: Top-level key of the TTS block (for the drift check).
    type: str
    default: tts
  desired:
    description: The desired TTS block (for the drift check).
    type: dict
  ignore:
    description: Drift ignore rules, as M(local_llm.tts.drift) takes them.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
requirements:
  - kubernetes (official Python client)
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
  - local_llm.tts.cluster.release
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Read the TTS status of the cluster
  local_llm.tts.tts_status:
    kubeconfig: "{{ kubeconfig }}"
    release: local-llm
    deployment: local-llm-tts
    service: local-llm-tts
    values_file: HelmChart/custom-chart/values.yaml
    desired: "{{ tts_desired }}"
  register: tts_facts
"""

RETURN = r"""
release_status:
  description: Helm status of the newest revision.
  returned: success
  type: str
revision:
  description: The newest revision.
  returned: success
  type: int
chart:
  description: Chart of the newest revision (name-version).
  returned: success
  type: str
health:
  description: C(ok), or why /health failed.
  returned: success
  type: str
pending:
  description: A pending revision (status, revision, rollback_to), or null.
  returned: success
  type: dict
drift_checked:
  description: Whether the drift check ran.
  returned: success
  type: bool
drift:
  description: Drift entries (layer, op, path, expected, actual, target).
  returned: success
  type: list
  elements: dict
drift_counts:
  description: Drift entries per layer, null when not checked.
  returned: success
  type: dict
drift_error:
  description: Why the drift check could not run, or null.
  returned: success
  type: str
tts_report:
  description: Everything above, as runner.py's status screen shows it.
  returned: success
  type: dict
deployment_found:
  description: Whether the Deployment exists.
  returned: always
  type: bool
image:
  description: Image of the Deployment's (first) container.
  returned: always
  type: str
rollout:
  description: What the rollout waits for, or C(rolled out).
  returned: always
  type: str
rolled_out:
  description: Whether the rollout is complete.
  returned: always
  type: bool
pod:
  description: Name of the current pod (null when none).
  returned: always
  type: str
phase:
  description: Pod phase (Pending, Running, ...), C(no pod) when there is none.
  returned: always
  type: str
state:
  description: Container waiting or terminated reason (CrashLoopBackOff, ...), null when running.
  returned: always
  type: str
restarts:
  description: Sum of the pod's container restarts.
  returned: always
  type: int
age:
  description: Pod age, kubectl style (3m12s).
  returned: always
  type: str
ready:
  description: Whether the pod is Ready.
  returned: always
  type: bool
node:
  description: Node the pod runs on.
  returned: always
  type: str
events:
  description: The last events of the Deployment and the pod, oldest first (C(Type Reason (xN) message)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import open_cluster
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import (
    CONNECTION,
    HELM,
    NAMESPACE,
    RELEASE,
)
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import run_step, status


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            **RELEASE,
            "deployment": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "port": {"type": "int", "default": 8006},
            "health_url": {"type": "str"},
            "health_timeout": {"type": "int", "default": 5},
            "events": {"type": "int", "default": 5},
            "drift": {"type": "bool", "default": True},
            "values_file": {"type": "path"},
            "key": {"type": "str", "default": "tts"},
            "desired": {"type": "dict"},
            "ignore": {"type": "list", "elements": "dict", "default": []},
        },
        required_if=[("drift", True, ("values_file",))],
        supports_check_mode=True,
    )
    p = module.params
    drift_keys = (
        "kubeconfig",
        "context",
        "namespace",
        "release",
        "binary",
        "values_file",
        "key",
        "desired",
        "deployment",
        "service",
        "port",
        "health_url",
        "ignore",
    )
    run_step(
        module,
        lambda: status(
            HelmCli.from_params(p),
            lambda: open_cluster(p["kubeconfig"], p["context"]),
            p["deployment"],
            p["service"],
            p["port"],
            health_url=p["health_url"] or None,
            events=p["events"],
            health_timeout=p["health_timeout"],
            drift_params={k: p[k] for k in drift_keys} if p["drift"] else None,
        ),
    )


if __name__ == "__main__":
    main()
