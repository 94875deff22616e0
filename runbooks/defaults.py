"""The runbooks' shipped defaults (roles/tts_common/defaults/main.yml): the one place they are read from
outside Ansible, e.g. the desired block for tests, benchmarks and scripts/check_bootstrap.py."""

from __future__ import annotations

from pathlib import Path

import yaml

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "roles" / "tts_common" / "defaults" / "main.yml"


def shipped_defaults() -> dict:
    return yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))


def shipped_block() -> dict:
    """``tts_desired`` as shipped: the block ``fix`` writes."""
    return shipped_defaults()["tts_desired"]
