#!/usr/bin/python
"""Module local_llm.tts.preflight."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: Everything a fix checks before changing anything, returned as a plan
description:
  - One call, each source read once - helm's version (3.13+), the cluster (kubeconfig, context,
    credentials, TLS; see I(kubeconfig)), the chart and the values file, the edit of the I(key) block
    (made in memory, nothing written), the release's history and values (C(helm history),
    C(helm get values)), a revision left pending by an interrupted helm, and the known pitfalls of
    I(block) with the GPU products of the nodes it selects.
  - Returns the plan - whether the values file would change, whether C(helm upgrade) would make a new
    revision and why, and the findings let through. A fix that needs no change skips its apply step.
  - Fails, before anything changes, on a missing or too old helm, an unreachable cluster, a missing
    chart or values file, a values file that cannot be edited, a missing release (each a C(CONFIG:)
    message), a pending release (unless I(recover_pending)), and pitfall findings at or above I(fail_on).
  - Changes nothing, except with I(recover_pending) on a pending release, which it rolls back to its
    last deployed revision first (C(changed=true)).
options:
  chart_path:
    description: The chart directory (with C(Chart.yaml)).
    type: path
    required: true
  values_file:
    description: The values file the release is upgraded with.
    type: path
    required: true
  key:
    description: Top-level key of the TTS block in I(values_file).
    type: str
    default: tts
  block:
    description: The desired TTS block (a mapping).
    type: dict
    required: true
  fail_on:
    description: Fail on pitfall findings of this severity or worse; C(never) only reports them.
    type: str
    choices: [error, warning, never]
    default: error
  recover_pending:
    description: Roll a release left pending by an interrupted helm back to its last deployed revision.
    type: bool
    default: false
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
- name: Check everything and plan the fix
  local_llm.tts.preflight:
    kubeconfig: /etc/kube/prod.yaml
    release: local-llm
    chart_path: HelmChart/custom-chart
    values_file: HelmChart/custom-chart/values.yaml
    block: "{{ tts_desired }}"
  register: tts_plan
"""

RETURN = r"""
change_needed:
  description: Whether the values file or the release would change (the apply step runs only then).
  returned: success
  type: bool
values_changed:
  description: Whether the I(key) block of the values file differs from I(block).
  returned: success
  type: bool
upgrade_needed:
  description: Whether C(helm upgrade) would make a new revision.
  returned: success
  type: bool
upgrade_reasons:
  description: Why (values differ, chart version, release status).
  returned: success
  type: list
  elements: str
helm_version:
  description: helm's version, e.g. v4.1.4.
  returned: success
  type: str
cluster:
  description: The API server (server, context, version).
  returned: success
  type: dict
release:
  description: >-
    The newest revision (status, revision, chart, chart_name, chart_version, app_version,
    last_deployed_revision).
  returned: success
  type: dict
history:
  description: C(helm history -o json) entries.
  returned: success
  type: list
  elements: dict
pending:
  description: A pending revision (status, revision, rollback_to), or null.
  returned: always
  type: dict
recovered:
  description: What the recovery of a pending release did, or null.
  returned: success
  type: dict
findings:
  description: Pitfall findings of I(block) (rule_id, severity, message, fix, path, line).
  returned: always
  type: list
  elements: dict
gpu_products:
  description: GPU products of the nodes I(block) selects.
  returned: success
  type: list
  elements: str
tts_report:
  description: The facts runner.py's summary shows (revisions, values_changed, pitfall_findings).
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
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import preflight, run_step


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            **RELEASE,
            "chart_path": {"type": "path", "required": True},
            "values_file": {"type": "path", "required": True},
            "key": {"type": "str", "default": "tts"},
            "block": {"type": "dict", "required": True},
            "fail_on": {"type": "str", "choices": ["error", "warning", "never"], "default": "error"},
            "recover_pending": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    run_step(
        module,
        lambda: preflight(
            HelmCli.from_params(p),
            lambda: open_cluster(p["kubeconfig"], p["context"]),
            p["chart_path"],
            p["values_file"],
            p["key"],
            p["block"],
            fail_on=p["fail_on"],
            recover=p["recover_pending"],
            check_mode=module.check_mode,
            warn=module.warn,
        ),
    )


if __name__ == "__main__":
    main()
