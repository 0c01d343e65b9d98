"""GeminiTranslator, request conversion and error mapping on the SDK's own typed objects (no I/O).

Responses are parsed exactly as ``google.genai.models`` parses each streamed SSE event:
``_GenerateContentResponse_from_mldev`` then ``GenerateContentResponse._from_response``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, ClassVar

import pytest

pytest.importorskip("google.genai")

from google.genai import errors, types
from google.genai.models import _GenerateContentResponse_from_mldev

from llmstream import (
    AuthenticationError,
    BadRequestError,
    ChunkType,
    ConfigurationError,
    Conversation,
    FinishReason,
    InBandError,
    MalformedStreamError,
    Message,
    RateLimitError,
    ReasoningBlock,
    ServerError,
    StreamedChunk,
    StreamingAccumulator,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from llmstream._settings import Request
from llmstream.providers._gemini_dicts import GeminiDictTranslator
from llmstream.providers.gemini import (
    FINISH_REASONS,
    GeminiClient,
    GeminiTranslator,
    contents_payload,
    map_gemini_error,
)

C = ChunkType
SIG = b"\x00\x01opaque-signature\xff"
SIG64 = base64.b64encode(SIG).decode()


def parse(data: dict[str, Any]) -> types.GenerateContentResponse:
    """One streamed chunk, parsed as the SDK parses it (camelCase wire JSON in)."""
    converted = _GenerateContentResponse_from_mldev(json.loads(json.dumps(data)))
    return types.GenerateContentResponse._from_response(response=converted, kwargs={})


def chunk(
    parts: list[dict[str, Any]] | None = None,
    *,
    finish: str | None = None,
    usage: dict[str, int] | None = None,
    response_id: str = "resp-1",
) -> dict[str, Any]:
    data: dict[str, Any] = {"modelVersion": "gemini-2.5-flash", "responseId": response_id}
    if parts is not None or finish is not None:
        candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": parts or []}}
        if finish is not None:
            candidate["finishReason"] = finish
        data["candidates"] = [candidate]
    if usage is not None:
        data["usageMetadata"] = usage
    return data


def translate_all(*datas: dict[str, Any]) -> list[StreamedChunk]:
    """The SDK-model translator's chunks, checked equal to the fast path's (the dict translator on the
    same wire JSON, ``GeminiClient(sdk_models=False)``)."""
    translator = GeminiTranslator()
    out = [c for data in datas for c in translator.translate(parse(data))]
    out += translator.end()
    fast = GeminiDictTranslator()
    wire = [json.loads(json.dumps(data)) for data in datas]
    own = []
    for data in wire:
        chunks = fast.translate(data)
        assert all(c.raw is data for c in chunks)  # chunk.raw: the event's own dict
        own += chunks
    assert own + fast.end() == out, "the dict translator differs from the SDK-model one"
    return out


def start() -> StreamedChunk:
    return StreamedChunk(C.START, id="resp-1", model="gemini-2.5-flash")


# -- translation ---------------------------------------------------------------------------------


def test_thoughts_text_and_signatures_become_exact_chunks() -> None:
    chunks = translate_all(
        chunk([{"text": "Let me think", "thought": True}]),
        chunk([{"text": " more", "thought": True, "thoughtSignature": SIG64}]),
        chunk([{"text": "Hello"}]),
        chunk([{"text": " world", "thoughtSignature": SIG64}], finish="STOP"),
    )
    assert chunks == [
        start(),
        StreamedChunk(C.REASONING, "Let me think"),
        StreamedChunk(C.REASONING, " more"),
        StreamedChunk(C.REASONING, "", signature=SIG64),
        StreamedChunk(C.TEXT, "Hello"),
        StreamedChunk(C.TEXT, " world"),
        StreamedChunk(C.REASONING, "", signature=SIG64),
        StreamedChunk(C.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="STOP"),
    ]
    completion = StreamingAccumulator().add_all(chunks).completion()
    assert completion.text == "Hello world"  # thoughts never leak into the answer
    assert completion.reasoning == "Let me think more"
    assert completion.reasoning_blocks == [
        ReasoningBlock("Let me think more", SIG64),
        ReasoningBlock("", SIG64),
    ]


def test_every_chunk_keeps_the_sdk_response_as_raw() -> None:
    response = parse(chunk([{"text": "a"}, {"text": "b", "thought": True}], finish="STOP", usage={}))
    chunks = GeminiTranslator().translate(response)
    assert [c.type for c in chunks] == [C.START, C.TEXT, C.REASONING, C.USAGE, C.STOP]
    assert all(c.raw is response for c in chunks)


def test_parallel_function_calls_in_one_chunk_keep_order_and_get_stable_ids() -> None:
    datas = [
        chunk([{"text": "Checking."}]),
        chunk(
            [
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": SIG64},
                {"functionCall": {"name": "time", "args": {"tz": "Europe/Paris", "ü": "ñ"}}},
            ]
        ),
        chunk([{"functionCall": {"name": "weather", "id": "fc-7", "args": {"city": "Oslo"}}}], finish="STOP"),
    ]
    chunks = translate_all(*datas)
    paris, tz, oslo = '{"city":"Paris"}', '{"tz":"Europe/Paris","ü":"ñ"}', '{"city":"Oslo"}'
    assert chunks[2:] == [
        StreamedChunk(
            C.TOOL_CALL_START, tool_call=ToolCallDelta(0, "call_0_weather", "weather", ""), signature=SIG64
        ),
        StreamedChunk(C.TOOL_CALL_DELTA, tool_call=ToolCallDelta(0, arguments=paris)),
        StreamedChunk(
            C.TOOL_CALL_END, tool_call=ToolCallDelta(0, "call_0_weather", "weather", paris), signature=SIG64
        ),
        StreamedChunk(C.TOOL_CALL_START, tool_call=ToolCallDelta(1, "call_1_time", "time", "")),
        StreamedChunk(C.TOOL_CALL_DELTA, tool_call=ToolCallDelta(1, arguments=tz)),
        StreamedChunk(C.TOOL_CALL_END, tool_call=ToolCallDelta(1, "call_1_time", "time", tz)),
        StreamedChunk(C.TOOL_CALL_START, tool_call=ToolCallDelta(2, "fc-7", "weather", "")),
        StreamedChunk(C.TOOL_CALL_DELTA, tool_call=ToolCallDelta(2, arguments=oslo)),
        StreamedChunk(C.TOOL_CALL_END, tool_call=ToolCallDelta(2, "fc-7", "weather", oslo)),
        StreamedChunk(C.STOP, finish_reason=FinishReason.TOOL_CALLS, raw_finish_reason="STOP"),
    ]
    assert translate_all(*datas) == chunks  # a replay gives the same ids: deterministic
    completion = StreamingAccumulator().add_all(chunks).completion()
    assert completion.text == "Checking."
    assert completion.tool_calls == [
        ToolCall("call_0_weather", "weather", paris, signature=SIG64),
        ToolCall("call_1_time", "time", tz),
        ToolCall("fc-7", "weather", oslo),
    ]
    assert completion.tool_calls[1].args == {"tz": "Europe/Paris", "ü": "ñ"}
    assert completion.finish_reason is FinishReason.TOOL_CALLS


def test_a_call_without_args_has_empty_object_arguments() -> None:
    chunks = translate_all(chunk([{"functionCall": {"name": "now"}}], finish="STOP"))
    call = StreamingAccumulator().add_all(chunks).completion().tool_calls[0]
    assert (call.id, call.arguments, call.args) == ("call_0_now", "{}", {})


def test_usage_is_cumulative_and_the_last_wins() -> None:
    first = {"promptTokenCount": 12, "candidatesTokenCount": 1, "thoughtsTokenCount": 40}
    last = {
        "promptTokenCount": 12,
        "candidatesTokenCount": 9,
        "thoughtsTokenCount": 40,
        "cachedContentTokenCount": 8,
        "toolUsePromptTokenCount": 3,
        "totalTokenCount": 64,
    }
    chunks = translate_all(
        chunk([{"text": "a"}], usage=first),
        chunk([{"text": "b"}], usage=last, finish="STOP"),
        chunk(usage=last | {"candidatesTokenCount": 10, "totalTokenCount": 65}),  # a usage-only tail
    )
    usages = [c.usage for c in chunks if c.type is C.USAGE]
    assert usages == [
        Usage(input_tokens=12, output_tokens=41, reasoning_tokens=40),
        Usage(input_tokens=15, output_tokens=49, cached_input_tokens=8, reasoning_tokens=40),
        Usage(input_tokens=15, output_tokens=50, cached_input_tokens=8, reasoning_tokens=40),
    ]
    assert usages[-1] is not None and usages[-1].total_tokens == 65  # matches Gemini's totalTokenCount
    assert [c.type for c in chunks[-2:]] == [C.STOP, C.USAGE]  # the tail brings only usage: no 2nd STOP
    completion = StreamingAccumulator().add_all(chunks).completion()
    assert completion.usage == usages[-1]
    assert completion.finish_reason is FinishReason.STOP


def test_missing_token_counts_are_zero() -> None:
    (usage_chunk,) = [c for c in translate_all(chunk(usage={})) if c.type is C.USAGE]
    assert usage_chunk.usage == Usage()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", FinishReason.STOP),
        ("MAX_TOKENS", FinishReason.LENGTH),
        ("SAFETY", FinishReason.CONTENT_FILTER),
        ("RECITATION", FinishReason.CONTENT_FILTER),
        ("BLOCKLIST", FinishReason.CONTENT_FILTER),
        ("PROHIBITED_CONTENT", FinishReason.CONTENT_FILTER),
        ("SPII", FinishReason.CONTENT_FILTER),
        ("IMAGE_SAFETY", FinishReason.CONTENT_FILTER),
        ("MALFORMED_FUNCTION_CALL", FinishReason.ERROR),
        ("LANGUAGE", FinishReason.OTHER),
        ("OTHER", FinishReason.OTHER),
        ("FINISH_REASON_UNSPECIFIED", FinishReason.OTHER),
    ],
)
def test_finish_reason_table(raw: str, expected: FinishReason) -> None:
    assert FINISH_REASONS.get(raw, FinishReason.OTHER) is expected
    chunks = translate_all(chunk([{"text": "x"}], finish=raw))
    assert chunks[-1] == StreamedChunk(C.STOP, finish_reason=expected, raw_finish_reason=raw)
    completion = StreamingAccumulator().add_all(chunks).completion()
    assert (completion.finish_reason, completion.raw_finish_reason) == (expected, raw)


def test_an_unknown_finish_reason_is_other_and_keeps_the_vendor_word() -> None:
    with pytest.warns(UserWarning, match="BRAND_NEW_REASON"):  # the SDK's own warning for new enum values
        chunks = translate_all(chunk([{"text": "x"}], finish="BRAND_NEW_REASON"))
    assert chunks[-1] == StreamedChunk(
        C.STOP, finish_reason=FinishReason.OTHER, raw_finish_reason="BRAND_NEW_REASON"
    )


def test_stop_after_a_function_call_in_an_earlier_chunk_is_tool_calls() -> None:
    chunks = translate_all(chunk([{"functionCall": {"name": "f", "args": {}}}]), chunk([], finish="STOP"))
    assert chunks[-1].finish_reason is FinishReason.TOOL_CALLS
    assert chunks[-1].raw_finish_reason == "STOP"


def test_a_blocked_prompt_stops_with_content_filter() -> None:
    data = {
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 7, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }
    chunks = translate_all(data)
    assert chunks == [
        start(),
        StreamedChunk(C.USAGE, usage=Usage(input_tokens=7)),
        StreamedChunk(
            C.STOP, finish_reason=FinishReason.CONTENT_FILTER, raw_finish_reason="PROHIBITED_CONTENT"
        ),
    ]
    completion = StreamingAccumulator().add_all(chunks).completion()
    assert (completion.text, completion.finish_reason) == ("", FinishReason.CONTENT_FILTER)


def test_code_execution_parts_are_server_tools_not_text() -> None:
    data = chunk(
        [
            {"text": "Computing. "},
            {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)"}},
            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
            {"text": "The answer is 42."},
        ],
        finish="STOP",
    )
    chunks = translate_all(data)
    assert [c.type for c in chunks] == [C.START, C.TEXT, C.SERVER_TOOL, C.SERVER_TOOL, C.TEXT, C.STOP]
    completion = StreamingAccumulator().add_all(chunks).completion()
    assert completion.text == parse(data).text == "Computing. The answer is 42."
    assert completion.tool_calls == []
    [run] = completion.server_tools
    assert (run.name, run.status, run.arguments, run.output, run.text_offset) == (
        "code_execution", "completed", {"language": "PYTHON", "code": "print(6 * 7)"},
        {"outcome": "OUTCOME_OK", "output": "42\n"}, len("Computing. "))
    assert completion.finish_reason is FinishReason.STOP


def test_only_the_first_candidate_is_followed() -> None:
    data = chunk([{"text": "first"}], finish="STOP")
    data["candidates"].append({"index": 1, "content": {"role": "model", "parts": [{"text": "second"}]}})
    assert [c.text for c in translate_all(data) if c.type is C.TEXT] == ["first"]


def test_start_is_emitted_once() -> None:
    chunks = translate_all(chunk([{"text": "a"}]), chunk([{"text": "b"}], response_id="other"))
    assert [c for c in chunks if c.type is C.START] == [start()]


def test_a_stream_without_a_finish_reason_gets_one_at_its_end() -> None:
    text_only = translate_all(chunk([{"text": "a"}]))
    assert text_only[-1] == StreamedChunk(C.STOP, finish_reason=FinishReason.OTHER)
    with_call = translate_all(chunk([{"functionCall": {"name": "f", "args": {}}}]))
    assert with_call[-1] == StreamedChunk(C.STOP, finish_reason=FinishReason.TOOL_CALLS)


def test_a_repeated_finish_reason_is_one_stop() -> None:
    chunks = translate_all(chunk([{"text": "a"}], finish="STOP"), chunk([], finish="STOP"))
    assert [c.type for c in chunks].count(C.STOP) == 1


# -- request conversion --------------------------------------------------------------------------


def dump(contents: list[Any]) -> list[dict[str, Any]]:
    return [content.model_dump(exclude_none=True) for content in contents]


def test_contents_from_a_multi_turn_tool_conversation() -> None:
    completion = (
        StreamingAccumulator()
        .add_all(
            translate_all(
                chunk([{"text": "Hmm.", "thought": True}]),
                chunk(
                    [
                        {
                            "functionCall": {"name": "weather", "args": {"city": "Paris"}},
                            "thoughtSignature": SIG64,
                        },
                        {"functionCall": {"name": "lookup", "id": "fc-9", "args": {"q": "x"}}},
                    ],
                    finish="STOP",
                ),
            )
        )
        .completion()
    )
    conversation = Conversation().system("Be brief.").user("Weather?").append(completion)
    conversation.tool_result("call_0_weather", {"temp_c": 21})
    conversation.tool_result("fc-9", "not found", is_error=True)
    conversation.user("Thanks")
    assert dump(contents_payload(conversation, types)) == [
        {"role": "user", "parts": [{"text": "Weather?"}]},
        {
            "role": "model",
            "parts": [
                {"function_call": {"name": "weather", "args": {"city": "Paris"}}, "thought_signature": SIG},
                {"function_call": {"id": "fc-9", "name": "lookup", "args": {"q": "x"}}},
            ],
        },
        {
            "role": "user",
            "parts": [  # both results in one turn; the synthesized id is never sent, Gemini's own is
                {"function_response": {"name": "weather", "response": {"result": {"temp_c": 21}}}},
                {"function_response": {"id": "fc-9", "name": "lookup", "response": {"error": "not found"}}},
            ],
        },
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]  # the signature: base64 in the completion, the original bytes for the SDK again


def test_a_text_turn_signature_goes_back_on_its_text_part() -> None:
    completion = (
        StreamingAccumulator()
        .add_all(translate_all(chunk([{"text": "Hi", "thoughtSignature": SIG64}], finish="STOP")))
        .completion()
    )
    model_turn = contents_payload(Conversation().user("x").append(completion), types)[1]
    assert dump([model_turn]) == [{"role": "model", "parts": [{"text": "Hi", "thought_signature": SIG}]}]


def test_empty_assistant_turns_are_left_out_and_foreign_signatures_dropped() -> None:
    conversation = Conversation().user("a").assistant("").user("b")
    conversation.append(Message("assistant", "ok", reasoning_blocks=(ReasoningBlock("t", "not base64!"),)))
    assert dump(contents_payload(conversation, types)) == [
        {"role": "user", "parts": [{"text": "a"}]},
        {"role": "user", "parts": [{"text": "b"}]},
        {"role": "model", "parts": [{"text": "ok"}]},
    ]


def test_a_tool_result_needs_a_tool_name() -> None:
    nameless = Conversation([Message("tool", "1", tool_call_id="abc")])
    with pytest.raises(ConfigurationError, match="tool name"):
        contents_payload(nameless, types)
    # A synthesized id still names its tool.
    synthesized = Conversation([Message("tool", "plain text", tool_call_id="call_3_get_time")])
    assert dump(contents_payload(synthesized, types))[0]["parts"] == [
        {"function_response": {"name": "get_time", "response": {"result": "plain text"}}}
    ]


def request(**kwargs: Any) -> Request:
    kwargs.setdefault("conversation", Conversation().system("Sys one.").system("Sys two.").user("Hi"))
    return Request(model="gemini-2.5-flash", **kwargs)


def test_params_config_from_the_request() -> None:
    tool = Tool("weather", "Current weather", {"type": "object", "properties": {"city": {"type": "string"}}})
    thinking = {"thinking_budget": 128, "include_thoughts": True}
    params = GeminiClient("gemini-2.5-flash", api_key="k")._params(
        request(tools=(tool,), max_tokens=64, temperature=0.25, extra={"thinking_config": thinking}), types
    )
    config = params["config"]
    assert params["model"] == "gemini-2.5-flash"
    assert config.system_instruction == "Sys one.\n\nSys two."
    assert config.max_output_tokens == 64
    assert config.temperature == 0.25
    assert config.thinking_config == types.ThinkingConfig(thinking_budget=128, include_thoughts=True)
    assert config.automatic_function_calling.disable is True
    (declaration,) = config.tools[0].function_declarations
    assert (declaration.name, declaration.description) == ("weather", "Current weather")
    assert declaration.parameters_json_schema == dict(tool.parameters)
    assert dump(params["contents"]) == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_an_unknown_extra_goes_to_http_options_extra_body_and_a_mistyped_one_is_refused() -> None:
    client = GeminiClient("gemini-2.5-flash", api_key="k")
    params = client._params(request(extra={"not_a_gemini_option": 1, "top_k": 40}), types)
    assert params["config"].http_options.extra_body == {"not_a_gemini_option": 1}  # google-genai's pass-through
    assert params["config"].top_k == 40  # a field the config knows stays in it
    with pytest.raises(ConfigurationError, match="temperature"):
        client._params(request(extra={"temperature": "very hot"}), types)


# -- errors --------------------------------------------------------------------------------------


def status_body(code: int, status: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def test_a_bad_key_reported_as_400_is_an_authentication_error() -> None:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
    }
    body = status_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [info])
    error = map_gemini_error(errors.ClientError(400, body), "gemini")
    assert isinstance(error, AuthenticationError)
    assert (error.status_code, error.message, error.body) == (
        400,
        "API key not valid. Please pass a valid API key.",
        body,
    )


def test_other_400s_stay_bad_requests() -> None:
    error = map_gemini_error(
        errors.ClientError(400, status_body(400, "INVALID_ARGUMENT", "bad schema")), "gemini"
    )
    assert isinstance(error, BadRequestError)
    assert not isinstance(error, AuthenticationError)


def test_retry_info_becomes_retry_after() -> None:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}
    error = map_gemini_error(
        errors.ClientError(429, status_body(429, "RESOURCE_EXHAUSTED", "quota", [retry])), "gemini"
    )
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 26.0
    server = map_gemini_error(
        errors.ServerError(503, status_body(503, "UNAVAILABLE", "overloaded")), "gemini"
    )
    assert isinstance(server, ServerError)
    assert (server.status_code, server.retry_after) == (503, None)


class _Ok:
    """What the SDK attaches to an error event read from a 200 stream."""

    status_code = 200
    headers: ClassVar[dict[str, str]] = {}


def test_an_error_event_inside_a_200_stream_is_in_band() -> None:
    body = status_body(500, "INTERNAL", "An internal error has occurred.")
    error = map_gemini_error(errors.ServerError(500, body, _Ok()), "gemini")
    assert isinstance(error, InBandError)
    assert error.message == "An internal error has occurred."


def test_undecodable_chunks_are_malformed_and_foreign_exceptions_fall_through() -> None:
    assert isinstance(map_gemini_error(errors.UnknownApiResponseError("x"), "gemini"), MalformedStreamError)
    assert map_gemini_error(KeyError("x"), "gemini") is None
