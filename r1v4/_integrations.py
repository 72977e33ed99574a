"""What the adapters, the batch CLI and the report share, beside the public API.

A user of the core imports the top-level ``r1v4``: clients, settings, errors, wire types,
transcript events. The framework adapters (``langchain_r1v4``, ``llama_index_r1v4``), the batch
CLI (``r1v4.cli``) and the report (``r1v4.report``) need a little more: how a model object owns
its clients, the JSON-safe trace they store, the text an earlier reply sends back, the wire form
of a framework's tool choice, the rule joining streamed tool-call pieces, where the settings come
from. Each is defined by the module whose job it is and only gathered here; import-linter lets
these four packages, and nothing else, import this module (pyproject.toml), so it may change
with them, without a deprecation a user would need.
"""

from r1v4._accumulate import ToolCallMerger
from r1v4._config import (
    HOSTED_HOST,
    is_hosted,
    public_headers,
    resolve_api_key,
    resolve_base_url,
)
from r1v4._history import history_text
from r1v4._model_clients import ClientsHolder
from r1v4._model_options import ClientOptions
from r1v4._tool_calls import tool_choice, wire_tool_call
from r1v4._trace import Trace, image_from_dict, image_refs, plan_from_dicts, sources_from_dicts

__all__ = [
    "HOSTED_HOST",
    "ClientOptions",
    "ClientsHolder",
    "ToolCallMerger",
    "Trace",
    "history_text",
    "image_from_dict",
    "image_refs",
    "is_hosted",
    "plan_from_dicts",
    "public_headers",
    "resolve_api_key",
    "resolve_base_url",
    "sources_from_dicts",
    "tool_choice",
    "wire_tool_call",
]
