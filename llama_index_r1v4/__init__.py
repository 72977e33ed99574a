"""Skywork R1V4 for LlamaIndex: ``R1V4``, a ``FunctionCallingLLM`` over the ``r1v4`` core.

Import it as ``from llama_index_r1v4 import R1V4`` or, following LlamaIndex's naming,
``from llama_index.llms.r1v4 import R1V4``.
"""

from llama_index_r1v4._accessors import get_images, get_plan, get_sources
from llama_index_r1v4._builtin_tools import tool_backend
from llama_index_r1v4._images import GeneratedImageBlock
from llama_index_r1v4._plans import plan_runner
from llama_index_r1v4.base import R1V4

__all__ = [
    "R1V4",
    "GeneratedImageBlock",
    "get_images",
    "get_plan",
    "get_sources",
    "plan_runner",
    "tool_backend",
]
