"""Self-hosted R1V4 with its tools run on your machine, in LlamaIndex: crop, then answer.

    vllm serve Skywork/R1V4        # or SGLang, or llama.cpp's llama-server: any /v1 server
    SKYWORK_BASE_URL=http://localhost:8000/v1 python examples/llama_index_self_hosted.py [image] [folder]

An inference server only generates: R1V4 writes its tool call (``code`` that crops the picture)
and stops, waiting for an observation no server-side harness will send. With
``builtin_tools=R1V4Tools()``, ``R1V4`` runs that call on the client, the code in a bubblewrap
sandbox, sends R1V4 the observation with the crop, and streams the whole trajectory as one
reply, as the hosted API would: ``thinking_delta``, the tool call it ran and its observation
(``additional_kwargs``), the crop (``get_images``, saved to a file here), the answer.

Needs bubblewrap (Linux: ``apt-get install bubblewrap``) and
``pip install 'r1v4[llama-index,tools]'``; without a sandbox it says what to install, and what
to use instead, and exits.
Uses your server when SKYWORK_BASE_URL is set, else a local R1V4 server that plays a
self-hosted one (see _backend.py).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from _backend import backend, no_sandbox
from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock

from llama_index_r1v4 import R1V4, get_images
from r1v4 import SandboxUnavailableError
from r1v4.tools import R1V4Tools

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def sample_image() -> ImageBlock:
    """A small drawing: a red square on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), "white")
    ImageDraw.Draw(image).rectangle((50, 30, 110, 90), fill="red")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ImageBlock(image=buffer.getvalue())


def main() -> None:
    image = ImageBlock(path=Path(sys.argv[1])) if len(sys.argv) > 1 else sample_image()
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="crops-"))
    folder.mkdir(parents=True, exist_ok=True)
    question = ChatMessage(
        role="user", blocks=[image, TextBlock(text="What is in the middle of this picture?")]
    )
    try:
        tools = R1V4Tools()  # code runs in a bubblewrap sandbox, checked here
    except SandboxUnavailableError as exc:
        sys.exit(no_sandbox(exc))

    with backend(scenario="self_hosted") as b:
        llm = R1V4(builtin_tools=tools, **b.client_kwargs)
        calls = results = images = 0
        section = ""
        usage: dict[str, int] = {}
        for response in llm.stream_chat([question]):
            # The message so far; the trace arrives in order with the text.
            trace = response.message.additional_kwargs
            thought = response.additional_kwargs.get("thinking_delta")
            if thought:
                if section != "thinking":
                    # Segments join with blank lines: one label each, on a line of its own.
                    thought = ("\n" if section else "") + "thinking: " + thought.lstrip()
                    section = "thinking"
                print(thought, end="", flush=True)
            for call in trace.get("server_tool_calls", [])[calls:]:
                calls += 1
                section = "tool"
                print(f"\n-> the client runs {call['name']} (R1V4's tool, in the sandbox):")
                for line in str(call["args"].get("code", call["args"])).splitlines():
                    print(f"     {line}")
            for made in get_images(response)[images:]:
                images += 1
                path = folder / f"{made.id}.{_EXTENSIONS.get(made.mime_type, 'bin')}"
                path.write_bytes(made.data)
                print(f"   it made an image: {made.mime_type} {made.width}x{made.height} -> {path}")
            for result in trace.get("server_tool_results", [])[results:]:
                results += 1
                print(f"<- R1V4 reads the observation: {result['output']}")
            if response.delta:
                if section != "answer":
                    section = "answer"
                    print("\nanswer: ", end="")
                print(response.delta, end="", flush=True)
            usage = {k: v for k, v in response.additional_kwargs.items() if k.endswith("_tokens")}
        print()
    print(f"usage (every round): {usage}")
    print(f"{images} image(s) saved in {folder}")


if __name__ == "__main__":
    main()
