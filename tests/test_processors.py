"""Processors: the passthrough base, ContentFilter (mask/block, patterns across chunk boundaries), Smooth."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmstream import ChunkType, FinishReason, MockClient, StreamedChunk, StreamingOptions, ToolCallDelta, Usage
from llmstream.processors import ContentFilter, Processor, Smooth
from tests.helpers import collect, complete

START = StreamedChunk(ChunkType.START, id="r1", model="m")
STOP = StreamedChunk(ChunkType.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="stop")
USAGE = StreamedChunk(ChunkType.USAGE, usage=Usage(input_tokens=3, output_tokens=5))


def text(*pieces: str) -> list[StreamedChunk]:
    return [StreamedChunk(ChunkType.TEXT, piece) for piece in pieces]


def script(*pieces: str) -> list[StreamedChunk]:
    """What a provider sends: START, the text deltas, USAGE, STOP."""
    return [START, *text(*pieces), USAGE, STOP]


def run(processor: Any, chunks: Iterable[StreamedChunk]) -> list[StreamedChunk]:
    """Drive a processor the way the shells do: process every chunk, then flush."""
    out = [item for chunk in chunks for item in processor.process(chunk)]
    return out + list(processor.flush())


def joined(chunks: Iterable[StreamedChunk], kind: ChunkType = ChunkType.TEXT) -> str:
    return "".join(c.text for c in chunks if c.type is kind)


def split(whole: str, cuts: Sequence[int]) -> list[str]:
    points = [0, *sorted({c % (len(whole) + 1) for c in cuts}), len(whole)]
    return [whole[a:b] for a, b in itertools.pairwise(points) if b > a]


# -- the base class and the shells ------------------------------------------------------------------


def test_base_processor_is_a_passthrough() -> None:
    base = Processor()
    chunk = StreamedChunk(ChunkType.TEXT, "x")
    assert tuple(base.process(chunk)) == (chunk,)
    assert tuple(base.flush()) == ()
    assert base.reset() is None
    assert base.delay == 0.0


class Upper(Processor):
    def process(self, chunk: StreamedChunk) -> Iterable[StreamedChunk]:
        if chunk.type is ChunkType.TEXT:
            return (StreamedChunk(ChunkType.TEXT, chunk.text.upper()),)
        return (chunk,)


class DropUsageDoubleText(Processor):
    """Returns none for USAGE and two chunks for each TEXT."""

    def process(self, chunk: StreamedChunk) -> Iterable[StreamedChunk]:
        if chunk.type is ChunkType.USAGE:
            return ()
        if chunk.type is ChunkType.TEXT:
            return (chunk, chunk)
        return (chunk,)


def test_processor_output_is_what_callbacks_and_accumulator_see(mode: str) -> None:
    seen: list[str] = []
    options = StreamingOptions(processors=[Upper()], on_chunk=lambda c: seen.append(c.text))
    completion = complete(MockClient(text="ab cd"), "x", mode, options=options)
    assert completion.text == "AB CD"
    assert "".join(seen) == "AB CD"


def test_processor_may_drop_and_multiply_chunks_and_pipe_chains(mode: str) -> None:
    chunks, completion = collect(MockClient(chunks=script("a", "b")), "x", mode,
                                 options=StreamingOptions(processors=[DropUsageDoubleText()]))
    assert [c.type for c in chunks].count(ChunkType.USAGE) == 0
    assert completion.text == "aabb" and completion.usage is None
    # pipe() adds after the options' processors: doubled first, then upper-cased.
    if mode == "sync":
        with MockClient(chunks=script("a")).stream("x", options=StreamingOptions(processors=[DropUsageDoubleText()])) \
                as stream:
            assert stream.pipe(Upper()) is stream
            assert [c.text for c in stream if c.type is ChunkType.TEXT] == ["A", "A"]
    else:

        async def go() -> list[str]:
            async with MockClient(chunks=script("a")).astream("x").pipe(DropUsageDoubleText(), Upper()) as stream:
                return [c.text async for c in stream if c.type is ChunkType.TEXT]

        assert asyncio.run(go()) == ["A", "A"]


# -- ContentFilter: mask ----------------------------------------------------------------------------


def test_literal_straddling_every_boundary_is_masked() -> None:
    whole = "my key is hunter2, and hunter2 again"
    for cut in range(1, len(whole)):
        for cut2 in range(cut, len(whole), 3):
            out = run(ContentFilter(["hunter2"]), text(whole[:cut], whole[cut:cut2], whole[cut2:]))
            assert joined(out) == "my key is ***, and *** again", (cut, cut2)


def test_only_the_tail_that_could_start_a_match_is_held() -> None:
    cf = ContentFilter(["hunter2"])
    assert joined(cf.process(StreamedChunk(ChunkType.TEXT, "say hunt"))) == "say "  # "hunt" may become hunter2
    assert joined(cf.process(StreamedChunk(ChunkType.TEXT, "ing now h"))) == "hunting now "
    assert joined(cf.process(StreamedChunk(ChunkType.TEXT, "ello"))) == "hello"  # nothing held back now
    assert list(cf.flush()) == []


def test_regex_is_held_within_max_pattern_len_and_never_leaks_a_suffix() -> None:
    key = re.compile(r"sk-[A-Za-z0-9]{8,32}")
    whole = "token sk" "-abcdefghijklmnop end, sk" "-ZZZZZZZZ."
    for size in (1, 2, 5, 11):
        pieces = [whole[i : i + size] for i in range(0, len(whole), size)]
        out = run(ContentFilter([key], max_pattern_len=35), text(*pieces))
        assert joined(out) == "token *** end, ***.", size
    # Released promptly: with a short bound only the last max_pattern_len - 1 characters wait.
    cf = ContentFilter([re.compile(r"\d{4}")], max_pattern_len=4)
    assert joined(cf.process(StreamedChunk(ChunkType.TEXT, "abcdefgh"))) == "abcde"
    assert joined(cf.flush()) == "fgh"


@settings(max_examples=200, deadline=None)
@given(
    whole=st.text(alphabet="abcx ", max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
    patterns=st.lists(st.text(alphabet="abc", min_size=1, max_size=4), min_size=1, max_size=3),
)
def test_mask_equals_masking_the_whole_text(whole: str, cuts: list[int], patterns: list[str]) -> None:
    out = run(ContentFilter(patterns, mask="#"), text(*split(whole, cuts)))
    # Leftmost match first, the longest of the patterns matching there.
    reference = re.sub("|".join(re.escape(p) for p in sorted(patterns, key=len, reverse=True)), "#", whole)
    assert joined(out) == reference


@settings(max_examples=200, deadline=None)
@given(whole=st.text(alphabet="abc ", max_size=40), cuts=st.lists(st.integers(0, 40), max_size=6))
def test_bounded_regex_mask_equals_re_sub(whole: str, cuts: list[int]) -> None:
    pattern = re.compile(r"ab{1,3}c|ca{1,4}")  # every match fits in max_pattern_len
    out = run(ContentFilter([pattern], mask="#", max_pattern_len=5), text(*split(whole, cuts)))
    assert joined(out) == pattern.sub("#", whole)


def test_held_text_is_released_before_later_content_in_order() -> None:
    call = StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(0, "c1", "f"))
    out = run(ContentFilter(["secret"]), [START, *text("see sec"), USAGE, call, STOP])
    kinds = [(c.type, c.text) for c in out]
    # USAGE is metadata and passes at once; the held "sec" comes before the tool call and STOP.
    assert kinds == [
        (ChunkType.START, ""), (ChunkType.TEXT, "see "), (ChunkType.USAGE, ""), (ChunkType.TEXT, "sec"),
        (ChunkType.TOOL_CALL_START, ""), (ChunkType.STOP, ""),
    ]


def test_reasoning_is_filtered_only_when_asked_and_signatures_are_kept() -> None:
    chunks = [
        StreamedChunk(ChunkType.REASONING, "the sec"), StreamedChunk(ChunkType.REASONING, "ret is", signature="sig"),
        *text("no secret"),
    ]
    plain = run(ContentFilter(["secret"]), chunks)
    assert joined(plain, ChunkType.REASONING) == "the secret is" and joined(plain) == "no ***"
    both = run(ContentFilter(["secret"], reasoning=True), chunks)
    assert joined(both, ChunkType.REASONING) == "the *** is" and joined(both) == "no ***"
    assert [c.signature for c in both if c.type is ChunkType.REASONING][-1] == "sig"


def test_mask_through_the_stream_with_a_straddling_pattern(mode: str) -> None:
    seen: list[str] = []
    options = StreamingOptions(processors=[ContentFilter(["hunter2"])], on_chunk=lambda c: seen.append(c.text))
    completion = complete(MockClient(chunks=script("pass: hun", "te", "r2 ok")), "x", mode, options=options)
    assert completion.text == "pass: *** ok" and "".join(seen) == "pass: *** ok"
    assert completion.finish_reason == FinishReason.STOP


# -- ContentFilter: block ---------------------------------------------------------------------------


def test_block_stops_the_answer_with_a_content_filter_stop(mode: str) -> None:
    call = StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(0, "c1", "f"))
    chunks = [START, *text("fine text, then for", "bidden words", " and more"), call, USAGE, STOP]
    completes: list[Any] = []
    delivered, completion = collect(MockClient(chunks=chunks), "x", mode, on_complete=completes.append,
                                    options=StreamingOptions(processors=[ContentFilter(["forbidden"], mode="block")]))
    assert completion.text == "fine text, then "
    assert completion.finish_reason == FinishReason.CONTENT_FILTER
    assert completion.raw_finish_reason == "llmstream.ContentFilter"
    assert completion.tool_calls == []  # later content is dropped
    assert completion.usage is None  # reading stopped at the block: the USAGE after it was never read
    assert [c.type for c in delivered].count(ChunkType.STOP) == 1  # the vendor's STOP is never delivered
    assert completes == [completion]  # not an error


def test_block_found_when_held_text_is_flushed_drops_what_follows() -> None:
    cf = ContentFilter([re.compile(r"\d{3,5}")], mode="block", max_pattern_len=5)
    call = StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(0, "c1", "f"))
    out = run(cf, [*text("pin 12", "34"), call, USAGE, STOP])
    assert joined(out) == "pin "
    assert [c.type for c in out if c.type is not ChunkType.TEXT] == [ChunkType.STOP, ChunkType.USAGE]
    assert cf.blocked


def test_retry_resets_the_held_text() -> None:
    # The first attempt fails while "hun" is held (nothing reached the caller), so it is retried;
    # without reset() the held "hun" of the failed attempt would be prepended to the answer.
    client = MockClient(chunks=script("hun", "gry"), fail_at=2, fail_times=1, max_retries=1)
    completion = client.stream_complete("x", options=StreamingOptions(processors=[ContentFilter(["hunter2"])]))
    assert len(client.requests) == 2
    assert completion.text == "hungry"


def test_content_filter_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        ContentFilter(["x"], mode="erase")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        ContentFilter([""])


# -- Smooth -----------------------------------------------------------------------------------------


def test_smooth_by_word_buffers_partial_words() -> None:
    out = run(Smooth(), text("Hel", "lo wor", "ld, how", " are you"))
    assert [c.text for c in out] == ["Hello ", "world, ", "how ", "are ", "you"]


def test_smooth_by_line_and_by_regex() -> None:
    lines = run(Smooth(by="line"), text("one\ntw", "o\n\nthr", "ee"))
    assert [c.text for c in lines] == ["one\n", "two\n\n", "three"]
    sentences = run(Smooth(by=re.compile(r"[.!?]\s*")), text("Hi. How", " are you? Fi", "ne"))
    assert [c.text for c in sentences] == ["Hi. ", "How are you? ", "Fine"]


def test_smooth_flushes_before_other_content_and_keeps_metadata_moving() -> None:
    call = StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(0, "c1", "f"))
    out = run(Smooth(), [START, *text("a b", "c"), USAGE, call, STOP])
    assert [(c.type, c.text) for c in out] == [
        (ChunkType.START, ""), (ChunkType.TEXT, "a "), (ChunkType.USAGE, ""), (ChunkType.TEXT, "bc"),
        (ChunkType.TOOL_CALL_START, ""), (ChunkType.STOP, ""),
    ]


def test_smooth_through_the_stream_and_delay_is_honoured(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pauses: list[float] = []

    async def fake_async_sleep(seconds: float) -> None:
        pauses.append(seconds)

    # Record the pauses instead of taking them: the shells call these before each TEXT chunk.
    monkeypatch.setattr(time, "sleep", pauses.append)
    monkeypatch.setattr(asyncio, "sleep", fake_async_sleep)
    chunks, completion = collect(MockClient(chunks=script("The qu", "ick bro", "wn fox")), "x", mode,
                                 options=StreamingOptions(processors=[Smooth(delay=0.25)]))
    texts = [c.text for c in chunks if c.type is ChunkType.TEXT]
    assert texts == ["The ", "quick ", "brown ", "fox"]
    assert completion.text == "The quick brown fox"
    assert pauses == [0.25] * len(texts)


def test_smooth_rejects_a_negative_delay() -> None:
    with pytest.raises(ValueError, match="delay"):
        Smooth(delay=-1)
