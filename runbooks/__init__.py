"""runner.py's machinery: the command table, ansible-runner invocation, progress, summary,
inventory and sandbox start, artifact hygiene.

Exit codes are shared by every command (see ``runner.py --help``).
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = REPO_ROOT / ".venv"
VENV_BIN = VENV_DIR / "bin"

EXIT_OK = 0
EXIT_HOST_FAILED = 1
EXIT_USAGE = 2
EXIT_DRIFT = 3  # `drift` without --fix: drift found
