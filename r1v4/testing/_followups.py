"""Self-hosted rounds: the rounds that stopped at a tool call, and the check of each follow-up.

A bare inference server keeps no conversation: the client's follow-up is a new request whose
messages are the stopped round's request messages, then the assistant message with the round's
text, then the observation message. So a follow-up is found by its messages: a request on the
same route whose messages begin with every message of a stopped round's request, and go beyond
them, is that round's follow-up, and what goes beyond must be exactly those two messages.
Messages are compared by a digest of their JSON (keys sorted), so a follow-up is matched
whichever order its client wrote the keys in.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ._script import Followup, FollowupCheck, ImageInfo, RecordedRequest, Reply, message_text
from ._wire import CODES, Rejection

__all__ = ["Rounds", "StoppedRound", "stopping_call", "whole"]

OPEN, CLOSE = "<observation>", "</observation>"
_CALL_TAGS = ("tool_call", "text_search", "image_search", "web_content", "code")
_RESULT_KEYS = {
    "text_search": ("title", "url", "snippet"),
    "image_search": ("title", "source", "link"),
    "web_content": ("url", "title", "content"),
}
_THINK = re.compile(r"\s*<think>(.*?)</think>", re.S)
_TOOL_CALL = re.compile(r"\s*<tool_call>(.*?)</tool_call>", re.S)
_KEEP = 1024  # stopped rounds kept at most: a client that never follows up leaves one behind


def _short(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def stopping_call(reply: Reply) -> str | None:
    """The tool of the call a round stops at: its last native call, or the call that ends its
    content (``<tool_call>{"name": …}</tool_call>`` or a deep-research tag)."""
    if reply.tool_calls:
        return str(reply.tool_calls[-1]["name"])
    text = reply.content.rstrip()
    for tag in _CALL_TAGS:
        if not text.endswith(f"</{tag}>"):
            continue
        if tag != "tool_call":
            return tag
        start = text.rfind("<tool_call>")
        if start < 0:
            return None
        try:
            name = json.loads(text[start + len("<tool_call>") : -len("</tool_call>")])["name"]
        except (ValueError, TypeError, KeyError):
            return None
        return name if isinstance(name, str) else None
    return None


def whole(reply: Reply) -> bool:
    """Whether ``reply`` is meant to reach the client whole: no error status, no drop, no error
    event (the client may still leave before its end)."""
    return (
        reply.status == 200
        and reply.body is None
        and not reply.drop_before_headers
        and reply.drop_after is None
        and reply.error_event_after is None
    )


def _digests(messages: Sequence[Any]) -> tuple[bytes, ...]:
    return tuple(
        hashlib.sha256(
            json.dumps(m, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
        ).digest()
        for m in messages
    )


@dataclass(eq=False)
class StoppedRound:
    """A round played to the client that stopped at a tool call and waits for its follow-up.

    ``rest`` holds the conversation's next rounds when a scenario made them (the follow-up gets
    the first); when empty, the follow-up gets the next queued reply.
    """

    path: str
    prefix: tuple[bytes, ...]
    reply: Reply
    followup: Followup
    round: int
    tool: str | None
    rest: tuple[Reply, ...] = ()


class _Refused(Exception):
    def __init__(self, check: FollowupCheck) -> None:
        super().__init__(check.error)
        self.check = check


class Rounds:
    """The stopped rounds of every conversation, oldest first; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stopped: list[StoppedRound] = []

    def __len__(self) -> int:
        with self._lock:
            return len(self._stopped)

    def clear(self) -> None:
        with self._lock:
            self._stopped.clear()

    def stop(
        self, record: RecordedRequest, reply: Reply, round: int, rest: Sequence[Reply] = ()
    ) -> StoppedRound:
        """Make ``reply`` (sent for ``record``) a round waiting for its follow-up."""
        assert reply.followup is not None
        stopped = StoppedRound(
            record.path,
            _digests(record.messages),
            reply,
            reply.followup,
            round,
            stopping_call(reply),
            tuple(rest),
        )
        with self._lock:
            self._stopped.append(stopped)
            del self._stopped[:-_KEEP]
        return stopped

    def forget(self, stopped: StoppedRound) -> None:
        """Drop a round that did not reach the client whole."""
        with self._lock:
            if stopped in self._stopped:
                self._stopped.remove(stopped)

    def restore(self, stopped: StoppedRound) -> None:
        """Let a round wait again: the reply to its follow-up did not reach the client whole,
        so the client may send the follow-up again (a retry)."""
        with self._lock:
            if stopped not in self._stopped:
                self._stopped.append(stopped)

    def follow(self, record: RecordedRequest) -> StoppedRound | None:
        """The stopped round ``record`` follows up (taken off the waiting list), or ``None``.

        Sets ``record.followup`` when ``record`` is (or claims to be) a follow-up.

        Raises:
            Rejection: a follow-up that does not carry the round's text and its observation, or
                a request ending in an observation that follows up no waiting round.
        """
        with self._lock:
            waiting = [s for s in self._stopped if s.path == record.path]
        if not waiting:
            return None
        messages = record.messages
        digests = _digests(messages)
        best: StoppedRound | None = None
        for stopped in waiting:
            n = len(stopped.prefix)
            if (
                len(digests) > n
                and digests[:n] == stopped.prefix
                and (best is None or n > len(best.prefix))
            ):
                best = stopped
        try:
            if best is None:
                if _is_observation(messages[-1]):
                    _unmatched(digests, waiting)
                return None
            record.followup = _check(best, messages, record.images)
        except _Refused as refused:
            record.followup = refused.check
            message = f"Self-hosted follow-up refused: {refused.check.error}"
            raise Rejection(400, CODES["invalid_followup"], message, param="messages") from None
        with self._lock:
            if best not in self._stopped:  # another request followed it up meanwhile
                return None
            self._stopped.remove(best)
        return best


