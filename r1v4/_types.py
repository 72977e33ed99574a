"""Wire types.

Requests are pydantic models: they are built once per call and validation there is what turns
bad input into a clear error before anything is sent. Responses and stream chunks are slotted
dataclasses filled straight from ``json.loads`` output: a stream has thousands of chunks, and a
validating model per chunk would cost more than the HTTP stack itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PositiveInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from r1v4._errors import InvalidRequestError
from r1v4._transcript import TranscriptEvent
from r1v4._transcript._image_uris import without_images

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatRequest",
    "Choice",
    "ChunkChoice",
    "ContentPart",
    "Delta",
    "FunctionDefinition",
    "ImagePart",
    "ImageURL",
    "InvalidToolCall",
    "Message",
    "Role",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallFunction",
    "ToolMode",
    "Usage",
    "build_request",
]

Role = Literal["system", "user", "assistant", "tool"]
ToolMode = Literal["auto", "native", "prompted"]
"""How tools reach the server: OpenAI ``tools`` (``native``), rendered into the prompt in
R1V4's own format (``prompted``), or native until the server refuses them (``auto``)."""

_JSON_SCHEMA_TYPES = frozenset(
    {"object", "array", "string", "number", "integer", "boolean", "null"}
)


class _Model(BaseModel):
    # defer_build: schemas are built on first validation, not at ``import r1v4``.
    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)


class TextPart(_Model):
    """A text part of a message's content."""

    type: Literal["text"] = "text"
    text: StrictStr


def _image_source(value: Any) -> str | os.PathLike[str]:
    if isinstance(value, (str, os.PathLike)):
        return value
    raise ValueError("an image url is a string (a data: URI or an http(s) URL) or an os.PathLike")


class ImageURL(_Model):
    """Where an image part's picture is."""

    url: Annotated[
        str | os.PathLike[str], PlainValidator(_image_source, json_schema_input_type=str)
    ]
    """A data URI or an http(s) URL; a local file as an ``os.PathLike`` (``pathlib.Path``), or
    as a string when the client allows it (``allow_file_paths``)."""
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(_Model):
    """An image. The client turns everything that is not yet a data URI into one before
    sending (the hosted API takes only those), under its rules for what a message may make it
    read or fetch (``allow_file_paths``, ``allow_private_urls``)."""

    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class ToolCallFunction(_Model):
    """The function a tool call calls: its name and its arguments as JSON text."""

    name: StrictStr
    arguments: StrictStr = "{}"


class ToolCall(_Model):
    """A call of one of your tools: in an assistant message sent back, or in a reply."""

    id: StrictStr
    type: Literal["function"] = "function"
    function: ToolCallFunction


class Message(_Model):
    """One message of a request: a role, text or content parts, and tool calls or results."""

    role: Role
    content: StrictStr | list[ContentPart] | None = None
    name: StrictStr | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: StrictStr | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        return self

    def text(self) -> str:
        """The message's text parts joined, images left out."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


class FunctionDefinition(_Model):
    """A tool's name, description and JSON-schema parameters (checked before sending)."""

    name: Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
    description: StrictStr | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _check_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        _check_json_schema(schema, "parameters")
        return schema


class Tool(_Model):
    """A tool the model may call, in the OpenAI form."""

    type: Literal["function"] = "function"
    function: FunctionDefinition


def _check_json_schema(schema: Any, where: str) -> None:
    """A structural check of the JSON-schema subset tool parameters use.

    Servers reject bad schemas with an opaque 400 (or worse, the model ignores them); catching the
    common mistakes here gives the caller a message naming the exact place.
    """
    if not isinstance(schema, dict):
        raise ValueError(f"{where} must be a JSON schema object, got {type(schema).__name__}")
    typ = schema.get("type")
    types = typ if isinstance(typ, list) else [typ] if typ is not None else []
    for t in types:
        if t not in _JSON_SCHEMA_TYPES:
            raise ValueError(f"{where}.type {t!r} is not a JSON schema type")
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, dict):
            raise ValueError(f"{where}.properties must be an object")
        for key, sub in props.items():
            _check_json_schema(sub, f"{where}.properties.{key}")
    required = schema.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(r, str) for r in required)
    ):
        raise ValueError(f"{where}.required must be a list of property names")
    items = schema.get("items")
    if isinstance(items, dict):
        _check_json_schema(items, f"{where}.items")
    for combo in ("anyOf", "oneOf", "allOf"):
        subs = schema.get(combo)
        if subs is not None:
            if not isinstance(subs, list):
                raise ValueError(f"{where}.{combo} must be a list of schemas")
            for i, sub in enumerate(subs):
                _check_json_schema(sub, f"{where}.{combo}[{i}]")


class ChatRequest(_Model):
    """One chat completion request: every body field the client knows, plus ``extra_body``."""

    model: StrictStr
    messages: Annotated[list[Message], Field(min_length=1)]
    stream: bool = False
    enable_search: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: PositiveInt | None = None
    stop: StrictStr | list[StrictStr] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    """``{"type": "json_object"}`` or ``{"type": "json_schema", ...}`` (vLLM, SGLang)."""
    stream_options: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None
    tool_mode: ToolMode | None = None
    """Overrides the client's tool mode for this request; never sent."""

    def tool_names(self) -> frozenset[str]:
        """The names of the request's tools."""
        return frozenset(t.function.name for t in self.tools or ())

    def to_body(self) -> dict[str, Any]:
        """The JSON body to send. Unset optional fields are left out, not sent as null."""
        body = self.model_dump(
            exclude_none=True, exclude={"extra_body", "tool_mode"}, by_alias=True
        )
        if self.extra_body:
            body.update(self.extra_body)
        return body


