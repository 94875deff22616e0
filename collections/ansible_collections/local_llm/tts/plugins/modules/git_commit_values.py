#!/usr/bin/python
"""Module local_llm.tts.git_commit_values."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: git_commit_values
short_description: Commit the values file when its only change is the tts block
description:
  - Commits only I(path), with I(message), when its uncommitted change is exactly the I(key)
    block set to I(block) (as local_llm.tts.values_block writes it).
  - No commit when the file has no uncommitted change. Refuses, with a clear message, when
    the file has other uncommitted edits, so that nobody's work is committed by accident.
options:
  path:
    description: The values file.
    type: path
    required: true
  key:
    description: Top-level key of the block the runbook set.
    type: str
    default: tts
  block:
    description: The block the runbook set.
    type: dict
    required: true
  message:
    description: Commit message.
    type: str
    required: true
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Commit the values file with the plan's message
  local_llm.tts.git_commit_values:
    path: HelmChart/custom-chart/values.yaml
    block: "{{ tts_desired }}"
    message: "fix(tts): switch to base vllm-openai image with source-install vllm-omni"
"""

RETURN = r"""
commit:
  description: The new commit's hash, or null when nothing was committed.
  returned: always
  type: str
reason:
  description: What happened, in words.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.git_values import GitValuesError, commit_values


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "key": {"type": "str", "default": "tts"},
            "block": {"type": "dict", "required": True},
            "message": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = commit_values(p["path"], p["key"], p["block"], p["message"], dry_run=module.check_mode)
    except GitValuesError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
