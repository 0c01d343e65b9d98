"""GeminiClient end to end: the real ``google-genai`` SDK against the loopback server, sync and async."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import threading
from typing import Any

import pytest

pytest.importorskip("google.genai")

import llmstream
from llmstream import (
    AuthenticationError,
    BadRequestError,
    ChunkType,
    Completion,
    ConfigurationError,
    Conversation,
    FinishReason,
    InBandError,
    RateLimitError,
    ReasoningBlock,
    ServerError,
    StreamInterruptedError,
    StreamTimeoutError,
    Tool,
    ToolCall,
    Usage,
)
from llmstream.providers.gemini import GeminiClient
from tests.helpers import collect, complete, failure
from tests.loopback import (
    LoopbackServer,
    RecordedRequest,
    Scripted,
    error_response,
    gemini_error_body,
    gemini_stream,
    gemini_text_responses,
)

KEY = "AI" "zaSyTEST-not-a-real-key-0123456789"
MODEL = "gemini-2.5-flash"
SIG = base64.b64encode(b"\x8a\x01thought-signature\xfe").decode()
WEATHER = Tool("weather", "Current weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def make_client(server: LoopbackServer, **kwargs: Any) -> GeminiClient:
    kwargs.setdefault("api_key", KEY)
    kwargs.setdefault("max_retries", 0)
    return GeminiClient(MODEL, base_url=server.url, **kwargs)


def body_of(request: RecordedRequest) -> Any:
    assert request.json is not None, request.body
    return request.json


def stream_of(responses: list[dict[str, Any]], **kwargs: Any) -> Scripted:
    return Scripted(chunks=gemini_stream(responses), **kwargs)


def rich_responses() -> list[dict[str, Any]]:
    """Thoughts, text, two parallel function calls (the first signed), cumulative usage."""
    responses = gemini_text_responses(
        ["The weather ", "in two cities:"],
        thought_pieces=["Two cities, ", "two calls."],
        function_calls=[
            {"name": "weather", "args": {"city": "Paris"}},
            {"name": "weather", "args": {"city": "Oslo"}},
        ],
        prompt_tokens=21,
        candidates_tokens=30,
        thoughts_tokens=12,
    )
    responses[-1]["candidates"][0]["content"]["parts"][0]["thoughtSignature"] = SIG
    return responses


def test_text_thoughts_parallel_calls_and_usage_make_the_full_completion(
    loopback: LoopbackServer, mode: str
) -> None:
    loopback.enqueue(stream_of(rich_responses()))
    client = make_client(loopback)
    chunks, completion = collect(
        client, Conversation().system("Be brief.").user("Weather?"), mode, tools=[WEATHER]
    )

    assert completion.text == "The weather in two cities:"
    assert completion.reasoning == "Two cities, two calls."
    assert completion.tool_calls == [
        ToolCall("call_0_weather", "weather", '{"city":"Paris"}', signature=SIG),
        ToolCall("call_1_weather", "weather", '{"city":"Oslo"}'),
    ]
    assert completion.usage == Usage(input_tokens=21, output_tokens=42, reasoning_tokens=12)
    assert (completion.finish_reason, completion.raw_finish_reason) == (FinishReason.TOOL_CALLS, "STOP")
    assert (completion.id, completion.model, completion.provider) == ("loop-response-1", MODEL, "gemini")
    assert completion.error is None
    kinds = [chunk.type for chunk in chunks]
    assert kinds[0] is ChunkType.START and kinds[-1] is ChunkType.STOP
    assert kinds.count(ChunkType.TOOL_CALL_END) == 2

    (request,) = loopback.requests
    assert request.path == f"/v1/models/{MODEL}:streamGenerateContent"
    assert request.query == {"alt": "sse"}
    assert request.headers["x-goog-api-key"] == KEY
    assert "x-server-timeout" not in request.headers  # no server deadline unless total_timeout is set
    body = body_of(request)
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Weather?"}]}]
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["name"] == "weather"
    assert (
        declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema"))
        == WEATHER.parameters
    )


def test_the_factory_and_sdk_options(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(stream_of(gemini_text_responses(["Hi"])))
    client = llmstream.client(
        "gemini:gemini-2.5-flash", api_key="k", base_url=loopback.url, api_version="v1beta"
    )
    assert isinstance(client, GeminiClient)
    completion = complete(
        client, "Hello", mode, max_tokens=50, temperature=0.5, thinking_config={"thinking_budget": 0}
    )
    assert completion.text == "Hi"
    request = loopback.requests[-1]
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert request.headers["x-goog-api-key"] == "k"
    config = body_of(request)["generationConfig"]
    assert (config["maxOutputTokens"], config["temperature"]) == (50, 0.5)
    # The SDK serialises this nested config with snake_case keys (the API accepts both spellings).
    assert config["thinkingConfig"] in ({"thinkingBudget": 0}, {"thinking_budget": 0})


def test_a_dropped_connection_is_interrupted_with_the_partial_text(
    loopback: LoopbackServer, mode: str
) -> None:
    loopback.enqueue(stream_of(gemini_text_responses(["one ", "two ", "three"]), drop_after=2))
    error, seen = failure(make_client(loopback), "count", mode)
    assert isinstance(error, StreamInterruptedError)
    assert seen == ["one ", "two "]
    assert error.partial is not None
    assert (error.partial.text, error.partial.finish_reason) == ("one two ", FinishReason.ERROR)


def api_key_invalid() -> Scripted:
    body = gemini_error_body(400, "API key not valid. Please pass a valid API key.")
    body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
        }
    ]
    return Scripted.json(body, 400)


@pytest.mark.parametrize(
    ("scripted", "expected", "status"),
    [
        (api_key_invalid(), AuthenticationError, 400),
        (error_response("gemini", 403, "Permission denied"), AuthenticationError, 403),
        (error_response("gemini", 404, "models/nope is not found"), BadRequestError, 404),
        (error_response("gemini", 429, "Resource exhausted"), RateLimitError, 429),
        (error_response("gemini", 500, "Internal error"), ServerError, 500),
        (error_response("gemini", 503, "The model is overloaded"), ServerError, 503),
        # A JSON error body served as text/event-stream (seen in recorded traffic) maps the same way.
        (
            Scripted(
                status=503,
                chunks=[json.dumps(gemini_error_body(503, "The model is overloaded")).encode()],
                headers={"Content-Type": "text/event-stream"},
            ),
            ServerError,
            503,
        ),
    ],
)
def test_http_errors_map_to_the_error_tree(
    loopback: LoopbackServer, mode: str, scripted: Scripted, expected: type[Exception], status: int
) -> None:
    loopback.enqueue(scripted)
    error, seen = failure(make_client(loopback), "hi", mode)
    assert type(error) is expected
    assert getattr(error, "status_code", None) == status
    assert error.provider == "gemini"
    assert KEY not in str(error)
    assert seen == []
    assert len(loopback.requests) == 1  # the SDK's own retries are off


def test_rate_limit_retry_info_and_retry_after_header(loopback: LoopbackServer, mode: str) -> None:
    body = gemini_error_body(429, "Quota exceeded")
    body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}]
    loopback.enqueue(
        Scripted.json(body, 429), error_response("gemini", 429, "slow down", headers={"retry-after": "3"})
    )
    client = make_client(loopback)
    first, _ = failure(client, "hi", mode)
    second, _ = failure(client, "hi", mode)
    assert isinstance(first, RateLimitError) and first.retry_after == 17.0
    assert isinstance(second, RateLimitError) and second.retry_after == 3.0


def test_our_retry_policy_retries_before_the_first_chunk(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(error_response("gemini", 503, "overloaded"), stream_of(gemini_text_responses(["ok"])))
    completion = complete(make_client(loopback, max_retries=1, retry_backoff=0.0), "hi", mode)
    assert completion.text == "ok"
    assert len(loopback.requests) == 2


def test_an_error_event_inside_a_200_stream_is_in_band(loopback: LoopbackServer, mode: str) -> None:
    responses: list[dict[str, Any]] = [
        *gemini_text_responses(["partial "])[:1],
        gemini_error_body(500, "Internal"),
    ]
    responses[0]["candidates"][0].pop("finishReason", None)
    loopback.enqueue(stream_of(responses))
    error, seen = failure(make_client(loopback), "hi", mode)
    assert isinstance(error, InBandError)
    assert error.message == "Internal"
    assert seen == ["partial "]
    assert error.partial is not None and error.partial.text == "partial "


def test_idle_timeout_applies_to_each_read(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(stream_of(gemini_text_responses(["a", "b", "c"]), stall_after=1))
    # The client default is generous; the per-call override must reach the SDK's HTTP request.
    error, seen = failure(make_client(loopback, idle_timeout=30.0), "hi", mode, idle_timeout=0.2)
    assert isinstance(error, StreamTimeoutError)
    assert seen == ["a"]


def test_total_timeout_cuts_a_stalled_stream_short(loopback: LoopbackServer, mode: str) -> None:
    # The shells' watchdog shuts the socket under the response this client captured from the SDK.
    loopback.enqueue(stream_of(gemini_text_responses(["a", "b"]), stall_after=1))
    error, seen = failure(make_client(loopback, idle_timeout=30.0, total_timeout=0.5), "hi", mode)
    assert isinstance(error, StreamTimeoutError)
    assert "total_timeout" in str(error)
    assert seen == ["a"]


def test_continuation_hops_run_under_the_streams_settings(loopback: LoopbackServer, mode: str) -> None:
    # The SDK follows a continuation token with a second request; it is part of the same stream.
    token = base64.b64encode(b"resume-here").decode()
    first = gemini_text_responses(["Long ", "answer, "])
    first[-1]["candidates"][0].update(finishReason="CONTINUATION", continuationToken=token)
    loopback.enqueue(stream_of(first), stream_of(gemini_text_responses(["continued."])))
    completion = complete(make_client(loopback), "hi", mode, total_timeout=42)
    assert (completion.text, completion.finish_reason) == ("Long answer, continued.", FinishReason.STOP)
    assert len(loopback.requests) == 2
    assert body_of(loopback.requests[1])["continuationToken"] == token
    # The per-call setting reached both HTTP requests: the hop was sent inside this stream's context.
    assert [r.headers.get("x-server-timeout") for r in loopback.requests] == ["42", "42"]


def test_total_timeout_is_the_server_deadline(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(stream_of(gemini_text_responses(["a"])))
    complete(make_client(loopback, total_timeout=90.5), "hi", mode)
    assert loopback.requests[-1].headers["x-server-timeout"] == "91"


def test_multi_turn_tool_round_trip_sends_calls_signatures_and_results(
    loopback: LoopbackServer, mode: str
) -> None:
    first = rich_responses()
    oslo_call = first[-1]["candidates"][0]["content"]["parts"][1]["functionCall"]
    oslo_call["id"] = "fc-oslo"  # Gemini gave this one an id
    loopback.enqueue(stream_of(first), stream_of(gemini_text_responses(["Paris 21°C, Oslo 4°C."])))
    client = make_client(loopback)
    conversation = Conversation().system("Be brief.").user("Weather?")
    completion = complete(client, conversation, mode, tools=[WEATHER])
    assert [call.id for call in completion.tool_calls] == ["call_0_weather", "fc-oslo"]
    conversation.append(completion)
    conversation.tool_result("call_0_weather", {"temp_c": 21})
    conversation.tool_result("fc-oslo", {"temp_c": 4})
    final = complete(client, conversation, mode, tools=[WEATHER])
    assert final.text == "Paris 21°C, Oslo 4°C."

    body = body_of(loopback.requests[1])
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    user, model, results = body["contents"]
    assert user == {"role": "user", "parts": [{"text": "Weather?"}]}
    assert model["role"] == "model"
    text_part, paris, oslo = model["parts"]
    assert text_part == {"text": "The weather in two cities:"}  # thought summaries are not sent back
    assert paris["functionCall"] == {"name": "weather", "args": {"city": "Paris"}}  # no synthesized id
    assert base64.urlsafe_b64decode(paris["thoughtSignature"]) == base64.b64decode(SIG)
    assert oslo == {"functionCall": {"id": "fc-oslo", "name": "weather", "args": {"city": "Oslo"}}}
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "weather", "response": {"result": {"temp_c": 21}}}},
            {"functionResponse": {"id": "fc-oslo", "name": "weather", "response": {"result": {"temp_c": 4}}}},
        ],
    }


def test_a_signed_text_turn_round_trips(loopback: LoopbackServer, mode: str) -> None:
    responses = gemini_text_responses(["Hi!"], thought_pieces=["Greet."])
    responses.append(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": SIG}]}}]}
    )
    loopback.enqueue(stream_of(responses), stream_of(gemini_text_responses(["Bye."])))
    client = make_client(loopback)
    conversation = Conversation().user("Hello")
    completion = complete(client, conversation, mode)
    assert completion.reasoning_blocks == [ReasoningBlock("Greet.", SIG)]
    complete(client, conversation.append(completion).user("Bye"), mode)
    model = body_of(loopback.requests[1])["contents"][1]
    assert model["role"] == "model"
    assert [part["text"] for part in model["parts"]] == ["Hi!"]
    assert base64.urlsafe_b64decode(model["parts"][0]["thoughtSignature"]) == base64.b64decode(SIG)


def test_breaking_out_closes_the_connection(loopback: LoopbackServer, mode: str) -> None:
    # The server holds the rest of the stream back: only closing the response ends the connection.
    loopback.enqueue(stream_of(gemini_text_responses([f"w{i} " for i in range(8)]), gate_after=3))
    client = make_client(loopback)
    if mode == "sync":
        with client.stream("hi") as stream:
            for chunk in stream:
                if chunk.type is ChunkType.TEXT:
                    break
        assert loopback.wait_idle()
        completion = stream.completion
    else:

        async def run() -> Completion:
            async with client.astream("hi") as astream:
                async for chunk in astream:
                    if chunk.type is ChunkType.TEXT:
                        break
            # Checked before this coroutine yields to the loop: no finalizer task may close it for us.
            assert loopback.wait_idle()
            return astream.completion

        completion = asyncio.run(run())
    assert (completion.text, completion.finish_reason) == ("w0 ", FinishReason.CANCELLED)


def test_breaking_out_never_starts_a_continuation_hop(loopback: LoopbackServer, mode: str) -> None:
    # A token arrived mid-stream, so the SDK would reconnect after a failed read; closing reads on
    # from the closed connection (async: to end the SDK's generators) and must refuse that request.
    first = gemini_text_responses(["Alpha ", "beta ", "gamma"])
    first[0]["candidates"][0]["continuationToken"] = base64.b64encode(b"checkpoint").decode()
    del first[-1]["candidates"][0]["finishReason"]
    loopback.enqueue(stream_of(first, stall_after=2), stream_of(gemini_text_responses(["never sent"])))
    client = make_client(loopback)
    if mode == "sync":
        with client.stream("hi") as stream:
            next(chunk for chunk in stream if chunk.text)
        completion = stream.completion
    else:

        async def run() -> Completion:
            async with client.astream("hi") as astream:
                async for chunk in astream:
                    if chunk.text:
                        break
            return astream.completion

        completion = asyncio.run(run())
    assert (completion.text, completion.finish_reason) == ("Alpha ", FinishReason.CANCELLED)
    assert loopback.wait_idle()
    assert len(loopback.requests) == 1


def test_cancel_from_another_thread_unblocks_a_waiting_read(loopback: LoopbackServer) -> None:
    loopback.enqueue(stream_of(gemini_text_responses(["a", "b", "c"]), gate_after=1))
    stream = make_client(loopback, idle_timeout=30.0).stream("hi")
    got_text = threading.Event()

    def read() -> None:
        for chunk in stream:
            if chunk.text:
                got_text.set()  # the next read waits on the gated server

    reader = threading.Thread(target=read)
    reader.start()
    assert got_text.wait(timeout=10)
    stream.cancel()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert (stream.completion.text, stream.completion.finish_reason) == ("a", FinishReason.CANCELLED)
    assert loopback.wait_idle()


def test_async_cancel_closes_the_response_under_a_waiting_read(loopback: LoopbackServer) -> None:
    loopback.enqueue(stream_of(gemini_text_responses(["a", "b", "c"]), gate_after=1))

    async def run() -> Completion:
        stream = make_client(loopback, idle_timeout=30.0).astream("hi")
        got_text = asyncio.Event()

        async def read() -> None:
            async for chunk in stream:
                if chunk.text:
                    got_text.set()

        task = asyncio.create_task(read())
        await asyncio.wait_for(got_text.wait(), timeout=10)
        # From another thread, as a UI or a watchdog would: the reader ends as cancelled, no error.
        await asyncio.to_thread(stream.cancel)
        await asyncio.wait_for(task, timeout=10)
        await stream.aclose()
        return stream.completion

    completion = asyncio.run(run())
    assert (completion.text, completion.finish_reason) == ("a", FinishReason.CANCELLED)
    assert loopback.wait_idle()


def test_keys_come_from_gemini_then_google_env_vars(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    loopback.enqueue(*(stream_of(gemini_text_responses(["x"])) for _ in range(2)))
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    GeminiClient(MODEL, base_url=loopback.url).stream_complete("hi")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    GeminiClient(MODEL, base_url=loopback.url).stream_complete("hi")
    assert [r.headers["x-goog-api-key"] for r in loopback.requests] == ["google-key", "gemini-key"]


def test_a_missing_key_is_a_configuration_error(loopback: LoopbackServer, mode: str) -> None:
    error, _ = failure(GeminiClient(MODEL, base_url=loopback.url), "hi", mode)
    assert isinstance(error, ConfigurationError)
    assert "GEMINI_API_KEY" in str(error) and "GOOGLE_API_KEY" in str(error)
    assert loopback.requests == []


def test_repr_never_shows_the_key(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(loopback)
    loopback.enqueue(stream_of(gemini_text_responses(["x"])))
    client.stream_complete("hi")
    assert KEY not in repr(client) and KEY[:8] not in repr(client)
    monkeypatch.setenv("GEMINI_API_KEY", "AI" "zaSyENV-key-0123456789abcdef")
    assert "AI" "zaSyENV" not in repr(GeminiClient(MODEL))
    assert repr(client) == f"GeminiClient(model='{MODEL}', base_url='{loopback.url}')"


def test_one_genai_client_serves_sync_and_async_and_is_rebuilt_after_close(loopback: LoopbackServer) -> None:
    client = make_client(loopback)
    assert client.async_sdk is client.sdk.aio
    first = client.sdk
    client.close()
    loopback.enqueue(stream_of(gemini_text_responses(["again"])))
    assert client.stream_complete("hi").text == "again"  # a closed SDK client is never reused
    assert client.sdk is not first


def test_with_aiohttp_installed_async_still_streams_over_httpx2(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    from llmstream._guard import AsyncGuardTransport

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: object() if name == "aiohttp" else real(name, *a)
    )
    client = make_client(loopback, total_timeout=30)
    transport = client.async_sdk._api_client._http_options.async_client_args["transport"]
    assert isinstance(transport, AsyncGuardTransport) and transport.normalize_sse  # the byte guard, over httpx2
    assert isinstance(transport._inner, httpx2.AsyncHTTPTransport)
    loopback.enqueue(*(stream_of(gemini_text_responses(["over ", "httpx2"])) for _ in range(2)))
    assert asyncio.run(client.astream_complete("hi")).text == "over httpx2"
    assert loopback.requests[-1].headers["x-server-timeout"] == "30"  # our hooks saw the request
    # That transport's pool belongs to one event loop: a new loop gets a new SDK client.
    assert asyncio.run(client.astream_complete("hi")).text == "over httpx2"
