#!/usr/bin/env python3
"""Benchmark the sandbox API server: request latency, a helm install/upgrade, memory.

Prints numbers; asserts nothing. Run: .venv/bin/python benchmarks/bench_apiserver.py [--requests N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import BIN, REPO, rss_mib, sandbox_down, sandbox_up, tool_env

CHART = REPO / "tests" / "fixtures" / "charts" / "twelve"


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="requests per verb (default 300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "sandbox"
        sandbox_up(state)
        try:
            endpoint = json.loads((state / "endpoint.json").read_text())
            token = (state / "pki" / "token").read_text().strip()
            context = ssl.create_default_context(cafile=str(state / "pki" / "ca.crt"))
            conn = http.client.HTTPSConnection("127.0.0.1", endpoint["port"], context=context)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            def call(
                method: str, path: str, body: dict | None = None, content_type: str | None = None
            ) -> float:
                h = dict(headers, **({"Content-Type": content_type} if content_type else {}))
                start = time.perf_counter()
                conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
                response = conn.getresponse()
                response.read()
                if response.status >= 300:
                    raise SystemExit(f"{method} {path} -> {response.status}")
                return (time.perf_counter() - start) * 1000

            base = "/api/v1/namespaces/default/configmaps"
            for i in range(50):
                call(
                    "POST",
                    base,
                    {"metadata": {"name": f"bench-{i}", "labels": {"bench": "yes"}}, "data": {"i": str(i)}},
                )
            results = {
                "get": [call("GET", f"{base}/bench-7") for _ in range(args.requests)],
                "list (52 objects)": [call("GET", base) for _ in range(args.requests)],
                "list -l bench=yes": [
                    call("GET", f"{base}?labelSelector=bench%3Dyes") for _ in range(args.requests)
                ],
                "merge patch": [
                    call("PATCH", f"{base}/bench-7", {"data": {"n": str(n)}}, "application/merge-patch+json")
                    for n in range(args.requests)
                ],
                "strategic patch": [
                    call(
                        "PATCH",
                        f"{base}/bench-8",
                        {"metadata": {"labels": {"n": str(n)}}},
                        "application/strategic-merge-patch+json",
                    )
                    for n in range(args.requests)
                ],
            }
            print(f"request latency over one keep-alive connection, {args.requests} requests each (ms):")
            for name, samples in results.items():
                print(
                    f"  {name:<20} p50 {statistics.median(samples):6.2f}   p99 {percentile(samples, 99):6.2f}"
                )

            env = tool_env(state)
            for helm in ("helm", "helm3"):
                timings = {}
                for verb, extra in (("install", []), ("upgrade", ["--set", "message=changed"])):
                    start = time.perf_counter()
                    subprocess.run(
                        [str(BIN / helm), verb, f"twelve-{helm}", str(CHART), *extra],
                        env=env,
                        check=True,
                        capture_output=True,
                    )
                    timings[verb] = time.perf_counter() - start
                print(
                    f"{helm} ({CHART.name}, 12 objects): install {timings['install']:.2f}s, "
                    f"upgrade {timings['upgrade']:.2f}s"
                )
            print(f"server memory (RSS): {rss_mib(endpoint['pid']):.1f} MiB")
        finally:
            sandbox_down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
