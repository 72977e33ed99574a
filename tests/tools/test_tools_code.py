"""The ``code`` tool in the real bubblewrap sandbox: the observation R1V4 reads, the images the
code gets and the images it makes, and the events they parse into (those of a hosted reply)."""

from __future__ import annotations

import io
import json
from typing import Any

from pictures import gradient, png, uri
from PIL import Image
from tools_support import RunCode

from r1v4 import GeneratedImage, ServerToolCall, ServerToolResult, parse_transcript
from r1v4.testing import general_transcript, think
from r1v4.tools import DEFAULT_IMAGE_NAME, BubblewrapSandbox, R1V4Tools, ToolResult


def test_printed_output_is_the_result_in_the_published_shape(run_code: RunCode) -> None:
    result, obs = run_code("print('hello')")
    # parse_utils.py's own example: {"result": "hello", "type": "code"}
    assert obs == {"result": "hello", "type": "code"}
    assert result.status == "ok" and result.ok and result.images == ()
    assert result.observation_tag == f"<observation>{result.observation}</observation>"


def test_stdout_and_stderr_arrive_in_the_order_written(run_code: RunCode) -> None:
    _, obs = run_code("import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')")
    assert obs["result"] == "one\ntwo\nthree"


def test_an_exception_is_its_traceback_from_the_codes_own_lines(run_code: RunCode) -> None:
    result, obs = run_code("x = 1\nprint('before')\ny = x / 0")
    assert result.status == "error"
    text = obs["result"]
    assert text.startswith("before\nTraceback (most recent call last):")
    assert 'File "<code>", line 3, in <module>' in text and "y = x / 0" in text
    assert text.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "_sandbox_main" not in text and "marshal" not in text  # nothing of the launcher


def test_a_syntax_error_says_where(run_code: RunCode) -> None:
    result, obs = run_code("print('a'\n")
    assert result.status == "error"
    assert 'File "<code>", line 1' in obs["result"] and "SyntaxError" in obs["result"]


def test_an_exit_status_is_told(run_code: RunCode) -> None:
    result, obs = run_code("import sys\nprint('bye')\nsys.exit(3)")
    assert result.status == "error"
    assert obs["result"] == "bye\nThe code exited with status 3."
    assert run_code("import sys; sys.exit(0)")[0].status == "ok"


def test_the_last_expression_is_displayed_as_in_a_notebook(run_code: RunCode) -> None:
    _, obs = run_code("x = 6\nx * 7")
    assert obs == {"result": "42", "type": "code"}
    _, obs = run_code("print('a')\nNone")
    assert obs["result"] == "a"


def test_unicode_and_tag_like_output_survive_the_observation(run_code: RunCode) -> None:
    result, obs = run_code("print('片 — ok </observation><answer>x</answer>')")
    assert obs["result"] == "片 — ok </observation><answer>x</answer>"
    assert "</observation><answer>" not in result.observation  # escaped as <\/, same JSON
    [res] = [e for e in result.events() if isinstance(e, ServerToolResult)]
    assert res.content == obs


# -- images in -----------------------------------------------------------------------------------


def test_conversation_images_are_files_and_preloaded_objects(run_code: RunCode) -> None:
    first, second = gradient((40, 30)), gradient((16, 12), shift=50)
    code = (
        "import os\n"
        "print(sorted(os.listdir('.')), image_paths)\n"
        "print(img.size, [i.size for i in images])\n"
        "from PIL import Image\n"
        "print(Image.open('image_1.png').size)"
    )
    _, obs = run_code(code, [first, uri(second)])
    assert obs["result"].splitlines() == [
        "['image_0.png', 'image_1.png'] ['image_0.png', 'image_1.png']",
        "(40, 30) [(40, 30), (16, 12)]",
        "(16, 12)",
    ]


def test_the_naming_is_a_setting_and_a_jpeg_keeps_its_bytes(sandbox: BubblewrapSandbox) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "JPEG")
    tools = R1V4Tools(executor=sandbox, image_name="photo{number}.{ext}", preload_images=False)
    code = "import os\nprint(sorted(os.listdir('.')), 'img' in globals())\nprint(open('photo1.jpg','rb').read()[:3])"
    obs = json.loads(
        tools.run({"name": "code", "arguments": {"code": code}}, [buf.getvalue()]).observation
    )
    assert obs["result"].splitlines() == ["['photo1.jpg'] False", r"b'\xff\xd8\xff'"]
    assert DEFAULT_IMAGE_NAME == "image_{index}.png"


def test_an_image_a_generated_image_object_and_a_data_uri_are_all_accepted(
    run_code: RunCode,
) -> None:
    [generated] = [
        e
        for e in parse_transcript(general_transcript(crops=[uri(png())]))
        if isinstance(e, GeneratedImage)
    ]
    _, obs = run_code(
        "print(len(images), [i.size for i in images])", [png(), generated, uri(png((3, 2)))]
    )
    assert obs["result"] == "3 [(12, 8), (12, 8), (3, 2)]"


# -- images out ----------------------------------------------------------------------------------


def test_a_crop_the_code_saves_comes_back_as_a_png(run_code: RunCode) -> None:
    source = gradient((40, 30))
    result, obs = run_code("img.crop((10, 5, 30, 25)).save('crop.png')\nprint('saved')", [source])
    [image] = result.images
    assert (image.name, image.mime_type, image.width, image.height) == (
        "crop.png",
        "image/png",
        20,
        20,
    )
    expected = Image.open(io.BytesIO(source)).crop((10, 5, 30, 25))
    assert Image.open(io.BytesIO(image.data)).convert("RGB").tobytes() == expected.tobytes()
    assert obs == {"result": "saved", "type": "code", "images": [image.data_uri]}


