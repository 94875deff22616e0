"""What a run did, per host: counts from the stats event, product facts from ``set_stats``,
the failure message; the exit code; the human summary and the ``--json`` document.

Contract with the playbooks
---------------------------
* **Product facts.** The collection's whole modules (preflight, apply, verify, undo, ...) return
  them as ``tts_report`` in their results, ok or failed; per-host ``ansible.builtin.set_stats``
  payloads are read the same way; the keys runner.py reports are :data:`PRODUCT_FACTS`
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
* **Configuration errors.** A module that finds the configuration unusable (unreadable
  values file, unreachable cluster, wrong context, bad token, ...) fails with a message that
  starts with ``CONFIG:``. A run whose failed hosts all failed that way exits 2 (usage or
  configuration error) instead of 1; any other host failure or an unreachable host exits 1.
* **Exit codes.** 0 success, 1 a host failed or was unreachable, 2 usage or configuration
  error, 3 ``drift`` found drift (warn mode).
* **Human output.** Modules publish data (dicts, lists, scalars), never screen text or messages
  assembled in Jinja; :func:`format_human` renders every command's summary from the same facts
  ``--json`` prints, one section per kind of fact, each printed only when its facts are there:

  - the status screen (``release`` and ``rollout`` present: local_llm.tts.tts_status): release, namespace,
    revision and its helm status, chart, image, rollout, pod and node, phase (and the container's
    waiting/terminated reason ``state``), ready, restarts, age, health, the drift summary (non-zero
    ``drift_counts`` per layer, or ``drift_error`` when ``drift_checked`` is false), ``pending``
    (helm_pending's dict or null), ``events`` (strings, oldest first);
  - the rollback plan: ``history_revisions`` (helm history dicts; else the ``history`` lines) with
    the current (``revision_before``) and ``target_revision`` marked, ``target_chart``,
    ``target_image``, ``target_findings`` and ``forced``;
  - ``lint_findings`` (pitfall findings with ``source`` and ``line``);
  - drift entries (``drift``: local_llm.tts.drift's entries: layer, op, path, expected, actual,
    target, detail) with ``drift_counts``; ``drift_corrected``: what ``drift --fix`` corrected
    (the status screen shows only the summary);
  - then the generic facts: revision before -> after, values changed, pod, health, rolled back,
    verified, ``speech`` (service_check's entries: language, latency, audio length; else the bare
    ``speech_latency_ms``), the diagnosis, the ``pitfall_findings`` preflight let through, and
    the error.
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
HISTORY_SHOWN = 10  # helm history rows in the human rollback summary (--json has them all)
VALUE_SHOWN = 120  # characters of a drift entry's expected/actual value in the human summary
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
        if kind in ("runner_on_ok", "runner_on_failed") and host:
            result = data.get("res") or {}
            if isinstance(result.get("tts_report"), dict):  # our modules' facts, ok or failed
                self._publish(host, {"data": result["tts_report"]})
            for payload in _set_stats_payloads(result):
                self._publish(host, payload)
        if kind in ("runner_on_failed", "runner_on_unreachable") and host:
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
    """The summary block printed after the progress lines: per host its counts, then what the command
    found, rendered from the published facts (see "Human output" in the module docstring)."""
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
        lines += [f"  {'':<{width}}  {line}" for line in host_lines(facts)]
    if summary.get("artifacts"):
        lines.append(f"  artifacts: {summary['artifacts']}")
    return "\n".join(lines)


def host_lines(facts: dict) -> list[str]:
    """What one host's facts say, section by section; a section whose facts are absent prints nothing."""
    screen = is_status(facts)
    lines = status_lines(facts) if screen else []
    lines += rollback_lines(facts)
    lines += lint_lines(facts)
    if not screen:  # the status screen shows the drift summary only
        lines += drift_lines(facts)
    lines += _fact_lines(facts, screen)
    return lines


def is_status(facts: dict) -> bool:
    """Whether the facts are a status screen's (tts_status publishes the rollout and the release)."""
    return "rollout" in facts and "release" in facts


