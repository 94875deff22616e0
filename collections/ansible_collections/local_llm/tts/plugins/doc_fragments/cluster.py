"""Options every module of the collection that talks to a cluster shares, documented once.

The argument specs that go with them are in module_utils/module_args.py.
"""

from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches the cluster: the same choices for the official client and for helm.
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of the kubeconfig file; the default one (C(KUBECONFIG), else C(~/.kube/config)) when omitted
        or empty.
      - TLS is verified with the kubeconfig's CA as it stands; the file's contents are never logged.
    type: path
  context:
    description: Kube-context inside the kubeconfig; its current context when omitted or empty.
    type: str
"""

    NAMESPACE = r"""
options:
  namespace:
    description: Namespace of the release and of its TTS objects.
    type: str
    default: default
"""

    HELM = r"""
options:
  binary:
    description: Path or name of the helm executable (Helm 3 or Helm 4).
    type: path
    default: helm
"""
