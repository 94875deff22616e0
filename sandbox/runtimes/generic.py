"""The generic runtime: any image the sandbox does not model in detail.

It logs a start line, answers HTTP 200 ``ok`` on every container port at the pod IP for any path
and method until the kubelet stops it, then returns ``KILLED``. Without ports it just waits.
"""

from __future__ import annotations

from sandbox.runtimes.base import KILLED, ContainerSpec, RuntimeContext
from sandbox.runtimes.tts_server import HttpListener, OkHandler


class GenericContainer:
    def __init__(self, spec: ContainerSpec, ctx: RuntimeContext) -> None:
        self.spec = spec
        self.ctx = ctx

    def run(self) -> int:
        ports = ", ".join(str(p) for p in self.spec.ports) or "none"
        self.ctx.log(
            f"[sandbox] {self.spec.image}: started (generic runtime; answering 200 on ports: {ports})"
        )
        listeners: list[HttpListener] = []
        try:
            for port in self.spec.ports:
                try:
                    listeners.append(HttpListener(self.ctx.pod_ip, port, OkHandler, app=None))
                except OSError as exc:
                    self.ctx.log(f"[sandbox] cannot listen on {self.ctx.pod_ip}:{port}: {exc.strerror}")
                    return 1
            self.ctx.stop.wait()
            return KILLED
        finally:
            for listener in listeners:
                listener.close()


class GenericRuntime:
    name = "generic"

    def matches(self, image: str) -> bool:
        return True

    def create(self, spec: ContainerSpec, ctx: RuntimeContext) -> GenericContainer:
        return GenericContainer(spec, ctx)
