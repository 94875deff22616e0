#!/usr/bin/env python3
"""Benchmark the sandbox as a cluster: time from `helm upgrade` of a good TTS config to a
Ready pod, and the sandbox's CPU and memory with the whole example release running.

Prints numbers; asserts nothing. Run: .venv/bin/python benchmarks/bench_cluster.py [--time-scale X]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import BIN, REPO, cpu_seconds, rss_mib, sandbox_down, sandbox_up, tool_env

CHART = REPO / "examples" / "HelmChart" / "custom-chart"
FIXTURES = REPO / "tests" / "fixtures" / "tts"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=600, help="as the e2e tests use (default 600)")
    parser.add_argument("--idle-seconds", type=float, default=10, help="CPU sampling window (default 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sandbox"
        sandbox_up(state, "--time-scale", str(args.time_scale))
        env = tool_env(state)
        try:
            pid = json.loads((state / "endpoint.json").read_text())["pid"]
            values = [
                "-f",
                str(CHART / "values.yaml"),
                "-f",
                str(FIXTURES / "only-tts.yaml"),
                "-f",
                str(FIXTURES / "good.yaml"),
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
            subprocess.run(
                [
                    str(BIN / "helm"),
                    "upgrade",
                    "--install",
                    "local-llm",
                    str(CHART),
                    "-f",
                    str(CHART / "values.yaml"),
                ],
                env=env,
                check=True,
                capture_output=True,
            )
            time.sleep(5)  # let the release's pods start (the tts pod keeps crash-looping, as seeded)
            before, started = cpu_seconds(pid), time.perf_counter()
            time.sleep(args.idle_seconds)
            share = (cpu_seconds(pid) - before) / (time.perf_counter() - started)
            pods = (
                subprocess.run(
                    [str(BIN / "kubectl"), "get", "pods", "--no-headers"],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()
            )
            print(
                f"with the example release running ({len(pods)} pods, tts crash-looping): "
                f"CPU {share * 100:.1f}% of one core, memory (RSS) {rss_mib(pid):.1f} MiB"
            )
        finally:
            sandbox_down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
