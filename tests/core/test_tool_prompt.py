"""``to_prompted``: tools, calls and results written into messages the Qwen3-VL way.

The checked-in expected text was written by hand from the Qwen3-VL chat template: it is what
that template renders for the request in ``prompted_tools_request.json`` *with* native tools.
Rendering the prompted request through the template's no-tools branch (plain ChatML,
reimplemented in ``chatml``) must give the same text, which is the whole point of prompted
mode: the model sees what it was trained on, whichever server is in front of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from r1v4 import ChatRequest, ImagePart, InvalidRequestError, TextPart, build_request
from r1v4._tool_prompt import AT_MOST_ONE, MUST_CALL, MUST_NOT_CALL, to_prompted, tools_section

MODEL = "skywork/r1v4-lite"

DATA = Path(__file__).parent / "data"
EXPECTED = DATA / "prompted_tools_expected.txt"
# The conversation the expected text renders: two tools, a user turn with an image, two rounds
# of calls (with and without assistant text) and their results.
_INPUT = json.loads((DATA / "prompted_tools_request.json").read_text(encoding="utf-8"))
WEATHER, ADD = _INPUT["tools"]
CONVERSATION: list[dict[str, Any]] = _INPUT["messages"]
IMAGE = CONVERSATION[1]["content"][0]["image_url"]["url"]  # a placeholder, never decoded here
IMAGE_2 = "data:image/jpeg;base64,/9j/4AAQ"


def call(id_: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


def request(messages: list[Any] | None = None, **fields: Any) -> ChatRequest:
    fields.setdefault("tools", [WEATHER, ADD])
    return build_request(model=MODEL, messages=messages or CONVERSATION, **fields)


def chatml(req: ChatRequest) -> str:
    """The Qwen3-VL template's rendering of a request without tools (generation prompt on)."""
    out = []
    for m in req.messages:
        if isinstance(m.content, list):
            body = "".join(
                p.text if isinstance(p, TextPart) else "<|vision_start|><|image_pad|><|vision_end|>"
                for p in m.content
            )
        else:
            body = m.content or ""
        out.append(f"<|im_start|>{m.role}\n{body}<|im_end|>\n")
    return "".join(out) + "<|im_start|>assistant\n"


def expected_section() -> str:
    """The tools section alone, cut from the expected text (system block minus caller text)."""
    text = EXPECTED.read_text(encoding="utf-8")
    system = text.split("<|im_start|>system\n", 1)[1].split("<|im_end|>", 1)[0]
    return system.removeprefix("You are a weather bot.\n\n")


# ----------------------------------------------------------------------------- the text


def test_rendered_prompt_matches_the_template_text() -> None:
    prompted = to_prompted(request())
    assert chatml(prompted) == EXPECTED.read_text(encoding="utf-8")


def test_section_is_the_template_text_line_by_line() -> None:
    lines = tools_section(request().tools or []).split("\n")
    assert lines[:6] == [
        "# Tools",
        "",
        "You may call one or more functions to assist with the user query.",
        "",
        "You are provided with function signatures within <tools></tools> XML tags:",
        "<tools>",
    ]
    assert [json.loads(line) for line in lines[6:8]] == [WEATHER, ADD]
    assert lines[8:] == [
        "</tools>",
        "",
        "For each function call, return a json object with function name and arguments "
        "within <tool_call></tool_call> XML tags:",
        "<tool_call>",
        '{"name": <function-name>, "arguments": <args-json-object>}',
        "</tool_call>",
    ]


def test_tool_lines_are_json_dumps_defaults_with_unicode_kept() -> None:
    line = tools_section(request().tools or []).split("\n")[6]
    assert line == json.dumps(WEATHER, ensure_ascii=False)
    assert "当前天气" in line and '", "' in line and '": ' in line


def test_tool_lines_leave_out_unset_fields_and_keep_strict() -> None:
    bare = {"type": "function", "function": {"name": "ping"}}
    strict = {"type": "function", "function": {"name": "pong", "parameters": {}, "strict": True}}
    lines = tools_section(request(tools=[bare, strict]).tools or []).split("\n")[6:8]
    assert lines == [
        '{"type": "function", "function": {"name": "ping", "parameters": '
        '{"type": "object", "properties": {}}}}',
        '{"type": "function", "function": {"name": "pong", "parameters": {}, "strict": true}}',
    ]


# ------------------------------------------------------------------------- the system


def test_section_is_appended_to_the_callers_system_message() -> None:
    prompted = to_prompted(request())
    assert prompted.messages[0].role == "system"
    assert prompted.messages[0].content == "You are a weather bot.\n\n" + expected_section()
    assert [m.role for m in prompted.messages].count("system") == 1


def test_without_a_system_message_the_section_is_a_new_first_one() -> None:
    prompted = to_prompted(request(CONVERSATION[1:]))
    assert prompted.messages[0].role == "system"
    assert prompted.messages[0].content == expected_section()
    roles = ["system", "user", "assistant", "user", "assistant", "user"]
    assert [m.role for m in prompted.messages] == roles


