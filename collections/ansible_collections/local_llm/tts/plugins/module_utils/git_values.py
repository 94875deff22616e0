"""Committing the values file, and only our change to it (the plan's commit step)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ansible_collections.local_llm.tts.plugins.module_utils.values_block import render


class GitValuesError(Exception):
    pass


def _git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise GitValuesError(
            f"git {' '.join(args[:2])} failed: {result.stderr.strip() or result.stdout.strip()}"
        )
    return result


def commit_values(path: str, key: str, block: dict, message: str, dry_run: bool = False) -> dict:
    """Commit ``path`` with ``message`` when its only uncommitted change is the ``key`` block
    set to ``block``. Returns {"changed", "commit", "reason"}; raises GitValuesError to refuse."""
    file = Path(path).resolve()
    top = _git(file.parent, "rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise GitValuesError(f"{file} is not in a git repository; nothing can be committed")
    repo = Path(top.stdout.strip())
    relative = file.relative_to(repo).as_posix()
    if not _git(repo, "status", "--porcelain", "--", relative).stdout.strip():
        return {"changed": False, "commit": None, "reason": "the values file has no uncommitted change"}
    committed = _git(repo, "show", f"HEAD:{relative}", check=False)
    if committed.returncode != 0:
        raise GitValuesError(
            f"{relative} is not in HEAD; commit it once by hand before the runbook commits fixes"
        )
    current = file.read_text(encoding="utf-8")
    if current != render(committed.stdout, key, block):
        raise GitValuesError(
            f"{relative} has uncommitted edits besides the {key} block; commit or revert them first "
            "(the runbook commits only its own change)"
        )
    if dry_run:
        return {"changed": True, "commit": None, "reason": "would commit the values file"}
    _git(repo, "commit", "--quiet", "-m", message, "--", relative)
    sha = _git(repo, "rev-parse", "HEAD").stdout.strip()
    return {"changed": True, "commit": sha, "reason": f"committed {relative}"}
