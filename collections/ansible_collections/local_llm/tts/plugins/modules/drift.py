#!/usr/bin/python
"""local_llm.tts.drift: report drift of the TTS service in four layers; never changes anything."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: drift
short_description: Report drift of the TTS service (values file, release, live objects, health)
description:
  - Read-only. Compares four layers and returns each difference as a JSON-patch style entry
    (C(layer), C(op) add/remove/replace, C(path) a JSON pointer, C(expected), C(actual), C(target),
    C(detail)). C(op) reads as the patch that turns C(expected) into C(actual).
  - C(values_file) layer, the values file's O(key) block against O(desired) (skipped when O(desired) is
    not given).
  - C(release) layer, the release's user-supplied values (C(helm get values -o json)) against the values
    file as the fix leaves it (its O(key) block set to O(desired)), so an edited block is reported once.
  - C(live) layer, the live Deployment and Service against the release manifest (C(helm get manifest)), in
    the container image, command, args, env, envFrom, resources, probes, the pod affinity and
    C(spec.replicas) of the Deployment, the ports of the Service. Only fields the manifest sets are
    compared (the API server's defaults are not drift); resource quantities compare by value.
  - C(health) layer (with O(check_health)), the rollout is complete, every pod of the Deployment is Ready,
    C(GET /health) answers 200; each read once, nothing is waited for.
  - Values of env vars and values keys whose names look secret (password, token, secret, api key,
    credential) are replaced by C(<redacted>). The kubeconfig is passed by path and never read into
    the result.
options:
  release:
    description: Helm release name.
    type: str
    default: local-llm
  values_file:
    description: The chart's values file.
    type: path
    required: true
  key:
    description: Top-level key of the TTS block in the values file.
    type: str
    default: tts
  desired:
    description: The desired block (C(tts_desired)); without it the values_file layer is skipped.
    type: dict
  deployment:
    description: Name of the TTS Deployment (default C(<release>-tts)).
    type: str
  service:
    description: Name of the TTS Service (default C(<release>-tts)).
    type: str
  port:
    description: Service port of the TTS server.
    type: int
    default: 8006
  health_url:
    description: Direct URL of C(/health); default through the API server's service proxy.
    type: str
  ignore:
    description:
      - Ignore rules like Flux's C(driftDetection.ignore); each C(paths) (JSON pointers, prefix match)
        and an optional C(target) (C(kind) and/or C(name)). A rule with a target applies only to entries
        of that object (live and health layers); without one, to every layer.
    type: list
    elements: dict
    default: []
  ignore_replicas:
    description: Ignore C(/spec/replicas) of the Deployment (scaling by hand or by an autoscaler).
    type: bool
    default: true
  check_health:
    description: Also check the health layer.
    type: bool
    default: true
  chart_path:
    description:
      - When given, the preflight runs first - helm (3.13+), the cluster, this chart and the values file,
        the release and a revision left pending by an interrupted helm (C(CONFIG:) failures).
    type: path
  recover_pending:
    description: With I(chart_path), roll a pending release back to its last deployed revision first.
    type: bool
    default: false
  lease_holder:
    description:
      - When given, the release's Lease (M(local_llm.tts.lease)) is taken for this holder before reading
        and given back afterwards unless I(keep_lease). Held by another run, the module fails with a
        C(LOCKED) message.
    type: str
  lease_seconds:
    description: Seconds the Lease stays valid without renewal.
    type: int
    default: 300
  keep_lease:
    description: Keep the Lease after detecting drift (a correction follows; it gives the Lease back).
    type: bool
    default: false
  cluster_name:
    description: Name of the cluster on the Lease and in messages (the inventory host).
    type: str
    default: ""
  correcting:
    description: A correction follows; the report names the drift found as C(drift_corrected).
    type: bool
    default: false
  require_none:
    description: Fail when any drift is found (the check after a correction).
    type: bool
    default: false
notes:
  - Supports check mode; the module never changes what the runbooks manage and always returns
    C(changed=false) (the Lease is coordination bookkeeping; with I(recover_pending) a pending release is
    rolled back).
extends_documentation_fragment:
  - local_llm.tts.cluster
  - local_llm.tts.cluster.namespace
  - local_llm.tts.cluster.helm
author:
  - tts-runbooks maintainers
"""

