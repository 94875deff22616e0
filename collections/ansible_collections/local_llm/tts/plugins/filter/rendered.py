"""Filters local_llm.tts.rendered_container and local_llm.tts.carries_args."""

from __future__ import annotations

from ansible_collections.local_llm.tts.plugins.module_utils.rendered import carries_args, rendered_container


class FilterModule:
    def filters(self) -> dict:
        return {"rendered_container": rendered_container, "carries_args": carries_args}
