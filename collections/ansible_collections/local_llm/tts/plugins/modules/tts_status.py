#!/usr/bin/python
"""local_llm.tts.tts_status: the TTS Deployment's image, pod, phase, restarts, age, readiness, events."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tts_status
short_description: Read the TTS Deployment's image, current pod and its last events (read-only)
description:
  - Read-only (C(changed) is always false); a few GETs through the official client, no watch.
  - Reports the Deployment's container image, whether its rollout is complete (as C(kubectl rollout
    status) decides), the newest non-terminating pod with its phase, container state (e.g.
    C(CrashLoopBackOff)), restarts, age, readiness and node, and the last I(events) events of the
    Deployment and that pod.
  - Never fails on an unhealthy service (that is what it reports); fails only when the API cannot be
    read, with a C(CONFIG:) message for the kubeconfig, context, credentials, TLS or address (see
    I(kubeconfig)), otherwise (5xx past the retries) without.
options:
  deployment:
    description: Deployment name, e.g. C(local-llm-tts).
    type: str
    required: true
  events:
    description: How many of the latest events to report.
    type: int
    default: 5
attributes:
  check_mode:
    support: full
requirements:
  - kubernetes (official Python client)
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Read the TTS pod's facts
  local_llm.tts.tts_status:
    kubeconfig: "{{ kubeconfig }}"
    deployment: local-llm-tts
  register: tts_facts
"""

RETURN = r"""
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
from ansible_collections.local_llm.tts.plugins.module_utils.status import gather_status


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            "deployment": {"type": "str", "required": True},
            "events": {"type": "int", "default": 5},
        },
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    p = module.params
    try:
        facts = gather_status(
            open_cluster(p["kubeconfig"], p["context"]), p["namespace"], p["deployment"], p["events"]
        )
    except ClusterConfigError as exc:  # kubeconfig, context, credentials, TLS, address
        module.fail_json(msg=str(exc), changed=False)
    except Exception as exc:  # 5xx past the retries, unreadable answers
        module.fail_json(msg=f"cannot read deployment {p['deployment']}: {exc}", changed=False)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
