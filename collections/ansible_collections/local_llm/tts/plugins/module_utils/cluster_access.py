"""Opening a cluster from a kubeconfig, with errors a person can act on.

Every failure names the context and the API server URL (never the credentials), so that
an operator sees at once which cluster and which setting is wrong.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import urllib3
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException


class ClusterAccessError(Exception):
    """A configuration problem: wrong path, context, credentials or address."""


@dataclass
class Cluster:
    api: client.ApiClient
    server: str
    context: str


def _contexts(kubeconfig: str | None) -> tuple[list[str], str]:
    contexts, active = config.list_kube_config_contexts(config_file=kubeconfig or None)
    return [c["name"] for c in contexts], (active or {}).get("name", "")


def open_cluster(kubeconfig: str | None, context: str | None) -> Cluster:
    where = kubeconfig or "the default kubeconfig"
    try:
        names, active = _contexts(kubeconfig)
    except (ConfigException, OSError) as exc:
        raise ClusterAccessError(f"cannot load kubeconfig {where}: {exc}") from None
    chosen = context or active
    if chosen not in names:
        raise ClusterAccessError(
            f"context {chosen!r} not found in {where} (contexts: {', '.join(names) or 'none'})"
        )
    try:
        api = config.new_client_from_config(config_file=kubeconfig or None, context=chosen)
    except (ConfigException, OSError) as exc:
        raise ClusterAccessError(f"cannot use context {chosen!r} of {where}: {exc}") from None
    return Cluster(api=api, server=api.configuration.host, context=chosen)


def server_version(cluster: Cluster, timeout: float = 10) -> str:
    """The API server's gitVersion; raises ClusterAccessError naming what went wrong."""
    cluster.api.configuration.retries = 1
    version_api = client.VersionApi(cluster.api)
    label = f"the API server at {cluster.server} (context {cluster.context!r})"
    try:
        return version_api.get_code(_request_timeout=timeout).git_version
    except client.ApiException as exc:
        if exc.status == 401:
            raise ClusterAccessError(f"{label} rejected the credentials (401 Unauthorized)") from None
        if exc.status == 403:
            raise ClusterAccessError(f"{label} refused access (403 Forbidden)") from None
        raise ClusterAccessError(f"{label} answered {exc.status} {exc.reason}") from None
    except urllib3.exceptions.MaxRetryError as exc:
        reason = exc.reason
        if isinstance(reason, urllib3.exceptions.SSLError | ssl.SSLError):
            raise ClusterAccessError(f"TLS verification of {label} failed: {reason}") from None
        raise ClusterAccessError(f"cannot reach {label}: {_short(reason)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ClusterAccessError(f"cannot reach {label}: {_short(exc)}") from None


def _short(reason: object) -> str:
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "connection timed out"
    return text.split(": ", 1)[-1][:200]
