"""Fallbacks: the next client answers when one fails before its first chunk; never after content."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from llmstream import (
    AuthenticationError,
    BadRequestError,
    BaseClient,
    CallbackError,
    ChunkType,
    ConfigurationError,
    FinishReason,
    InBandError,
    MockClient,
    OpenAIClient,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamedChunk,
    StreamingOptions,
    StreamInterruptedError,
    StreamTimeoutError,
)
from llmstream.fallback import FallbackClient, fallback, is_fallback_error
from llmstream.processors import ContentFilter
from tests.helpers import collect, complete
from tests.loopback import LoopbackServer, error_response


def openai_on(server: LoopbackServer) -> OpenAIClient:
    return OpenAIClient("gpt-4o-mini", api_key="sk" "-test-key-0123456789abcdef", base_url=server.url + "/v1",
                        max_retries=0)


def recorder() -> tuple[dict[str, list[Any]], dict[str, Any]]:
    events: dict[str, list[Any]] = {"start": [], "error": [], "complete": []}
    callbacks = {"on_start": events["start"].append, "on_error": events["error"].append,
                 "on_complete": events["complete"].append}
    return events, callbacks


@pytest.mark.parametrize("method", ["stream", "astream", "stream_complete", "astream_complete"])
def test_same_signatures_as_base_client(method: str) -> None:
    ours = inspect.signature(getattr(FallbackClient, method))
    theirs = inspect.signature(getattr(BaseClient, method))
    assert list(ours.parameters.values()) == list(theirs.parameters.values())
    assert inspect.iscoroutinefunction(getattr(FallbackClient, method)) == inspect.iscoroutinefunction(
        getattr(BaseClient, method))


def test_429_from_a_real_sdk_falls_back_to_the_next_client(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(error_response("openai", 429, "slow down", headers={"retry-after": "0"}))
    backup = MockClient(text="from the backup")
    events, callbacks = recorder()
    chain = fallback(openai_on(loopback), backup)
    if mode == "sync":
        with chain.stream("hi", **callbacks) as stream:
            chunks = list(stream)
    else:

        async def go() -> tuple[list[StreamedChunk], Any]:
            async with chain.astream("hi", **callbacks) as stream:
                return [c async for c in stream], stream

        chunks, stream = asyncio.run(go())
    completion = stream.completion
    assert completion.text == "from the backup" and completion.provider == "mock"
    assert stream.client is backup
    assert len(loopback.requests) == 1 and len(backup.requests) == 1
    assert [type(e) for e in stream.errors] == [RateLimitError]
    assert events["error"] == [] and events["complete"] == [completion] and len(events["start"]) == 1
    assert [c.type for c in chunks].count(ChunkType.START) == 1  # nothing of the failed client leaked


def test_the_first_client_answering_is_used(mode: str) -> None:
    first, second = MockClient(text="first"), MockClient(text="second")
    completion = complete(fallback(first, second), "hi", mode)
    assert completion.text == "first" and second.requests == []


def test_failure_after_content_is_not_moved_to_the_next_client(mode: str) -> None:
    first = MockClient(text="a b c", fail_at=2, max_retries=0)  # fails after "a " reached the caller
    second = MockClient(text="never")
    events, callbacks = recorder()
    with pytest.raises(StreamInterruptedError) as info:
        complete(fallback(first, second), "hi", mode, **callbacks)
    assert second.requests == []
    assert info.value.partial is not None and info.value.partial.text == "a "
    assert events["error"] == [info.value] and events["complete"] == []


@pytest.mark.parametrize(("status", "moves_on"), [(400, False), (422, False), (404, True), (401, True), (503, True)])
def test_which_statuses_fall_back(loopback: LoopbackServer, mode: str, status: int, moves_on: bool) -> None:
    loopback.enqueue(error_response("openai", status, "nope"))
    backup = MockClient(text="backup")
    chain = fallback(openai_on(loopback), backup)
    if moves_on:
        assert complete(chain, "hi", mode).text == "backup"
    else:
        with pytest.raises(BadRequestError):
            complete(chain, "hi", mode)
        assert backup.requests == []


def test_a_configuration_error_is_raised_not_routed_around(mode: str) -> None:
    backup = MockClient(text="backup")
    with pytest.raises(ConfigurationError, match="API key"):
        complete(fallback(OpenAIClient("gpt-4o-mini"), backup), "hi", mode)  # no key in the environment
    assert backup.requests == []


def test_all_failing_raises_the_last_error_or_returns_it(mode: str) -> None:
    first = MockClient(fail_at=0, error=ServerError("overloaded", status_code=529), max_retries=0)
    second = MockClient(fail_at=0, error=RateLimitError("busy", status_code=429), max_retries=0)
    events, callbacks = recorder()
    with pytest.raises(RateLimitError):
        complete(fallback(first, second), "hi", mode, **callbacks)
    assert len(events["error"]) == 1 and isinstance(events["error"][0], RateLimitError)
    completion = complete(fallback(first, second), "hi", mode, raise_on_error=False)
    assert isinstance(completion.error, RateLimitError) and completion.finish_reason == FinishReason.ERROR


def test_processors_start_over_on_the_next_client(mode: str) -> None:
    # The first client dies while ContentFilter still holds "hun" (nothing reached the caller).
    chunks = [StreamedChunk(ChunkType.START), StreamedChunk(ChunkType.TEXT, "hun"), StreamedChunk(ChunkType.TEXT, "x")]
    first = MockClient(chunks=chunks, fail_at=2, max_retries=0)
    options = StreamingOptions(processors=[ContentFilter(["hunter2"])])
    chunks_seen, completion = collect(fallback(first, MockClient(text="hungry")), "hi", mode, options=options)
    assert completion.text == "hungry" and completion.provider == "mock"
    assert "".join(c.text for c in chunks_seen) == "hungry"


def test_break_cancels_and_tries_no_other_client(mode: str) -> None:
    second = MockClient(text="never")
    chain = fallback(MockClient(text="a b c d"), second)
    if mode == "sync":
        with chain.stream("hi") as stream:
            for chunk in stream:
                if chunk.text == "b ":
                    break
    else:

        async def go() -> Any:
            async with chain.astream("hi") as stream:
                async for chunk in stream:
                    if chunk.text == "b ":
                        break
            return stream

        stream = asyncio.run(go())
    assert stream.completion.text == "a b " and stream.completion.finish_reason == FinishReason.CANCELLED
    assert second.requests == []


def test_pipe_applies_to_the_answering_client() -> None:
    chain = fallback(MockClient(fail_at=0, max_retries=0), MockClient(text="my hunter2 here"))
    with chain.stream("hi") as stream:
        assert stream.pipe(ContentFilter(["hunter2"])) is stream
        text = "".join(c.text for c in stream)
    assert text == "my *** here"
    with pytest.raises(RuntimeError, match="before"):
        stream.pipe(ContentFilter(["x"]))


def test_default_rule() -> None:
    yes = [AuthenticationError("k", status_code=401), RateLimitError("r"), ServerError("s"), StreamTimeoutError("t"),
           StreamInterruptedError("i"), InBandError("b"), ProviderError("credits", status_code=402),
           BadRequestError("no such model", status_code=404)]
    no = [BadRequestError("bad", status_code=400), ConfigurationError("c")]
    assert all(is_fallback_error(e) for e in yes)
    assert not any(is_fallback_error(e) for e in no)
    with pytest.raises(ConfigurationError):
        fallback()


def test_a_raising_on_error_becomes_a_callback_error(mode: str) -> None:
    def boom(error: Exception) -> None:
        raise RuntimeError("logger down")

    with pytest.raises(CallbackError) as info:
        complete(fallback(MockClient(fail_at=0, max_retries=0)), "hi", mode, on_error=boom)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert isinstance(info.value.__cause__.__context__, StreamInterruptedError)  # the error it was told about
