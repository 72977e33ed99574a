"""``text_search``, ``image_search`` and ``web_content``: plain callables (sync or async) adapted
to the observation shapes of R1V4's published deep-research transcripts, whose sources the
transcript parser reads; a tool without a backend says it is unavailable; a backend that fails
is an observation, never an exception."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pictures import png, uri

from r1v4 import ServerToolCall, ServerToolResult, Source, parse_transcript
from r1v4.testing import deep_research_transcript
from r1v4.tools import R1V4Tools, ToolResult


def tools(**backends: Any) -> R1V4Tools:
    return R1V4Tools(executor=None, **backends)


def observation(result: ToolResult) -> Any:
    return json.loads(result.observation)


def sources(result: ToolResult) -> tuple[Source, ...]:
    [res] = [e for e in result.events() if isinstance(e, ServerToolResult)]
    return res.sources


# -- text_search ------------------------------------------------------------------------------------

TAVILY_LIKE = {
    "query": "tallest mountain in Africa",
    "results": [
        {
            "title": "Kilimanjaro",
            "url": "https://example.com/kili",
            "content": "5,895 m.",
            "score": 0.9,
        },
        {
            "title": "Mount Kenya",
            "url": "https://example.com/kenya",
            "content": "5,199 m.",
            "score": 0.7,
        },
    ],
}


@pytest.mark.parametrize(
    "raw",
    [
        TAVILY_LIKE,
        TAVILY_LIKE["results"],
        json.dumps(TAVILY_LIKE),
        [
            {"name": "Kilimanjaro", "link": "https://example.com/kili", "snippet": "5,895 m."},
            {"title": "Mount Kenya", "href": "https://example.com/kenya", "body": "5,199 m."},
        ],
    ],
    ids=["tavily-dict", "list", "json-text", "other-key-names"],
)
def test_text_search_results_take_the_published_shape(raw: Any) -> None:
    seen: list[str] = []

    def search(query: str) -> Any:
        seen.append(query)
        return raw

    result = tools(text_search=search).run(
        {"name": "text_search", "arguments": {"query": "tallest mountain in Africa"}}
    )
    assert seen == ["tallest mountain in Africa"] and result.status == "ok"
    assert observation(result) == [
        {"title": "Kilimanjaro", "url": "https://example.com/kili", "snippet": "5,895 m."},
        {"title": "Mount Kenya", "url": "https://example.com/kenya", "snippet": "5,199 m."},
    ]
    assert [(s.title, s.url, s.kind) for s in sources(result)] == [
        ("Kilimanjaro", "https://example.com/kili", "web"),
        ("Mount Kenya", "https://example.com/kenya", "web"),
    ]


def test_text_search_parses_like_a_hosted_deep_research_round() -> None:
    hosted = next(
        e
        for e in parse_transcript(deep_research_transcript(image=None))
        if isinstance(e, ServerToolResult)
    )
    mine = tools(text_search=lambda q: hosted.content).run(
        {"name": "text_search", "arguments": {"query": "q"}}
    )
    [res] = [e for e in mine.events() if isinstance(e, ServerToolResult)]
    assert (
        res.content == hosted.content
        and res.sources == hosted.sources
        and res.name == "text_search"
    )


def test_plain_text_results_and_the_result_cap() -> None:
    result = tools(text_search=lambda q: "Kilimanjaro is 5,895 m high.").run(
        {"name": "text_search", "arguments": {"query": "q"}}
    )
    assert observation(result) == [
        {"title": "", "url": "", "snippet": "Kilimanjaro is 5,895 m high."}
    ]
    many = [{"title": f"t{i}", "url": f"https://e.com/{i}", "snippet": "s"} for i in range(30)]
    capped = R1V4Tools(executor=None, text_search=lambda q: many, max_search_results=3)
    assert [
        r["title"]
        for r in observation(capped.run({"name": "text_search", "arguments": {"query": "q"}}))
    ] == ["t0", "t1", "t2"]


# -- image_search -----------------------------------------------------------------------------------


def test_image_search_gets_the_named_conversation_image_as_a_data_uri() -> None:
    seen: list[str] = []

    def search(query: str) -> Any:
        seen.append(query)
        return {
            "images": [
                {
                    "title": "Lighthouse",
                    "image_url": "https://example.com/l.jpg",
                    "url": "https://example.com/page",
                },
                "https://example.com/raw.png",
            ]
        }

    backend = tools(image_search=search)
    images = [png((4, 4), "blue"), png((6, 6), "red")]
    for reference in ("image_1", "image_1.png"):
        result = backend.run({"name": "image_search", "arguments": {"query": reference}}, images)
        assert observation(result) == [
            {
                "title": "Lighthouse",
                "source": "https://example.com/l.jpg",
                "link": "https://example.com/page",
            },
            {"title": "", "source": "https://example.com/raw.png", "link": ""},
        ]
    assert seen == [uri(images[1])] * 2
    [lighthouse, raw] = sources(result)
    assert (raw.url, raw.image_url) == (None, "https://example.com/raw.png")
    assert (lighthouse.url, lighthouse.image_url, lighthouse.kind) == (
        "https://example.com/page",
        "https://example.com/l.jpg",
        "image",
    )
    backend.run({"name": "image_search", "arguments": {"query": "red lighthouse"}}, images)
    assert seen[-1] == "red lighthouse"  # not an image's name: the text itself


def test_the_published_image_schema_passes_unchanged() -> None:
    published = [
        {
            "title": "Similar",
            "source": "https://example.com/1.jpg",
            "link": "https://example.com/p/1",
        }
    ]
    result = tools(image_search=lambda q: published).run(
        {"name": "image_search", "arguments": {"query": "image_0"}}, [png()]
    )
    assert observation(result) == published


# -- web_content ------------------------------------------------------------------------------------


def test_web_content_reads_a_page_into_the_published_shape() -> None:
    def read(url: str) -> Any:
        return {"title": "Kilimanjaro", "content": "Kilimanjaro is a dormant volcano. " * 50}

    limited = R1V4Tools(executor=None, web_content=read, max_page_chars=100)
    result = limited.run({"name": "web_content", "arguments": {"url": "https://example.com/kili"}})
    [page] = observation(result)
    assert (page["url"], page["title"]) == ("https://example.com/kili", "Kilimanjaro")
    assert (
        page["content"]
        == ("Kilimanjaro is a dormant volcano. " * 50)[:100] + "… [cut at 100 characters]"
    )
    [source] = sources(result)
    assert (source.url, source.title) == ("https://example.com/kili", "Kilimanjaro")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/admin",
        "http://localhost/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://10.0.0.5/",
        "file:///etc/passwd",
        "ftp://example.com/x",
    ],
)
def test_web_content_never_asks_its_backend_for_private_or_local_urls(url: str) -> None:
    asked: list[str] = []
    result = tools(web_content=asked.append).run({"name": "web_content", "arguments": {"url": url}})
    assert asked == [] and result.status == "error"
    assert "web_content" in observation(result)["result"]
    allowed = R1V4Tools(executor=None, web_content=lambda u: "page", allow_private_urls=True)
    if url.startswith("http"):
        assert allowed.run({"name": "web_content", "arguments": {"url": url}}).status == "ok"


# -- no backend, failures, sync and async ------------------------------------------------------------


@pytest.mark.parametrize("name", ["text_search", "image_search", "web_content"])
def test_a_tool_without_a_backend_says_it_is_unavailable(name: str) -> None:
    result = tools().run({"name": name, "arguments": {"query": "x", "url": "https://example.com"}})
    assert result.status == "unavailable"
    assert observation(result) == {
        "result": f"The {name} tool is unavailable: no backend is configured for it.",
        "type": name,
    }
    assert tools().available == frozenset()


def test_a_backend_that_raises_is_an_observation() -> None:
    def broken(query: str) -> Any:
        raise ConnectionError("search API down")

    result = tools(text_search=broken).run({"name": "text_search", "arguments": {"query": "q"}})
    assert result.status == "error"
    assert observation(result) == {
        "result": "The text_search tool failed: ConnectionError: search API down",
        "type": "text_search",
    }


async def test_async_backends_are_awaited_and_sync_ones_run_in_a_thread() -> None:
    import threading

    async def asearch(query: str) -> Any:
        return [{"title": "async", "url": "https://a.example", "snippet": query}]

    class Both:
        def __call__(self, query: str) -> Any:
            raise AssertionError("the sync call is not for async code")

        async def acall(self, query: str) -> Any:
            return [{"title": "acall", "url": "https://b.example", "snippet": query}]

    threads: list[str] = []

    def read(url: str) -> str:
        threads.append(threading.current_thread().name)
        return "page text"

    backends = tools(text_search=asearch, image_search=Both(), web_content=read)
    text = await backends.arun({"name": "text_search", "arguments": {"query": "q1"}})
    image = await backends.arun({"name": "image_search", "arguments": {"query": "q2"}})
    page = await backends.arun({"name": "web_content", "arguments": {"url": "https://example.com"}})
    assert observation(text)[0]["title"] == "async" and observation(image)[0]["title"] == "acall"
    assert observation(page)[0]["content"] == "page text"
    assert threads and threads[0] != threading.current_thread().name
    # A sync call from inside a running event loop cannot wait for an async-only backend.
    inside = backends.run({"name": "text_search", "arguments": {"query": "q3"}})
    assert inside.status == "error" and "call R1V4Tools.arun" in observation(inside)["result"]


def test_an_async_only_backend_runs_to_completion_from_sync_code() -> None:
    async def asearch(query: str) -> Any:
        return [{"title": "async", "url": "https://a.example", "snippet": query}]

    result = tools(text_search=asearch).run({"name": "text_search", "arguments": {"query": "q3"}})
    assert observation(result)[0]["snippet"] == "q3"


# -- reading calls ----------------------------------------------------------------------------------


def test_calls_in_every_form_are_read() -> None:
    backend = tools(text_search=lambda q: [{"title": q, "url": "https://e.com", "snippet": ""}])
    forms: list[Any] = [
        {"name": "text_search", "arguments": {"query": "a"}},
        {"name": "text_search", "arguments": '{"query": "a"}'},  # a native tool call's JSON text
        {"type": "function", "function": {"name": "text_search", "arguments": '{"query": "a"}'}},
        ServerToolCall("text_search", {"query": "a"}, "a", "text_search", 0),  # a deep-research tag
        {"name": "text_search", "arguments": {"q": "a"}},
    ]
    for call in forms:
        assert observation(backend.run(call))[0]["title"] == "a", call


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            {"name": "paint", "arguments": {}},
            "There is no tool named 'paint'; the tools are code, image_search, text_search, web_content.",
        ),
        (
            {"name": "text_search", "arguments": "{not json"},
            "The text_search call's arguments are not valid JSON: ",
        ),
        (
            {"name": "text_search", "arguments": {"limit": 3}},
            "The text_search call has no 'query' or 'q' argument.",
        ),
        ({"arguments": {"query": "x"}}, "The tool call names no tool: "),
    ],
)
def test_a_call_that_cannot_be_run_is_answered_in_words(call: Any, message: str) -> None:
    result = tools(text_search=lambda q: []).run(call)
    assert result.status == "error"
    assert observation(result)["result"].startswith(message)


def test_settings_are_checked_and_the_repr_shows_no_backend() -> None:
    from r1v4 import InvalidRequestError

    class Keyed:
        api_key = "sk-secret"

        def __call__(self, query: str) -> Any:
            return []

        def __repr__(self) -> str:
            return f"Keyed(api_key={self.api_key})"

    assert "sk-secret" not in repr(R1V4Tools(executor=None, text_search=Keyed()))
    assert R1V4Tools(executor=None).max_tool_rounds == 16
    for bad in (
        dict(max_tool_rounds=0),
        dict(image_name="same.png"),
        dict(image_name="../x{index}"),
        dict(text_search="nope"),
        dict(max_page_chars=0),
    ):
        with pytest.raises(InvalidRequestError):
            R1V4Tools(executor=None, **bad)
    with pytest.raises(InvalidRequestError, match="run\\(job\\)"):
        R1V4Tools(executor=object())  # type: ignore[arg-type]
    assert R1V4Tools.handles("code") and not R1V4Tools.handles("get_weather")
