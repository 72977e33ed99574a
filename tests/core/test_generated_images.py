"""Images the hosted agent generates in its tool trace: found, checked, referenced, streamed."""

from __future__ import annotations

import base64
import io
import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pictures import gradient, png, uri
from PIL import Image

from r1v4 import (
    GeneratedImage,
    R1V4Client,
    ServerToolResult,
    TranscriptEvent,
    TranscriptIssue,
    TranscriptParser,
    accumulate,
    parse_transcript,
)
from r1v4._history import IMAGE_PLACEHOLDER
from r1v4._integrations import history_text, image_from_dict
from r1v4._trace import Trace, image_to_dict
from r1v4.testing import (
    LocalR1V4Server,
    Reply,
    answer,
    center_crop,
    data_uri,
    general_transcript,
    think,
    tool_call,
)

CALL = tool_call("code", {"code": "img.crop(box).save('crop.png')"})


def with_obs(body: str, final: str = "Done.") -> str:
    return think("I will crop.") + CALL + f"<observation>{body}</observation>" + answer(final)


def feed_all(chunks: list[str]) -> list[tuple[int, TranscriptEvent]]:
    """Events with the index of the chunk that produced them (len(chunks) for close())."""
    parser = TranscriptParser()
    out = [(i, e) for i, c in enumerate(chunks) for e in parser.feed(c)]
    return out + [(len(chunks), e) for e in parser.close()]


def images(events: list[Any]) -> list[GeneratedImage]:
    return [e for e in events if isinstance(e, GeneratedImage)]


def result(events: list[Any]) -> ServerToolResult:
    [res] = [e for e in events if isinstance(e, ServerToolResult)]
    return res


# -- where images are found --------------------------------------------------------------------


def test_an_image_in_a_nested_json_string_becomes_an_event_and_a_reference() -> None:
    data = png()
    body = json.dumps({"result": {"steps": [{"out": uri(data)}]}, "type": "code"})
    events = parse_transcript(with_obs(body))
    [img] = images(events)
    assert (img.id, img.mime_type, img.size, img.width, img.height) == (
        "srvimg_0",
        "image/png",
        len(data),
        12,
        8,
    )
    assert img.tool_call_id == "srvtool_0" and img.index == 0
    assert img.data == data and img.data_uri == uri(data)
    assert result(events).content == {
        "result": {"steps": [{"out": {"type": "image", "id": "srvimg_0"}}]},
        "type": "code",
    }
    # The image comes before the result of the call that made it.
    assert events.index(img) < events.index(result(events))


def test_bare_text_with_an_image_becomes_text_and_image_blocks() -> None:
    data = png()
    events = parse_transcript(with_obs(f"Cropped: {uri(data)} (the sign)"))
    [img] = images(events)
    assert img.data == data
    assert result(events).content == [
        {"type": "text", "text": "Cropped: "},
        {"type": "image", "id": "srvimg_0"},
        {"type": "text", "text": " (the sign)"},
    ]


@pytest.mark.parametrize("escaped", [False, True], ids=["real-newlines", "json-escapes"])
def test_base64_wrapped_over_lines_is_one_image_and_the_text_after_it_stays(
    escaped: bool,
) -> None:
    data = png((60, 40), "blue")
    b64 = base64.encodebytes(data).decode()  # 76-character lines, as MIME wraps them
    assert b64.count("\n") > 2
    wrapped = f"data:image/png;base64,{b64}Then a line of text."
    body = json.dumps({"result": wrapped}) if escaped else wrapped
    events = parse_transcript(with_obs(body))
    [img] = images(events)
    assert img.data == data
    content = result(events).content
    tail = content["result"] if escaped else content
    assert tail[0] == {"type": "image", "id": "srvimg_0"}
    assert tail[1]["text"].strip() == "Then a line of text."


def test_json_that_escapes_slashes_still_gives_the_image() -> None:
    # Some JSON encoders write "/" as "\/", and base64 is full of slashes.
    data = png((50, 50), "orange")
    value = uri(data)
    assert "/" in value[22:]
    body = json.dumps({"image": value}).replace("/", "\\/")
    assert json.loads(body) == {"image": value}
    text = with_obs(body)
    for events in (
        parse_transcript(text),
        [e for _, e in feed_all([text[i : i + 5] for i in range(0, len(text), 5)])],
    ):
        [img] = images(events)
        assert img.data == data
        assert result(events).content == {"image": {"type": "image", "id": "srvimg_0"}}


