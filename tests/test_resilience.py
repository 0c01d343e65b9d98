"""Every provider x every fault x sync/async against the fault-injecting loopback server.

Each case asserts the error type, that the partial completion holds exactly the text deltas the
caller received, and that the connection was closed. Hangs are caught by pytest-timeout.
"""

from __future__ import annotations

import asyncio
import gc
import os
import types
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import llmstream
from llmstream import (
    AuthenticationError,
    BadRequestError,
    BaseClient,
    ContentFilter,
    FinishReason,
    InBandError,
    MalformedStreamError,
    RateLimitError,
    ServerError,
    StreamingOptions,
    StreamInterruptedError,
    StreamTimeoutError,
)
from tests.helpers import complete, failure
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    error_response,
    gemini_stream,
    gemini_text_responses,
    openai_stream,
    openai_text_chunks,
    responses_stream,
    responses_text_events,
    sse_frame,
)

PIECES = ["Alpha ", "beta ", "gamma ", "delta."]


@attrs.frozen
class Wire:
    """How one provider's stream looks on the wire, and how to build its client."""

    name: str
    vendor: str
    frames: Callable[[list[str]], list[bytes]]
    prefix: int  # frames before the first text frame
    in_band_error: bytes
    malformed: bytes
    make: Callable[[str, dict[str, Any]], BaseClient]


