"""The OpenAI chat-completions translators, without I/O: the SDK-model one (``OpenAITranslator``, on
``ChatCompletionChunk`` objects built as the openai SDK builds streamed chunks) and the dict one
(``OpenAIEventTranslator``: OpenRouter, ``sdk_models=False``), run on the same wire JSON.

Every test runs on both paths and asserts the same chunks: the tool-call keying quirks of
OpenAI-compatible servers, repeated ids and names, ``arguments: null``, missing indexes, a missing
``finish_reason``, ``n > 1``, refusals, usage after the finish, repeated finish chunks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import pytest

pytest.importorskip("openai")

from openai._models import construct_type
from openai.types.chat import ChatCompletionChunk

from llmstream import (
    ChunkType,
    Completion,
    FinishReason,
    InBandError,
    StreamedChunk,
    StreamingAccumulator,
    ToolCallDelta,
    Usage,
)
from llmstream.providers._openai_wire import FINISH_REASONS, OpenAIEventTranslator, OpenAITranslator

C = ChunkType
Frame = dict[str, Any]


def frame(delta: dict[str, Any] | None = None, finish: str | None = None, *, index: int | None = 0) -> Frame:
    """One chat.completion.chunk as the wire carries it (``index=None``: the choice omits it)."""
    choice: dict[str, Any] = {"delta": {} if delta is None else delta, "finish_reason": finish}
    if index is not None:
        choice["index"] = index
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x", "choices": [choice]}


def usage_frame(**usage: Any) -> Frame:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-x",
            "choices": [], "usage": usage}


def call(index: int | None = None, call_id: str | None = None, name: str | None = None,
         arguments: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if index is not None:
        out["index"] = index
    if call_id is not None:
        out["id"] = call_id
    return out


def sdk_model(data: Frame) -> Any:
    """As the openai SDK builds each streamed chunk: ``construct_type``, no validation (a missing
    index stays None)."""
    return construct_type(type_=ChatCompletionChunk, value=copy.deepcopy(data))


PATHS: dict[str, tuple[Callable[[], Any], Callable[[Frame], Any]]] = {
    "sdk-models": (OpenAITranslator, sdk_model),
    "dicts": (OpenAIEventTranslator, copy.deepcopy),
}


@pytest.fixture(params=sorted(PATHS))
def translate(request: pytest.FixtureRequest) -> Callable[[Iterable[Frame]], list[StreamedChunk]]:
    make, convert = PATHS[request.param]

    def run(frames: Iterable[Frame]) -> list[StreamedChunk]:
        translator = make()
        out = [chunk for data in frames for chunk in translator.translate(convert(data))]
        out.extend(translator.end())
        return out

    return run


def accumulate(chunks: Iterable[StreamedChunk]) -> Completion:
    return StreamingAccumulator(provider="openai").add_all(chunks).completion()


def tc(kind: ChunkType, index: int, id_: str | None = None, name: str | None = None, args: str = "") -> StreamedChunk:
    return StreamedChunk(kind, tool_call=ToolCallDelta(index, id_, name, args))


def calls_of(chunks: list[StreamedChunk]) -> list[StreamedChunk]:
    return [c for c in chunks if c.tool_call is not None]


Run = Callable[[Iterable[Frame]], list[StreamedChunk]]


# -- START, text, the hot path --------------------------------------------------------------------


def test_start_once_then_text(translate: Run) -> None:
    chunks = translate([frame({"role": "assistant", "content": ""}), frame({"content": "Hel"}),
                        frame({"content": "lo"}), frame(finish="stop")])
    assert chunks == [
        StreamedChunk(C.START, id="chatcmpl-1", model="gpt-x"),
        StreamedChunk(C.TEXT, "Hel"),
        StreamedChunk(C.TEXT, "lo"),
        StreamedChunk(C.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="stop"),
    ]


def test_the_first_chunk_may_carry_text(translate: Run) -> None:
    chunks = translate([frame({"content": "Hi"})])
    assert [(c.type, c.text) for c in chunks[:2]] == [(C.START, ""), (C.TEXT, "Hi")]


def test_empty_ids_and_models_are_none(translate: Run) -> None:
    data = frame({"content": "x"})
    data["id"], data["model"] = "", ""
    assert translate([data])[0] == StreamedChunk(C.START)


def test_empty_deltas_and_empty_choices_are_not_chunks(translate: Run) -> None:
    empty = frame({"content": ""})
    filtered = {**frame(), "choices": []}  # Azure's prompt-filter results, moderation chunks
    chunks = translate([frame({"content": "a"}), empty, filtered, frame({}), frame(finish="stop")])
    assert [c.type for c in chunks] == [C.START, C.TEXT, C.STOP]


def test_reasoning_fields_become_reasoning_never_text(translate: Run) -> None:
    chunks = translate([frame({"reasoning_content": "think "}), frame({"reasoning": "more"}),
                        frame({"content": "answer"}), frame(finish="stop")])
    done = accumulate(chunks)
    assert (done.reasoning, done.text) == ("think more", "answer")


# -- tool calls ------------------------------------------------------------------------------------


def test_parallel_calls_keyed_by_index_end_at_the_finish(translate: Run) -> None:
    chunks = translate([
        frame({"tool_calls": [call(0, "call_a", "weather", "")]}),
        frame({"tool_calls": [call(1, "call_b", "time", "")]}),
        frame({"tool_calls": [call(0, arguments='{"city": ')]}),
        frame({"tool_calls": [call(1, arguments='{"tz": "UTC"}')]}),
        frame({"tool_calls": [call(0, arguments='"Paris"}')]}),
        frame(finish="tool_calls"),
    ])
    assert calls_of(chunks) == [
        tc(C.TOOL_CALL_START, 0, "call_a", "weather"),
        tc(C.TOOL_CALL_START, 1, "call_b", "time"),
        tc(C.TOOL_CALL_DELTA, 0, args='{"city": '),
        tc(C.TOOL_CALL_DELTA, 1, args='{"tz": "UTC"}'),
        tc(C.TOOL_CALL_DELTA, 0, args='"Paris"}'),
        tc(C.TOOL_CALL_END, 0, "call_a", "weather", '{"city": "Paris"}'),
        tc(C.TOOL_CALL_END, 1, "call_b", "time", '{"tz": "UTC"}'),
    ]
    assert chunks[-1].finish_reason is FinishReason.TOOL_CALLS
    done = accumulate(chunks)
    assert [(c.id, c.name, c.args) for c in done.tool_calls] == [
        ("call_a", "weather", {"city": "Paris"}), ("call_b", "time", {"tz": "UTC"}),
    ]


def test_a_new_id_at_a_used_index_is_a_new_call_with_its_own_index(translate: Run) -> None:
    # Some servers number every call 0: the id tells them apart, the chunks get unique indexes.
    chunks = translate([
        frame({"tool_calls": [call(0, "c1", "f", "{}")]}),
        frame({"tool_calls": [call(0, "c2", "g", '{"x": ')]}),
        frame({"tool_calls": [call(0, arguments="1}")]}),
        frame(finish="tool_calls"),
    ])
    ends = [c.tool_call for c in chunks if c.type is C.TOOL_CALL_END]
    assert ends == [ToolCallDelta(0, "c1", "f", "{}"), ToolCallDelta(1, "c2", "g", '{"x": 1}')]
    assert [(c.id, c.args) for c in accumulate(chunks).tool_calls] == [("c1", {}), ("c2", {"x": 1})]


def test_an_id_and_name_repeated_in_every_delta_are_not_appended(translate: Run) -> None:
    chunks = translate([
        frame({"tool_calls": [call(0, "c1", "lookup", None)]}),
        frame({"tool_calls": [call(0, "c1", "lookup", '{"q"')]}),
        frame({"tool_calls": [call(0, "c1", "lookup", ': "x"}')]}),
        frame(finish="tool_calls"),
    ])
    assert [c.type for c in calls_of(chunks)] == [C.TOOL_CALL_START, C.TOOL_CALL_DELTA, C.TOOL_CALL_DELTA,
                                                   C.TOOL_CALL_END]
    assert calls_of(chunks)[-1] == tc(C.TOOL_CALL_END, 0, "c1", "lookup", '{"q": "x"}')


def test_null_and_empty_arguments_add_nothing(translate: Run) -> None:
    chunks = translate([
        frame({"tool_calls": [call(0, "c1", "f", None)]}),
        frame({"tool_calls": [call(0, arguments=None)]}),
        frame({"tool_calls": [call(0, arguments="")]}),
        frame(finish="tool_calls"),
    ])
    assert calls_of(chunks) == [tc(C.TOOL_CALL_START, 0, "c1", "f"), tc(C.TOOL_CALL_END, 0, "c1", "f", "")]
    assert accumulate(chunks).tool_calls[0].args == {}


def test_a_missing_index_falls_back_to_the_id(translate: Run) -> None:
    chunks = translate([
        frame({"tool_calls": [call(None, "c1", "f", '{"a": ')]}),
        frame({"tool_calls": [call(None, "c2", "g", "{}")]}),
        frame({"tool_calls": [call(None, "c1", None, "1}")]}),
        frame(finish="tool_calls"),
    ])
    done = accumulate(chunks)
    assert [(c.id, c.name, c.args) for c in done.tool_calls] == [("c1", "f", {"a": 1}), ("c2", "g", {})]
    assert sorted({c.tool_call.index for c in calls_of(chunks) if c.tool_call}) == [0, 1]


def test_neither_index_nor_id_continues_the_latest_call(translate: Run) -> None:
    chunks = translate([
        frame({"tool_calls": [call(None, "c1", "f", '{"a"')]}),
        frame({"tool_calls": [call(None, None, None, ": 2}")]}),
        frame(finish="tool_calls"),
    ])
    assert [(c.id, c.args) for c in accumulate(chunks).tool_calls] == [("c1", {"a": 2})]


def test_an_id_sent_after_the_start_is_kept(translate: Run) -> None:
    chunks = translate([
        frame({"tool_calls": [call(0, None, "f", "")]}),
        frame({"tool_calls": [call(0, "late", None, "{}")]}),
        frame(finish="tool_calls"),
    ])
    assert calls_of(chunks)[-1] == tc(C.TOOL_CALL_END, 0, "late", "f", "{}")


def test_a_call_without_a_function_object_still_starts(translate: Run) -> None:
    chunks = translate([frame({"tool_calls": [{"index": 0, "id": "c1", "type": "function"}]}), frame(finish="stop")])
    assert calls_of(chunks) == [tc(C.TOOL_CALL_START, 0, "c1"), tc(C.TOOL_CALL_END, 0, "c1", None, "")]


# -- the finish ------------------------------------------------------------------------------------


def test_a_missing_finish_reason_is_inferred_at_the_end(translate: Run) -> None:
    text_only = translate([frame({"content": "hi"})])
    assert text_only[-1] == StreamedChunk(C.STOP, finish_reason=FinishReason.OTHER)
    with_call = translate([frame({"tool_calls": [call(0, "c1", "f", "{}")]})])
    assert with_call[-2:] == [
        tc(C.TOOL_CALL_END, 0, "c1", "f", "{}"),
        StreamedChunk(C.STOP, finish_reason=FinishReason.TOOL_CALLS),
    ]
    done = accumulate(with_call)
    assert (done.finish_reason, done.raw_finish_reason) == (FinishReason.TOOL_CALLS, None)


def test_a_repeated_finish_chunk_is_not_a_second_stop(translate: Run) -> None:
    chunks = translate([frame({"content": "a"}), frame(finish="stop"), frame(finish="stop")])
    assert [c.type for c in chunks] == [C.START, C.TEXT, C.STOP]


def test_nothing_at_all_ends_with_nothing(translate: Run) -> None:
    assert translate([]) == []


@pytest.mark.parametrize(("word", "reason"), [*FINISH_REASONS.items(), ("brand_new", FinishReason.OTHER)])
def test_finish_words(translate: Run, word: str, reason: FinishReason) -> None:
    chunks = translate([frame({"content": "a"}), frame(finish=word)])
    assert chunks[-1] == StreamedChunk(C.STOP, finish_reason=reason, raw_finish_reason=word)


# -- n > 1, refusal, usage -------------------------------------------------------------------------


def test_only_the_first_choice_is_followed(translate: Run) -> None:
    chunks = translate([
        frame({"content": "first"}),
        frame({"content": "second"}, index=1),
        frame({"tool_calls": [call(0, "c9", "other_choice", "{}")]}, index=1),
        frame(finish="length", index=1),
        frame(finish="stop"),
    ])
    done = accumulate(chunks)
    assert (done.text, done.tool_calls, done.finish_reason) == ("first", [], FinishReason.STOP)
    assert [c.type for c in chunks] == [C.START, C.TEXT, C.STOP]


def test_a_choice_without_index_is_the_first(translate: Run) -> None:
    chunks = translate([frame({"content": "a"}, index=None), frame({"content": "b"}, index=None)])
    assert accumulate(chunks).text == "ab"


def test_refusal_goes_to_the_refusal_not_the_text(translate: Run) -> None:
    chunks = translate([frame({"refusal": "I can't "}), frame({"refusal": "help"}), frame(finish="stop")])
    assert [c.type for c in chunks] == [C.START, C.REFUSAL, C.REFUSAL, C.STOP]
    done = accumulate(chunks)
    assert (done.text, done.refusal) == ("", "I can't help")


def test_usage_after_the_finish_is_kept(translate: Run) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42,
             "prompt_tokens_details": {"cached_tokens": 8},
             "completion_tokens_details": {"reasoning_tokens": 20}}
    chunks = translate([frame({"content": "a"}), frame(finish="stop"), usage_frame(**usage)])
    assert [c.type for c in chunks] == [C.START, C.TEXT, C.STOP, C.USAGE]
    want = Usage(input_tokens=12, output_tokens=30, cached_input_tokens=8, reasoning_tokens=20)
    assert chunks[-1].usage == want
    done = accumulate(chunks)
    assert (done.usage, done.finish_reason) == (want, FinishReason.STOP)


def test_deepseek_cache_hits_and_openrouter_cost(translate: Run) -> None:
    chunks = translate([usage_frame(prompt_tokens=10, completion_tokens=2, prompt_cache_hit_tokens=6, cost=0.5)])
    assert chunks[-2].usage == Usage(input_tokens=10, output_tokens=2, cached_input_tokens=6, cost=0.5)


def test_usage_and_content_in_one_chunk(translate: Run) -> None:
    data = {**frame({"content": "a"}, "stop"), "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
    assert [c.type for c in translate([data])] == [C.START, C.TEXT, C.STOP, C.USAGE]


# -- the dict path's extras --------------------------------------------------------------------------


def test_an_in_band_error_comes_after_what_its_chunk_carried() -> None:
    translator = OpenAIEventTranslator("openrouter")
    translator.translate(frame({"content": "partial"}))
    data = {**frame({"content": " more"}, "error"), "error": {"message": "upstream died", "code": 502}}
    chunks = translator.translate(data)
    assert [c.type for c in chunks] == [C.TEXT, C.ERROR]  # finish "error" with an error: no STOP
    error = chunks[-1].error
    assert isinstance(error, InBandError)
    assert (str(error.code), error.provider) == ("502", "openrouter") and "upstream died" in str(error)


def test_reasoning_details_give_signatures_and_encrypted_blocks() -> None:
    translator = OpenAIEventTranslator()
    details = [{"type": "reasoning.text", "text": "hm", "signature": "SIG"},
               {"type": "reasoning.encrypted", "data": "ENC"}]
    chunks = [*translator.translate(frame({"reasoning_details": details})), *translator.end()]
    done = accumulate(chunks)
    assert done.reasoning == "hm"
    assert [(b.text, b.signature, b.redacted_data) for b in done.reasoning_blocks] == [
        ("hm", "SIG", None), ("", None, "ENC"),
    ]
