"""OpenRouterClient end to end over httpx2 + our SSE decoder, against the loopback server."""

from __future__ import annotations

from typing import Any

import pytest

import llmstream
from llmstream import (
    AuthenticationError,
    BadRequestError,
    FinishReason,
    InBandError,
    MalformedStreamError,
    OpenRouterClient,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    Usage,
)
from llmstream.providers.openrouter import OpenRouterTranslator
from tests.helpers import complete, failure
from tests.loopback import LoopbackServer, Scripted, error_response, openai_stream, rechunk, sse_frame

PROCESSING = b": OPENROUTER PROCESSING\n\n"


def make_client(server: LoopbackServer, **kwargs: Any) -> OpenRouterClient:
    kwargs.setdefault("max_retries", 0)
    return OpenRouterClient("anthropic/claude-sonnet-4.5", api_key="sk" "-or-v1-test0123456789abcdef",
                            base_url=server.url + "/api/v1", **kwargs)


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "gen-1",
        "provider": "Anthropic",
        "model": "anthropic/claude-sonnet-4.5",
        "object": "chat.completion.chunk",
        "created": 1,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish}],
        **extra,
    }


USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "cost": 0.00123,
         "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 20}}


def realistic_stream() -> list[bytes]:
    events = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"role": "assistant", "content": None, "reasoning": "Think ",
               "reasoning_details": [{"type": "reasoning.text", "text": "Think ", "format": "anthropic-claude-v1"}]}),
        chunk({"role": "assistant", "content": None, "reasoning": "more.",
               "reasoning_details": [{"type": "reasoning.text", "text": "more.", "signature": "sig-abc"}]}),
        chunk({"role": "assistant", "content": "Hello"}),
        chunk({"role": "assistant", "content": " world"}),
        chunk({"role": "assistant", "content": "",
               "tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                               "function": {"name": "lookup", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q": "x"}'}}]}),
        chunk({"role": "assistant", "content": ""}, "tool_calls"),
        chunk({"role": "assistant", "content": ""}, usage=USAGE),  # usage after the finish chunk
    ]
    frames = openai_stream(events)
    return [PROCESSING, PROCESSING, *frames[:3], PROCESSING, *frames[3:]]


def test_full_stream(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=realistic_stream()))
    completion = complete(make_client(loopback, referer="https://app.example", title="My App"), "hi", mode)
    assert completion.text == "Hello world"
    assert completion.reasoning == "Think more."
    assert completion.reasoning_blocks[0].signature == "sig-abc"
    assert [(c.id, c.name, c.args) for c in completion.tool_calls] == [("toolu_1", "lookup", {"q": "x"})]
    assert completion.finish_reason == FinishReason.TOOL_CALLS
    assert completion.usage == Usage(input_tokens=12, output_tokens=30, cached_input_tokens=4, reasoning_tokens=20,
                                     cost=0.00123)
    request = loopback.requests[-1]
    assert request.path == "/api/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk" "-or-v1-test0123456789abcdef"
    assert (request.headers["http-referer"], request.headers["x-title"]) == ("https://app.example", "My App")
    assert request.json["stream"] is True and request.json["usage"] == {"include": True}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_split_at_random_offsets(loopback: LoopbackServer, seed: int) -> None:
    loopback.enqueue(Scripted(chunks=realistic_stream()))
    whole = make_client(loopback).stream_complete("hi")
    loopback.enqueue(Scripted(chunks=rechunk(realistic_stream(), seed, max_piece=7)))
    split = make_client(loopback).stream_complete("hi")
    assert (split.text, split.reasoning, split.tool_calls, split.usage) == (
        whole.text, whole.reasoning, whole.tool_calls, whole.usage)


def test_in_band_error_keeps_the_partial(loopback: LoopbackServer, mode: str) -> None:
    frames = openai_stream([chunk({"role": "assistant", "content": "Hal"}), chunk({"content": "f"})], done=False)
    frames.append(sse_frame(chunk({"content": ""}, "error", error={"code": 502, "message": "Provider disconnected"})))
    loopback.enqueue(Scripted(chunks=frames))
    error, seen = failure(make_client(loopback), "hi", mode)
    assert isinstance(error, InBandError)
    assert (error.code, error.message) == ("502", "Provider disconnected")
    assert error.partial is not None and error.partial.text == "Half" == "".join(seen)


def test_malformed_frame_names_provider_and_position(loopback: LoopbackServer, mode: str) -> None:
    frames = openai_stream([chunk({"role": "assistant", "content": "ok"})], done=False)
    frames.append(b"data: {not json\n\n")
    loopback.enqueue(Scripted(chunks=frames))
    error, _ = failure(make_client(loopback), "hi", mode)
    assert isinstance(error, MalformedStreamError)
    assert "event 2" in str(error) and "openrouter" in str(error)
    assert error.partial is not None and error.partial.text == "ok"


def test_dropped_connection(loopback: LoopbackServer, mode: str) -> None:
    frames = openai_stream([chunk({"role": "assistant", "content": "a"}), chunk({"content": "b"}),
                            chunk({"content": "c"})])
    loopback.enqueue(Scripted(chunks=frames, drop_after=2))
    error, seen = failure(make_client(loopback), "hi", mode)
    assert isinstance(error, StreamInterruptedError)
    assert error.partial is not None and error.partial.text == "ab" == "".join(seen)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, AuthenticationError), (402, llmstream.ProviderError), (400, BadRequestError), (429, RateLimitError),
     (502, ServerError)],
)
def test_status_errors(loopback: LoopbackServer, mode: str, status: int, error_type: type) -> None:
    loopback.enqueue(error_response("openai", status, "denied", headers={"retry-after": "3"}))
    error, _ = failure(make_client(loopback), "hi", mode)
    assert type(error) is error_type
    assert error.status_code == status  # type: ignore[attr-defined]
    assert "denied" in str(error)


def test_factory_and_env_key(loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk" "-or-v1-fromenv0123456789abcdef")
    client = llmstream.client("openrouter:anthropic/claude-sonnet-4.5", base_url=loopback.url + "/api/v1")
    assert isinstance(client, OpenRouterClient)
    assert "fromenv" not in repr(client)
    loopback.enqueue(Scripted(chunks=realistic_stream()))
    assert client.stream_complete("hi").text == "Hello world"
    assert loopback.requests[-1].headers["authorization"].endswith("fromenv0123456789abcdef")
    client.close()


def test_encrypted_reasoning_is_kept_without_text() -> None:
    translator = OpenRouterTranslator()
    chunks = translator.translate(
        chunk({"reasoning": None, "reasoning_details": [{"type": "reasoning.encrypted", "data": "ENC"}]})
    )
    acc = llmstream.StreamingAccumulator().add_all(chunks)
    done = acc.completion()
    assert done.reasoning == "" and done.reasoning_blocks[0].redacted_data == "ENC"