def status_lines(facts: dict) -> list[str]:
    """The status screen: one labelled line per fact, then the last events (oldest first)."""
    release = f"{_show(facts.get('release'))} (namespace {_show(facts.get('namespace'))})"
    pod = _show(facts.get("pod"))
    if facts.get("node"):
        pod += f" on {facts['node']}"
    phase = _show(facts.get("phase"))
    if facts.get("state"):
        phase += f" ({facts['state']})"
    rows = [
        ("release", release),
        ("revision", f"{_show(facts.get('revision'))} {_show(facts.get('release_status'))}"),
        ("chart", _show(facts.get("chart"))),
        ("image", _show(facts.get("image"))),
        ("rollout", _show(facts.get("rollout"))),
        ("pod", pod),
        ("phase", phase),
        ("ready", _show(facts.get("ready"))),
        ("restarts", _show(facts.get("restarts"))),
        ("age", _show(facts.get("age"))),
        ("health", _show(facts.get("health"))),
        ("drift", drift_summary(facts)),
        ("pending", pending_text(facts.get("pending"))),
    ]
    lines = [f"{label:<9} {value}" for label, value in rows]
    events = facts.get("events") or []
    lines.append(f"{'events':<9} {'(last ' + str(len(events)) + ', oldest first)' if events else 'none'}")
    lines += [f"  {event}" for event in events]
    return lines


def drift_summary(facts: dict) -> str:
    """``none``, the non-zero counts per layer (``live 2, release 1``), or why drift was not checked."""
    counts = facts.get("drift_counts")
    if not isinstance(counts, dict):
        error = facts.get("drift_error")
        return f"not checked: {error}" if error else "not checked"
    found = [f"{layer} {count}" for layer, count in counts.items() if count]
    return ", ".join(found) if found else "none"


def pending_text(pending: Any) -> str:
    if not pending:
        return "none"
    if not isinstance(pending, dict):
        return str(pending)
    text = f"{pending.get('status', 'pending')} at revision {_show(pending.get('revision'))}"
    if pending.get("rollback_to"):
        text += f" (--recover-pending rolls back to {pending['rollback_to']})"
    return text


def drift_lines(facts: dict) -> list[str]:
    """The drift command's entries, one line each, with the counts per layer first."""
    lines = []
    entries = facts.get("drift")
    if isinstance(entries, list) and ("drift_counts" in facts or entries):
        counts = facts.get("drift_counts") or {}
        shown = ", ".join(f"{layer} {count}" for layer, count in counts.items())
        lines.append(
            f"drift: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"
            + (f" ({shown})" if shown else "")
        )
        lines += [f"  {drift_entry_line(entry)}" for entry in entries if isinstance(entry, dict)]
    corrected = facts.get("drift_corrected")
    if isinstance(corrected, list) and corrected:
        lines.append(f"corrected: {len(corrected)} entr{'y' if len(corrected) == 1 else 'ies'}")
        lines += [f"  {drift_entry_line(entry)}" for entry in corrected if isinstance(entry, dict)]
    return lines


def drift_entry_line(entry: dict) -> str:
    """``layer  Kind/name  op path: expected X, actual Y (detail)``; a side the op says is absent shows
    as ``(absent)``."""
    op = entry.get("op", "?")
    target = entry.get("target") or {}
    where = f"{target.get('kind')}/{target.get('name')} " if target else ""
    expected = "(absent)" if op == "add" else _value(entry.get("expected"))
    actual = "(absent)" if op == "remove" else _value(entry.get("actual"))
    line = f"{entry.get('layer', '?')}  {where}{op} {entry.get('path', '')}"
    line += f": expected {expected}, actual {actual}"
    return line + (f" ({entry['detail']})" if entry.get("detail") else "")


def lint_lines(facts: dict) -> list[str]:
    """The lint command's findings, compiler style: ``source:line: severity: rule: message Fix: fix``."""
    findings = facts.get("lint_findings")
    if not isinstance(findings, list):
        return []
    if not findings:
        return ["lint: no known pitfalls"]
    by_severity: dict[str, int] = {}
    for finding in findings:
        by_severity[finding.get("severity", "?")] = by_severity.get(finding.get("severity", "?"), 0) + 1
    counted = ", ".join(f"{count} {severity}" for severity, count in sorted(by_severity.items()))
    return [f"lint: {len(findings)} finding(s) ({counted})"] + [f"  {finding_line(f)}" for f in findings]


def finding_line(finding: dict) -> str:
    """One known-pitfall finding, compiler style: where (``source:line`` when lint knows the line, else
    the source and the values path, or the path alone), severity, rule, message and fix."""
    source, line, path = finding.get("source"), finding.get("line"), finding.get("path")
    if source and line:
        where = f"{source}:{line}: "
    elif source and path:
        where = f"{source} ({path}): "
    elif source or path:
        where = f"{source or path}: "
    else:
        where = ""
    return (
        f"{where}{finding.get('severity', '?')}: {finding.get('rule_id', '?')}: {finding.get('message', '')} "
        f"Fix: {finding.get('fix', '')}"
    )


