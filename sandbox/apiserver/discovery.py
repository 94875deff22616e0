"""Discovery documents: the legacy forms (/api, /apis, /apis/<g>/<v>) and the aggregated
``apidiscovery.k8s.io/v2`` form that kubectl and client-go ask for first."""

from __future__ import annotations

from .resources import Resource, group_versions, resources_in

AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

GIT_VERSION = "v1.35.2+sandbox"

# Subresource → (verbs, response kind (group, version, kind) or None for the parent's kind).
_SUBRESOURCES: dict[str, tuple[tuple[str, ...], tuple[str, str, str] | None]] = {
    "status": (("get", "patch", "update"), None),
    "scale": (("get", "patch", "update"), ("autoscaling", "v1", "Scale")),
    "log": (("get",), None),
    "binding": (("create",), ("", "v1", "Binding")),
    "eviction": (("create",), ("policy", "v1", "Eviction")),
    "ephemeralcontainers": (("get", "patch", "update"), None),
    "finalize": (("update",), None),
}
_PROXY_KINDS = {"pods": "PodProxyOptions", "nodes": "NodeProxyOptions", "services": "ServiceProxyOptions"}
_PROXY_VERBS = ("create", "delete", "get", "patch", "update")


def version_info() -> dict:
    return {
        "major": "1",
        "minor": "35",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def _subresource(res: Resource, sub: str) -> tuple[tuple[str, ...], tuple[str, str, str]]:
    if sub == "proxy":
        return _PROXY_VERBS, ("", "v1", _PROXY_KINDS[res.plural])
    verbs, kind = _SUBRESOURCES[sub]
    return verbs, kind or (res.group, res.version, res.kind)


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group_list() -> dict:
    groups = []
    for group, versions in group_versions().items():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict | None:
    versions = group_versions().get(group)
    if not group or not versions:
        return None
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": gvs,
        "preferredVersion": gvs[0],
    }


def api_resource_list(group: str, version: str) -> dict | None:
    served = resources_in(group, version)
    if not served:
        return None
    items = []
    for res in served:
        entry = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(res.verbs),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        items.append(entry)
        for sub in res.subresources:
            verbs, (g, v, kind) = _subresource(res, sub)
            sub_entry = {
                "name": f"{res.plural}/{sub}",
                "singularName": "",
                "namespaced": res.namespaced,
                "kind": kind,
                "verbs": list(verbs),
            }
            if (g, v) != (res.group, res.version):
                sub_entry["group"], sub_entry["version"] = g, v
            items.append(sub_entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": items}


def _aggregated_group(group: str, versions: list[str]) -> dict:
    out_versions = []
    for version in versions:
        resources = []
        for res in resources_in(group, version):
            entry = {
                "resource": res.plural,
                "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
                "scope": "Namespaced" if res.namespaced else "Cluster",
                "singularResource": res.singular,
                "verbs": list(res.verbs),
            }
            if res.short_names:
                entry["shortNames"] = list(res.short_names)
            if res.categories:
                entry["categories"] = list(res.categories)
            subs = []
            for sub in res.subresources:
                verbs, (g, v, kind) = _subresource(res, sub)
                subs.append(
                    {
                        "subresource": sub,
                        "responseKind": {"group": g, "version": v, "kind": kind},
                        "verbs": list(verbs),
                    }
                )
            if subs:
                entry["subresources"] = subs
            resources.append(entry)
        out_versions.append({"version": version, "resources": resources, "freshness": "Current"})
    return {"metadata": {"name": group, "creationTimestamp": None}, "versions": out_versions}


def aggregated(core: bool) -> dict:
    """``/api`` (core=True) or ``/apis`` in the aggregated v2 form."""
    items = [
        _aggregated_group(group, versions)
        for group, versions in group_versions().items()
        if (group == "") == core
    ]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def wants_aggregated(accept: str) -> bool:
    return any(
        "as=APIGroupDiscoveryList" in part and "v=v2" in part and "v=v2beta1" not in part
        for part in accept.split(",")
    )