def test_a_later_system_message_is_not_the_one_extended() -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "late"}]
    prompted = to_prompted(request(messages))
    assert [m.role for m in prompted.messages] == ["system", "user", "system"]
    assert prompted.messages[0].content == expected_section()
    assert prompted.messages[2].content == "late"


def test_empty_system_text_still_gets_the_blank_line_as_the_template_writes() -> None:
    prompted = to_prompted(request([{"role": "system", "content": ""}, *CONVERSATION[1:]]))
    assert prompted.messages[0].content == "\n\n" + expected_section()


def test_system_message_with_parts_keeps_them_and_gains_one_text_part() -> None:
    system = {
        "role": "system",
        "content": [
            {"type": "text", "text": "You are"},
            {"type": "image_url", "image_url": {"url": IMAGE}},
            {"type": "text", "text": " a weather bot."},
        ],
    }
    prompted = to_prompted(request([system, *CONVERSATION[1:]]))
    content = prompted.messages[0].content
    assert isinstance(content, list)
    parts: list[type[object]] = [TextPart, ImagePart, TextPart, TextPart]
    assert [type(p) for p in content] == parts
    assert isinstance(content[1], ImagePart) and content[1].image_url.url == IMAGE
    assert isinstance(content[3], TextPart)
    assert content[3].text == "\n\n" + expected_section()
    assert prompted.messages[0].text() == "You are a weather bot.\n\n" + expected_section()


# ------------------------------------------------------------------------ tool_choice


@pytest.mark.parametrize("choice", [None, "auto"])
def test_auto_choice_adds_nothing(choice: str | None) -> None:
    prompted = to_prompted(request(tool_choice=choice))
    assert prompted.messages[0].text().endswith("\n</tool_call>")
    assert prompted.messages[0].text() == "You are a weather bot.\n\n" + expected_section()


def test_required_choice_is_an_instruction_after_the_section() -> None:
    prompted = to_prompted(request(tool_choice="required"))
    assert prompted.messages[0].text() == (
        "You are a weather bot.\n\n"
        + expected_section()
        + "\n\nYou must call at least one function."
    )
    assert MUST_CALL == "You must call at least one function."


def test_named_choice_names_the_function() -> None:
    choice = {"type": "function", "function": {"name": "add"}}
    prompted = to_prompted(request(tool_choice=choice))
    assert prompted.messages[0].text() == (
        "You are a weather bot.\n\n" + expected_section() + "\n\nYou must call the function add."
    )
    # every tool is still listed, as with a native named choice
    assert '"name": "get_weather"' in prompted.messages[0].text()


def test_parallel_false_and_required_are_two_lines_in_order() -> None:
    prompted = to_prompted(request(tool_choice="required", parallel_tool_calls=False))
    tail = "\n\nYou must call at least one function.\nCall at most one function in this reply."
    assert prompted.messages[0].text().endswith("</tool_call>" + tail)
    assert AT_MOST_ONE == "Call at most one function in this reply."


def test_parallel_true_adds_nothing() -> None:
    prompted = to_prompted(request(parallel_tool_calls=True))
    assert prompted.messages[0].text().endswith("\n</tool_call>")
    assert prompted.parallel_tool_calls is None


def test_none_choice_renders_no_tools_and_forbids_calls() -> None:
    prompted = to_prompted(request(tool_choice="none"))
    assert prompted.messages[0].content == "You are a weather bot.\n\n" + MUST_NOT_CALL
    assert MUST_NOT_CALL == "Do not call any functions in this reply; answer directly."
    assert not any("<tools>" in m.text() for m in prompted.messages)
    # the history is still rewritten: no tool role may reach the server
    assert "tool" not in [m.role for m in prompted.messages]
    assert prompted.messages[2].text().endswith("</tool_call>")


def test_none_choice_without_a_system_message_adds_one() -> None:
    prompted = to_prompted(request([{"role": "user", "content": "hi"}], tool_choice="none"))
    assert [(m.role, m.content) for m in prompted.messages] == [
        ("system", MUST_NOT_CALL),
        ("user", "hi"),
    ]


def test_named_choice_of_an_unbound_tool_is_refused() -> None:
    with pytest.raises(InvalidRequestError, match="'nope'"):
        to_prompted(request(tool_choice={"type": "function", "function": {"name": "nope"}}))


@pytest.mark.parametrize(
    "choice",
    [{"type": "function"}, {"type": "function", "function": {"name": ""}}, {"type": "web"}],
)
def test_malformed_named_choice_is_refused(choice: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError, match="tool_choice"):
        to_prompted(request(tool_choice=choice))


# --------------------------------------------------------------------------- history


