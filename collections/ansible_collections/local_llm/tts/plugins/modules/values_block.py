#!/usr/bin/python
"""Module local_llm.tts.values_block."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: values_block
short_description: Set one top-level block of a Helm values file, leaving every other byte alone
description:
  - Replaces the top-level I(key) block of the YAML file I(path) with I(block). Only the lines
    of that block change; comments, blank lines, quoting, key order and indentation elsewhere
    stay byte-for-byte identical. Comments inside the block are kept where they still apply.
  - Multi-line strings (the bootstrap) are written as C(|) literal block scalars; strings that
    were quoted keep their quotes.
  - When the block already holds the same data, nothing is written (the file's mtime is untouched).
  - The write is atomic (temporary file in the same directory, fsync, rename) and keeps the file
    mode. Afterwards the file is re-read, loaded with PyYAML (the plan's check) and compared
    outside the block; on any mismatch the original is restored and the task fails.
  - A missing I(key) is appended at the end of the file after one blank line.
options:
  path:
    description: The values file.
    type: path
    required: true
  key:
    description: The top-level key whose block is set.
    type: str
    default: tts
  block:
    description: The desired block (a mapping), in the desired key order.
    type: dict
    required: true
  backup:
    description:
      - Before the first write, copy the original to C(<path>.orig) unless that file already
        exists (so repeated runs keep the very first original).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Set the tts block of the values file
  local_llm.tts.values_block:
    path: HelmChart/custom-chart/values.yaml
    key: tts
    block: "{{ tts_desired }}"
  register: tts_values_result
"""

RETURN = r"""
changed:
  description: Whether the block's data differed (and, outside check mode, was written).
  returned: always
  type: bool
path:
  description: The values file.
  returned: always
  type: str
backup_file:
  description: The C(<path>.orig) backup when I(backup) is true and it exists (or was just made); else null.
  returned: always
  type: str
diff:
  description: The whole file before and after (shown by Ansible in diff mode).
  returned: always
  type: dict
  contains:
    before:
      description: File text before.
      type: str
    after:
      description: File text after.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import ValuesError, set_block_in_file


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "key": {"type": "str", "default": "tts"},
            "block": {"type": "dict", "required": True},
            "backup": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = set_block_in_file(
            p["path"], p["key"], p["block"], backup=p["backup"], dry_run=module.check_mode
        )
    except ValuesError as exc:
        module.fail_json(msg=str(exc), path=p["path"])
    except OSError as exc:
        module.fail_json(msg=f"{p['path']}: {exc.strerror or exc}", path=p["path"])
    module.exit_json(
        changed=result["changed"],
        path=result["path"],
        backup_file=result["backup_file"],
        diff={
            "before": result["before"],
            "after": result["after"],
            "before_header": f"{p['path']} (before)",
            "after_header": f"{p['path']} (after)",
        },
    )


if __name__ == "__main__":
    main()
