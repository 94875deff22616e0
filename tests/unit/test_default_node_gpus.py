"""The default GPU nodes carry GPU Feature Discovery's product label, per pool (preflight reads it)."""

from __future__ import annotations

from sandbox.default_nodes import default_nodes


def test_gpu_nodes_name_their_gpu_product_and_cpu_nodes_do_not():
    products: dict[str, set[str]] = {}
    for node in default_nodes("2026-01-01T00:00:00Z"):
        labels = node["metadata"]["labels"]
        pool = labels.get("memorysize", "cpu")
        products.setdefault(pool, set()).add(labels.get("nvidia.com/gpu.product", ""))
    assert products == {
        "cpu": {""},
        "16GB": {"Tesla-T4"},
        "24GB": {"NVIDIA-A10G"},  # g5 instances: A10G, as GFD names it
        "80GB": {"NVIDIA-A100-SXM4-80GB"},
    }
