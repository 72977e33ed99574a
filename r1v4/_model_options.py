"""What a framework model object carries for its core clients, and how it takes its keywords.

Both adapters' model classes inherit :class:`ClientOptions` (through
:class:`~r1v4._model_clients.ClientsHolder`). It is the one place that:

- declares the settings of :class:`~r1v4._config.ClientSettings` that both frameworks spell and
  default alike (``api_key`` and ``base_url`` are declared by each adapter: each framework reads
  them from the environment and serialises them its own way), and the options each call passes to
  the core (:data:`CALL_OPTIONS`); :meth:`ClientOptions.client_options`
  hands every parameter of ``ClientSettings`` on to the clients, so a setting added to the core is
  declared here once and reaches both adapters;
- sees every keyword a model object is built with, so that none is silently dropped
  (:func:`take_keywords`).
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from r1v4._config import (
    DEFAULT_BACKOFF,
    DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_IMAGE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientSettings,
    public_headers,
)
from r1v4._errors import InvalidRequestError
from r1v4._types import ToolMode

__all__ = ["CALL_OPTIONS", "CLIENT_SETTINGS", "ClientOptions", "take_keywords"]

CLIENT_SETTINGS: tuple[str, ...] = tuple(
    name
    for name, parameter in inspect.signature(ClientSettings).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY
)
"""The names of every setting :class:`~r1v4._config.ClientSettings` takes: what a model object
passes on to its clients."""

CALL_OPTIONS: tuple[str, ...] = ("builtin_tools",)
"""What :class:`ClientOptions` declares beside the client settings: options each call hands to
the core's ``create``/``stream`` (a call's own keyword overriding the model's)."""

# Body fields every call sets itself: a model-wide value would replace the conversation.
_SET_BY_EACH_CALL = frozenset({"messages", "stream"})

# Names other libraries use for a parameter these models spell differently. Too far from ours
# for difflib, and dangerous to send on: ``api_base`` dropped would send the key to the hosted
# API. Applies only where the model has no parameter of that name (R1V4 takes ``api_base``).
_OTHER_SPELLINGS: Mapping[str, str] = {
    "api_base": "base_url",
    "openai_api_base": "base_url",
    "openai_api_key": "api_key",
    "stop_sequences": "stop",
    "stream": "streaming",
}

# A keyword this close to a parameter (difflib's ratio, after case and "-" are ignored) is a
# misspelling. 0.85 catches ``temprature`` (0.95), ``base_uri`` (0.88), ``max_token`` (0.95)
# and ``api-key``, while ``top_k`` (0.8 from ``top_p``) and ``min_tokens`` (0.8 from
# ``max_tokens``), real fields of vLLM and SGLang, still go into the body.
_NEAR_MISS = 0.85
# So is another form of a parameter's word (``max_retry``, 0.8 from ``max_retries``): a common
# head of at least this many characters, then at most three letters apart on either side
# (``cache_salt``, a vLLM field, is not a form of ``cache``).
_STEM = 5

# Packages whose frames stand between a warning and the user's line that built the model.
_OWN_PACKAGES = (
    "r1v4",
    "langchain_r1v4",
    "llama_index_r1v4",
    "pydantic",
    "langchain_core",
    "llama_index",
)


