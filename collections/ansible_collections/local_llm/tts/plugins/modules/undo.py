#!/usr/bin/python
"""Module local_llm.tts.undo."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: undo
short_description: After a failed fix, roll back the revision it made and restore the values file
description:
  - Runs in a fix's rescue. When I(new_revision), rolls the release back to I(rollback_to) (the last
    revision that served before the fix) and checks it is deployed; when I(values_changed), puts the
    values file back from C(<values_file>.orig).
  - Always fails - the fix failed - with I(failure) followed by what was undone, or that nothing was
    rolled back because I(enabled) is false (C(auto_rollback) off). In check mode nothing was changed,
    so nothing is undone.
options:
  failure:
    description: What went wrong (the failed step's message); the start of this module's message.
    type: str
    required: true
  values_file:
    description: The values file the fix edited.
    type: path
    required: true
  new_revision:
    description: Whether the fix made a new revision.
    type: bool
    default: false
  rollback_to:
    description: Revision to roll back to; default the newest served revision before the current one.
    type: int
  values_changed:
    description: Whether the fix wrote the values file.
    type: bool
    default: false
  enabled:
    description: Undo at all (C(auto_rollback)); when false only the failure is reported.
    type: bool
    default: true
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
- name: Undo the change and fail with the diagnosis
  local_llm.tts.undo:
    release: local-llm
    failure: "{{ ansible_failed_result.msg }}"
    values_file: HelmChart/custom-chart/values.yaml
    new_revision: "{{ tts_apply.new_revision | default(false) }}"
    values_changed: "{{ tts_apply.values_changed | default(false) }}"
"""

RETURN = r"""
tts_report:
  description: The facts runner.py's summary shows (diagnosis, rolled_back, revision_after, rollback_target).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import (
    CONNECTION,
    HELM,
    NAMESPACE,
    RELEASE,
)
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import run_step, undo


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            **RELEASE,
            "failure": {"type": "str", "required": True},
            "values_file": {"type": "path", "required": True},
            "new_revision": {"type": "bool", "default": False},
            "rollback_to": {"type": "int"},
            "values_changed": {"type": "bool", "default": False},
            "enabled": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params

    def step() -> dict:
        raise undo(
            HelmCli.from_params(p),
            p["failure"],
            p["values_file"],
            p["new_revision"],
            p["rollback_to"],
            p["values_changed"],
            enabled=p["enabled"],
            check_mode=module.check_mode,
        )

    run_step(module, step)


if __name__ == "__main__":
    main()
