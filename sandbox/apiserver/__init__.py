"""The sandbox's Kubernetes API server: HTTP front end, storage and API semantics."""
