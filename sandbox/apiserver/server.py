"""The HTTPS front end: authentication, routing, content negotiation, watch streams.

One thread per connection (HTTP/1.1 keep-alive), as Go clients hold a few long-lived
connections; watches are chunked JSON streams, one event per line.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import random
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import yaml

from . import discovery, errors, nodeproxy, openapi, protobuf, streaming, tables
from .errors import ApiError
from .registry import PATCH_APPLY, PATCH_TYPES, Registry, WriteOptions
from .resources import Resource, lookup
from .store import DELETED, WindowExpired

log = logging.getLogger("sandbox.apiserver")

MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request body limit (3 MiB)
DRAIN_LIMIT = 16 * 1024 * 1024  # read and discard bodies up to this to answer 413 cleanly
PUBLIC_PATHS = ("/healthz", "/readyz", "/livez", "/version")
BOOKMARK_INTERVAL = 60.0
DEFAULT_WATCH_TIMEOUT = 1800


def _json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        self.handler = handler
        self.method = handler.command
        parts = urlsplit(handler.path)
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        self.headers = handler.headers
        self.body = body

    def q(self, key: str, default: str = "") -> str:
        return self.query.get(key, default)

    def flag(self, key: str) -> bool:
        return self.query.get(key, "").lower() in ("true", "1")

    @property
    def accept(self) -> str:
        return self.headers.get("Accept") or "application/json"

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()

    def field_manager_default(self) -> str:
        agent = self.headers.get("User-Agent") or ""
        return agent.split("/", 1)[0].strip() or "unknown"


class Route:
    """A parsed resource path: /api/v1/namespaces/ns/pods/name/status -> pieces."""

    def __init__(
        self,
        res: Resource,
        namespace: str | None,
        name: str | None,
        subresource: str,
        rest: list[str],
        legacy_watch: bool,
    ) -> None:
        self.res = res
        self.namespace = namespace
        self.name = name
        self.subresource = subresource
        self.rest = rest
        self.legacy_watch = legacy_watch


def parse_route(path: str) -> Route | None:
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest:
        return None
    res = lookup(group, version, rest[0])
    if res is None or (namespace is not None and not res.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if sub and sub not in res.subresources:
        return None
    return Route(res, namespace, name, sub, rest[3:], legacy_watch)


class ApiServer:
    def __init__(self, registry: Registry, token: str, server_address: str) -> None:
        self.registry = registry
        self.store = registry.store
        self._token = token.encode()
        self.server_address = server_address
        self.stopping = threading.Event()
        self.kubelet = None  # set when the sandbox runs nodes: logs are read from it
        self.faults = None  # sandbox.faults.Faults, when faults may be injected
        self._fault_rng = random.Random()

    # -- entry -------------------------------------------------------------------------------
    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        try:
            body = self._read_body(handler)
            req = Request(handler, body)
            if req.path not in PUBLIC_PATHS and not self._authorized(handler):
                raise ApiError(401, "Unauthorized")
            self._inject_faults(req)
            self._dispatch(req)
        except ApiError as exc:
            self._send(handler, exc.code, _json(exc.status()))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            handler.close_connection = True
        except Exception:  # a bug must not take the server down; the client sees a 500
            log.exception("internal error on %s %s", handler.command, urlsplit(handler.path).path)
            exc = ApiError(500, "Internal error occurred: the sandbox API server hit an unexpected error")
            try:
                self._send(handler, 500, _json(exc.status()))
            except OSError:
                handler.close_connection = True
        finally:
            log.debug(
                "%s %s [%s] %.1fms",
                handler.command,
                handler.path,  # path and query only: credentials travel in headers, never logged
                handler.headers.get("Content-Type", ""),
                (time.monotonic() - started) * 1000,
            )

    def _inject_faults(self, req: Request) -> None:
        """The ``api-latency`` and ``api-errors`` faults; health endpoints stay truthful."""
        if self.faults is None or req.path in PUBLIC_PATHS:
            return
        active = self.faults.active()
        latency = active.get("api-latency")
        if latency:
            time.sleep(float(latency.get("ms", 0)) / 1000)
        failing = active.get("api-errors")
        if failing and self._fault_rng.random() < float(failing.get("rate", 0)):
            code = int(failing.get("code", 500))
            raise ApiError(code, "the sandbox injected this error (fault api-errors)")

    def _watch_deadline(self, timeout: float) -> float:
        """When a watch ends: its timeout, or sooner under the ``drop-watches`` fault."""
        dropping = self.faults.get("drop-watches") if self.faults is not None else None
        if dropping:
            timeout = min(timeout, float(dropping.get("after_seconds", 2.0)))
        return time.monotonic() + max(timeout, 0)

    def _authorized(self, handler: BaseHTTPRequestHandler) -> bool:
        header = handler.headers.get("Authorization") or ""
        scheme, _, credential = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(credential.strip().encode(), self._token)

    @staticmethod
    def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
        if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
            handler.close_connection = True
            raise ApiError(
                411, "chunked request bodies are not supported; send Content-Length", "LengthRequired"
            )
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.close_connection = True
            raise errors.bad_request("invalid Content-Length header") from None
        if length < 0:
            handler.close_connection = True
            raise errors.bad_request("invalid Content-Length header")
        if length > MAX_BODY:
            if length <= DRAIN_LIMIT:
                remaining = length
                while remaining:
                    chunk = handler.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            else:
                handler.close_connection = True
            raise ApiError(413, "Request entity too large: limit is 3145728", "RequestEntityTooLarge")
        return handler.rfile.read(length) if length else b""

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        warnings: list[str] | None = None,
    ) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or []:
            handler.send_header("Warning", '299 - "' + warning.replace('"', '\\"') + '"')
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    # -- routing -----------------------------------------------------------------------------
    def _dispatch(self, req: Request) -> None:
        h, path = req.handler, req.path.rstrip("/") or "/"
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send(h, 200, b"ok", "text/plain; charset=utf-8")
        if path == "/version":
            return self._send(h, 200, _json(discovery.version_info()))
        if req.method == "GET":
            doc = self._discovery(req, path)
            if doc is not None:
                body, content_type = doc
                return self._send(h, 200, body, content_type)
        route = parse_route(path)
        if route is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        return self._resource(req, route)

    def _discovery(self, req: Request, path: str) -> tuple[bytes, str] | None:
        if path in ("/api", "/apis"):
            if discovery.wants_aggregated(req.accept):
                return _json(discovery.aggregated(core=path == "/api")), discovery.AGGREGATED_V2
            doc = (
                discovery.api_versions(self.server_address) if path == "/api" else discovery.api_group_list()
            )
            return _json(doc), "application/json"
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.api_resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.api_resource_list(parts[1], parts[2])
        elif parts[0] == "openapi" and parts[1:] == ["v3"]:
            doc = openapi.v3_index()
        elif parts[0] == "openapi" and len(parts) >= 4 and parts[1] == "v3":
            group, version = (
                ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4] if len(parts) > 4 else "")
            )
            doc = openapi.v3_document(group, version)
        else:
            return None
        if doc is None:
            raise ApiError(404, "the server could not find the requested resource", details={})
        return _json(doc), "application/json"

    def _resource(self, req: Request, route: Route) -> None:
        method, name, sub = req.method, route.name, route.subresource
        if route.legacy_watch or (method == "GET" and name is None and req.flag("watch")):
            if name is not None:
                req.query["fieldSelector"] = f"metadata.name={name}"
            return self._watch(req, route)
        if sub in ("log", "proxy", "binding", "eviction", "ephemeralcontainers", "finalize"):
            return self._special_subresource(req, route)
        if method in ("GET", "HEAD"):
            if name is None:
                return self._list(req, route)
            obj = self.registry.get(route.res, route.namespace, name)
            if sub == "scale":
                obj = self.registry.to_scale(route.res, obj)
            return self._send_object(req, route, 200, obj)
        if method == "POST":
            if name is not None:
                raise ApiError(
                    405,
                    f"the server does not allow this method on the requested resource "
                    f"(post {route.res.plural} {name})",
                )
            opts = self._write_options(req)
            obj = self.registry.create(route.res, route.namespace, self._decode(req), opts)
            return self._send_object(req, route, 201, obj, opts.warnings)
        if name is None and method != "DELETE":
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if method == "PUT":
            opts = self._write_options(req)
            if sub == "scale":
                obj = self.registry.update_scale(route.res, route.namespace, name, self._decode(req), opts)
            else:
                obj = self.registry.update(route.res, route.namespace, name, self._decode(req), opts, sub)
            return self._send_object(req, route, 200, obj, opts.warnings)
        if method == "PATCH":
            return self._patch(req, route)
        if method == "DELETE":
            return self._delete(req, route)
        raise ApiError(405, f"the server does not allow this method on the requested resource ({method})")

    def _special_subresource(self, req: Request, route: Route) -> None:
        if route.subresource == "finalize" and req.method == "PUT":
            obj = self._decode(req)
            opts = self._write_options(req)
            current = self.registry.get(route.res, None, route.name)
            current.setdefault("spec", {})["finalizers"] = (obj.get("spec") or {}).get("finalizers") or []
            return self._send_object(
                req, route, 200, self.registry.update(route.res, None, route.name, current, opts)
            )
        if route.subresource == "log" and req.method == "GET" and route.res.kind == "Pod":
            return nodeproxy.pod_log(self, req, route)
        if route.subresource == "proxy" and route.res.kind == "Pod":
            return nodeproxy.pod_proxy(self, req, route)
        if route.subresource == "proxy" and route.res.kind == "Service":
            return nodeproxy.service_proxy(self, req, route)
        raise ApiError(404, "the server could not find the requested resource", details={})

    # -- decode / encode ---------------------------------------------------------------------
    def _decode(self, req: Request) -> dict:
        if not req.body:
            raise errors.bad_request("the body of the request was empty")
        if req.content_type == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(req.body)
            except protobuf.ProtobufError as exc:
                raise ApiError(415, f"unsupported protobuf body: {exc}", "UnsupportedMediaType") from None
        try:
            if req.content_type in ("application/yaml", "application/apply-patch+yaml"):
                obj = yaml.safe_load(req.body.decode("utf-8"))
            else:
                obj = json.loads(req.body)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(
                f"the body of the request could not be decoded: {_first_line(exc)}"
            ) from None
        return obj

    def _write_options(self, req: Request) -> WriteOptions:
        dry_run = req.q("dryRun")
        if dry_run not in ("", "All"):
            raise errors.bad_request(f'Invalid dry run value: "{dry_run}"; supported values: All')
        validation = req.q("fieldValidation") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(
                f'invalid fieldValidation directive: "{validation}"; must be one of Ignore, Warn, Strict'
            )
        manager = req.q("fieldManager")
        if len(manager) > 128:
            raise ApiError(422, "fieldManager: Too long: must have at most 128 bytes", "Invalid")
        return WriteOptions(
            manager or ("" if req.content_type == PATCH_APPLY else req.field_manager_default()),
            dry_run == "All",
            validation,
            req.flag("force"),
        )

    def _send_object(
        self, req: Request, route: Route, code: int, obj: dict, warnings: list[str] | None = None
    ) -> None:
        accept = req.accept
        if "as=Table" in accept:
            body = tables.to_table(
                route.res,
                [obj],
                {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                req.q("includeObject") or "Metadata",
            )
        elif "as=PartialObjectMetadata" in accept and "as=PartialObjectMetadataList" not in accept:
            body = _partial(obj)
        else:
            body = obj
        self._send(req.handler, code, _json(body), _content_type(accept, "as=Table" in accept), warnings)

    # -- verbs -------------------------------------------------------------------------------
    def _list(self, req: Request, route: Route) -> None:
        items, rv = self.registry.list(
            route.res, route.namespace, req.q("labelSelector"), req.q("fieldSelector")
        )
        meta: dict = {"resourceVersion": str(rv)}
        limit_text, token = req.q("limit"), req.q("continue")
        if token:
            start = _decode_continue(token)
            items = [o for o in items if _sort_key(o) > start]
        if limit_text:
            try:
                limit = int(limit_text)
            except ValueError:
                raise errors.bad_request(f"invalid limit: {limit_text!r}") from None
            if 0 < limit < len(items):
                meta["continue"] = _encode_continue(_sort_key(items[limit - 1]), rv)
                meta["remainingItemCount"] = len(items) - limit
                items = items[:limit]
        accept = req.accept
        if "as=Table" in accept:
            body = tables.to_table(route.res, items, meta, req.q("includeObject") or "Metadata")
        elif "as=PartialObjectMetadataList" in accept:
            body = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": meta,
                "items": [_partial(o) for o in items],
            }
        else:
            body = {
                "kind": route.res.list_kind,
                "apiVersion": route.res.api_version,
                "metadata": meta,
                "items": items,
            }
        self._send(req.handler, 200, _json(body), _content_type(accept, "as=Table" in accept))

    def _patch(self, req: Request, route: Route) -> None:
        if req.content_type not in PATCH_TYPES:
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types "
                f"include: {', '.join(PATCH_TYPES)}",
            )
        opts = self._write_options(req)
        body = self._decode(req)
        if route.subresource == "scale":
            obj = self.registry.patch_scale(
                route.res, route.namespace, route.name, req.content_type, body, opts
            )
            return self._send_object(req, route, 200, obj, opts.warnings)
        obj, created = self.registry.patch(
            route.res, route.namespace, route.name, req.content_type, body, opts, route.subresource
        )
        self._send_object(req, route, 201 if created else 200, obj, opts.warnings)

    def _delete(self, req: Request, route: Route) -> None:
        options = {}
        if req.body and req.content_type == protobuf.CONTENT_TYPE:
            options = self._decode(req)
        elif req.body:
            try:
                options = json.loads(req.body)
            except ValueError as exc:
                raise errors.bad_request(f"invalid DeleteOptions: {exc}") from None
            if not isinstance(options, dict):
                raise errors.bad_request("invalid DeleteOptions: must be an object")
        propagation = req.q("propagationPolicy") or options.get("propagationPolicy")
        if options.get("orphanDependents") is True or req.q("orphanDependents") == "true":
            propagation = propagation or "Orphan"
        if propagation not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(
                422,
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{propagation}"',
                "Invalid",
            )
        dry_run = req.q("dryRun") == "All" or options.get("dryRun") == ["All"]
        if route.name is None:
            items, _rv = self.registry.list(
                route.res, route.namespace, req.q("labelSelector"), req.q("fieldSelector")
            )
            deleted = []
            for obj in items:
                meta = obj["metadata"]
                try:
                    deleted.append(
                        self.registry.delete(
                            route.res, meta.get("namespace"), meta["name"], propagation, None, dry_run
                        )[0]
                    )
                except ApiError as exc:
                    if exc.code != 404:
                        raise
            body = {
                "kind": route.res.list_kind,
                "apiVersion": route.res.api_version,
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": deleted,
            }
            return self._send(req.handler, 200, _json(body))
        grace = req.q("gracePeriodSeconds") or options.get("gracePeriodSeconds")
        try:
            grace = int(grace) if grace not in (None, "") else None
        except (TypeError, ValueError):
            raise errors.bad_request(f"invalid gracePeriodSeconds: {grace!r}") from None
        obj, gone = self.registry.delete(
            route.res, route.namespace, route.name, propagation, options.get("preconditions"), dry_run, grace
        )
        if gone and route.res.kind != "Pod":
            details = {"name": route.name, "kind": route.res.plural, "uid": obj["metadata"].get("uid")}
            if route.res.group:
                details["group"] = route.res.group
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            }
            return self._send(req.handler, 200, _json(status))
        self._send_object(req, route, 200, obj)

    # -- watch -------------------------------------------------------------------------------
    def _watch(self, req: Request, route: Route) -> None:
        from .selectors import (
            SelectorError,
            fields_match,
            labels_match,
            parse_field_selector,
            parse_label_selector,
        )

        try:
            label_reqs = parse_label_selector(req.q("labelSelector"))
            field_reqs = parse_field_selector(req.q("fieldSelector"), route.res.kind)
        except SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        try:
            timeout = float(req.q("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise errors.bad_request("invalid timeoutSeconds") from None
        rv_text = req.q("resourceVersion")
        send_initial = req.flag("sendInitialEvents") or rv_text in ("", "0")
        if req.q("sendInitialEvents") == "false":
            send_initial = False
        bookmarks = req.flag("allowWatchBookmarks")
        res, ns = route.res, route.namespace if route.res.namespaced else None
        as_table = "as=Table" in req.accept
        include = req.q("includeObject") or "Metadata"
        resource_key = res.group_resource

        def matches(obj: dict) -> bool:
            return (
                (ns is None or obj["metadata"].get("namespace") == ns)
                and labels_match(label_reqs, obj["metadata"].get("labels"))
                and fields_match(field_reqs, obj)
            )

        first_table = [True]

        def encode(event_type: str, obj: dict) -> bytes:
            if as_table and event_type != "BOOKMARK":
                table = tables.to_table(
                    res, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")}, include
                )
                if not first_table[0]:
                    table["columnDefinitions"] = []
                first_table[0] = False
                obj = table
            elif "as=PartialObjectMetadata" in req.accept and event_type != "BOOKMARK":
                obj = _partial(obj)
            return _json({"type": event_type, "object": obj}) + b"\n"

        stream = streaming.ChunkedStream(req.handler, _content_type(req.accept, as_table))
        write = stream.write

        def bookmark(rv: int, initial_end: bool = False) -> bytes:
            meta: dict = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return encode("BOOKMARK", {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta})

        try:
            if send_initial:
                items, rv = self.store.list(resource_key, ns)
                for obj in items:
                    if matches(obj):
                        write(encode("ADDED", obj))
                if req.flag("sendInitialEvents") and bookmarks:
                    write(bookmark(rv, initial_end=True))
            else:
                try:
                    rv = int(rv_text)
                except ValueError:
                    raise errors.bad_request(f"invalid resourceVersion: {rv_text!r}") from None
            deadline = self._watch_deadline(timeout)
            last_bookmark = time.monotonic()
            while not self.stopping.is_set() and time.monotonic() < deadline:
                try:
                    events = self.store.events_after(rv)
                except WindowExpired:
                    status = ApiError(
                        410, f"too old resource version: {rv} ({self.store.resource_version})", "Expired"
                    ).status()
                    write(_json({"type": "ERROR", "object": status}) + b"\n")
                    break
                for ev in events:
                    rv = ev.rv
                    if ev.resource != resource_key:
                        continue
                    obj = json.loads(ev.body)
                    now_matches = matches(obj)
                    if ev.type == DELETED:
                        if now_matches:
                            write(encode(DELETED, obj))
                        continue
                    was = ev.prev is not None and matches(json.loads(ev.prev))
                    if now_matches:
                        write(
                            encode("MODIFIED" if was else "ADDED", obj)
                            if ev.type != "ADDED"
                            else encode("ADDED", obj)
                        )
                    elif was:
                        write(encode(DELETED, obj))
                if bookmarks and time.monotonic() - last_bookmark > BOOKMARK_INTERVAL:
                    write(bookmark(self.store.resource_version))
                    last_bookmark = time.monotonic()
                self.store.wait(rv, min(1.0, max(deadline - time.monotonic(), 0)))
            stream.close()
        except ApiError as exc:
            write(_json({"type": "ERROR", "object": exc.status()}) + b"\n")
            stream.close()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass


def _partial(obj: dict) -> dict:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def _content_type(accept: str, table: bool) -> str:
    if table:
        return "application/json;as=Table;v=v1;g=meta.k8s.io"
    return "application/json"


def _sort_key(obj: dict) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _encode_continue(start: str, rv: int) -> str:
    return base64.urlsafe_b64encode(_json({"v": "meta.k8s.io/v1", "rv": rv, "start": start})).decode()


def _decode_continue(token: str) -> str:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(data["start"])
    except (ValueError, KeyError, TypeError):
        raise errors.bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"
        ) from None


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sandbox-apiserver"
    sys_version = ""
    timeout = 600  # idle keep-alive connections are closed after this

    def _serve(self) -> None:
        self.server.api.handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def __getattr__(self, name: str):
        # Any other method still gets a Kubernetes Status answer (405), not the base class's HTML.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
            self.close_connection = True


class HttpsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: ApiServer, context: ssl.SSLContext) -> None:
        super().__init__(address, _Handler)
        self.api = api
        self._context = context

    def get_request(self):
        sock, addr = self.socket.accept()
        # Headers and body go out as separate small writes: without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every response.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake happens in the connection's own thread, not in the accept loop.
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)
