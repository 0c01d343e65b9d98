"""Structured output while streaming: JSONStreamParser, PartialJSON, partial_json, stream_to_string."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmstream import (
    CallbackError,
    ChunkType,
    FinishReason,
    MockClient,
    OpenAIClient,
    StreamedChunk,
    StreamingOptions,
    ToolCallDelta,
)
from llmstream.processors import Smooth
from llmstream.structured import (
    JSONStreamParser,
    PartialJSON,
    apartial_json,
    astream_to_string,
    partial_json,
    stream_to_string,
)
from tests.conftest import SHARED_CASSETTES
from tests.helpers import complete
from tests.loopback import LoopbackServer, Scripted

RECORDINGS = [
    "openai/mirascope__test_call_with_tools__openai_gpt_4o_completions__stream__2.yaml",
    "openai/mirascope__test_structured_output__tool__openai_gpt_4o_completions__stream.yaml",
]


def recorded_body(name: str) -> str:
    path = SHARED_CASSETTES / name
    if not path.exists():
        pytest.skip(f"the shared cassette corpus is absent ({path}); set LLMSTREAM_SHARED_CASSETTES")
    yaml = pytest.importorskip("yaml")
    body = yaml.safe_load(Path(path).read_text())["interactions"][0]["response"]["body"]["string"]
    assert isinstance(body, str)
    return body


def recorded_arguments(name: str) -> dict[int, list[str]]:
    """The tool-call argument fragments exactly as the real API streamed them, by call index."""
    fragments: dict[int, list[str]] = {}
    for line in recorded_body(name).splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                for call in choice["delta"].get("tool_calls") or []:
                    fragments.setdefault(call["index"], []).append(call["function"].get("arguments") or "")
    assert fragments, f"{name} holds no tool-call arguments"
    return fragments


def consistent(partial: Any, final: Any) -> bool:
    """Could ``partial`` be what a prefix of ``final``'s JSON text parses to?

    Containers: the keys or items seen so far, in order, all equal to the final ones but the last,
    which is itself consistent; strings a prefix; numbers a textual prefix (``7`` of ``75``).
    """
    if isinstance(final, dict):
        if not isinstance(partial, dict):
            return False
        keys = list(partial)
        if keys != list(final)[: len(keys)]:
            return False
        return not keys or (all(partial[k] == final[k] for k in keys[:-1]) and consistent(partial[keys[-1]],
                                                                                           final[keys[-1]]))
    if isinstance(final, list):
        if not isinstance(partial, list) or len(partial) > len(final):
            return False
        size = len(partial)
        return not size or (partial[:-1] == final[: size - 1] and consistent(partial[-1], final[size - 1]))
    if isinstance(final, str):
        return isinstance(partial, str) and final.startswith(partial)
    if isinstance(final, bool) or final is None:
        return partial == final
    return isinstance(partial, (int, float)) and json.dumps(final).startswith(json.dumps(partial))


# -- JSONStreamParser -------------------------------------------------------------------------------


def test_array_elements_are_yielded_as_each_completes() -> None:
    parser = JSONStreamParser()
    assert parser.feed('[{"a": "x]}\\"y", "b": [1, 2]}, "s') == [{"a": 'x]}"y', "b": [1, 2]}]
    assert parser.partial() == [{"a": 'x]}"y', "b": [1, 2]}, "s"]
    assert parser.feed('tr", 12') == ["str"]
    assert parser.partial() == [{"a": 'x]}"y', "b": [1, 2]}, "str", 12]
    assert parser.feed(" , tr") == [12]
    assert parser.feed("ue, null]") == [True, None]
    assert parser.done and parser.items == [{"a": 'x]}"y', "b": [1, 2]}, "str", 12, True, None]
    assert parser.feed("[99]") == []  # after the top-level array, text is ignored


def test_concatenated_and_ndjson_objects_are_yielded_each() -> None:
    parser = JSONStreamParser()
    assert parser.feed('{"a": 1}{"b"') == [{"a": 1}]
    assert parser.partial() == {}  # the value in progress: its key has no value yet
    assert parser.feed(': [1]}\n{"c": "\\u00e9"}\n') == [{"b": [1]}, {"c": "é"}]
    assert parser.partial() == {"c": "é"}  # between values: the last completed one


def test_prose_and_code_fences_around_json_are_skipped() -> None:
    parser = JSONStreamParser()
    values = [v for piece in ("Here you go:\n```json\n[1, ", '{"k": "v"}]\n```', " Done.") for v in parser.feed(piece)]
    assert values == [1, {"k": "v"}]
    values_mode = JSONStreamParser(mode="values")
    assert values_mode.feed('[1, 2] and {"x": 1}') == [[1, 2], {"x": 1}]


def test_escapes_straddling_feeds() -> None:
    parser = JSONStreamParser()
    out = [v for piece in ['["a\\', '"]b", "c\\\\', '"', ", 1]"] for v in parser.feed(piece)]
    assert out == ['a"]b', "c\\", 1]


def test_a_completed_value_that_is_not_json_raises_value_error() -> None:
    with pytest.raises(ValueError, match="not valid"):
        JSONStreamParser().feed("[{'single': 'quotes'}]")


json_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=12,
)


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=100, deadline=None)
@given(items=st.lists(json_values, max_size=6), cuts=st.lists(st.integers(0, 10**4), max_size=8),
       indent=st.sampled_from([None, 2]), ascii_only=st.booleans())
def test_any_array_split_anywhere_yields_its_elements(items: list[Any], cuts: list[int], indent: int | None,
                                                      ascii_only: bool) -> None:
    parser = JSONStreamParser()
    whole = json.dumps(items, indent=indent, ensure_ascii=ascii_only)
    out = [v for piece in pieces_of(whole, cuts) for v in parser.feed(piece)]
    assert out == items and parser.partial() == items and parser.done


@settings(max_examples=60, deadline=None)
@given(objects=st.lists(st.dictionaries(st.text(max_size=4), json_scalars | st.lists(json_scalars, max_size=3),
                                        max_size=3), max_size=5),
       cuts=st.lists(st.integers(0, 10**4), max_size=8), separator=st.sampled_from(["\n", "", " \r\n"]))
def test_any_ndjson_split_anywhere_yields_its_objects(objects: list[Any], cuts: list[int], separator: str) -> None:
    parser = JSONStreamParser()
    whole = separator.join(json.dumps(o) for o in objects)
    assert [v for piece in pieces_of(whole, cuts) for v in parser.feed(piece)] == objects


@settings(max_examples=100, deadline=None)
@given(value=st.dictionaries(st.text(max_size=5), st.recursive(
    json_scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3),
    max_leaves=8), max_size=4))
def test_partial_is_prefix_consistent_at_every_prefix(value: dict[str, Any]) -> None:
    parser = JSONStreamParser()
    for char in json.dumps(value):
        parser.feed(char)
        assert consistent(parser.partial(), value), parser.partial()
    assert parser.partial() == value


@pytest.mark.parametrize("recording", RECORDINGS)
def test_partial_at_every_prefix_of_recorded_tool_call_arguments(recording: str) -> None:
    for fragments in recorded_arguments(recording).values():
        full = "".join(fragments)
        final = json.loads(full)
        parser, completed = JSONStreamParser(), []
        for char in full:  # every prefix, not only the recorded fragment boundaries
            completed += parser.feed(char)
            assert consistent(parser.partial(), final), (recording, parser.partial())
        assert parser.partial() == final and completed == [final]
        by_fragment = JSONStreamParser()
        assert [v for f in fragments for v in by_fragment.feed(f)] == [final]


# -- PartialJSON, partial_json, apartial_json ---------------------------------------------------------


def tool_call_script(fragments: list[str], index: int = 0) -> list[StreamedChunk]:
    full = "".join(fragments)
    return [
        StreamedChunk(ChunkType.START, id="r", model="m"),
        StreamedChunk(ChunkType.TEXT, "calling"),
        StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(index, "call_1", "f")),
        *[StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=ToolCallDelta(index, arguments=f)) for f in fragments],
        StreamedChunk(ChunkType.TOOL_CALL_END, tool_call=ToolCallDelta(index, "call_1", "f", full)),
        StreamedChunk(ChunkType.STOP, finish_reason=FinishReason.TOOL_CALLS),
    ]


@pytest.mark.parametrize("recording", RECORDINGS)
def test_on_partial_reports_each_change_of_recorded_arguments(recording: str, mode: str) -> None:
    fragments = recorded_arguments(recording)[0]
    final = json.loads("".join(fragments))
    values: list[Any] = []
    processor = PartialJSON(source="tool_call", on_partial=values.append)
    completion = complete(MockClient(chunks=tool_call_script(fragments)), "x", mode,
                          options=StreamingOptions(processors=[processor]))
    assert completion.tool_calls[0].args == final  # the chunks passed through unchanged
    assert values[-1] == final and processor.value == final
    assert all(consistent(v, final) for v in values)
    assert all(a != b for a, b in itertools.pairwise(values))  # only changes are reported


def test_partial_json_over_a_recorded_stream_through_the_real_sdk(loopback: LoopbackServer, mode: str) -> None:
    """The recorded response replayed byte for byte to the real openai SDK; call 1 is followed."""
    recording = RECORDINGS[0]
    loopback.enqueue(Scripted(chunks=[recorded_body(recording).encode()]))
    final = json.loads("".join(recorded_arguments(recording)[1]))
    client = OpenAIClient("gpt-4o", api_key="sk" "-test-0123456789abcdef", base_url=loopback.url + "/v1", max_retries=0)
    if mode == "sync":
        with client.stream("secrets?") as stream:
            values = list(partial_json(stream, source="tool_call", index=1))
    else:

        async def go() -> tuple[list[Any], Any]:
            async with client.astream("secrets?") as stream:
                return [v async for v in apartial_json(stream, source="tool_call", index=1)], stream

        values, stream = asyncio.run(go())
    assert values[-1] == final == stream.completion.tool_calls[1].args
    assert all(consistent(v, final) for v in values) and len(values) >= 2


def test_partial_json_from_text_and_from_a_tool_call_end_alone() -> None:
    chunks = [StreamedChunk(ChunkType.TEXT, t) for t in ['[{"n": 1}', ', {"n"', ": 2}]"]]
    assert list(partial_json(chunks)) == [[{"n": 1}], [{"n": 1}, {}], [{"n": 1}, {"n": 2}]]
    # Some providers send the whole call at once: START and END with the full arguments.
    whole = [
        StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(0, "c", "f")),
        StreamedChunk(ChunkType.TOOL_CALL_END, tool_call=ToolCallDelta(0, "c", "f", '{"a": 1}')),
    ]
    assert list(partial_json(whole, source="tool_call")) == [{"a": 1}]


def test_a_raising_on_partial_stops_the_stream_as_callback_error(mode: str) -> None:
    def boom(value: Any) -> None:
        raise RuntimeError("render failed")

    client = MockClient(chunks=tool_call_script(['{"a"', ": 1}"]), max_retries=2)
    with pytest.raises(CallbackError) as info:
        complete(client, "x", mode, options=StreamingOptions(processors=[PartialJSON("tool_call", on_partial=boom)]))
    assert isinstance(info.value.__cause__, RuntimeError)
    assert len(client.requests) == 1  # a callback failure is not retried


def test_partial_json_resets_on_retry() -> None:
    # Smooth (after PartialJSON) holds the unfinished word, so nothing reached the caller when the
    # first attempt fails: it is retried, and PartialJSON must forget what it fed, else it would
    # parse '{"a":{"a":1}'.
    processor = PartialJSON()
    client = MockClient(chunks=[StreamedChunk(ChunkType.TEXT, '{"a":'), StreamedChunk(ChunkType.TEXT, "1}")],
                        fail_at=1, fail_times=1, max_retries=1)
    completion = client.stream_complete("x", options=StreamingOptions(processors=[processor, Smooth()]))
    assert len(client.requests) == 2
    assert processor.value == {"a": 1} and completion.text == '{"a":1}'


# -- stream_to_string -------------------------------------------------------------------------------


def test_stream_to_string(mode: str) -> None:
    client = MockClient(text="one two three")
    if mode == "sync":
        stream = client.stream("x")
        assert stream_to_string(stream) == "one two three"
    else:

        async def go() -> tuple[str, Any]:
            stream = client.astream("x")
            return await astream_to_string(stream), stream

        result, stream = asyncio.run(go())
        assert result == "one two three"
    assert stream.completion.finish_reason == FinishReason.STOP  # read to its end, not cancelled
    reasoning = [StreamedChunk(ChunkType.REASONING, "hmm"), StreamedChunk(ChunkType.TEXT, "a"),
                 StreamedChunk(ChunkType.TEXT, "b")]
    assert stream_to_string(reasoning) == "ab"  # reasoning never leaks into the text


def test_lenient_parsing_never_breaks_the_watched_stream(mode: str) -> None:
    strict, lenient = JSONStreamParser(), JSONStreamParser(strict=False)
    with pytest.raises(ValueError):
        strict.feed('{oops} then {"a": 1}')
    assert lenient.feed('{oops} then {"a": 1}') == [{"a": 1}]
    seen: list[Any] = []
    options = StreamingOptions(processors=[PartialJSON(on_partial=seen.append)])
    completion = complete(MockClient(text='Use {braces} like {"k": 2} here'), "x", mode, options=options)
    assert completion.text == 'Use {braces} like {"k": 2} here'
    assert seen == [{}, {"k": 2}]
