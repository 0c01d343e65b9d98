"""Structured output (``output_type=``): the request each provider's real SDK sends to the loopback
server, and the validated object (or ``OutputValidationError``) at the end, sync and async."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pydantic
import pytest

from llmstream import (
    AnthropicClient,
    BaseClient,
    ChunkType,
    Completion,
    ConfigurationError,
    FinishReason,
    GeminiClient,
    OpenAIClient,
    OpenAIResponsesClient,
    OpenRouterClient,
    OutputValidationError,
    StreamingOptions,
)
from tests.helpers import collect, complete
from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_stream,
    anthropic_text_events,
    gemini_stream,
    gemini_text_responses,
    openai_stream,
    openai_text_chunks,
    responses_stream,
    responses_text_events,
)


class Weather(pydantic.BaseModel):
    city: str
    temperature: float


OBJECT = '{"city": "Paris", "temperature": 18.5}'
PIECES = ['{"ci', 'ty": "Pa', 'ris", "tem', "perature", '": 18', ".5}"]


def openai_client(server: LoopbackServer) -> BaseClient:
    return OpenAIClient("gpt-4o", api_key="sk" "-test-0123456789abcdef", base_url=server.url + "/v1", max_retries=0)


def openrouter_client(server: LoopbackServer) -> BaseClient:
    return OpenRouterClient("openai/gpt-4o", api_key="sk" "-or-test", base_url=server.url + "/api/v1", max_retries=0)


CHAT = {"openai": openai_client, "openrouter": openrouter_client}


def weather_schema_sent(body: Any) -> dict[str, Any]:
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "Weather"
    assert spec["schema"]["required"] == ["city", "temperature"]
    assert spec["schema"]["properties"]["city"]["type"] == "string"
    return dict(spec)


@pytest.mark.parametrize("provider", sorted(CHAT))
def test_chat_request_asks_for_json_schema_and_returns_the_model(
    loopback: LoopbackServer, mode: str, provider: str
) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES))))
    completion = complete(CHAT[provider](loopback), "Weather in Paris?", mode, output_type=Weather)
    (request,) = loopback.requests
    spec = weather_schema_sent(request.json)
    assert spec["strict"] is True
    assert spec["schema"]["additionalProperties"] is False
    assert completion.output == Weather(city="Paris", temperature=18.5)
    assert completion.finish_reason is FinishReason.STOP


def test_schema_dict_without_strictness_sends_no_strict(loopback: LoopbackServer, mode: str) -> None:
    # "note" is optional: strict mode needs every property required, so strict is not asked for.
    schema = {
        "type": "object", "properties": {"city": {"type": "string"}, "note": {"type": "string"}}, "required": ["city"],
    }
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(['{"city": "Oslo"}']))))
    completion = complete(openai_client(loopback), "Where?", mode, output_type=schema)
    (request,) = loopback.requests
    fmt = request.json["response_format"]["json_schema"]
    assert fmt["schema"]["properties"] == schema["properties"]
    assert "strict" not in fmt
    assert completion.output == {"city": "Oslo"}


def test_without_output_type_no_response_format(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["hi"]))))
    completion = complete(openai_client(loopback), "Hi", mode)
    (request,) = loopback.requests
    assert "response_format" not in request.json
    assert completion.output is None


def test_truncated_object_raises_with_raw_text(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES[:3], finish_reason="length"))))
    seen: list[Any] = []
    with pytest.raises(OutputValidationError) as caught:
        complete(
            openai_client(loopback), "Weather?", mode, output_type=Weather,
            on_error=seen.append, on_complete=lambda c: seen.append(("complete", c)),
        )
    error = caught.value
    assert error.raw == "".join(PIECES[:3])
    assert error.errors
    assert seen == [error]
    assert error.partial is not None
    assert error.partial.text == error.raw
    assert error.partial.raw_finish_reason == "length"


def test_invalid_object_returned_with_raise_on_error_false(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(['{"city": 3}']))))
    completed: list[Completion] = []
    completion = complete(
        openai_client(loopback), "Weather?", mode, output_type=Weather, raise_on_error=False,
        on_complete=completed.append,
    )
    assert isinstance(completion.error, OutputValidationError)
    assert completion.finish_reason is FinishReason.ERROR
    assert completion.raw_finish_reason == "stop"
    assert completion.output is None
    assert completion.text == '{"city": 3}'
    assert completed == []
    assert any("temperature" in line for line in completion.error.errors)


def refusal_chunks() -> list[dict[str, Any]]:
    chunks = openai_text_chunks([])
    role, *rest = chunks
    refusal = json.loads(json.dumps(role))
    refusal["choices"][0]["delta"] = {"refusal": "I can't help with that."}
    return [role, refusal, *rest]


def test_refusal_leaves_output_none(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(refusal_chunks())))
    completion = complete(openai_client(loopback), "Weather?", mode, output_type=Weather)
    assert completion.refusal == "I can't help with that."
    assert completion.output is None
    assert completion.error is None


def test_responses_request_asks_for_text_format(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=responses_stream(responses_text_events(PIECES))))
    client = OpenAIResponsesClient("gpt-5-mini", api_key="sk" "-test", base_url=loopback.url + "/v1", max_retries=0)
    completion = complete(client, "Weather in Paris?", mode, output_type=Weather)
    (request,) = loopback.requests
    fmt = request.json["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "Weather", True)
    assert fmt["schema"]["additionalProperties"] is False
    assert completion.output == Weather(city="Paris", temperature=18.5)


def test_gemini_request_asks_for_json_with_a_json_schema(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(PIECES))))
    client = GeminiClient("gemini-2.5-flash", api_key="AI" "za-test-key", base_url=loopback.url, max_retries=0)
    completion = complete(client, "Weather in Paris?", mode, output_type=Weather)
    (request,) = loopback.requests
    config = request.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseJsonSchema"]
    assert schema["required"] == ["city", "temperature"]
    assert schema["properties"]["temperature"]["type"] == "number"
    assert completion.output == Weather(city="Paris", temperature=18.5)


def anthropic_client(server: LoopbackServer, model: str = "claude-opus-4-1") -> BaseClient:
    """An Anthropic model before native structured outputs (4.5): the forced-tool path."""
    return AnthropicClient(model, api_key="sk" "-ant-test", base_url=server.url, max_retries=0)


def test_anthropic_forces_a_single_tool_whose_input_is_the_text(loopback: LoopbackServer, mode: str) -> None:
    events = anthropic_text_events([], tool_uses=[{"name": "Weather", "input_pieces": PIECES}])
    loopback.enqueue(Scripted(chunks=anthropic_stream(events)))
    chunks, completion = collect(anthropic_client(loopback), "Weather in Paris?", mode, output_type=Weather)
    (request,) = loopback.requests
    body = request.json
    (tool,) = body["tools"]
    assert tool["name"] == "Weather" and tool["input_schema"]["required"] == ["city", "temperature"]
    assert body["tool_choice"] == {"type": "tool", "name": "Weather"}
    assert [c.text for c in chunks if c.type is ChunkType.TEXT] == PIECES
    assert completion.tool_calls == []
    assert (completion.finish_reason, completion.raw_finish_reason) == (FinishReason.STOP, "tool_use")
    assert completion.output == Weather(city="Paris", temperature=18.5)


def test_anthropic_tool_calls_stay_tool_calls_without_output_type(loopback: LoopbackServer, mode: str) -> None:
    events = anthropic_text_events([], tool_uses=[{"name": "Weather", "input_pieces": PIECES}])
    loopback.enqueue(Scripted(chunks=anthropic_stream(events)))
    completion = complete(anthropic_client(loopback), "Weather in Paris?", mode)
    assert [call.name for call in completion.tool_calls] == ["Weather"]
    assert completion.text == ""


def test_anthropic_thinking_with_output_type_is_a_configuration_error(loopback: LoopbackServer, mode: str) -> None:
    with pytest.raises(ConfigurationError, match="thinking"):
        complete(
            anthropic_client(loopback), "Weather?", mode, output_type=Weather,
            thinking={"type": "enabled", "budget_tokens": 1024},
        )
    assert loopback.requests == []


def test_partials_grow_monotonically_and_on_partial_sees_them(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES))))
    seen: list[Any] = []
    options = StreamingOptions(on_partial=seen.append)
    completion = complete(openai_client(loopback), "Weather?", mode, output_type=Weather, options=options)
    assert len(seen) == len(PIECES)
    dumps = [obj.model_dump(exclude_unset=True) if obj is not None else {} for obj in seen]
    for before, after in itertools.pairwise(dumps):
        assert set(before) <= set(after)
        for key, value in before.items():
            if isinstance(value, str):
                assert str(after[key]).startswith(value)
            else:
                assert after[key] == value
    assert dumps[-1] == {"city": "Paris", "temperature": 18.5}
    assert completion.output == Weather(city="Paris", temperature=18.5)


def test_stream_partial_output_while_iterating(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES))))
    cities: list[Any] = []
    with openai_client(loopback).stream("Weather?", output_type=Weather) as stream:
        assert stream.partial_output is None
        for chunk in stream:
            if chunk.type is ChunkType.TEXT:
                cities.append(getattr(stream.partial_output, "city", None))
    assert cities[-1] == "Paris"
    assert "Pa" in cities  # the string field shows while it streams
    assert stream.completion.output == Weather(city="Paris", temperature=18.5)


def test_async_stream_partial_output(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(PIECES))))

    async def run() -> list[Any]:
        out: list[Any] = []
        async with openai_client(loopback).astream("Weather?", output_type=Weather) as stream:
            async for chunk in stream:
                if chunk.type is ChunkType.TEXT:
                    out.append(stream.partial_output)
        return out

    partials = asyncio.run(run())
    assert partials[-1] == Weather(city="Paris", temperature=18.5)


def test_partial_output_is_none_without_output_type(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(['{"a": 1}']))))
    with openai_client(loopback).stream("Hi") as stream:
        list(stream)
        assert stream.partial_output is None
