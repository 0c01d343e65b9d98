"""StreamingAccumulator rules, on hand-made chunks (no I/O)."""

from __future__ import annotations

import pytest

from llmstream import (
    ChunkType,
    FinishReason,
    StreamedChunk,
    StreamingAccumulator,
    ToolArgumentsError,
    ToolCallDelta,
    Usage,
)

T = ChunkType


def text(s: str) -> StreamedChunk:
    return StreamedChunk(T.TEXT, s)


def start_call(index: int, call_id: str | None, name: str | None) -> StreamedChunk:
    return StreamedChunk(T.TOOL_CALL_START, tool_call=ToolCallDelta(index, call_id, name, ""))


def frag(index: int, arguments: str, call_id: str | None = None) -> StreamedChunk:
    return StreamedChunk(T.TOOL_CALL_DELTA, tool_call=ToolCallDelta(index, call_id, None, arguments))


def end_call(index: int, call_id: str | None, name: str | None, arguments: str) -> StreamedChunk:
    return StreamedChunk(T.TOOL_CALL_END, tool_call=ToolCallDelta(index, call_id, name, arguments))


def test_text_reasoning_and_refusal_are_kept_apart() -> None:
    acc = StreamingAccumulator().add_all(
        [
            StreamedChunk(T.START, id="r1", model="m"),
            StreamedChunk(T.REASONING, "think "),
            StreamedChunk(T.REASONING, "hard"),
            text("Hel"),
            text("lo"),
            StreamedChunk(T.REFUSAL, "I can't"),
            StreamedChunk(T.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="end_turn"),
        ]
    )
    done = acc.completion()
    assert (done.text, done.reasoning, done.refusal) == ("Hello", "think hard", "I can't")
    assert (done.id, done.model, done.finish_reason, done.raw_finish_reason) == ("r1", "m", "stop", "end_turn")
    assert done.stats.chunks == 7


def test_usage_is_a_snapshot_never_summed() -> None:
    acc = StreamingAccumulator()
    acc.add(StreamedChunk(T.USAGE, usage=Usage(input_tokens=10, output_tokens=1)))
    acc.add(StreamedChunk(T.USAGE, usage=Usage(input_tokens=10, output_tokens=7)))
    assert acc.completion().usage == Usage(input_tokens=10, output_tokens=7)


def test_parallel_tool_calls_keyed_by_index() -> None:
    acc = StreamingAccumulator().add_all(
        [
            start_call(0, "a", "weather"),
            start_call(1, "b", "time"),
            frag(0, '{"city": '),
            frag(1, '{"tz": "UTC"}'),
            frag(0, '"Paris"}'),
        ]
    )
    calls = acc.completion().tool_calls
    assert [(c.id, c.name, c.args) for c in calls] == [
        ("a", "weather", {"city": "Paris"}),
        ("b", "time", {"tz": "UTC"}),
    ]


def test_the_index_alone_names_the_call() -> None:
    # Translators number calls 0, 1, 2… (a new id at a reused vendor index is renumbered there, by the
    # providers' parts manager): the accumulator trusts the index and never re-keys by id.
    acc = StreamingAccumulator().add_all(
        [start_call(0, "a", "f"), frag(0, "{}"), start_call(1, "b", "g"), frag(1, '{"x": 1}', call_id="b")]
    )
    calls = acc.completion().tool_calls
    assert [(c.id, c.name, c.arguments) for c in calls] == [("a", "f", "{}"), ("b", "g", '{"x": 1}')]
    # A chunk at a known index is that call's, whatever id it carries.
    acc.add(frag(0, " ", call_id="zzz"))
    assert [(c.id, c.arguments) for c in acc.completion().tool_calls] == [("a", "{} "), ("b", '{"x": 1}')]


def test_an_end_without_a_start_is_a_call() -> None:
    acc = StreamingAccumulator().add_all([end_call(3, "c", "h", '{"y": 2}')])
    assert [(c.id, c.name, c.args) for c in acc.completion().tool_calls] == [("c", "h", {"y": 2})]


