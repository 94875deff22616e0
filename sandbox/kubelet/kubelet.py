"""The simulated kubelet: one pod worker per bound pod, as the real kubelet's pod workers.

A worker pulls the images, resolves env, starts each container through its runtime
(``sandbox.runtimes``), probes it over real HTTP, restarts it with the kubelet's back-off,
keeps its logs and writes the pod status; it also carries out graceful deletion. Node
heartbeats and the ``node-not-ready`` fault live here too, since a node's Ready condition
is what its kubelet reports.

Durations from Kubernetes (v1.35 kubelet defaults), all divided by the time scale:
restart back-off 10 s doubling to 300 s, reset after 10 min of running; image pull
back-off the same; node status reported every 10 s.

Workers do not poll: a worker sleeps until its next probe or restart is due, and is woken
early by what can change its pod (a watch event for the pod or its node, its container
exiting, a stop). Probes and node status have real-time floors (PROBE_MIN_INTERVAL,
NODE_STATUS_MIN_INTERVAL) so that a compressed clock does not turn into hundreds of HTTP
requests a second; see ``PodWorker._probe`` for why that keeps the simulated behaviour.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import re
import threading
import time
from pathlib import Path

from sandbox.apiserver.errors import ApiError
from sandbox.apiserver.registry import Registry, WriteOptions, now_rfc3339
from sandbox.apiserver.resources import by_kind
from sandbox.apiserver.store import DELETED, StoredEvent
from sandbox.controllers.base import Controller
from sandbox.controllers.events import object_reference, record_event
from sandbox.faults import Faults
from sandbox.runtimes.base import ContainerSpec, RuntimeContext, SimClock
from sandbox.runtimes.registry import runtime_for

from .logs import LogStore
from .probes import ProbeResult, run_probe

log = logging.getLogger("sandbox.kubelet")

PODS = by_kind("", "Pod")
NODES = by_kind("", "Node")
CONFIG_MAPS = by_kind("", "ConfigMap")
SECRETS = by_kind("", "Secret")
KIND_NAMES = {"configmaps": "ConfigMap", "secrets": "Secret"}  # as the kubelet's env errors spell them
KUBELET = WriteOptions(manager="kubelet")
COMPONENT = "kubelet"

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET_AFTER = 600.0
NODE_STATUS_PERIOD = 10.0
POD_IP_SLOTS = 65536  # one 127.X.0.0/16 per sandbox (podnet.py)
MIN_TICK = 0.005  # real seconds a worker sleeps at least between two passes
# Real seconds a worker with nothing due sleeps at most: a safety net only, since every change
# that matters to it (pod or node event, container exit, stop) wakes it at once.
IDLE_POLL = 1.0
# Real seconds between two runs of one probe, at least. Kubernetes' own minimum periodSeconds
# is 1 s, and time-scaled periods would otherwise mean tens (scale 60) to hundreds (scale 600)
# of HTTP requests a second on an idle sandbox. Each result stands for the probe periods that
# elapsed since the previous identical one, so thresholds are still crossed at their simulated
# time; only a change of a probe's answer is seen up to this late (in real time, which is all a
# client can observe).
PROBE_MIN_INTERVAL = 0.5
# Real seconds between two node status reports, at least (also how soon a node-not-ready fault
# is seen); the period itself is NODE_STATUS_PERIOD divided by the time scale.
NODE_STATUS_MIN_INTERVAL = 1.0

# Simulated pull time by image repository prefix (first match); GPU serving images are
# large (vllm/vllm-openai:v0.14.0 is ~10 GB compressed), most others are small.
PULL_SECONDS = (("vllm/", 90.0), ("docker.io/vllm/", 90.0), ("", 3.0))

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand_var_refs(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command and args; ``$$`` escapes, unknown refs stay."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(sub, text)


def next_backoff(current: float) -> float:
    """The back-off after ``current`` (0 = none yet): 10 s, then doubling, capped at 300 s."""
    return BACKOFF_INITIAL if not current else min(current * 2, BACKOFF_MAX)


def _pull_seconds(image: str) -> float:
    return next(seconds for prefix, seconds in PULL_SECONDS if image.startswith(prefix))


class ConfigError(Exception):
    """A container cannot be created: CreateContainerConfigError."""


class _StopEvent(threading.Event):
    """A worker's stop flag; setting it also wakes the worker from its sleep."""

    def __init__(self, wake: threading.Event) -> None:
        super().__init__()
        self._wake = wake

    def set(self) -> None:
        super().set()
        self._wake.set()


