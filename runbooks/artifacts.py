"""Per-run artifact directories (private, mode 0700) and secret scrubbing.

ansible-runner writes ``env/extravars``, ``env/cmdline``, ``command`` (which holds the whole
process environment), ``job_events/*.json``, ``stdout``, ``stderr`` and ``fact_cache/``
into each run's directory. We never put credentials into extravars or envvars (only
kubeconfig *paths*), but module results, error messages and the inherited environment can
still carry them, so every run directory is scrubbed when the run ends, and every line we
print goes through the same filter.

What counts as a secret: bearer tokens, ``token:`` / ``client-key-data:`` / password /
api-key values (YAML, JSON, escaped JSON or ``KEY=VALUE``), environment variables whose
name says TOKEN/SECRET/PASSWORD/KEY, PEM private keys, and the literal token and key
values read from the kubeconfigs this run uses. ``certificate-authority-data`` and
client certificates are public and are left alone.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import yaml

REDACTED = "<redacted>"
PRIVATE_MODE = 0o700

# Values shorter than this after a secret-named key are left alone, so prose such as
# "bad token: the server said 401" stays readable; real tokens and keys are long.
_MIN_SECRET_LENGTH = 8

_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
)
_BEARER = re.compile(r"(?i)(\bbearer\s+)(?!<redacted>)[A-Za-z0-9._~+/=-]+")
# A key whose name says it holds a secret, then `:` or `=`, then the value; optional
# quotes and JSON escaping (\") on both sides, as in job_events/*.json.
_SECRET_KEY_VALUE = re.compile(
    r"""(?ix)
    (
      (?:\\?["'])?
      [A-Za-z0-9_.-]*?
      (?:token(?!iz)|secret(?![_-]?(?:name|ref))|password|passwd|api[_-]?key|client[_-]key[_-]data|private[_-]?key|access[_-]?key)
      [A-Za-z0-9_.-]*
      (?:\\?["'])?
      \s*[:=]\s*
      (?:\\?["'])?
    )
    (?!<redacted>)
    ([A-Za-z0-9._~+/=:-]{MIN,})
    """.replace("MIN", str(_MIN_SECRET_LENGTH))
)


def new_run_dir(artifacts_root: Path, command: str, now: datetime | None = None) -> tuple[str, Path]:
    """Create ``artifacts_root/<UTC timestamp>-<command>`` (mode 0700) and return (ident, path)."""
    make_private_dir(artifacts_root)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{command}"
    for attempt in range(1, 1000):
        ident = base if attempt == 1 else f"{base}-{attempt}"
        path = artifacts_root / ident
        try:
            path.mkdir(mode=PRIVATE_MODE)
        except FileExistsError:
            continue  # two runs in the same second
        path.chmod(PRIVATE_MODE)  # mkdir's mode is filtered by the umask
        return ident, path
    raise RuntimeError(f"cannot create a run directory under {artifacts_root}")


def make_private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != PRIVATE_MODE:
        path.chmod(PRIVATE_MODE)


def kubeconfig_secrets(path: Path) -> set[str]:
    """Token, password and client-key values of a kubeconfig (raw and base64-decoded)."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return set()
    secrets: set[str] = set()
    users = config.get("users") if isinstance(config, dict) else None
    for entry in users or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for key in ("token", "password", "client-key-data"):
            value = user.get(key)
            if isinstance(value, str) and value:
                secrets.add(value)
        key_data = user.get("client-key-data")
        if isinstance(key_data, str):
            secrets.update(_decoded_pem_lines(key_data))
    return secrets


def _decoded_pem_lines(data: str) -> set[str]:
    try:
        pem = base64.b64decode(data).decode()
    except (ValueError, UnicodeDecodeError):
        return set()
    return {line for line in pem.splitlines() if len(line) >= _MIN_SECRET_LENGTH and "-----" not in line}


def scrub_text(text: str, known_secrets: Iterable[str] = ()) -> str:
    """``text`` with every secret replaced by ``<redacted>``."""
    for secret in sorted(set(known_secrets), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _PEM_PRIVATE_KEY.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    return _SECRET_KEY_VALUE.sub(lambda m: m.group(1) + REDACTED, text)


def scrub_tree(root: Path, known_secrets: Iterable[str] = ()) -> list[Path]:
    """Scrub every text file under ``root`` in place; return the files that changed."""
    secrets = set(known_secrets)
    changed: list[Path] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            path = Path(dirpath) / filename
            if path.is_symlink() or not path.is_file():
                continue
            try:
                original = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue  # binary or vanished: nothing we wrote as text
            cleaned = scrub_text(original, secrets)
            if cleaned != original:
                _rewrite_private(path, cleaned)
                changed.append(path)
    return changed


def _rewrite_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.scrub")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


class ScrubbingStream:
    """A text stream that scrubs what is written to it (ansible's raw output under -v)."""

    def __init__(self, target, known_secrets: Iterable[str] = ()) -> None:
        self._target = target
        self._secrets = set(known_secrets)

    def write(self, text: str) -> int:
        self._target.write(scrub_text(text, self._secrets))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return self._target.isatty()
