"""``from llama_index.llms.r1v4 import R1V4``: LlamaIndex's naming for ``llama_index_r1v4``.

A pure re-export. ``llama_index`` and ``llama_index.llms`` are namespace packages shared with
llama-index-core and the other integrations, so this distribution ships no ``__init__.py`` in
either of them.
"""

from llama_index_r1v4 import (
    R1V4,
    GeneratedImageBlock,
    get_images,
    get_plan,
    get_sources,
    plan_runner,
    tool_backend,
)

__all__ = [
    "R1V4",
    "GeneratedImageBlock",
    "get_images",
    "get_plan",
    "get_sources",
    "plan_runner",
    "tool_backend",
]
