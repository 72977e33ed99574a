"""The frameworks' own machinery on the real server: LangChain structured output through
``response_format`` (llama.cpp enforces the JSON schema with a grammar), a LlamaIndex query
engine over an index, and a LlamaIndex ``FunctionAgent`` that calls a tool and reads its result.

Every reply is forced, so the assertions hold on any machine: the structured-output schema admits
one value per field, the query engine's LLM carries a grammar, and the agent's two replies (the
call, then the answer) are each set by a grammar.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, ConfigDict
from real_asks import PROMPTED_CALL, TWO_SHOT, say
from real_server import LlamaServer

from langchain_r1v4 import ChatR1V4
from llama_index_r1v4 import R1V4


class Person(BaseModel):
    """A schema that admits only ``{"name": "Ann", "age": 30}``, written one way.

    This llama.cpp compiles a JSON schema with llguidance, which by default admits other
    properties and any whitespace between JSON tokens: a reply could go on until ``max_tokens``
    cuts it. ``extra="forbid"`` (``additionalProperties: false``) and llguidance's own
    ``x-guidance`` option (fixed separators, no other whitespace) leave one sentence."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"x-guidance": {"whitespace_flexible": False}}
    )

    name: Literal["Ann"]
    age: Literal[30]


PERSON_PROMPT = "Ann is 30 years old. Give her name and age as JSON."


@pytest.fixture
def chat(llama: LlamaServer, real_key: str) -> ChatR1V4:
    return ChatR1V4(
        model="smollm2",
        api_key=real_key,
        base_url=llama.base_url,
        temperature=0,
        max_tokens=128,  # room for Person's one sentence, however the tokens split it
        max_retries=0,
    )


def _check_person(person: Any) -> None:
    assert isinstance(person, Person)
    assert person.name == "Ann" and person.age == 30


def test_structured_output_json_schema(chat: ChatR1V4) -> None:
    _check_person(chat.with_structured_output(Person, method="json_schema").invoke(PERSON_PROMPT))


def test_structured_output_json_schema_async(chat: ChatR1V4) -> None:
    structured = chat.with_structured_output(Person, method="json_schema")
    _check_person(asyncio.run(structured.ainvoke(PERSON_PROMPT)))


def test_structured_output_json_schema_stream(chat: ChatR1V4) -> None:
    structured = chat.with_structured_output(Person, method="json_schema")
    *_, last = structured.stream(PERSON_PROMPT)
    _check_person(last)


def test_structured_output_include_raw(chat: ChatR1V4) -> None:
    structured = chat.with_structured_output(Person, method="json_schema", include_raw=True)
    out: Any = structured.invoke(PERSON_PROMPT)
    _check_person(out["parsed"])
    assert out["parsing_error"] is None
    assert json.loads(out["raw"].content) == {"name": "Ann", "age": 30}


# ------------------------------------------------------------------------------ LlamaIndex


def _r1v4(llama: LlamaServer, key: str, **settings: Any) -> R1V4:
    return R1V4(
        model="smollm2",
        api_key=key,
        base_url=llama.base_url,
        temperature=0,
        max_tokens=128,
        max_retries=0,
        **settings,
    )


# What the query engine's LLM is made to answer (it cannot be made to read the context).
EIFFEL = "The Eiffel Tower is 330 metres tall."


DOCS = [
    Document(text="The Eiffel Tower is 330 metres tall and stands in Paris."),
    Document(text="Mount Fuji is the highest mountain in Japan, at 3,776 metres."),
]


def _index() -> VectorStoreIndex:
    """The documents, embedded without a model: retrieval does not involve the LLM. (The
    LLM is given to each engine, leaving LlamaIndex's global ``Settings`` as they are;
    tests/llama_index covers ``Settings.llm = R1V4(...)``.)"""
    return VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))


@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming-query"])
def test_query_engine(llama: LlamaServer, real_key: str, streaming: bool) -> None:
    llm = _r1v4(llama, real_key, additional_kwargs=say(EIFFEL))
    engine = _index().as_query_engine(llm=llm, similarity_top_k=2, streaming=streaming)
    response: Any = engine.query("How tall is the Eiffel Tower?")
    text = "".join(response.response_gen) if streaming else str(response)
    assert text == EIFFEL and "330" in text
    assert len(response.source_nodes) == 2


def test_async_query_engine(llama: LlamaServer, real_key: str) -> None:
    llm = _r1v4(llama, real_key, additional_kwargs=say(EIFFEL))
    engine = _index().as_query_engine(llm=llm, similarity_top_k=2)
    assert str(asyncio.run(engine.aquery("How tall is the Eiffel Tower?"))) == EIFFEL


def _li_history() -> list[ChatMessage]:
    out = []
    for m in TWO_SHOT:
        if m["role"] == "user":
            out.append(ChatMessage(role="user", content=m["content"]))
        else:
            call = m["tool_calls"][0]
            block = ToolCallBlock(
                tool_call_id=call["id"],
                tool_name=call["function"]["name"],
                tool_kwargs=json.loads(call["function"]["arguments"]),
            )
            out.append(ChatMessage(role="assistant", blocks=[block]))
    return out


ANSWER = "It is cloudy, 12 degrees."


@pytest.mark.parametrize("streaming", [False, True], ids=["chat", "stream"])
def test_function_agent_loop(llama: LlamaServer, real_key: str, streaming: bool) -> None:
    """The agent asks for the tool, runs it, sends the result back, and the model answers.

    Both replies are forced by a grammar, which a request may carry only without ``tools``:
    the agent runs on prompted tools (the client writes the tools and the tool result into the
    prompt). The first grammar writes the call; the tool, which runs between the two requests,
    sets the second, which writes the answer. (Native calls are forced on every path in
    test_real_paths.py; llama.cpp can force one only with a prefilled assistant turn, which an
    agent does not send.)"""
    cities: list[str] = []
    llm = _r1v4(llama, real_key, tool_mode="prompted", additional_kwargs=say(PROMPTED_CALL))

    def get_weather(city: str) -> str:
        """Get the current weather in a city"""
        cities.append(city)
        llm.additional_kwargs = say(ANSWER)  # the next reply is the answer
        return "Cloudy, 12 degrees"

    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(get_weather)], llm=llm, streaming=streaming
    )

    async def go() -> Any:
        return await agent.run("What is the weather in Berlin?", chat_history=_li_history())

    result = asyncio.run(go())
    assert cities == ["Berlin"]
    assert [c.tool_name for c in result.tool_calls] == ["get_weather"]
    assert str(result.response.content) == ANSWER
