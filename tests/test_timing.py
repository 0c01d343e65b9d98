"""Time under hostile or slow servers (#22), on every provider and fast path, sync and async, against
the loopback server with the real vendor SDK clients:

- ``idle_timeout`` is the gap between content chunks: keep-alive comments, pings and bookkeeping
  events do not reset it; it applies only after the first content chunk;
- ``first_chunk_timeout`` runs from the request to the first content chunk;
- a request that timed out after its response headers arrived is not re-sent (``retry_on_timeout``);
- the Retry-After wait ends at ``cancel()`` and before the total deadline; beyond the cap it is not
  waited at all;
- the total deadline is fixed when the stream is made: no request after it, never retried;
- ``cancel()`` aborts a request still waiting for its headers, and no callback runs after it returned.

No test sleeps for timing: each waits (bounded) for what must happen; the knobs are short, and a
stream that ignored them would hang until pytest-timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmstream import (
    BaseClient,
    FinishReason,
    LLMStreamError,
    RateLimitError,
    StreamedChunk,
    StreamingOptions,
    StreamTimeoutError,
)
from tests.cli_helpers import against, cli_home, make_env, run  # noqa: F401  (cli_home: an autouse fixture)
from tests.helpers import complete, failure
from tests.loopback import LoopbackServer, Scripted, error_response, sse_frame
from tests.test_resilience import PIECES, WIRES, Wire, client_for

BOUND = 20.0  # seconds: what must happen happens well within this, or the feature is broken


@pytest.fixture(params=WIRES, ids=[w.name for w in WIRES])
def wire(request: pytest.FixtureRequest) -> Wire:
    return request.param  # type: ignore[no-any-return]


def wait_until(predicate: Callable[[], bool], timeout: float = BOUND) -> bool:
    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        tick.wait(0.01)
    return True


def keepalives(wire: Wire) -> dict[str, bytes]:
    """What servers send to keep a connection alive without content: SSE comments on every wire,
    and the vendors' own bookkeeping events."""
    newline = "\r\n" if wire.vendor == "gemini" else "\n"
    found = {"comment": f": keep-alive{newline}{newline}".encode()}
    if wire.name == "anthropic":
        found["ping"] = sse_frame({"type": "ping"}, event="ping")
    if wire.name.startswith("openai-responses"):
        found["in_progress"] = wire.frames(PIECES)[1]  # response.in_progress, again
    return found


KEEPALIVE_CASES = [(w, kind) for w in WIRES for kind in keepalives(w)]


def with_filler(wire: Wire, cut: int, filler: bytes, count: int = 400) -> list[bytes]:
    """The stream's first ``cut`` frames in one piece, then ``count`` fillers, then the rest."""
    frames = wire.frames(PIECES)
    return [b"".join(frames[:cut]), *[filler] * count, *frames[cut:]]


def warmed(wire: Wire, server: LoopbackServer, mode: str, **knobs: Any) -> BaseClient:
    """A client that already streamed once: the first stream of a process builds the vendor SDK's
    models (pydantic builds a Responses ``Response`` lazily, a second or more under load), client-side
    work the short timeouts of these tests would otherwise count as the server's."""
    server.enqueue(Scripted(chunks=wire.frames(PIECES)))
    client = client_for(wire, server, **knobs)
    assert complete(client, "hi", mode).text == "".join(PIECES)
    return client


class Running:
    """A stream read to its end on a worker thread (its own event loop for async), so that the test
    thread can cancel it and wait, bounded, for it to end."""

    def __init__(self, client: BaseClient, mode: str, **kwargs: Any) -> None:
        self.stream: Any = client.stream("hi", **kwargs) if mode == "sync" else client.astream("hi", **kwargs)
        self.chunks: list[StreamedChunk] = []
        self.error: LLMStreamError | None = None
        self.done = threading.Event()
        self._mode = mode
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            if self._mode == "sync":
                with self.stream as stream:
                    self.chunks.extend(stream)
            else:
                asyncio.run(self._arun())
        except LLMStreamError as error:
            self.error = error
        finally:
            self.done.set()

    async def _arun(self) -> None:
        async with self.stream as stream:
            async for chunk in stream:
                self.chunks.append(chunk)


# -- idle_timeout: content chunks, not bytes --------------------------------------------------------


