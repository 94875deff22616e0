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
      - Path of the kubeconfig file. When omitted or empty, the environment variable C(KUBECONFIG) (one
        path or a C(:)-separated list, merged as kubectl merges it), else C(~/.kube/config), else, when
        none exists, the service account of the pod the module runs in (in-cluster config).
      - helm gets the same choice (C(--kubeconfig) only when this is given; otherwise helm reads
        C(KUBECONFIG) from the inherited environment itself).
      - Token files, exec credential plugins and client certificates of the kubeconfig are used as kubectl
        uses them. TLS is always verified with the kubeconfig's CA (C(insecure-skip-tls-verify) is not
        honoured); the file is never written and its contents are never logged.
      - A missing file, an unknown context, an unreachable server, a TLS failure or a 401/403 answer fails
        with a message that starts with C(CONFIG:) and names the file, the context and the server.
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

    RELEASE = r"""
options:
  release:
    description: Name of the Helm release.
    type: str
    required: true
"""
