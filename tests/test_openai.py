"""OpenAIClient end to end: the real openai SDK against the loopback server, sync and async."""

from __future__ import annotations

import json
from typing import Any

import pytest

import llmstream
from llmstream import (
    AuthenticationError,
    BadRequestError,
    ChunkType,
    Conversation,
    FinishReason,
    InBandError,
    OpenAIClient,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    Tool,
    Usage,
)
from tests.helpers import collect, complete, failure
from tests.loopback import LoopbackServer, Scripted, error_response, openai_stream, openai_text_chunks

WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})


def make_client(server: LoopbackServer, **kwargs: Any) -> OpenAIClient:
    kwargs.setdefault("max_retries", 0)
    return OpenAIClient("gpt-4o-mini", api_key="sk" "-test-key-0123456789abcdef", base_url=server.url + "/v1", **kwargs)


def chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def test_text_two_parallel_tool_calls_and_usage(loopback: LoopbackServer, mode: str) -> None:
    events = openai_text_chunks(
        ["It is ", "sunny."],
        tool_calls=[
            {"id": "call_a", "name": "get_weather", "arguments_pieces": ['{"ci', 'ty": "Paris"}']},
            {"id": "call_b", "name": "get_weather", "arguments_pieces": ['{"city": "Oslo"}']},
        ],
        usage={
            "prompt_tokens": 20,
            "completion_tokens": 9,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
    )
    loopback.enqueue(Scripted(chunks=openai_stream(events)))
    printed: list[str] = []
    completion = complete(
        make_client(loopback), Conversation().system("Be brief.").user("Weather?"), mode,
        tools=[WEATHER], on_chunk=lambda c: printed.append(str(c)),
    )
    assert completion.text == "It is sunny."
    assert "".join(printed) == "It is sunny."
    assert [(c.id, c.name, c.args) for c in completion.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris"}),
        ("call_b", "get_weather", {"city": "Oslo"}),
    ]
    assert completion.usage == Usage(input_tokens=20, output_tokens=9, cached_input_tokens=8, reasoning_tokens=2)
    assert completion.finish_reason == FinishReason.TOOL_CALLS
    assert (completion.id, completion.model, completion.provider) == ("chatcmpl-loop", "gpt-4o-mini", "openai")
    request = loopback.requests[-1]
    assert request.path == "/v1/chat/completions"
    assert request.json["stream"] is True and request.json["stream_options"] == {"include_usage": True}
    assert request.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request.json["tools"][0]["function"]["name"] == "get_weather"
    assert request.headers["authorization"] == "Bearer sk" "-test-key-0123456789abcdef"


def test_chunk_sequence(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["a", "b"]))))
    chunks, completion = collect(make_client(loopback), "hi", mode)
    assert [c.type for c in chunks] == [
        ChunkType.START, ChunkType.TEXT, ChunkType.TEXT, ChunkType.STOP, ChunkType.USAGE,
    ]
    assert completion.text == "ab" and completion.usage == Usage(input_tokens=10, output_tokens=5)


def test_reasoning_content_refusal_and_n_greater_than_one(loopback: LoopbackServer, mode: str) -> None:
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Let me think."}),
        chunk({"content": "first"}),
        chunk({"content": "second choice"}, index=1),
        chunk({"refusal": "I can't help"}),
        chunk({}, "stop"),
        chunk({}, "length", index=1),
    ]
    loopback.enqueue(Scripted(chunks=openai_stream(events)))
    completion = complete(make_client(loopback), "hi", mode)
    assert (completion.reasoning, completion.text, completion.refusal) == ("Let me think.", "first", "I can't help")
    assert completion.finish_reason == FinishReason.STOP


