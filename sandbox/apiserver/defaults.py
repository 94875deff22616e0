"""Defaulting applied on every write, as the API server's per-kind defaulters and the
default admission plugins do.

Sources: k8s.io/kubernetes ``pkg/apis/core/v1/defaults.go``, ``pkg/apis/apps/v1/defaults.go``,
``pkg/apis/batch/v1/defaults.go``, and the ServiceAccount / DefaultTolerationSeconds
admission plugins (v1.35). Only defaults that clients can observe in our use are listed.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")


def _set(d: dict, key: str, value) -> None:
    if d.get(key) is None:
        d[key] = value


def _probe(probe: dict | None) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        _set(probe, key, value)
    if isinstance(probe.get("httpGet"), dict):
        _set(probe["httpGet"], "scheme", "HTTP")


def _image_pull_policy(image: str) -> str:
    # ":latest" or no tag means the image may change, so Kubernetes pulls every time.
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _container(c: dict) -> None:
    if not isinstance(c, dict):
        return
    _set(c, "terminationMessagePath", "/dev/termination-log")
    _set(c, "terminationMessagePolicy", "File")
    if isinstance(c.get("image"), str):
        _set(c, "imagePullPolicy", _image_pull_policy(c["image"]))
    _set(c, "resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(name))
    for env in c.get("env") or []:
        field_ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(field_ref, dict):
            _set(field_ref, "apiVersion", "v1")


def pod_spec(spec: dict | None, restart_policy_default: str | None = "Always") -> None:
    if not isinstance(spec, dict):
        return
    if restart_policy_default:
        _set(spec, "restartPolicy", restart_policy_default)
    _set(spec, "terminationGracePeriodSeconds", 30)
    _set(spec, "dnsPolicy", "ClusterFirst")
    _set(spec, "securityContext", {})
    _set(spec, "schedulerName", "default-scheduler")
    for c in itertools.chain(spec.get("containers") or [], spec.get("initContainers") or []):
        _container(c)
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        for source in ("configMap", "secret"):
            if isinstance(vol.get(source), dict):
                _set(vol[source], "defaultMode", 420)
        if isinstance(vol.get("hostPath"), dict):
            _set(vol["hostPath"], "type", "")


def _template(obj: dict, restart_policy_default: str | None = "Always") -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        if isinstance(template["metadata"], dict):
            template["metadata"].setdefault("creationTimestamp", None)
        pod_spec(template.get("spec"), restart_policy_default)


def pod(obj: dict) -> None:
    spec = obj.get("spec")
    pod_spec(spec)
    if not isinstance(spec, dict):
        return
    _set(spec, "serviceAccountName", "default")
    _set(spec, "priority", 0)
    _set(spec, "enableServiceLinks", True)
    _set(spec, "preemptionPolicy", "PreemptLowerPriority")
    for c in spec.get("containers") or []:
        # Requests default to limits when only limits are given (core/v1 defaulting).
        resources = c.get("resources") if isinstance(c, dict) else None
        if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
            requests = resources.setdefault("requests", {})
            for name, qty in resources["limits"].items():
                requests.setdefault(name, qty)
    tolerations = spec.setdefault("tolerations", [])
    present = {(t.get("key"), t.get("effect")) for t in tolerations if isinstance(t, dict)}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if (key, "NoExecute") not in present:
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    status = obj.setdefault("status", {})
    _set(status, "phase", "Pending")
    _set(status, "qosClass", _qos_class(spec))


def _qos_class(spec: dict) -> str:
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    limits = [(c.get("resources") or {}).get("limits") or {} for c in containers]
    requests = [(c.get("resources") or {}).get("requests") or {} for c in containers]
    if not any(limits) and not any(requests):
        return "BestEffort"
    guaranteed = all(
        all(k in lim for k in ("cpu", "memory")) and all(req.get(k) == lim.get(k) for k in req)
        for lim, req in zip(limits, requests, strict=True)
    )
    return "Guaranteed" if guaranteed else "Burstable"


def deployment(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _set(spec, "replicas", 1)
    strategy = spec.setdefault("strategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        _set(rolling, "maxUnavailable", "25%")
        _set(rolling, "maxSurge", "25%")
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "progressDeadlineSeconds", 600)
    _template(obj)


def replica_set(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        _set(spec, "replicas", 1)
    _template(obj)


def stateful_set(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _set(spec, "replicas", 1)
    _set(spec, "podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _set(strategy.setdefault("rollingUpdate", {}), "partition", 0)
    _set(spec, "revisionHistoryLimit", 10)
    _set(spec, "persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _template(obj)


def daemon_set(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    strategy = spec.setdefault("updateStrategy", {})
    _set(strategy, "type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        _set(rolling, "maxUnavailable", 1)
        _set(rolling, "maxSurge", 0)
    _set(spec, "revisionHistoryLimit", 10)
    _template(obj)


def job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    _set(spec, "parallelism", 1)
    _set(spec, "backoffLimit", 6)
    _set(spec, "completionMode", "NonIndexed")
    _set(spec, "suspend", False)
    _set(spec, "podReplacementPolicy", "TerminatingOrFailed")
    _template(obj, restart_policy_default=None)


def cron_job(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _set(spec, "concurrencyPolicy", "Allow")
    _set(spec, "suspend", False)
    _set(spec, "successfulJobsHistoryLimit", 3)
    _set(spec, "failedJobsHistoryLimit", 1)
    job_template = spec.get("jobTemplate")
    if isinstance(job_template, dict):
        template = (job_template.get("spec") or {}).get("template")
        if isinstance(template, dict):
            pod_spec(template.get("spec"), restart_policy_default=None)


def service(obj: dict, allocate_ip) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    _set(spec, "type", "ClusterIP")
    _set(spec, "sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            _set(port, "protocol", "TCP")
            _set(port, "targetPort", port.get("port"))
    if spec["type"] == "ExternalName":
        return
    if spec.get("clusterIP") in (None, ""):
        spec["clusterIP"] = allocate_ip()
    if spec["clusterIP"] != "None":
        _set(spec, "clusterIPs", [spec["clusterIP"]])
    else:
        _set(spec, "clusterIPs", ["None"])
    _set(spec, "ipFamilies", ["IPv4"])
    _set(spec, "ipFamilyPolicy", "SingleStack")
    _set(spec, "internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        _set(spec, "externalTrafficPolicy", "Cluster")
    obj.setdefault("status", {}).setdefault("loadBalancer", {})


def namespace(obj: dict) -> None:
    name = (obj.get("metadata") or {}).get("name")
    labels = obj["metadata"].setdefault("labels", {})
    if name:
        labels["kubernetes.io/metadata.name"] = name
    spec = obj.setdefault("spec", {})
    _set(spec, "finalizers", ["kubernetes"])
    _set(obj.setdefault("status", {}), "phase", "Active")


def secret(obj: dict) -> None:
    _set(obj, "type", "Opaque")
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict):
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def persistent_volume_claim(obj: dict) -> None:
    spec = obj.setdefault("spec", {})
    if isinstance(spec, dict):
        _set(spec, "volumeMode", "Filesystem")
    _set(obj.setdefault("status", {}), "phase", "Pending")


BY_KIND = {
    "Pod": pod,
    "Deployment": deployment,
    "ReplicaSet": replica_set,
    "ReplicationController": replica_set,
    "StatefulSet": stateful_set,
    "DaemonSet": daemon_set,
    "Job": job,
    "CronJob": cron_job,
    "Namespace": namespace,
    "Secret": secret,
    "PersistentVolumeClaim": persistent_volume_claim,
}
