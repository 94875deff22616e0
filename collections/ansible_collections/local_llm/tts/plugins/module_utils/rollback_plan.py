"""Which revision a rollback goes to, and whether that revision's TTS config is safe to go back to.

``plan_rollback`` is pure: from ``helm history``, the current revision, the requested one (None: the
newest served revision before the current, as ``helm_cli.rollback_target`` decides) and the
target revision's values, it returns the target and the known-pitfall findings of its ``tts`` block
(``pitfalls.check_block``). ``read_plan`` runs the two helm reads it needs through ``HelmCli``:
``helm history -o json`` and ``helm get values --revision N --all -o json`` (all computed values: the
block the target's pods would really run, chart defaults included).
"""

from __future__ import annotations

from ansible_collections.local_llm.tts.plugins.module_utils.helm_cli import (
    PENDING_STATUSES,
    HelmCli,
    HelmError,
    rollback_target,
)
from ansible_collections.local_llm.tts.plugins.module_utils.pitfalls import check_block


def history_lines(history: list[dict]) -> list[str]:
    """``helm history`` as short lines: ``REV  STATUS  CHART  DESCRIPTION``."""
    return [
        f"{h.get('revision')}  {h.get('status')}  {h.get('chart')}  {h.get('description', '')}".rstrip()
        for h in history
    ]


def choose_target(history: list[dict], current: int, requested: int | None) -> int:
    """``requested`` (0 or None: the default target), refusing the current revision itself."""
    if requested and requested == current:
        raise HelmError(f"revision {requested} is the current revision: nothing to roll back to")
    return rollback_target(history, current, requested or None)


def plan_rollback(
    history: list[dict], current: int, status: str, requested: int | None, target_values: dict, key: str
) -> dict:
    target = choose_target(history, current, requested)
    block = (target_values or {}).get(key)
    findings = [f.as_dict() for f in check_block(block, key)] if isinstance(block, dict) else []
    entry = next((h for h in history if int(h["revision"]) == target), {})
    return {
        "current_revision": current,
        "status": status,
        "pending": status in PENDING_STATUSES,
        "target_revision": target,
        "target_chart": entry.get("chart"),
        "target_block_found": isinstance(block, dict),
        "target_image": _image(block),
        "findings": findings,
        "history": history,
        "history_lines": history_lines(history),
    }


def _image(block: object) -> str | None:
    image = block.get("image") if isinstance(block, dict) else None
    if not isinstance(image, dict):
        return None
    return f"{image.get('repository')}:{image.get('tag')}"


def read_plan(helm: HelmCli, requested: int | None, key: str) -> dict:
    metadata = helm.metadata()
    history = helm.history()
    current = int(metadata.get("revision", 0))
    target = choose_target(history, current, requested)
    values = helm.run_json("get", "values", helm.release, "--revision", str(target), "--all") or {}
    return plan_rollback(history, current, str(metadata.get("status", "")), target, values, key)
