"""R1V4's tagged transcript -> typed events: the events, the incremental parser, search results.

The hosted R1V4 API runs its own tools and streams the whole trajectory as tagged text in
``delta.content``::

    <think>…</think><tool_call>{"name": "code", "arguments": {…}}</tool_call>
    <observation>{"result": "…", "type": "code"}</observation><think>…</think><answer>…</answer>

Deep-research mode uses ``<text_search>query</text_search>``, ``<image_search>…</image_search>``,
``<web_content>url</web_content>`` and ``<code>…</code>``, each answered by ``<observation>``;
the planner sends ``<think>…</think><plan>[{"description", "tool_name", "parameters"}]</plan>``.
:class:`TranscriptParser` turns that text, fed one delta at a time, into typed events.

Rules:

* Structure is only ``think``, ``answer``, ``tool_call``, ``observation``, ``plan``,
  ``text_search``, ``image_search``, ``web_content`` and ``code``, spelled exactly (lower case, no
  attributes). Any other ``<…>`` (HTML, ``a < b``) is answer text verbatim. Text outside every
  tag is answer text, so ``<think>x</think>answer`` and replies with no tags at all just work.
* Inside ``<think>`` everything up to ``</think>`` is reasoning; inside ``<answer>`` everything up
  to ``</answer>`` is answer (even ``<b>``). Inside a tool, observation or plan tag everything up
  to its closing tag is the payload, which is held until that tag arrives.
* Reasoning and answer text stream as it arrives. Only a delta's tail that could begin a tag
  (``<`` plus a prefix of a tag name) and trailing whitespace are held back.
* Whitespace: each reasoning or answer segment (the text between two structural tags) loses
  its leading and trailing whitespace; trailing whitespace is held until more text of the same
  segment arrives. Segments of one kind are joined with ``"\\n\\n"``, emitted with the next
  segment's first non-whitespace text. Whitespace-only text between tags emits nothing.
* ``<tool_call>`` and the deep-research tags: every call is held after its closing tag until the
  next non-whitespace text arrives or the stream closes. Followed, after optional whitespace, by
  ``<observation>``, it is a :class:`ServerToolCall`. Otherwise a call whose name is in
  ``client_tools`` is a :class:`ClientToolCall` (or an :class:`InvalidClientToolCall` when its
  JSON or shape is bad), and any other call was run by nobody: a
  ``TranscriptIssue("unanswered_tool_call")`` whose ``text`` is the call as written, never a
  server call. A call whose name cannot be read counts as bound when ``client_tools`` is
  non-empty; as a server call it is named ``"unknown"``. While a call of one of R1V4's own tools
  is held, :attr:`TranscriptParser.held_call` gives it: a client that runs R1V4's tools (a
  self-hosted server's reply, continued with ``builtin_tools``) runs it and feeds the
  observation, so the call becomes a server call as in a hosted transcript. A reply that reached
  ``R1V4Tools(max_tool_rounds=...)`` ends with a ``TranscriptIssue("max_tool_rounds")`` for
  the call it did not run.
* ``<code>`` is also common HTML, so it is a server call only when ``<observation>`` follows;
  otherwise ``<code>…</code>`` is answer text verbatim.
* Server calls and client calls are numbered separately from 0 (invalid client calls share the
  client numbering). An observation answers the latest server call not yet answered.
* Sources: search observations give :class:`Source` s (see ``_search_results`` for the shapes read).
* Generated images: a ``data:image/<type>;base64,<data>`` URI anywhere in an observation (a
  JSON string at any depth, bare text, base64 wrapped over lines) is a :class:`GeneratedImage`,
  emitted on the delta that completes it, before the observation's result; in the result's
  ``content`` it is replaced by ``{"type": "image", "id": ...}`` (a string holding text and
  images becomes a list of ``{"type": "text", "text": ...}`` and image references). Base64 that
  is cut off or bytes that are not a sound image give an ``invalid_image`` issue, and the text
  stays in ``content``. ``ServerToolResult.raw`` keeps the observation as sent.
* Text is never lost (``raw`` always holds everything fed):

  - unclosed ``<think>``/``<answer>`` at close: the text was already streamed; a
    ``TranscriptIssue("unclosed_tag")`` is added;
  - unclosed tool, observation or plan payload at close: emitted as :class:`AnswerDelta` of the
    raw text *including the opening tag* (a reply cut off by ``max_tokens`` shows what came),
    plus an ``unclosed_tag`` issue;
  - invalid JSON in a server ``<tool_call>``: a :class:`ServerToolCall` whose ``arguments`` is the
    raw payload, plus an ``invalid_json`` issue; an invalid ``<plan>``: ``Plan(steps=())`` with
    ``raw``, plus an ``invalid_json`` (or ``invalid_plan``) issue;
  - an observation that is not a JSON object, array or string keeps its text as ``content``;
  - a stray closing tag (``</think>`` with no opener, as when a chat template put ``<think>`` in
    the prompt) is answer text, plus a ``stray_closing_tag`` issue. Text before it was already
    streamed as answer: the parser never holds text back to reinterpret it.

Layout: ``_events`` (the event types), ``_parser`` (:class:`TranscriptParser`), ``_segments``
(streamed text and held payloads), ``_payloads`` (reading ``<tool_call>`` and ``<plan>`` JSON),
``_search_results`` (search observations to sources), ``_image_uris`` (finding image data URIs
in streamed text), ``_generated`` (checking them and putting references in their place).
"""

from r1v4._transcript._events import (
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
)
from r1v4._transcript._parser import TranscriptParser, parse_transcript

__all__ = [
    "AnswerDelta",
    "ClientToolCall",
    "GeneratedImage",
    "InvalidClientToolCall",
    "Plan",
    "PlanStep",
    "ReasoningDelta",
    "ServerToolCall",
    "ServerToolResult",
    "Source",
    "TranscriptEvent",
    "TranscriptIssue",
    "TranscriptParser",
    "parse_transcript",
]
