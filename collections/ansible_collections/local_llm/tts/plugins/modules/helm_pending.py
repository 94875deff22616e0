#!/usr/bin/python
"""local_llm.tts.helm_pending: report, and on request recover, a release an interrupted helm left pending."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: helm_pending
short_description: Report or recover a Helm release stuck in pending-install/upgrade/rollback
description:
  - A helm killed in the middle of an install, upgrade or rollback leaves the release's newest revision in
    C(pending-install), C(pending-upgrade) or C(pending-rollback); every later C(helm upgrade) then fails
    with "another operation (install/upgrade/rollback) is in progress".
  - Without O(recover) the module only reports the pending revision (status, revision, rollback target).
  - With O(recover=true) it runs C(helm rollback RELEASE N) to the newest deployed or superseded revision
    before the pending one, which creates a new deployed revision and lets upgrades run again.
  - Fails when a pending release cannot be recovered by a rollback (an interrupted first install, or
    C(uninstalling)), with what to do instead.
options:
  release:
    description: Release name.
    type: str
    required: true
  recover:
    description: Roll a pending release back to its last deployed revision.
    type: bool
    default: false
notes:
  - Supports check mode; with O(recover) it reports the rollback it would run and runs none.
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Report a release left pending by an interrupted helm
  local_llm.tts.helm_pending:
    release: local-llm
    kubeconfig: "{{ kubeconfig }}"
  register: pending

- name: Recover it (--recover-pending)
  local_llm.tts.helm_pending:
    release: local-llm
    kubeconfig: "{{ kubeconfig }}"
    recover: true
  when: pending.pending and recover_pending
"""

RETURN = r"""
pending:
  description: The pending revision (status, revision, rollback_to), or null when the release is not pending.
  returned: always
  type: dict
recovered:
  description: Whether a rollback ran.
  returned: always
  type: bool
target_revision:
  description: The revision rolled back to (or that would be, in check mode).
  returned: when recover is true and the release was pending
  type: int
revision_after:
  description: The release revision after recovery (the new deployed one).
  returned: when recover is true and the release was pending
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import (
    HelmCli,
    HelmError,
    pending_status,
    recover_pending,
)
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, HELM, NAMESPACE


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            "release": {"type": "str", "required": True},
            "recover": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    helm = HelmCli.from_params(params)
    try:
        if not params["recover"]:
            module.exit_json(changed=False, pending=pending_status(helm.history()), recovered=False)
        module.exit_json(**recover_pending(helm, module.check_mode))
    except (HelmError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
