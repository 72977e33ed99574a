"""LangChain integration of Skywork R1V4: ``ChatR1V4``.

Importing this package also registers the ``"skywork"`` content-block translator, which is how
``output_version="v1"`` and ``message.content_blocks`` show R1V4's reasoning and server trace.
"""

from langchain_r1v4._accessors import get_images, get_plan, get_sources
from langchain_r1v4._builtin_tools import tool_backend
from langchain_r1v4._plans import plan_runner
from langchain_r1v4.chat_models import ChatR1V4

__all__ = ["ChatR1V4", "get_images", "get_plan", "get_sources", "plan_runner", "tool_backend"]