def _is_observation(message: Any) -> bool:
    return isinstance(message, dict) and message_text(message).startswith(OPEN)


def _unmatched(digests: tuple[bytes, ...], waiting: Sequence[StoppedRound]) -> None:
    """Refuse a request that ends in an observation but continues no waiting round."""

    def shared(stopped: StoppedRound) -> int:
        n = 0
        for a, b in zip(digests, stopped.prefix, strict=False):
            if a != b:
                break
            n += 1
        return n

    closest = max(waiting, key=shared)
    n, want = shared(closest), len(closest.prefix)
    if n == want == len(digests):
        where = "it repeats that request without the assistant message and the observation"
    elif n < min(want, len(digests)):
        where = f"messages[{n}] differs from messages[{n}] of that round's request"
    else:
        where = f"it has only {len(digests)} of that request's {want} messages"
    raise _Refused(
        FollowupCheck(
            round=closest.round + 1,
            tool=closest.tool,
            error=(
                f"the request ends in an observation but continues no round waiting for one: a "
                f"follow-up repeats the messages of the request that stopped at the tool call, "
                f"then adds the assistant message and the observation; compared with the closest "
                f"such request (round {closest.round}, stopped at a {closest.tool} call), {where}"
            ),
        )
    )


# -- the check of one follow-up --------------------------------------------------------------


