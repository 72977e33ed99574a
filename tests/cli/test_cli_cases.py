"""Cases files: the vendor's format and ours, ids, request building, and shards."""

from __future__ import annotations

import json
from pathlib import Path

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
                    # A Path: the operator's own file, read without allow_file_paths.
                    "image_url": {"url": tmp_path / "demo_image/demo_1.png"},
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
    assert messages[1]["content"][0]["image_url"]["url"] == tmp_path / "c.png"
    assert [p["type"] for p in messages[2]["content"]] == ["image_url"] * 3 + ["text"]
    assert [p["image_url"]["url"] for p in messages[2]["content"][:3]] == [
        tmp_path / "a.png",
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
        ('{"question": "q", "imgae": "a.png"}', "unknown key(s) imgae"),
        ('{"question": "q", "images": "a.png"}', "'images' must be a list of strings"),
        ('{"question": "q", "enable_search": "yes"}', "'enable_search' must be true or false"),
        ('{"id": "x", "question": "again"}', "id 'x' already used on line 1"),
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
