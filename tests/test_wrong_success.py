"""A 200 that is no event stream, or a body cut short before its wire's terminal event, is an error with
the partial, never an empty or partial success (issue 22), on every provider, sync and async; and a
per-call ``max_event_bytes`` bounds the vendor SDK paths as well as llmstream's own decoder."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from llmstream import FinishReason, MalformedStreamError, OpenAIClient, StreamingOptions, StreamInterruptedError
from llmstream._guard import ByteGuard, GuardTransport, saw_done, stream_request
from llmstream.processors import ContentFilter
from tests.helpers import complete, failure
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    openai_stream,
    openai_text_chunks,
)
from tests.test_resilience import PIECES, WIRES, Wire, client_for


@pytest.fixture(params=WIRES, ids=[w.name for w in WIRES])
def wire(request: pytest.FixtureRequest) -> Wire:
    return request.param  # type: ignore[no-any-return]


KEY_PARTS = ("sk" "-test", "sk" "-or-test", "sk" "-ant-test", "AI" "za-test")

NOT_SSE = {
    "html": Scripted(body=b"<!doctype html><html><body>Bad gateway</body></html>",
                     headers={"Content-Type": "text/html; charset=utf-8"}),
    "empty": Scripted(body=b"", headers={"Content-Type": "text/event-stream"}),
    "json": Scripted.json({"object": "chat.completion", "choices": []}),
    "comments only": Scripted(chunks=[b": OPENROUTER PROCESSING\n\n", b": OPENROUTER PROCESSING\n\n"]),
}


@pytest.mark.parametrize("body", list(NOT_SSE), ids=list(NOT_SSE))
def test_a_200_that_is_no_event_stream_is_malformed(wire: Wire, loopback: LoopbackServer, mode: str, body: str) -> None:
    loopback.enqueue(NOT_SSE[body])
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, MalformedStreamError), error
    message = str(error)
    if "without a single event (expected" in message:
        # llmstream's own decoder reads these bodies with no byte guard below it (the fast paths' cost):
        # it tells that no event came and which one was expected, not the content-type and first bytes.
        assert wire.name.endswith("sdk_models=False") or wire.name.startswith("openrouter"), message
        assert "200" in message
    else:
        assert "200" in message and "content-type" in message  # says what arrived
        if body == "html":
            assert "text/html" in message and "<!doctype html>" in message
        if body == "json":
            assert "application/json" in message and "chat.completion" in message
    assert not any(key in message for key in KEY_PARTS)
    assert error.partial is not None and error.partial.text == "" and seen == []
    assert len(loopback.requests) == 1  # not retried: a malformed answer would come back the same


def test_the_first_bytes_shown_are_redacted(loopback: LoopbackServer) -> None:
    key = "sk" "-proj-loopback-0123456789"
    loopback.enqueue(Scripted(body=b"<html>your key " + key.encode() + b" is wrong</html>",
                              headers={"Content-Type": "text/html"}))
    client = OpenAIClient("gpt-4o-mini", api_key=key, base_url=loopback.url + "/v1", max_retries=0)
    error, _ = failure(client, "hi", "sync")
    assert isinstance(error, MalformedStreamError)
    assert key not in str(error) and "your key" in str(error)


def test_a_body_cut_before_its_terminal_event_is_interrupted(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    # A clean end of body (chunked framing complete) after two text deltas: no finish, no [DONE].
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)[: wire.prefix + 2]))
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, StreamInterruptedError), error
    assert "terminal event" in str(error)
    assert error.partial is not None
    assert error.partial.text == "".join(seen) == "Alpha beta "
    assert error.partial.finish_reason == FinishReason.ERROR  # no inferred "other" hides the cut


@pytest.mark.parametrize("wire", [w for w in WIRES if w.prefix], ids=[w.name for w in WIRES if w.prefix])
def test_a_cut_before_any_content_is_retried(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    """Nothing reached the caller: an interrupted body is retried like a dropped connection. (Gemini's
    first event already carries text: cut before it, its body is empty, which is malformed.)"""
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)[: wire.prefix]))
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)))
    completion = complete(client_for(wire, loopback, max_retries=1), "hi", mode)
    assert completion.text == "".join(PIECES)
    assert len(loopback.requests) == 2


_CHAT = [w for w in WIRES if w.vendor == "openai" and "responses" not in w.name]


def _without_finish_reason(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "choices": [{**ch, "finish_reason": None} for ch in c["choices"]]} for c in chunks]


@pytest.mark.parametrize("wire", _CHAT, ids=[w.name for w in _CHAT])
@pytest.mark.parametrize("shape", ["finish_reason, no [DONE]", "[DONE], no finish_reason"])
def test_openai_compatible_servers_may_send_either_terminal(
    wire: Wire, loopback: LoopbackServer, mode: str, shape: str
) -> None:
    chunks = openai_text_chunks(PIECES)
    if shape.startswith("finish_reason"):
        frames = openai_stream(chunks, done=False)
        expected = FinishReason.STOP
    else:
        frames = openai_stream(_without_finish_reason(chunks))
        expected = FinishReason.OTHER  # DESIGN: a server that omits finish_reason gives "other"
    loopback.enqueue(Scripted(chunks=frames))
    completion = complete(client_for(wire, loopback), "hi", mode)
    assert completion.text == "".join(PIECES)
    assert completion.finish_reason == expected


@pytest.mark.parametrize("wire", _CHAT, ids=[w.name for w in _CHAT])
def test_done_inside_the_answer_text_is_no_terminal(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    pieces = ["the server sends\ndata: [DONE]", " at the end"]
    loopback.enqueue(Scripted(chunks=openai_stream(_without_finish_reason(openai_text_chunks(pieces)), done=False)))
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, StreamInterruptedError), error
    assert error.partial is not None and error.partial.text == "".join(seen) == "".join(pieces)


def test_anthropic_stop_reason_without_message_stop_is_complete(loopback: LoopbackServer, mode: str) -> None:
    frames = anthropic_stream(anthropic_text_events(PIECES))
    assert b"message_stop" in frames[-1]
    loopback.enqueue(Scripted(chunks=frames[:-1]))
    wire = next(w for w in WIRES if w.name == "anthropic")
    completion = complete(client_for(wire, loopback), "hi", mode)
    assert completion.text == "".join(PIECES) and completion.finish_reason == FinishReason.STOP


def test_a_processor_that_ends_the_answer_is_no_interruption(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    """The body was not read to its terminal event because the answer had ended: no error."""
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)[: wire.prefix + 2]))
    options = StreamingOptions(processors=[ContentFilter(["beta"], mode="block")])
    completion = complete(client_for(wire, loopback), "hi", mode, options=options)
    assert completion.error is None and completion.text == "Alpha "
    assert completion.finish_reason == FinishReason.CONTENT_FILTER


# -- max_event_bytes per call, on the vendor SDK paths too ----------------------------------------

LIMIT = 64 * 1024
BIG = "x" * (3 * LIMIT)  # one text delta: one SSE line of ~192 KiB


def test_a_per_call_max_event_bytes_bounds_every_path(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(["Alpha ", BIG])))
    error, seen = failure(client_for(wire, loopback), "hi", mode, max_event_bytes=LIMIT)
    assert isinstance(error, MalformedStreamError), error
    # the SDK paths name the knob; llmstream's own decoder its line limit, which follows it
    assert f"max_event_bytes={LIMIT}" in str(error) or f"max_line_bytes={LIMIT}" in str(error)
    assert error.partial is not None and error.partial.text == "".join(seen) == "Alpha "


def test_a_per_call_max_event_bytes_raises_the_clients_bound(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(["Alpha ", BIG])))
    client = client_for(wire, loopback, max_event_bytes=LIMIT)
    completion = complete(client, "hi", mode, max_event_bytes=8 * LIMIT)
    assert completion.text == "Alpha " + BIG


# -- the guard's rules, sans-IO and on its transport ------------------------------------------------


def _strict(pieces: list[bytes], content_type: str = "text/event-stream") -> ByteGuard:
    guard = ByteGuard(strict=True, content_type=content_type)
    for piece in pieces:
        guard.feed(piece)
    guard.flush()
    return guard


@pytest.mark.parametrize("cut", range(1, 30))
def test_data_lines_and_done_are_seen_across_read_boundaries(cut: int) -> None:
    body = b": ping\n\ndata: {}\n\ndata: [DONE]\n\n"
    guard = _strict([body[:cut], body[cut:]])
    assert guard.seen_data and guard.done


def test_done_is_seen_in_any_three_reads() -> None:
    """After the first ``data:`` line only ``[DONE]`` is looked for, by a cheaper rule: every cut still finds it."""
    body = b'data: {"a": [1]}\n\n: ping\n\ndata: [DONE]\n\n'
    for first in range(1, len(body)):
        for second in range(first, len(body)):
            guard = _strict([body[:first], body[first:second], body[second:]])
            assert guard.seen_data and guard.done, (first, second)
    assert not _strict([body[:-16], b": [DONE] ping\n\n"]).done


def test_done_counts_only_at_a_line_start() -> None:
    guard = _strict([b'data: {"text": "data: [DONE]"}\n\n'])
    assert guard.seen_data and not guard.done
    assert _strict([b"data:[DONE]\r\n\r\n"]).done


def test_only_the_chat_wire_is_watched_for_done() -> None:
    """``[DONE]`` ends only the chat-completions wire: elsewhere the guard stops watching after the first
    data line (and says nothing against a missing ``[DONE]``); on the chat wire it watches on until it."""
    body = b'event: a\ndata: {"x": 1}\n\n'
    sse = {"content-type": "text/event-stream"}
    mock = httpx2.MockTransport(lambda request: httpx2.Response(200, headers=sse, content=body))
    with httpx2.Client(transport=GuardTransport(mock)) as http, stream_request(1024):
        responses = http.post("http://loop/v1/responses")
        chat = http.post("http://loop/v1/chat/completions")
        assert responses.read() == chat.read() == body
    assert saw_done(responses) and not saw_done(chat)
    guard = ByteGuard(strict=True, watch_done=False)
    guard.feed(b"data: {}\n\n")
    guard.feed(b"data: [DONE]\n\n")
    assert guard.seen_data and not guard.done  # not looked for once the data line came


def test_only_a_streams_own_request_must_be_an_event_stream() -> None:
    """Plain JSON calls on the same SDK clients (Responses cancel, model lists) are not streams."""
    mock = httpx2.MockTransport(lambda request: httpx2.Response(200, json={"id": "resp_1", "status": "cancelled"}))
    with httpx2.Client(transport=GuardTransport(mock)) as http:
        assert http.post("http://loop/v1/responses/resp_1/cancel").json()["status"] == "cancelled"
        with stream_request(1024), pytest.raises(MalformedStreamError, match="not an event stream"):
            http.post("http://loop/v1/chat/completions").read()
