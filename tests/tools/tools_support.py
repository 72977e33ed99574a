"""Helpers of the tools tests (imported by name: this folder has no package)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1v4.tools import ToolResult

RunCode = Callable[..., tuple[ToolResult, dict[str, Any]]]
"""``run_code(code, inputs=(), **limits)`` -> the result and its parsed observation."""
