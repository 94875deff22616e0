"""Do a container's logs show the bootstrap's progress markers, in order, and none of the known errors?

Pure; used by the filter plugin ``local_llm.tts.log_findings`` and unit-tested directly.
"""

from __future__ import annotations

from collections.abc import Iterable


def log_findings(log_text: str, markers: Iterable[str], forbidden: Iterable[str] = ()) -> dict:
    """``missing``: markers absent from the log; ``out_of_order``: the present markers do not appear in
    the given order (each is looked for after the previous one's first occurrence);
    ``forbidden_found``: forbidden strings that do appear."""
    text = log_text or ""
    markers = [str(m) for m in markers or []]
    missing = [m for m in markers if m not in text]
    positions = [text.index(m) for m in markers if m in text]
    out_of_order = positions != sorted(positions)
    forbidden_found = [f for f in (str(f) for f in forbidden or []) if f in text]
    return {"missing": missing, "out_of_order": out_of_order, "forbidden_found": forbidden_found}
