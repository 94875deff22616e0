#!/usr/bin/python
"""Module local_llm.tts.apply."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apply
short_description: Set the TTS block, check the chart renders it, upgrade the release
description:
  - One call for the change of a fix - sets the I(key) block of I(values_file) to I(block) (only that
    block's lines change; C(<values_file>.orig) is kept before the first write; atomic write), runs
    C(helm lint) and C(helm template) with the file and requires the rendered I(deployment) to carry the
    block's image and C(extraArgs), then C(helm upgrade) (never C(--install)) when the values changed,
    I(upgrade_needed) or I(force).
  - In check mode nothing is written and helm changes nothing; the render check reads a scratch copy of
    the would-be file, removed afterwards. With C(--diff) the values file's change is shown.
  - On failure the result still says whether the values file was written (C(values_changed)) and
    whether a new revision exists (C(new_revision), a failed upgrade may record one), for the undo.
options:
  chart_path:
    description: The chart directory.
    type: path
    required: true
  values_file:
    description: The values file to edit and upgrade with.
    type: path
    required: true
  key:
    description: Top-level key of the TTS block.
    type: str
    default: tts
  block:
    description: The desired TTS block (a mapping, in the desired key order).
    type: dict
    required: true
  deployment:
    description: Name of the TTS Deployment the chart renders.
    type: str
    required: true
  revision_before:
    description: The release's revision before the change (the preflight's); new ones are counted from it.
    type: int
    required: true
  upgrade_needed:
    description: Upgrade even when the values file does not change (the preflight found the release differs).
    type: bool
    default: true
  force:
    description: Upgrade in any case and take back fields changed by hand (Helm 4 C(--force-conflicts)).
    type: bool
    default: false
  remove_added:
    description:
      - Drift entries (M(local_llm.tts.drift)'s); after the upgrade, the live fields they found added by hand
        (layer C(live), op C(add)) are removed by JSON patch, since helm's apply leaves fields it never owned.
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
  - local_llm.tts.cluster.release
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Change the values file and the release
  local_llm.tts.apply:
    release: local-llm
    chart_path: HelmChart/custom-chart
    values_file: HelmChart/custom-chart/values.yaml
    block: "{{ tts_desired }}"
    deployment: local-llm-tts
    revision_before: "{{ tts_plan.release.revision }}"
    upgrade_needed: "{{ tts_plan.upgrade_needed }}"
  when: tts_plan.change_needed
"""

RETURN = r"""
values_changed:
  description: Whether the values file was (in check mode, would be) written.
  returned: always
  type: bool
upgraded:
  description: Whether C(helm upgrade) ran (in check mode, would run).
  returned: success
  type: bool
new_revision:
  description: Whether the release has a revision newer than I(revision_before) now.
  returned: always
  type: bool
revision_before:
  description: I(revision_before).
  returned: success
  type: int
revision_after:
  description: The release's revision afterwards.
  returned: success
  type: int
removed:
  description: The live fields removed (C(Kind/name /json/pointer)).
  returned: when remove_added removed any
  type: list
  elements: str
backup_file:
  description: C(<values_file>.orig) when it exists.
  returned: always
  type: str
tts_report:
  description: The facts runner.py's summary shows (values_changed, revision_before, revision_after).
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
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import apply, run_step


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
            "deployment": {"type": "str", "required": True},
            "revision_before": {"type": "int", "required": True},
            "upgrade_needed": {"type": "bool", "default": True},
            "force": {"type": "bool", "default": False},
            "remove_added": {"type": "list", "elements": "dict", "default": []},
        },
        supports_check_mode=True,
    )
    p = module.params
    run_step(
        module,
        lambda: apply(
            HelmCli.from_params(p),
            p["chart_path"],
            p["values_file"],
            p["key"],
            p["block"],
            p["deployment"],
            p["revision_before"],
            upgrade_needed=p["upgrade_needed"],
            force=p["force"],
            check_mode=module.check_mode,
            remove_added=p["remove_added"],
            open_client=lambda: open_cluster(p["kubeconfig"], p["context"]),
        ),
    )


if __name__ == "__main__":
    main()
