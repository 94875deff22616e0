#!/usr/bin/python
"""Module local_llm.tts.pod_log."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pod_log
short_description: Read a pod's log through the collection's cluster client
description:
  - One GET of C(/api/v1/namespaces/NS/pods/NAME/log), with the kubeconfig, context, credentials, TLS
    and error messages of the other modules (see I(kubeconfig)); used instead of
    C(kubernetes.core.k8s_log) so that a kubeconfig given through C(KUBECONFIG), a list of files or an
    exec credential plugin is read the same way by every task.
  - Read-only; never changes anything. 5xx answers are retried briefly with back-off.
options:
  name:
    description: Pod name.
    type: str
    required: true
  container:
    description: Container name; the pod's only container when omitted.
    type: str
  previous:
    description: The log of the container's previous (crashed) attempt.
    type: bool
    default: false
  tail_lines:
    description: Only the last this many lines; the whole log when omitted.
    type: int
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
attributes:
  check_mode:
    support: full
requirements:
  - kubernetes (the official Python client)
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Read the TTS pod's log
  local_llm.tts.pod_log:
    kubeconfig: "{{ kubeconfig }}"
    context: "{{ kube_context | default(omit, true) }}"
    namespace: default
    name: local-llm-tts-5d9c7b8f6-abcde
  register: tts_pod_log
"""

RETURN = r"""
log:
  description: The log text.
  returned: success
  type: str
log_lines:
  description: The log split into lines.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, NAMESPACE

try:
    from kubernetes.client.exceptions import ApiException

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False

from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
    ClusterConfigError,
    ClusterUnavailable,
    open_cluster,
)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            "name": {"type": "str", "required": True},
            "container": {"type": "str"},
            "previous": {"type": "bool", "default": False},
            "tail_lines": {"type": "int"},
        },
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    p = module.params
    query = {
        "container": p["container"] or None,
        "previous": "true" if p["previous"] else None,
        "tailLines": p["tail_lines"],
    }
    path = f"/api/v1/namespaces/{p['namespace']}/pods/{p['name']}/log"
    try:
        log = open_cluster(p["kubeconfig"], p["context"]).get_text(path, query, timeout=60)
    except ClusterConfigError as exc:
        module.fail_json(msg=str(exc), changed=False)
    except ApiException as exc:  # status and reason only: the body may echo the request
        module.fail_json(msg=f"cannot read the log of pod {p['name']}: {exc.status} {exc.reason}")
    except ClusterUnavailable as exc:
        module.fail_json(msg=f"cannot read the log of pod {p['name']}: {exc}")
    module.exit_json(changed=False, log=log, log_lines=log.splitlines())


if __name__ == "__main__":
    main()
