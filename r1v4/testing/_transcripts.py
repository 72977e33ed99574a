"""Builders of realistic R1V4 agent transcripts: the tagged text the hosted model streams.

Shapes follow the published R1V4 examples: rounds of ``<think>`` + a tool tag + ``<observation>``,
closed by ``<think>`` + ``<answer>``; the planner answers ``<think>`` + ``<plan>[...]</plan>`` where
each step is ``{"description", "tool_name", "parameters"}`` and ``parameters`` is itself a JSON
string. Observations of searches are JSON lists.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "answer",
    "crops",
    "deep_research_transcript",
    "general_transcript",
    "observation",
    "planner_transcript",
    "think",
    "tool_call",
]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def think(text: str) -> str:
    """A ``<think>`` block."""
    return f"<think>\n{text}\n</think>\n"


def tool_call(name: str, arguments: Mapping[str, Any]) -> str:
    """A ``<tool_call>{"name", "arguments"}</tool_call>`` block (a tool the server ran itself)."""
    return f"<tool_call>{_dumps({'name': name, 'arguments': dict(arguments)})}</tool_call>\n"


def observation(value: Any) -> str:
    """An ``<observation>`` block; non-strings are written as JSON."""
    body = value if isinstance(value, str) else _dumps(value)
    return f"<observation>{body}</observation>\n"


def answer(text: str) -> str:
    """The closing ``<answer>`` block."""
    return f"<answer>\n{text}\n</answer>"


def _tag(name: str, body: str) -> str:
    return f"<{name}>{body}</{name}>\n"


_DEFAULT_CODE = (
    "from PIL import Image\n"
    "img = Image.open('image_0.png')\n"
    "w, h = img.size\n"
    "img.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4)).save('crop_0.png')\n"
    "print(w, h)"
)


def general_transcript(
    question: str = "What is in the image?",
    final_answer: str = "The image shows a small red square on a white background.",
    *,
    code: str = _DEFAULT_CODE,
    result: str = "Saved the cropped region to crop_0.png.",
    rounds: int = 1,
    images: Sequence[str] = (),
) -> str:
    """General mode: ``rounds`` x (think, ``code`` tool call, observation), then think + answer.

    The observation is ``{"result": result, "type": "code"}`` as the published parser expects;
    with ``images`` (data URIs, one per round, e.g. from :func:`crops`) round ``n``'s
    observation also carries ``"images": [images[n]]``, as the hosted code tool returns the
    pictures it made.
    """
    parts: list[str] = []
    for n in range(rounds):
        reason = (
            f"The question is: {question} I should look at the image more closely, "
            "so I will crop the region of interest with code."
            if n == 0
            else f"The crop is still not clear enough; I will zoom in again (step {n + 1})."
        )
        parts.append(think(reason))
        parts.append(tool_call("code", {"code": code}))
        value: dict[str, Any] = {"result": result, "type": "code"}
        if n < len(images):
            value["images"] = [images[n]]
        parts.append(observation(value))
    parts.append(think("The cropped region shows the details I need, so I can answer now."))
    parts.append(answer(final_answer))
    return "".join(parts)


def deep_research_transcript(
    question: str = "Where was this photo taken?",
    final_answer: str = "The photo was taken at the Example Observatory.",
    *,
    query: str | None = None,
    image: str | None = "image_0",
    url: str = "https://example.com/observatory",
    results: int = 2,
) -> str:
    """Deep-research mode: text_search, image_search (when ``image``), web_content, answer.

    Observations are JSON lists: text_search ``[{"title","url","snippet"}]``, image_search
    ``[{"title","source","link"}]``, web_content ``[{"url","title","content"}]``.
    """
    query = query or question
    parts = [
        think(f"To answer '{question}' I need facts from the web; I will search first."),
        _tag("text_search", query),
        observation(
            [
                {
                    "title": f"Result {i + 1} for {query}",
                    "url": f"https://example.com/search/{i + 1}",
                    "snippet": f"Snippet {i + 1} about {query}.",
                }
                for i in range(results)
            ]
        ),
    ]
    if image is not None:
        parts += [
            think("The text results are vague; a reverse image search should identify the place."),
            _tag("image_search", image),
            observation(
                [
                    {
                        "title": f"Similar image {i + 1}",
                        "source": f"https://example.com/images/{i + 1}.jpg",
                        "link": f"https://example.com/pages/{i + 1}",
                    }
                    for i in range(results)
                ]
            ),
        ]
    parts += [
        think("One page looks authoritative; I will read it."),
        _tag("web_content", url),
        observation(
            [{"url": url, "title": "Example page", "content": f"A summary relevant to: {question}"}]
        ),
        think("The sources agree, so I can answer."),
        answer(final_answer),
    ]
    return "".join(parts)


def planner_transcript(
    question: str = "What is in the image?",
    steps: Sequence[Mapping[str, Any]] | None = None,
    *,
    reasoning: str | None = None,
) -> str:
    """Planner model: ``<think>`` then ``<plan>`` holding a JSON list of steps.

    Each step is ``{"description", "tool_name", "parameters"}``; a ``parameters`` mapping is
    encoded to a JSON string as the real planner does.
    """
    if steps is None:
        steps = [
            {
                "description": "Look closely at the relevant region of the image.",
                "tool_name": "code",
                "parameters": {"code": _DEFAULT_CODE},
            },
            {
                "description": f"Search the web for facts needed to answer: {question}",
                "tool_name": "text_search",
                "parameters": {"query": question},
            },
            {
                "description": "Combine the visual evidence and the search results into an answer.",
                "tool_name": "answer",
                "parameters": {},
            },
        ]
    plan = [
        {
            "description": step.get("description", ""),
            "tool_name": step.get("tool_name", ""),
            "parameters": step.get("parameters")
            if isinstance(step.get("parameters"), str)
            else _dumps(step.get("parameters") or {}),
        }
        for step in steps
    ]
    reasoning = reasoning or f"To answer '{question}' I will break the task into {len(plan)} steps."
    return think(reasoning) + f"<plan>{_dumps(plan)}</plan>"


def crops(image: bytes, rounds: int = 1) -> list[str]:
    """What the agent's code tool makes of ``image``: each round crops the middle half of the
    last picture (as the default code does), as a PNG data URI."""
    from PIL import Image

    out: list[str] = []
    with Image.open(io.BytesIO(image)) as opened:
        img = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
    for _ in range(rounds):
        w, h = img.size
        img = img.crop((w // 4, h // 4, max(w // 4 + 1, 3 * w // 4), max(h // 4 + 1, 3 * h // 4)))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


def scenario_transcript(
    model: str,
    enable_search: bool,
    question: str,
    image_names: list[str],
    images: Sequence[bytes] = (),
) -> str:
    """The agent-scenario default reply: the transcript that fits the request; the first of
    ``images`` (raw bytes) is really cropped, and the crop streams inside the observation."""
    question = question or "What is in the image?"
    if "planner" in model.lower():
        return planner_transcript(question)
    if enable_search:
        return deep_research_transcript(
            question,
            f"Based on the search results, here is the answer to: {question}",
            image=image_names[0] if image_names else None,
        )
    seen = ", ".join(image_names) if image_names else "no image"
    return general_transcript(
        question,
        f"Having examined {seen}, here is the answer to: {question}",
        images=crops(images[0]) if images else (),
    )
