"""Which runtime runs an image: the vLLM runtime for vLLM's images, the generic one for the rest."""

from __future__ import annotations

from sandbox.runtimes.base import Runtime
from sandbox.runtimes.generic import GenericRuntime
from sandbox.runtimes.vllm import VllmRuntime

# Checked in order; the generic runtime takes whatever no specific runtime claims.
SPECIFIC_RUNTIMES: tuple[Runtime, ...] = (VllmRuntime(),)
FALLBACK_RUNTIME: Runtime = GenericRuntime()


def runtime_for(image: str) -> Runtime:
    return next((runtime for runtime in SPECIFIC_RUNTIMES if runtime.matches(image)), FALLBACK_RUNTIME)
