#!/usr/bin/python
"""Module local_llm.tts.values_restore."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: values_restore
short_description: Put a values file back from its backup
description:
  - Atomically replaces I(path) with the contents of I(backup_file) (default C(<path>.orig), the
    backup local_llm.tts.values_block makes before its first write), keeping I(path)'s file mode.
  - Changed only when the contents differ. The backup itself is kept.
options:
  path:
    description: The values file to restore.
    type: path
    required: true
  backup_file:
    description: The backup to restore from; defaults to C(<path>.orig).
    type: path
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Restore the values file from its backup
  local_llm.tts.values_restore:
    path: HelmChart/custom-chart/values.yaml
"""

RETURN = r"""
path:
  description: The restored file.
  returned: always
  type: str
backup_file:
  description: The backup it was restored from.
  returned: always
  type: str
diff:
  description: The whole file before and after.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import ValuesError, restore_file


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "backup_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = restore_file(p["path"], p["backup_file"], dry_run=module.check_mode)
    except ValuesError as exc:
        module.fail_json(msg=str(exc), path=p["path"])
    except OSError as exc:
        module.fail_json(msg=f"{p['path']}: {exc.strerror or exc}", path=p["path"])
    module.exit_json(
        changed=result["changed"],
        path=result["path"],
        backup_file=result["backup_file"],
        diff={"before": result["before"], "after": result["after"]},
    )


if __name__ == "__main__":
    main()
