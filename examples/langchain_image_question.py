"""Ask R1V4 about an image and watch it think and use its own tools.

    python examples/langchain_image_question.py [path-or-url-of-an-image]

R1V4 is an agent: on the hosted API it may crop or zoom into the image with code before it
answers. ChatR1V4 keeps that trace out of the answer and hands it to you as data.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

from _backend import backend
from langchain_core.messages import HumanMessage

from langchain_r1v4 import ChatR1V4


def sample_image() -> dict[str, str]:
    """A small drawing (a red square on white), as a standard LangChain image block."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), "white")
    ImageDraw.Draw(image).rectangle((50, 30, 110, 90), fill="red")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {
        "type": "image",
        "base64": base64.b64encode(buffer.getvalue()).decode(),
        "mime_type": "image/png",
    }


def image_ref(arg: str) -> str | Path:
    """A URL as it is; a local path as a ``Path``, which the client reads. A path *string* in
    a message is refused unless ``allow_file_paths=True``: in an app it may come from a user."""
    return arg if arg.startswith(("http://", "https://", "data:")) else Path(arg)


def main() -> None:
    # A URL or a local file is downloaded or read by the client and sent inline.
    image = (
        {"type": "image", "url": image_ref(sys.argv[1])} if len(sys.argv) > 1 else sample_image()
    )
    question = HumanMessage(
        content=[{"type": "text", "text": "What is in this image? Be precise."}, image]
    )

    with backend() as b:
        llm = ChatR1V4(**b.client_kwargs)
        reply = llm.invoke([question])

    print("thinking:\n ", reply.additional_kwargs.get("reasoning_content", "(none)"))
    calls = reply.additional_kwargs.get("server_tool_calls", [])
    results = {r["tool_call_id"]: r for r in reply.additional_kwargs.get("server_tool_results", [])}
    for call in calls:
        print(f"\nthe agent ran {call['name']} with {call['args']}")
        result = results.get(call["id"])
        if result is not None:
            print("  and saw:", result["output"])
    print("\nanswer:", reply.content)


if __name__ == "__main__":
    main()
