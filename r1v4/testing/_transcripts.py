"""Builders of realistic R1V4 agent transcripts: the tagged text the hosted model streams.

Shapes follow the published R1V4 examples: rounds of ``<think>`` + a tool tag + ``<observation>``,
closed by ``<think>`` + ``<answer>``; the planner answers ``<think>`` + ``<plan>[...]</plan>`` where
each step is ``{"description", "tool_name", "parameters"}`` and ``parameters`` is itself a JSON
string. Observations of searches are JSON lists.

Images the server's code made ("thinking with images") travel inline, as
``data:image/png;base64,...`` strings inside the ``code`` observation's JSON. That shape rests on
the vendor's public repository (SkyworkAI/Skywork-R1V, folder ``r1v4/``): ``parse_utils.py``
gives the code observation as ``{"result": ..., "type": "code"}``, and ``visual.py`` finds the
"generated images" by scanning the streamed transcript for ``data:image/<type>;base64,<data>``
up to the end of a JSON string (``"``, ``\\``, ``}`` or ``,``), whitespace allowed inside the
base64. Which key holds them is not published; here it is ``"images"``, a list of data URIs
after ``result`` and ``type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._images import center_crop, data_uri

__all__ = [
    "answer",
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
    crops: Sequence[str] = (),
) -> str:
    """General mode: ``rounds`` x (think, ``code`` tool call, observation), then think + answer.

    The observation is ``{"result": result, "type": "code"}`` as the published parser expects;
    round ``n`` adds ``"images": [crops[n]]`` when ``crops`` (data URIs of what the code made)
    has an ``n``-th entry.
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
        output: dict[str, Any] = {"result": result, "type": "code"}
        if n < len(crops):
            output["images"] = [crops[n]]
        parts.append(observation(output))
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


def scenario_transcript(
    model: str, enable_search: bool, question: str, images: Sequence[bytes]
) -> str:
    """The agent-scenario default reply: the transcript that fits the request.

    In general mode with an image, the ``code`` round really crops the first image (the
    region its code names, see :func:`crop_box`) with Pillow and returns the crop as a PNG
    data URI in the observation, as the hosted API streams the images its code makes.
    """
    image_names = [f"image_{i}" for i in range(len(images))]
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
    crops = [data_uri(center_crop(images[0]))] if images else []
    return general_transcript(
        question, f"Having examined {seen}, here is the answer to: {question}", crops=crops
    )
