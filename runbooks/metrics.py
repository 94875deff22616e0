"""The drift run's Prometheus text file, for node_exporter's textfile collector.

Written atomically (temp file + rename in the same directory), as the collector may read it
at any moment. The last success time survives failed runs: it is carried over from the
previous file.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

LAYERS = ("values_file", "release", "live", "health")
_LAST_SUCCESS = re.compile(r'^tts_drift_last_success_timestamp_seconds\{cluster="([^"]*)"\} (\S+)$', re.M)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def previous_successes(path: Path) -> dict[str, float]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    return {cluster: float(value) for cluster, value in _LAST_SUCCESS.findall(text)}


def render(hosts: dict[str, dict], duration: float, now: float, previous: dict[str, float]) -> str:
    """``hosts``: the run summary's per-host dicts (``drift_counts``, ``failed``)."""
    lines = [
        "# HELP tts_drift_entries Differences found by the last drift run, per cluster and layer.",
        "# TYPE tts_drift_entries gauge",
    ]
    for cluster, host in sorted(hosts.items()):
        counts = host.get("drift_counts") or {}
        for layer in LAYERS:
            if layer in counts:
                lines.append(
                    f'tts_drift_entries{{cluster="{_escape(cluster)}",layer="{layer}"}} {int(counts[layer])}'
                )
    lines += [
        "# HELP tts_drift_last_run_timestamp_seconds When the last drift run ended.",
        "# TYPE tts_drift_last_run_timestamp_seconds gauge",
    ]
    lines += [
        f'tts_drift_last_run_timestamp_seconds{{cluster="{_escape(c)}"}} {now:.3f}' for c in sorted(hosts)
    ]
    lines += [
        "# HELP tts_drift_last_success_timestamp_seconds When a drift run last completed on the cluster.",
        "# TYPE tts_drift_last_success_timestamp_seconds gauge",
    ]
    for cluster, host in sorted(hosts.items()):
        ok = not host.get("failed") and not host.get("unreachable")
        last = now if ok else previous.get(cluster)
        if last is not None:
            lines.append(
                f'tts_drift_last_success_timestamp_seconds{{cluster="{_escape(cluster)}"}} {last:.3f}'
            )
    lines += [
        "# HELP tts_drift_run_duration_seconds Wall time of the last drift run.",
        "# TYPE tts_drift_run_duration_seconds gauge",
        f"tts_drift_run_duration_seconds {duration:.3f}",
    ]
    return "\n".join(lines) + "\n"


def write(path: Path, hosts: dict[str, dict], duration: float, now: float | None = None) -> None:
    text = render(hosts, duration, time.time() if now is None else now, previous_successes(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o644)  # the collector runs as another user
    os.replace(tmp, path)
