"""Tests of the incremental R1V4 transcript parser."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from r1v4._transcript import (
    AnswerDelta,
    ClientToolCall,
    InvalidClientToolCall,
    Plan,
    PlanStep,
    ReasoningDelta,
    ServerToolCall,
    ServerToolResult,
    Source,
    TranscriptEvent,
    TranscriptIssue,
    TranscriptParser,
    parse_transcript,
)
from r1v4._transcript._image_uris import DataUriScanner
from r1v4._transcript._segments import Payload, Segment


def merge(events: Iterable[TranscriptEvent]) -> list[TranscriptEvent]:
    """Join adjacent reasoning / answer deltas (an oracle independent of the module's)."""
    out: list[TranscriptEvent] = []
    for ev in events:
        if out and isinstance(ev, ReasoningDelta) and isinstance(out[-1], ReasoningDelta):
            out[-1] = ReasoningDelta(out[-1].text + ev.text)
        elif out and isinstance(ev, AnswerDelta) and isinstance(out[-1], AnswerDelta):
            out[-1] = AnswerDelta(out[-1].text + ev.text)
        else:
            out.append(ev)
    return out


def stream(chunks: Sequence[str], client_tools: Sequence[str] = ()) -> list[TranscriptEvent]:
    parser = TranscriptParser(client_tools=client_tools)
    events: list[TranscriptEvent] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    events += parser.close()
    assert parser.raw == "".join(chunks)
    assert all(e.text for e in events if isinstance(e, ReasoningDelta | AnswerDelta))
    return events


def reasoning(events: Iterable[TranscriptEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def answer(events: Iterable[TranscriptEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, AnswerDelta))


def issues(events: Iterable[TranscriptEvent]) -> list[TranscriptIssue]:
    return [e for e in events if isinstance(e, TranscriptIssue)]


# -- fixtures modelled on the published R1V4 examples -----------------------------------------

CODE = "from PIL import Image\nimg = Image.open('image_0.png')\nprint(img.size)"
CALL = json.dumps({"name": "code", "arguments": {"code": CODE}})
OBS = json.dumps({"result": "(640, 480)", "type": "code"})
CROP = json.dumps({"name": "code", "arguments": {"code": "img.crop((480, 0, 640, 480))"}})
GENERAL = (
    "<think>\nI need to identify the rightmost child in the image and the colour of the skirt.\n"
    "</think>\n"
    f"<tool_call>{CALL}</tool_call>\n"
    f"<observation>{OBS}</observation>\n"
    "<think>\nThe image is 640x480; crop the right quarter.\n</think>\n"
    f"<tool_call>{CROP}</tool_call>\n"
    '<observation>{"result": "Saved crop_0.png", "type": "code"}</observation>\n'
    "<think>\nThe cropped image shows the rightmost child clearly.\n</think>\n"
    "<answer>\nThe rightmost child has a red/orange coloured skirt.\n</answer>"
)

IMAGES = [
    {
        "title": "Camp Nou - Wikipedia",
        "source": "https://upload.example.org/camp_nou.jpg",
        "link": "https://en.wikipedia.org/wiki/Camp_Nou",
    }
]
PAGES = [
    {"title": "Camp Nou", "url": "https://club.example.com/camp-nou", "snippet": "105,000 seats"},
    {"title": "Renovation", "url": "https://news.example.org/r", "snippet": "Works end 2026"},
]
SUMMARY = {"title": "Spotify Camp Nou", "summary": "The stadium reopened in 2025."}
DEEP = (
    "<think>\nThe photo shows a stadium; a reverse image search should identify it.\n</think>\n"
    "<image_search>image_0</image_search>\n"
    f"<observation>{json.dumps(IMAGES)}</observation>\n"
    "<think>\nIt looks like Camp Nou. Let me confirm its capacity.\n</think>\n"
    "<text_search>Camp Nou capacity 2025</text_search>\n"
    f"<observation>{json.dumps(PAGES)}</observation>\n"
    "<think>\nRead the official page.\n</think>\n"
    "<web_content>https://club.example.com/camp-nou</web_content>\n"
    f"<observation>{json.dumps(SUMMARY)}</observation>\n"
    "<think>\nI have enough.\n</think>\n"
    "<answer>\nThis is **Camp Nou** in Barcelona (capacity about 105,000).\n</answer>"
)

PLAN_STEPS: list[dict[str, Any]] = [
    {
        "description": "Crop the region with the sign.",
        "tool_name": "code",
        "parameters": json.dumps({"code": "img.crop((0, 0, 10, 10))"}),
    },
    {
        "description": "Search for the place.",
        "tool_name": "text_search",
        "parameters": "not json",
    },
    {"description": "Answer.", "tool_name": "answer", "parameters": {"already": "parsed"}},
]
PLANNER = (
    "<think>\nTo answer I will break the task into 3 steps.\n</think>\n"
    f"<plan>{json.dumps(PLAN_STEPS)}</plan>"
)

WEATHER = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


# -- realistic transcripts per mode ------------------------------------------------------------


def test_general_mode_transcript() -> None:
    assert parse_transcript(GENERAL) == [
        ReasoningDelta(
            "I need to identify the rightmost child in the image and the colour of the skirt."
        ),
        ServerToolCall("code", {"code": CODE}, CALL, "tool_call", 0),
        ServerToolResult(json.loads(OBS), OBS, 0, "code", ()),
        ReasoningDelta("\n\nThe image is 640x480; crop the right quarter."),
        ServerToolCall("code", {"code": "img.crop((480, 0, 640, 480))"}, CROP, "tool_call", 1),
        ServerToolResult(
            {"result": "Saved crop_0.png", "type": "code"},
            '{"result": "Saved crop_0.png", "type": "code"}',
            1,
            "code",
            (),
        ),
        ReasoningDelta("\n\nThe cropped image shows the rightmost child clearly."),
        AnswerDelta("The rightmost child has a red/orange coloured skirt."),
    ]


def test_deep_research_transcript_calls_results_and_sources() -> None:
    events = parse_transcript(DEEP)
    calls = [e for e in events if isinstance(e, ServerToolCall)]
    assert calls == [
        ServerToolCall("image_search", {"query": "image_0"}, "image_0", "image_search", 0),
        ServerToolCall(
            "text_search",
            {"query": "Camp Nou capacity 2025"},
            "Camp Nou capacity 2025",
            "text_search",
            1,
        ),
        ServerToolCall(
            "web_content",
            {"url": "https://club.example.com/camp-nou"},
            "https://club.example.com/camp-nou",
            "web_content",
            2,
        ),
    ]
    results = [e for e in events if isinstance(e, ServerToolResult)]
    assert [(r.call_index, r.name) for r in results] == [
        (0, "image_search"),
        (1, "text_search"),
        (2, "web_content"),
    ]
    assert results[0].content == IMAGES
    assert results[0].sources == (
        Source(
            "Camp Nou - Wikipedia",
            "https://en.wikipedia.org/wiki/Camp_Nou",
            None,
            "https://upload.example.org/camp_nou.jpg",
            "image",
        ),
    )
    assert results[1].sources == (
        Source("Camp Nou", "https://club.example.com/camp-nou", "105,000 seats", None, "web"),
        Source("Renovation", "https://news.example.org/r", "Works end 2026", None, "web"),
    )
    assert results[2].content == SUMMARY
    assert results[2].sources == (
        Source("Spotify Camp Nou", "https://club.example.com/camp-nou", None, None, "web"),
    )
    assert reasoning(events).split("\n\n") == [
        "The photo shows a stadium; a reverse image search should identify it.",
        "It looks like Camp Nou. Let me confirm its capacity.",
        "Read the official page.",
        "I have enough.",
    ]
    assert answer(events) == "This is **Camp Nou** in Barcelona (capacity about 105,000)."
    assert issues(events) == []
    # Order: each call is directly followed by its result.
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "ReasoningDelta",
        "ServerToolCall",
        "ServerToolResult",
        "ReasoningDelta",
        "ServerToolCall",
        "ServerToolResult",
        "ReasoningDelta",
        "ServerToolCall",
        "ServerToolResult",
        "ReasoningDelta",
        "AnswerDelta",
    ]


def test_search_source_key_variants() -> None:
    wrapped = json.dumps({"results": [{"name": "T", "link": "https://a.example", "content": "c"}]})
    images = json.dumps(
        [
            # keys swapped relative to the published schema: detected by the image extension
            {"title": "x", "link": "https://img.example/x.png?w=3", "source": "https://p.example"},
            {"title": "y", "source": "Example Site", "link": "https://p.example/y"},
            {"no": "fields"},
        ]
    )
    events = parse_transcript(
        f"<text_search>q</text_search><observation>{wrapped}</observation>"
        f"<image_search>q</image_search><observation>{images}</observation>"
    )
    web, image = (e for e in events if isinstance(e, ServerToolResult))
    assert web.sources == (Source("T", "https://a.example", "c", None, "web"),)
    assert image.sources == (
        Source("x", "https://p.example", None, "https://img.example/x.png?w=3", "image"),
        Source("y", "https://p.example/y", None, None, "image"),
    )


def test_web_content_list_observation_and_search_via_tool_call() -> None:
    page = json.dumps([{"url": "https://u.example", "title": "Page", "content": "summary"}])
    call = json.dumps({"name": "text_search", "arguments": {"query": "q"}})
    events = parse_transcript(
        f"<web_content> https://u.example </web_content><observation>{page}</observation>"
        f"<tool_call>{call}</tool_call><observation>{json.dumps(PAGES[:1])}</observation>"
    )
    first, second = (e for e in events if isinstance(e, ServerToolResult))
    assert first.sources == (Source("Page", "https://u.example", None, None, "web"),)
    assert second.name == "text_search"
    assert second.sources == (
        Source("Camp Nou", "https://club.example.com/camp-nou", "105,000 seats", None, "web"),
    )


def test_deep_research_code_tag_followed_by_observation_is_a_server_call() -> None:
    events = parse_transcript(
        "<think>compute</think>\n<code>\nprint(2 + 2)\n</code>\n"
        '<observation>{"result": "4"}</observation>\n<answer>4</answer>'
    )
    assert events == [
        ReasoningDelta("compute"),
        ServerToolCall("code", {"code": "print(2 + 2)"}, "\nprint(2 + 2)\n", "code", 0),
        ServerToolResult({"result": "4"}, '{"result": "4"}', 0, "code", ()),
        AnswerDelta("4"),
    ]


def test_code_tag_without_observation_is_answer_html() -> None:
    text = "Use <code>len(x)</code> to count, or <code>x.count()</code>."
    assert parse_transcript(text) == [AnswerDelta(text)]
    # at the very end of the stream too
    assert parse_transcript("Call <code>f()</code>") == [AnswerDelta("Call <code>f()</code>")]


def test_planner_transcript() -> None:
    events = parse_transcript(PLANNER)
    assert events == [
        ReasoningDelta("To answer I will break the task into 3 steps."),
        Plan(
            (
                PlanStep(
                    "Crop the region with the sign.",
                    "code",
                    {"code": "img.crop((0, 0, 10, 10))"},
                    PLAN_STEPS[0]["parameters"],
                ),
                PlanStep("Search for the place.", "text_search", "not json", "not json"),
                PlanStep("Answer.", "answer", {"already": "parsed"}, {"already": "parsed"}),
            ),
            json.dumps(PLAN_STEPS),
        ),
    ]


def test_invalid_plan_keeps_raw_and_reports() -> None:
    events = parse_transcript("<plan>[{oops</plan>")
    assert events[0] == Plan((), "[{oops")
    assert [(i.kind, i.text) for i in issues(events)] == [("invalid_json", "[{oops")]
    events = parse_transcript('<plan>[1, {"description": "d", "tool_name": "t"}]</plan>')
    assert events[0] == Plan(
        (PlanStep("d", "t", None, None),), '[1, {"description": "d", "tool_name": "t"}]'
    )
    assert [i.kind for i in issues(events)] == ["invalid_plan"]


# -- plain replies, HTML, comparisons, unknown tags --------------------------------------------


def _text(event: TranscriptEvent) -> str:
    """The text of an event that has one (an event without would fail the test)."""
    assert isinstance(event, (ReasoningDelta, AnswerDelta, TranscriptIssue))
    return event.text


def test_reply_without_tags_is_answer_verbatim() -> None:
    """No transcript tags: the server's text exactly, whitespace and all (issue #14)."""
    assert parse_transcript("  Hello, world!\n") == [AnswerDelta("  Hello, world!\n")]
    assert "".join(_text(e) for e in parse_transcript("…unfold,\n")) == "…unfold,\n"
    assert parse_transcript("") == []
    assert parse_transcript(" \n ") == [AnswerDelta(" \n ")]


def test_whitespace_before_the_first_tag_is_not_answer() -> None:
    assert parse_transcript("\n<think>x</think>\n\nThe answer.\n") == [
        ReasoningDelta("x"),
        AnswerDelta("The answer."),
    ]


def test_qwen_style_think_then_bare_answer() -> None:
    assert parse_transcript("<think>x</think>answer") == [
        ReasoningDelta("x"),
        AnswerDelta("answer"),
    ]
    assert parse_transcript("<think>\nstep 1\nstep 2\n</think>\n\nThe answer is 4.") == [
        ReasoningDelta("step 1\nstep 2"),
        AnswerDelta("The answer is 4."),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "<b>bold</b> and <i>italic</i>",
        '<div class="x"><p>para</p></div>',
        "if a < b and b > c: <br/>",
        "x <thinking>not a tag</thinking> y",
        "<Think>upper case</Think>",
        '<think x="1">attributes</think x>',
        "1 <2 and 3< 4 <",
        "</code> and </b>",
    ],
)
def test_unknown_tags_and_comparisons_are_answer_text(text: str) -> None:
    assert parse_transcript(text) == [AnswerDelta(text)]


def test_html_inside_answer_tag_is_answer() -> None:
    text = "<think>r</think><answer><b>x</b> <think>not reasoning</think> a<b</answer>"
    assert parse_transcript(text) == [
        ReasoningDelta("r"),
        AnswerDelta("<b>x</b> <think>not reasoning</think> a<b"),
    ]


def test_tags_inside_think_are_reasoning() -> None:
    text = "<think>maybe <answer>no</answer> <tool_call>{}</tool_call></think>ok"
    assert parse_transcript(text) == [
        ReasoningDelta("maybe <answer>no</answer> <tool_call>{}</tool_call>"),
        AnswerDelta("ok"),
    ]


def test_answer_segments_are_joined_with_blank_line() -> None:
    events = parse_transcript(
        f"Let me check. {CALL.join(['<tool_call>', '</tool_call>'])}"
        f"<observation>{OBS}</observation> The size is 640x480. <answer> Done. </answer>"
    )
    assert answer(events) == "Let me check.\n\nThe size is 640x480.\n\nDone."


# -- streaming behaviour -----------------------------------------------------------------------


def test_reasoning_and_answer_stream_before_closing_tags() -> None:
    parser = TranscriptParser()
    assert parser.feed("<think>Let me") == [ReasoningDelta("Let me")]
    assert parser.feed(" think") == [ReasoningDelta(" think")]
    assert parser.feed(" more</thi") == [ReasoningDelta(" more")]
    assert parser.feed("nk>\n\n<answer>\nThe") == [AnswerDelta("The")]
    assert parser.feed(" answer") == [AnswerDelta(" answer")]
    assert parser.feed("\n</answer>") == []
    assert parser.close() == []


def test_only_a_possible_tag_prefix_is_held() -> None:
    parser = TranscriptParser()
    assert parser.feed("a <") == [AnswerDelta("a")]
    assert parser.feed("b>") == [AnswerDelta(" <b>")]
    assert parser.feed("x<thi") == [AnswerDelta("x")]
    assert parser.feed("s is not a tag") == [AnswerDelta("<this is not a tag")]
    assert parser.feed(" 3 <") == [AnswerDelta(" 3")]  # trailing whitespace and "<" held
    assert parser.feed(" 4") == [AnswerDelta(" < 4")]
    assert parser.close() == []


def test_trailing_whitespace_held_until_more_text() -> None:
    parser = TranscriptParser()
    assert parser.feed("Hello ") == [AnswerDelta("Hello")]
    assert parser.feed("\n") == []
    assert parser.feed("world\n") == [AnswerDelta(" \nworld")]
    assert parser.close() == [AnswerDelta("\n")]  # no tag came: the reply is verbatim


def test_whitespace_example_from_the_spec() -> None:
    parser = TranscriptParser()
    events: list[TranscriptEvent] = []
    for chunk in ["<think>", "\n", "reason", "\n", "</think>", "\n\n", "<answer>", "\n", "Hi"]:
        events += parser.feed(chunk)
    events += parser.feed("\n")
    events += parser.feed("</answer>")
    events += parser.close()
    assert events == [ReasoningDelta("reason"), AnswerDelta("Hi")]


def test_think_blocks_joined_when_next_block_text_arrives() -> None:
    parser = TranscriptParser()
    assert parser.feed("<think>one</think>") == [ReasoningDelta("one")]
    assert parser.feed("\n<think>\n") == []  # separator not emitted yet
    assert parser.feed("two") == [ReasoningDelta("\n\ntwo")]
    assert parser.feed("</think>\n<think> </think>") == []  # empty block: nothing, no separator
    assert parser.feed("<think>three</think>") == [ReasoningDelta("\n\nthree")]
    assert parser.close() == []


def test_whitespace_only_between_tags_emits_nothing() -> None:
    text = f"\n<tool_call>{CALL}</tool_call>\n \n<observation>{OBS}</observation>\n\n"
    events = parse_transcript(text)
    assert [type(e) for e in events] == [ServerToolCall, ServerToolResult]


def test_raw_is_everything_fed() -> None:
    parser = TranscriptParser(client_tools=["get_weather"])
    chunks = [DEEP[:7], DEEP[7:100], DEEP[100:], WEATHER, "<plan>[", "tail"]
    for chunk in chunks:
        parser.feed(chunk)
        assert parser.raw == "".join(chunks[: chunks.index(chunk) + 1])
    parser.close()
    assert parser.raw == "".join(chunks)


def test_feed_after_close_is_an_error_and_close_is_idempotent() -> None:
    parser = TranscriptParser()
    parser.feed("<think>x")
    assert len(parser.close()) == 1
    assert parser.close() == []
    with pytest.raises(RuntimeError):
        parser.feed("more")


# -- never lose text ---------------------------------------------------------------------------


def test_unclosed_think_is_reasoning_plus_issue() -> None:
    events = stream(["<think>cut off mid", " thought</th"])
    assert events[:-1] == [
        ReasoningDelta("cut off mid"),
        ReasoningDelta(" thought"),
        ReasoningDelta("</th"),
    ]
    assert events[-1] == TranscriptIssue(
        "unclosed_tag",
        "<think>cut off mid thought</th",
        "<think> was never closed; its text was streamed as reasoning",
    )


def test_unclosed_answer_is_answer_plus_issue() -> None:
    events = parse_transcript("<think>r</think><answer>partial answer ")
    assert events[:2] == [ReasoningDelta("r"), AnswerDelta("partial answer")]
    assert [(i.kind, i.text) for i in issues(events)] == [
        ("unclosed_tag", "<answer>partial answer ")
    ]


@pytest.mark.parametrize(
    "tail",
    [
        '<tool_call>{"name": "code", "argu',
        "<observation>[{",
        '<plan>[{"description"',
        "<text_search>Camp N",
        "<code>print(",
    ],
)
def test_unclosed_payload_becomes_answer_text_with_opening_tag(tail: str) -> None:
    events = parse_transcript("<think>r</think>Before: " + tail)
    assert events[0] == ReasoningDelta("r")
    assert answer(events) == "Before: " + tail
    assert [(i.kind, i.text) for i in issues(events)] == [("unclosed_tag", tail)]


def test_partial_tag_at_end_of_stream_is_answer_text() -> None:
    assert parse_transcript("x <obs") == [AnswerDelta("x <obs")]
    assert parse_transcript("x </thi") == [AnswerDelta("x </thi")]


def test_stray_closing_tag_is_answer_text_with_issue() -> None:
    events = parse_transcript("reasoning the template opened\n</think>\n\nThe answer.")
    assert events == [
        AnswerDelta("reasoning the template opened\n</think>"),
        TranscriptIssue(
            "stray_closing_tag", "</think>", "</think> without an opening tag; kept as answer text"
        ),
        AnswerDelta("\n\nThe answer."),
    ]
    assert answer(events) == "reasoning the template opened\n</think>\n\nThe answer."


def test_invalid_json_server_tool_call() -> None:
    bad = '{"name": "code", "arguments": {"code": "print(1)"'
    events = parse_transcript(f"<tool_call>{bad}</tool_call><observation>1</observation>")
    assert events[0] == ServerToolCall("code", bad, bad, "tool_call", 0)
    assert events[1].kind == "invalid_json" and events[1].text == bad  # type: ignore[union-attr]
    assert events[2] == ServerToolResult("1", "1", 0, "code", ())


def test_invalid_json_with_unreadable_name_is_unknown_server_call() -> None:
    events = parse_transcript("<tool_call>not json at all</tool_call><observation>x</observation>")
    assert events[0] == ServerToolCall(
        "unknown", "not json at all", "not json at all", "tool_call", 0
    )
    assert [i.kind for i in issues(events)] == ["invalid_json"]


def test_invalid_json_unanswered_is_no_server_call() -> None:
    events = parse_transcript("<tool_call>not json at all</tool_call>")
    assert not [e for e in events if isinstance(e, ServerToolCall)]
    assert [i.kind for i in issues(events)] == ["unanswered_tool_call", "invalid_json"]
    assert issues(events)[0].text == "<tool_call>not json at all</tool_call>"


def test_observation_not_json_keeps_text_and_without_call_has_no_index() -> None:
    assert parse_transcript("<observation>\n plain text result \n</observation>") == [
        ServerToolResult("plain text result", "\n plain text result \n", None, None, ())
    ]
    assert parse_transcript("<observation>{broken</observation>")[0] == ServerToolResult(
        "{broken", "{broken", None, None, ()
    )


# -- client vs server tool calls ---------------------------------------------------------------


def test_bound_code_followed_by_observation_stays_server() -> None:
    events = parse_transcript(GENERAL, client_tools=["code", "get_weather"])
    assert events == parse_transcript(GENERAL)
    assert not any(isinstance(e, ClientToolCall | InvalidClientToolCall) for e in events)


def test_bound_call_without_observation_is_client_call() -> None:
    events = parse_transcript("I'll check the weather.\n" + WEATHER, client_tools=["get_weather"])
    assert events == [
        AnswerDelta("I'll check the weather."),
        ClientToolCall("get_weather", '{"city":"Paris"}', 0, None),
    ]


def test_unbound_call_without_observation_is_unanswered_not_server_call() -> None:
    # Nobody ran it: it is neither a server call nor a call for the caller's tools.
    events = parse_transcript(WEATHER, client_tools=["other"])
    assert events == [
        TranscriptIssue(
            "unanswered_tool_call",
            WEATHER,
            "R1V4 called tool 'get_weather' and no observation answered: nothing ran it (an "
            "inference server does not run R1V4's tools; the call is not a server tool call)",
        )
    ]
    answered = parse_transcript(WEATHER + "<observation>sunny</observation>", client_tools=["x"])
    assert answered[0] == ServerToolCall(
        "get_weather", {"city": "Paris"}, WEATHER[11:-12], "tool_call", 0
    )


def test_argument_spellings() -> None:
    events = parse_transcript(
        '<text_search>{"query": "q", "num": 3}</text_search><observation>[]</observation>'
        '<tool_call>{"name": "get_time", "parameters": {"tz": "UTC"}}</tool_call>'
        '<tool_call>{"name": "get_time"}</tool_call>',
        client_tools=["get_time"],
    )
    assert events == [
        ServerToolCall(
            "text_search",
            {"query": "q", "num": 3},
            '{"query": "q", "num": 3}',
            "text_search",
            0,
        ),
        ServerToolResult([], "[]", 0, "text_search", ()),
        ClientToolCall("get_time", '{"tz":"UTC"}', 0, None),
        ClientToolCall("get_time", "{}", 1, None),
    ]


def test_several_client_calls_in_order_with_ids() -> None:
    text = (
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_1"}'
        "</tool_call>\n"
        '<tool_call>{"name": "get_time", "arguments": "{\\"tz\\": \\"CET\\"}"}</tool_call>\n'
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Pécs", "days": [1, 2]}}'
        "</tool_call>"
    )
    assert parse_transcript(text, client_tools={"get_weather", "get_time"}) == [
        ClientToolCall("get_weather", '{"city":"Paris"}', 0, "call_1"),
        ClientToolCall("get_time", '{"tz":"CET"}', 1, None),
        ClientToolCall("get_weather", '{"city":"Pécs","days":[1,2]}', 2, None),
    ]


def test_client_and_server_calls_are_counted_separately() -> None:
    text = f"<tool_call>{CALL}</tool_call><observation>{OBS}</observation>{WEATHER}"
    events = parse_transcript(text, client_tools=["get_weather", "code"])
    assert [type(e) for e in events] == [ServerToolCall, ServerToolResult, ClientToolCall]
    assert events[0].index == 0 and events[2].index == 0  # type: ignore[union-attr]


def test_bound_call_is_held_until_next_non_whitespace() -> None:
    parser = TranscriptParser(client_tools=["get_weather", "code"])
    assert parser.feed(WEATHER) == []
    assert parser.feed("\n \n") == []
    assert parser.feed("<obs") == []
    assert parser.feed("erva") == []
    out = parser.feed("tion>")
    assert [type(e) for e in out] == [ServerToolCall]
    parser = TranscriptParser(client_tools=["get_weather"])
    assert parser.feed(WEATHER + "\n") == []
    assert parser.feed("<ob") == []
    assert parser.feed("x") == [
        ClientToolCall("get_weather", '{"city":"Paris"}', 0, None),
        AnswerDelta("<obx"),
    ]
    assert parser.close() == []
    parser = TranscriptParser(client_tools=["get_weather"])
    assert parser.feed(WEATHER + " <obser") == []
    assert parser.close() == [
        ClientToolCall("get_weather", '{"city":"Paris"}', 0, None),
        AnswerDelta("<obser"),
    ]
    parser = TranscriptParser(client_tools=["get_weather"])
    assert parser.feed(WEATHER) == []
    assert parser.feed("Done") == [
        ClientToolCall("get_weather", '{"city":"Paris"}', 0, None),
        AnswerDelta("Done"),
    ]


def test_invalid_client_calls() -> None:
    bad = '{"name": "get_weather", "arguments": {"city": "Par'
    events = parse_transcript(f"<tool_call>{bad}</tool_call>", client_tools=["get_weather"])
    assert len(events) == 1 and isinstance(events[0], InvalidClientToolCall)
    assert (events[0].name, events[0].raw, events[0].index) == ("get_weather", bad, 0)
    assert events[0].error.startswith("invalid JSON")
    # arguments that are not an object
    events = parse_transcript(
        '<tool_call>{"name": "get_weather", "arguments": [1]}</tool_call>',
        client_tools=["get_weather"],
    )
    assert isinstance(events[0], InvalidClientToolCall)
    assert events[0].error == "arguments is not a JSON object"
    # unreadable name while client tools are bound: the caller's agent gets to see it
    events = parse_transcript("<tool_call>{garbage</tool_call>", client_tools=["get_weather"])
    assert isinstance(events[0], InvalidClientToolCall) and events[0].name is None
    # ... but followed by an observation it is a server trace
    events = parse_transcript(
        "<tool_call>{garbage</tool_call><observation>x</observation>", client_tools=["x"]
    )
    assert events[0] == ServerToolCall("unknown", "{garbage", "{garbage", "tool_call", 0)
    # invalid and valid client calls share one index sequence
    events = parse_transcript(
        f"<tool_call>{{garbage</tool_call>{WEATHER}", client_tools=["get_weather"]
    )
    assert [(type(e), e.index) for e in events] == [  # type: ignore[union-attr]
        (InvalidClientToolCall, 0),
        (ClientToolCall, 1),
    ]


# -- split invariance --------------------------------------------------------------------------

SMALL = (
    '<think> a<b </think>\n<tool_call>{"name": "f", "arguments": {}}</tool_call> '
    "<observation>[1]</observation> x <i>y</i> <code>c</code>\n"
    '<tool_call>{"name": "g"}</tool_call>\n<answer> z </answer></plan>'
)


@pytest.mark.parametrize("client_tools", [(), ("f", "g")])
def test_every_split_position_of_a_small_transcript(client_tools: tuple[str, ...]) -> None:
    whole = parse_transcript(SMALL, client_tools=client_tools)
    assert whole  # sanity: the fixture produces events
    for i in range(len(SMALL) + 1):
        assert merge(stream([SMALL[:i], SMALL[i:]], client_tools)) == whole, i
    for i in range(len(SMALL) + 1):
        for j in range(i, min(len(SMALL), i + 16) + 1):
            assert merge(stream([SMALL[:i], SMALL[i:j], SMALL[j:]], client_tools)) == whole
    assert merge(stream(list(SMALL), client_tools)) == whole


@pytest.mark.parametrize("text", [GENERAL, DEEP, PLANNER, "I'll check.\n" + WEATHER])
def test_realistic_transcripts_fed_one_character_at_a_time(text: str) -> None:
    tools = ("get_weather", "code")
    assert merge(stream(list(text), tools)) == parse_transcript(text, client_tools=tools)


FRAGMENTS = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<tool_call>",
    "</tool_call>",
    "<observation>",
    "</observation>",
    "<plan>",
    "</plan>",
    "<text_search>",
    "</text_search>",
    "<image_search>",
    "</image_search>",
    "<web_content>",
    "</web_content>",
    "<code>",
    "</code>",
    "<b>",
    "</b>",
    "<thinking>",
    "<",
    "</",
    "<thi",
    "<obs",
    ">",
    " ",
    "\n",
    "\n\n",
    "a",
    "word",
    "a < b",
    '{"name": "get_weather", "arguments": {"city": "Paris"}}',
    '{"name": "code", "arguments": {"code": "x"}, "id": "c1"}',
    '{"name": "get_weather", "arg',
    "[1, 2]",
    json.dumps(PAGES),
    json.dumps(IMAGES),
    json.dumps(PLAN_STEPS),
]