class ClientOptions(BaseModel):
    """The client settings a framework model object carries, and its keyword rules.

    A subclass names the dict field that keywords it does not know go into
    (:attr:`extra_kwargs_field`); see :func:`take_keywords`.
    """

    # A refused keyword must not print what was given with it: the key, credential headers.
    model_config = ConfigDict(hide_input_in_errors=True)

    extra_kwargs_field: ClassVar[str] = ""
    """The dict field (sent in every request body) that keywords which are not parameters go
    into, with a warning; ``""`` leaves keywords to pydantic."""

    body_parameters: ClassVar[frozenset[str]] = frozenset()
    """Parameters that are request body fields too, which the extras dict may therefore set
    (LlamaIndex's ``additional_kwargs`` override the LLM's own fields); any other parameter
    found in the extras dict is refused."""

    timeout: float | None = Field(
        default=DEFAULT_TIMEOUT,
        gt=0,
        validation_alias=AliasChoices("timeout", "request_timeout"),
        description=(
            "Read timeout of a call, in seconds (R1V4 may think for minutes); connecting times "
            "out after 10 s. Also accepted as request_timeout."
        ),
    )
    max_retries: int = Field(
        default=DEFAULT_MAX_RETRIES,
        ge=0,
        description=(
            "Retries of connection errors, 408, 409, 429 and 5xx responses, with exponential "
            "backoff that honours Retry-After; done once, in the core client."
        ),
    )
    backoff: float = Field(
        default=DEFAULT_BACKOFF,
        ge=0,
        description=(
            "Seconds before the first retry, doubled for each further one (with jitter, at "
            "most 8 s); a Retry-After from the server takes precedence."
        ),
    )
    default_headers: dict[str, str] | None = Field(
        default=None,
        repr=False,
        description="Additional HTTP headers sent with every request.",
    )
    tool_mode: ToolMode = Field(
        default="auto",
        description=(
            "How tools reach the server: 'native' (OpenAI tools), 'prompted' (in the system "
            "message, as R1V4's chat template writes them) or 'auto' (prompted on the hosted "
            "API, native elsewhere until a server refuses them)."
        ),
    )
    stream_usage: bool = Field(
        default=True,
        description="Whether streams ask for token usage (stream_options.include_usage).",
    )
    max_image_bytes: int = Field(
        default=DEFAULT_MAX_IMAGE_BYTES,
        gt=0,
        description="The largest image sent, in decoded bytes; a larger one is refused.",
    )
    max_image_pixels: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Images with more pixels are downscaled to fit (aspect kept; needs Pillow, the "
            "'images' extra); None sends images at their size."
        ),
    )
    allow_file_paths: bool = Field(
        default=False,
        description=(
            "Whether a string image URL that is neither a data URI nor an http(s) URL is read "
            "as a local file path. Off by default, so a message relayed from a user cannot send "
            "a file off the host; an ImageBlock(path=...) is the caller's own and always read."
        ),
    )
    allow_private_urls: bool = Field(
        default=False,
        description=(
            "Whether image URLs may be fetched from non-public addresses (loopback, private "
            "networks, link-local such as cloud metadata, ...). Off by default: a URL is "
            "fetched only when every address its host resolves to is public, redirects "
            "included."
        ),
    )
    image_download_timeout: float = Field(
        default=DEFAULT_IMAGE_DOWNLOAD_TIMEOUT,
        gt=0,
        description="Seconds the image downloads of one call may take in all (concurrent).",
    )

    builtin_tools: Any = Field(
        default=None,
        exclude=True,
        description=(
            "An r1v4.tools.R1V4Tools: run R1V4's own tools (code in a sandbox, search, web "
            "pages) where the server does not, as a self-hosted model needs, continuing the "
            "reply until the model answers; None reports such calls as unanswered. A call may "
            "pass its own (builtin_tools=...)."
        ),
    )

    @field_validator("builtin_tools")
    @classmethod
    def _r1v4_tools(cls, value: Any) -> Any:
        from r1v4.tools import R1V4Tools

        if value is not None and not isinstance(value, R1V4Tools):
            raise ValueError(f"builtin_tools must be an r1v4.tools.R1V4Tools, got {value!r}")
        return value

    def call_builtin_tools(self, kwargs: dict[str, Any]) -> Any:
        """The tools a call runs R1V4's calls with: its own ``builtin_tools`` keyword (taken
        out of ``kwargs``, so it never reaches the request body), else the model's."""
        return kwargs.pop("builtin_tools", self.builtin_tools)

    @field_serializer("default_headers")
    def _public_headers(self, headers: dict[str, str] | None) -> dict[str, str] | None:
        # Credentials given as headers are as secret as api_key.
        return public_headers(headers)

    @model_validator(mode="before")
    @classmethod
    def _no_keyword_dropped(cls, data: Any) -> Any:
        if cls.extra_kwargs_field and isinstance(data, dict):
            return take_keywords(cls, data, cls.extra_kwargs_field, cls.body_parameters)
        return data

    def client_options(self) -> dict[str, Any]:
        """Every setting of :class:`~r1v4._config.ClientSettings`, from this object's fields."""
        return {name: getattr(self, name) for name in CLIENT_SETTINGS}


@dataclass(frozen=True)
class _Parameters:
    """A model class's parameters as keywords: each spelling the class accepts, and its field."""

    field_of: dict[str, str]
    """Spelling -> field name, for every field name and alias."""
    spellings: dict[str, tuple[str, ...]]
    """Field name -> the spellings it accepts, for fields with more than one."""
    folded: dict[str, str]
    """Spelling with case and "-" ignored -> spelling, to find misspellings."""


@cache
def _parameters(cls: type[BaseModel]) -> _Parameters:
    field_of: dict[str, str] = {}
    spellings: dict[str, tuple[str, ...]] = {}
    for name, info in cls.model_fields.items():
        names = [name]
        for alias in (info.alias, info.validation_alias):
            if isinstance(alias, str):
                names.append(alias)
            elif isinstance(alias, AliasChoices):
                names.extend(choice for choice in alias.choices if isinstance(choice, str))
        unique = tuple(dict.fromkeys(names))
        field_of.update(dict.fromkeys(unique, name))
        if len(unique) > 1:
            spellings[name] = unique
    return _Parameters(field_of, spellings, {_fold(s): s for s in field_of})


def _fold(name: str) -> str:
    return name.lower().replace("-", "_")


