"""AnthropicTranslator, request conversion and error mapping, without I/O.

Events are built with ``anthropic._models.construct_type`` on ``RawMessageStreamEvent``: exactly what
the SDK's stream iterator does with each SSE frame, so unknown types and missing fields behave here as
they do at run time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import httpx2
import pytest

anthropic = pytest.importorskip("anthropic")

from anthropic._models import construct_type  # noqa: E402
from anthropic.types import RawMessageStreamEvent  # noqa: E402

from llmstream import (  # noqa: E402
    AuthenticationError,
    BadRequestError,
    ChunkType,
    Citation,
    Completion,
    Conversation,
    FinishReason,
    InBandError,
    MalformedStreamError,
    RateLimitError,
    ReasoningBlock,
    ServerError,
    StreamedChunk,
    StreamingAccumulator,
    StreamInterruptedError,
    StreamTimeoutError,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmstream._settings import Request  # noqa: E402
from llmstream.providers._passthrough import into_extra_body as for_sdk  # noqa: E402
from llmstream.providers.anthropic import (  # noqa: E402
    DEFAULT_MAX_TOKENS,
    AnthropicClient,
    AnthropicTranslator,
    map_anthropic_error,
    messages_payload,
)

C = ChunkType


def event(data: Mapping[str, Any]) -> Any:
    """One SDK event object, built the way the SDK builds it from an SSE frame."""
    return construct_type(type_=RawMessageStreamEvent, value=dict(data))


def message_start(
    input_tokens: int = 10, output_tokens: int = 1, cache_read: int | None = 0, cache_creation: int | None = 0
) -> dict[str, Any]:
    usage = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_creation,
    }
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-x",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return {"type": "message_start", "message": message}


def start(index: int, block: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": dict(block)}


def delta(index: int, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": dict(payload)}


def stop(index: int) -> dict[str, Any]:
    return {"type": "content_block_stop", "index": index}


def text(index: int, piece: str) -> dict[str, Any]:
    return delta(index, {"type": "text_delta", "text": piece})


def tool_start(index: int, call_id: str, name: str, input_: Any = None) -> dict[str, Any]:
    return start(
        index, {"type": "tool_use", "id": call_id, "name": name, "input": {} if input_ is None else input_}
    )


def json_piece(index: int, fragment: str) -> dict[str, Any]:
    return delta(index, {"type": "input_json_delta", "partial_json": fragment})


def message_delta(stop_reason: str | None, output_tokens: int, **usage: Any) -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens, **usage},
    }


def run(
    frames: Iterable[Mapping[str, Any]], translator: AnthropicTranslator | None = None
) -> list[StreamedChunk]:
    translator = translator or AnthropicTranslator()
    out: list[StreamedChunk] = []
    for frame in frames:
        out.extend(translator.translate(event(frame)))
    out.extend(translator.end())
    return out


def accumulate(chunks: Iterable[StreamedChunk]) -> Completion:
    return StreamingAccumulator(provider="anthropic").add_all(chunks).completion()


def tc(
    kind: ChunkType, index: int, id_: str | None = None, name: str | None = None, args: str = ""
) -> StreamedChunk:
    return StreamedChunk(kind, tool_call=ToolCallDelta(index, id_, name, args))


# -- message_start / message_delta -------------------------------------------------------------------


def test_message_start_gives_start_and_usage_counting_cached_prompt_tokens() -> None:
    frame = message_start(input_tokens=7, output_tokens=2, cache_read=100, cache_creation=30)
    chunks = run([frame])
    assert chunks == [
        StreamedChunk(C.START, id="msg_1", model="claude-x"),
        StreamedChunk(
            C.USAGE,
            usage=Usage(input_tokens=137, output_tokens=2, cached_input_tokens=100, cache_write_tokens=30),
        ),
        # The stream ended without a stop_reason: the end infers one (no calls: "other", raw None).
        StreamedChunk(C.STOP, finish_reason=FinishReason.OTHER),
    ]


def test_message_start_with_null_cache_fields_counts_only_input() -> None:
    chunks = run([message_start(input_tokens=12, cache_read=None, cache_creation=None)])
    assert chunks[1].usage == Usage(input_tokens=12, output_tokens=1)


def test_message_delta_replaces_output_and_keeps_input_from_message_start() -> None:
    chunks = run(
        [message_start(input_tokens=5, cache_read=20, cache_creation=3), message_delta("end_turn", 42)]
    )
    assert chunks[2:] == [
        StreamedChunk(
            C.USAGE,
            usage=Usage(input_tokens=28, output_tokens=42, cached_input_tokens=20, cache_write_tokens=3),
        ),
        StreamedChunk(C.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="end_turn"),
    ]


def test_message_delta_carrying_input_fields_recomputes_input() -> None:
    frames = [
        message_start(input_tokens=5, cache_read=20, cache_creation=3),
        # Null fields keep the message_start values; given ones replace them (they are cumulative).
        message_delta(
            "end_turn", 9, input_tokens=6, cache_read_input_tokens=None, cache_creation_input_tokens=0
        ),
    ]
    usage = run(frames)[2].usage
    assert usage == Usage(input_tokens=26, output_tokens=9, cached_input_tokens=20, cache_write_tokens=0)


def test_usage_is_a_snapshot_never_summed() -> None:
    frames = [message_start(input_tokens=10), message_delta(None, 3), message_delta("end_turn", 8)]
    completion = accumulate(run(frames))
    assert completion.usage == Usage(input_tokens=10, output_tokens=8)


def test_message_delta_without_stop_reason_emits_only_usage() -> None:
    chunks = run([message_start(), message_delta(None, 4)])
    assert [c.type for c in chunks] == [C.START, C.USAGE, C.USAGE, C.STOP]  # the STOP is end()'s
    assert (chunks[-1].finish_reason, chunks[-1].raw_finish_reason) == (FinishReason.OTHER, None)


def test_a_repeated_stop_reason_is_not_a_second_stop() -> None:
    chunks = run([message_start(), message_delta("end_turn", 3), message_delta("end_turn", 4)])
    assert [c.type for c in chunks] == [C.START, C.USAGE, C.USAGE, C.STOP, C.USAGE]


def test_an_unfinished_tool_call_ends_as_tool_calls() -> None:
    chunks = run([message_start(), tool_start(0, "toolu_1", "f"), json_piece(0, '{"a": 1}')])
    assert chunks[-2:] == [
        tc(C.TOOL_CALL_END, 0, "toolu_1", "f", '{"a": 1}'),
        StreamedChunk(C.STOP, finish_reason=FinishReason.TOOL_CALLS),
    ]


def test_thinking_tokens_become_reasoning_tokens() -> None:
    frame = message_delta("end_turn", 50, output_tokens_details={"thinking_tokens": 30})
    assert run([message_start(), frame])[2].usage == Usage(
        input_tokens=10, output_tokens=50, reasoning_tokens=30
    )


@pytest.mark.parametrize(
    ("vendor", "expected"),
    [
        ("end_turn", FinishReason.STOP),
        ("stop_sequence", FinishReason.STOP),
        ("max_tokens", FinishReason.LENGTH),
        ("model_context_window_exceeded", FinishReason.LENGTH),
        ("tool_use", FinishReason.TOOL_CALLS),
        ("refusal", FinishReason.CONTENT_FILTER),
        ("pause_turn", FinishReason.OTHER),
        ("a_reason_from_the_future", FinishReason.OTHER),
    ],
)
def test_finish_reasons(vendor: str, expected: FinishReason) -> None:
    completion = accumulate(run([message_start(), message_delta(vendor, 1)]))
    assert completion.finish_reason is expected
    assert completion.raw_finish_reason == vendor


# -- text -------------------------------------------------------------------------------------------


def test_text_deltas_are_text_and_keep_the_raw_event() -> None:
    translator = AnthropicTranslator()
    raw = event(text(0, "Hello"))
    chunks = translator.translate(raw)
    assert list(chunks) == [StreamedChunk(C.TEXT, "Hello")]
    assert chunks[0].raw is raw


def test_empty_text_delta_and_text_block_stop_add_nothing_a_citation_is_a_citation() -> None:
    frames = [
        start(0, {"type": "text", "text": ""}),
        text(0, ""),
        delta(0, {"type": "citations_delta", "citation": {"type": "char_location", "cited_text": "x",
                                                          "document_index": 0, "document_title": "Doc"}}),
        stop(0),
    ]
    assert run(frames) == [StreamedChunk(C.CITATION, citation=Citation(title="Doc", cited_text="x", source_id="0"))]


def test_text_already_in_the_start_block_is_not_lost() -> None:
    chunks = run([start(0, {"type": "text", "text": "Hi "}), text(0, "there"), stop(0)])
    assert accumulate(chunks).text == "Hi there"


def test_ping_message_stop_and_unknown_types_are_ignored() -> None:
    frames: list[dict[str, Any]] = [
        {"type": "ping"},
        {"type": "message_stop"},
        {"type": "brand_new_event", "index": 0, "payload": {"x": 1}},
        start(0, {"type": "fancy_new_block", "stuff": [1, 2]}),
        delta(0, {"type": "fancy_new_delta", "value": "v"}),
        stop(0),
        {"type": "content_block_delta", "index": 1},  # no delta at all
        {"type": "content_block_start", "index": 1},  # no block at all
        {"type": "message_start"},  # no message
        {"type": "message_delta"},  # no delta, no usage
    ]
    assert run(frames) == []


# -- thinking ---------------------------------------------------------------------------------------


def test_thinking_deltas_and_signature() -> None:
    frames = [
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Let me "}),
        delta(0, {"type": "thinking_delta", "thinking": "think."}),
        delta(0, {"type": "signature_delta", "signature": "SIG=="}),
        stop(0),
    ]
    chunks = run(frames)
    assert chunks == [
        StreamedChunk(C.REASONING, "Let me "),
        StreamedChunk(C.REASONING, "think."),
        StreamedChunk(C.REASONING, "", signature="SIG=="),
    ]
    completion = accumulate(chunks)
    assert completion.reasoning == "Let me think."
    assert completion.text == ""
    assert completion.reasoning_blocks == [ReasoningBlock("Let me think.", "SIG==")]


def test_thinking_and_signature_carried_by_the_start_block_are_kept() -> None:
    frames = [start(0, {"type": "thinking", "thinking": "Already here.", "signature": "S1"}), stop(0)]
    chunks = run(frames)
    assert chunks == [
        StreamedChunk(C.REASONING, "Already here."),
        StreamedChunk(C.REASONING, "", signature="S1"),
    ]
    assert accumulate(chunks).reasoning_blocks == [ReasoningBlock("Already here.", "S1")]


def test_start_block_signature_is_sent_after_the_text_deltas() -> None:
    # Sent at the start it would close the block before its text, splitting it in two.
    frames = [
        start(0, {"type": "thinking", "thinking": "a", "signature": "S1"}),
        delta(0, {"type": "thinking_delta", "thinking": "b"}),
        stop(0),
    ]
    assert accumulate(run(frames)).reasoning_blocks == [ReasoningBlock("ab", "S1")]


def test_a_signature_delta_supersedes_the_start_block_signature() -> None:
    frames = [
        start(0, {"type": "thinking", "thinking": "", "signature": "old"}),
        delta(0, {"type": "thinking_delta", "thinking": "x"}),
        delta(0, {"type": "signature_delta", "signature": "new"}),
        stop(0),
    ]
    chunks = run(frames)
    assert [c.signature for c in chunks if c.signature] == ["new"]
    assert accumulate(chunks).reasoning_blocks == [ReasoningBlock("x", "new")]


def test_redacted_thinking_is_kept_without_text() -> None:
    frames = [start(0, {"type": "redacted_thinking", "data": "ENCRYPTED"}), stop(0)]
    chunks = run(frames)
    assert chunks == [StreamedChunk(C.REASONING, "", redacted_data="ENCRYPTED")]
    completion = accumulate(chunks)
    assert completion.reasoning == ""
    assert completion.reasoning_blocks == [ReasoningBlock("", None, "ENCRYPTED")]


def test_two_thinking_blocks_around_a_redacted_one_stay_apart() -> None:
    frames = [
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "one"}),
        delta(0, {"type": "signature_delta", "signature": "s1"}),
        stop(0),
        start(1, {"type": "redacted_thinking", "data": "R"}),
        stop(1),
        start(2, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(2, {"type": "thinking_delta", "thinking": "two"}),
        delta(2, {"type": "signature_delta", "signature": "s2"}),
        stop(2),
    ]
    completion = accumulate(run(frames))
    assert completion.reasoning_blocks == [
        ReasoningBlock("one", "s1"),
        ReasoningBlock("", None, "R"),
        ReasoningBlock("two", "s2"),
    ]
    assert completion.reasoning == "onetwo"


# -- tool use ---------------------------------------------------------------------------------------


def test_tool_use_blocks_are_renumbered_and_closed_with_the_full_json() -> None:
    frames = [
        start(0, {"type": "text", "text": ""}),
        text(0, "Checking."),
        stop(0),
        tool_start(1, "toolu_a", "weather"),
        json_piece(1, ""),  # the API opens every tool input with an empty fragment
        json_piece(1, '{"city": '),
        json_piece(1, '"Paris"}'),
        stop(1),
        tool_start(2, "toolu_b", "time"),
        json_piece(2, '{"tz": "CET"}'),
        stop(2),
    ]
    chunks = run(frames)
    assert chunks == [
        StreamedChunk(C.TEXT, "Checking."),
        tc(C.TOOL_CALL_START, 0, "toolu_a", "weather"),
        tc(C.TOOL_CALL_DELTA, 0, args='{"city": '),
        tc(C.TOOL_CALL_DELTA, 0, args='"Paris"}'),
        tc(C.TOOL_CALL_END, 0, "toolu_a", "weather", '{"city": "Paris"}'),
        tc(C.TOOL_CALL_START, 1, "toolu_b", "time"),
        tc(C.TOOL_CALL_DELTA, 1, args='{"tz": "CET"}'),
        tc(C.TOOL_CALL_END, 1, "toolu_b", "time", '{"tz": "CET"}'),
    ]
    calls = accumulate(chunks).tool_calls
    assert calls == [
        ToolCall("toolu_a", "weather", '{"city": "Paris"}'),
        ToolCall("toolu_b", "time", '{"tz": "CET"}'),
    ]
    assert [c.args for c in calls] == [{"city": "Paris"}, {"tz": "CET"}]


def test_tool_use_with_no_input_is_an_empty_object() -> None:
    chunks = run([tool_start(0, "toolu_n", "now"), json_piece(0, ""), stop(0)])
    assert chunks[-1] == tc(C.TOOL_CALL_END, 0, "toolu_n", "now", "{}")
    (call,) = accumulate(chunks).tool_calls
    assert call.arguments == "{}"
    assert call.args == {}


def test_tool_use_input_given_whole_in_the_start_block() -> None:
    chunks = run([tool_start(0, "toolu_w", "weather", {"city": "Oslo"}), stop(0)])
    assert chunks[-1] == tc(C.TOOL_CALL_END, 0, "toolu_w", "weather", json.dumps({"city": "Oslo"}))
    assert accumulate(chunks).tool_calls[0].args == {"city": "Oslo"}


def test_server_tools_are_not_client_calls_and_text_around_them_is_text() -> None:
    frames = [
        start(0, {"type": "text", "text": ""}),
        text(0, "Searching. "),
        stop(0),
        start(1, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
        json_piece(1, '{"query": "rivers"}'),
        stop(1),
        start(2, {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []}),
        stop(2),
        start(3, {"type": "mcp_tool_use", "id": "mcptoolu_1", "name": "x", "server_name": "s", "input": {}}),
        json_piece(3, '{"a": 1}'),
        stop(3),
        start(4, {"type": "mcp_tool_result", "tool_use_id": "mcptoolu_1", "content": []}),
        stop(4),
        start(5, {"type": "bash_code_execution_tool_result", "tool_use_id": "srvtoolu_2", "content": {}}),
        stop(5),
        start(6, {"type": "text", "text": ""}),
        text(6, "Found it."),
        stop(6),
        tool_start(7, "toolu_c", "save"),
        json_piece(7, "{}"),
        stop(7),
    ]
    chunks = run(frames)
    completion = accumulate(chunks)
    assert completion.text == "Searching. Found it."
    assert completion.tool_calls == [ToolCall("toolu_c", "save", "{}")]
    # The client call is numbered 0: server blocks take no tool-call index.
    assert {c.tool_call.index for c in chunks if c.tool_call is not None} == {0}


def test_end_closes_tool_calls_whose_block_never_stopped() -> None:
    translator = AnthropicTranslator()
    for frame in [tool_start(0, "toolu_x", "f"), json_piece(0, '{"a":1}')]:
        translator.translate(event(frame))
    assert translator.end() == [tc(C.TOOL_CALL_END, 0, "toolu_x", "f", '{"a":1}')]
    assert translator.end() == []  # only once


def test_end_keeps_a_start_block_signature_whose_block_never_stopped() -> None:
    translator = AnthropicTranslator()
    translator.translate(event(start(0, {"type": "thinking", "thinking": "t", "signature": "S"})))
    assert translator.end() == [StreamedChunk(C.REASONING, "", signature="S")]


def test_error_event_from_a_non_sdk_source_becomes_an_error_chunk() -> None:
    (chunk,) = run([{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}])
    assert chunk.type is C.ERROR
    assert isinstance(chunk.error, InBandError)
    assert chunk.error.code == "overloaded_error"
    assert "Overloaded" in str(chunk.error)


def test_a_whole_stream_rebuilds_the_completion() -> None:
    frames = [
        message_start(input_tokens=3, cache_read=100, cache_creation=0),
        {"type": "ping"},
        start(0, {"type": "thinking", "thinking": "", "signature": ""}),
        delta(0, {"type": "thinking_delta", "thinking": "Weather twice."}),
        delta(0, {"type": "signature_delta", "signature": "sig-1"}),
        stop(0),
        start(1, {"type": "redacted_thinking", "data": "opaque"}),
        stop(1),
        start(2, {"type": "text", "text": ""}),
        text(2, "Let me "),
        text(2, "check."),
        stop(2),
        tool_start(3, "toolu_1", "weather"),
        json_piece(3, '{"city":'),
        json_piece(3, '"Rome"}'),
        stop(3),
        tool_start(4, "toolu_2", "clock"),
        stop(4),
        message_delta("tool_use", 77),
        {"type": "message_stop"},
    ]
    completion = accumulate(run(frames))
    assert completion.id == "msg_1"
    assert completion.model == "claude-x"
    assert completion.text == "Let me check."
    assert completion.reasoning == "Weather twice."
    assert completion.reasoning_blocks == [
        ReasoningBlock("Weather twice.", "sig-1"),
        ReasoningBlock("", None, "opaque"),
    ]
    assert [(c.id, c.name, c.args) for c in completion.tool_calls] == [
        ("toolu_1", "weather", {"city": "Rome"}),
        ("toolu_2", "clock", {}),
    ]
    assert completion.usage == Usage(input_tokens=103, output_tokens=77, cached_input_tokens=100)
    assert completion.finish_reason is FinishReason.TOOL_CALLS
    assert completion.raw_finish_reason == "tool_use"


# -- the request ------------------------------------------------------------------------------------


def params(conversation: Conversation, **kwargs: Any) -> dict[str, Any]:
    client = AnthropicClient("claude-x", api_key="k")
    return client._params(Request(model="claude-x", conversation=conversation, **kwargs))


def test_params_defaults_max_tokens_and_omits_what_was_not_given() -> None:
    sent = params(Conversation().user("hi"))
    assert sent["max_tokens"] == DEFAULT_MAX_TOKENS == 4096
    assert sent["stream"] is True
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert not {"system", "tools", "temperature"} & set(sent)


def test_params_system_tools_temperature_and_extras() -> None:
    tool = Tool("weather", "Current weather", {"type": "object", "properties": {"city": {"type": "string"}}})
    bare = Tool("ping")
    sent = params(
        Conversation().system("One.").system("Two.").user("hi"),
        tools=(tool, bare),
        max_tokens=100,
        temperature=0.5,
        extra={"thinking": {"type": "enabled", "budget_tokens": 1024}, "top_k": 5},
    )
    assert sent["system"] == "One.\n\nTwo."
    assert sent["max_tokens"] == 100
    assert sent["temperature"] == 0.5
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["top_k"] == 5
    assert sent["tools"] == [
        {"name": "weather", "description": "Current weather", "input_schema": dict(tool.parameters)},
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}},
    ]


def test_assistant_turn_sends_thinking_first_then_text_then_tool_use() -> None:
    completion = Completion(
        text="Checking.",
        tool_calls=[ToolCall("toolu_1", "weather", '{"city": "Rome"}'), ToolCall("toolu_2", "clock", "")],
        reasoning_blocks=[ReasoningBlock("hmm", "sig"), ReasoningBlock("", None, "RED"), ReasoningBlock("x")],
    )
    conversation = Conversation().user("q").append(completion)
    conversation.tool_result("toolu_1", {"temp": 21}).tool_result("toolu_2", "boom", is_error=True)
    conversation.user("and now?")
    assert messages_payload(conversation) == [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "redacted_thinking", "data": "RED"},  # the unsigned block is not sendable: dropped
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Rome"}},
                {"type": "tool_use", "id": "toolu_2", "name": "clock", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"temp": 21}'},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
                {"type": "text", "text": "and now?"},
            ],
        },
    ]


def test_consecutive_same_role_turns_are_merged_and_empty_assistant_turns_dropped() -> None:
    conversation = Conversation().user("a").user("b").assistant("").assistant("x").assistant("y")
    assert messages_payload(conversation) == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "x"}, {"type": "text", "text": "y"}]},
    ]


# -- errors -----------------------------------------------------------------------------------------


def status_error(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Any:
    request = httpx2.Request("POST", "http://test/v1/messages")
    response = httpx2.Response(status, headers=dict(headers or {}), request=request)
    from anthropic._error_classes import make_status_error

    return make_status_error(f"Error code: {status}", body=body, response=response)


def body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, "invalid_request_error", BadRequestError),
        (401, "authentication_error", AuthenticationError),
        (403, "permission_error", AuthenticationError),
        (404, "not_found_error", BadRequestError),
        (429, "rate_limit_error", RateLimitError),
        (500, "api_error", ServerError),
        (529, "overloaded_error", ServerError),
    ],
)
def test_status_errors(status: int, kind: str, expected: type[Exception]) -> None:
    error = map_anthropic_error(status_error(status, body(kind, "nope")), "anthropic")
    assert type(error) is expected
    assert error.message == "nope"
    assert error.provider == "anthropic"
    assert getattr(error, "status_code", None) == status


def test_rate_limit_keeps_retry_after() -> None:
    error = map_anthropic_error(
        status_error(429, body("rate_limit_error", "slow"), {"retry-after": "12"}), "a"
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 12.0


def test_in_band_error_is_an_api_status_error_on_the_200_response() -> None:
    raw = status_error(200, body("overloaded_error", "Overloaded"))
    assert isinstance(raw, anthropic.APIStatusError)  # what the SDK's iterator raises on `event: error`
    error = map_anthropic_error(raw, "anthropic")
    assert isinstance(error, InBandError)
    assert error.code == "overloaded_error"
    assert error.provider == "anthropic"
    assert "Overloaded" in error.message


def test_in_band_error_whose_data_is_not_json_keeps_the_sdk_message() -> None:
    error = map_anthropic_error(status_error(200, "upstream exploded"), "anthropic")
    assert isinstance(error, InBandError)
    assert error.code is None
    assert error.message == "Error code: 200"


def test_params_the_sdk_has_no_keyword_for_go_in_extra_body() -> None:
    def create(*, model: str, max_tokens: int, extra_body: Any = None) -> None: ...

    sent = {"model": "m", "max_tokens": 1, "temperature": 0.5, "top_k": 3, "extra_body": {"top_k": 4}}
    assert for_sdk(create, sent) == {
        "model": "m",
        "max_tokens": 1,
        "extra_body": {"temperature": 0.5, "top_k": 4},  # the caller's own extra_body wins
    }

    def loose(**kwargs: Any) -> None: ...

    assert for_sdk(loose, sent) is sent
    known = {"model": "m", "max_tokens": 1}
    assert for_sdk(create, known) is known


def test_transport_level_sdk_errors() -> None:
    request = httpx2.Request("POST", "http://test/v1/messages")
    timeout = map_anthropic_error(anthropic.APITimeoutError(request), "anthropic")
    assert isinstance(timeout, StreamTimeoutError)
    connection = map_anthropic_error(anthropic.APIConnectionError(request=request), "anthropic")
    assert isinstance(connection, StreamInterruptedError)
    response = httpx2.Response(200, request=request)
    invalid = map_anthropic_error(anthropic.APIResponseValidationError(response, {"x": 1}), "anthropic")
    assert isinstance(invalid, MalformedStreamError)
    assert map_anthropic_error(ValueError("not ours"), "anthropic") is None