transcripts = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)
TOOLS = st.sampled_from([(), ("get_weather",), ("get_weather", "code")])


@st.composite
def split(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), text=transcripts, client_tools=TOOLS)
def test_any_split_parses_like_the_whole_text(
    data: st.DataObject, text: str, client_tools: tuple[str, ...]
) -> None:
    chunks = data.draw(split(text))
    assert merge(stream(chunks, client_tools)) == parse_transcript(text, client_tools=client_tools)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), text=transcripts, client_tools=TOOLS)
def test_the_plain_fast_path_gives_what_feed_gives(
    data: st.DataObject, text: str, client_tools: tuple[str, ...]
) -> None:
    parser = TranscriptParser(client_tools=client_tools)
    events: list[TranscriptEvent] = []
    for chunk in data.draw(split(text)):
        kind = parser.streaming
        piece = parser.feed_plain(chunk)
        if piece is None:
            events += parser.feed(chunk)
        else:
            assert kind is not None and parser.streaming is kind and "<" not in chunk
            events += [kind(piece)] if piece else []
    events += parser.close()
    assert parser.raw == text
    assert merge(events) == parse_transcript(text, client_tools=client_tools)


@settings(max_examples=200)
@given(data=st.data(), text=st.text(alphabet="ab<>/ \n", max_size=60))
def test_text_without_known_tags_is_answer_verbatim(data: st.DataObject, text: str) -> None:
    events = merge(stream(data.draw(split(text))))
    assert events == ([AnswerDelta(text)] if text else [])


