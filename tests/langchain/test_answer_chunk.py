"""``answer_chunk``, the hot path of streamed answer text, builds what the validating
constructors build, field for field, and nothing it returns is shared."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_r1v4._outputs import answer_chunk


def _state(model: Any) -> tuple[Any, ...]:
    return (
        type(model),
        model.__dict__,
        model.model_fields_set,
        model.__pydantic_extra__,
        model.__pydantic_private__,
    )


def test_answer_chunk_is_the_validated_chunk_field_for_field() -> None:
    for text, msg_id in (("a piece", "chatcmpl-1"), (" x ", None)):
        got = answer_chunk(text, msg_id)
        validated = ChatGenerationChunk(
            message=AIMessageChunk(
                content=text,
                id=msg_id,
                additional_kwargs={},
                response_metadata={"model_provider": "skywork"},
                tool_calls=[],
                invalid_tool_calls=[],
                tool_call_chunks=[],
            )
        )
        assert _state(got) == _state(validated)
        assert _state(got.message) == _state(validated.message)
        assert got == validated and got.text == text
        assert got.message.model_dump() == validated.message.model_dump()


def test_answer_chunks_share_no_mutable_field() -> None:
    first, second = answer_chunk("a", "c"), answer_chunk("b", "c")
    for field in (
        "additional_kwargs",
        "response_metadata",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
    ):
        assert getattr(first.message, field) is not getattr(second.message, field), field
    assert first.message.__pydantic_extra__ is not second.message.__pydantic_extra__
    assert first.message.model_fields_set is not second.message.model_fields_set
    mine = first.message
    assert isinstance(mine, AIMessageChunk)
    mine.response_metadata["mine"] = 1
    mine.tool_calls.append({"name": "f", "args": {}, "id": "1", "type": "tool_call"})
    third = answer_chunk("c", "c")
    assert third.message.response_metadata == {"model_provider": "skywork"}
    for other in (second.message, third.message):
        assert isinstance(other, AIMessageChunk) and other.tool_calls == []