@pytest.mark.parametrize(("wire", "kind"), KEEPALIVE_CASES, ids=[f"{w.name}-{k}" for w, k in KEEPALIVE_CASES])
def test_keepalives_do_not_reset_the_idle_timeout(wire: Wire, kind: str, loopback: LoopbackServer, mode: str) -> None:
    filler = keepalives(wire)[kind]
    loopback.enqueue(Scripted(chunks=with_filler(wire, wire.prefix + 2, filler), delay_between=0.1))
    error, seen = failure(client_for(wire, loopback, idle_timeout=0.5, max_retries=2), "hi", mode)
    assert isinstance(error, StreamTimeoutError) and "idle_timeout=0.5s" in str(error), repr(error)
    assert error.partial is not None and error.partial.text == "".join(seen) == "Alpha beta "
    assert error.partial.finish_reason == FinishReason.ERROR
    assert len(loopback.requests) == 1  # content had reached the caller: never re-sent
    assert loopback.wait_idle(BOUND)  # the watchdog shut the connection; the server saw it go


def test_a_slow_consumer_is_not_an_idle_server(loopback: LoopbackServer, mode: str) -> None:
    # The caller holding a chunk (or a callback running) for longer than idle_timeout is not the
    # server being late: the watchdog only counts time the stream waits for the server.
    wire = WIRES[0]
    client = warmed(wire, loopback, mode, idle_timeout=0.3)
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)))
    busy = threading.Event()

    def slow(chunk: StreamedChunk) -> None:
        if chunk.text == "Alpha ":
            busy.wait(1.2)  # the caller's own work, four idle gaps long

    completion = complete(client, "hi", mode, on_chunk=slow)
    assert completion.text == "".join(PIECES) and completion.error is None


# -- first_chunk_timeout ----------------------------------------------------------------------------


def test_a_slow_first_byte_is_one_request_when_first_chunk_timeout_allows_it(
    wire: Wire, loopback: LoopbackServer, mode: str
) -> None:
    # Before: with idle_timeout=2 a server taking 3 s to its first byte got three requests (three
    # billed generations). idle_timeout applies only after the first content chunk.
    client = warmed(wire, loopback, mode, idle_timeout=1.0, max_retries=2)
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), delay_first=2.0))
    completion = complete(client, "hi", mode)
    assert completion.text == "".join(PIECES)
    assert len(loopback.requests) == 2  # the warm-up's, and this one: once


@pytest.mark.parametrize("retry_on_timeout", [False, True])
def test_first_chunk_timeout_after_the_headers_is_not_resent_unless_asked(
    wire: Wire, loopback: LoopbackServer, mode: str, retry_on_timeout: bool
) -> None:
    # Headers, the vendor's opening events, then only keep-alives: bytes flow, no content comes.
    filler = keepalives(wire)["comment"]
    for _ in range(2):
        loopback.enqueue(Scripted(chunks=with_filler(wire, wire.prefix, filler), delay_between=0.1))
    client = client_for(wire, loopback, first_chunk_timeout=0.6, idle_timeout=0.2, max_retries=1,
                        retry_on_timeout=retry_on_timeout)  # fmt: skip
    error, seen = failure(client, "hi", mode)
    assert isinstance(error, StreamTimeoutError) and "first_chunk_timeout=0.6s" in str(error), repr(error)
    assert seen == []
    assert len(loopback.requests) == (2 if retry_on_timeout else 1)
    assert loopback.wait_idle(BOUND)


def test_a_timeout_before_the_headers_is_retried(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    # The server holds its headers: the watchdog aborts the request (no response exists yet) and,
    # the server never having accepted it, sends it again.
    client = warmed(wire, loopback, mode, first_chunk_timeout=1.0, max_retries=1)
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), delay_first=60.0), Scripted(chunks=wire.frames(PIECES)))
    completion = complete(client, "hi", mode)
    assert completion.text == "".join(PIECES)
    assert len(loopback.requests) == 3  # the warm-up's, the aborted one, the retry


# -- the Retry-After wait ---------------------------------------------------------------------------


def _rate_limited(wire: Wire, seconds: int) -> Scripted:
    return error_response(wire.vendor, 429, "slow down", headers={"retry-after": str(seconds)})  # type: ignore[arg-type]


