"""Every example runs, as a user would run it, against the local server it starts."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

EXPECTED = {
    "quickstart.py": [
        "thinking: ",
        "answer:   ",
        "server ran: code(",
        "tokens:   {'input_tokens'",
    ],
    "langchain_quickstart.py": ["answer: ", "tokens: {'input_tokens'", "streamed: "],
    "langchain_image_question.py": ["thinking:", "the agent ran code", "answer: "],
    "langchain_thinking_with_images.py": [
        "step 1: the agent runs code",
        "  it made an image: image/png 120x80, ",
        "/srvimg_0.png",
        "  and saw: {'result': 'Saved the cropped region to crop_0.png.', 'type': 'code', "
        "'images': [{'type': 'image', 'id': 'srvimg_0'}]}",
        "answer: Having examined image_0",
        "1 image(s) saved in ",
    ],
    "langchain_streaming_reasoning.py": ["thinking", "-> agent runs code", "answer", "usage: "],
    "langchain_agent_tools.py": [
        "agent calls get_weather({'city': 'Paris'})",
        "tool returns sunny, 21 °C",
        "agent calls celsius_to_fahrenheit({'celsius': 21})",
        "tool returns 69.8",
        "final answer: It is sunny in Paris, 21 °C (69.8 °F).",
    ],
    "langchain_structured_output.py": [
        "Landmark(name='Eiffel Tower', city='Paris', country='France', height_m=330.0",
        "reasoning: Same tower again.",
    ],
    "langchain_deep_research.py": ["searched: text_search", "answer: ", "[1] Result 1 for"],
    "langchain_planner.py": ["1. Look closely", "tool: text_search", "3. Combine"],
    "langchain_plan_execute.py": [
        "  1. Look closely at the relevant region of the image. [code]",
        "  step 1 code: ok",
        '    {"result": "160 120", "type": "code", "images": ["crop_0.png"]}',
        "    made crop_0.png: image/png 80x60",
        "  step 2 text_search: ok",
        "    Street signs in that style are common in Lisbon, Portugal.",
        "  step 3 answer: skipped (no_tool)",
        "answer: Having examined image_0, image_1, here is the answer to: In which city",
    ],
    "langchain_self_hosted.py": [
        "thinking: The question is: What does the sign in the middle say?",
        "-> the client runs code (R1V4's tool, in the sandbox):",
        "     crop.save('crop_0.png')",
        "   it made an image: image/png 120x80 -> ",
        "/srvimg_0.png",
        "<- R1V4 reads the observation: {'result': 'cropped 240x160 to 120x80', 'type': 'code', "
        "'images': [{'type': 'image', 'id': 'srvimg_0'}]}",
        "thinking: The cropped region shows the details I need",
        "answer: Having examined image_0, here is the answer to: What does the sign",
        "1 image(s) saved in ",
    ],
    "llama_index_rag.py": [
        "answer: The Gran Telescopio Canarias has a 10.4-metre segmented mirror.",
        "read from:",
        "observatories.md",
    ],
    "llama_index_image_question.py": [
        "thinking: The question is: What is in this image?",
        "-> the agent runs code:",
        "<- and sees: {'result': 'Saved the cropped region to crop_0.png.'",
        "answer: Having examined image_0",
    ],
    "llama_index_multimodal_query.py": [
        "R1V4 made srvimg_0: image/png 100x60",
        "answer: The bakery's sign says OPEN; the pharmacy's says CLOSED.",
    ],
    "llama_index_agent_tools.py": [
        "thinking: I need the weather in Paris first.",
        "agent calls get_weather({'city': 'Paris'})",
        "tool returns sunny, 21 °C",
        "agent calls celsius_to_fahrenheit({'celsius': 21})",
        "tool returns 69.8",
        "final answer: It is sunny in Paris, 21 °C (69.8 °F).",
    ],
    "llama_index_self_hosted.py": [
        "thinking: The question is: What is in the middle of this picture?",
        "-> the client runs code (R1V4's tool, in the sandbox):",
        "     crop.save('crop_0.png')",
        "   it made an image: image/png 80x60 -> ",
        "/srvimg_0.png",
        "<- R1V4 reads the observation: {'result': 'cropped 160x120 to 80x60', 'type': 'code', "
        "'images': [{'type': 'image', 'id': 'srvimg_0'}]}",
        "answer: Having examined image_0, here is the answer to: What is in the middle",
        "1 image(s) saved in ",
    ],
    "llama_index_deep_research.py": ["searched: text_search", "answer: ", "[1] Result 1 for"],
    "llama_index_planner.py": ["1. Look closely", "tool: text_search", "3. Combine"],
    "llama_index_plan_workflow.py": [
        "step 1 code: ok: Look closely at the relevant region of the image.",
        '  {"result": "160 120", "type": "code", "images": ["crop_0.png"]}',
        "  made crop_0.png: image/png 80x60",
        "step 2 text_search: ok: Search the web for facts needed to answer: In which city",
        "  Bakeries with blue awnings like this one are typical of Porto, Portugal.",
        "step 3 answer: skipped (no_tool): Combine",
        "answer: Having examined image_0, image_1, here is the answer to: In which city",
    ],
}


def test_every_example_is_checked() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")} == set(EXPECTED)


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the examples a few at a time (each starts its own interpreter and server)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYWORK_")}

    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(EXAMPLES / name)],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
        )

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(EXPECTED, pool.map(run, EXPECTED), strict=True))


# The first test pays for the module's runs: 17 interpreters, 4 at a time, each bounded by its
# own 180 s. The suite's 120 s default counts that against one test and failed it on a busy
# machine; the bound that matters is each example's own.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs_against_the_local_server(
    runs: dict[str, subprocess.CompletedProcess[str]], name: str
) -> None:
    done = runs[name]
    assert done.returncode == 0, done.stderr
    # It says it is not talking to the real model (the self-hosting examples look for a server
    # of yours at SKYWORK_BASE_URL, the others for the hosted API's key).
    unset = "SKYWORK_BASE_URL" if name.endswith("_self_hosted.py") else "SKYWORK_API_KEY"
    assert f"{unset} is not set: started a local R1V4 server" in done.stdout
    for line in EXPECTED[name]:
        assert line in done.stdout, (line, done.stdout)
    for tag in ("<think>", "<answer>", "<tool_call>", "<observation>", "<plan>"):
        assert tag not in done.stdout


@pytest.mark.parametrize("name", ["langchain_self_hosted.py", "llama_index_self_hosted.py"])
def test_self_hosted_examples_without_a_sandbox_say_what_to_do_and_run_nothing(name: str) -> None:
    # No bwrap on PATH: the sandbox refuses when it is built, and the example exits saying what
    # to install and what the alternatives are, without falling back to unsandboxed code.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYWORK_")}
    env["PATH"] = str(Path(sys.executable).parent)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "bubblewrap (bwrap) was not found on PATH" in done.stderr
    assert "apt-get install bubblewrap" in done.stderr
    assert "R1V4Tools(executor=UnsandboxedExecutor())" in done.stderr
    assert "NO isolation" in done.stderr
    assert "started a local R1V4 server" not in done.stdout  # it stopped before any request
    assert "the client runs" not in done.stdout
