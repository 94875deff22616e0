"""Filter plugin ``local_llm.tts.log_findings``: check a log for ordered markers and forbidden text."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.local_llm.tts.plugins.module_utils.log_markers import log_findings

DOCUMENTATION = r"""
name: log_findings
short_description: Which bootstrap markers are missing or out of order, and which forbidden strings appear
description:
  - "C({{ log_text | local_llm.tts.log_findings(markers, forbidden) }}) returns a dict
    C({missing: [...], out_of_order: bool, forbidden_found: [...]})."
  - Markers must all appear, in the given order; forbidden strings must not appear.
options:
  _input:
    description: The log text.
    type: str
    required: true
  markers:
    description: Strings that must appear, in this order.
    type: list
    elements: str
    required: true
  forbidden:
    description: Strings that must not appear.
    type: list
    elements: str
    default: []
"""


def _log_findings(log_text, markers, forbidden=None):
    if not isinstance(markers, (list, tuple)):
        raise AnsibleFilterError("log_findings: markers must be a list of strings")
    if forbidden is not None and not isinstance(forbidden, (list, tuple)):
        raise AnsibleFilterError("log_findings: forbidden must be a list of strings")
    return log_findings(str(log_text or ""), markers, forbidden or [])


class FilterModule:
    def filters(self):
        return {"log_findings": _log_findings}
