#!/usr/bin/python
"""local_llm.tts.helm_release: upgrade, roll back or describe an existing Helm release."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: helm_release
short_description: Upgrade, roll back or describe an existing Helm release (Helm 3 and Helm 4)
description:
  - Thin wrapper around the helm CLI for the local-llm fix job. It never installs a release, only
    upgrades or rolls back one that exists.
  - Works with Helm 3 (3.13+) and Helm 4. C(kubernetes.core.helm) 6.2.0 is not used because after an
    upgrade it runs C(helm list --all), a flag Helm 4 removed
    (it fails with "unknown flag --all"). This
    module only uses C(helm get metadata/values -o json), C(helm history -o json), C(helm upgrade)
    and C(helm rollback), which behave the same in both majors.
  - C(state=present) compares the release's user-supplied values (C(helm get values)) with the values
    file and its chart name/version with the chart's C(Chart.yaml); when equal and the release is
    C(deployed) nothing runs, so a rerun creates no new revision. Otherwise it runs
    C(helm upgrade RELEASE CHART -f VALUES) (no C(--install), no C(--wait); watch the rollout with
    M(local_llm.tts.rollout)).
  - C(state=rolled_back) runs C(helm rollback RELEASE REVISION); the default revision is the newest
    deployed or superseded revision before the current one. Each rollback creates a new revision.
  - C(state=info) only reads.
  - Helm errors are reported with the first lines of helm's stderr. The kubeconfig is passed to helm by
    path (C(--kubeconfig), only when I(kubeconfig) is given; otherwise helm reads C(KUBECONFIG) from the
    environment); its contents are never read or logged.
options:
  release:
    description: Release name.
    type: str
    required: true
  state:
    description: C(present) upgrade when needed, C(rolled_back) roll back, C(info) read only.
    type: str
    choices: [present, rolled_back, info]
    default: present
  chart_path:
    description: Chart directory (needed for C(state=present)).
    type: path
  values_file:
    description: Values file passed with C(-f) (needed for C(state=present)).
    type: path
  revision:
    description: Revision to roll back to (C(state=rolled_back)); default the previous served one.
    type: int
  force:
    description:
      - With C(state=present), upgrade even when the values and chart are unchanged, to take back
        fields changed on the live objects by hand (Helm 4 adds --force-conflicts).
    type: bool
    default: false
notes:
  - Supports check mode; it reports whether an upgrade or rollback would happen and runs none.
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Upgrade local-llm to the fixed values (no-op when already applied)
  local_llm.tts.helm_release:
    release: local-llm
    chart_path: ./HelmChart/custom-chart
    values_file: ./HelmChart/custom-chart/values.yaml
    kubeconfig: "{{ kubeconfig }}"
  register: upgrade

- name: Roll back to the revision that served before this run
  local_llm.tts.helm_release:
    release: local-llm
    state: rolled_back
    revision: "{{ upgrade.last_deployed_revision }}"
    kubeconfig: "{{ kubeconfig }}"
  when: rollout_failed

- name: Read the release history
  local_llm.tts.helm_release:
    release: local-llm
    state: info
"""

RETURN = r"""
revision_before:
  description: Release revision when the module started.
  returned: state is present or rolled_back
  type: int
revision_after:
  description: Release revision when the module ended (equal to revision_before when nothing ran).
  returned: state is present or rolled_back
  type: int
status:
  description: Helm status of the current revision (deployed, failed, ...).
  returned: always
  type: str
chart_version:
  description: Chart version of the current revision.
  returned: state is present or info
  type: str
last_deployed_revision:
  description: Newest deployed or superseded revision before this run (the rollback target).
  returned: state is present or info
  type: int
reasons:
  description: Why an upgrade is (or would be) needed; empty when nothing differs.
  returned: state is present
  type: list
  elements: str
target_revision:
  description: The revision rolled back to.
  returned: state is rolled_back
  type: int
revision:
  description: Current revision.
  returned: state is info
  type: int
history:
  description: C(helm history -o json) entries (revision, status, chart, app_version, description).
  returned: state is info
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import (
    HelmCli,
    HelmError,
    ensure_present,
    release_info,
    roll_back,
)
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, HELM, NAMESPACE


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            "release": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["present", "rolled_back", "info"], "default": "present"},
            "chart_path": {"type": "path"},
            "values_file": {"type": "path"},
            "revision": {"type": "int"},
            "force": {"type": "bool", "default": False},
        },
        required_if=[("state", "present", ("chart_path", "values_file"))],
        supports_check_mode=True,
    )
    params = module.params
    helm = HelmCli.from_params(params)
    try:
        if params["state"] == "info":
            module.exit_json(changed=False, **release_info(helm))
        if params["state"] == "rolled_back":
            module.exit_json(**roll_back(helm, params["revision"], module.check_mode))
        module.exit_json(
            **ensure_present(
                helm, params["chart_path"], params["values_file"], module.check_mode, params["force"]
            )
        )
    except (HelmError, OSError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
