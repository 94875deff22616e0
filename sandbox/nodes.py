"""Reading ``--nodes`` files: a YAML stream of ordinary ``v1 Node`` manifests, as KWOK takes."""

from __future__ import annotations

from pathlib import Path

import yaml


class NodesFileError(ValueError):
    pass


def load_nodes(path: Path) -> list[dict]:
    try:
        documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise NodesFileError(f"cannot read nodes file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise NodesFileError(f"nodes file {path} is not valid YAML: {exc}") from None
    nodes = []
    for index, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        where = f"{path}: document {index}"
        if not isinstance(doc, dict) or doc.get("kind") != "Node" or doc.get("apiVersion") != "v1":
            raise NodesFileError(f"{where}: expected a v1 Node manifest (apiVersion: v1, kind: Node)")
        name = (doc.get("metadata") or {}).get("name")
        if not isinstance(name, str) or not name:
            raise NodesFileError(f"{where}: metadata.name is required")
        nodes.append(doc)
    names = [n["metadata"]["name"] for n in nodes]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise NodesFileError(f"{path}: duplicate node names: {', '.join(duplicates)}")
    return nodes
