"""What a run did, per host: counts from the stats event, product facts from ``set_stats``,
the failure message; the exit code; the human summary and the ``--json`` document.

Contract with the playbooks
---------------------------
* **Product facts.** Roles publish facts with ``ansible.builtin.set_stats`` and
  ``per_host: true``; the keys runner.py reports are :data:`PRODUCT_FACTS`
  (``revision_before``, ``revision_after``, ``tts_pod``, ``health``, ``speech_latency_ms``,
  ``diagnosis``, ``values_changed``, ``rolled_back``, ``pitfall_findings``); any other key is
  reported as well.
  ansible-runner 2.4 puts only the run-wide (``per_host: false``) data into the
  ``playbook_on_stats`` event's ``artifact_data`` (its callback reads
  ``stats.custom['_run']``), so per-host facts are taken from the ``ansible_stats`` that each
  set_stats task result carries (``res.ansible_stats = {data, per_host, aggregate}``).
  When a key is published twice the later value wins (dicts are merged): these are facts,
  not counters, so Ansible's ``aggregate`` addition (which would add two revision numbers)
  is not applied. Run-wide data, if any, is reported as ``run_facts``.
* **Configuration errors.** A role that finds the configuration unusable (unreadable
  values file, unreachable cluster, wrong context, bad token, ...) fails with a message that
  starts with ``CONFIG:``. A run whose failed hosts all failed that way exits 2 (usage or
  configuration error) instead of 1; any other host failure or an unreachable host exits 1.
* **Exit codes.** 0 success, 1 a host failed or was unreachable, 2 usage or configuration
  error, 3 ``drift`` found drift (warn mode).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runbooks import EXIT_HOST_FAILED, EXIT_OK, EXIT_USAGE

PRODUCT_FACTS = (
    "revision_before",
    "revision_after",
    "tts_pod",
    "health",
    "speech_latency_ms",
    "diagnosis",
    "values_changed",
    "rolled_back",
    "pitfall_findings",
)
CONFIG_ERROR_PREFIX = "CONFIG:"
_COUNTS = {
    "ok": "ok",
    "changed": "changed",
    "failures": "failed",
    "dark": "unreachable",
    "skipped": "skipped",
}
_RESERVED = {*_COUNTS.values(), "error", "rescued", "ignored", "started", "finished", "seconds"}
_TASK_RESULTS = ("runner_on_ok", "runner_on_failed", "runner_on_skipped", "runner_on_unreachable")


def failure_message(result: dict) -> str:
    """The most useful message of a failed task result (loop items included)."""
    message = result.get("msg")
    items = [item for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
    if items and (not message or message == "One or more items failed"):
        message = failure_message(items[0])
    if not message:
        message = result.get("stderr") or result.get("reason") or result.get("exception") or ""
    if isinstance(message, list | dict):
        message = json.dumps(message)
    return str(message).strip() or "(no message)"


def _set_stats_payloads(result: dict) -> Iterable[dict]:
    if isinstance(result.get("ansible_stats"), dict):
        yield result["ansible_stats"]
    for item in result.get("results") or []:  # set_stats in a loop
        if isinstance(item, dict) and isinstance(item.get("ansible_stats"), dict):
            yield item["ansible_stats"]


@dataclass
class RunRecord:
    """Collects, from the event stream, what the summary needs."""

    stats: dict[str, dict[str, int]] | None = None
    run_facts: dict[str, Any] = field(default_factory=dict)
    host_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    host_errors: dict[str, str] = field(default_factory=dict)
    hosts_seen: list[str] = field(default_factory=list)
    # When each host's first task started and its last one ended (forks run hosts side by side).
    host_windows: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)

    def observe(self, event: dict) -> None:
        kind = event.get("event")
        data = event.get("event_data") or {}
        host = data.get("host")
        if host and host not in self.hosts_seen:
            self.hosts_seen.append(host)
        if kind in _TASK_RESULTS and host:
            self._widen_window(host, data.get("start"), data.get("end"))
        if kind == "runner_on_ok" and host:
            for payload in _set_stats_payloads(data.get("res") or {}):
                self._publish(host, payload)
        elif kind in ("runner_on_failed", "runner_on_unreachable") and host:
            if not data.get("ignore_errors"):
                self.host_errors[host] = failure_message(data.get("res") or {})
        elif kind == "playbook_on_stats":
            self.stats = {key: dict(data.get(key) or {}) for key in (*_COUNTS, "rescued", "ignored")}
            artifact_data = data.get("artifact_data") or {}
            if isinstance(artifact_data, dict):
                self.run_facts.update(artifact_data)

    def _widen_window(self, host: str, start: str | None, end: str | None) -> None:
        try:
            begun, ended = datetime.fromisoformat(start or ""), datetime.fromisoformat(end or "")
        except ValueError:
            return  # an event without times (skipped before it ran) says nothing about the window
        if host in self.host_windows:
            first, last = self.host_windows[host]
            begun, ended = min(first, begun), max(last, ended)
        self.host_windows[host] = (begun, ended)

    def _publish(self, host: str, payload: dict) -> None:
        values = payload.get("data")
        if not isinstance(values, dict) or payload.get("per_host") is False:
            return  # run-wide data arrives in playbook_on_stats
        facts = self.host_facts.setdefault(host, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(facts.get(key), dict):
                facts[key] = {**facts[key], **value}
            else:
                facts[key] = value

    def hosts(self) -> list[str]:
        names = list(self.hosts_seen)
        for counts in (self.stats or {}).values():
            names += [name for name in counts if name not in names]
        return names


def host_summary(record: RunRecord, host: str) -> dict[str, Any]:
    stats = record.stats or {}
    summary: dict[str, Any] = {name: int(stats.get(key, {}).get(host, 0)) for key, name in _COUNTS.items()}
    facts = record.host_facts.get(host, {})
    summary.update({key: facts.get(key) for key in PRODUCT_FACTS})
    summary.update({key: value for key, value in facts.items() if key not in _RESERVED})
    failed = summary["failed"] or summary["unreachable"]
    summary["error"] = record.host_errors.get(host) if failed else None
    window = record.host_windows.get(host)
    summary["started"] = window[0].isoformat() if window else None
    summary["finished"] = window[1].isoformat() if window else None
    summary["seconds"] = round((window[1] - window[0]).total_seconds(), 1) if window else None
    return summary


def exit_code_for(hosts: dict[str, dict]) -> int:
    """0 all hosts fine; 2 every failed host failed with ``CONFIG:``; otherwise 1."""
    errors = [h.get("error") or "" for h in hosts.values() if h["failed"] or h["unreachable"]]
    if not errors:
        return EXIT_OK
    if all(error.startswith(CONFIG_ERROR_PREFIX) for error in errors):
        return EXIT_USAGE
    return EXIT_HOST_FAILED


def build_summary(command: str, record: RunRecord, artifacts: str | None, hosts: Iterable[str] = ()) -> dict:
    """The ``--json`` document. ``hosts``: selected hosts to list even if no event named them."""
    names = list(dict.fromkeys([*hosts, *record.hosts()]))
    per_host = {host: host_summary(record, host) for host in names}
    document: dict[str, Any] = {
        "command": command,
        "status": "ok" if exit_code_for(per_host) == EXIT_OK else "failed",
        "hosts": per_host,
        "artifacts": artifacts,
    }
    if record.run_facts:
        document["run_facts"] = record.run_facts
    return document


def error_summary(command: str, message: str, artifacts: str | None = None) -> dict:
    """The ``--json`` document of a run stopped by a usage or configuration error."""
    return {"command": command, "status": "error", "error": message, "hosts": {}, "artifacts": artifacts}


def format_human(summary: dict) -> str:
    """The summary block printed after the progress lines."""
    lines = [f"SUMMARY  {summary['command']}: {summary['status']}"]
    if summary.get("error"):
        lines.append(f"  error: {summary['error']}")
    width = max((len(host) for host in summary["hosts"]), default=0)
    for host, facts in summary["hosts"].items():
        counts = " ".join(
            f"{name}={facts[name]}" for name in ("ok", "changed", "failed", "unreachable", "skipped")
        )
        took = f"  {facts['seconds']}s" if facts.get("seconds") is not None else ""
        lines.append(f"  {host:<{width}}  {counts}{took}")
        lines += [f"  {'':<{width}}  {line}" for line in _fact_lines(facts)]
    if summary.get("artifacts"):
        lines.append(f"  artifacts: {summary['artifacts']}")
    return "\n".join(lines)


def _fact_lines(facts: dict) -> list[str]:
    lines = []
    before, after = facts.get("revision_before"), facts.get("revision_after")
    if before is not None or after is not None:
        lines.append(f"revision {_show(before)} -> {_show(after)}")
    parts = [
        f"{label} {_show(facts.get(key))}"
        for key, label in (
            ("values_changed", "values changed"),
            ("tts_pod", "pod"),
            ("health", "health"),
            ("rolled_back", "rolled back"),
        )
        if facts.get(key) is not None
    ]
    latency = facts.get("speech_latency_ms")
    if latency not in (None, []):
        shown = ", ".join(str(ms) for ms in latency) if isinstance(latency, list) else str(latency)
        parts.append(f"speech {shown} ms")
    if parts:
        lines.append(", ".join(parts))
    lines += diagnosis_lines(facts.get("diagnosis"))
    for finding in facts.get("pitfall_findings") or ():  # let through by preflight (below fail_on)
        lines.append(
            f"{finding['severity']}: {finding['rule_id']}: {finding['message']} Fix: {finding['fix']}"
        )
    if facts.get("error") and facts.get("error") != facts.get("diagnosis"):
        lines.append(f"error: {facts['error']}")
    return lines


def diagnosis_lines(diagnosis: Any) -> list[str]:
    """The diagnosis as the playbooks publish it: a sentence, or the rollout's dict (cause_id, summary,
    evidence, fix, also); each secondary cause in ``also`` gets its own "also:" line."""
    if not diagnosis:
        return []
    if not isinstance(diagnosis, dict):
        return [f"diagnosis: {diagnosis}"]
    head = f"diagnosis: {diagnosis.get('cause_id', '?')}: {diagnosis.get('summary', '')}"
    if diagnosis.get("evidence"):
        head += f" (evidence: {diagnosis['evidence']})"
    lines = [head]
    if diagnosis.get("fix"):
        lines.append(f"fix: {diagnosis['fix']}")
    for other in diagnosis.get("also") or ():
        if isinstance(other, dict):
            line = f"also: {other.get('cause_id', '?')}: {other.get('summary', '')}"
            lines.append(line + (f" (evidence: {other['evidence']})" if other.get("evidence") else ""))
    return lines


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else str(value)