def _openai(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.OpenAIClient("gpt-4o-mini", api_key="sk" "-test", base_url=url + "/v1", **kw)


def _openai_own_decoding(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.OpenAIClient("gpt-4o-mini", api_key="sk" "-test", base_url=url + "/v1", sdk_models=False, **kw)


def _responses(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.OpenAIResponsesClient("gpt-5-mini", api_key="sk" "-test", base_url=url + "/v1", **kw)


def _responses_own_decoding(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.OpenAIResponsesClient("gpt-5-mini", api_key="sk" "-test", base_url=url + "/v1",
                                           sdk_models=False, **kw)


def _openrouter(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.OpenRouterClient("openai/gpt-4o", api_key="sk" "-or-test", base_url=url + "/api/v1", **kw)


def _anthropic(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.AnthropicClient("claude-loopback", api_key="sk" "-ant-test", base_url=url, **kw)


def _anthropic_own_decoding(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.AnthropicClient("claude-loopback", api_key="sk" "-ant-test", base_url=url, sdk_models=False, **kw)


def _gemini(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.GeminiClient("gemini-2.5-flash", api_key="AI" "za-test", base_url=url, **kw)


def _gemini_own_decoding(url: str, kw: dict[str, Any]) -> BaseClient:
    return llmstream.GeminiClient("gemini-2.5-flash", api_key="AI" "za-test", base_url=url, sdk_models=False, **kw)


def _vertex(url: str, kw: dict[str, Any]) -> BaseClient:
    """Vertex AI's URL shape (``/v1beta1/projects/…/locations/…/publishers/google/models/…``) and bearer
    token, with credentials that never refresh."""
    from google.oauth2.credentials import Credentials

    return llmstream.client("vertex:gemini-2.5-flash", project="loop-project", location="us-central1",
                            credentials=Credentials(token="loop-token"), base_url=url, **kw)  # fmt: skip


def _vertex_own_decoding(url: str, kw: dict[str, Any]) -> BaseClient:
    return _vertex(url, {**kw, "sdk_models": False})


_OPENROUTER_ERROR = {
    "id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "openai/gpt-4o",
    "error": {"code": 502, "message": "Provider disconnected"},
    "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
}

_RESPONSES_ERROR = sse_frame(
    {"type": "error", "code": "server_error", "message": "overloaded", "param": None, "sequence_number": 90},
    event="error",
)

WIRES = [
    Wire("openai", "openai", lambda p: openai_stream(openai_text_chunks(p)), 1,
         b'data: {"error": {"message": "overloaded", "code": "overloaded"}}\n\n', b"data: {oops\n\n", _openai),
    Wire("openai-sdk_models=False", "openai", lambda p: openai_stream(openai_text_chunks(p)), 1,
         b'data: {"error": {"message": "overloaded", "code": "overloaded"}}\n\n', b"data: {oops\n\n",
         _openai_own_decoding),
    Wire("openai-responses", "openai", lambda p: responses_stream(responses_text_events(p)), 4,
         _RESPONSES_ERROR, b"event: response.output_text.delta\ndata: {oops\n\n", _responses),
    Wire("openai-responses-sdk_models=False", "openai", lambda p: responses_stream(responses_text_events(p)), 4,
         _RESPONSES_ERROR, b"event: response.output_text.delta\ndata: {oops\n\n", _responses_own_decoding),
    Wire("openrouter", "openai", lambda p: openai_stream(openai_text_chunks(p)), 1,
         sse_frame(_OPENROUTER_ERROR), b"data: {oops\n\n", _openrouter),
    Wire("anthropic", "anthropic", lambda p: anthropic_stream(anthropic_text_events(p)), 3,
         sse_frame({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, event="error"),
         b"event: content_block_delta\ndata: {oops\n\n", _anthropic),
    Wire("anthropic-sdk_models=False", "anthropic", lambda p: anthropic_stream(anthropic_text_events(p)), 3,
         sse_frame({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, event="error"),
         b"event: content_block_delta\ndata: {oops\n\n", _anthropic_own_decoding),
    Wire("gemini", "gemini", lambda p: gemini_stream(gemini_text_responses(p)), 0,
         b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n',
         b"data: {oops\r\n\r\n", _gemini),
    Wire("vertex", "gemini", lambda p: gemini_stream(gemini_text_responses(p)), 0,
         b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n',
         b"data: {oops\r\n\r\n", _vertex),
    Wire("gemini-sdk_models=False", "gemini", lambda p: gemini_stream(gemini_text_responses(p)), 0,
         b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n',
         b"data: {oops\r\n\r\n", _gemini_own_decoding),
    Wire("vertex-sdk_models=False", "gemini", lambda p: gemini_stream(gemini_text_responses(p)), 0,
         b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n',
         b"data: {oops\r\n\r\n", _vertex_own_decoding),
]


@pytest.fixture(params=WIRES, ids=[w.name for w in WIRES])
def wire(request: pytest.FixtureRequest) -> Wire:
    return request.param  # type: ignore[no-any-return]


def client_for(wire: Wire, server: LoopbackServer, **kw: Any) -> BaseClient:
    kw.setdefault("max_retries", 0)
    kw.setdefault("retry_backoff", 0.0)
    return wire.make(server.url, kw)


def assert_partial(error: llmstream.LLMStreamError, seen: list[str], expected: str) -> None:
    assert error.partial is not None
    assert error.partial.text == "".join(seen) == expected
    assert error.partial.finish_reason == FinishReason.ERROR


def test_happy_path(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)))
    completion = complete(client_for(wire, loopback), "hi", mode)
    assert completion.text == "".join(PIECES)
    if wire.name.startswith("vertex"):  # the fault matrix below runs on the Vertex URL shape
        request = loopback.requests[-1]
        assert request.path.startswith("/v1beta1/projects/loop-project/locations/us-central1/publishers/google/")
        assert request.headers["authorization"] == "Bearer loop-token" and completion.provider == "vertex"
    assert completion.finish_reason == FinishReason.STOP
    assert completion.usage is not None and completion.usage.input_tokens == 10


def test_drop_after_two_deltas(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), drop_after=wire.prefix + 2))
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, StreamInterruptedError)
    assert_partial(error, seen, "Alpha beta ")


def test_stall_hits_the_idle_timeout(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), stall_after=wire.prefix + 2))
    error, seen = failure(client_for(wire, loopback, idle_timeout=0.5), "hi", mode)
    assert isinstance(error, StreamTimeoutError)
    assert_partial(error, seen, "Alpha beta ")


def test_total_timeout_while_stalled(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), stall_after=wire.prefix + 1))
    error, seen = failure(client_for(wire, loopback, idle_timeout=30, total_timeout=1.0), "hi", mode)
    assert isinstance(error, StreamTimeoutError)
    assert_partial(error, seen, "Alpha ")


def test_slow_first_byte(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), delay_first=3.0))
    error, seen = failure(client_for(wire, loopback, first_chunk_timeout=0.3), "hi", mode)
    assert isinstance(error, StreamTimeoutError) and "first_chunk_timeout=0.3" in str(error)
    assert seen == []


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, AuthenticationError), (403, AuthenticationError), (404, BadRequestError), (429, RateLimitError),
     (500, ServerError), (503, ServerError)],
)
def test_status_codes(wire: Wire, loopback: LoopbackServer, mode: str, status: int, error_type: type) -> None:
    loopback.enqueue(error_response(wire.vendor, status, "nope", headers={"retry-after": "2"}))  # type: ignore[arg-type]
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, error_type), repr(error)
    assert error.status_code == status  # type: ignore[attr-defined]
    assert seen == [] and error.partial is not None and error.partial.text == ""
    if status == 429:
        assert error.retry_after == 2.0  # type: ignore[attr-defined]


