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
``tools`` while native tools are off: vLLM's 400 in OpenAI shape on both paths; unknown path
404/404000; wrong method 405/405000. On ``/v1`` the OpenAI shape carries the HTTP status as
``code``. Requests refused this way consume no scripted reply.

Default reply (nothing queued): scenario ``"echo"`` answers
``I saw 2 image(s): PNG 4x3, JPEG 10x10. You said: <last user text>`` (``I saw 0 image(s). You
said: ...`` without images); scenario ``"agent"`` answers an R1V4 transcript fitting the request
(planner model -> plan; ``enable_search`` -> deep research; else general, whose ``code`` round
really crops the first image with Pillow and returns the crop as a PNG data URI in the
observation's ``"images"``, as the hosted API streams the images its code makes).

Usage: prompt_tokens = whitespace words of every text in the request + 85 per image;
completion_tokens = words of content + reasoning + (words of arguments + 1) per tool call.

Run it standalone with ``python -m r1v4.testing --port 8000``; enable the pytest fixtures with
``pytest_plugins = ["r1v4.testing.pytest_plugin"]``.
"""

from ._files import FileHost, HostedFile
from ._images import center_crop, data_uri, make_image, make_image_data_uri
from ._net import BlackholeServer, free_port, refused_base_url
from ._script import ImageInfo, RecordedRequest, Reply, ReplyFactory
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
    "ERROR_CODES",
    "TOOL_CHOICE_ERROR",
    "BlackholeServer",
    "FileHost",
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
    "think",
    "tool_call",
]
