"""Self-hosted rounds: a hosted transcript cut at each tool call, as a bare inference server
would reply to it one request at a time; and the ``self_hosted`` scenario's conversations.

The open weights behind vLLM, SGLang or llama.cpp only generate: a reply stops right after the
model's tool call, and the observation is the client's to send. Cutting a hosted transcript at
each ``<observation>`` gives those replies, one round each; the last answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._followups import stopping_call
from ._images import crop_box
from ._script import Followup, ImageInfo, Reply
from ._transcripts import (
    answer,
    deep_research_transcript,
    general_transcript,
    planner_transcript,
    think,
    tool_call,
)

__all__ = ["CROP_CODE", "SUM_CODE", "scenario_rounds", "self_hosted_rounds"]

# An observation that answers a call: right after the call's closing tag (kept by the split), so
# a question that merely quotes an observation is not cut.
_ANSWERED = re.compile(
    r"(</(?:tool_call|text_search|image_search|web_content|code)>)\s*<observation>.*?</observation>\s*",
    re.S,
)

CROP_CODE = (
    "w, h = img.size\n"
    "crop = img.crop((w // 4, h // 4, max(w // 4 + 1, 3 * w // 4), max(h // 4 + 1, 3 * h // 4)))\n"
    "if crop.mode not in ('1', 'L', 'LA', 'I', 'P', 'RGB', 'RGBA'):\n"
    "    crop = crop.convert('RGB')\n"
    "crop.save('crop_0.png')\n"
    "print(f'cropped {w}x{h} to {crop.width}x{crop.height}')"
)
"""The ``self_hosted`` scenario's ``code`` with an image: runnable in ``r1v4.tools``' sandbox
(``img`` is the first image, preloaded), it crops the central half (the box of
:func:`center_crop`), saves it as ``crop_0.png`` and prints ``cropped <w>x<h> to <cw>x<ch>``."""

SUM_CODE = "print(sum(i * i for i in range(10)))"
"""The ``self_hosted`` scenario's ``code`` without an image: it prints ``285``."""


def self_hosted_rounds(transcript: str, *followups: Followup) -> list[Reply]:
    """A hosted transcript as a bare inference server serves it: one :class:`Reply` per round.

    Each ``<observation>…</observation>`` that answers a call is cut out: the text before it
    is a round that stops at its tool call (nothing after the call) and waits for the client's
    follow-up, checked against the matching ``followups`` item (by position; ``Followup()`` for
    those not given); the text after the last observation is the answering round. Queue them
    with ``server.enqueue(*self_hosted_rounds(general_transcript(...)))``.

    Raises:
        ValueError: a round's call names no tool, or more followups than rounds stop.
    """
    parts = _ANSWERED.split(transcript)
    # [text, closing tag, text, closing tag, ..., last text]
    stops = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
    last = parts[-1]
    if len(followups) > len(stops):
        raise ValueError(f"{len(followups)} followups for {len(stops)} round(s) that stop")
    replies: list[Reply] = []
    for n, text in enumerate(stops):
        reply = Reply(
            content=text.rstrip(), followup=followups[n] if n < len(followups) else Followup()
        )
        if stopping_call(reply) is None:
            raise ValueError(f"round {n}'s call names no tool: {text[-80:]!r}")
        replies.append(reply)
    replies.append(Reply(content=last))
    return replies


def scenario_rounds(
    model: str, enable_search: bool, question: str, images: Sequence[ImageInfo]
) -> list[Reply]:
    """The ``self_hosted`` scenario's conversation for a first request, one reply per round.

    The ``agent`` scenario's transcripts cut at each tool call: the planner answers in one
    reply; deep research stops at ``text_search``, ``image_search`` (with an image) and
    ``web_content`` (each follow-up's observation checked for that tool's shape, or the
    ``{"result", "type"}`` of a tool that could not run); the general mode stops at a ``code``
    call whose follow-up must carry what the code really gives: with an image, the output of
    :data:`CROP_CODE` and the crop as one PNG image part of the crop's size; without, the
    output of :data:`SUM_CODE` and no image.
    """
    question = question or "What is in the image?"
    names = [f"image_{i}" for i in range(len(images))]
    if "planner" in model.lower():
        return [Reply(content=planner_transcript(question))]
    if enable_search:
        return self_hosted_rounds(
            deep_research_transcript(
                question,
                f"Based on the search results, here is the answer to: {question}",
                image=names[0] if names else None,
            )
        )
    final = f"Having examined {', '.join(names) or 'no image'}, here is the answer to: {question}"
    if not images:
        transcript = (
            think(f"The question is: {question} No image came with it; I will work it out in code.")
            + tool_call("code", {"code": SUM_CODE})
            + "<observation></observation>\n"
            + think("The code printed what I needed, so I can answer now.")
            + answer(final)
        )
        return self_hosted_rounds(transcript, Followup(type="code", contains="285", images=0))
    width, height = images[0].width, images[0].height
    left, top, right, bottom = crop_box(width, height)
    size = (right - left, bottom - top)
    return self_hosted_rounds(
        general_transcript(question, final, code=CROP_CODE),
        Followup(
            type="code",
            contains=f"cropped {width}x{height} to {size[0]}x{size[1]}",
            image_sizes=(size,),
            image_format="PNG",
        ),
    )
