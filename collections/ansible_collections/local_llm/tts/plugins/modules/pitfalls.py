#!/usr/bin/python
"""Module local_llm.tts.pitfalls."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pitfalls
short_description: Check a tts values block against the known pitfalls
description:
  - Runs the rules of BRIEF.md's facts (pre-release image, transformers 5, unpinned vllm-omni,
    missing --omni, --no-deps fallbacks, torch not held, flash-attn as a hard dependency,
    port mismatch) on a desired I(block), or on the I(key) block of the values file I(path)
    (then findings carry line numbers).
  - Never changes anything. Fails, listing rule ids, messages and fixes, when there are
    findings at or above I(fail_on).
options:
  block:
    description: The block to check (plain data). Mutually exclusive with I(path).
    type: dict
  path:
    description: A values file whose I(key) block is checked.
    type: path
  key:
    description: Top-level key of the block in I(path); also the prefix of each finding's path.
    type: str
    default: tts
  fail_on:
    description: Fail when a finding of this severity or worse exists; C(never) only reports.
    type: str
    choices: [error, warning, never]
    default: error
attributes:
  check_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Refuse a desired block with known errors
  local_llm.tts.pitfalls:
    block: "{{ tts_desired }}"

- name: Report everything in the values file, with line numbers
  local_llm.tts.pitfalls:
    path: HelmChart/custom-chart/values.yaml
    fail_on: never
  register: lint
"""

RETURN = r"""
findings:
  description: One entry per finding, errors first.
  returned: always
  type: list
  elements: dict
  contains:
    rule_id:
      description: Stable rule id, e.g. missing-omni.
      type: str
    severity:
      description: error or warning.
      type: str
    message:
      description: What is wrong, with the offending text.
      type: str
    fix:
      description: How to fix it.
      type: str
    path:
      description: Where in the values, e.g. tts.image.tag.
      type: str
    line:
      description: 1-based line in I(path); null for I(block).
      type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.pitfalls import (
    SEVERITY_RANK,
    check_block,
    check_values_text,
)
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import ValuesError, read_text


def _report(findings: list) -> str:
    lines = [f"{len(findings)} known pitfall(s) in the tts block:"]
    for finding in findings:
        where = f"{finding.path}" + (f" (line {finding.line})" if finding.line else "")
        lines.append(
            f"- {finding.rule_id} [{finding.severity}] at {where}: {finding.message} Fix: {finding.fix}"
        )
    return "\n".join(lines)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "block": {"type": "dict"},
            "path": {"type": "path"},
            "key": {"type": "str", "default": "tts"},
            "fail_on": {"type": "str", "choices": ["error", "warning", "never"], "default": "error"},
        },
        mutually_exclusive=[("block", "path")],
        required_one_of=[("block", "path")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["block"] is not None:
            findings = check_block(p["block"], key=p["key"])
        else:
            findings = check_values_text(read_text(p["path"]), key=p["key"])
    except ValuesError as exc:
        module.fail_json(msg=str(exc), findings=[])
    as_dicts = [finding.as_dict() for finding in findings]
    threshold = SEVERITY_RANK.get(p["fail_on"])
    blocking = [f for f in findings if threshold is not None and SEVERITY_RANK[f.severity] >= threshold]
    if blocking:
        module.fail_json(msg=_report(blocking), findings=as_dicts, changed=False)
    module.exit_json(changed=False, findings=as_dicts)


if __name__ == "__main__":
    main()
