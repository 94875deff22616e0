from __future__ import annotations

from ansible_collections.local_llm.tts.plugins.filter.markers import FilterModule
from ansible_collections.local_llm.tts.plugins.module_utils.log_markers import log_findings

MARKERS = [
    "Cloning vllm-omni repository...",
    "Installing vllm-omni from source...",
    "Installing qwen-tts...",
    "Installing flash-attn...",
    "Bootstrap complete!",
]
GOOD_LOG = "Running bootstrap command: ...\n" + "\n".join(MARKERS) + "\nINFO Starting vLLM API server\n"
ERROR = "does not recognize this architecture"


def test_all_markers_in_order_and_nothing_forbidden():
    assert log_findings(GOOD_LOG, MARKERS, [ERROR]) == {
        "missing": [],
        "out_of_order": False,
        "forbidden_found": [],
    }


def test_missing_markers_are_listed_in_marker_order():
    log = "\n".join(MARKERS[:2])
    assert log_findings(log, MARKERS)["missing"] == MARKERS[2:]


def test_out_of_order():
    log = "\n".join([MARKERS[1], MARKERS[0], *MARKERS[2:]])
    result = log_findings(log, MARKERS)
    assert result["out_of_order"] is True and result["missing"] == []


def test_forbidden_found():
    result = log_findings(GOOD_LOG + f"ValueError: ... {ERROR}.\n", MARKERS, [ERROR, "undefined symbol"])
    assert result["forbidden_found"] == [ERROR]


def test_empty_inputs():
    assert log_findings("", [], []) == {"missing": [], "out_of_order": False, "forbidden_found": []}
    assert log_findings(None, MARKERS)["missing"] == MARKERS


def test_filter_plugin_exposes_the_same_function():
    log_findings_filter = FilterModule().filters()["log_findings"]
    assert log_findings_filter(GOOD_LOG, MARKERS, [ERROR]) == log_findings(GOOD_LOG, MARKERS, [ERROR])
