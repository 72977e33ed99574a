"""A data URI that has passed every check once is not decoded or checked again.

Counted, not timed: the tests wrap the data-URI decoder and the structural check and count
their calls, first on the image functions, then over loopback through the client, where a
multi-turn conversation sends the same history image on every call.
"""

from __future__ import annotations

import base64
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import r1v4
from r1v4._errors import ImageError
from r1v4._images import aimage_to_data_uri, image_to_data_uri
from r1v4._images._checked import CHECKED, CheckedUris
from r1v4._images._inputs import Options
from r1v4.testing import LocalR1V4Server, make_image

PNG = make_image("PNG", (40, 30), (255, 0, 0))


def fresh_uri(data: bytes = PNG) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def test_a_returned_uri_passes_through_without_a_decode(image_work: Any) -> None:
    uri = image_to_data_uri(PNG)
    assert image_work.checks == 1 and image_work.decodes == 0
    assert image_to_data_uri(uri) is uri
    assert image_to_data_uri(uri, max_bytes=len(PNG)) is uri  # within the limit: still trusted
    assert image_work.checks == 1 and image_work.decodes == 0


async def test_a_file_image_is_checked_once_then_its_uri_trusted(
    image_work: Any, tmp_path: Path
) -> None:
    path = tmp_path / "red.png"
    path.write_bytes(PNG)
    uri = image_to_data_uri(path)
    assert uri == fresh_uri()
    assert image_work.checks == 1 and image_work.decodes == 0
    assert image_to_data_uri(uri) is uri
    assert image_work.checks == 1 and image_work.decodes == 0


async def test_a_data_uri_is_decoded_once_then_trusted(image_work: Any) -> None:
    uri = fresh_uri()
    assert image_to_data_uri(uri) is uri
    assert image_work.decodes == 1 and image_work.checks == 1
    assert image_to_data_uri(uri) is uri
    assert await aimage_to_data_uri(uri) is uri
    assert image_work.decodes == 1 and image_work.checks == 1


def test_an_equal_string_built_anew_is_found_by_content(image_work: Any) -> None:
    uri = fresh_uri()
    image_to_data_uri(uri)
    twin = "".join([uri[:30], uri[30:]])
    assert twin == uri and twin is not uri
    assert image_to_data_uri(twin) is twin
    assert image_work.decodes == 1
    # Same length and the same middle, the PNG signature broken: checked in full, refused.
    start = len("data:image/png;base64,")
    other = uri[:start] + "AAAA" + uri[start + 4 :]
    with pytest.raises(ImageError, match="not an image"):
        image_to_data_uri(other)
    assert image_work.decodes == 2


def test_a_rejected_uri_is_never_trusted(image_work: Any) -> None:
    cut = fresh_uri(PNG[:-20])
    for _ in range(2):
        with pytest.raises(ImageError, match="IEND"):
            image_to_data_uri(cut)
    assert image_work.decodes == 2


def test_tighter_limits_check_a_trusted_uri_again(image_work: Any) -> None:
    uri = image_to_data_uri(PNG)
    with pytest.raises(ImageError, match="byte limit"):
        image_to_data_uri(uri, max_bytes=len(PNG) - 1)
    smaller = image_to_data_uri(uri, max_pixels=300)  # 40x30 is 1,200 pixels
    assert smaller != uri and image_work.decodes == 2
    assert image_to_data_uri(uri, max_pixels=1_200) is uri  # fits: the header said 40x30
    assert image_to_data_uri(smaller, max_pixels=300) is smaller
    assert image_work.decodes == 2


def test_the_registry_is_bounded_by_count_and_by_length() -> None:
    registry = CheckedUris(max_entries=3, max_chars=1_000)
    opts = Options.of(10**6, None, None)
    uris = [fresh_uri(make_image("PNG", (1, 1), (i, 0, 0))) for i in range(5)]
    assert all(len(u) < 200 for u in uris)
    for uri in uris:
        registry.add(uri, 100, (1, 1))
    assert len(registry) == 3
    assert [registry.passes(u, opts) for u in uris] == [False, False, True, True, True]
    long = "data:image/png;base64," + "A" * 800
    registry.add(long, 600, None)
    assert registry.passes(long, opts)
    assert len(registry) == 2 and not registry.passes(uris[2], opts)  # 1,000 chars at most
    registry.add("data:image/png;base64," + "A" * 2_000, 1_500, None)  # larger than the bound
    assert len(registry) == 2


def test_a_str_subclass_is_always_checked(image_work: Any) -> None:
    class Marked(str):
        pass

    uri = Marked(image_to_data_uri(PNG))
    assert image_to_data_uri(uri) == uri and image_work.decodes == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_history_images_are_checked_once_across_turns(
    r1v4_server: LocalR1V4Server, r1v4_api_key: str, image_work: Any, mode: str
) -> None:
    image = {"type": "image_url", "image_url": {"url": fresh_uri()}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]}
    ]
    for turn in range(3):
        if mode == "sync":
            with r1v4.R1V4Client(api_key=r1v4_api_key, base_url=r1v4_server.base_url) as c:
                reply = c.create(model=r1v4.DEFAULT_MODEL, messages=messages)
        else:
            async with r1v4.AsyncR1V4Client(
                api_key=r1v4_api_key, base_url=r1v4_server.base_url
            ) as ac:
                reply = await ac.create(model=r1v4.DEFAULT_MODEL, messages=messages)
        seen = r1v4_server.last_request.images
        assert [(i.format, i.width, i.height) for i in seen] == [("PNG", 40, 30)]
        messages += [
            {"role": "assistant", "content": reply.choices[0].message.content},
            {"role": "user", "content": f"And now? ({turn})"},
        ]
    assert image_work.decodes == 1 and image_work.checks == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_fork_while_the_registry_is_locked_leaves_the_child_usable(image_work: Any) -> None:
    uri = image_to_data_uri(PNG)
    with CHECKED._lock:  # as if another thread were inside the registry at fork time
        pid = os.fork()
        if pid == 0:  # the child: the trusted URI still passes, without a deadlock
            signal.alarm(10)  # a deadlocked child dies by SIGALRM instead of hanging the test
            os._exit(0 if image_to_data_uri(uri) is uri else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_with_an_empty_registry_and_uses_it(image_work: Any) -> None:
    uri = image_to_data_uri(fresh_uri())
    assert len(CHECKED) == 1 and image_work.decodes == 1
    with CHECKED._lock:  # as if another thread were halfway through `_drop` at fork time
        CHECKED._by_content.clear()
        pid = os.fork()
        if pid == 0:
            signal.alarm(10)  # a deadlocked child dies by SIGALRM instead of hanging the test
            empty = len(CHECKED) == 0 and not CHECKED._by_content and CHECKED._chars == 0
            # Checked anew (a second decode), then trusted again: the child's registry works.
            again = image_to_data_uri(uri) is uri and image_work.decodes == 2
            trusted = image_to_data_uri(uri) is uri and image_work.decodes == 2
            os._exit(0 if (empty, again, trusted) == (True, True, True) else 1)
    CHECKED.clear()  # the parent's copy was left half-updated on purpose
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
