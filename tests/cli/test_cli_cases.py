"""Cases files: the vendor's format and ours, ids, request building, and shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli.support import write_cases
from r1v4.cli.cases import CaseError, load_cases, parse_shard

# The vendor's own test_cases.jsonl shape (SkyworkAI/Skywork-R1V, r1v4/): "" means no image.
VENDOR_LINES = [
    {"image": "./demo_image/demo_1.png", "question": "右边第二个小孩子的裙子是什么颜色？"},
    {"image": "", "question": "英雄联盟历史上最成功的选手是谁？为什么？"},
]


def test_vendor_cases_load_with_images_first_and_paths_beside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "test_cases.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in VENDOR_LINES) + "\n\n")
    with_image, no_image = load_cases(path)
    assert with_image.messages() == [
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": str(tmp_path / "demo_image/demo_1.png")},
                },
                {"type": "text", "text": VENDOR_LINES[0]["question"]},
            ],
        }
    ]
    assert no_image.images == []
    assert no_image.messages()[0]["content"] == [
        {"type": "text", "text": VENDOR_LINES[1]["question"]}
    ]


def test_optional_keys_messages_images_model(tmp_path: Path) -> None:
    case = {
        "id": 7,
        "model": "skywork/r1v4-vl-planner-lite",
        "enable_search": True,
        "images": ["a.png", "https://example.com/b.jpg", "data:image/png;base64,AAAA"],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "c.png"}}]},
        ],
        "question": "Compare them.",
    }
    (loaded,) = load_cases(write_cases(tmp_path / "c.jsonl", [case]))
    assert loaded.id == "7"
    assert loaded.images == [
        str(tmp_path / "a.png"),
        "https://example.com/b.jpg",
        "data:image/png;base64,AAAA",
    ]
    messages = loaded.messages()
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1]["content"][0]["image_url"]["url"] == str(tmp_path / "c.png")
    assert [p["type"] for p in messages[2]["content"]] == ["image_url"] * 3 + ["text"]
    assert [p["image_url"]["url"] for p in messages[2]["content"][:3]] == [
        str(tmp_path / "a.png"),
        "https://example.com/b.jpg",
        "data:image/png;base64,AAAA",
    ]


def test_ids_content_hash_is_stable_and_repeats_are_numbered(tmp_path: Path) -> None:
    a = {"question": "same", "image": ""}
    reordered = {"image": "", "question": "same"}
    cases = load_cases(write_cases(tmp_path / "c.jsonl", [a, reordered, {"question": "other"}]))
    assert cases[1].id == f"{cases[0].id}-2"
    assert cases[2].id != cases[0].id
    again = load_cases(write_cases(tmp_path / "d.jsonl", [reordered]))
    assert again[0].id == cases[0].id  # key order does not change the hash


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "c.jsonl:2: not JSON"),
        ('["a list"]', "must be a JSON object"),
        ('{"image": "a.png"}', "needs a 'question' or 'messages'"),
        ('{"question": "q", "images": "a.png"}', "'images' must be a list of strings"),
        ('{"question": "q", "enable_search": "yes"}', "'enable_search' must be true or false"),
        ('{"id": "x", "question": "again"}', "id 'x' already used on line 1"),
        ('{"question": 5}', "c.jsonl:2: field 'question' must be a string, got int"),
        ('{"question": "q", "image": ["a.png"]}', "c.jsonl:2: field 'image' must be a string"),
        ('{"question": "q", "model": {}}', "c.jsonl:2: field 'model' must be a string, got dict"),
        ('{"question": "q", "id": true}', "c.jsonl:2: field 'id' must be a non-empty string"),
        ('{"question": "q", "id": " "}', "c.jsonl:2: field 'id' must be a non-empty string"),
        ('{"messages": "hi"}', "c.jsonl:2: field 'messages' must be a list of message objects"),
        ('{"question": "q", "images": [1]}', "c.jsonl:2: field 'images' must be a list of strings"),
    ],
)
def test_bad_lines_are_refused_with_their_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "x", "question": "first"}\n' + line + "\n")
    with pytest.raises(CaseError) as info:
        load_cases(path)
    assert message in str(info.value)


def test_shards_cover_every_case_exactly_once(tmp_path: Path) -> None:
    cases = load_cases(
        write_cases(tmp_path / "c.jsonl", [{"question": f"q{i}"} for i in range(200)])
    )
    for count in (1, 2, 3, 7):
        shards = [parse_shard(f"{i}/{count}").select(cases) for i in range(1, count + 1)]
        ids = [case.id for shard in shards for case in shard]
        assert sorted(ids) == sorted(case.id for case in cases)
        assert all(shards), "every shard got some of 200 cases"
    # Deterministic: the same split on every machine, independent of line order.
    assert [c.id for c in parse_shard("2/3").select(reversed(cases))] == [
        c.id for c in reversed(parse_shard("2/3").select(cases))
    ]


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0", "-1/2"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="I/N"):
        parse_shard(text)


def test_malformed_messages_reach_the_core_and_fail_typed(tmp_path: Path) -> None:
    from r1v4 import InvalidRequestError, build_request

    bad = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x.png"}]}]}
    (case,) = load_cases(write_cases(tmp_path / "c.jsonl", [bad]))
    assert case.messages() == bad["messages"]  # passed on as written, not "fixed"
    with pytest.raises(InvalidRequestError):
        build_request(model="skywork/r1v4-lite", messages=case.messages())


# The vendor's benchmark input (SkyworkAI/Skywork-R1V, r1v4/benchmark/infer.py): a reference
# "answer" beside image and question.
BENCHMARK_LINE = {"image": "imgs/q1.png", "question": "图中有几只猫？", "answer": "2"}


def test_fields_the_batch_does_not_read_are_kept_untouched_and_never_checked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    extra = {
        "answer": ["2", 2, None],
        "category": {"level": 3, "tags": ["count"]},
        "r1v4_deepresearch_output": 17,
    }
    cases = load_cases(
        write_cases(tmp_path / "c.jsonl", [BENCHMARK_LINE, {"question": "q", **extra}])
    )
    assert [c.data for c in cases] == [BENCHMARK_LINE, {"question": "q", **extra}]
    assert cases[0].images == [str(tmp_path / "imgs" / "q1.png")]
    assert cases[0].messages()[0]["content"][-1] == {"type": "text", "text": "图中有几只猫？"}
    assert caplog.records == []  # "answer", "category"... are nobody's misspelling


def test_a_near_miss_of_a_read_field_runs_carried_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_cases(
        tmp_path / "c.jsonl",
        [{"question": "q", "imgae": "a.png"}, {"question": "r", "imgae": "b.png"}],
    )
    first, second = load_cases(path)
    assert first.data["imgae"] == "a.png" and first.images == []  # carried, not read
    assert second.data["imgae"] == "b.png" and second.images == []
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning == (
        f"{path}:1: field 'imgae' is not read by r1v4 batch (did you mean 'image'?); "
        "it is carried into the results as is"
    )


def test_lines_end_at_newline_only(tmp_path: Path) -> None:
    # json.dumps(ensure_ascii=False) writes U+2028, U+2029 and U+0085 raw; str.splitlines
    # would end a line at each of them (and at a raw \r, \v, \f, \x1c-\x1e).
    odd = "a\u2028b\u2029c\x85d\x1ce\x0bf\x0cg"
    raw_cr = '{"id": "cr", "question": "one\rtwo"}'  # a raw CR inside a string
    escaped = json.dumps({"id": "esc", "question": "one\r\ntwo"})  # \r\n escaped, as JSON does
    lines = [json.dumps({"id": "odd", "question": odd}, ensure_ascii=False), raw_cr, escaped]
    path = tmp_path / "c.jsonl"
    path.write_bytes("\r\n".join(lines).encode() + b"\r\n\r\n")  # Windows line endings
    cases = load_cases(path)
    assert [(c.id, c.question, c.line) for c in cases] == [
        ("odd", odd, 1),
        ("cr", "one\rtwo", 2),
        ("esc", "one\r\ntwo", 3),
    ]


def test_a_byte_order_mark_is_skipped_and_bad_utf8_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"question": "q"}\n')
    assert [c.question for c in load_cases(path)] == ["q"]
    path.write_bytes(b'{"question": "q"}\n{"question": "\xff"}\n')
    with pytest.raises(CaseError, match=r"c\.jsonl:2: not UTF-8"):
        load_cases(path)


async def test_local_images_are_sent_as_data_uris_read_by_the_batch(tmp_path: Path) -> None:
    from r1v4 import ImageError, image_to_data_uri
    from r1v4.testing import make_image

    (tmp_path / "a.png").write_bytes(make_image("PNG", (8, 6)))
    (tmp_path / "c.png").write_bytes(make_image("PNG", (4, 4)))
    remote = "https://example.com/b.jpg"
    case: dict[str, Any] = {
        "images": ["a.png", remote, "ftp://example.com/x.png"],
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "c.png"}}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": "c.png"}]},
        ],
        "question": "q",
    }
    (loaded,) = load_cases(write_cases(tmp_path / "c.jsonl", [case]))
    sent = await loaded.request_messages(max_bytes=10_000_000, max_pixels=None)
    assert sent[0]["content"][0]["image_url"]["url"] == image_to_data_uri(tmp_path / "c.png")
    assert sent[1] == case["messages"][1]  # malformed: passed on for the core to refuse
    assert [p.get("image_url", {}).get("url") for p in sent[2]["content"]] == [
        image_to_data_uri(tmp_path / "a.png"),
        remote,  # fetched by the client, under its own rules
        "ftp://example.com/x.png",  # not a path: the core refuses its scheme
        None,
    ]
    assert loaded.data == case  # the case itself is not rewritten
    assert loaded.images[0] == str(tmp_path / "a.png")  # results name the file, not its bytes

    with pytest.raises(ImageError, match=r"over the 10-byte limit \(max_bytes\)"):
        await loaded.request_messages(max_bytes=10, max_pixels=None)
    (tmp_path / "a.png").unlink()
    with pytest.raises(ImageError, match=r"image file not found: '.*a\.png'"):
        await loaded.request_messages(max_bytes=10_000_000, max_pixels=None)
