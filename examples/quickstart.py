"""Quickstart: R1V4 looks at an image, thinks, uses its own tools, and answers.

    make quickstart            # or: python examples/quickstart.py

Talks to the hosted API when SKYWORK_API_KEY is set; otherwise it starts the local R1V4 server
(canned but realistic R1V4 transcripts) and says so. What it shows: a generic OpenAI client would
hand you R1V4's whole tagged trajectory as "the answer"; ChatR1V4 streams the reasoning as
reasoning, reports the server's own tool calls as a trace, and gives you the answer as the answer.
"""

from __future__ import annotations

import io

from _backend import backend
from langchain_core.messages import HumanMessage

from langchain_r1v4 import ChatR1V4


def sample_image() -> bytes:
    """A small generated picture, so the quickstart needs no file of yours."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (160, 120), "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 30, 70, 90), fill="red")
    draw.ellipse((90, 30, 140, 90), fill="blue")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    import base64

    with backend() as b:
        llm = ChatR1V4(model="skywork/r1v4-lite", **b.client_kwargs)
        question = HumanMessage(
            content=[
                {"type": "text", "text": "What shapes are in this picture, and what colours?"},
                {
                    "type": "image",
                    "base64": base64.b64encode(sample_image()).decode(),
                    "mime_type": "image/png",
                },
            ]
        )
        print("thinking: ", end="", flush=True)
        full = None
        answering = False
        for chunk in llm.stream([question]):
            reasoning = chunk.additional_kwargs.get("reasoning_content")
            if reasoning:
                print(reasoning, end="", flush=True)
            if chunk.content:
                if not answering:
                    print("\n\nanswer:   ", end="", flush=True)
                    answering = True
                print(chunk.content, end="", flush=True)
            full = chunk if full is None else full + chunk
        print()
        assert full is not None
        for call in full.additional_kwargs.get("server_tool_calls", []):
            print(f"server ran: {call['name']}({call['args']})")
        print("tokens:  ", full.usage_metadata)


if __name__ == "__main__":
    main()