def _check(
    stopped: StoppedRound, messages: Sequence[Any], images: Sequence[ImageInfo]
) -> FollowupCheck:
    n = len(stopped.prefix)
    tail = messages[n:]
    check = FollowupCheck(round=stopped.round + 1, tool=stopped.tool)
    call = f"round {stopped.round}'s {stopped.tool or 'tool'} call"

    def refuse(problem: str) -> _Refused:
        return _Refused(replace(check, error=problem))

    assistant = tail[0]
    if assistant.get("role") != "assistant":
        if _is_observation(assistant):
            raise refuse(
                f"messages[{n}] is the observation, but the assistant message with the round's "
                f"text must come first (the round's request had {n} message(s))"
            )
        raise refuse(
            f"messages[{n}] must be the assistant message with the round's text, got role "
            f"{assistant.get('role')!r}"
        )
    if assistant.get("tool_calls"):
        raise refuse(
            f"messages[{n}] (the assistant message) carries native tool_calls: the round's call "
            'must be written in its content as <tool_call>{"name": …, "arguments": …}</tool_call>'
        )
    content = assistant.get("content")
    if not isinstance(content, str) and not (
        isinstance(content, list) and all(_is_text_part(p) for p in content)
    ):
        raise refuse(f"messages[{n}] (the assistant message) must have text content")
    text = content if isinstance(content, str) else "".join(p["text"] for p in content)
    check = replace(check, assistant=text)
    problem = _round_text_problem(stopped.reply, text)
    if problem is not None:
        raise refuse(f"messages[{n}] (the assistant message) {problem}")
    if len(tail) == 1:
        raise refuse(
            f"the observation message is missing after messages[{n}]: it answers {call} with "
            f"the text {OPEN}…{CLOSE} and the images the tool made"
        )
    if len(tail) > 2:
        raise refuse(
            f"the follow-up must end with the observation message (messages[{n + 1}]), but "
            f"{len(tail) - 2} more message(s) follow it"
        )
    observation_text, image_count, problem = _read_observation(tail[1], f"messages[{n + 1}]")
    if problem is not None:
        raise refuse(problem)
    found = tuple(images[len(images) - image_count :]) if image_count else ()
    check = replace(check, observation_text=observation_text, images=found)
    try:
        value = json.loads(observation_text)
    except ValueError as exc:
        problem = f"the observation is not valid JSON ({exc}): {_short(observation_text)}"
        raise refuse(problem) from None
    check = replace(check, observation=value)
    expect = stopped.followup
    tool = expect.type or stopped.tool
    problem = _observation_problem(value, tool, image_count) or _expected_problem(
        expect, observation_text, found
    )
    if problem is not None:
        raise refuse(f"the observation answering {call}: {problem}")
    return check


def _is_text_part(part: Any) -> bool:
    return (
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
    )


def _round_text_problem(reply: Reply, text: str) -> str | None:
    """What ``text`` lacks of the round's text as the model wrote it: reasoning that came as a
    field put back as ``<think>…</think>`` in front, the content, each native call as a
    ``<tool_call>`` block; nothing after the call."""
    rest = text
    content = reply.content
    reasoning = reply.reasoning
    if reply.reasoning_field == "inline" and reasoning:
        content, reasoning = f"<think>{reasoning}</think>{content}", ""
    if reasoning:
        match = _THINK.match(rest)
        if match is None:
            return (
                f"must begin with the round's reasoning as <think>…</think> (it came as "
                f"{reply.reasoning_field}), got {_short(rest)}"
            )
        if match[1].strip() != reasoning.strip():
            return (
                f"has {_short(match[1].strip())} in <think>, not the round's reasoning "
                f"{_short(reasoning.strip())}"
            )
        rest = rest[match.end() :]
    if content.strip():
        stripped = rest.lstrip()
        expected = content.strip()
        if not stripped.startswith(expected):
            pairs = enumerate(zip(stripped, expected, strict=False))
            at = next((i for i, (a, b) in pairs if a != b), None)
            if at is None:
                missing = _short(expected[len(stripped) :])
                return f"ends before the round's text does: {missing} is missing"
            got, want = _short(stripped[at : at + 40]), _short(expected[at : at + 40])
            return (
                f"differs from the round's text at character {at}: {got} where the round has {want}"
            )
        rest = stripped[len(expected) :]
    for call in reply.tool_calls:
        name, arguments = call["name"], call.get("arguments", {})
        if isinstance(arguments, str):
            with contextlib.suppress(ValueError):
                arguments = json.loads(arguments)
        call_json = {"name": name, "arguments": arguments}
        match = _TOOL_CALL.match(rest)
        if match is None:
            return (
                f"must carry the round's native {name} call as <tool_call>{json.dumps(call_json)}"
                f"</tool_call> after its text, got {_short(rest)}"
            )
        try:
            got = json.loads(match[1])
        except ValueError as exc:
            return f"writes the round's {name} call with invalid JSON ({exc}): {_short(match[1])}"
        if got != call_json:
            got_text, want_text = _short(json.dumps(got)), _short(json.dumps(call_json))
            return f"writes the round's call as {got_text}, not {want_text}"
        rest = rest[match.end() :]
    if rest.strip():
        return (
            f"has text after the round's tool call, where the model stopped: {_short(rest.strip())}"
        )
    return None