def test_multi_turn_calls_and_results_become_plain_messages() -> None:
    prompted = to_prompted(request())
    assert [(m.role, m.text()) for m in prompted.messages[2:]] == [
        (
            "assistant",
            "Let me check.\n"
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
            '<tool_call>\n{"name": "add", "arguments": {"a":2,"b":3}}\n</tool_call>',
        ),
        (
            "user",
            "<tool_response>\nSunny, 21 C\n</tool_response>\n<tool_response>\n5\n</tool_response>",
        ),
        (
            "assistant",
            '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Lyon", "unit": "c"}}\n'
            "</tool_call>",
        ),
        ("user", "<tool_response>\nRain, 14 C\n</tool_response>"),
    ]
    # tool names and call ids are not part of the text form: results match calls by position
    assert all(m.name is None and m.tool_call_id is None for m in prompted.messages)


def test_results_split_by_another_message_are_separate_user_messages() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "", "tool_calls": [call("c1", "add", "{}")]},
        {"role": "tool", "tool_call_id": "c1", "content": "1"},
        {"role": "user", "content": "and again"},
        {"role": "tool", "tool_call_id": "c1", "content": "2"},
    ]
    prompted = to_prompted(request(messages))
    assert [(m.role, m.text()) for m in prompted.messages[1:]] == [
        ("user", "go"),
        ("assistant", '<tool_call>\n{"name": "add", "arguments": {}}\n</tool_call>'),
        ("user", "<tool_response>\n1\n</tool_response>"),
        ("user", "and again"),
        ("user", "<tool_response>\n2\n</tool_response>"),
    ]


def test_empty_arguments_are_sent_as_an_empty_object() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [call("c1", "add", "")]},
    ]
    prompted = to_prompted(request(messages))
    assert prompted.messages[-1].content == (
        '<tool_call>\n{"name": "add", "arguments": {}}\n</tool_call>'
    )


def test_history_alone_is_rewritten_without_a_tools_section() -> None:
    prompted = to_prompted(request(CONVERSATION[1:], tools=None))
    assert prompted.messages[0].role == "user"
    assert not any("# Tools" in m.text() for m in prompted.messages)
    assert [m.role for m in prompted.messages] == ["user", "assistant", "user", "assistant", "user"]


def test_assistant_with_parts_and_calls_keeps_its_parts() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "On it."}],
            "tool_calls": [call("c1", "add", '{"a": 1}')],
        },
    ]
    content = to_prompted(request(messages)).messages[-1].content
    assert isinstance(content, list)
    assert [p.text for p in content if isinstance(p, TextPart)] == [
        "On it.",
        '\n<tool_call>\n{"name": "add", "arguments": {"a": 1}}\n</tool_call>',
    ]


# ---------------------------------------------------------------------------- images


def test_images_in_user_messages_keep_their_place() -> None:
    prompted = to_prompted(request())
    user = prompted.messages[1]
    assert user == request().messages[1]
    assert isinstance(user.content, list) and isinstance(user.content[0], ImagePart)
    assert user.content[0].image_url.url == IMAGE


def test_images_in_tool_results_stay_inside_their_response_block() -> None:
    real = "data:image/gif;base64,R0lGODlh"
    messages = [
        {"role": "user", "content": "crop it"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("c1", "crop", "{}"), call("c2", "crop", "{}")],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": [
                {"type": "text", "text": "first:"},
                {"type": "image_url", "image_url": {"url": real}},
                {"type": "text", "text": "done"},
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c2",
            "content": [{"type": "image_url", "image_url": {"url": IMAGE_2}}],
        },
    ]
    crop = {"type": "function", "function": {"name": "crop"}}
    prompted = to_prompted(request(messages, tools=[crop]))
    results = prompted.messages[-1]
    assert results.role == "user"
    assert isinstance(results.content, list)
    shape = [p.text if isinstance(p, TextPart) else p.image_url.url for p in results.content]
    assert shape == [
        "<tool_response>\nfirst:",
        real,
        "done\n</tool_response>\n<tool_response>\n",
        IMAGE_2,
        "\n</tool_response>",
    ]


def test_text_only_parts_in_a_result_collapse_to_a_string() -> None:
    messages = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [call("c1", "add", "{}")]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "42"}]},
    ]
    prompted = to_prompted(request(messages))
    assert prompted.messages[-1].content == "<tool_response>\n42\n</tool_response>"


# ------------------------------------------------------------------------- the result


def test_result_is_a_valid_request_with_no_tool_fields_or_roles() -> None:
    original = request(tool_choice="required", parallel_tool_calls=False, temperature=0.2)
    prompted = to_prompted(original)
    again = ChatRequest.model_validate(prompted.model_dump())
    assert again == prompted
    assert (prompted.tools, prompted.tool_choice, prompted.parallel_tool_calls) == (None,) * 3
    assert all(m.role != "tool" and not m.tool_calls for m in prompted.messages)
    body = prompted.to_body()
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & body.keys()
    assert all(not {"tool_calls", "tool_call_id"} & m.keys() for m in body["messages"])
    # everything else is carried over
    assert (body["model"], body["temperature"]) == (MODEL, 0.2)


def test_the_input_request_is_not_modified() -> None:
    original = request(tool_choice="required")
    before = original.model_dump()
    first = to_prompted(original)
    assert original.model_dump() == before
    assert to_prompted(original) == first