class ContainerRun:
    """One container of a pod across its restarts."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.name: str = spec["name"]
        self.restart_count = 0
        self.state: dict = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state: dict = {}
        self.ready = False
        self.started = False  # startup probe passed (or none)
        self.container_id = ""
        self.ctx: RuntimeContext | None = None
        self.thread: threading.Thread | None = None
        self.done = threading.Event()  # set by the current run's thread as it ends
        self.exit_code: int | None = None
        self.started_mono = 0.0
        self.backoff = 0.0
        self.next_start = 0.0
        self.ever_started = False
        self.probe_due: dict[str, float] = {}
        self.probe_last: dict[str, tuple[float, bool]] = {}  # kind -> (when, ok) of its last run
        self.failures: dict[str, int] = {}
        self.successes: dict[str, int] = {}

    @property
    def running(self) -> bool:
        return self.thread is not None and not self.done.is_set() and self.thread.is_alive()


class PodWorker:
    def __init__(self, kubelet: Kubelet, pod: dict) -> None:
        self.kubelet = kubelet
        self.key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        self.uid = pod["metadata"]["uid"]
        self.pod = pod
        self.containers = [ContainerRun(c) for c in pod["spec"].get("containers") or []]
        self.wake = threading.Event()  # something changed: look again now
        self.stop = _StopEvent(self.wake)
        self.written_rv = ""  # resourceVersion of this worker's last status write
        self.ip = ""
        self.thread = threading.Thread(target=self._run, name=f"pod-{self.key[1]}", daemon=True)

    # -- helpers -----------------------------------------------------------------------------
    @property
    def clock(self) -> SimClock:
        return self.kubelet.clock

    def _scaled(self, seconds: float) -> float:
        return self.clock.real_seconds(seconds)

    def _ref(self, container: ContainerRun | None = None) -> dict:
        ref = object_reference(self.pod)
        if container is not None:
            ref["fieldPath"] = f"spec.containers{{{container.name}}}"
        return ref

    def _event(
        self,
        reason: str,
        message: str,
        type_: str = "Normal",
        container: ContainerRun | None = None,
        count: int = 1,
    ):
        record_event(
            self.kubelet.registry, self._ref(container), reason, message, type_, COMPONENT, count=count
        )

    def _current(self) -> dict | None:
        return self.kubelet.store.get("pods", self.key[0], self.key[1])

    def _pull_wait(self, seconds: float) -> bool:
        """Sleep through a pull or its back-off; False as soon as the worker stops or the pod is
        deleted (or marked for deletion), so that a pod never pulled can still be deleted."""
        deadline = time.monotonic() + self._scaled(seconds)
        while True:
            self.wake.clear()  # before looking: a change from now on wakes the wait below
            if self.stop.is_set():
                return False
            pod = self._current()
            if (
                pod is None
                or pod["metadata"].get("uid") != self.uid
                or pod["metadata"].get("deletionTimestamp")
            ):
                return False
            if time.monotonic() >= deadline:
                return True
            self.wake.wait(max(0.0, min(IDLE_POLL, deadline - time.monotonic())))

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        try:
            self.ip = self.kubelet.allocate_ip(self.uid)
            self._write_status(initial=True)
            self._pull_images()
            while not self.stop.is_set():
                self.wake.clear()  # before looking: a change from now on wakes the wait below
                pod = self._current()
                if pod is None or pod["metadata"].get("uid") != self.uid:
                    self._kill_all("pod deleted")
                    return
                self.pod = pod
                if pod["metadata"].get("deletionTimestamp"):
                    self._terminate(pod)
                    return
                if not self.kubelet.node_ready(pod["spec"].get("nodeName", "")):
                    self._write_status()  # NotReady node: containers keep running, pod not Ready
                    self.wake.wait(IDLE_POLL)  # the node's status write wakes it on recovery
                    continue
                for container in self.containers:
                    self._sync_container(container)
                self._write_status()
                self.wake.wait(self._until_next_due())
        except Exception:
            log.exception("pod worker %s/%s failed", *self.key)
        finally:
            self._kill_all("worker stopped")
            self.kubelet.release_ip(self.uid)

    def _until_next_due(self) -> float:
        """Real seconds until the next probe or restart is due (at most IDLE_POLL): events wake
        the worker for everything else."""
        now = time.monotonic()
        due = []
        for c in self.containers:
            if c.running:  # the probes of its current phase; one already due is run at once
                kinds = ("livenessProbe", "readinessProbe") if c.started else ("startupProbe",)
                due += [c.probe_due[k] for k in kinds if c.spec.get(k) and k in c.probe_due]
            elif c.thread is not None:
                due.append(now)  # it has exited: record that at once
            elif c.next_start > now:
                due.append(c.next_start)
        return max(MIN_TICK, min([IDLE_POLL, *(t - now for t in due)]))

    def _pull_images(self) -> None:
        for container in self.containers:
            image = container.spec.get("image", "")
            policy = container.spec.get("imagePullPolicy", "IfNotPresent")
            node = self.pod["spec"].get("nodeName", "")
            if policy != "Always" and self.kubelet.image_present(node, image):
                self._event(
                    "Pulled", f'Container image "{image}" already present on machine', container=container
                )
                continue
            backoff = 0.0
            while not self.stop.is_set():
                self._event("Pulling", f'Pulling image "{image}"', container=container)
                started = time.monotonic()
                if not self._pull_wait(_pull_seconds(image)):
                    return
                fault = self.kubelet.faults.get("image-pull-failure")
                if fault and fault.get("image") == image:
                    ref = image if "/" in image.split(":")[0] else f"docker.io/library/{image}"
                    self._event(
                        "Failed",
                        f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                        f'failed to pull and unpack image "{ref}": failed to resolve reference '
                        f'"{ref}": not found',
                        "Warning",
                        container,
                    )
                    self._event("Failed", "Error: ErrImagePull", "Warning", container)
                    container.state = {
                        "waiting": {
                            "reason": "ErrImagePull",
                            "message": f'failed to pull image "{image}": not found',
                        }
                    }
                    self._write_status()
                    backoff = next_backoff(backoff)
                    container.state = {
                        "waiting": {
                            "reason": "ImagePullBackOff",
                            "message": f'Back-off pulling image "{image}"',
                        }
                    }
                    self._event("BackOff", f'Back-off pulling image "{image}"', "Normal", container)
                    self._write_status()
                    if not self._pull_wait(backoff):
                        return
                    continue
                took = time.monotonic() - started
                self.kubelet.mark_image(node, image)
                self._event(
                    "Pulled",
                    f'Successfully pulled image "{image}" in {took:.3f}s ({took:.3f}s including waiting)',
                    container=container,
                )
                container.state = {"waiting": {"reason": "ContainerCreating"}}
                break

    # -- containers --------------------------------------------------------------------------
    def _sync_container(self, c: ContainerRun) -> None:
        now = time.monotonic()
        if c.running:
            self._probe(c, now)
            return
        if c.thread is not None:  # it has exited since the last tick
            self._record_exit(c, now)
        if "terminated" in c.state and not self._should_restart(c):
            return
        if now >= c.next_start:
            self._start_container(c)

    def _should_restart(self, c: ContainerRun) -> bool:
        policy = self.pod["spec"].get("restartPolicy", "Always")
        if policy == "Always":
            return True
        return policy == "OnFailure" and c.exit_code not in (0, None)

    def _record_exit(self, c: ContainerRun, now: float) -> None:
        code = c.exit_code if c.exit_code is not None else 1
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": c.state.get("running", {}).get("startedAt"),
            "finishedAt": now_rfc3339(),
            "containerID": c.container_id,
        }
        c.thread = None
        c.ready = False
        c.started = False
        ran_for = now - c.started_mono
        if ran_for > self._scaled(BACKOFF_RESET_AFTER):
            c.backoff = 0.0
        if not self._should_restart(c):
            c.state = {"terminated": terminated}
            return
        c.last_state = {"terminated": terminated}
        delay = c.backoff
        c.backoff = next_backoff(c.backoff)
        c.next_start = now + self._scaled(delay)
        if delay:
            pod = f"{self.key[1]}_{self.key[0]}({self.uid})"
            c.state = {
                "waiting": {
                    "reason": "CrashLoopBackOff",
                    "message": f"back-off {delay:g}s restarting failed container={c.name} pod={pod}",
                }
            }
            self._event(
                "BackOff", f"Back-off restarting failed container {c.name} in pod {pod}", "Warning", c
            )
        else:
            c.state = {"terminated": terminated}

    def _start_container(self, c: ContainerRun) -> None:
        try:
            env = self._resolve_env(c.spec)
        except ConfigError as exc:
            c.state = {"waiting": {"reason": "CreateContainerConfigError", "message": str(exc)}}
            self._event("Failed", f"Error: {exc}", "Warning", c)
            c.next_start = time.monotonic() + self._scaled(BACKOFF_INITIAL)
            return
        if c.ever_started:
            c.restart_count += 1
        spec = ContainerSpec(
            namespace=self.key[0],
            pod_name=self.key[1],
            name=c.name,
            image=c.spec.get("image", ""),
            command=tuple(expand_var_refs(str(a), env) for a in c.spec.get("command") or ()),
            args=tuple(expand_var_refs(str(a), env) for a in c.spec.get("args") or ()),
            env=env,
            ports=tuple(p["containerPort"] for p in c.spec.get("ports") or [] if p.get("containerPort")),
        )
        writer = self.kubelet.logs.writer(self.key[0], self.uid, c.name, c.restart_count)
        ctx = RuntimeContext(pod_ip=self.ip, clock=self.clock, log=writer, faults=self.kubelet.faults)
        container = runtime_for(spec.image).create(spec, ctx)
        c.container_id = (
            "containerd://" + hashlib.sha256(f"{self.uid}/{c.name}/{c.restart_count}".encode()).hexdigest()
        )
        c.ctx, c.exit_code = ctx, None
        done = c.done = threading.Event()

        def run() -> None:
            try:
                c.exit_code = container.run()
            except Exception:
                log.exception("container %s of %s/%s crashed in the runtime", c.name, *self.key)
                c.exit_code = 128
            finally:
                writer.close()
                done.set()
                self.wake.set()  # the worker records the exit (and schedules the restart) now

        c.thread = threading.Thread(target=run, name=f"ctr-{self.key[1]}-{c.name}", daemon=True)
        if not c.ever_started:
            self._event("Created", f"Created container: {c.name}", container=c)
        c.ever_started = True
        c.started_mono = time.monotonic()
        c.state = {"running": {"startedAt": now_rfc3339()}}
        c.probe_due = {
            kind: c.started_mono + self._scaled((c.spec.get(kind) or {}).get("initialDelaySeconds", 0))
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
        }
        c.failures, c.successes, c.probe_last = {}, {}, {}
        c.started = "startupProbe" not in c.spec
        c.ready = c.started and "readinessProbe" not in c.spec
        c.thread.start()
        self._event("Started", f"Started container {c.name}", container=c)

    def _resolve_env(self, spec: dict) -> dict[str, str]:
        env: dict[str, str] = {}
        ns = self.key[0]
        for source in spec.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind, store_key in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
                ref = source.get(kind)
                if not ref:
                    continue
                obj = self.kubelet.store.get(store_key, ns, ref.get("name", ""))
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError(f'{store_key[:-1]} "{ref.get("name")}" not found')
                for k, v in (obj.get("data") or {}).items():
                    env[prefix + k] = (
                        base64.b64decode(v).decode(errors="replace") if kind == "secretRef" else v
                    )
        for item in spec.get("env") or []:
            name = item.get("name", "")
            if "value" in item or "valueFrom" not in item:
                env[name] = expand_var_refs(str(item.get("value", "")), env)
                continue
            env[name] = self._value_from(item["valueFrom"], ns)
        return env

    def _value_from(self, source: dict, ns: str) -> str:
        for kind, store_key in (("configMapKeyRef", "configmaps"), ("secretKeyRef", "secrets")):
            ref = source.get(kind)
            if not ref:
                continue
            obj = self.kubelet.store.get(store_key, ns, ref.get("name", ""))
            data = (obj or {}).get("data") or {}
            if obj is None or ref.get("key") not in data:
                if ref.get("optional"):
                    return ""
                if obj is None:
                    raise ConfigError(f'{store_key[:-1]} "{ref.get("name")}" not found')
                raise ConfigError(
                    f"couldn't find key {ref.get('key')} in {KIND_NAMES[store_key]} {ns}/{ref.get('name')}"
                )
            value = data[ref["key"]]
            return base64.b64decode(value).decode(errors="replace") if kind == "secretKeyRef" else value
        field_ref = source.get("fieldRef")
        if field_ref:
            path = field_ref.get("fieldPath", "")
            meta = self.pod["metadata"]
            simple = {
                "metadata.name": meta["name"],
                "metadata.namespace": meta["namespace"],
                "metadata.uid": meta["uid"],
                "spec.nodeName": self.pod["spec"].get("nodeName", ""),
                "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName", ""),
                "status.podIP": self.ip,
                "status.hostIP": self.kubelet.host_ip(self.pod),
            }
            if path in simple:
                return simple[path]
            m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
            if m:
                return (meta.get(m.group(1)) or {}).get(m.group(2), "")
        return ""

    # -- probes ------------------------------------------------------------------------------
    def _probe(self, c: ContainerRun, now: float) -> None:
        """Run the probes that are due, each at most every PROBE_MIN_INTERVAL real seconds.

        A result that equals the probe's previous one stands for every period in between (the
        answer held at both ends), so the consecutive-result counts, and with them the moment a
        threshold is crossed, follow the simulated clock as at one probe per period. A probe
        that is counting towards a threshold is run again exactly when the threshold would be
        reached, so a kill or a Ready change happens at its simulated time; only a change of
        the container's answer is seen up to PROBE_MIN_INTERVAL late.

        Liveness and readiness probes that ask the same question (the same action, as the
        chart's /health probes do) share one request when both are due, and a probe held back
        only by the floor rides along with its due sibling; so they stay in step."""
        order = ("startupProbe",) if not c.started else ("livenessProbe", "readinessProbe")
        probes = {kind: c.spec[kind] for kind in order if c.spec.get(kind)}
        due = {kind for kind in probes if now >= c.probe_due.get(kind, 0)}
        if not due:
            return
        asked = {_probe_action(probes[kind]) for kind in due}
        for kind, probe in probes.items():
            last = c.probe_last.get(kind)
            if (
                kind not in due
                and last is not None
                and _probe_action(probe) in asked
                and now - last[0] >= self._scaled(probe.get("periodSeconds", 10))
            ):
                due.add(kind)  # past its own period, held back by the floor only
        answers: dict[str, ProbeResult] = {}
        for kind in order:
            if kind not in due:
                continue
            probe = probes[kind]
            period = self._scaled(probe.get("periodSeconds", 10))
            action = _probe_action(probe)
            result = answers.get(action)
            if result is None:
                timeout = self._scaled(probe.get("timeoutSeconds", 1))
                result = answers[action] = run_probe(probe, c.spec, self.ip, timeout)
            previous = c.probe_last.get(kind)
            c.probe_last[kind] = (now, result.ok)
            times = 1
            if previous is not None and previous[1] == result.ok and period > 0:
                times = max(1, round((now - previous[0]) / period))
            if result.ok:
                c.failures[kind] = 0
                c.successes[kind] = c.successes.get(kind, 0) + times
                if kind == "startupProbe":
                    c.started = True
                    c.ready = "readinessProbe" not in c.spec
                elif kind == "readinessProbe" and c.successes[kind] >= probe.get("successThreshold", 1):
                    c.ready = True
                to_go = probe.get("successThreshold", 1) - c.successes[kind]
                c.probe_due[kind] = now + self._probe_interval(
                    period, to_go if kind == "readinessProbe" and not c.ready else 0
                )
                continue
            c.successes[kind] = 0
            c.failures[kind] = c.failures.get(kind, 0) + times
            threshold = probe.get("failureThreshold", 3)
            to_go = threshold - c.failures[kind]
            c.probe_due[kind] = now + self._probe_interval(
                period, to_go if kind != "readinessProbe" or c.ready else 0
            )
            label = {"startupProbe": "Startup", "livenessProbe": "Liveness", "readinessProbe": "Readiness"}[
                kind
            ]
            self._event("Unhealthy", f"{label} probe failed: {result.message}", "Warning", c, count=times)
            if c.failures[kind] < threshold:
                continue
            if kind == "readinessProbe":
                c.ready = False
                continue
            what = "startup" if kind == "startupProbe" else "liveness"
            self._event("Killing", f"Container {c.name} failed {what} probe, will be restarted", "Normal", c)
            self._kill(c)
            return

    def _probe_interval(self, period: float, to_go: int) -> float:
        """Real seconds until a probe's next run: its period, stretched to the real-time floor,
        but not past the moment ``to_go`` more equal results would cross its threshold."""
        floor = self.kubelet.probe_min_interval
        if to_go > 0:
            floor = min(floor, to_go * period)
        return max(period, floor)

    def _kill(self, c: ContainerRun) -> None:
        if c.ctx is not None:
            c.ctx.stop.set()
        if c.thread is not None:
            c.thread.join(timeout=10)
            if c.thread.is_alive():
                log.warning("container %s of %s/%s did not stop within 10s", c.name, *self.key)

    def _kill_all(self, why: str) -> None:
        for c in self.containers:
            if c.running:
                log.debug("stopping %s of %s/%s: %s", c.name, *self.key, why)
                self._kill(c)

    def _terminate(self, pod: dict) -> None:
        for c in self.containers:
            if c.running:
                self._event("Killing", f"Stopping container {c.name}", container=c)
        self._kill_all("pod deleted")
        try:
            self.kubelet.registry.delete(
                PODS, self.key[0], self.key[1], grace_period_seconds=0, preconditions={"uid": self.uid}
            )
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise

    # -- status ------------------------------------------------------------------------------
    def _container_status(self, c: ContainerRun) -> dict:
        status = {
            "name": c.name,
            "image": c.spec.get("image", ""),
            "imageID": "",
            "ready": c.ready and c.running,
            "started": c.started and c.running,
            "restartCount": c.restart_count,
            "state": copy.deepcopy(c.state),
            "lastState": copy.deepcopy(c.last_state),
        }
        if c.ever_started:
            digest = hashlib.sha256(status["image"].encode()).hexdigest()
            status["imageID"] = f"{status['image'].split(':')[0]}@sha256:{digest}"
            status["containerID"] = c.container_id
        return status

    def _write_status(self, initial: bool = False) -> None:
        pod = self._current()
        if pod is None or pod["metadata"].get("uid") != self.uid:
            return
        statuses = [self._container_status(c) for c in self.containers]
        node_ready = self.kubelet.node_ready(pod["spec"].get("nodeName", ""))
        containers_ready = bool(statuses) and all(s["ready"] for s in statuses)
        all_ready = containers_ready and node_ready
        unready = [s["name"] for s in statuses if not s["ready"]]
        phase = self._phase(statuses)
        old = pod.get("status") or {}
        conditions = {c["type"]: c for c in old.get("conditions") or []}
        now = now_rfc3339()
        host_ip = self.kubelet.host_ip(pod)

        def condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict:
            previous = conditions.get(kind)
            value = "True" if ok else "False"
            cond = {
                "type": kind,
                "status": value,
                "lastProbeTime": None,
                "lastTransitionTime": previous["lastTransitionTime"]
                if previous and previous.get("status") == value
                else now,
            }
            if not ok and reason:
                cond["reason"], cond["message"] = reason, message
            return cond

        why = f"containers with unready status: [{' '.join(unready)}]" if unready else ""
        new_conditions = [
            condition("PodReadyToStartContainers", True),
            condition("Initialized", True),
            condition("Ready", all_ready, "ContainersNotReady" if unready else "NodeNotReady", why),
            condition("ContainersReady", containers_ready, "ContainersNotReady", why),
        ]
        if "PodScheduled" in conditions:
            new_conditions.append(conditions["PodScheduled"])
        status = {
            **old,
            "phase": phase,
            "conditions": new_conditions,
            "hostIP": host_ip,
            "hostIPs": [{"ip": host_ip}],
            "podIP": self.ip,
            "podIPs": [{"ip": self.ip}],
            "startTime": old.get("startTime") or now,
            "containerStatuses": statuses,
        }
        if _same_status(old, status):
            return
        updated = {**pod, "status": status}
        try:
            written = self.kubelet.registry.update(PODS, self.key[0], self.key[1], updated, KUBELET, "status")
            self.written_rv = written["metadata"].get("resourceVersion", "")
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise

    def _phase(self, statuses: list[dict]) -> str:
        if not any(c.ever_started for c in self.containers):
            return "Pending"
        policy = self.pod["spec"].get("restartPolicy", "Always")
        if policy != "Always" and all("terminated" in s["state"] for s in statuses):
            return (
                "Succeeded" if all(s["state"]["terminated"]["exitCode"] == 0 for s in statuses) else "Failed"
            )
        return "Running"


def _probe_action(probe: dict) -> str:
    """What a probe asks, and how long it waits for the answer: equal for probes one request serves."""
    keys = ("httpGet", "tcpSocket", "exec", "grpc", "timeoutSeconds")
    return json.dumps({k: probe.get(k) for k in keys}, sort_keys=True)


def _same_status(old: dict, new: dict) -> bool:
    """Equal but for condition timestamps that would not change anyway."""
    return json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True)


class Kubelet(Controller):
    """The kubelets of every sandbox node, in one controller."""

    name = "kubelet"
    resources = ("pods", "nodes")

    def __init__(
        self,
        registry: Registry,
        state_dir: Path,
        faults: Faults,
        clock: SimClock,
        pod_network: str = "127.1",
        probe_min_interval: float = PROBE_MIN_INTERVAL,
    ) -> None:
        super().__init__(registry)
        self.probe_min_interval = probe_min_interval
        self.pod_network = pod_network  # "127.X": pods get 127.X.0.2 upwards
        self.faults = faults
        self.clock = clock
        self.logs = LogStore(state_dir / "logs")
        self.workers: dict[str, PodWorker] = {}
        self._lock = threading.Lock()
        self._ips: dict[str, str] = {}
        self._next_ip = 2
        self._images: dict[str, set[str]] = {}
        self._last_heartbeat = 0.0

    # -- shared state ------------------------------------------------------------------------
    def allocate_ip(self, uid: str) -> str:
        """A pod IP never handed out before in this process (unless the range wraps around):
        a container still stopping must not share its address with a new pod's."""
        with self._lock:
            if uid in self._ips:
                return self._ips[uid]
            used = set(self._ips.values())
            for _ in range(POD_IP_SLOTS):
                n = self._next_ip
                self._next_ip = 2 if n + 1 >= POD_IP_SLOTS else n + 1
                ip = f"{self.pod_network}.{n // 256}.{n % 256}"
                if ip not in used and n % 256 not in (0, 255):
                    self._ips[uid] = ip
                    return ip
        raise RuntimeError("pod IP range exhausted")

    def release_ip(self, uid: str) -> None:
        with self._lock:
            self._ips.pop(uid, None)

    def image_present(self, node: str, image: str) -> bool:
        with self._lock:
            return image in self._images.get(node, set())

    def mark_image(self, node: str, image: str) -> None:
        with self._lock:
            self._images.setdefault(node, set()).add(image)

    def node_ready(self, node: str) -> bool:
        fault = self.faults.get("node-not-ready")
        return not (fault and fault.get("node") == node)

    def host_ip(self, pod: dict) -> str:
        node = self.store.get("nodes", "", pod["spec"].get("nodeName", "")) or {}
        addresses = (node.get("status") or {}).get("addresses") or []
        return next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")

    def container(self, namespace: str, pod_name: str, container: str | None):
        """(worker, container run) for log reads; None when the pod has no worker here."""
        for worker in list(self.workers.values()):
            if worker.key == (namespace, pod_name):
                runs = worker.containers
                if container is None:
                    return worker, runs[0] if runs else None
                return worker, next((c for c in runs if c.name == container), None)
        return None

    # -- controller --------------------------------------------------------------------------
    def sync_all(self) -> None:
        for pod in self.store.list("pods")[0]:
            self._ensure_worker(pod)
        self._heartbeat(force=True)

    def on_event(self, event: StoredEvent, obj: dict) -> None:
        if event.resource == "nodes":  # its readiness decides its pods' Ready condition
            name = obj["metadata"].get("name")
            for worker in list(self.workers.values()):
                if worker.pod["spec"].get("nodeName") == name:
                    worker.wake.set()
            return
        uid = obj["metadata"].get("uid", "")
        if event.type == DELETED:
            worker = self.workers.pop(uid, None)
            if worker is not None:
                worker.stop.set()
            return
        worker = self.workers.get(uid)
        if worker is not None:
            if str(event.rv) != worker.written_rv:  # not just its own status write coming back
                worker.wake.set()
            return
        self._ensure_worker(obj)

    def tick(self) -> None:
        self._heartbeat()

    def _ensure_worker(self, pod: dict) -> None:
        uid = pod["metadata"].get("uid", "")
        node = pod["spec"].get("nodeName")
        if not node or uid in self.workers or self.store.get("nodes", "", node) is None:
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        worker = PodWorker(self, pod)
        self.workers[uid] = worker
        worker.start()

    def _heartbeat(self, force: bool = False) -> None:
        now = time.monotonic()
        period = max(self.clock.real_seconds(NODE_STATUS_PERIOD), NODE_STATUS_MIN_INTERVAL)
        if not force and now - self._last_heartbeat < period:
            return
        self._last_heartbeat = now
        for node in self.store.list("nodes")[0]:
            self._report_node(node)

    def _report_node(self, node: dict) -> None:
        name = node["metadata"]["name"]
        ready = self.node_ready(name)
        status = copy.deepcopy(node.get("status") or {})
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        previous = conditions.get("Ready", {})
        value = "True" if ready else "Unknown"
        if previous.get("status") == value:
            return  # written on change only: the sandbox keeps its event log quiet
        now = now_rfc3339()
        conditions["Ready"] = {
            "type": "Ready",
            "status": value,
            "lastHeartbeatTime": now,
            "lastTransitionTime": previous.get("lastTransitionTime")
            if previous.get("status") == value
            else now,
            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
            "message": "kubelet is posting ready status" if ready else "Kubelet stopped posting node status.",
        }
        status["conditions"] = list(conditions.values())
        spec = copy.deepcopy(node.get("spec") or {})
        taints = [t for t in spec.get("taints") or [] if t.get("key") != "node.kubernetes.io/unreachable"]
        if not ready:
            taints.append({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": now})
        if taints:
            spec["taints"] = taints
        else:
            spec.pop("taints", None)
        try:
            if spec != (node.get("spec") or {}):
                node = self.registry.update(NODES, None, name, {**node, "spec": spec}, KUBELET)
            self.registry.update(NODES, None, name, {**node, "status": status}, KUBELET, "status")
        except ApiError as exc:
            if exc.code not in (404, 409):
                raise