def test_retry_after_then_success(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(
        error_response(wire.vendor, 429, "slow down", headers={"retry-after": "0"}),  # type: ignore[arg-type]
        error_response(wire.vendor, 503, "busy"),  # type: ignore[arg-type]
        Scripted(chunks=wire.frames(PIECES)),
    )
    starts: list[Any] = []
    completion = complete(client_for(wire, loopback, max_retries=2), "hi", mode, on_start=starts.append)
    assert completion.text == "".join(PIECES)
    assert len(loopback.requests) == 3
    assert len(starts) == 1


def test_malformed_frame(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    frames = wire.frames(PIECES)
    cut = wire.prefix + 2
    loopback.enqueue(Scripted(chunks=[*frames[:cut], wire.malformed, *frames[cut:]]))
    client = client_for(wire, loopback)
    error, seen = failure(client, "hi", mode)
    assert isinstance(error, MalformedStreamError), repr(error)
    assert f"[{client.provider}]" in str(error)  # names the provider
    assert_partial(error, seen, "Alpha beta ")


def test_in_band_error(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    frames = wire.frames(PIECES)
    cut = wire.prefix + 2
    loopback.enqueue(Scripted(chunks=[*frames[:cut], wire.in_band_error, *frames[cut:]]))
    error, seen = failure(client_for(wire, loopback, max_retries=2), "hi", mode)
    assert isinstance(error, (InBandError, ServerError)), repr(error)
    assert_partial(error, seen, "Alpha beta ")
    assert len(loopback.requests) == 1  # never a retry after content was delivered


def test_content_filter_block_stops_reading_and_closes_the_connection(
    wire: Wire, loopback: LoopbackServer, mode: str
) -> None:
    # The server stalls after the blocked word: a stream that kept reading would never finish
    # (pytest-timeout would catch the hang; idle_timeout is far beyond it).
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES), stall_after=wire.prefix + 2))
    client = client_for(wire, loopback, idle_timeout=3600.0)
    options = StreamingOptions(processors=[ContentFilter(["beta"], mode="block")])
    completion = complete(client, "hi", mode, options=options)
    assert completion.text == "Alpha "
    assert completion.finish_reason == FinishReason.CONTENT_FILTER and completion.error is None
    assert loopback.wait_idle(timeout=10.0)
    assert loopback.open_connections == 0


def test_truncated_utf8(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    frames = wire.frames(["Caf", "é au lait", " done"])
    target = frames[wire.prefix + 1]
    cut = target.index("é".encode()) + 1  # inside the two-byte character
    loopback.enqueue(Scripted(chunks=[*frames[: wire.prefix + 1], target[:cut]], drop_after=wire.prefix + 2))
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, StreamInterruptedError)
    assert_partial(error, seen, "Caf")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to count file descriptors")
