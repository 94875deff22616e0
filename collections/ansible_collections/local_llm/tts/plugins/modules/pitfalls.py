#!/usr/bin/python
"""Module local_llm.tts.pitfalls."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pitfalls
short_description: Check a tts values block against the known pitfalls
description:
  - Runs the rules of module_utils/pitfalls.py, each backed by facts of docs/facts.yml
    (pre-release image, transformers 5, unpinned vllm-omni source, git in an image without git,
    floating installs, missing --omni, engine flags the Qwen3-TTS stage ignores, --no-deps
    fallbacks, flash-attn source builds and hard dependencies, bf16 on pre-Ampere GPUs, port
    mismatch) on a desired I(block), or on the I(key) block of the values file I(path) (then
    findings carry line numbers).
  - When I(kubeconfig) or I(context) is given (even empty, which means the client's default), it
    also lists the cluster's nodes and takes the C(nvidia.com/gpu.product) labels of the nodes the
    block's nodeSelector and required node affinity select, for the bf16-pre-ampere rule. Without
    them (C(lint)) no cluster is contacted. A node list that cannot be read is a warning, not a failure.
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
  gpu_products:
    description:
      - GPU products (C(nvidia.com/gpu.product) label values) of the nodes the block may run on.
      - When given, the cluster is not read for them.
    type: list
    elements: str
extends_documentation_fragment:
  - local_llm.tts.cluster
attributes:
  check_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Refuse a desired block with known errors, reading the GPU nodes it selects
  local_llm.tts.pitfalls:
    block: "{{ tts_desired }}"
    kubeconfig: "{{ kubeconfig }}"
    context: "{{ kube_context | default(omit, true) }}"

- name: Report everything in the values file, with line numbers (no cluster)
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
gpu_products:
  description: The GPU products the bf16-pre-ampere rule looked at (given, or read from the nodes).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import open_cluster
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION
from ansible_collections.local_llm.tts.plugins.module_utils.pitfalls import (
    SEVERITY_RANK,
    check_block,
    check_values_text,
    failure_message,
)
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import gpu_products_for
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import (
    ValuesError,
    load_document,
    read_text,
    to_plain,
)


def _block_of(params: dict, text: str | None) -> dict:
    if params["block"] is not None:
        return params["block"]
    root = load_document(text or "")
    node = root.get(params["key"]) if isinstance(root, dict) else None
    return to_plain(node) if isinstance(node, dict) else {}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "block": {"type": "dict"},
            "path": {"type": "path"},
            "key": {"type": "str", "default": "tts"},
            "fail_on": {"type": "str", "choices": ["error", "warning", "never"], "default": "error"},
            "gpu_products": {"type": "list", "elements": "str"},
            **CONNECTION,
        },
        mutually_exclusive=[("block", "path")],
        required_one_of=[("block", "path")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        text = read_text(p["path"]) if p["path"] is not None else None
        products = p["gpu_products"]
        if products is None and (p["kubeconfig"] is not None or p["context"] is not None):
            products = gpu_products_for(
                _block_of(p, text), lambda: open_cluster(p["kubeconfig"], p["context"]), module.warn
            )
        if text is None:
            findings = check_block(p["block"], key=p["key"], gpu_products=products)
        else:
            findings = check_values_text(text, key=p["key"], gpu_products=products)
    except ValuesError as exc:
        module.fail_json(msg=str(exc), findings=[], gpu_products=[])
    as_dicts = [finding.as_dict() for finding in findings]
    threshold = SEVERITY_RANK.get(p["fail_on"])
    blocking = [f for f in findings if threshold is not None and SEVERITY_RANK[f.severity] >= threshold]
    if blocking:
        module.fail_json(
            msg=failure_message(blocking), findings=as_dicts, gpu_products=products or [], changed=False
        )
    module.exit_json(changed=False, findings=as_dicts, gpu_products=products or [])


if __name__ == "__main__":
    main()
