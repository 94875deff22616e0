#!/usr/bin/python
"""local_llm.tts.rollback_plan: the rollback target and the pitfall findings of its tts block."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_plan
short_description: Choose a Helm rollback target and check its tts block against the known pitfalls
description:
  - Read-only (C(changed) is always false). Reads C(helm history -o json) and the target revision's
    computed values (C(helm get values --revision N --all -o json)), takes the I(key) block and runs the
    known-pitfall checks of M(local_llm.tts.pitfalls) on it.
  - The target is I(revision) when given (it must exist and not be the current one), else the newest
    deployed or superseded revision before the current one.
  - Works with Helm 3 (3.13+) and Helm 4; the kubeconfig is passed to helm by path, never read.
options:
  release:
    description: Release name.
    type: str
    required: true
  revision:
    description: Revision to roll back to; 0 or omitted means the previous served revision.
    type: int
  key:
    description: Top-level key of the TTS block in the values.
    type: str
    default: tts
attributes:
  check_mode:
    support: full
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Where would a rollback go, and is that config known to be broken?
  local_llm.tts.rollback_plan:
    release: local-llm
    kubeconfig: "{{ kubeconfig }}"
  register: plan
"""

RETURN = r"""
current_revision:
  description: The release's current revision.
  returned: always
  type: int
status:
  description: Helm status of the current revision.
  returned: always
  type: str
pending:
  description: Whether the release is mid-operation (pending-install/upgrade/rollback).
  returned: always
  type: bool
target_revision:
  description: The revision a rollback goes to.
  returned: always
  type: int
target_chart:
  description: Chart (name-version) of the target revision.
  returned: always
  type: str
target_image:
  description: The TTS image of the target revision (repository:tag), null when it has no block.
  returned: always
  type: str
target_block_found:
  description: Whether the target revision's values carry the I(key) block.
  returned: always
  type: bool
findings:
  description: Known-pitfall findings of the target's block (as M(local_llm.tts.pitfalls) returns them).
  returned: always
  type: list
  elements: dict
history:
  description: C(helm history -o json) entries.
  returned: always
  type: list
  elements: dict
history_lines:
  description: The history as C(REV STATUS CHART DESCRIPTION) lines.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli, HelmError
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, HELM, NAMESPACE
from ansible_collections.local_llm.tts.plugins.module_utils.rollback_plan import read_plan


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            "release": {"type": "str", "required": True},
            "revision": {"type": "int"},
            "key": {"type": "str", "default": "tts"},
        },
        supports_check_mode=True,
    )
    p = module.params
    helm = HelmCli.from_params(p)
    try:
        plan = read_plan(helm, p["revision"] or None, p["key"])
    except (HelmError, OSError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(changed=False, **plan)


if __name__ == "__main__":
    main()