def test_compatible_server_quirks(loopback: LoopbackServer, mode: str) -> None:
    """Repeated id/name in every delta, arguments null, no index, and no finish_reason at all."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": None}}
    events = [
        chunk({"role": "assistant", "content": None, "tool_calls": [{"index": 0, **call}]}),
        chunk({"tool_calls": [{"index": 0, **call, "function": {"name": "f", "arguments": '{"a"'}}]}),
        chunk({"tool_calls": [{"index": 0, **call, "function": {"name": "f", "arguments": ": 1}"}}]}),
        chunk({"tool_calls": [{"id": "c2", "type": "function", "function": {"name": "g", "arguments": None}}]}),
    ]
    loopback.enqueue(Scripted(chunks=openai_stream(events)))
    completion = complete(make_client(loopback), "hi", mode)
    assert [(c.id, c.name, c.args) for c in completion.tool_calls] == [("c1", "f", {"a": 1}), ("c2", "g", {})]
    assert completion.finish_reason == FinishReason.TOOL_CALLS
    assert completion.raw_finish_reason is None


@pytest.mark.parametrize(
    ("status", "error_type", "headers"),
    [
        (401, AuthenticationError, {}),
        (403, AuthenticationError, {}),
        (404, BadRequestError, {}),
        (400, BadRequestError, {}),
        (429, RateLimitError, {"retry-after": "7"}),
        (500, ServerError, {}),
        (503, ServerError, {}),
    ],
)
def test_status_errors_map_to_the_tree(
    loopback: LoopbackServer, mode: str, status: int, error_type: type, headers: dict[str, str]
) -> None:
    loopback.enqueue(error_response("openai", status, "nope: sk" "-leaked-key-0123456789abcdef", headers=headers))
    error, seen = failure(make_client(loopback), "hi", mode)
    assert type(error) is error_type
    assert error.status_code == status  # type: ignore[attr-defined]
    assert error.provider == "openai"
    assert "sk" "-leaked-key" not in str(error) and "sk" "-leaked-key" not in json.dumps(error.body)  # type: ignore[attr-defined]
    assert seen == []
    if status == 429:
        assert error.retry_after == 7.0  # type: ignore[attr-defined]


def test_in_band_error_keeps_the_partial(loopback: LoopbackServer, mode: str) -> None:
    frames = openai_stream([chunk({"role": "assistant", "content": "par"}), chunk({"content": "tial"})], done=False)
    frames.append(b'data: {"error": {"message": "server overloaded", "code": "overloaded"}}\n\n')
    loopback.enqueue(Scripted(chunks=frames))
    error, seen = failure(make_client(loopback), "hi", mode)
    assert isinstance(error, InBandError)
    assert error.code == "overloaded"
    assert error.partial is not None and error.partial.text == "partial" == "".join(seen)
    assert error.partial.finish_reason == FinishReason.ERROR


def test_dropped_connection_keeps_the_partial(loopback: LoopbackServer, mode: str) -> None:
    frames = openai_stream(openai_text_chunks(["one ", "two ", "three"]))
    loopback.enqueue(Scripted(chunks=frames, drop_after=3))
    error, seen = failure(make_client(loopback), "hi", mode)
    assert isinstance(error, StreamInterruptedError)
    assert error.partial is not None and error.partial.text == "one two " == "".join(seen)


def test_retry_on_503_then_success(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(
        error_response("openai", 503, "busy", headers={"retry-after": "0"}),
        Scripted(chunks=openai_stream(openai_text_chunks(["ok"]))),
    )
    completion = complete(make_client(loopback, max_retries=2), "hi", mode)
    assert completion.text == "ok"
    assert len(loopback.requests) == 2


def test_raising_callback_closes_the_connection(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["a", "b", "c"])), gate_after=3))

    def boom(chunk: Any) -> None:
        if chunk.text == "a":
            raise RuntimeError("stop")

    with pytest.raises(llmstream.CallbackError):
        complete(make_client(loopback), "hi", mode, on_chunk=boom)
    assert loopback.wait_idle(timeout=5.0)
    assert loopback.open_connections == 0


def test_factory_and_max_tokens_parameter(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["x"]))))
    client = llmstream.client("openai:gpt-4o-mini", base_url=loopback.url + "/v1", max_retries=0)
    assert isinstance(client, OpenAIClient)
    client.stream_complete("hi", max_tokens=5, temperature=0.2, seed=7)
    body = loopback.requests[-1].json
    # A custom base_url is an OpenAI-compatible server: those know max_tokens.
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (5, 0.2, 7)


def test_multi_turn_tool_round_trip(loopback: LoopbackServer) -> None:
    loopback.enqueue(
        Scripted(chunks=openai_stream(openai_text_chunks([], tool_calls=[{"id": "call_1", "name": "get_weather",
                                                                            "arguments": {"city": "Paris"}}]))),
        Scripted(chunks=openai_stream(openai_text_chunks(["21C"]))),
    )
    client = make_client(loopback)
    conversation = Conversation().user("Weather in Paris?")
    first = client.stream_complete(conversation, tools=[WEATHER])
    conversation.append(first)
    for call in first.tool_calls:
        conversation.tool_result(call.id, {"temp": 21})
    second = client.stream_complete(conversation, tools=[WEATHER])
    assert second.text == "21C"
    messages = loopback.requests[-1].json["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'}


def test_key_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(llmstream.ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIClient("gpt-4o-mini").stream_complete("hi")
    monkeypatch.setenv("OPENAI_API_KEY", "sk" "-env-key-0123456789abcdefgh")
    client = OpenAIClient("gpt-4o-mini")
    assert "sk" "-env" not in repr(client) and "sk" "-env" not in str(client)
    assert client._require_key() == "sk" "-env-key-0123456789abcdefgh"


@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk_models", "own_decoding"])
def test_async_streams_reuse_the_connection(loopback: LoopbackServer, sdk_models: bool) -> None:
    # After [DONE] the end of the body is read, so the connection goes back to the pool (the SDK
    # path does the same): no new TCP/TLS handshake before each answer's first token.
    import asyncio

    loopback.default = Scripted(chunks=openai_stream(openai_text_chunks(["Hello", " world"])))
    client = make_client(loopback, sdk_models=sdk_models)

    async def run() -> list[str]:
        texts = [(await client.astream_complete("hi")).text for _ in range(3)]
        await client.aclose()
        return texts

    assert asyncio.run(run()) == ["Hello world"] * 3
    assert loopback.total_connections == 1


def test_own_decoding_reads_done_as_a_prefix_like_the_sdk(loopback: LoopbackServer, mode: str) -> None:
    body = [*openai_stream(openai_text_chunks(["Hi"]), done=False), b"data: [DONE] \n\n"]
    loopback.enqueue(Scripted(chunks=body))
    assert complete(make_client(loopback, sdk_models=False), "hi", mode).text == "Hi"