@settings(max_examples=200)
@given(text=transcripts, client_tools=TOOLS)
def test_parse_transcript_merges_adjacent_deltas(text: str, client_tools: tuple[str, ...]) -> None:
    events = parse_transcript(text, client_tools=client_tools)
    for a, b in itertools.pairwise(events):
        assert not (type(a) is type(b) and isinstance(a, ReasoningDelta | AnswerDelta))


# -- cost --------------------------------------------------------------------------------------


class _Scanned:
    """Counts the characters handed to each step of the parser that scans or copies text.

    Each step costs time in proportion to the text it is handed (a find, a strip, a join of its
    own pieces), so the sum over a stream is the parser's cost: a step handed text already seen
    (a rescan, held text that keeps growing) makes it grow with the square of the stream.
    """

    STEPS = (
        (TranscriptParser, "_outside"),
        (TranscriptParser, "_inside"),
        (TranscriptParser, "_in_payload"),
        (TranscriptParser, "_pending"),
        (Segment, "text"),
        (Payload, "add"),
        (Payload, "take"),
        (DataUriScanner, "feed"),
    )

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chars = 0
        for cls, name in self.STEPS:
            monkeypatch.setattr(cls, name, self._counting(getattr(cls, name)))

    def _counting(self, step: Any) -> Any:
        def counted(owner: Any, text: str, *args: Any) -> Any:
            self.chars += len(text)
            return step(owner, text, *args)

        return counted


