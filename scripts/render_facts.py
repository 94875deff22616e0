#!/usr/bin/env python3
"""Render docs/facts.md from docs/facts.yml (the one facts table); `--check` exits 1 when it is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
FACTS_YML = ROOT / "docs" / "facts.yml"
FACTS_MD = ROOT / "docs" / "facts.md"
KINDS = ("pitfalls", "diagnosis", "sandbox")


def load_facts(path: Path = FACTS_YML) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["facts"]


def _source(source: dict) -> str:
    parts = [source.get("artefact", "")]
    if source.get("file"):
        parts.append(f"`{source['file']}`" + (f" line {source['line']}" if source.get("line") else ""))
    if source.get("version") and str(source["version"]) not in parts[0]:
        parts.append(f"version {source['version']}")
    if source.get("log"):
        parts.append(f"log `tests/fixtures/upstream/{source['log']}`")
    return "; ".join(part for part in parts if part)


def render(facts: list[dict]) -> str:
    lines = [
        "# Facts",
        "",
        "Generated from `docs/facts.yml` by `python scripts/render_facts.py`; edit the YAML, not this page.",
        "Code, comments and docs cite these ids. Status: verified (checked against the artefact),",
        "unclear (modelled conservatively), brief (from the project brief), plan (the user's requirement),",
        "assumption (about the user's chart), kubernetes (Kubernetes' documented behaviour).",
        "",
        "| id | status | used by |",
        "|---|---|---|",
    ]
    for fact in facts:
        used = "; ".join(
            f"{kind}: {', '.join(fact['used_by'][kind])}" for kind in KINDS if fact["used_by"].get(kind)
        )
        lines.append(f"| [{fact['id']}](#{fact['id']}) | {fact['status']} | {used} |")
    for fact in facts:
        lines += ["", f"## {fact['id']}", "", fact["claim"].strip(), "", f"- status: {fact['status']}"]
        lines.append(f"- source: {_source(fact['source'])}")
        if fact.get("signature"):
            lines.append(f"- log signature: `{fact['signature']}`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/facts.md is not up to date")
    args = parser.parse_args(argv)
    text = render(load_facts())
    if args.check:
        current = FACTS_MD.read_text(encoding="utf-8") if FACTS_MD.exists() else ""
        if current != text:
            print("docs/facts.md is stale: run python scripts/render_facts.py", file=sys.stderr)
            return 1
        return 0
    tmp = FACTS_MD.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(FACTS_MD)
    return 0


if __name__ == "__main__":
    sys.exit(main())
