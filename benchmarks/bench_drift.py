#!/usr/bin/env python3
"""Benchmark `runner.py drift`: check time for 1, 3 and 10 clusters (sandboxes, seeded with the
incident, so every cluster reports drift), and the wall time of a no-change drift run on a
fixed cluster; for comparison, the same clusters checked one run at a time. Prints numbers;
asserts nothing.

Run: .venv/bin/python benchmarks/bench_drift.py [--clusters 1 3 10] [--time-scale X] [--no-sequential]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import REPO, sandbox_down, tool_env, write_inventory


def runner(command: str, inv: Path, *args: str) -> tuple[float, int, dict]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(REPO / "runner.py"), command, "-i", str(inv), "--json", *args],
        cwd=REPO,
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    try:
        summary = json.loads(result.stdout)
    except ValueError:
        summary = {}
    return took, result.returncode, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clusters", type=int, nargs="+", default=[1, 3, 10])
    parser.add_argument("--time-scale", type=float, default=600)
    parser.add_argument(
        "--sequential",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time each multi-cluster check as one run per cluster (default: on)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        states: dict[str, Path] = {}
        try:
            for count in args.clusters:
                while len(states) < count:
                    states[f"c{len(states) + 1:02d}"] = tmp / f"c{len(states) + 1:02d}"
                inv = write_inventory(
                    tmp / f"inv-{count}.yml", dict(list(states.items())[:count]), args.time_scale
                )
                runner("status", inv)  # starts and seeds the sandboxes outside the measurement
                took, code, summary = runner("drift", inv)
                drifted = sum(1 for h in summary.get("hosts", {}).values() if h.get("drift_counts"))
                print(
                    f"drift check, {count:2d} cluster(s): {took:6.1f}s wall (exit {code}, "
                    f"{drifted} reported drift)",
                    flush=True,
                )
                if count > 1 and args.sequential:
                    one_by_one = [runner("drift", inv, "--limit", name)[0] for name in list(states)[:count]]
                    print(
                        f"  the same {count} one run at a time: {sum(one_by_one):6.1f}s "
                        f"({', '.join(f'{t:.1f}' for t in one_by_one)})",
                        flush=True,
                    )
            one = write_inventory(tmp / "inv-fixed.yml", {"c01": states["c01"]}, args.time_scale)
            runner("fix", one)
            runs = [runner("drift", one)[:2] for _ in range(3)]
            print(
                f"no-change drift run (1 fixed cluster): {min(t for t, _ in runs):.1f}s best of 3 "
                f"(exit codes {[c for _, c in runs]})",
                flush=True,
            )
        finally:
            for state in states.values():
                sandbox_down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
