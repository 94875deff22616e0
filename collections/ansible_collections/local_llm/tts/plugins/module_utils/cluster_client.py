"""The one way the collection's modules reach a cluster: source selection, the client, its errors.

Which configuration (``open_cluster``), in this order, as kubectl and helm choose it:

1. the ``kubeconfig`` option when given (not None, not "");
2. else ``$KUBECONFIG``, a path or a list of paths separated by ``:`` (merged as kubectl merges them:
   the first file to define a context, cluster, user or the current-context wins; missing and empty
   entries are skipped);
3. else ``~/.kube/config``;
4. else, when none of these exists, the pod's service account (in-cluster config).

Loading, merging, ``tokenFile``, exec credential plugins and the in-cluster files are the official
``kubernetes`` client's (``KubeConfigMerger``, ``load_kube_config``, ``load_incluster_config``); this module
only decides which source, checks what the client would report badly (a missing file, an unknown context)
and maps failures to messages. TLS is always verified: ``insecure-skip-tls-verify`` is not honoured. The
kubeconfig files are never written (no credential persistence) and their contents never reported.

Errors. ``ClusterConfigError`` (its message starts with ``CONFIG:``, which the runner turns into exit 2)
for what a person must fix: a missing kubeconfig, an unknown context, an unreachable server, a TLS
failure, 401/403. Every message names the source (file), the context and the server, never the
credentials. ``ClusterUnavailable`` (not ``CONFIG:``) when 5xx/429 answers or dropped connections outlast
the bounded back-off of ``ClusterClient.request`` (``call_with_retry``, also used by the rollout watch).
"""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

DEFAULT_KUBECONFIG = "~/.kube/config"
PATH_SEPARATOR = ":"  # $KUBECONFIG's separator (";" on Windows, which the collection does not support)
RETRY_SECONDS = 15.0  # default back-off budget of one request on 5xx/429/dropped connections
BACKOFF_FIRST, BACKOFF_MAX = 0.1, 2.0
RETRIABLE_STATUSES = (429, 500, 502, 503, 504)
IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
IN_CLUSTER = "in-cluster service account"


class ClusterConfigError(Exception):
    """A configuration problem (path, context, credentials, address, TLS); ``str()`` starts with CONFIG:."""

    def __init__(self, message: str) -> None:
        super().__init__(f"CONFIG: {message}")


class ClusterUnavailable(Exception):
    """The API server kept answering 5xx/429 or dropping connections past the retry budget."""


# -- which configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where the configuration comes from: ``kind`` is option, KUBECONFIG, default or in-cluster."""

    kind: str
    files: tuple[str, ...] = ()  # the existing kubeconfig files, in merge order
    given: str = ""  # the path or list as given (option, $KUBECONFIG, the default)

    @property
    def label(self) -> str:
        if self.kind == "in-cluster":
            return IN_CLUSTER
        if self.kind == "KUBECONFIG":
            return f"kubeconfig $KUBECONFIG={self.given}"
        return f"kubeconfig {self.given}"


def _split(paths: str) -> list[str]:
    return [os.path.expanduser(p) for p in paths.split(PATH_SEPARATOR) if p]