def build_request(**fields: Any) -> ChatRequest:
    """Build a :class:`ChatRequest`, turning validation failures into :class:`InvalidRequestError`.

    Adapters call this so a bad role, an empty message list or ``max_tokens=0`` reaches the user
    as one typed, readable error before any request is made.
    """
    try:
        return ChatRequest.model_validate(fields)
    except ValidationError as exc:
        raise InvalidRequestError(_describe_validation(exc)) from None


def _describe_validation(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        lines.append(f"{loc or 'request'}: {err['msg']}")
    return "invalid chat request: " + "; ".join(lines[:8])


# --------------------------------------------------------------------------- responses


@dataclass(slots=True)
class Usage:
    """Tokens a call used, as the server counted them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Usage:
        """The usage of a wire ``usage`` object (its details' reasoning and cached tokens)."""
        details = data.get("completion_tokens_details") or {}
        prompt_details = data.get("prompt_tokens_details") or {}
        prompt = data.get("prompt_tokens") or 0
        completion = data.get("completion_tokens") or 0
        return cls(
            prompt_tokens=prompt,
            completion_tokens=completion,
            total_tokens=data.get("total_tokens") or prompt + completion,
            reasoning_tokens=details.get("reasoning_tokens"),
            cached_tokens=prompt_details.get("cached_tokens"),
        )

    def to_dict(self, names: Mapping[str, str | tuple[str, str]] | None = None) -> dict[str, Any]:
        """The counts as a dict: the three totals always, ``reasoning_tokens`` and
        ``cached_tokens`` only when the server reported them.

        Args:
            names: a framework's key for a field (``{"prompt_tokens": "input_tokens"}``), or
                the two keys of a nested one (``{"cached_tokens": ("input_token_details",
                "cache_read")}``); a field not named keeps its own name.

        Returns:
            A new dict of ints (and dicts of ints, for nested keys), JSON-safe.
        """
        out: dict[str, Any] = {}
        for name in _USAGE_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            key = names.get(name, name) if names else name
            if isinstance(key, tuple):
                out.setdefault(key[0], {})[key[1]] = value
            else:
                out[key] = value
        return out


_USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cached_tokens",
)


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a native tool call; pieces with the same ``index`` join into one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class InvalidToolCall:
    """A tool call the model wrote but whose arguments are not valid JSON."""

    id: str
    name: str | None
    arguments: str
    error: str


@dataclass(slots=True)
class Delta:
    """What one chunk adds to a choice.

    ``content`` is answer text only: reasoning (from ``reasoning_content``, ``reasoning`` or
    inline ``<think>``) is in ``reasoning``, and R1V4's server-side trace (tool calls,
    observations, sources, plans) is in ``events``. ``raw_content`` is the content exactly as
    the server sent it. ``invalid_tool_calls``: calls of a bound tool the model wrote as text
    that could not be read, with the id the whole reply gives them too. ``transcript``, on a
    choice's last delta only: the whole content as sent, when it is not just the answer (what
    ``history="transcript"`` sends back), so a consumer need not keep its own copy; images the
    server generated are ``[generated image omitted]`` there (they are in ``events``).
    """

    role: str | None = None
    content: str | None = None
    reasoning: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    events: list[TranscriptEvent] | None = None
    raw_content: str | None = None
    invalid_tool_calls: list[InvalidToolCall] | None = None
    transcript: str | None = None


@dataclass(slots=True)
class ChunkChoice:
    """One choice of a streamed chunk: what its ``delta`` adds, and why it finished."""

    index: int
    delta: Delta
    finish_reason: str | None = None


@dataclass(slots=True)
class ChatCompletionChunk:
    """One chunk of a stream; the last may carry only ``usage``, with no choices."""

    id: str
    model: str
    created: int
    choices: list[ChunkChoice]
    usage: Usage | None = None


@dataclass(slots=True)
class AssistantMessage:
    """A whole reply: the answer in ``content``, ``reasoning``, calls of your tools, and the
    server's trace in ``events`` (``raw_content``: the content as the server sent it)."""

    content: str = ""
    reasoning: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    invalid_tool_calls: list[InvalidToolCall] = field(default_factory=list)
    events: list[TranscriptEvent] = field(default_factory=list)
    raw_content: str = ""
    role: str = "assistant"

    @property
    def transcript(self) -> str | None:
        """``raw_content`` when it is not just the answer, else ``None``; generated images
        left out, as on :attr:`Delta.transcript`."""
        raw = self.raw_content
        return without_images(raw) if raw and raw != self.content else None


@dataclass(slots=True)
class Choice:
    """One choice of a reply."""

    index: int
    message: AssistantMessage
    finish_reason: str | None = None


@dataclass(slots=True)
class ChatCompletion:
    """A reply, as ``create()`` returns it and :func:`accumulate` gathers a stream into."""

    id: str
    model: str
    created: int
    choices: list[Choice]
    usage: Usage | None = None

    @property
    def message(self) -> AssistantMessage:
        """The first choice's message (R1V4 answers with one)."""
        return self.choices[0].message