def _bounded(parser: TranscriptParser) -> None:
    """What the parser holds between feeds is a tag's length at most, however long the text."""
    assert len(parser._held) <= len("<observation>")
    payload = parser._payload
    assert payload is None or len(payload.tail) < len(payload.close)


def test_feed_cost_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 20,000-chunk stream, reasoning with tags split across chunks, and one long payload in
    small pieces: no text is scanned again, and nothing held grows with the stream.

    Counted, not timed (no clock in a unit test): the benchmarks' figure 9 (chunk_growth) times
    the cost per chunk at 3k, 30k and 100k chunks."""
    scanned = _Scanned(monkeypatch)
    parser = TranscriptParser()
    fed = 0
    for _ in range(20_000):
        parser.feed("some answer text ")
        fed += len("some answer text ")
        _bounded(parser)
    parser.close()
    assert scanned.chars <= 2 * fed  # once by its segment, once more at most on a tag

    scanned.chars = fed = 0
    parser = TranscriptParser()
    for piece in ["<thi", "nk>", *["a step, then <b>another</b> <", "/thi"] * 2_000, "nk>ok"]:
        parser.feed(piece)
        fed += len(piece)
        _bounded(parser)
    assert parser.close() == [] and parser.raw.endswith("</think>ok")
    assert scanned.chars <= 4 * fed

    body = json.dumps(PAGES * 2_000)  # ~200 kB observation streamed in 8-character pieces
    parser = TranscriptParser()
    parser.feed("<text_search>q</text_search><observation>")
    scanned.chars = fed = 0
    for i in range(0, len(body), 8):
        assert parser.feed(body[i : i + 8]) == []
        fed += len(body[i : i + 8])
        _bounded(parser)
    events = parser.feed("</observation>")
    assert isinstance(events[0], ServerToolResult) and len(events[0].sources) == 4_000
    assert scanned.chars <= 2 * fed