def test_hundred_cancelled_streams_leave_no_socket_open(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    client = client_for(wire, loopback)
    frames = wire.frames(PIECES)
    for _ in range(100):
        loopback.enqueue(Scripted(chunks=frames, stall_after=wire.prefix + 2))

    def run_sync() -> None:
        for _ in range(100):
            with client.stream("hi") as stream:
                for chunk in stream:
                    if chunk.text:
                        break
            assert stream.completion.finish_reason == FinishReason.CANCELLED
            assert stream.completion.text == "Alpha "

    async def run_async() -> None:
        for _ in range(100):
            async with client.astream("hi") as stream:
                async for chunk in stream:
                    if chunk.text:
                        break
            assert stream.completion.finish_reason == FinishReason.CANCELLED
        await client.aclose()

    client.sdk  # noqa: B018 - import the SDK and build its pool before counting descriptors
    gc.collect()
    before = _open_fds()
    if mode == "sync":
        run_sync()
    else:
        asyncio.run(run_async())
    client.close()
    gc.collect()
    assert loopback.wait_idle(timeout=10.0)
    assert loopback.open_connections == 0
    assert _open_fds() <= before


def _suspended_async_generators() -> list[str]:
    # Not the vendor client's guardian (llmstream._vendor): it waits for its loop's shutdown_asyncgens by design.
    return [
        g.__qualname__ for g in gc.get_objects() if isinstance(g, types.AsyncGeneratorType) and g.ag_frame is not None
        and g.__qualname__ != "_guardian"
    ]


@pytest.mark.parametrize("how", ["break", "error"])
def test_closed_async_stream_leaves_no_generator_to_the_garbage_collector(
    wire: Wire, loopback: LoopbackServer, how: str
) -> None:
    # A vendor chain left suspended is finalized later by whatever thread runs the collector; its
    # ``finally: await ...`` blocks then fail ("async generator already executing", seen in CI).
    client = client_for(wire, loopback)
    frames = wire.frames(PIECES)
    loopback.enqueue(Scripted(chunks=frames, stall_after=wire.prefix + 2))
    left: list[str] = []

    async def run() -> None:
        gc.collect()
        gc.disable()  # nothing may be collected between the close and the count
        try:
            before = set(_suspended_async_generators())
            async with client.astream("hi") as stream:
                async for chunk in stream:
                    if chunk.text:
                        if how == "error":
                            raise KeyError("caller failure")
                        break
        except KeyError:
            pass
        finally:
            left.extend(name for name in _suspended_async_generators() if name not in before)
            gc.enable()
        assert stream.completion.text == "Alpha "
        await client.aclose()

    asyncio.run(run())
    client.close()
    assert left == []


def test_run_down_only_where_closing_closed_the_connection() -> None:
    # HTTP/2 keeps a shared connection open after a stream closes: reading on would wait for frames.
    import httpx2

    from llmstream._transport import connection_closed

    def response(version: bytes) -> Any:
        return httpx2.Response(200, extensions={"http_version": version})

    assert connection_closed(response(b"HTTP/1.1")) and connection_closed(response(b"HTTP/1.0"))
    assert not connection_closed(response(b"HTTP/2")) and not connection_closed(None)


def test_garbage_collected_stream_closes_its_connection(loopback: LoopbackServer) -> None:
    client = _openai(loopback.url, {"max_retries": 0})
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES)), stall_after=3))
    stream = client.stream("hi")
    assert next(iter(stream)).text or True
    del stream
    gc.collect()
    assert loopback.wait_idle(timeout=10.0)
    assert loopback.open_connections == 0


def test_cancel_from_another_thread(loopback: LoopbackServer, mode: str) -> None:
    import threading

    client = _openai(loopback.url, {"max_retries": 0})
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES)), stall_after=3))
    completes: list[Any] = []

    if mode == "sync":
        with client.stream("hi", on_complete=completes.append) as stream:
            for chunk in stream:
                if chunk.text == "beta ":
                    threading.Thread(target=stream.cancel).start()
        completion = stream.completion
    else:

        async def run() -> Any:
            async with client.astream("hi", on_complete=completes.append) as stream:
                async for chunk in stream:
                    if chunk.text == "beta ":
                        threading.Thread(target=stream.cancel).start()
            return stream.completion

        completion = asyncio.run(run())
    assert completion.finish_reason == FinishReason.CANCELLED
    assert completion.text == "Alpha beta "
    assert completes == []


def test_task_cancellation_closes_the_connection(loopback: LoopbackServer) -> None:
    client = _openai(loopback.url, {"max_retries": 0})
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES)), stall_after=3))
    seen: list[str] = []

    async def consume() -> None:
        async with client.astream("hi", on_chunk=lambda c: seen.append(c.text)) as stream:
            async for _ in stream:
                pass

    async def run() -> None:
        task = asyncio.create_task(consume())
        while "beta " not in seen:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert loopback.wait_idle(timeout=10.0)
    assert loopback.open_connections == 0
