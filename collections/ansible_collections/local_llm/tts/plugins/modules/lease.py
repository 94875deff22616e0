#!/usr/bin/python
"""local_llm.tts.lease: take or give back the per-release Lease that keeps runbook runs from overlapping."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lease
short_description: Take or give back the per-release coordination.k8s.io/v1 Lease of the runbooks
description:
  - One Lease per release, C(tts-runbooks-<release>) in the release namespace, so that two runs (a cron
    job and an operator, two schedulers, two CronJob pods) never act on the same release at once.
  - C(state=acquired) creates the Lease, renews it when O(holder) already holds it, or takes it over when
    its holder stopped renewing (C(renewTime + leaseDurationSeconds) has passed, for example a killed run).
    Writes carry the resourceVersion they were decided on, so of two runs acquiring together exactly one
    wins. When another holder's Lease is still valid the module fails, with C(locked=true) and a message
    that starts with LOCKED and names the operation, the cluster, the holder, since when it holds the
    Lease and when the Lease expires.
  - C(state=released) deletes the Lease, only if O(holder) holds it (a Lease taken over by another run
    after ours expired is left alone).
  - Reports C(changed=false) in both states, because the Lease is coordination bookkeeping, not a
    change to what the runbooks manage, so a rerun that changes nothing counts no change.
options:
  release:
    description: Helm release name; the Lease is C(tts-runbooks-<release>).
    type: str
    required: true
  namespace:
    description: Namespace of the release (and of the Lease).
  state:
    description: C(acquired) take or renew the Lease, C(released) give it back.
    type: str
    choices: [acquired, released]
    default: acquired
  holder:
    description:
      - Holder identity of this run. The runner passes C(<hostname>-<pid of the runner>).
      - Default C(<hostname>-<parent pid>), which is only stable within one task; pass it explicitly.
    type: str
  lease_seconds:
    description: Seconds the Lease stays valid without renewal; another run may take it over after that.
    type: int
    default: 300
  operation:
    description: What this run does (drift, fix, rollback), recorded on the Lease and shown to a loser.
    type: str
    default: drift
  cluster_name:
    description: Name of the cluster in messages (the inventory host); default the kube-context name.
    type: str
    default: ""
notes:
  - Supports check mode; it reads and decides (and fails when locked) but writes nothing.
  - Expiry is judged with this machine's clock against the Lease's renewTime.
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Take the release's Lease
  local_llm.tts.lease:
    release: local-llm
    kubeconfig: "{{ kubeconfig }}"
    holder: "{{ tts_lease_holder }}"
    cluster_name: "{{ inventory_hostname }}"

- name: Give it back
  local_llm.tts.lease:
    release: local-llm
    state: released
    kubeconfig: "{{ kubeconfig }}"
    holder: "{{ tts_lease_holder }}"
"""

RETURN = r"""
lease:
  description: Name of the Lease.
  returned: always
  type: str
holder:
  description: Holder after the module ran (ours when acquired; the other holder, or null, when released).
  returned: always
  type: str
acquired:
  description: Whether this run holds the Lease now.
  returned: state is acquired
  type: bool
created:
  description: The Lease did not exist and was created.
  returned: state is acquired
  type: bool
renewed:
  description: The Lease was already ours and was renewed.
  returned: state is acquired
  type: bool
taken_over:
  description: The Lease of another holder had expired and was taken over.
  returned: state is acquired
  type: bool
previous_holder:
  description: The expired holder whose Lease was taken over.
  returned: state is acquired
  type: str
expires_at:
  description: When our Lease expires unless renewed (RFC 3339).
  returned: state is acquired
  type: str
released:
  description: Whether the Lease was ours and was deleted.
  returned: state is released
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterConfigError,
    ClusterUnavailable,
    open_cluster,
)
from ansible_collections.local_llm.tts.plugins.module_utils.lease import (
    DEFAULT_LEASE_SECONDS,
    LeaseApi,
    LeaseError,
    LeaseLocked,
    acquire_lease,
    default_holder,
    release_lease,
)
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, NAMESPACE


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            "release": {"type": "str", "required": True},
            "state": {"type": "str", "choices": ["acquired", "released"], "default": "acquired"},
            "holder": {"type": "str"},
            "lease_seconds": {"type": "int", "default": DEFAULT_LEASE_SECONDS},
            "operation": {"type": "str", "default": "drift"},
            "cluster_name": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params["lease_seconds"] <= 0:
        module.fail_json(msg=f"lease_seconds must be positive, got {params['lease_seconds']}")
    holder = params["holder"] or default_holder()
    try:
        cluster = open_cluster(params["kubeconfig"], params["context"])
    except ClusterConfigError as exc:
        module.fail_json(msg=str(exc))
    api = LeaseApi(cluster)
    try:
        if params["state"] == "released":
            result = release_lease(
                api, params["namespace"], params["release"], holder, check_mode=module.check_mode
            )
        else:
            result = acquire_lease(
                api,
                params["namespace"],
                params["release"],
                holder,
                lease_seconds=params["lease_seconds"],
                cluster=params["cluster_name"] or cluster.context,
                operation=params["operation"],
                check_mode=module.check_mode,
            )
    except LeaseLocked as exc:
        module.fail_json(msg=str(exc), locked=True, acquired=False)
    except ClusterConfigError as exc:  # 401/403 (e.g. no RBAC on leases), TLS
        module.fail_json(msg=str(exc))
    except (LeaseError, ClusterUnavailable, OSError) as exc:
        module.fail_json(msg=f"lease {params['namespace']}/tts-runbooks-{params['release']}: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