def select_source(kubeconfig: str | None = None, environ: Mapping[str, str] | None = None) -> Source:
    """The configuration ``open_cluster`` uses; raises ClusterConfigError when a given one is missing."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        paths = _split(kubeconfig)
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing or not paths:
            shown = ", ".join(missing) or repr(kubeconfig)
            raise ClusterConfigError(f"kubeconfig {shown} not found (file missing)")
        return Source("option", tuple(paths), kubeconfig)
    listed = environ.get("KUBECONFIG", "")
    if listed:
        files = tuple(p for p in _split(listed) if os.path.isfile(p))
        if not files:
            raise ClusterConfigError(
                f"kubeconfig $KUBECONFIG={listed} not found (no file of that list exists)"
            )
        return Source("KUBECONFIG", files, listed)
    default = os.path.expanduser(DEFAULT_KUBECONFIG)
    if os.path.isfile(default):
        return Source("default", (default,), default)
    if environ.get("KUBERNETES_SERVICE_HOST") and os.path.isfile(IN_CLUSTER_TOKEN):
        return Source("in-cluster")
    raise ClusterConfigError(
        f"no kubeconfig: none given, $KUBECONFIG unset, {default} not found, and not in a pod "
        "(no KUBERNETES_SERVICE_HOST and service-account token)"
    )


# -- opening -----------------------------------------------------------------------------------------
def _has_content(path: str) -> bool:
    import yaml

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) is not None


def _loader(source: Source, context: str | None):
    """The official client's loader for the merged files, with the context checked first."""
    import yaml
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader, KubeConfigMerger

    try:
        files = [path for path in source.files if _has_content(path)]  # kubectl skips empty files too
        if not files:
            raise ClusterConfigError(f"{source.label} is empty (no clusters, contexts or users)")
        merged = KubeConfigMerger(PATH_SEPARATOR.join(files))
    except yaml.YAMLError as exc:
        raise ClusterConfigError(f"{source.label} is not valid YAML: {str(exc)[:200]}") from None
    except (ConfigException, OSError) as exc:
        raise ClusterConfigError(f"cannot read {source.label}: {exc}") from None
    config = merged.config.value if merged.config is not None else {}
    # kubectl (and helm) take the first file's current-context; the official merger keeps the last one.
    firsts = [(merged.config_files.get(path) or {}).get("current-context") for path in merged.paths]
    if any(firsts):
        config["current-context"] = next(name for name in firsts if name)
    entries = [getattr(c, "value", c) for c in config.get("contexts") or []]  # ConfigNodes once merged
    contexts = [c.get("name") for c in entries if isinstance(c, Mapping)]
    chosen = context or config.get("current-context") or ""
    listed = ", ".join(str(c) for c in contexts) or "none"
    if not chosen:
        raise ClusterConfigError(
            f"no context given and {source.label} has no current-context (contexts: {listed})"
        )
    if chosen not in contexts:
        raise ClusterConfigError(f"context {chosen!r} not found in {source.label} (contexts: {listed})")
    try:
        loader = KubeConfigLoader(config_dict=merged.config, active_context=chosen, config_base_path=None)
    except ConfigException as exc:
        raise ClusterConfigError(f"cannot use context {chosen!r} of {source.label}: {exc}") from None
    return loader, chosen


def open_cluster(
    kubeconfig: str | None = None, context: str | None = None, environ: Mapping[str, str] | None = None
) -> ClusterClient:
    """The cluster client for the module options ``kubeconfig`` and ``context`` ("" = not given)."""
    from kubernetes import client
    from kubernetes.config.config_exception import ConfigException

    source = select_source(kubeconfig, environ)
    configuration = type.__call__(client.Configuration)  # a fresh one, not the process-wide default
    if source.kind == "in-cluster":
        from kubernetes.config.incluster_config import load_incluster_config

        if context:
            raise ClusterConfigError(f"context {context!r} given, but no kubeconfig exists ({IN_CLUSTER})")
        try:
            load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            raise ClusterConfigError(f"cannot use the {IN_CLUSTER}: {exc}") from None
        chosen = "in-cluster"
    else:
        loader, chosen = _loader(source, context)
        try:
            loader.load_and_set(configuration)
        except (ConfigException, OSError, ValueError) as exc:
            raise ClusterConfigError(f"cannot use context {chosen!r} of {source.label}: {exc}") from None
    skip_asked = configuration.verify_ssl is False
    configuration.verify_ssl = True  # always: a kubeconfig's insecure-skip-tls-verify is not honoured
    configuration.retries = False  # urllib3 raises at once; ClusterClient.request retries what is worth it
    return ClusterClient(client.ApiClient(configuration), configuration.host, chosen, source, skip_asked)


