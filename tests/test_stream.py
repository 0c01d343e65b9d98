"""The stream shells and callback dispatch, through MockClient (the real shells, no network)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import llmstream
from llmstream import (
    CallbackError,
    ChunkType,
    FinishReason,
    MockClient,
    StreamingOptions,
    StreamInterruptedError,
)
from tests.helpers import collect, complete


def recorder() -> tuple[list[tuple[str, Any]], StreamingOptions]:
    events: list[tuple[str, Any]] = []
    options = StreamingOptions(
        on_start=lambda c: events.append(("start", c.type)),
        on_chunk=lambda c: events.append(("chunk", c.type)),
        on_error=lambda e: events.append(("error", type(e).__name__)),
        on_complete=lambda c: events.append(("complete", c.text)),
    )
    return events, options


def test_callbacks_order_and_exactly_once(mode: str) -> None:
    events, options = recorder()
    completion = complete(MockClient(text="a b"), "x", mode, options=options)
    assert completion.text == "a b"
    assert events == [
        ("start", ChunkType.START),
        ("chunk", ChunkType.START),
        ("chunk", ChunkType.TEXT),
        ("chunk", ChunkType.TEXT),
        ("chunk", ChunkType.USAGE),
        ("chunk", ChunkType.STOP),
        ("complete", "a b"),
    ]


def test_on_error_instead_of_on_complete(mode: str) -> None:
    events, options = recorder()
    client = MockClient(text="a b c", fail_at=3, max_retries=0)
    with pytest.raises(StreamInterruptedError) as info:
        complete(client, "x", mode, options=options)
    assert info.value.partial is not None and info.value.partial.text == "a b "
    assert [e for e in events if e[0] in ("error", "complete")] == [("error", "StreamInterruptedError")]


def test_keyword_shortcut_overrides_only_its_own_field(mode: str) -> None:
    events, options = recorder()
    seen: list[str] = []
    complete(MockClient(text="hi"), "x", mode, options=options, on_chunk=lambda c: seen.append(c.text))
    assert "hi" in seen
    assert ("chunk", ChunkType.TEXT) not in events  # replaced
    assert events[-1] == ("complete", "hi")  # kept


def test_raising_on_chunk_becomes_callback_error_and_stops(mode: str) -> None:
    client = MockClient(text="one two three")
    calls: list[str] = []

    def boom(chunk: Any) -> None:
        calls.append(chunk.text)
        if chunk.text.startswith("two"):
            raise ValueError("ui died")

    errors: list[Exception] = []
    with pytest.raises(CallbackError) as info:
        complete(client, "x", mode, on_chunk=boom, on_error=errors.append)
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.partial is not None and info.value.partial.text == "one two "
    assert calls[-1] == "two "  # nothing after the raise
    assert errors == [info.value]


def test_async_callbacks_are_awaited() -> None:
    seen: list[str] = []

    async def on_chunk(chunk: Any) -> None:
        await asyncio.sleep(0)
        seen.append(chunk.text)

    async def on_complete(completion: Any) -> None:
        seen.append("done:" + completion.text)

    completion = asyncio.run(MockClient(text="a b").astream_complete("x", on_chunk=on_chunk, on_complete=on_complete))
    assert completion.text == "a b"
    assert seen[-1] == "done:a b" and "a " in seen


def test_coroutine_callback_in_a_sync_stream_is_a_clear_error() -> None:
    async def on_chunk(chunk: Any) -> None:
        return None

    with pytest.raises(CallbackError) as info:
        MockClient(text="a").stream_complete("x", on_chunk=on_chunk)
    assert "astream" in str(info.value.__cause__)


def test_retry_before_the_first_chunk(mode: str) -> None:
    client = MockClient(text="ok", fail_at=0, fail_times=2, max_retries=2)
    starts: list[Any] = []
    completion = complete(client, "x", mode, on_start=starts.append)
    assert completion.text == "ok"
    assert len(client.requests) == 3
    assert len(starts) == 1


def test_no_retry_after_content_was_delivered(mode: str) -> None:
    client = MockClient(text="a b c", fail_at=2, fail_times=1, max_retries=2)
    with pytest.raises(StreamInterruptedError) as info:
        complete(client, "x", mode)
    assert len(client.requests) == 1
    assert info.value.partial is not None and info.value.partial.text == "a "


def test_retries_exhausted(mode: str) -> None:
    client = MockClient(text="a", fail_at=0, max_retries=1)
    with pytest.raises(StreamInterruptedError):
        complete(client, "x", mode)
    assert len(client.requests) == 2


def test_never_raises_mode(mode: str) -> None:
    client = MockClient(text="a b c", fail_at=3, max_retries=0)
    completion = complete(client, "x", mode, raise_on_error=False)
    assert completion.finish_reason == FinishReason.ERROR
    assert isinstance(completion.error, StreamInterruptedError)
    assert completion.text == "a b "


def test_break_cancels_and_keeps_the_partial(mode: str) -> None:
    client = MockClient(text="a b c d")
    completes: list[Any] = []
    if mode == "sync":
        with client.stream("x", on_complete=completes.append) as stream:
            for chunk in stream:
                if chunk.text == "b ":
                    break
        completion = stream.completion
    else:

        async def run() -> Any:
            async with client.astream("x", on_complete=completes.append) as stream:
                async for chunk in stream:
                    if chunk.text == "b ":
                        break
            return stream.completion

        completion = asyncio.run(run())
    assert completion.text == "a b "
    assert completion.finish_reason == FinishReason.CANCELLED
    assert completes == []  # no callback after cancel


def test_iterator_form_yields_every_chunk(mode: str) -> None:
    chunks, completion = collect(MockClient(text="x y"), "q", mode)
    assert [c.type for c in chunks] == [
        ChunkType.START, ChunkType.TEXT, ChunkType.TEXT, ChunkType.USAGE, ChunkType.STOP,
    ]
    assert completion.text == "x y" and completion.provider == "mock"


def test_mock_echo_through_the_factory() -> None:
    client = llmstream.client("mock:echo")
    assert client.stream_complete("say it back").text == "say it back"


def test_max_content_chars_guard(mode: str) -> None:
    client = MockClient(text="aaaa bbbb cccc", max_content_chars=8)
    with pytest.raises(llmstream.ContentLimitError) as info:
        complete(client, "x", mode)
    assert info.value.partial is not None and info.value.partial.text == "aaaa "


def test_total_timeout_ends_a_slow_stream(mode: str) -> None:
    client = MockClient(text="a b c d e f", delay=0.05, total_timeout=0.08, max_retries=0)
    with pytest.raises(llmstream.StreamTimeoutError) as info:
        complete(client, "x", mode)
    partial = info.value.partial
    assert partial is not None and partial.finish_reason == FinishReason.ERROR
    assert "a b c d e f".startswith(partial.text) and partial.text != "a b c d e f"
