"""The providers' parts manager (``llmstream.providers._parts.Parts``) on its own: START once, calls
numbered by the vendor's key, START/DELTA/END emission, and the finish (repeats dropped, a missing
one inferred). Pure; no vendor SDK."""

from __future__ import annotations

from typing import Any

from llmstream import ChunkType, FinishReason, StreamedChunk, StreamingAccumulator, ToolCallDelta
from llmstream.providers._parts import Parts

C = ChunkType
RAW = object()


def tc(kind: ChunkType, index: int, id_: str | None = None, name: str | None = None, args: str = "") -> StreamedChunk:
    return StreamedChunk(kind, tool_call=ToolCallDelta(index, id_, name, args))


def deltas(parts: Parts, *items: tuple[Any, ...]) -> list[StreamedChunk]:
    out: list[StreamedChunk] = []
    for index, call_id, name, arguments in items:
        parts.call_delta(index, call_id, name, arguments, RAW, out)
    return out


# -- START --------------------------------------------------------------------------------------------


def test_start_sets_started_and_treats_empty_strings_as_none() -> None:
    parts = Parts()
    assert not parts.started
    chunk = parts.start("", "", RAW)
    assert parts.started and chunk == StreamedChunk(C.START) and chunk.raw is RAW
    assert Parts().start("r1", "m", None) == StreamedChunk(C.START, id="r1", model="m")


# -- OpenAI-style deltas -----------------------------------------------------------------------------


def test_calls_are_numbered_in_order_of_appearance_whatever_the_vendor_index() -> None:
    parts = Parts()
    out = deltas(parts, (5, "a", "f", ""), (2, "b", "g", "{}"), (5, None, None, '{"x":1}'))
    assert out == [
        tc(C.TOOL_CALL_START, 0, "a", "f"),
        tc(C.TOOL_CALL_START, 1, "b", "g"),
        tc(C.TOOL_CALL_DELTA, 1, args="{}"),
        tc(C.TOOL_CALL_DELTA, 0, args='{"x":1}'),
    ]
    assert parts.calls == 2


def test_a_new_id_at_a_used_index_is_a_new_call() -> None:
    parts = Parts()
    out = deltas(parts, (0, "a", "f", "{}"), (0, "b", "g", "{"), (0, None, None, "}"), (0, "b", None, " "))
    assert [(c.type, c.tool_call.index if c.tool_call else None) for c in out] == [
        (C.TOOL_CALL_START, 0), (C.TOOL_CALL_DELTA, 0), (C.TOOL_CALL_START, 1), (C.TOOL_CALL_DELTA, 1),
        (C.TOOL_CALL_DELTA, 1), (C.TOOL_CALL_DELTA, 1),
    ]
    ends: list[StreamedChunk] = []
    parts.close_calls(RAW, ends)
    assert [c.tool_call for c in ends] == [ToolCallDelta(0, "a", "f", "{}"), ToolCallDelta(1, "b", "g", "{} ")]


def test_an_old_id_at_a_reused_index_goes_back_to_its_call() -> None:
    parts = Parts()
    out = deltas(parts, (0, "a", "f", ""), (0, "b", "g", ""), (0, "a", None, "{}"))
    assert out[-1] == tc(C.TOOL_CALL_DELTA, 0, args="{}")


def test_repeated_id_and_name_are_not_appended_and_null_arguments_add_nothing() -> None:
    parts = Parts()
    out = deltas(parts, (0, "a", "f", None), (0, "a", "f", '{"q"'), (0, "a", "f", None), (0, "a", "f", ":1}"))
    assert out == [tc(C.TOOL_CALL_START, 0, "a", "f"), tc(C.TOOL_CALL_DELTA, 0, args='{"q"'),
                   tc(C.TOOL_CALL_DELTA, 0, args=":1}")]
    call = parts.call(0)
    assert call is not None and (call.id, call.name, call.arguments()) == ("a", "f", '{"q":1}')


def test_no_index_keys_by_id_and_neither_continues_the_latest() -> None:
    parts = Parts()
    out = deltas(parts, (None, "a", "f", "1"), (None, "b", "g", "2"), (None, "a", None, "3"), (None, None, None, "4"))
    assert [(c.type, c.tool_call.index) for c in out if c.tool_call] == [
        (C.TOOL_CALL_START, 0), (C.TOOL_CALL_DELTA, 0), (C.TOOL_CALL_START, 1), (C.TOOL_CALL_DELTA, 1),
        (C.TOOL_CALL_DELTA, 0), (C.TOOL_CALL_DELTA, 0),
    ]


def test_an_id_or_name_that_comes_late_is_kept_and_a_different_id_after_it_is_a_new_call() -> None:
    parts = Parts()
    out = deltas(parts, (0, None, None, ""), (0, "late", "f", ""), (0, "other", None, ""))
    assert [c.type for c in out] == [C.TOOL_CALL_START, C.TOOL_CALL_START]
    assert [c.tool_call for c in parts.end()] == [ToolCallDelta(0, "late", "f", ""), ToolCallDelta(1, "other")]


