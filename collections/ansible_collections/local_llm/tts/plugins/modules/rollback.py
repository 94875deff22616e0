#!/usr/bin/python
"""Module local_llm.tts.rollback."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback
short_description: Roll the release back to a revision whose TTS block is not known to be broken
description:
  - One call for the C(rollback) runbook - checks helm (3.13+), the cluster and the release, reads
    C(helm history) once and chooses the target, I(revision) when given (it must exist and not be the
    current one), else the newest deployed or superseded revision before the current one.
  - Reads the target's computed values (C(helm get values --revision N --all)) and refuses, before
    anything changes, when its I(key) block has known pitfalls of severity error, unless I(force).
  - Runs C(helm rollback), with I(restore_values) puts the values file back from C(<values_file>.orig)
    (refused as C(CONFIG:) before the rollback when that backup does not exist), then watches the
    rollout of I(deployment) and checks C(/health) on I(service) (no speech request).
  - In check mode it reports the history and the target and changes nothing.
options:
  revision:
    description: Revision to roll back to; 0 or omitted means the previous served revision.
    type: int
  force:
    description: Roll back even to a revision whose block has known pitfalls.
    type: bool
    default: false
  restore_values:
    description: Also restore the values file from C(<values_file>.orig).
    type: bool
    default: false
  values_file:
    description: The values file (for I(restore_values)).
    type: path
    required: true
  key:
    description: Top-level key of the TTS block in the values.
    type: str
    default: tts
  deployment:
    description: Name of the TTS Deployment whose rollout is watched.
    type: str
    required: true
  service:
    description: Name of the TTS Service whose /health is checked.
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
    description: Seconds to wait for the rollout and /health.
    type: int
    default: 1800
  progress_host:
    description: Name of the cluster in progress lines (the inventory host).
    type: str
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
  - local_llm.tts.cluster.release
attributes:
  check_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Roll back to the previous served revision and wait for it
  local_llm.tts.rollback:
    release: local-llm
    values_file: HelmChart/custom-chart/values.yaml
    deployment: local-llm-tts
    service: local-llm-tts
"""

RETURN = r"""
revision_before:
  description: The current revision before the rollback.
  returned: always
  type: int
target_revision:
  description: The revision rolled back to.
  returned: success
  type: int
revision_after:
  description: The new revision the rollback made.
  returned: success
  type: int
history:
  description: C(helm history) as C(REV STATUS CHART DESCRIPTION) lines.
  returned: success
  type: list
  elements: str
target_findings:
  description: Known-pitfall findings of the target's block.
  returned: success
  type: list
  elements: dict
tts_report:
  description: The facts runner.py's summary shows (history, target, findings, revisions, health).
  returned: always
  type: dict
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
from ansible_collections.local_llm.tts.plugins.module_utils.progress import Reporter
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import ServiceChecks, rollback, run_step


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            **RELEASE,
            "revision": {"type": "int"},
            "force": {"type": "bool", "default": False},
            "restore_values": {"type": "bool", "default": False},
            "values_file": {"type": "path", "required": True},
            "key": {"type": "str", "default": "tts"},
            "deployment": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "port": {"type": "int", "default": 8006},
            "health_url": {"type": "str"},
            "timeout": {"type": "int", "default": 1800},
            "progress_host": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    wait = ServiceChecks(
        deployment=p["deployment"],
        service=p["service"],
        port=p["port"],
        timeout=p["timeout"],
        verify_speech=False,
        health_url=p["health_url"] or None,
        check_log=False,
        progress=Reporter(p["progress_host"]),
    )
    run_step(
        module,
        lambda: rollback(
            HelmCli.from_params(p),
            lambda: open_cluster(p["kubeconfig"], p["context"]),
            p["values_file"],
            p["key"],
            p["revision"] or None,
            wait,
            force=p["force"],
            restore_values=p["restore_values"],
            check_mode=module.check_mode,
        ),
    )


if __name__ == "__main__":
    main()
