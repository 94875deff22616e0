"""docs/facts.yml, the one facts table: every rule cites facts that exist; each fact is used as it says."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from ansible_collections.local_llm.tts.plugins.module_utils import diagnosis, pitfalls

from sandbox.runtimes import vllm_rules
from scripts.render_facts import FACTS_YML, KINDS, load_facts, render

ROOT = Path(__file__).resolve().parents[2]
FACTS = load_facts()
FACT_IDS = {fact["id"] for fact in FACTS}
STATUSES = {"verified", "unclear", "brief", "plan", "assumption", "kubernetes"}


def cited_by_code() -> dict[str, dict[str, set[str]]]:
    """kind -> rule name -> fact ids, as the code's own tables cite them."""
    cited: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in KINDS}
    for rule_id, rule in pitfalls.RULES.items():
        cited["pitfalls"][rule_id].update(rule.facts)
    for rule in diagnosis.RULES:
        cited["diagnosis"][rule.cause_id].update(rule.facts)
    for name, facts in vllm_rules.SANDBOX_CITATIONS.items():
        cited["sandbox"][name].update(facts)
    return cited


def declared_by_table() -> dict[str, dict[str, set[str]]]:
    declared: dict[str, dict[str, set[str]]] = {kind: defaultdict(set) for kind in KINDS}
    for fact in FACTS:
        for kind in KINDS:
            for name in fact["used_by"].get(kind) or ():
                declared[kind][name].add(fact["id"])
    return declared


def test_ids_unique_and_entries_complete():
    ids = [fact["id"] for fact in FACTS]
    assert len(ids) == len(set(ids)), "duplicate fact ids"
    for fact in FACTS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", fact["id"]), fact["id"]
        assert fact["status"] in STATUSES, fact["id"]
        assert fact["claim"].strip(), fact["id"]
        assert fact["source"].get("artefact"), f"{fact['id']}: no upstream artefact named"
        assert set(fact["used_by"]) <= set(KINDS), fact["id"]


def test_every_fact_is_used():
    unused = [fact["id"] for fact in FACTS if not any(fact["used_by"].get(kind) for kind in KINDS)]
    assert not unused, f"facts nothing depends on: {unused}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_rule_cites_existing_facts(kind):
    cited = cited_by_code()[kind]
    assert cited, f"no {kind} rules found"
    for name, facts in cited.items():
        assert facts, f"{kind} rule {name} cites no fact"
        assert facts <= FACT_IDS, f"{kind} rule {name} cites unknown facts {sorted(facts - FACT_IDS)}"


@pytest.mark.parametrize("kind", KINDS)
def test_table_and_code_agree(kind):
    """facts.yml's used_by lists are exactly what the code's rules cite, both ways."""
    cited = {name: facts for name, facts in cited_by_code()[kind].items()}
    declared = dict(declared_by_table()[kind])
    assert sorted(declared) == sorted(cited), f"{kind}: rules named in facts.yml vs in code"
    for name in cited:
        assert declared[name] == cited[name], f"{kind} {name}: facts.yml {declared[name]}, code {cited[name]}"


def test_log_signatures_are_diagnosed_by_the_causes_that_cite_them():
    for fact in FACTS:
        signature = fact.get("signature")
        causes = fact["used_by"].get("diagnosis") or []
        if not signature or not causes:
            continue
        patterns = [rule.pattern for rule in diagnosis.RULES if rule.cause_id in causes]
        assert any(re.search(p, signature) for p in patterns), f"{fact['id']}: {signature!r} matches none"


def test_fact_logs_exist():
    for fact in FACTS:
        log = fact["source"].get("log")
        if log:
            assert (ROOT / "tests" / "fixtures" / "upstream" / log).is_file(), f"{fact['id']}: {log} missing"


def test_facts_md_is_rendered_from_the_table():
    assert (ROOT / "docs" / "facts.md").read_text(encoding="utf-8") == render(load_facts(FACTS_YML))
    check = subprocess.run([sys.executable, "scripts/render_facts.py", "--check"], cwd=ROOT, check=False)
    assert check.returncode == 0


# Old-style citations ("fact 5", "BRIEF.md") point outside the repository; only ids are cited now.
_OLD_CITATION = re.compile(r"BRIEF\.md|\bfacts? \d+\b|\(fact \d|facts \d+(-\d+)?\b")
_CITING_FILES = ("collections", "roles", "playbooks", "runbooks", "sandbox", "scripts", "tests", "README.md")


def test_no_citations_of_the_old_brief():
    offenders = []
    for top in _CITING_FILES:
        paths = [ROOT / top] if top.endswith(".md") else (ROOT / top).rglob("*")
        for path in paths:
            if path.suffix not in (".py", ".yml", ".yaml", ".md", ".sh") or path == Path(__file__):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if _OLD_CITATION.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
