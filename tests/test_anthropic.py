"""AnthropicClient end to end: the real ``anthropic`` SDK against the loopback server, sync and async."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("anthropic")

import llmstream
from llmstream import (
    AuthenticationError,
    BadRequestError,
    ChunkType,
    Completion,
    ConfigurationError,
    Conversation,
    FinishReason,
    InBandError,
    ProviderError,
    RateLimitError,
    ReasoningBlock,
    ServerError,
    StreamedChunk,
    StreamInterruptedError,
    StreamTimeoutError,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmstream.providers.anthropic import AnthropicClient
from tests.helpers import collect, complete, failure
from tests.loopback import (
    LoopbackServer,
    RecordedRequest,
    Scripted,
    anthropic_error_event,
    anthropic_stream,
    anthropic_text_events,
    error_response,
)

C = ChunkType
KEY = "sk" "-ant-test-0123456789abcdefghij"
WEATHER = Tool("weather", "Current weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def make_client(server: LoopbackServer, **kwargs: Any) -> AnthropicClient:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("retry_backoff", 0.0)
    return AnthropicClient("claude-x", base_url=server.url, **kwargs)


Turn = Callable[..., Completion]


@pytest.fixture
def turn(mode: str) -> Iterator[Turn]:
    """``turn(client, conversation, **kw)``: one completion; async turns share one event loop.

    The async SDK client keeps a connection pool bound to the loop it first ran in, so several
    ``asyncio.run`` calls on one client would reuse dead connections (see test_anthropic's notes).
    """
    if mode == "sync":
        yield lambda client, conversation, **kw: client.stream_complete(conversation, **kw)
        return
    loop = asyncio.new_event_loop()
    try:
        yield lambda client, conversation, **kw: loop.run_until_complete(
            client.astream_complete(conversation, **kw)
        )
    finally:
        loop.close()


def sent_key(request: RecordedRequest) -> str | None:
    """The key as the SDK sent it: ``x-api-key`` in older SDKs, ``Authorization: Bearer`` in 2.12."""
    if "x-api-key" in request.headers:
        return request.headers["x-api-key"]
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value if scheme == "Bearer" else None


def rich_events() -> list[tuple[str, dict[str, Any]]]:
    """Thinking, text, two parallel tool_use blocks, prompt caching in the usage."""
    events = anthropic_text_events(
        ["I'll check ", "both."],
        thinking_pieces=["Two cities, ", "two calls."],
        signature="sig-abc",
        tool_uses=[
            {"id": "toolu_1", "name": "weather", "input_pieces": ['{"city": ', '"Paris"}']},
            {"id": "toolu_2", "name": "weather", "input_pieces": ['{"city": "Rome"}']},
        ],
        input_tokens=12,
        output_tokens=64,
    )
    usage = events[0][1]["message"]["usage"]
    usage["cache_read_input_tokens"] = 100
    usage["cache_creation_input_tokens"] = 20
    return events


def test_full_completion_and_the_request_sent(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=anthropic_stream(rich_events())))
    client = make_client(loopback)
    conversation = Conversation().system("Be brief.").user("Weather in Paris and Rome?")
    # temperature and top_k have no keyword in anthropic 2.12's create(): they go in extra_body.
    completion = complete(client, conversation, mode, tools=[WEATHER], temperature=0.2, top_k=5)

    assert completion.text == "I'll check both."
    assert completion.reasoning == "Two cities, two calls."
    assert completion.reasoning_blocks == [ReasoningBlock("Two cities, two calls.", "sig-abc")]
    assert completion.tool_calls == [
        ToolCall("toolu_1", "weather", '{"city": "Paris"}'),
        ToolCall("toolu_2", "weather", '{"city": "Rome"}'),
    ]
    assert [call.args for call in completion.tool_calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert completion.usage == Usage(
        input_tokens=132, output_tokens=64, cached_input_tokens=100, cache_write_tokens=20
    )
    assert completion.finish_reason is FinishReason.TOOL_CALLS
    assert completion.raw_finish_reason == "tool_use"
    assert (completion.id, completion.model, completion.provider) == (
        "msg_loop",
        "claude-sonnet-4-5",
        "anthropic",
    )
    assert completion.error is None

    (request,) = loopback.requests
    assert request.path == "/v1/messages"  # base_url is the host root; the SDK adds /v1
    assert sent_key(request) == KEY
    assert request.json == {
        "model": "claude-x",
        "max_tokens": 4096,
        "stream": True,
        "system": "Be brief.",
        "temperature": 0.2,
        "top_k": 5,
        "messages": [{"role": "user", "content": "Weather in Paris and Rome?"}],
        "tools": [
            {"name": "weather", "description": "Current weather", "input_schema": dict(WEATHER.parameters)}
        ],
    }


def test_on_chunk_sees_every_chunk_in_order(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(
        Scripted(chunks=anthropic_stream(rich_events())), Scripted(chunks=anthropic_stream(rich_events()))
    )
    seen: list[StreamedChunk] = []
    complete(make_client(loopback), "hi", mode, on_chunk=seen.append)
    assert seen == [
        StreamedChunk(C.START, id="msg_loop", model="claude-sonnet-4-5"),
        StreamedChunk(
            C.USAGE,
            usage=Usage(input_tokens=132, output_tokens=1, cached_input_tokens=100, cache_write_tokens=20),
        ),
        StreamedChunk(C.REASONING, "Two cities, "),
        StreamedChunk(C.REASONING, "two calls."),
        StreamedChunk(C.REASONING, "", signature="sig-abc"),
        StreamedChunk(C.TEXT, "I'll check "),
        StreamedChunk(C.TEXT, "both."),
        StreamedChunk(C.TOOL_CALL_START, tool_call=ToolCallDelta(0, "toolu_1", "weather", "")),
        StreamedChunk(C.TOOL_CALL_DELTA, tool_call=ToolCallDelta(0, arguments='{"city": ')),
        StreamedChunk(C.TOOL_CALL_DELTA, tool_call=ToolCallDelta(0, arguments='"Paris"}')),
        StreamedChunk(C.TOOL_CALL_END, tool_call=ToolCallDelta(0, "toolu_1", "weather", '{"city": "Paris"}')),
        StreamedChunk(C.TOOL_CALL_START, tool_call=ToolCallDelta(1, "toolu_2", "weather", "")),
        StreamedChunk(C.TOOL_CALL_DELTA, tool_call=ToolCallDelta(1, arguments='{"city": "Rome"}')),
        StreamedChunk(C.TOOL_CALL_END, tool_call=ToolCallDelta(1, "toolu_2", "weather", '{"city": "Rome"}')),
        StreamedChunk(
            C.USAGE,
            usage=Usage(input_tokens=132, output_tokens=64, cached_input_tokens=100, cache_write_tokens=20),
        ),
        StreamedChunk(C.STOP, finish_reason=FinishReason.TOOL_CALLS, raw_finish_reason="tool_use"),
    ]
    # The iterator form yields the same chunks as the callback.
    chunks, completion = collect(make_client(loopback), "hi", mode)
    assert chunks == seen
    assert completion.text == "I'll check both."


def in_band_error_after(pieces: list[str], *, before: int) -> list[bytes]:
    """A text stream with ``event: error`` in place of everything after text delta ``before``."""
    events = anthropic_text_events(pieces)
    first_delta = next(i for i, (name, _) in enumerate(events) if name == "content_block_delta")
    return anthropic_stream(
        [*events[: first_delta + before], anthropic_error_event("overloaded_error", "Overloaded")]
    )


def test_in_band_error_after_text_keeps_the_partial(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=in_band_error_after(["Hello, ", "wor", "ld"], before=2)))
    error, seen = failure(make_client(loopback, max_retries=0), "hi", mode)
    assert isinstance(error, InBandError)
    assert error.code == "overloaded_error"
    assert error.provider == "anthropic"
    assert "Overloaded" in str(error)
    assert error.partial is not None
    assert error.partial.text == "Hello, wor" == "".join(seen)
    assert error.partial.finish_reason is FinishReason.ERROR


def test_in_band_error_before_any_content_is_retried(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(
        Scripted(chunks=in_band_error_after(["x"], before=0)),
        Scripted(chunks=anthropic_stream(anthropic_text_events(["Recovered"]))),
    )
    completion = complete(make_client(loopback, max_retries=1), "hi", mode)
    assert completion.text == "Recovered"
    assert len(loopback.requests) == 2


def test_in_band_error_after_content_is_not_retried(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(
        Scripted(chunks=in_band_error_after(["Hel", "lo"], before=1)),
        Scripted(chunks=anthropic_stream(anthropic_text_events(["never sent"]))),
    )
    error, _ = failure(make_client(loopback, max_retries=2), "hi", mode)
    assert isinstance(error, InBandError)
    assert error.partial is not None and error.partial.text == "Hel"
    assert len(loopback.requests) == 1


def test_connection_dropped_mid_stream(loopback: LoopbackServer, mode: str) -> None:
    frames = anthropic_stream(anthropic_text_events(["one ", "two ", "three"]))
    # message_start, ping, content_block_start, then two text deltas reach the client.
    loopback.enqueue(Scripted(chunks=frames, drop_after=5))
    error, seen = failure(make_client(loopback, max_retries=0), "hi", mode)
    assert isinstance(error, StreamInterruptedError)
    assert error.partial is not None
    assert error.partial.text == "one two " == "".join(seen)


def test_idle_timeout_reaches_the_sdk_request(loopback: LoopbackServer, mode: str) -> None:
    frames = anthropic_stream(anthropic_text_events(["first ", "never"]))
    loopback.enqueue(Scripted(chunks=frames, stall_after=4))
    error, seen = failure(make_client(loopback, max_retries=0), "hi", mode, idle_timeout=0.2)
    assert isinstance(error, StreamTimeoutError)
    assert seen == ["first "]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, BadRequestError),
        (500, ServerError),
        (529, ServerError),
    ],
)
def test_http_errors(loopback: LoopbackServer, mode: str, status: int, expected: type[ProviderError]) -> None:
    loopback.enqueue(error_response("anthropic", status, f"failure {status}"))
    error, seen = failure(make_client(loopback, max_retries=0), "hi", mode)
    assert type(error) is expected
    assert error.status_code == status
    assert error.message == f"failure {status}"
    assert isinstance(error.body, dict) and error.body["error"]["message"] == f"failure {status}"
    assert seen == []
    assert len(loopback.requests) == 1  # the SDK's own retries are off


def test_rate_limit_with_retry_after(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(error_response("anthropic", 429, "slow down", headers={"retry-after": "17"}))
    error, _ = failure(make_client(loopback, max_retries=0), "hi", mode)
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 17.0
    assert error.message == "slow down"


def test_server_error_is_retried_before_the_first_chunk(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(
        error_response("anthropic", 529, "Overloaded"),
        Scripted(chunks=anthropic_stream(anthropic_text_events(["ok"]))),
    )
    completion = complete(make_client(loopback, max_retries=1), "hi", mode)
    assert completion.text == "ok"
    assert len(loopback.requests) == 2


def test_tool_round_trip_sends_thinking_tool_use_and_result(loopback: LoopbackServer, turn: Turn) -> None:
    first = anthropic_text_events(
        [],
        thinking_pieces=["Need the weather."],
        signature="sig-round",
        tool_uses=[{"id": "toolu_9", "name": "weather", "input_pieces": ['{"city":', ' "Oslo"}']}],
    )
    second = anthropic_text_events(["It is 21 degrees."])
    loopback.enqueue(Scripted(chunks=anthropic_stream(first)), Scripted(chunks=anthropic_stream(second)))
    client = make_client(loopback)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    conversation = Conversation().system("You are terse.").user("Weather in Oslo?")

    completion = turn(client, conversation, tools=[WEATHER], thinking=thinking)
    assert completion.finish_reason is FinishReason.TOOL_CALLS
    (call,) = completion.tool_calls
    assert call.args == {"city": "Oslo"}
    conversation.append(completion)
    conversation.tool_result(call.id, {"temp": 21})
    final = turn(client, conversation, tools=[WEATHER], thinking=thinking)
    assert final.text == "It is 21 degrees."
    assert final.finish_reason is FinishReason.STOP

    sent = loopback.requests[1].json
    assert sent is not None
    assert sent["system"] == "You are terse."
    assert sent["thinking"] == thinking
    assert sent["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Need the weather.", "signature": "sig-round"},
                {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": '{"temp": 21}'}],
        },
    ]


def test_factory_builds_an_anthropic_client(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=anthropic_stream(anthropic_text_events(["via ", "factory"]))))
    client = llmstream.client("anthropic:claude-x", api_key="k", base_url=loopback.url)
    assert isinstance(client, AnthropicClient)
    assert client.model == "claude-x"
    assert complete(client, "hi", mode).text == "via factory"
    assert loopback.requests[0].json == {
        "model": "claude-x",
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_key_from_the_environment(
    loopback: LoopbackServer, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-123")
    loopback.enqueue(Scripted(chunks=anthropic_stream(anthropic_text_events(["ok"]))))
    client = llmstream.client("anthropic:claude-x", base_url=loopback.url)
    assert complete(client, "hi", mode).text == "ok"
    assert sent_key(loopback.requests[0]) == "env-key-123"


def test_missing_key_is_a_configuration_error(loopback: LoopbackServer, mode: str) -> None:
    client = llmstream.client("anthropic:claude-x", base_url=loopback.url)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        complete(client, "hi", mode)
    assert loopback.requests == []


def test_repr_never_shows_the_key() -> None:
    client = AnthropicClient("claude-x", api_key=KEY, base_url="http://127.0.0.1:1")
    assert KEY not in repr(client)
    assert KEY[:12] not in repr(client)
    assert "claude-x" in repr(client)


def test_importing_llmstream_and_the_provider_does_not_import_the_sdk() -> None:
    code = (
        "import sys, llmstream, llmstream.providers.anthropic as p\n"
        "p.AnthropicClient('claude-x', api_key='k')\n"
        "assert 'anthropic' not in sys.modules, 'anthropic imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
