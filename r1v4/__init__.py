"""r1v4: the framework-free core that speaks Skywork R1V4's wire protocol.

It knows HTTP, SSE, images, errors and R1V4's agentic transcript; it knows no framework.
``langchain_r1v4`` and ``llama_index_r1v4`` sit on top of it and only translate.

What is exported here is what a user of the core writes: the clients and their settings, the
errors, the wire types, the transcript's events and parser, ``accumulate`` and the image
helpers. What only the adapters, the CLI and the report need is in ``r1v4._integrations``.
"""

from typing import TYPE_CHECKING, Any

from r1v4._accumulate import ChunkAccumulator, accumulate
from r1v4._client import AsyncR1V4Client, R1V4Client
from r1v4._config import (
    DEFAULT_BACKOFF,
    DEFAULT_BASE_URL,
    DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_MODEL,
    DEFAULT_TIMEOUT,
    ClientSettings,
)
from r1v4._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ImageError,
    IncompleteStreamError,
    InvalidRequestError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    R1V4Error,
    RateLimitError,
    SandboxUnavailableError,
    ServerError,
    StreamError,
    UnprocessableEntityError,
)
from r1v4._history import History
from r1v4._transcript import (
    AnswerDelta,
    ClientToolCall,
    GeneratedImage,
    InvalidClientToolCall,
    Plan,
    PlanStep,
    ReasoningDelta,
    ServerToolCall,
    ServerToolResult,
    Source,
    TranscriptEvent,
    TranscriptIssue,
    TranscriptParser,
    parse_transcript,
)
from r1v4._types import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatRequest,
    Choice,
    ChunkChoice,
    Delta,
    FunctionDefinition,
    ImagePart,
    ImageURL,
    InvalidToolCall,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallFunction,
    ToolMode,
    Usage,
    build_request,
)

__version__ = "0.1.0"

# The image helpers load on first use (PEP 562): most calls send no image, and the module is
# among the costlier imports.
_LAZY = {
    "aimage_to_data_uri",
    "bytes_to_data_uri",
    "detect_image_mime",
    "image_to_data_uri",
    "is_data_uri",
    "is_remote_url",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from r1v4 import _images

        return getattr(_images, name)
    raise AttributeError(f"module 'r1v4' has no attribute {name!r}")


if TYPE_CHECKING:
    from r1v4._images import (
        aimage_to_data_uri,
        bytes_to_data_uri,
        detect_image_mime,
        image_to_data_uri,
        is_data_uri,
        is_remote_url,
    )

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_BASE_URL",
    "DEFAULT_IMAGE_DOWNLOAD_TIMEOUT",
    "DEFAULT_MAX_IMAGE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MODEL",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AnswerDelta",
    "AssistantMessage",
    "AsyncR1V4Client",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkAccumulator",
    "ChunkChoice",
    "ClientSettings",
    "ClientToolCall",
    "ConflictError",
    "Delta",
    "FunctionDefinition",
    "GeneratedImage",
    "History",
    "ImageError",
    "ImagePart",
    "ImageURL",
    "IncompleteStreamError",
    "InvalidClientToolCall",
    "InvalidRequestError",
    "InvalidToolCall",
    "MalformedResponseError",
    "Message",
    "NotFoundError",
    "PermissionDeniedError",
    "Plan",
    "PlanStep",
    "R1V4Client",
    "R1V4Error",
    "RateLimitError",
    "ReasoningDelta",
    "SandboxUnavailableError",
    "ServerError",
    "ServerToolCall",
    "ServerToolResult",
    "Source",
    "StreamError",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFunction",
    "ToolMode",
    "TranscriptEvent",
    "TranscriptIssue",
    "TranscriptParser",
    "UnprocessableEntityError",
    "Usage",
    "accumulate",
    "aimage_to_data_uri",
    "build_request",
    "bytes_to_data_uri",
    "detect_image_mime",
    "image_to_data_uri",
    "is_data_uri",
    "is_remote_url",
    "parse_transcript",
]
