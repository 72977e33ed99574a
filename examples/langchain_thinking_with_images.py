"""Thinking with images: see the crops R1V4 makes of your picture while it works.

    python examples/langchain_thinking_with_images.py [image] [folder-for-the-crops]

On the hosted API R1V4 runs code on the server that crops and zooms into the picture, and
streams each image it made inside its tool trace. ChatR1V4 hands them to you as images:
``get_images(message)`` (and, on a stream, each one on the chunk where it arrives). This
example prints the trajectory step by step and saves every crop to a file.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py),
which really crops the middle of the picture with Pillow.
"""

from __future__ import annotations

import base64
import io
import sys
import tempfile
from pathlib import Path

from _backend import backend
from langchain_core.messages import AIMessageChunk, HumanMessage

from langchain_r1v4 import ChatR1V4, get_images

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


def image_ref(arg: str) -> str | Path:
    """A URL as it is; a local path as a ``Path``, which the client reads. A path *string* in
    a message is refused unless ``allow_file_paths=True``: in an app it may come from a user."""
    return arg if arg.startswith(("http://", "https://", "data:")) else Path(arg)


def main() -> None:
    image = (
        {"type": "image", "url": image_ref(sys.argv[1])} if len(sys.argv) > 1 else sample_image()
    )
    folder = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="crops-"))
    folder.mkdir(parents=True, exist_ok=True)
    question = HumanMessage(
        content=[{"type": "text", "text": "What does the sign in the middle say?"}, image]
    )

    with backend() as b:
        llm = ChatR1V4(**b.client_kwargs)
        full: AIMessageChunk | None = None
        step = 0
        for chunk in llm.stream([question]):
            full = chunk if full is None else full + chunk
            kwargs = chunk.additional_kwargs
            for call in kwargs.get("server_tool_calls", ()):
                step += 1
                print(f"step {step}: the agent runs {call['name']}")
                for line in str(call["args"].get("code", call["args"])).splitlines():
                    print(f"    {line}")
            for made in get_images(chunk):  # each image arrives on the chunk where it completes
                path = folder / f"{made.id}.{_EXTENSIONS.get(made.mime_type, 'bin')}"
                path.write_bytes(made.data)
                size = f"{made.width}x{made.height}" if made.width else "?"
                print(f"  it made an image: {made.mime_type} {size}, {made.size:,} bytes -> {path}")
            for result in kwargs.get("server_tool_results", ()):
                print(f"  and saw: {result['output']}")
    assert full is not None
    print(f"\nthinking: {full.additional_kwargs.get('reasoning_content', '(none)')}")
    print(f"answer: {full.content}")
    print(f"{len(get_images(full))} image(s) saved in {folder}")


if __name__ == "__main__":
    main()
