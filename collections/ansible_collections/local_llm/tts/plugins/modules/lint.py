#!/usr/bin/python
"""Module local_llm.tts.lint."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lint
short_description: Check a values file's TTS block, and the desired block, against the known pitfalls
description:
  - One call for the C(lint) runbook, with no cluster - runs the rules of M(local_llm.tts.pitfalls) on
    the I(key) block of I(values_file) (findings carry its line numbers) and, when given, on I(desired).
  - Each finding names its source (the file, or C(tts_desired)), rule id, severity, message, fix, path
    and line. Fails with a C(LINT:) message on findings at or above I(fail_on), and with C(CONFIG:) when
    the file cannot be read or parsed.
options:
  values_file:
    description: The values file.
    type: path
    required: true
  key:
    description: Top-level key of the TTS block; also the prefix of each finding's path.
    type: str
    default: tts
  desired:
    description: The desired block (C(tts_desired)), checked too when given.
    type: dict
  fail_on:
    description: Fail on findings of this severity or worse.
    type: str
    choices: [error, warning]
    default: error
attributes:
  check_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Lint a values file
  local_llm.tts.lint:
    values_file: HelmChart/custom-chart/values.yaml
"""

RETURN = r"""
findings:
  description: Every finding (source, rule_id, severity, message, fix, path, line).
  returned: success
  type: list
  elements: dict
tts_report:
  description: The findings as runner.py's summary shows them (lint_findings, lint_finding_count).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import lint, run_step


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "values_file": {"type": "path", "required": True},
            "key": {"type": "str", "default": "tts"},
            "desired": {"type": "dict"},
            "fail_on": {"type": "str", "choices": ["error", "warning"], "default": "error"},
        },
        supports_check_mode=True,
    )
    p = module.params
    run_step(module, lambda: lint(p["values_file"], p["key"], p["desired"], p["fail_on"]))


if __name__ == "__main__":
    main()
