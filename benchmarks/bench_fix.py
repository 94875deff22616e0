#!/usr/bin/env python3
"""Benchmark `runner.py fix` against fresh sandboxes: the whole fix, a no-op rerun, the seconds
from the first container crash to the diagnosis, and the fix's overhead over the pod's own
time to Ready. Prints numbers; asserts nothing.

Run: .venv/bin/python benchmarks/bench_fix.py [--time-scale X]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml
from _support import BIN, REPO, sandbox_down, tool_env, write_inventory

from runbooks.defaults import shipped_block


def fix(inv: Path, *args: str, on_line=None) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "runner.py"), "fix", "-i", str(inv), "--json", *args],
        cwd=REPO,
        env=tool_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stderr:
        if on_line:
            on_line(line)
    out = proc.stdout.read()
    proc.wait()
    return time.perf_counter() - start, proc.returncode, out


def kubectl_json(state: Path, *args: str) -> dict:
    out = subprocess.run(
        [str(BIN / "kubectl"), "--kubeconfig", str(state / "kubeconfig"), *args, "-o", "json"],
        capture_output=True,
        text=True,
        env=tool_env(),
    )
    return json.loads(out.stdout) if out.returncode == 0 else {}


def stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        good_state, bad_state = tmp / "good", tmp / "bad"
        try:
            inv = write_inventory(tmp / "inventory-good.yml", {"sandbox": good_state}, args.time_scale)
            took, code, _ = fix(inv)
            pod = kubectl_json(good_state, "get", "pods", "-l", "app.kubernetes.io/component=tts")["items"][0]
            ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
            pod_seconds = stamp(ready["lastTransitionTime"]) - stamp(pod["metadata"]["creationTimestamp"])
            print(
                f"fix from the incident: {took:.1f}s wall (exit {code}); the new pod's own time to Ready "
                f"{pod_seconds:.0f}s (1 s resolution) -> overhead of the fix {took - pod_seconds:.1f}s"
            )
            reruns = [fix(inv)[0] for _ in range(3)]
            print(f"no-op rerun: {min(reruns):.1f}s best, {sum(reruns) / len(reruns):.1f}s mean of 3")

            desired = shipped_block()
            desired["extraArgs"] = [a for a in desired["extraArgs"] if a != "--omni"]
            faulty = tmp / "faulty.yml"
            faulty.write_text(yaml.safe_dump({"tts_desired": desired, "tts_pitfalls_fail_on": "never"}))
            bad_inv = write_inventory(tmp / "inventory-bad.yml", {"sandbox": bad_state}, args.time_scale)
            first_crash: list[float] = []
            diagnosed: list[float] = []
            stop = threading.Event()

            def watch_crash() -> None:
                while not stop.is_set() and not first_crash:
                    for p in kubectl_json(
                        bad_state, "get", "pods", "-l", "app.kubernetes.io/component=tts"
                    ).get("items", []):
                        image = p["spec"]["containers"][0]["image"]
                        statuses = (p.get("status") or {}).get("containerStatuses") or []
                        if (
                            image.startswith("vllm/vllm-openai")
                            and statuses
                            and statuses[0]["restartCount"] >= 1
                        ):
                            first_crash.append(time.time())
                    time.sleep(0.05)

            def on_line(line: str) -> None:
                if "FAILED" in line and "Wait for the new TTS pod" in line and not diagnosed:
                    diagnosed.append(time.time())

            watcher = threading.Thread(target=watch_crash, daemon=True)
            watcher.start()
            took, code, out = fix(bad_inv, "-e", f"@{faulty}", on_line=on_line)
            stop.set()
            diagnosis = json.loads(out)["hosts"]["sandbox"].get("diagnosis") or ""
            if first_crash and diagnosed:
                print(
                    f"first crash -> diagnosis: {diagnosed[0] - first_crash[0]:.2f}s "
                    f"(crash seen by polling every 50 ms); faulty fix incl. rollback {took:.1f}s, exit {code}"
                )
            else:
                print(f"faulty fix: {took:.1f}s, exit {code}; crash or diagnosis not observed")
            print(f"diagnosis: {diagnosis[:120]}...")
        finally:
            for state in (good_state, bad_state):
                sandbox_down(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