def test_repeated_start_with_the_same_id_is_not_a_new_call() -> None:
    acc = StreamingAccumulator().add_all([start_call(0, "a", "f"), start_call(0, "a", "f"), frag(0, "{}")])
    assert [(c.id, c.arguments) for c in acc.completion().tool_calls] == [("a", "{}")]


def test_end_chunk_arguments_are_authoritative() -> None:
    acc = StreamingAccumulator().add_all(
        [start_call(0, "a", "f"), frag(0, '{"x"'), end_call(0, "a", "f", '{"x": 2}')]
    )
    assert acc.completion().tool_calls[0].args == {"x": 2}


@pytest.mark.parametrize("arguments", ["", "   "])
def test_empty_arguments_parse_as_empty_object(arguments: str) -> None:
    acc = StreamingAccumulator().add_all([start_call(0, "a", "f"), frag(0, arguments)])
    assert acc.completion().tool_calls[0].args == {}


def test_invalid_json_raises_only_when_read_and_names_the_call() -> None:
    acc = StreamingAccumulator().add_all([start_call(0, "call_9", "lookup"), frag(0, '{"x": ')])
    done = acc.completion()  # building the completion never raises
    call = done.tool_calls[0]
    assert call.arguments == '{"x": '
    assert call.partial_args == {}
    with pytest.raises(ToolArgumentsError) as info:
        _ = call.args
    assert "lookup" in str(info.value) and "call_9" in str(info.value)
    assert info.value.tool_call_id == "call_9"


def test_partial_arguments_readable_while_streaming() -> None:
    acc = StreamingAccumulator().add_all([start_call(0, "a", "f"), frag(0, '{"city": "Par')])
    assert acc.tool_calls()[0].partial_args == {"city": "Par"}


def test_reasoning_blocks_keep_signatures_and_redacted_data() -> None:
    acc = StreamingAccumulator().add_all(
        [
            StreamedChunk(T.REASONING, "a"),
            StreamedChunk(T.REASONING, "b"),
            StreamedChunk(T.REASONING, "", signature="sig1"),
            StreamedChunk(T.REASONING, "", redacted_data="xyz"),
            StreamedChunk(T.REASONING, "c"),
        ]
    )
    done = acc.completion()
    assert done.reasoning == "abc"
    assert [(b.text, b.signature, b.redacted_data) for b in done.reasoning_blocks] == [
        ("ab", "sig1", None),
        ("", None, "xyz"),
        ("c", None, None),
    ]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [([text("x")], FinishReason.OTHER), ([start_call(0, "a", "f")], FinishReason.TOOL_CALLS), ([], None)],
)
def test_missing_finish_reason_is_inferred(chunks: list[StreamedChunk], expected: FinishReason | None) -> None:
    assert StreamingAccumulator().add_all(chunks).completion().finish_reason == expected


def test_stats_use_the_clock() -> None:
    ticks = iter([0.0, 0.5, 0.5, 2.5])
    acc = StreamingAccumulator(clock=lambda: next(ticks))
    acc.add(StreamedChunk(T.USAGE, usage=Usage(output_tokens=40)))  # first chunk at 0.5
    acc.add(text("x"))  # first token at 0.5
    stats = acc.completion().stats  # 2.5
    assert stats.time_to_first_chunk_ms == 500.0
    assert stats.time_to_first_token_ms == 500.0
    assert stats.duration_ms == 2500.0
    assert stats.output_tokens_per_s == 20.0  # 40 tokens over the 2 s since the first token


def test_error_overrides_finish_reason() -> None:
    from llmstream import StreamInterruptedError

    error = StreamInterruptedError("gone")
    done = StreamingAccumulator().add_all([text("par")]).completion(error=error)
    assert (done.text, done.finish_reason, done.error) == ("par", FinishReason.ERROR, error)


def test_many_chunks_are_joined_once() -> None:
    acc = StreamingAccumulator()
    for _ in range(100_000):
        acc.add(text("ab"))
    assert len(acc.completion().text) == 200_000
