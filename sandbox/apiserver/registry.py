"""API semantics between the HTTP layer and the store: what a kube-apiserver's REST storage
does for each verb (defaulting, validation, generation, managedFields, preconditions,
subresources, deletion and propagation).

Controllers inside the sandbox call this too, so their writes follow the same rules as
any client's.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
import json
import random
import threading
import uuid

from . import apply, defaults, errors, patch, schema, selectors, validation
from .errors import ApiError
from .resources import Resource, by_kind
from .store import AlreadyInStore, NotFoundInStore, Store, VersionConflict

# Kinds whose spec changes bump metadata.generation (their strategies set it).
GENERATION_KINDS = {
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "Pod",
    "ReplicationController",
    "NetworkPolicy",
    "Ingress",
}
# Fields of metadata that only the server sets.
SYSTEM_META = ("uid", "creationTimestamp", "resourceVersion", "generation", "selfLink")

PODS_KEY = "pods"
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")

PATCH_JSON = "application/json-patch+json"
PATCH_MERGE = "application/merge-patch+json"
PATCH_STRATEGIC = "application/strategic-merge-patch+json"
PATCH_APPLY = "application/apply-patch+yaml"
CONFLICT_RETRIES = 5


def patch_pins_version(patch_type: str, body: object) -> bool:
    """Whether a patch states a resourceVersion (an optimistic-concurrency precondition)."""
    if patch_type == PATCH_JSON:
        return isinstance(body, list) and any(
            isinstance(op, dict) and op.get("path") == "/metadata/resourceVersion" for op in body
        )
    meta = body.get("metadata") if isinstance(body, dict) else None
    return isinstance(meta, dict) and bool(meta.get("resourceVersion"))


PATCH_TYPES = (PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC, PATCH_APPLY)


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WriteOptions:
    """Query options shared by create, update and patch."""

    def __init__(
        self, manager: str = "", dry_run: bool = False, field_validation: str = "Warn", force: bool = False
    ) -> None:
        self.manager = manager
        self.dry_run = dry_run
        self.field_validation = field_validation
        self.force = force
        self.warnings: list[str] = []


def _spec_view(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._ip_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------
    @staticmethod
    def _ns(res: Resource, namespace: str | None) -> str:
        return namespace or "" if res.namespaced else ""

    def _require_namespace(self, res: Resource, namespace: str) -> None:
        if not res.namespaced:
            return
        ns = self.store.get("namespaces", "", namespace)
        ns_res = by_kind("", "Namespace")
        if ns is None:
            raise errors.not_found(ns_res, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                f'{res.kind.lower()}s "{namespace}" is forbidden: unable to create new content '
                f"in namespace {namespace} because it is being terminated",
                "Forbidden",
            )

    def _allocate_cluster_ip(self) -> str:
        with self._ip_lock:
            used = {(obj.get("spec") or {}).get("clusterIP") for obj in self.store.list("services")[0]}
            hosts = defaults.SERVICE_CIDR.num_addresses
            for _ in range(1000):
                ip = str(defaults.SERVICE_CIDR.network_address + random.randrange(10, hosts - 1))
                if ip not in used:
                    return ip
        raise ApiError(500, "failed to allocate a serviceIP: range is full")

    def _check_fields(self, res: Resource, obj: dict, opts: WriteOptions) -> None:
        if opts.field_validation == "Ignore":
            return
        problems = [f'unknown field "{p}"' for p in schema.unknown_fields(res, obj)]
        type_problems = schema.type_errors(res, obj)
        if type_problems:
            # A value the server cannot decode fails regardless of fieldValidation.
            raise errors.bad_request(
                f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: {type_problems[0]}'
            )
        if not problems:
            return
        if opts.field_validation == "Strict":
            raise errors.bad_request("strict decoding error: " + ", ".join(problems))
        opts.warnings.extend(problems)

    def _check_type_meta(self, res: Resource, obj: dict) -> None:
        if not isinstance(obj, dict):
            raise errors.bad_request(
                "the body of the request was in an unknown format - "
                "accepted media types include: application/json, application/yaml"
            )
        api_version = obj.get("apiVersion") or res.api_version
        kind = obj.get("kind") or res.kind
        if api_version != res.api_version or kind != res.kind:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({res.api_version})"
                if api_version != res.api_version
                else f'{kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                f"the kind in the data ({kind}) does not match the expected kind ({res.kind})"
            )
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.bad_request(
                f'{res.kind} in version "{res.version}" cannot be handled as a '
                f"{res.kind}: metadata must be an object"
            )

    def _prepare(self, res: Resource, obj: dict) -> None:
        """Defaulting, then validation (both on the object as it will be stored)."""
        if res.kind == "Service":
            defaults.service(obj, self._allocate_cluster_ip)
        elif res.kind in defaults.BY_KIND:
            defaults.BY_KIND[res.kind](obj)
        causes = validation.object_causes(res, obj)
        if causes:
            raise errors.invalid(res, obj["metadata"].get("name") or "", causes)

    @staticmethod
    def _manager(opts: WriteOptions) -> str:
        return opts.manager or "unknown"

    # -- reads -----------------------------------------------------------------------------
    def get(self, res: Resource, namespace: str | None, name: str) -> dict:
        obj = self.store.get(res.group_resource, self._ns(res, namespace), name)
        if obj is None:
            raise errors.not_found(res, name)
        return obj

    def list(
        self,
        res: Resource,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[dict], int]:
        try:
            label_reqs = selectors.parse_label_selector(label_selector)
            field_reqs = selectors.parse_field_selector(field_selector, res.kind)
        except selectors.SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc
        items, rv = self.store.list(res.group_resource, namespace if res.namespaced else None)
        return [
            o
            for o in items
            if selectors.labels_match(label_reqs, o["metadata"].get("labels"))
            and selectors.fields_match(field_reqs, o)
        ], rv

    # -- create ------------------------------------------------------------------------------
    def create(
        self,
        res: Resource,
        namespace: str | None,
        obj: dict,
        opts: WriteOptions,
        managed_fields: list | None = None,
    ) -> dict:
        """Create ``obj``; ``managed_fields`` is given by server-side apply, else an Update entry is made."""
        self._check_type_meta(res, obj)
        meta = obj["metadata"]
        ns = self._ns(res, namespace)
        if res.namespaced:
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            ns = ns or meta.get("namespace") or "default"
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        self._check_fields(res, obj, opts)
        for key in SYSTEM_META:
            meta.pop(key, None)
        meta.pop("deletionTimestamp", None)
        meta.pop("managedFields", None)
        if res.has_status and res.kind not in (
            "Pod",
            "Namespace",
            "Service",
            "PersistentVolumeClaim",
            "Node",
        ):
            obj.pop("status", None)
        self._prepare(res, obj)
        self._require_namespace(res, ns)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if res.kind in GENERATION_KINDS:
            meta["generation"] = 1
        if managed_fields is None:
            obj = apply.track_update(None, obj, res.kind, self._manager(opts), now_rfc3339())
        else:
            meta["managedFields"] = managed_fields
        if opts.dry_run:
            if self.store.get(res.group_resource, ns, meta["name"]) is not None:
                raise errors.already_exists(res, meta["name"])
            return obj
        try:
            return self.store.create(res.group_resource, ns, meta["name"], obj)
        except AlreadyInStore:
            raise errors.already_exists(res, meta["name"]) from None

    # -- update ------------------------------------------------------------------------------
    def update(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        obj: dict,
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict:
        self._check_type_meta(res, obj)
        meta = obj["metadata"]
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        ns = self._ns(res, namespace)
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
        old = self.get(res, ns, name)
        expected = meta.get("resourceVersion")
        if expected and expected != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res, name, errors.STALE)
        self._check_fields(res, obj, opts)
        return self._write_update(res, ns, old, obj, opts, subresource)

    def _write_update(
        self,
        res: Resource,
        ns: str,
        old: dict,
        new: dict,
        opts: WriteOptions,
        subresource: str,
        applied: bool = False,
    ) -> dict:
        """Store ``new`` over ``old``; ``applied`` means server-side apply already set managedFields."""
        name = old["metadata"]["name"]
        new = copy.deepcopy(new)
        meta = new["metadata"]
        if subresource == "status":
            # A status write changes status only; the rest stays as stored.
            new = {**copy.deepcopy(old), "status": new.get("status")}
            meta = new["metadata"]
        elif res.has_status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        for key in SYSTEM_META:
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        if old["metadata"].get("deletionTimestamp"):
            meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        if subresource != "status":
            self._prepare(res, new)
            causes = validation.update_causes(res, old, new)
            if causes:
                raise errors.invalid(res, name, causes)
        if res.kind in GENERATION_KINDS and _spec_view(old) != _spec_view(new):
            meta["generation"] = int(old["metadata"].get("generation") or 1) + 1
        if not applied:
            user_managed = meta.get("managedFields")
            meta["managedFields"] = old["metadata"].get("managedFields") or []
            if user_managed is not None and user_managed != meta["managedFields"]:
                meta["managedFields"] = user_managed  # a client may reset managedFields explicitly
            new = apply.track_update(old, new, res.kind, self._manager(opts), now_rfc3339(), subresource)
        if not new["metadata"].get("managedFields"):
            new["metadata"].pop("managedFields", None)
        if new == old:
            return old  # a no-op write keeps the resourceVersion, as the API server does
        if opts.dry_run:
            return new
        # The last finalizer removed from an object being deleted completes its deletion; other
        # writes to it (a terminating pod's status, a label) leave it waiting.
        if meta.get("deletionTimestamp") and old["metadata"].get("finalizers") and not meta.get("finalizers"):
            try:
                self.store.delete(res.group_resource, ns, name)
            except NotFoundInStore:
                raise errors.not_found(res, name) from None
            return new
        try:
            return self.store.update(res.group_resource, ns, name, new, old["metadata"]["resourceVersion"])
        except NotFoundInStore:
            raise errors.not_found(res, name) from None
        except VersionConflict:
            raise errors.conflict(res, name, errors.STALE) from None

    # -- patch -------------------------------------------------------------------------------
    def patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: object,
        opts: WriteOptions,
        subresource: str = "",
    ) -> tuple[dict, bool]:
        """Returns (object, created).

        A patch applies to whatever is stored when it lands: a concurrent write (a controller's
        status update, say) makes us re-read and re-apply, as the API server's update loop does,
        unless the patch itself pins a resourceVersion.
        """
        pinned = patch_pins_version(patch_type, body)
        for attempt in itertools.count():
            try:
                return self._patch_once(res, namespace, name, patch_type, body, opts, subresource)
            except ApiError as exc:
                stale = exc.code == 409 and errors.STALE in exc.message
                if pinned or not stale or attempt >= CONFLICT_RETRIES:
                    raise

    def _patch_once(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: object,
        opts: WriteOptions,
        subresource: str,
    ) -> tuple[dict, bool]:
        ns = self._ns(res, namespace)
        if patch_type == PATCH_APPLY:
            return self._apply(res, ns, name, body, opts, subresource)
        old = self.get(res, ns, name)
        try:
            if patch_type == PATCH_JSON:
                patched = patch.apply_json_patch(old, body)
            elif patch_type == PATCH_MERGE:
                patched = patch.apply_merge_patch(old, body)
            elif patch_type == PATCH_STRATEGIC:
                patched = patch.apply_strategic_merge_patch(old, body, res.kind)
            else:
                raise ApiError(415, f"the server does not support media type {patch_type!r} for PATCH")
        except patch.PatchError as exc:
            raise ApiError(exc.code, str(exc)) from None
        if not isinstance(patched, dict):
            raise ApiError(422, "the patch did not produce an object")
        self._check_type_meta(res, patched)
        if (patched["metadata"].get("name") or name) != name:
            raise errors.bad_request("metadata.name: Invalid value: the name may not be changed by a patch")
        patched["metadata"]["name"] = name
        if res.namespaced:
            patched["metadata"]["namespace"] = ns
        expected = patched["metadata"].get("resourceVersion")
        if expected and expected != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res, name, errors.STALE)
        self._check_fields(res, patched, opts)
        return self._write_update(res, ns, old, patched, opts, subresource), False

    def _apply(
        self, res: Resource, ns: str, name: str, body: object, opts: WriteOptions, subresource: str
    ) -> tuple[dict, bool]:
        if not opts.manager:
            raise ApiError(
                422,
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
                "Invalid",
            )
        if not isinstance(body, dict):
            raise errors.bad_request("error decoding YAML: the applied configuration must be an object")
        self._check_type_meta(res, body)
        meta = body["metadata"]
        if meta.get("name") != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if res.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
        self._check_fields(res, body, opts)
        live = self.store.get(res.group_resource, ns, name)
        try:
            merged = apply.server_side_apply(live, body, res.kind, opts.manager, opts.force, now_rfc3339())
        except apply.ApplyConflict as exc:
            raise ApiError(409, str(exc), "Conflict", {"causes": exc.causes}) from None
        except patch.PatchError as exc:
            raise ApiError(exc.code, str(exc)) from None
        if live is None:
            managed = merged["metadata"].get("managedFields", [])
            created = self.create(
                res, ns, merged, WriteOptions(opts.manager, opts.dry_run, "Ignore"), managed_fields=managed
            )
            return created, True
        return self._write_update(res, ns, live, merged, opts, subresource, applied=True), False

    # -- delete ------------------------------------------------------------------------------
    def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        propagation: str | None = None,
        preconditions: dict | None = None,
        dry_run: bool = False,
        grace_period_seconds: int | None = None,
    ) -> tuple[dict, bool]:
        """Returns (object, gone): gone is False when deletion waits (finalizers, a pod's grace period)."""
        ns = self._ns(res, namespace)
        obj = self.get(res, ns, name)
        meta = obj["metadata"]
        preconditions = preconditions or {}
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            raise errors.conflict(
                res,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {meta.get('uid')}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != meta["resourceVersion"]
        ):
            raise errors.conflict(
                res,
                name,
                "Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object "
                f"meta: {meta['resourceVersion']}",
            )
        if dry_run:
            return obj, True
        if res.kind == "Pod" and self._graceful(obj, grace_period_seconds):
            return self._mark_pod_terminating(obj, grace_period_seconds), False
        if res.kind == "Namespace":
            if name in IMMORTAL_NAMESPACES:
                # The NamespaceLifecycle admission plugin's rule.
                raise ApiError(
                    403,
                    f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                    "Forbidden",
                    {"name": name, "kind": "namespaces"},
                )
            return self._delete_namespace(obj), False
        if propagation == "Orphan":
            self._orphan_dependents(meta["uid"])
        elif propagation == "Foreground":
            self.delete_dependents(meta["uid"], "Foreground")
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                obj = self.store.update(res.group_resource, ns, name, obj, None)
            return obj, False
        try:
            return self.store.delete(res.group_resource, ns, name), True
        except NotFoundInStore:
            raise errors.not_found(res, name) from None

    @staticmethod
    def _graceful(pod: dict, grace_period_seconds: int | None) -> bool:
        """A pod on a node is stopped by its kubelet first, unless the grace period is 0."""
        if not pod["spec"].get("nodeName") or (pod.get("status") or {}).get("phase") in (
            "Succeeded",
            "Failed",
        ):
            return False
        grace = grace_period_seconds
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        return grace > 0

    def _mark_pod_terminating(self, pod: dict, grace_period_seconds: int | None) -> dict:
        meta = pod["metadata"]
        if meta.get("deletionTimestamp"):
            return pod
        grace = grace_period_seconds
        if grace is None:
            grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        meta["deletionTimestamp"] = now_rfc3339()
        meta["deletionGracePeriodSeconds"] = grace
        return self.store.update(PODS_KEY, meta["namespace"], meta["name"], pod, None)

    def _delete_namespace(self, obj: dict) -> dict:
        if obj["metadata"].get("deletionTimestamp"):
            return obj
        obj["metadata"]["deletionTimestamp"] = now_rfc3339()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0
        obj.setdefault("status", {})["phase"] = "Terminating"
        return self.store.update("namespaces", "", obj["metadata"]["name"], obj, None)

    def dependents_of(self, uid: str) -> list[tuple[Resource, dict]]:
        found = []
        for (resource, _ns, _name), obj in self.store.iter_all():
            refs = obj["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == uid for r in refs):
                group = resource.partition(".")[2]
                res = by_kind(group, obj["kind"])
                if res is not None:
                    found.append((res, obj))
        return found

    def delete_dependents(self, uid: str, propagation: str = "Background") -> int:
        """Delete objects whose only remaining owners are gone (the garbage collector's rule)."""
        deleted = 0
        for res, obj in self.dependents_of(uid):
            owners = obj["metadata"].get("ownerReferences") or []
            live_owner = any(o.get("uid") != uid and self._owner_exists(o) for o in owners)
            meta = obj["metadata"]
            if live_owner:
                meta["ownerReferences"] = [o for o in owners if o.get("uid") != uid]
                self.store.update(res.group_resource, meta.get("namespace", ""), meta["name"], obj, None)
                continue
            try:
                self.delete(res, meta.get("namespace"), meta["name"], propagation)
                deleted += 1
            except ApiError:
                pass  # already gone
        return deleted

    def _owner_exists(self, ref: dict) -> bool:
        return any(o["metadata"].get("uid") == ref.get("uid") for _k, o in self.store.iter_all())

    def _orphan_dependents(self, uid: str) -> None:
        for res, obj in self.dependents_of(uid):
            meta = obj["metadata"]
            meta["ownerReferences"] = [o for o in meta.get("ownerReferences") or [] if o.get("uid") != uid]
            if not meta["ownerReferences"]:
                del meta["ownerReferences"]
            self.store.update(res.group_resource, meta.get("namespace", ""), meta["name"], obj, None)

    # -- scale subresource -------------------------------------------------------------------
    @staticmethod
    def to_scale(res: Resource, obj: dict) -> dict:
        meta = obj["metadata"]
        selector = (obj.get("spec") or {}).get("selector") or {}
        match = selector.get("matchLabels", selector) if isinstance(selector, dict) else {}
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in sorted(match.items()) if isinstance(v, str)),
            },
        }

    def patch_scale(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch_type: str,
        body: object,
        opts: WriteOptions,
    ) -> dict:
        """A patch of the Scale view (JSON or merge patch), retried on concurrent writes."""
        if patch_type not in (PATCH_JSON, PATCH_MERGE, PATCH_STRATEGIC):
            raise ApiError(415, f"the server does not support media type {patch_type!r} for scale patches")
        pinned = patch_pins_version(patch_type, body)
        for attempt in itertools.count():
            scale = self.to_scale(res, self.get(res, namespace, name))
            try:
                if patch_type == PATCH_JSON:
                    scale = patch.apply_json_patch(scale, body)
                else:
                    scale = patch.apply_merge_patch(scale, body)
            except patch.PatchError as exc:
                raise ApiError(exc.code, str(exc)) from None
            try:
                return self.update_scale(res, namespace, name, scale, opts)
            except ApiError as exc:
                if pinned or exc.code != 409 or attempt >= CONFLICT_RETRIES:
                    raise

    def update_scale(
        self, res: Resource, namespace: str | None, name: str, scale: dict, opts: WriteOptions
    ) -> dict:
        old = self.get(res, namespace, name)
        expected = (scale.get("metadata") or {}).get("resourceVersion")
        if expected and expected != old["metadata"]["resourceVersion"]:
            raise errors.conflict(res, name, errors.STALE)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(
                422,
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                f"{json.dumps(replicas)}: must be greater than or equal to 0",
                "Invalid",
            )
        new = copy.deepcopy(old)
        new["spec"]["replicas"] = replicas
        return self.to_scale(res, self._write_update(res, self._ns(res, namespace), old, new, opts, "scale"))
