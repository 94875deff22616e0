"""The contract between the simulated kubelet and a runtime.

The kubelet pulls the image, then asks ``runtime_for(image)`` for a runtime and calls
``create(spec, ctx).run()`` in a thread of its own. ``run`` blocks for the life of the
container and returns its exit code. While running, a container serves real HTTP on
``ctx.pod_ip`` (a loopback address of its own, 127.x.y.z) and the container ports, so
probes and ``curl http://<podIP>:<port>/...`` reach it. It writes its output with
``ctx.log(line)`` and waits with ``ctx.clock.sleep(simulated_seconds)`` so that
``--time-scale`` compresses every duration. When ``ctx.stop`` is set (the kubelet kills
it) ``run`` must return promptly, with 137, closing its listeners.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sandbox.faults import Faults


@dataclass(frozen=True)
class ContainerSpec:
    namespace: str
    pod_name: str
    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # resolved values (valueFrom already looked up)
    ports: tuple[int, ...] = ()  # containerPort values


class SimClock:
    """Simulated time: every simulated duration is divided by the time scale."""

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale <= 0:
            raise ValueError("time scale must be greater than 0")
        self.time_scale = time_scale

    def real_seconds(self, simulated_seconds: float) -> float:
        return max(simulated_seconds, 0.0) / self.time_scale

    def sleep(self, simulated_seconds: float, stop: threading.Event) -> bool:
        """Wait; False when ``stop`` was set first."""
        return not stop.wait(self.real_seconds(simulated_seconds))


@dataclass
class RuntimeContext:
    pod_ip: str
    clock: SimClock
    log: Callable[[str], None]
    faults: Faults
    stop: threading.Event = field(default_factory=threading.Event)


class Container(Protocol):
    def run(self) -> int: ...


class Runtime(Protocol):
    name: str

    def matches(self, image: str) -> bool: ...

    def create(self, spec: ContainerSpec, ctx: RuntimeContext) -> Container: ...


KILLED = 137  # 128 + SIGKILL, what a killed container reports