EXAMPLES = r"""
- name: Report drift of the TTS service
  local_llm.tts.drift:
    kubeconfig: "{{ kubeconfig }}"
    release: "{{ helm_release }}"
    values_file: "{{ values_file }}"
    desired: "{{ tts_desired }}"
    ignore:
      - paths: [/spec/template/spec/containers/0/resources]
        target: {kind: Deployment, name: local-llm-tts}
  register: drift

- name: Fail in warn mode when anything drifted
  ansible.builtin.fail:
    msg: "{{ drift.counts }}"
  when: drift.drifted
"""

RETURN = r"""
drift:
  description: The differences, in layer order (values_file, release, live, health).
  returned: always
  type: list
  elements: dict
  sample:
    - layer: live
      op: replace
      path: /spec/template/spec/containers/0/image
      expected: vllm/vllm-openai:v0.14.0
      actual: vllm/vllm-openai:v0.15.0
      target: {kind: Deployment, name: local-llm-tts}
      detail: null
counts:
  description: Number of entries per layer.
  returned: always
  type: dict
  sample: {values_file: 0, release: 0, live: 1, health: 0}
drifted:
  description: Whether any entry was found.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.local_llm.tts.plugins.module_utils.drift import DriftRuleError
from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import HelmCli, HelmError
from ansible_collections.local_llm.tts.plugins.module_utils.module_args import CONNECTION, HELM, NAMESPACE
from ansible_collections.local_llm.tts.plugins.module_utils.runbook import StepFailed, drift, run_step
from ansible_collections.local_llm.tts.plugins.module_utils.values_block import ValuesError

try:  # the gatherer needs the official client; its absence is reported, not a traceback
    from ansible_collections.local_llm.tts.plugins.module_utils.cluster_client import (
        ClusterUnavailable,
        open_cluster,
    )
    from kubernetes.client.exceptions import ApiException

    HAS_KUBERNETES = True
except ImportError:
    HAS_KUBERNETES = False


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            **CONNECTION,
            **NAMESPACE,
            **HELM,
            "release": {"type": "str", "default": "local-llm"},
            "values_file": {"type": "path", "required": True},
            "key": {"type": "str", "default": "tts"},
            "desired": {"type": "dict"},
            "deployment": {"type": "str"},
            "service": {"type": "str"},
            "port": {"type": "int", "default": 8006},
            "health_url": {"type": "str"},
            "ignore": {"type": "list", "elements": "dict", "default": []},
            "ignore_replicas": {"type": "bool", "default": True},
            "check_health": {"type": "bool", "default": True},
            "chart_path": {"type": "path"},
            "recover_pending": {"type": "bool", "default": False},
            "lease_holder": {"type": "str"},
            "lease_seconds": {"type": "int", "default": 300},
            "keep_lease": {"type": "bool", "default": False},
            "cluster_name": {"type": "str", "default": ""},
            "correcting": {"type": "bool", "default": False},
            "require_none": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"))
    p = module.params
    lease = None
    if p["lease_holder"]:
        lease = {
            "holder": p["lease_holder"],
            "lease_seconds": p["lease_seconds"],
            "cluster_name": p["cluster_name"],
            "operation": "drift",
        }

    def step() -> dict:
        try:
            return drift(
                HelmCli.from_params(p),
                lambda: open_cluster(p["kubeconfig"], p["context"]),
                p,
                chart_path=p["chart_path"],
                lease=lease,
                keep_lease=p["keep_lease"],
                correcting=p["correcting"],
                require_none=p["require_none"],
                recover=p["recover_pending"],
                check_mode=module.check_mode,
            )
        except (ValuesError, HelmError, ClusterUnavailable, DriftRuleError) as exc:
            raise StepFailed(f"drift: {exc}") from None
        except ApiException as exc:  # status and reason only: the body may echo the request
            raise StepFailed(f"drift: the API server answered {exc.status} {exc.reason}") from None

    run_step(module, step)


if __name__ == "__main__":
    main()
