"""Self-hosted R1V4 with its tools run on your machine: an image question that crops and answers.

    vllm serve Skywork/R1V4        # or SGLang, or llama.cpp's llama-server: any /v1 server
    SKYWORK_BASE_URL=http://localhost:8000/v1 python examples/langchain_self_hosted.py [image] [folder]

An inference server only generates: R1V4 writes its tool call (``code`` that crops the picture)
and stops, waiting for an observation no server-side harness will send. With
``builtin_tools=R1V4Tools()``, ``ChatR1V4`` runs that call on the client, the code in a
bubblewrap sandbox, sends R1V4 the observation with the crop, and streams the whole trajectory
as one reply, as the hosted API would: the reasoning, the tool call it ran, the crop (saved to a
file here), what the code printed, the answer.

Needs bubblewrap (Linux: ``apt-get install bubblewrap``) and ``pip install 'r1v4[langchain,tools]'``;
without a sandbox it says what to install, and what to use instead, and exits.
Uses your server when SKYWORK_BASE_URL is set, else a local R1V4 server that plays a
self-hosted one (see _backend.py).
"""

from __future__ import annotations

import base64
import io
import sys
import tempfile
from pathlib import Path

from _backend import backend, no_sandbox
from langchain_core.messages import AIMessageChunk, HumanMessage

from langchain_r1v4 import ChatR1V4, get_images
from r1v4 import SandboxUnavailableError
from r1v4.tools import R1V4Tools

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def sample_image() -> dict[str, str]:
    """A small sign with a word in the middle, as a standard LangChain image block."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 160), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((70, 55, 170, 105), fill="navy")
    draw.text((98, 73), "OPEN", fill="yellow")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {
        "type": "image",
        "base64": base64.b64encode(buffer.getvalue()).decode(),
        "mime_type": "image/png",
    }


def main() -> None:
    # A local image by Path (the client reads it); a path *string* in a message is refused.
    image = {"type": "image", "url": Path(sys.argv[1])} if len(sys.argv) > 1 else sample_image()
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="crops-"))
    folder.mkdir(parents=True, exist_ok=True)
    question = HumanMessage(
        content=[{"type": "text", "text": "What does the sign in the middle say?"}, image]
    )
    try:
        tools = R1V4Tools()  # code runs in a bubblewrap sandbox, checked here
    except SandboxUnavailableError as exc:
        sys.exit(no_sandbox(exc))

    with backend(scenario="self_hosted") as b:
        llm = ChatR1V4(builtin_tools=tools, **b.client_kwargs)
        full: AIMessageChunk | None = None
        section = ""
        for chunk in llm.stream([question]):
            full = chunk if full is None else full + chunk
            kwargs = chunk.additional_kwargs
            thought = kwargs.get("reasoning_content")
            if thought:
                if section != "thinking":
                    # Segments join with blank lines: one label each, on a line of its own.
                    thought = ("\n" if section else "") + "thinking: " + thought.lstrip()
                    section = "thinking"
                print(thought, end="", flush=True)
            for call in kwargs.get("server_tool_calls", ()):
                section = "tool"
                print(f"\n-> the client runs {call['name']} (R1V4's tool, in the sandbox):")
                for line in str(call["args"].get("code", call["args"])).splitlines():
                    print(f"     {line}")
            for made in get_images(chunk):  # each image arrives on the chunk where it completes
                path = folder / f"{made.id}.{_EXTENSIONS.get(made.mime_type, 'bin')}"
                path.write_bytes(made.data)
                print(f"   it made an image: {made.mime_type} {made.width}x{made.height} -> {path}")
            for result in kwargs.get("server_tool_results", ()):
                print(f"<- R1V4 reads the observation: {result['output']}")
            if chunk.content:
                if section != "answer":
                    section = "answer"
                    print("\nanswer: ", end="")
                print(chunk.content, end="", flush=True)
        print()
    assert full is not None
    print(f"usage (every round): {full.usage_metadata}")
    print(f"{len(get_images(full))} image(s) saved in {folder}")


if __name__ == "__main__":
    main()
