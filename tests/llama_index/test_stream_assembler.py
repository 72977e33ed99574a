"""``StreamAssembler`` builds each streamed ``ChatMessage`` as a copy of one template (the hot
path): each must be the message the validating constructor builds, sharing nothing."""

from __future__ import annotations

from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock, ToolCallBlock

from llama_index_r1v4._responses import StreamAssembler
from r1v4 import accumulate
from r1v4._types import ChatCompletionChunk, ChunkChoice, Delta, ToolCallDelta


def _chunk(content: str) -> ChatCompletionChunk:
    return ChatCompletionChunk("chatcmpl-1", "m", 1, [ChunkChoice(0, Delta(content=content))])


def test_streamed_messages_are_validated_messages_of_their_own() -> None:
    assembler = StreamAssembler()
    responses = [assembler.add(_chunk(text)) for text in ("one ", "two")]
    texts = ["one ", "one two"]
    for response, text in zip(responses, texts, strict=True):
        assert response is not None
        message = response.message
        validated = ChatMessage(
            role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)], additional_kwargs={}
        )
        assert message == validated and message.content == text
        assert message.model_fields_set == validated.model_fields_set
        assert message.__pydantic_extra__ is None and message.__pydantic_private__ is None
        assert message.model_dump() == validated.model_dump()
    first, second = (r.message for r in responses if r is not None)
    assert first.blocks is not second.blocks
    assert first.additional_kwargs is not second.additional_kwargs
    assert first.model_fields_set is not second.model_fields_set
    first.additional_kwargs["mine"] = 1
    first.blocks.append(TextBlock(text="mine"))
    third = assembler.add(_chunk("!"))
    assert third is not None and third.message.additional_kwargs == {}
    assert [b.text for b in third.message.blocks if isinstance(b, TextBlock)] == ["one two!"]
    assert second.content == "one two"


def test_streamed_tool_calls_are_the_calls_the_core_accumulates() -> None:
    # The pieces join by the core's one rule: in index order, arguments never sent are "{}".
    pieces = [
        [ToolCallDelta(1, "call_b", "lookup", '{"q": ')],
        [ToolCallDelta(0, "call_a", "ping")],
        [ToolCallDelta(1, arguments='"x"}')],
    ]
    chunks = [
        ChatCompletionChunk("chatcmpl-1", "m", 1, [ChunkChoice(0, Delta(tool_calls=p))])
        for p in pieces
    ]
    assembler = StreamAssembler()
    responses = [assembler.add(chunk) for chunk in chunks]
    last = responses[-1]
    assert last is not None
    blocks = [b for b in last.message.blocks if isinstance(b, ToolCallBlock)]
    calls = accumulate(chunks).message.tool_calls
    assert [(b.tool_call_id, b.tool_name, b.tool_kwargs) for b in blocks] == [
        (c.id, c.function.name, c.function.arguments) for c in calls
    ]
    assert [(b.tool_call_id, b.tool_kwargs) for b in blocks] == [
        ("call_a", "{}"),
        ("call_b", '{"q": "x"}'),
    ]