def test_a_search_result_whose_thumbnail_is_a_data_uri_keeps_it_as_its_source() -> None:
    data = png((16, 9), "navy")
    results = [{"title": "A sign", "source": uri(data), "link": "https://example.com/sign"}]
    text = "<image_search>sign</image_search>" + f"<observation>{json.dumps(results)}</observation>"
    events = parse_transcript(text)
    [img] = images(events)
    res = result(events)
    assert [(s.title, s.url, s.image_url) for s in res.sources] == [
        ("A sign", "https://example.com/sign", uri(data))
    ]
    assert res.content[0]["source"] == {"type": "image", "id": img.id}


def test_several_images_in_one_observation_in_order_with_one_call_id() -> None:
    shots = [png((10 + i, 5), c) for i, c in enumerate(["red", "green", "blue"])]
    body = json.dumps({"images": [uri(d) for d in shots], "note": uri(shots[0])})
    events = parse_transcript(with_obs(body))
    found = images(events)
    assert [i.data for i in found] == [*shots, shots[0]]
    assert [i.id for i in found] == ["srvimg_0", "srvimg_1", "srvimg_2", "srvimg_3"]
    assert [i.width for i in found] == [10, 11, 12, 10]
    assert {i.tool_call_id for i in found} == {"srvtool_0"}
    assert result(events).content == {
        "images": [{"type": "image", "id": f"srvimg_{n}"} for n in range(3)],
        "note": {"type": "image", "id": "srvimg_3"},
    }


def test_images_of_later_rounds_name_their_own_call() -> None:
    first = center_crop(gradient((64, 48)))
    shots = [data_uri(first), data_uri(center_crop(first))]
    events = parse_transcript(general_transcript(rounds=2, crops=shots))
    found = images(events)
    assert [i.tool_call_id for i in found] == ["srvtool_0", "srvtool_1"]
    assert [(i.width, i.height) for i in found] == [(32, 24), (16, 12)]
    assert [i.index for i in found] == [0, 1]


def test_the_answer_and_reasoning_never_hold_images() -> None:
    data = png()
    text = with_obs(json.dumps({"image": uri(data)}), final="Here it is.")
    events = parse_transcript(text)
    texts = [getattr(e, "text", "") for e in events if not isinstance(e, TranscriptIssue)]
    assert "base64" not in "".join(t for t in texts if isinstance(t, str))


# -- streaming --------------------------------------------------------------------------------


def test_an_image_split_at_every_position_arrives_on_the_chunk_where_it_completes() -> None:
    data = png((6, 4))
    value = uri(data)
    text = with_obs(json.dumps({"result": "ok", "images": [value]}))
    end = text.index(value) + len(value)  # the closing quote completes it
    whole = parse_transcript(text)
    for cut in range(1, len(text)):
        chunks = [text[:cut], text[cut:]]
        events = feed_all(chunks)
        [(at, img)] = [(i, e) for i, e in events if isinstance(e, GeneratedImage)]
        assert img.data == data
        assert at == (0 if cut > end else 1), cut
        assert result([e for _, e in events]).content == result(whole).content


def test_one_character_at_a_time_gives_the_same_images_and_content() -> None:
    shots = [png((5, 5), "red"), png((7, 3), "green")]
    body = json.dumps({"a": [uri(shots[0]), {"b": uri(shots[1])}], "t": "x"})
    text = with_obs(body)
    events = [e for _, e in feed_all(list(text))]
    assert [i.data for i in images(events)] == shots
    assert result(events).content == result(parse_transcript(text)).content


# -- bad payloads -----------------------------------------------------------------------------


def test_cut_off_base64_is_an_issue_and_its_text_stays() -> None:
    broken = uri(png())[:-3]  # not a multiple of 4 any more
    events = parse_transcript(with_obs(json.dumps({"image": broken})))
    assert images(events) == []
    [issue] = [e for e in events if isinstance(e, TranscriptIssue)]
    assert issue.kind == "invalid_image" and "multiple of 4" in issue.detail
    assert len(issue.text) < 200  # a preview, not the payload
    assert result(events).content == {"image": broken}


