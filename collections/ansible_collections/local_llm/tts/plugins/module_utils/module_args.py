"""Argument specs shared by the modules, matching doc_fragments/cluster.py option for option."""

from __future__ import annotations

CONNECTION = {
    "kubeconfig": {"type": "path"},
    "context": {"type": "str"},
}
NAMESPACE = {"namespace": {"type": "str", "default": "default"}}
HELM = {"binary": {"type": "path", "default": "helm"}}
RELEASE = {"release": {"type": "str", "required": True}}
