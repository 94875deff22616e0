from __future__ import annotations

import pytest

from sandbox.apiserver.selectors import (
    SelectorError,
    fields_match,
    labels_match,
    parse_field_selector,
    parse_label_selector,
    selector_from_label_selector,
)

LABELS = {"app": "tts", "tier": "gpu", "release": "local-llm"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("app=tts", True),
        ("app==tts", True),
        ("app=chat", False),
        ("app!=chat", True),
        ("missing!=x", True),
        ("app in (tts, chat)", True),
        ("app notin (tts)", False),
        ("missing notin (x)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=tts,tier=gpu", True),
        ("app=tts,tier in (cpu)", False),
        ("app.kubernetes.io/name", False),
    ],
)
def test_label_selectors(selector, expected):
    assert labels_match(parse_label_selector(selector), LABELS) is expected


@pytest.mark.parametrize("bad", ["app=(", "===", "a b", "!app=x", "bad key!=v", "app=not valid"])
def test_bad_label_selectors_raise(bad):
    with pytest.raises(SelectorError):
        parse_label_selector(bad)


def test_label_selector_object():
    reqs = selector_from_label_selector(
        {
            "matchLabels": {"app": "tts"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["gpu", "cpu"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert labels_match(reqs, LABELS)
    assert not labels_match(reqs, {**LABELS, "canary": "yes"})
    assert selector_from_label_selector(None) is None


POD = {
    "metadata": {"name": "tts-1", "namespace": "default"},
    "spec": {"nodeName": "gpu-1"},
    "status": {"phase": "Running"},
}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=tts-1", True),
        ("metadata.namespace!=default", False),
        ("spec.nodeName=gpu-1,status.phase=Running", True),
        ("status.phase==Pending", False),
        ("spec.nodeName=", False),
    ],
)
def test_pod_field_selectors(selector, expected):
    assert fields_match(parse_field_selector(selector, "Pod"), POD) is expected


def test_unsupported_field_is_named():
    with pytest.raises(SelectorError, match=r"field label not supported: spec\.nodeName"):
        parse_field_selector("spec.nodeName=x", "ConfigMap")