def test_a_truncated_png_is_an_issue_and_its_text_stays() -> None:
    truncated = "data:image/png;base64," + base64.b64encode(png((30, 30))[:-20]).decode()
    events = parse_transcript(with_obs(json.dumps({"image": truncated})))
    assert images(events) == []
    [issue] = [e for e in events if isinstance(e, TranscriptIssue)]
    assert issue.kind == "invalid_image" and "IEND" in issue.detail
    assert result(events).content == {"image": truncated}


def test_bytes_that_are_no_image_are_an_issue() -> None:
    fake = "data:image/png;base64," + base64.b64encode(b"hello, world" * 10).decode()
    events = parse_transcript(with_obs(json.dumps({"image": fake})))
    [issue] = [e for e in events if isinstance(e, TranscriptIssue)]
    assert issue.kind == "invalid_image" and "not an image" in issue.detail
    assert images(events) == []


def test_a_stream_ending_inside_an_image_reports_it_and_keeps_the_text() -> None:
    text = think("crop") + CALL + '<observation>{"image": "' + uri(png())[:60]
    events = [e for _, e in feed_all([text[:50], text[50:]])]
    kinds = [e.kind for e in events if isinstance(e, TranscriptIssue)]
    assert kinds == ["invalid_image", "unclosed_tag"]
    assert images(events) == []
    answer_text = "".join(
        getattr(e, "text", "") for e in events if type(e).__name__ == "AnswerDelta"
    )
    assert answer_text.endswith(uri(png())[:60])  # the text is never lost


def test_a_good_and_a_bad_image_side_by_side() -> None:
    good, bad = uri(png()), uri(png())[:-1]
    events = parse_transcript(with_obs(json.dumps([good, bad])))
    assert [i.id for i in images(events)] == ["srvimg_0"]
    assert result(events).content == [{"type": "image", "id": "srvimg_0"}, bad]


# -- trace data and history -------------------------------------------------------------------


def test_trace_dicts_round_trip_and_carry_standard_image_fields() -> None:
    data = png()
    events = parse_transcript(with_obs(json.dumps({"image": uri(data)})))
    [img] = images(events)
    as_dict = image_to_dict(img)
    assert {k: as_dict[k] for k in ("type", "id", "mime_type")} == {
        "type": "image",
        "id": "srvimg_0",
        "mime_type": "image/png",
    }
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert image_from_dict(as_dict) == img
    trace = Trace.of(events).to_dict()
    assert trace["generated_images"] == [as_dict]
    assert trace["server_tool_results"][0]["output"] == {
        "image": {"type": "image", "id": "srvimg_0"}
    }


def test_history_never_sends_generated_images_back() -> None:
    data = png((40, 40))
    raw = with_obs(json.dumps({"image": uri(data), "note": "ok"}), final="A red square.")
    sent = history_text("A red square.", raw_content=raw, history="transcript")
    assert "base64" not in sent and sent.count(IMAGE_PLACEHOLDER) == 1
    assert '"note": "ok"' in sent and "<observation>" in sent
    # The placeholder keeps the observation readable JSON.
    obs = sent[sent.index("<observation>") + 13 : sent.index("</observation>")]
    assert json.loads(obs) == {"image": IMAGE_PLACEHOLDER, "note": "ok"}
    assert history_text("A red square.", raw_content=raw) == "A red square."


def test_the_transcript_kept_for_history_leaves_the_images_to_the_events() -> None:
    data = png((20, 20))
    text = with_obs(json.dumps({"image": uri(data)}))
    with LocalR1V4Server(api_key="k") as srv:
        srv.enqueue(Reply(content=text, chunk_size=16, repeat=2))
        with R1V4Client(api_key="k", base_url=srv.base_url) as client:
            user = [{"role": "user", "content": "q"}]
            chunks = list(client.stream(model="skywork/r1v4-lite", messages=user))
            whole = client.create(model="skywork/r1v4-lite", messages=user)
    [transcript] = [
        c.choices[0].delta.transcript for c in chunks if c.choices and c.choices[0].delta.transcript
    ]
    assert transcript == text.replace(uri(data), IMAGE_PLACEHOLDER)
    assert whole.message.transcript == transcript
    assert whole.message.raw_content == text  # the content as sent stays exact
    assert [i.data for i in images(whole.message.events)] == [data]


