"""Fan-out: merge (threads) and amerge (tasks) yield (source, chunk) as they arrive, failures isolated,
and end with a FanoutResult."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import pytest

from llmstream import (
    ChunkType,
    Completion,
    FanoutResult,
    FinishReason,
    LLMStreamError,
    MockClient,
    StreamedChunk,
    StreamInterruptedError,
    Usage,
)
from llmstream.fanout import amerge, merge, sum_usage

LONG = " ".join(f"w{i}" for i in range(200))


def clients() -> dict[str, MockClient]:
    return {
        "a": MockClient(text="alpha beta gamma"),
        "b": MockClient(text="one two three four", fail_at=3, max_retries=0),  # fails after "one two "
        "c": MockClient(text="x y"),
    }


Pairs = list[tuple[Any, StreamedChunk]]


def run_merge(streams: dict[Any, Any] | list[Any], mode: str) -> tuple[Pairs, dict[Any, Completion]]:
    if mode == "sync":
        with merge(streams) as merged:
            pairs = list(merged)
        return pairs, merged.completions

    async def go() -> tuple[Pairs, dict[Any, Completion]]:
        async with amerge(streams) as merged:
            pairs = [pair async for pair in merged]
        return pairs, merged.completions

    return asyncio.run(go())


def open_streams(mode: str, chosen: dict[str, MockClient]) -> dict[str, Any]:
    if mode == "sync":
        return {name: client.stream("q") for name, client in chosen.items()}
    return {name: client.astream("q") for name, client in chosen.items()}


def test_one_stream_fails_midway_and_the_others_complete(mode: str) -> None:
    pairs, completions = run_merge(open_streams(mode, clients()), mode)
    text = {s: "".join(c.text for src, c in pairs if src == s and c.type is ChunkType.TEXT) for s in "abc"}
    assert text == {"a": "alpha beta gamma", "b": "one two ", "c": "x y"}
    errors = [c for s, c in pairs if c.type is ChunkType.ERROR]
    assert len(errors) == 1 and pairs[[c for _, c in pairs].index(errors[0])][0] == "b"
    assert isinstance(errors[0].error, LLMStreamError) and errors[0].error.partial is not None
    # Each source's own order is kept, and nothing of "b" comes after its error.
    b_types = [c.type for s, c in pairs if s == "b"]
    assert b_types[0] is ChunkType.START and b_types[-1] is ChunkType.ERROR
    assert list(completions) == ["a", "b", "c"]  # in the order given
    assert completions["a"].text == "alpha beta gamma" and completions["a"].finish_reason == FinishReason.STOP
    assert completions["c"].text == "x y" and completions["c"].error is None
    assert completions["b"].error is errors[0].error and completions["b"].text == "one two "
    assert completions["b"].finish_reason == FinishReason.ERROR


def test_a_list_is_keyed_by_index(mode: str) -> None:
    chosen = {"0": MockClient(text="zero"), "1": MockClient(text="one")}
    streams = list(open_streams(mode, chosen).values())
    pairs, completions = run_merge(streams, mode)
    assert {s for s, _ in pairs} == {0, 1}
    assert completions[0].text == "zero" and completions[1].text == "one"


def test_closing_early_closes_every_stream(mode: str) -> None:
    # Paced mock streams (200 words, 20 ms each): none can finish before the merge is closed.
    chosen = {name: MockClient(text=LONG, delay=0.02) for name in ("a", "b", "c")}
    streams = open_streams(mode, chosen)
    if mode == "sync":
        with merge(streams) as merged:
            first = next(iter(merged))
        completions = merged.completions
    else:

        async def go() -> tuple[tuple[str, StreamedChunk], dict[str, Completion]]:
            async with amerge(streams) as merged:
                pair = await merged.__anext__()
            return pair, merged.completions

        first, completions = asyncio.run(go())
    assert first[0] in streams
    assert set(completions) == {"a", "b", "c"}
    for completion in completions.values():
        assert completion.finish_reason == FinishReason.CANCELLED
        assert len(completion.text) < len(LONG)
    for stream in streams.values():
        assert stream.completion.finish_reason == FinishReason.CANCELLED  # the streams themselves are closed


def test_closing_before_iterating_closes_the_streams(mode: str) -> None:
    streams = open_streams(mode, {"a": MockClient(text="never read")})
    if mode == "sync":
        merged = merge(streams)
        merged.close()
    else:
        merged = amerge(streams)
        asyncio.run(merged.aclose())
    assert merged.completions["a"].finish_reason == FinishReason.CANCELLED
    assert merged.completions["a"].text == ""


class Broken:
    """A stream-like source that raises something that is not an LLMStreamError."""

    completion = Completion()

    def __iter__(self) -> Iterator[StreamedChunk]:
        yield StreamedChunk(ChunkType.TEXT, "partial")
        raise KeyError("bug")

    async def _agen(self) -> AsyncIterator[StreamedChunk]:
        yield StreamedChunk(ChunkType.TEXT, "partial")
        raise KeyError("bug")

    def __aiter__(self) -> AsyncIterator[StreamedChunk]:
        return self._agen()

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def cancel(self) -> None:
        return None


def test_an_unexpected_exception_is_isolated_as_an_llmstream_error(mode: str) -> None:
    streams: dict[str, Any] = {"broken": Broken(), **open_streams(mode, {"ok": MockClient(text="fine")})}
    pairs, completions = run_merge(streams, mode)
    errors = [c.error for s, c in pairs if c.type is ChunkType.ERROR]
    assert len(errors) == 1 and isinstance(errors[0], LLMStreamError)
    assert isinstance(errors[0].__cause__, KeyError)
    assert completions["ok"].text == "fine"


# -- the result a merge ends with ----------------------------------------------------------------


def run_merge_result(streams: dict[Any, Any], mode: str) -> Any:
    if mode == "sync":
        with merge(streams) as merged:
            for _ in merged:
                pass
        return merged.result

    async def go() -> Any:
        async with amerge(streams) as merged:
            async for _ in merged:
                pass
        return merged.result

    return asyncio.run(go())


def test_the_result_holds_every_source_its_errors_and_the_usage_summed(mode: str) -> None:
    result = run_merge_result(open_streams(mode, clients()), mode)
    assert isinstance(result, FanoutResult)
    assert list(result.completions) == ["a", "b", "c"]
    assert list(result.errors) == ["b"] and isinstance(result.errors["b"], StreamInterruptedError)
    failed = result.completions["b"]
    assert failed.error is result.errors["b"] and failed.text == "one two " and result.errors["b"].partial is not None
    assert list(result.succeeded) == ["a", "c"]
    # "q" is one prompt word per call; a answers 3 words, c 2; b dropped before its usage came.
    assert result.completions["b"].usage is None
    assert result.usage == Usage(input_tokens=2, output_tokens=5)
    assert result.wall_time_ms > 0


def test_the_result_before_the_end_is_a_clear_error(mode: str) -> None:
    streams = open_streams(mode, {"a": MockClient(text="not yet")})
    merged: Any = merge(streams) if mode == "sync" else amerge(streams)
    with pytest.raises(RuntimeError, match="has not ended yet"):
        _ = merged.result
    if mode == "sync":
        merged.close()
    else:
        asyncio.run(merged.aclose())
    assert merged.result.completions["a"].finish_reason == FinishReason.CANCELLED
    assert merged.result.errors == {} and merged.result.usage is None


def test_closed_early_the_result_has_every_source_cancelled_and_no_errors(mode: str) -> None:
    chosen = {name: MockClient(text=LONG, delay=0.02) for name in ("a", "b")}
    streams = open_streams(mode, chosen)
    if mode == "sync":
        with merge(streams) as merged:
            next(iter(merged))
        result = merged.result
    else:

        async def go() -> Any:
            async with amerge(streams) as merged:
                await merged.__anext__()
            return merged.result

        result = asyncio.run(go())
    assert {s: c.finish_reason for s, c in result.completions.items()} == {
        "a": FinishReason.CANCELLED, "b": FinishReason.CANCELLED,
    }
    assert result.errors == {} and result.succeeded == {}


def test_a_foreign_source_failure_is_attached_to_its_completion(mode: str) -> None:
    result = run_merge_result({"broken": Broken(), **open_streams(mode, {"ok": MockClient(text="fine")})}, mode)
    assert list(result.errors) == ["broken"] and isinstance(result.errors["broken"].__cause__, KeyError)
    assert result.completions["broken"].error is result.errors["broken"]
    assert result.completions["broken"].finish_reason == FinishReason.ERROR
    assert Broken.completion.error is None  # the source's own object is left alone


def test_sum_usage_adds_different_calls() -> None:
    assert sum_usage([]) is None and sum_usage([None, None]) is None
    one = Usage(input_tokens=10, output_tokens=5, cached_input_tokens=4, cache_write_tokens=1, reasoning_tokens=2)
    two = Usage(input_tokens=3, output_tokens=7, reasoning_tokens=1, cost=0.25)
    assert sum_usage([one, None, two]) == Usage(
        input_tokens=13, output_tokens=12, cached_input_tokens=4, cache_write_tokens=1, reasoning_tokens=3, cost=0.25
    )
    assert sum_usage([one, one]) == attrs.evolve(one, input_tokens=20, output_tokens=10, cached_input_tokens=8,
                                                 cache_write_tokens=2, reasoning_tokens=4)