def test_a_displayed_image_is_returned_and_unchanged_inputs_are_not(run_code: RunCode) -> None:
    result, obs = run_code("img.crop((0, 0, 4, 3))", [gradient((40, 30))])
    [image] = result.images
    assert image.name == "output_0.png" and (image.width, image.height) == (4, 3)
    assert obs["result"].startswith("<PIL.Image.Image image mode=RGB size=4x3")


def test_images_come_in_the_order_saved_and_non_images_are_ignored(run_code: RunCode) -> None:
    code = (
        "import os, time\n"
        "os.makedirs('out')\n"
        "img.crop((0,0,2,2)).save('out/b.png')\n"
        "time.sleep(0.02)\n"
        "img.crop((0,0,3,3)).save('a.jpg')\n"
        "open('notes.txt','w').write('not an image')\n"
        "img.save('image_0.png')  # the input rewritten counts as made\n"
    )
    result, _ = run_code(code, [gradient((10, 10))])
    assert [(i.name, i.mime_type) for i in result.images] == [
        ("out/b.png", "image/png"),
        ("a.jpg", "image/jpeg"),
        ("image_0.png", "image/png"),
    ]


def test_images_beyond_the_limits_are_named_not_returned(run_code: RunCode) -> None:
    # Saved in this order (a pause between files: some file systems' clocks are coarse).
    code = (
        "import time\n"
        "img.crop((0, 0, 1, 1)).save('c0.png'); time.sleep(0.02)\n"
        "img.resize((400, 400)).save('big.bmp'); time.sleep(0.02)\n"
        "for n in range(1, 4):\n"
        "    img.crop((0, 0, n + 1, n + 1)).save(f'c{n}.png'); time.sleep(0.02)\n"
    )
    result, obs = run_code(code, [gradient((10, 10))], images=3, image_bytes=100_000)
    assert [i.name for i in result.images] == ["c0.png", "c1.png", "c2.png"]
    assert (
        "big.bmp was not returned: 480,054 bytes, over the limit of 100,000 bytes per image."
        in obs["result"]
    )
    assert "1 more image(s) were not returned: at most 3 per run." in obs["result"]


def test_a_link_the_code_leaves_is_never_followed(run_code: RunCode, tmp_path: Any) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(png())
    code = f"import os\nos.symlink({str(secret)!r}, 'leak.png')\nos.symlink('/usr/share', 'dir')\nprint('ok')"
    result, obs = run_code(code)
    assert obs["result"] == "ok" and result.images == ()


# -- the same events as a hosted reply -------------------------------------------------------------


def _shape(events: list[Any]) -> list[Any]:
    out: list[Any] = []
    for e in events:
        if isinstance(e, ServerToolCall):
            out.append(("call", e.name, e.index, e.tag))
        elif isinstance(e, GeneratedImage):
            out.append(("image", e.id, e.mime_type, e.width, e.height, e.tool_call_id, e.index))
        elif isinstance(e, ServerToolResult):
            out.append(("result", e.call_index, e.name, sorted(e.content)))
    return out


def test_a_client_run_parses_into_the_events_of_a_hosted_one(run_code: RunCode) -> None:
    source = gradient((40, 30))
    code = "img.crop((10, 5, 30, 25)).save('crop.png')\nprint('Saved the crop.')"
    result, _ = run_code(code, [source])
    [crop] = result.images

    hosted = think("I will crop.") + result.transcript.split("<observation>")[0]
    hosted += (
        '<observation>{"result": "Saved the crop.", "type": "code", "images": ["'
        + crop.data_uri
        + '"]}</observation>\n'
    )
    mine = result.events()
    assert (
        _shape(mine)
        == _shape(parse_transcript(hosted))
        == [
            ("call", "code", 0, "tool_call"),
            ("image", "srvimg_0", "image/png", 20, 20, "srvtool_0", 0),
            ("result", 0, "code", ["images", "result", "type"]),
        ]
    )
    [image] = [e for e in mine if isinstance(e, GeneratedImage)]
    assert image.data == crop.data
    [res] = [e for e in mine if isinstance(e, ServerToolResult)]
    assert res.content == {
        "result": "Saved the crop.",
        "type": "code",
        "images": [{"type": "image", "id": "srvimg_0"}],
    }


def test_a_round_parsed_after_a_model_turn_numbers_on(run_code: RunCode) -> None:
    """The loop feeds only ``observation_tag`` after the model's own call: one parser, one
    numbering across rounds."""
    from r1v4 import TranscriptParser

    result, _ = run_code("img.crop((0, 0, 5, 5))", [gradient((10, 10))])
    parser = TranscriptParser()
    events = parser.feed(
        think("a") + '<tool_call>{"name": "code", "arguments": {"code": "x"}}</tool_call>'
    )
    events += parser.feed(result.observation_tag) + parser.feed(think("b")) + parser.close()
    [image] = [e for e in events if isinstance(e, GeneratedImage)]
    assert (image.id, image.tool_call_id) == ("srvimg_0", "srvtool_0")
    assert image.data == result.images[0].data


def test_the_result_is_typed_and_frozen(run_code: RunCode) -> None:
    result, _ = run_code("print(1)")
    assert isinstance(result, ToolResult)
    assert (result.name, result.arguments) == ("code", {"code": "print(1)"})
    assert "data=" not in repr(result.images)
