"""The sandbox: an embedded Kubernetes-compatible cluster for demos, CI and fault injection.

Layout (one behaviour, one place):
- ``sandbox.apiserver``: HTTPS API server, storage, patching, discovery, OpenAPI.
- ``sandbox.cli``: ``python -m sandbox up|status|down``.
"""