# -- block-keyed calls (Anthropic) and whole calls (Gemini) -------------------------------------------


def test_open_fragment_close_under_a_block_key() -> None:
    parts = Parts()
    call, start = parts.open_call(3, "toolu_1", "f", RAW, initial="{}")
    assert start == tc(C.TOOL_CALL_START, 0, "toolu_1", "f") and parts.call(3) is call
    assert parts.close_call(call, RAW) == tc(C.TOOL_CALL_END, 0, "toolu_1", "f", "{}")  # no fragment: initial
    call2, _ = parts.open_call(5, "toolu_2", "g", RAW, initial="{}")
    assert parts.fragment(call2, '{"a":', RAW) == tc(C.TOOL_CALL_DELTA, 1, args='{"a":')
    parts.fragment(call2, "1}", RAW)
    assert parts.close_call(call2, RAW).tool_call == ToolCallDelta(1, "toolu_2", "g", '{"a":1}')
    assert call.closed and call2.closed
    assert parts.end() == []  # nothing open, and no START: no finish is owed


def test_whole_calls_get_start_one_delta_end_and_a_stable_id() -> None:
    parts = Parts()
    out: list[StreamedChunk] = []
    parts.whole_call(None, "lookup", '{"q":"x"}', RAW, out, signature="SIG")
    parts.whole_call("given", "other", "{}", RAW, out)
    assert out == [
        StreamedChunk(C.TOOL_CALL_START, tool_call=ToolCallDelta(0, "call_0_lookup", "lookup", ""), signature="SIG"),
        tc(C.TOOL_CALL_DELTA, 0, args='{"q":"x"}'),
        StreamedChunk(C.TOOL_CALL_END, tool_call=ToolCallDelta(0, "call_0_lookup", "lookup", '{"q":"x"}'),
                      signature="SIG"),
        tc(C.TOOL_CALL_START, 1, "given", "other"),
        tc(C.TOOL_CALL_DELTA, 1, args="{}"),
        tc(C.TOOL_CALL_END, 1, "given", "other", "{}"),
    ]
    again: list[StreamedChunk] = []
    Parts().whole_call(None, "lookup", "{}", RAW, again)
    assert again[0].tool_call == ToolCallDelta(0, "call_0_lookup", "lookup", "")  # replays compare equal


# -- the finish ----------------------------------------------------------------------------------------


def test_a_repeated_finish_word_is_not_a_second_stop_but_a_new_word_is() -> None:
    parts = Parts()
    first = parts.stop(FinishReason.STOP, "stop", RAW)
    assert first == StreamedChunk(C.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="stop")
    assert parts.stop(FinishReason.STOP, "stop", RAW) is None
    assert parts.stop(FinishReason.LENGTH, "length", RAW) is not None
    assert parts.finished


def test_end_closes_open_calls_then_infers_the_finish_once() -> None:
    parts = Parts()
    parts.start("r", "m", RAW)
    deltas(parts, (0, "a", "f", "{}"))
    assert parts.end() == [
        tc(C.TOOL_CALL_END, 0, "a", "f", "{}"),
        StreamedChunk(C.STOP, finish_reason=FinishReason.TOOL_CALLS),
    ]
    assert parts.end() == []  # nothing owed twice


def test_end_infers_other_without_calls_and_nothing_when_never_started() -> None:
    started = Parts()
    started.start(None, None, RAW)
    assert started.end() == [StreamedChunk(C.STOP, finish_reason=FinishReason.OTHER)]
    assert Parts().end() == []


def test_end_after_a_finish_adds_no_stop() -> None:
    parts = Parts()
    parts.start(None, None, RAW)
    parts.stop(FinishReason.STOP, "stop", RAW)
    assert parts.end() == []


def test_close_calls_ends_each_open_call_once() -> None:
    parts = Parts()
    deltas(parts, (0, "a", "f", "1"), (1, "b", "g", "2"))
    out: list[StreamedChunk] = []
    parts.close_calls(RAW, out)
    parts.close_calls(RAW, out)
    assert [c.tool_call.index for c in out if c.tool_call] == [0, 1]


def test_its_chunks_accumulate_by_index_alone() -> None:
    parts = Parts()
    chunks = [parts.start("r", "m", None)]
    chunks += deltas(parts, (0, "a", "f", '{"x":'), (0, "a", "f", "2}"), (0, "b", "g", "{}"))
    chunks += parts.end()
    done = StreamingAccumulator().add_all(chunks).completion()
    assert [(c.id, c.name, c.args) for c in done.tool_calls] == [("a", "f", {"x": 2}), ("b", "g", {})]
    assert done.finish_reason is FinishReason.TOOL_CALLS