def test_a_retry_after_beyond_the_cap_raises_at_once(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(_rate_limited(wire, 60), Scripted(chunks=wire.frames(PIECES)))
    error, _ = failure(client_for(wire, loopback, max_retries=2, retry_after_cap=5.0), "hi", mode)
    assert isinstance(error, RateLimitError) and error.retry_after == 60.0
    assert len(loopback.requests) == 1  # not slept for the cap and asked again too early


def test_a_retry_after_past_the_total_deadline_raises_at_once(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(_rate_limited(wire, 20), Scripted(chunks=wire.frames(PIECES)))
    client = client_for(wire, loopback, max_retries=2, total_timeout=1.0)
    running = Running(client, mode)
    assert running.done.wait(BOUND)  # a wait of 20 s would overrun the deadline: the error, now
    assert isinstance(running.error, RateLimitError) and running.error.retry_after == 20.0
    assert len(loopback.requests) == 1


def test_cancel_ends_the_retry_after_wait_at_once(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(_rate_limited(wire, 20), Scripted(chunks=wire.frames(PIECES)))
    retrying = threading.Event()
    client = client_for(wire, loopback, max_retries=2)
    options = StreamingOptions(on_retry=lambda error, delay, attempt: retrying.set())
    running = Running(client, mode, options=options)
    assert retrying.wait(BOUND)
    running.stream.cancel()
    assert running.done.wait(BOUND)  # not 20 s later
    assert running.error is None and running.stream.completion.finish_reason == FinishReason.CANCELLED
    assert len(loopback.requests) == 1


# -- the total deadline -----------------------------------------------------------------------------


def test_no_request_once_the_deadline_fixed_at_stream_passed(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.default = Scripted(chunks=wire.frames(PIECES))
    client = client_for(wire, loopback, total_timeout=0.3, max_retries=2)
    stream: Any = client.stream("hi") if mode == "sync" else client.astream("hi")
    deadline = stream._state.deadline
    assert wait_until(lambda: time.monotonic() > deadline)  # the caller reads late

    async def read_async() -> None:
        async with stream:
            async for _ in stream:
                pass

    with pytest.raises(StreamTimeoutError, match="total_timeout"):
        if mode == "sync":
            with stream:
                list(stream)
        else:
            asyncio.run(read_async())
    assert loopback.requests == []


def test_a_tripped_deadline_is_never_retried(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.default = Scripted(chunks=wire.frames(PIECES), delay_first=60.0)  # headers held
    # (Building the vendor SDK client, e.g. Gemini's first import, does not count against the budget.)
    error = failure(client_for(wire, loopback, total_timeout=0.5, max_retries=2), "hi", mode)[0]
    assert isinstance(error, StreamTimeoutError) and "total_timeout=0.5s" in str(error), repr(error)
    assert error.partial is not None and error.partial.text == "" and len(loopback.requests) == 1
    assert loopback.wait_idle(BOUND)


# -- cancel() ---------------------------------------------------------------------------------------


def test_cancel_aborts_a_request_waiting_for_its_headers(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), delay_first=60.0))
    seen: list[StreamedChunk] = []
    client = client_for(wire, loopback, max_retries=2)
    running = Running(client, mode, on_chunk=seen.append)
    assert wait_until(lambda: len(loopback.requests) == 1)
    running.stream.cancel()
    assert running.done.wait(BOUND)  # not when the server finally answers
    assert running.error is None and running.stream.completion.finish_reason == FinishReason.CANCELLED
    assert loopback.wait_idle(BOUND)  # the server saw the disconnect
    assert seen == [] and len(loopback.requests) == 1


def test_no_callback_runs_after_cancel_returned(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    frames = wire.frames(["x"] * 3000)
    loopback.enqueue(Scripted(chunks=[b"".join(frames)]))
    seen: list[StreamedChunk] = []
    flowing = threading.Event()

    def on_chunk(chunk: StreamedChunk) -> None:
        seen.append(chunk)
        if len(seen) == 20:
            flowing.set()

    running = Running(client_for(wire, loopback), mode, on_chunk=on_chunk)
    assert flowing.wait(BOUND)
    running.stream.cancel()  # from another thread than the reader's
    after = len(seen)
    assert running.done.wait(BOUND)
    assert len(seen) == after < 3000
    assert running.stream.completion.finish_reason == FinishReason.CANCELLED


def test_the_cli_takes_first_chunk_timeout(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.default = Scripted(chunks=WIRES[0].frames(PIECES), delay_first=60.0)  # headers held
    result = run(against(loopback, "--first-chunk-timeout", "0.5", "Hi"), make_env(tmp_path))
    assert result.returncode != 0 and "first_chunk_timeout=0.5s" in result.stderr, result.stderr
    assert len(loopback.requests) == 1