# -- over loopback ----------------------------------------------------------------------------


@pytest.fixture()
def server() -> Any:
    with LocalR1V4Server(api_key="k", scenario="agent") as srv:
        yield srv


def ask_with_picture(client: R1V4Client, picture: bytes, stream: bool) -> Any:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in the middle?"},
                {"type": "image_url", "image_url": {"url": uri(picture)}},
            ],
        }
    ]
    if stream:
        return list(client.stream(model="skywork/r1v4-lite", messages=messages))
    return client.create(model="skywork/r1v4-lite", messages=messages)


@pytest.mark.parametrize("stream", [False, True])
def test_the_local_agent_really_crops_the_picture(server: LocalR1V4Server, stream: bool) -> None:
    picture = gradient((80, 60))
    with R1V4Client(api_key="k", base_url=server.base_url) as client:
        got = ask_with_picture(client, picture, stream)
    reply = accumulate(got) if stream else got
    [img] = images(reply.message.events)
    expected = Image.open(io.BytesIO(picture)).convert("RGB").crop((20, 15, 60, 45))
    crop = Image.open(io.BytesIO(img.data))
    assert crop.size == (40, 30) == (img.width, img.height)
    assert crop.convert("RGB").tobytes() == expected.tobytes()
    assert "base64" not in reply.message.content
    [res] = [e for e in reply.message.events if isinstance(e, ServerToolResult)]
    assert res.content["images"] == [{"type": "image", "id": "srvimg_0"}]


def test_an_image_trickled_byte_by_byte_over_sse_arrives_whole_on_its_chunk() -> None:
    data = png((9, 9), "purple")
    text = with_obs(json.dumps({"result": "cropped", "images": [uri(data)]}))
    with LocalR1V4Server(api_key="k") as srv:
        srv.enqueue(Reply(content=text, chunk_size=1, trickle=True))
        with R1V4Client(api_key="k", base_url=srv.base_url) as client:
            chunks = list(
                client.stream(
                    model="skywork/r1v4-lite", messages=[{"role": "user", "content": "q"}]
                )
            )
    with_image = [
        (n, e)
        for n, c in enumerate(chunks)
        for ch in c.choices
        for e in ch.delta.events or ()
        if isinstance(e, GeneratedImage)
    ]
    [(n, img)] = with_image
    assert img.data == data
    # One content character per chunk: the image came with the quote that closes its string.
    assert chunks[n].choices[0].delta.raw_content == '"'
    assert accumulate(chunks).message.content == "Done."


# -- any split --------------------------------------------------------------------------------

_SHOTS = [png((30, 20), "teal"), png((7, 7), "maroon")]
_WRAPPED = base64.encodebytes(_SHOTS[0]).decode()
# (observation, the images it holds)
_BODIES = [
    (json.dumps({"images": [uri(d) for d in _SHOTS], "result": "two"}), _SHOTS),
    (json.dumps({"result": f"data:image/png;base64,{_WRAPPED}done"}), _SHOTS[:1]),
    (f"crop: data:image/png;base64,{_WRAPPED}\nand {uri(_SHOTS[1])}", _SHOTS),
    (json.dumps({"image": uri(_SHOTS[1])}).replace("/", "\\/"), _SHOTS[1:]),
    (json.dumps({"image": uri(_SHOTS[0])[:-5], "ok": uri(_SHOTS[1])}), _SHOTS[1:]),
]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), case=st.sampled_from(_BODIES))
def test_any_split_gives_the_images_and_content_of_the_whole_text(
    data: st.DataObject, case: tuple[str, list[bytes]]
) -> None:
    body, expected = case
    text = with_obs(body)
    cuts = sorted(data.draw(st.lists(st.integers(1, len(text) - 1), max_size=30)))
    chunks = [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)])]
    streamed = [e for _, e in feed_all(chunks)]
    whole = parse_transcript(text)
    assert [i.data for i in images(streamed)] == [i.data for i in images(whole)] == expected
    assert result(streamed) == result(whole)
    issues = [e for e in streamed if isinstance(e, TranscriptIssue)]
    assert issues == [e for e in whole if isinstance(e, TranscriptIssue)]
