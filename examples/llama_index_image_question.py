"""Ask R1V4 about an image with LlamaIndex; watch it think and use its own tools.

    python examples/llama_index_image_question.py [path-or-url-of-an-image]

The image goes in an ``ImageBlock`` (bytes, a path or a URL: the client reads or downloads it
and sends it inline). Reasoning streams as ``thinking_delta``; the tools R1V4 ran on the server
are in ``additional_kwargs`` for you to show, never ``ToolCallBlock``s an agent would run.
Uses the hosted API when SKYWORK_API_KEY is set, else a local R1V4 server (see _backend.py).
"""

from __future__ import annotations

import io
import sys

from _backend import backend
from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock

from llama_index_r1v4 import R1V4


def sample_image() -> ImageBlock:
    """A small drawing: a red square on white."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 120), "white")
    ImageDraw.Draw(image).rectangle((50, 30, 110, 90), fill="red")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return ImageBlock(image=buffer.getvalue())


def image_block(source: str) -> ImageBlock:
    if source.startswith(("http://", "https://")):
        return ImageBlock(url=source)
    return ImageBlock(path=source)


def main() -> None:
    image = image_block(sys.argv[1]) if len(sys.argv) > 1 else sample_image()
    question = ChatMessage(
        role="user", blocks=[image, TextBlock(text="What is in this image? Be precise.")]
    )

    with backend() as b:
        llm = R1V4(**b.client_kwargs)
        calls = results = 0
        section = ""
        for response in llm.stream_chat([question]):
            trace = response.message.additional_kwargs
            # The trace arrives in order with the text: each call and result as it is parsed.
            for call in trace.get("server_tool_calls", [])[calls:]:
                print(f"\n  -> the agent runs {call['name']}: {call['args']}")
                calls += 1
                section = ""
            for result in trace.get("server_tool_results", [])[results:]:
                print(f"  <- and sees: {result['output']}")
                results += 1
            thought = response.additional_kwargs.get("thinking_delta")
            if thought:
                if section != "thinking":
                    section = "thinking"
                    thought = "thinking: " + thought.lstrip()  # segments join with blank lines
                print(thought, end="", flush=True)
            if response.delta:
                if section != "answer":
                    section = "answer"
                    print("\n\nanswer: ", end="")
                print(response.delta, end="", flush=True)
        print()


if __name__ == "__main__":
    main()