def rollback_lines(facts: dict) -> list[str]:
    """The rollback's plan: helm history (current and target marked), the target and its findings."""
    if facts.get("target_revision") is None and not facts.get("history"):
        return []
    current, target = facts.get("revision_before"), facts.get("target_revision")
    lines = []
    revisions = facts.get("history_revisions")
    if isinstance(revisions, list) and revisions:
        shown = revisions[-HISTORY_SHOWN:]
        lines.append(
            f"history: {len(revisions)} revision(s)"
            + (f", last {len(shown)}" if len(shown) < len(revisions) else "")
        )
        rows = [
            (
                str(h.get("revision", "?")),
                str(h.get("status", "")),
                str(h.get("chart", "")),
                str(h.get("description", "")),
            )
            for h in shown
        ]
        widths = [max(len(row[i]) for row in [("REV", "STATUS", "CHART", ""), *rows]) for i in range(3)]
        lines.append(f"  {'REV':<{widths[0]}}  {'STATUS':<{widths[1]}}  {'CHART':<{widths[2]}}  DESCRIPTION")
        for h, row in zip(shown, rows, strict=True):
            mark = _history_mark(h.get("revision"), current, target)
            text = f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}{mark}"
            lines.append(text.rstrip())
    elif facts.get("history"):
        lines.append("history: REV  STATUS  CHART  DESCRIPTION")
        lines += [f"  {line}" for line in facts["history"][-HISTORY_SHOWN:]]
    if target is not None:
        text = f"target: revision {target}"
        details = [str(v) for v in (facts.get("target_chart"), facts.get("target_image")) if v]
        if details:
            text += f" ({', '.join(details)})"
        findings = facts.get("target_findings") or []
        if findings:
            text += f", {len(findings)} known pitfall(s)" + (
                ", rolled back to anyway (--force)" if facts.get("forced") else ""
            )
        lines.append(text)
        lines += [f"  {finding_line(f)}" for f in findings if isinstance(f, dict)]
    return lines


def _history_mark(revision: Any, current: Any, target: Any) -> str:
    marks = [
        name
        for name, value in (("current", current), ("target", target))
        if value is not None and str(revision) == str(value)
    ]
    return f"  <- {', '.join(marks)}" if marks else ""


def speech_line(speech: Any) -> str | None:
    """``speech: Chinese 812.3 ms (2.4 s audio), English 640.0 ms ...``: each request with its language
    (else the start of its text)."""
    if not isinstance(speech, list) or not speech:
        return None
    parts = []
    for item in speech:
        if not isinstance(item, dict):
            continue
        text = str(item.get("text") or "")
        label = item.get("language") or (repr(text[:24] + ("..." if len(text) > 24 else "")) if text else "?")
        part = f"{label} {_show(item.get('latency_ms'))} ms"
        if item.get("duration_seconds") is not None:
            part += f" ({item['duration_seconds']} s audio)"
        if item.get("ok") is False:
            part += f" FAILED: {item.get('error') or '?'}"
        parts.append(part)
    return "speech: " + ", ".join(parts) if parts else None


def _fact_lines(facts: dict, screen: bool = False) -> list[str]:
    lines = []
    before, after = facts.get("revision_before"), facts.get("revision_after")
    refused = after is None and facts.get("target_revision") is not None  # the history marks the current
    if (before is not None or after is not None) and not refused:
        lines.append(f"revision {_show(before)} -> {_show(after)}")
    shown_by_screen = ("tts_pod", "health") if screen else ()
    parts = [
        f"{label} {_show(facts.get(key))}"
        for key, label in (
            ("values_changed", "values changed"),
            ("tts_pod", "pod"),
            ("health", "health"),
            ("rolled_back", "rolled back"),
            ("verified", "verified"),
        )
        if facts.get(key) is not None and key not in shown_by_screen
    ]
    speech = speech_line(facts.get("speech"))
    latency = facts.get("speech_latency_ms")
    if speech is None and latency not in (None, []):
        shown = ", ".join(str(ms) for ms in latency) if isinstance(latency, list) else str(latency)
        parts.append(f"speech {shown} ms")
    if parts:
        lines.append(", ".join(parts))
    if speech:
        lines.append(speech)
    lines += diagnosis_lines(facts.get("diagnosis"))
    for finding in facts.get("pitfall_findings") or ():  # let through by preflight (below fail_on)
        lines.append(finding_line(finding))
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


def _value(value: Any, limit: int = VALUE_SHOWN) -> str:
    """A drift entry's value as compact JSON, cut at ``limit`` characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