def take_keywords(
    cls: type[BaseModel],
    data: dict[str, Any],
    extras: str,
    body_parameters: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """``data`` (a model's keywords) with none of them dropped, as ``ChatOpenAI`` takes its own.

    - A parameter given under two of its spellings (``timeout`` and ``request_timeout``) keeps
      the one given: a spelling whose value is ``None`` or the default counts as not given
      (so an adapter's explicit ``__init__`` may pass every default); two values are refused.
    - A keyword that is no parameter but a near miss of one (``temprature``, ``base_uri``), or
      another library's name for one (``api_base``), is refused, naming the parameter.
    - Any other unknown keyword goes into the ``extras`` dict (sent in every request body),
      with a warning.
    - The ``extras`` dict may not hold a parameter (other than ``body_parameters``), nor a body
      field each call sets (``messages``, ``stream``), nor a keyword also given on its own.

    Raises:
        InvalidRequestError: for any refusal above (pydantic reports it as a
            ``ValidationError``; both are ``ValueError``).
    """
    params = _parameters(cls)
    name = cls.__name__
    data = dict(data)
    for field_name, spellings in params.spellings.items():
        _one_spelling(cls, name, field_name, spellings, data)

    given = data.get(extras)
    if given is not None and not isinstance(given, Mapping):
        return data  # not a dict: pydantic says so
    extra = dict(given or {})
    for key in extra:
        declared = params.field_of.get(key)
        if declared is not None and declared not in body_parameters:
            raise InvalidRequestError(
                f"{name}: {extras} holds {key!r}, which is a parameter of {name}; pass it as "
                f"{name}({key}=...) instead, so it takes effect"
            )
        if key in _SET_BY_EACH_CALL:
            raise InvalidRequestError(
                f"{name}: {extras} holds {key!r}, which each call sets; it cannot be fixed for "
                "every request"
            )

    moved = False
    for key in list(data):
        if key in params.field_of:
            continue
        intended = _intended(key, params)
        if intended is not None:
            field = params.field_of[intended]
            also = f" (the parameter {field!r})" if field != intended else ""
            raise InvalidRequestError(
                f"{name} got the keyword {key!r}, which is not one of its parameters: did you "
                f"mean {intended!r}{also}? A keyword {name} does not know is sent in the request "
                f"body ({extras}), so a misspelt setting would be ignored by the server."
            )
        if key in _SET_BY_EACH_CALL:
            raise InvalidRequestError(
                f"{name} got the keyword {key!r}, which each call sets; it cannot be fixed for "
                "every request"
            )
        if key in extra:
            raise InvalidRequestError(
                f"{name} got {key!r} twice: as a keyword and in {extras}; give it once"
            )
        extra[key] = data.pop(key)
        moved = True
        _warn(
            f"{name}: {key!r} is not one of its parameters, so it goes into {extras} and is "
            f"sent in every request body; pass {extras}={{{key!r}: ...}} to say this is meant."
        )
    if moved or given is not None:
        data[extras] = extra
    return data


def _one_spelling(
    cls: type[BaseModel], name: str, field: str, spellings: tuple[str, ...], data: dict[str, Any]
) -> None:
    present = [s for s in spellings if s in data]
    if len(present) < 2:
        return
    default = cls.model_fields[field].default
    chosen = [s for s in present if data[s] is not None and data[s] != default]
    if len({repr(data[s]) for s in chosen}) > 1:
        shown = " and ".join(f"{s}={data[s]!r}" for s in chosen)
        raise InvalidRequestError(f"{name} got {shown}: one setting given twice; give it once")
    keep = chosen[0] if chosen else present[0]
    for spelling in present:
        if spelling != keep:
            del data[spelling]


def _intended(key: str, params: _Parameters) -> str | None:
    """The parameter ``key`` misspells, if it is so close to one that it must be a mistake."""
    other = _OTHER_SPELLINGS.get(key)
    if other is not None and other in params.field_of:
        return other
    folded = _fold(key)
    match = difflib.get_close_matches(folded, params.folded, n=1, cutoff=_NEAR_MISS)
    if match:
        return params.folded[match[0]]
    forms = [s for s in params.folded if _same_word(folded, s)]
    return params.folded[max(forms, key=lambda s: _head(folded, s))] if forms else None


def _head(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):  # up to the shorter one
        if x != y:
            break
        n += 1
    return n


def _same_word(a: str, b: str) -> bool:
    head = _head(a, b)
    rest = a[head:] + b[head:]
    return head >= _STEM and len(a) - head <= 3 and len(b) - head <= 3 and "_" not in rest


def _warn(message: str) -> None:
    """Warn, pointing at the first frame outside r1v4, pydantic and the frameworks: the user's
    line that built the model (whichever framework path led here)."""
    level = 1
    frame = inspect.currentframe()
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not any(module == p or module.startswith(p + ".") for p in _OWN_PACKAGES):
            break
        frame = frame.f_back
        level += 1
    del frame
    warnings.warn(message, UserWarning, stacklevel=level)
