"""A local R1V4 API server: real HTTP on loopback, for tests, examples, benchmarks and users.

    from r1v4.testing import LocalR1V4Server, Reply

    with LocalR1V4Server(api_key="test-key") as server:
        server.enqueue(Reply(content="hello", reasoning="thinking..."))
        # point a client at server.base_url (vLLM style, /v1) or server.hosted_base_url (/api/v1)
        ...
        assert server.requests[-1].body["model"] == "skywork/r1v4-lite"

Routes: ``POST /api/v1/chat/completions`` (hosted: errors ``{"code", "code_msg"}``, usage chunk
always sent when streaming), ``POST /v1/chat/completions`` (vLLM: errors
``{"error": {"message", "type", "param", "code"}}``, usage chunk only with
``stream_options.include_usage``), ``GET /v1/models`` and ``GET /api/v1/models``.

Refusals (HTTP status, hosted code): bad key 401/400307; body not JSON or not an object
400/400300; missing or unknown model 400/400301; messages missing/empty/not objects 400/400302;
bad role 400/400303; bad content or part 400/400304; image not a base64 data URI, bad base64 or
not decodable by Pillow 400/400305; bad ``stream``, ``stream_options``, ``enable_search`` or
``tools`` 400/400306;
``tools`` while native tools are off: vLLM's 400 in OpenAI shape on both paths; a self-hosted
follow-up that does not carry its observation (below) 400/400309; unknown path
404/404000; wrong method 405/405000. On ``/v1`` the OpenAI shape carries the HTTP status as
``code``. Requests refused this way consume no scripted reply.

Default reply (nothing queued): scenario ``"echo"`` answers
``I saw 2 image(s): PNG 4x3, JPEG 10x10. You said: <last user text>`` (``I saw 0 image(s). You
said: ...`` without images); scenario ``"agent"`` answers an R1V4 transcript fitting the request
(planner model -> plan; ``enable_search`` -> deep research; else general, whose ``code`` round
really crops the first image with Pillow and returns the crop as a PNG data URI in the
observation's ``"images"``, as the hosted API streams the images its code makes).

Self-hosted mode (the open weights behind vLLM, SGLang or llama.cpp, which only generate): a
round stops right after R1V4's tool call (``finish_reason`` ``"stop"``, nothing after
``</tool_call>`` or the deep-research tag; ``"tool_calls"`` for a native call), and the next
request must be the client's follow-up: the round's request messages, then ``{"role":
"assistant", "content": <the round's text>}`` (reasoning that came as a field put back as
``<think>…</think>`` in front, a native call written as ``<tool_call>{"name", "arguments"}
</tool_call>``, nothing after the call), then ``{"role": "user", "content": [{"type": "text",
"text": "<observation>" + JSON + "</observation>"}, image parts...]}``, whose JSON is of the
call's tool (``{"result": <text>, "type": "code"}`` with ``"images"`` naming each image part's
file, a list of ``{"title", "url", "snippet"}`` for ``text_search``, of ``{"title",
"source", "link"}`` for ``image_search``, of ``{"url", "title", "content"}`` for
``web_content``, or ``{"result", "type"}`` from a tool that could not run). A request on the
same route whose messages begin with every message of a stopped round's request and go beyond
them is that round's follow-up; one that does not carry the above is refused (400/400309, the
message saying what is missing or wrong, nothing consumed: the client may send the right one),
and so is, while a round waits on that route, a request ending in an observation that continues
no waiting round (it names the first message that differs). Anything else is a new
conversation (a bare server cannot tell a request sent again from a new one, nor a client that
gave up on a round). A correct follow-up gets the next round. ``RecordedRequest.followup``
(:class:`FollowupCheck`) says what a follow-up carried (observation, its images) and why it was
refused; ``server.awaiting_followup`` counts rounds still waiting.

* Scenario ``"self_hosted"``: on ``/v1`` the ``"agent"`` transcripts are served one round per
  request. Planner: one reply. Deep research: stops at ``text_search``, ``image_search`` (when
  the request has an image) and ``web_content``, the follow-up's observation checked for that
  shape. General: stops at a ``code`` call that the client's sandbox (``r1v4.tools``, the
  conversation's images as ``image_0.png``... and ``img`` preloaded) can run: with an image,
  :data:`CROP_CODE` crops ``img`` to :func:`center_crop`'s box, saves ``crop_0.png`` and prints
  ``cropped <w>x<h> to <cw>x<ch>``; the follow-up must carry that output and the crop as one
  PNG image part of that size (decoded with Pillow). Without an image, :data:`SUM_CODE` prints
  ``285`` and the follow-up carries no image. On
  ``/api/v1`` the scenario is ``"agent"``'s: the hosted API runs its tools itself and streams
  the whole trajectory.
* Scripted, on either route: ``Reply(..., followup=Followup(type=..., contains=...,
  images=..., image_sizes=..., image_format=...))`` is a round that stops and what its
  follow-up must carry (the tool by default: the one the round's call names); the follow-up
  gets the next queued reply (the scenario's default reply when none is queued).
  ``server.enqueue(*self_hosted_rounds(transcript, Followup(...), ...))`` queues a hosted
  transcript's rounds (each ``<observation>`` cut out). A round with an error status, a drop or
  an error event, or one the client left before its end, waits for nothing.

Usage: prompt_tokens = whitespace words of every text in the request + 85 per image;
completion_tokens = words of content + reasoning + (words of arguments + 1) per tool call.

Run it standalone with ``python -m r1v4.testing --port 8000``; enable the pytest fixtures
(``r1v4_server``, ``no_native_tools_server``, ``self_hosted_server``) with
``pytest_plugins = ["r1v4.testing.pytest_plugin"]``.
"""

from ._files import FileHost, HostedFile
from ._images import center_crop, data_uri, make_image, make_image_data_uri
from ._net import BlackholeServer, free_port, refused_base_url
from ._rounds import CROP_CODE, SUM_CODE, self_hosted_rounds
from ._script import Followup, FollowupCheck, ImageInfo, RecordedRequest, Reply, ReplyFactory
from ._server import LocalR1V4Server
from ._transcripts import (
    answer,
    deep_research_transcript,
    general_transcript,
    observation,
    planner_transcript,
    think,
    tool_call,
)
from ._validation import TOOL_CHOICE_ERROR
from ._wire import CODES as ERROR_CODES

__all__ = [
    "CROP_CODE",
    "ERROR_CODES",
    "SUM_CODE",
    "TOOL_CHOICE_ERROR",
    "BlackholeServer",
    "FileHost",
    "Followup",
    "FollowupCheck",
    "HostedFile",
    "ImageInfo",
    "LocalR1V4Server",
    "RecordedRequest",
    "Reply",
    "ReplyFactory",
    "answer",
    "center_crop",
    "data_uri",
    "deep_research_transcript",
    "free_port",
    "general_transcript",
    "make_image",
    "make_image_data_uri",
    "observation",
    "planner_transcript",
    "refused_base_url",
    "self_hosted_rounds",
    "think",
    "tool_call",
]
