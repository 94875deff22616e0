#!/usr/bin/python
"""Module local_llm.tts.cluster_check."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cluster_check
short_description: Check that a cluster is reachable with a kubeconfig and context
description:
  - Loads the kubeconfig (or the in-cluster service account; see I(kubeconfig)), selects the context
    and asks the API server for its version.
  - Failures name the context and the API server URL, never the credentials, and start with
    C(CONFIG:) so that the runner reports them as configuration errors (exit 2).
  - Read-only; never changes anything.
options:
  timeout:
    description: Seconds to wait for the API server.
    type: int
    default: 10
extends_documentation_fragment:
  - local_llm.tts.cluster
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Check the cluster is reachable
  local_llm.tts.cluster_check:
    kubeconfig: /etc/kube/prod.yaml
    context: gpu-prod
"""

RETURN = r"""
server:
  description: API server URL of the selected context.
  returned: success
  type: str
context:
  description: The context used.
  returned: success
  type: str
version:
  description: The API server's gitVersion.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterConfigError,
    ClusterUnavailable,
    open_cluster,
)
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            "timeout": {"type": "int", "default": 10},
        },
        supports_check_mode=True,
    )
    try:
        cluster = open_cluster(module.params["kubeconfig"], module.params["context"])
        version = cluster.version(module.params["timeout"])
    except ClusterConfigError as exc:
        module.fail_json(msg=str(exc))
    except ClusterUnavailable as exc:  # 5xx for the whole timeout: an outage, not a configuration error
        module.fail_json(msg=f"the cluster is not serving: {exc}")
    module.exit_json(changed=False, server=cluster.server, context=cluster.context, version=version)


if __name__ == "__main__":
    main()