# -- retries (the request helper's and the rollout watch's) ----------------------------------------------
def retriable(exc: BaseException) -> bool:
    """5xx/429, a dropped or reset connection, a read time-out; never a ClusterConfigError."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error

    if isinstance(exc, ClusterConfigError):
        return False
    if isinstance(exc, ClusterUnavailable):
        return True
    if isinstance(exc, ApiException):
        return exc.status in RETRIABLE_STATUSES or (exc.status == 0 and not _is_tls(exc))
    return isinstance(exc, Urllib3Error | OSError) and not _is_tls(exc)


def call_with_retry(call: Callable[[], object], deadline: float, stop: threading.Event | None = None):
    """``call()``, retried with doubling back-off on ``retriable`` errors until ``deadline``."""
    delay = BACKOFF_FIRST
    while True:
        try:
            return call()
        except Exception as exc:
            if not retriable(exc) or time.monotonic() + delay > deadline or (stop and stop.is_set()):
                raise
        if stop is not None:
            stop.wait(delay)
        else:
            time.sleep(delay)
        delay = min(delay * 2, BACKOFF_MAX)


def _is_tls(exc: BaseException) -> bool:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import MaxRetryError, SSLError

    if isinstance(exc, MaxRetryError):
        exc = exc.reason or exc
    if isinstance(exc, ApiException):  # the client wraps urllib3's SSLError as status 0
        return exc.status == 0 and str(exc.reason or "").startswith("SSLError")
    return isinstance(exc, SSLError | ssl.SSLError)


def _unreachable(exc: BaseException) -> bool:
    """Nothing answered at the address: refused, no such host, connect time-out."""
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

    if isinstance(exc, MaxRetryError):
        exc = exc.reason or exc
    return isinstance(exc, NewConnectionError | ConnectTimeoutError | ConnectionRefusedError)


def _short(reason: object) -> str:
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "connection timed out"
    if "Name or service not known" in text or "nodename nor servname" in text or "resolve" in text.lower():
        return "host name not found"
    return text.split(": ", 1)[-1][:200]


def _status_message(data: bytes | None) -> str:
    try:
        return str(json.loads(data or b"{}").get("message") or "")[:200]
    except (ValueError, AttributeError):
        return ""


# -- the client --------------------------------------------------------------------------------------
@dataclass
class ClusterClient:
    """Raw JSON requests through the official ApiClient (auth and TLS from the configuration).

    The generated CoreV1Api/AppsV1Api methods are avoided on purpose: pydantic builds their validators on
    first use, about two seconds per process, which an Ansible module (one process per task) pays each run.
    """

    api: object  # kubernetes.client.ApiClient
    server: str
    context: str
    source: Source
    skip_tls_asked: bool = False
    reached: bool = field(default=False)  # the server answered once: a refused connection is then an outage

    @property
    def where(self) -> str:
        """``the API server at URL (context C of kubeconfig F)``: every message's subject."""
        of = self.source.label
        if self.context != "in-cluster":
            of = f"context {self.context!r} of {of}"
        return f"the API server at {self.server} ({of})"

    def error_for(self, exc: BaseException, method: str = "GET", path: str = "") -> Exception:
        """The ClusterConfigError or ClusterUnavailable that ``exc`` (raised by a request) means."""
        if _is_tls(exc):
            reason = exc.reason if hasattr(exc, "reason") and exc.reason else exc
            note = ""
            if self.skip_tls_asked:
                note = " (the kubeconfig's insecure-skip-tls-verify is not honoured)"
            return ClusterConfigError(f"TLS verification of {self.where} failed{note}: {_short(reason)}")
        if _unreachable(exc):
            reason = getattr(exc, "reason", None) or exc
            return ClusterConfigError(f"cannot reach {self.where}: {_short(reason)}")
        return ClusterUnavailable(f"{method} {path} on {self.where}: {type(exc).__name__}: {_short(exc)}")

    def _attempt(self, method: str, path: str, query, body, headers, timeout, retry: bool):
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        method, url, headers, serialized, _ = self.api.param_serialize(
            method, path, query_params=params, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self.api.call_api(
                method, url, header_params=headers, body=serialized, _request_timeout=timeout
            ).response
        except ClusterConfigError:
            raise
        except Exception as exc:
            from kubernetes.client.exceptions import ApiException
            from urllib3.exceptions import HTTPError as Urllib3Error

            if not isinstance(exc, ApiException | Urllib3Error | OSError):
                raise
            if _unreachable(exc) and self.reached:  # it answered before: an outage, worth waiting for
                message = f"{method} {path}: {self.where} stopped answering: {_short(exc)}"
                raise ClusterUnavailable(message) from exc
            raise self.error_for(exc, method, path) from exc
        self.reached = True
        if response.status in (401, 403):
            data = response.read()
            response.release_conn()
            what = "rejected the credentials" if response.status == 401 else "refused access"
            detail = _status_message(data) or response.reason
            raise ClusterConfigError(f"{self.where} {what} ({response.status} {detail}) for {method} {path}")
        if retry and response.status in RETRIABLE_STATUSES:
            data = response.read()
            response.release_conn()
            raise ClusterUnavailable(
                f"{method} {path}: {self.where} answered {response.status} "
                f"{_status_message(data) or response.reason}"
            )
        return response

    def request(
        self,
        method: str,
        path: str,
        query: dict | None = None,
        body: object = None,
        headers: dict | None = None,
        timeout: float = 30,
        retry_seconds: float = RETRY_SECONDS,
    ):
        """The raw urllib3 response of any status but 401/403 (ClusterConfigError). 5xx/429 and dropped
        connections are retried with back-off for ``retry_seconds`` (0: not retried, 5xx returned), then
        ClusterUnavailable."""
        headers = {"Accept": "application/json, */*", **(headers or {})}
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        retry = retry_seconds > 0
        deadline = time.monotonic() + retry_seconds
        return call_with_retry(
            lambda: self._attempt(method, path, query, body, dict(headers), timeout, retry),
            deadline if retry else 0,
        )

    def get(
        self, path: str, query: dict | None = None, timeout: float = 30, retry_seconds: float = RETRY_SECONDS
    ):
        """The raw response of a GET; other non-2xx answers raise ApiException like the generated methods."""
        from kubernetes.client.exceptions import ApiException

        response = self.request("GET", path, query, timeout=timeout, retry_seconds=retry_seconds)
        if not 200 <= response.status < 300:
            data = response.read()
            response.release_conn()
            raise ApiException(status=response.status, reason=response.reason, body=data)
        return response

    def get_json(self, path: str, query: dict | None = None, timeout: float = 30, **kwargs) -> dict:
        return json.loads(self.get(path, query, timeout, **kwargs).data)

    def get_text(self, path: str, query: dict | None = None, timeout: float = 30, **kwargs) -> str:
        return self.get(path, query, timeout, **kwargs).data.decode("utf-8", errors="replace")

    def lister(self, path: str, **selectors: str) -> Callable[..., object]:
        """A list function shaped like the generated ones, for ``watch.Watch().stream``. One attempt per call:
        the watch path (rollout.Feed) retries with its own deadline."""

        def list_objects(
            watch: bool = False,
            resource_version: str | None = None,
            timeout_seconds: int | None = None,
            _request_timeout: float = 30,
            _preload_content: bool = False,
            allow_watch_bookmarks: bool | None = None,
        ):
            query = {
                **selectors,
                "watch": "true" if watch else None,
                "resourceVersion": resource_version,
                "timeoutSeconds": timeout_seconds,
                "allowWatchBookmarks": "true" if allow_watch_bookmarks else None,
            }
            response = self.get(path, query, _request_timeout, retry_seconds=0)
            return response if watch else json.loads(response.data)

        return list_objects

    def version(self, timeout: float = 10) -> str:
        """The API server's gitVersion, once the credentials are known to work. ``/version`` is public on
        most clusters, so ``/api`` (discovery, for authenticated users only) is asked too: a bad token is
        a 401 here, in the preflight, not after ``helm upgrade``. ClusterConfigError when the server cannot
        be reached, refuses the credentials or is no API server; ClusterUnavailable when it answers 5xx for
        ``timeout`` seconds."""
        from kubernetes.client.exceptions import ApiException

        try:
            body = self.get_json("/version", timeout=timeout, retry_seconds=timeout)
            self.get_json("/api", timeout=timeout, retry_seconds=timeout)
        except ApiException as exc:
            message = f"{self.where} answered {exc.status} {exc.reason} (is it a Kubernetes API server?)"
            raise ClusterConfigError(message) from None
        return str(body.get("gitVersion") or "")
