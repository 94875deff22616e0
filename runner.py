#!/usr/bin/env python3
"""Runbooks for the local-llm TTS service: `./runner.py --help`.

Thin on purpose: make sure we run on the project's venv, then hand over to runbooks.cli.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent
VENV_DIR = REPO_ROOT / ".venv"
VENV_PYTHON = VENV_DIR / "bin" / "python"
_REEXEC_MARK = "TTS_RUNBOOKS_REEXEC"


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV_DIR.resolve()


def _ensure_venv() -> None:
    """Re-execute with .venv/bin/python (pinned ansible-runner and ansible) unless already in it."""
    if _in_venv():
        return
    if not VENV_PYTHON.exists() or os.environ.get(_REEXEC_MARK):
        print("runner.py: the project's virtualenv is missing: run `make setup` first", file=sys.stderr)
        sys.exit(2)
    os.environ[_REEXEC_MARK] = "1"  # a broken venv must not loop forever
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    _ensure_venv()
    sys.path.insert(0, str(REPO_ROOT))
    from runbooks.cli import main

    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("runner.py: interrupted", file=sys.stderr)
        sys.exit(130)
