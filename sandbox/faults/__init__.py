"""Faults injected into a running sandbox, switchable at run time.

The active faults live in ``<state-dir>/faults.json`` (written atomically by
``python -m sandbox fault ...``); every component reads them through ``Faults``, which
re-reads the file when it changes, so a switch takes effect within a moment and survives
a restart. Each fault is a name with parameters; ``KNOWN`` documents them.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

# name -> (what it does, parameters with their defaults)
KNOWN: dict[str, tuple[str, dict[str, object]]] = {
    "api-errors": ("answer a share of API requests with a 5xx Status", {"rate": 0.2, "code": 500}),
    "api-latency": ("delay every API request", {"ms": 200}),
    "drop-watches": ("end every watch stream after a few seconds", {"after_seconds": 2.0}),
    "node-not-ready": ("mark a node NotReady (its kubelet stops reporting)", {"node": ""}),
    "image-pull-failure": ("fail pulls of one image (ErrImagePull, then ImagePullBackOff)", {"image": ""}),
    "flash-attn-build-failure": ("fail flash-attn source builds (--no-build-isolation) minutes in", {}),
    "slow-model-load": ("multiply vLLM model load time", {"factor": 10.0}),
    "health-flapping": ("make /health alternate between 200 and 503", {"period_seconds": 5.0}),
    # vLLM's /health answers 503 when check_health() raises EngineDeadError: the API process lives on
    # after its engine core died (vllm/entrypoints/openai/api_server.py, the health route).
    "engine-dead": ("make /health answer 503 after the model loaded (engine dead, server alive)", {}),
}


# Two writes within one file-system timestamp tick (a whole second on some file systems) leave
# the same mtime: a file changed this recently is read again rather than trusted by its mtime.
RECENT_NS = 2_000_000_000


class FaultError(ValueError):
    pass


def parse_params(name: str, pairs: list[str]) -> dict[str, object]:
    """``key=value`` words into typed parameters, checked against the fault's defaults."""
    if name not in KNOWN:
        raise FaultError(f"unknown fault {name!r}; known: {', '.join(sorted(KNOWN))}")
    defaults = KNOWN[name][1]
    params = dict(defaults)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in defaults:
            allowed = ", ".join(defaults) or "none"
            raise FaultError(f"fault {name}: bad parameter {pair!r}; parameters: {allowed}")
        default = defaults[key]
        try:
            params[key] = type(default)(value) if not isinstance(default, str) else value
        except ValueError:
            raise FaultError(
                f"fault {name}: {key} must be a {type(default).__name__}, got {value!r}"
            ) from None
    for key, value in params.items():
        if isinstance(value, str) and not value:
            raise FaultError(f"fault {name}: {key}=... is required")
    return params


class Faults:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "faults.json"
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._active: dict[str, dict] = {}

    def active(self) -> dict[str, dict]:
        with self._lock:
            try:
                mtime = self.path.stat().st_mtime_ns
            except FileNotFoundError:
                self._mtime, self._active = None, {}
                return {}
            if mtime != self._mtime or time.time_ns() - mtime < RECENT_NS:
                try:
                    self._active = json.loads(self.path.read_text())
                except (OSError, ValueError):
                    return self._active  # a half-visible file cannot happen (rename), but stay safe
                self._mtime = mtime
            return dict(self._active)

    def get(self, name: str) -> dict | None:
        return self.active().get(name)

    def set(self, name: str, params: dict) -> None:
        self._write({**self.active(), name: params})

    def clear(self, name: str | None = None) -> None:
        active = self.active()
        if name is not None and name not in active:
            raise FaultError(f"fault {name!r} is not active")
        self._write({} if name is None else {k: v for k, v in active.items() if k != name})

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".faults.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)
