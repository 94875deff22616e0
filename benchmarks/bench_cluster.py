#!/usr/bin/env python3
"""Benchmark the sandbox as a cluster: time from `helm upgrade` of a good TTS config to a
Ready pod, and the idle sandbox's CPU and memory with the seeded release running (`--seed
incident`: the example chart's six model-server pods, the TTS one crash-looping by design) at
time scales 60 and 600, so that other benchmarks know how much of a core the sandbox itself takes.

Prints numbers; asserts nothing. Run: .venv/bin/python benchmarks/bench_cluster.py [--time-scale X]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _support import (
    BIN,
    REPO,
    cpu_share,
    rss_mib,
    sandbox_down,
    sandbox_pid,
    sandbox_up,
    tool_env,
    wait_seeded_settled,
)

from runbooks.defaults import shipped_block

CHART = REPO / "examples" / "HelmChart" / "custom-chart"
FIXTURES = REPO / "tests" / "fixtures" / "tts"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=600, help="as the e2e tests use (default 600)")
    parser.add_argument("--idle-seconds", type=float, default=20, help="CPU sampling window (default 20)")
    parser.add_argument("--idle-samples", type=int, default=3, help="CPU windows per time scale (default 3)")
    parser.add_argument(
        "--idle-scales",
        default="60,600",
        help="time scales of the idle measurement, comma-separated (default 60,600)",
    )
    args = parser.parse_args()
    helm_upgrade_timings(args)
    for scale in (float(s) for s in args.idle_scales.split(",") if s.strip()):
        idle_cpu(scale, args.idle_seconds, args.idle_samples)
    return 0


def helm_upgrade_timings(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sandbox"
        sandbox_up(state, "--time-scale", str(args.time_scale))
        env = tool_env(state)
        try:
            shipped_overlay = Path(tmp) / "shipped-tts.yaml"
            shipped_overlay.write_text(yaml.safe_dump({"tts": shipped_block()}))
            values = [
                "-f",
                str(CHART / "values.yaml"),
                "-f",
                str(FIXTURES / "only-tts.yaml"),
                "-f",
                str(shipped_overlay),
            ]
            for helm in ("helm", "helm3"):
                release = f"bench-{helm}"
                start = time.perf_counter()
                subprocess.run(
                    [
                        str(BIN / helm),
                        "upgrade",
                        "--install",
                        release,
                        str(CHART),
                        *values,
                        "--wait",
                        "--timeout",
                        "300s",
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                )
                real = time.perf_counter() - start
                print(
                    f"{helm} upgrade --install of a good TTS config to Ready: {real:.2f}s real "
                    f"(= {real * args.time_scale / 60:.1f} simulated min at time scale {args.time_scale:g})"
                )
                subprocess.run(
                    [str(BIN / helm), "uninstall", release, "--wait"],
                    env=env,
                    check=True,
                    capture_output=True,
                )
        finally:
            sandbox_down(state)


def idle_cpu(time_scale: float, seconds: float, samples: int) -> None:
    """CPU of the sandbox server process alone (/proc/<pid>/stat), idle with the seeded release."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sandbox"
        sandbox_up(state, "--seed", "incident", "--time-scale", f"{time_scale:g}")
        env = tool_env(state)
        try:
            pid = sandbox_pid(state)
            pods = wait_seeded_settled(env)
            shares = [cpu_share(pid, seconds) for _ in range(samples)]
            listed = ", ".join(f"{share:.1f}" for share in shares)
            print(
                f"idle sandbox at time scale {time_scale:g} with the seeded release ({len(pods)} pods, "
                f"tts crash-looping): CPU {statistics.median(shares):.1f}% of one core (median of "
                f"{samples} x {seconds:g}s: {listed}), memory (RSS) {rss_mib(pid):.1f} MiB"
            )
        finally:
            sandbox_down(state)


if __name__ == "__main__":
    sys.exit(main())