def _read_observation(message: Any, where: str) -> tuple[str, int, str | None]:
    """``(text inside the tags, image parts, problem)`` of the observation message."""
    if message.get("role") != "user":
        return (
            "",
            0,
            f"{where} (the observation message) must have role 'user', got {message.get('role')!r}",
        )
    content = message.get("content")
    if isinstance(content, str):
        text, parts = content, []
    elif isinstance(content, list) and content and _is_text_part(content[0]):
        text, parts = content[0]["text"], content[1:]
    else:
        return (
            "",
            0,
            f"{where} (the observation message) must begin with a text part {OPEN}…{CLOSE}",
        )
    if not text.startswith(OPEN):
        return "", 0, f"{where}'s text must start with {OPEN}, got {_short(text)}"
    body = text.rstrip()
    if not body.endswith(CLOSE):
        return "", 0, f"{where}'s text must end with {CLOSE}, got …{_short(body[-40:])}"
    others = [p.get("type") if isinstance(p, dict) else p for p in parts]
    if any(kind != "image_url" for kind in others):
        return (
            "",
            0,
            f"{where} may hold only image parts after the observation text, got {others!r}",
        )
    return body[len(OPEN) : -len(CLOSE)], len(parts), None


def _observation_problem(value: Any, tool: str | None, image_count: int) -> str | None:
    """What is wrong with the observation's JSON for ``tool``, and with the images it names."""
    if isinstance(value, dict):
        if tool is not None and value.get("type") != tool:
            return f'its "type" is {value.get("type")!r}, not {tool!r}'
        if not isinstance(value.get("result"), str):
            return f'it needs "result" (text) beside "type": {_short(json.dumps(value))}'
        names = value.get("images")
        if names is None:
            if image_count:
                return (
                    f"the message carries {image_count} image part(s), but the observation "
                    'names none in "images"'
                )
            return None
        if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
            return f'its "images" must be a list of file names, got {_short(json.dumps(names))}'
        if any(x.startswith("data:") for x in names):
            return (
                'its "images" must name the image files (the images follow as image parts), '
                "not hold data URIs"
            )
        if len(names) != image_count:
            return (
                f'its "images" names {len(names)} image(s), but the message carries '
                f"{image_count} image part(s)"
            )
        return None
    keys = _RESULT_KEYS.get(tool or "")
    if keys is None:
        want = f'{{"result": …, "type": {json.dumps(tool)}}}' if tool else '{"result", "type"}'
        return f"it must be an object {want}, got {_short(json.dumps(value))}"
    if not isinstance(value, list):
        return (
            f"it must be a list of {{{', '.join(keys)}}} results or "
            f'{{"result": …, "type": "{tool}"}}, got {_short(json.dumps(value))}'
        )
    for i, item in enumerate(value):
        missing = [
            k for k in keys if not isinstance(item, dict) or not isinstance(item.get(k), str)
        ]
        if missing:
            return (
                f"result {i} needs text {', '.join(missing)} (each {tool} result is "
                f"{{{', '.join(keys)}}}), got {_short(json.dumps(item))}"
            )
    if image_count:
        return f"the message carries {image_count} image part(s); a {tool} observation has none"
    return None


def _expected_problem(expect: Followup, text: str, images: Sequence[ImageInfo]) -> str | None:
    """What the observation lacks of what the round's :class:`Followup` asks for."""
    for wanted in expect.contains:
        if wanted not in text:
            return f"it does not contain {_short(wanted)}: {_short(text, 200)}"
    if expect.images is not None and len(images) != expect.images:
        return f"the message carries {len(images)} image(s), not the {expect.images} the call made"
    for i, image in enumerate(images):
        if expect.image_format is not None and image.format != expect.image_format:
            return f"image {i} is {image.format}, not {expect.image_format}"
        if expect.image_sizes is not None:
            width, height = expect.image_sizes[i]
            if (image.width, image.height) != (width, height):
                return (
                    f"image {i} is {image.width}x{image.height} pixels, not the "
                    f"{width}x{height} the call made"
                )
    return None
