"""What `helm template` rendered for the TTS Deployment: its container's image and the text of
its command and args, whatever the chart's template layout."""

from __future__ import annotations

import yaml


def rendered_container(manifests: str, deployment: str) -> dict:
    """The first container of Deployment ``deployment`` in a multi-document manifest."""
    for doc in yaml.safe_load_all(manifests):
        if not isinstance(doc, dict) or doc.get("kind") != "Deployment":
            continue
        if (doc.get("metadata") or {}).get("name") != deployment:
            continue
        containers = (((doc.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        if not containers:
            break
        container = containers[0]
        env = {
            e.get("name"): str(e.get("value", "")) for e in container.get("env") or [] if isinstance(e, dict)
        }
        words = [str(w) for w in (container.get("command") or []) + (container.get("args") or [])]
        return {"found": True, "image": container.get("image", ""), "words": words, "env": env}
    return {"found": False, "image": "", "words": [], "env": {}}


def carries_args(container: dict, args: list) -> bool:
    """Whether the container passes every desired serve argument, in order, to vllm.

    Charts differ: args may be separate words, one shell script, or an env var the script
    expands; so the arguments are looked for, in order, in all of that text.
    """
    text = " ".join(container.get("words") or []) + " " + " ".join((container.get("env") or {}).values())
    position = 0
    for arg in args:
        found = text.find(str(arg), position)
        if found < 0:
            return False
        position = found + len(str(arg))
    return True
