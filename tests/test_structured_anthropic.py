"""Anthropic native structured outputs (``output_config.format``, GA, no beta header) on Claude 4.5 and
newer, through the real SDK against the loopback server; older models keep the forced tool."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from llmstream import AnthropicClient, BaseClient, ChunkType, FinishReason, Tool
from llmstream._output import anthropic_native
from tests.helpers import collect, complete
from tests.loopback import LoopbackServer, Scripted, anthropic_stream, anthropic_text_events


class Weather(pydantic.BaseModel):
    city: str
    temperature: float = pydantic.Field(ge=-90, le=60)


PIECES = ['{"ci', 'ty": "Pa', 'ris", "tem', "perature", '": 18', ".5}"]


def client(server: LoopbackServer, model: str = "claude-sonnet-4-5") -> BaseClient:
    return AnthropicClient(model, api_key="sk" "-ant-test", base_url=server.url, max_retries=0)


@pytest.mark.parametrize(
    ("model", "native"),
    [
        ("claude-sonnet-4-5", True), ("claude-sonnet-4-5-20250929", True), ("claude-haiku-4-5", True),
        ("claude-haiku-4-5-20251001", True), ("claude-opus-4-5", True), ("claude-opus-4-6", True),
        ("claude-sonnet-4-6", True), ("claude-opus-5", True), ("claude-sonnet-4.5", True),
        ("claude-opus-4-1", False), ("claude-opus-4-1-20250805", False), ("claude-opus-4-20250514", False),
        ("claude-sonnet-4-20250514", False), ("claude-3-7-sonnet-latest", False),
        ("claude-3-5-haiku-20241022", False), ("claude-3-haiku-20240307", False), ("my-proxy-model", False),
    ],
)
def test_which_models_get_native_structured_outputs(model: str, native: bool) -> None:
    assert anthropic_native(model) is native


def native_body(server: LoopbackServer) -> dict[str, Any]:
    (request,) = server.requests
    assert "anthropic-beta" not in request.headers  # output_config is GA: no beta header
    body: dict[str, Any] = request.json
    return body


def test_native_request_sends_output_config_and_the_text_is_the_object(loopback: LoopbackServer, mode: str) -> None:
    loopback.enqueue(Scripted(chunks=anthropic_stream(anthropic_text_events(PIECES))))
    chunks, completion = collect(client(loopback), "Weather in Paris?", mode, output_type=Weather)
    body = native_body(loopback)
    fmt = body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    schema = fmt["schema"]
    assert schema["required"] == ["city", "temperature"] and schema["additionalProperties"] is False
    temperature = schema["properties"]["temperature"]
    assert temperature["type"] == "number" and "minimum" not in temperature  # the API enforces no bounds
    assert "tools" not in body and "tool_choice" not in body
    assert [c.text for c in chunks if c.type is ChunkType.TEXT] == PIECES
    assert (completion.finish_reason, completion.raw_finish_reason) == (FinishReason.STOP, "end_turn")
    assert completion.output == Weather(city="Paris", temperature=18.5)  # validated here, bounds included


def test_native_output_goes_with_thinking_tools_and_other_output_config(loopback: LoopbackServer, mode: str) -> None:
    events = anthropic_text_events(PIECES, thinking_pieces=["Paris in May", "..."])
    loopback.enqueue(Scripted(chunks=anthropic_stream(events)))
    lookup = Tool("lookup", "Look a city up", {"type": "object", "properties": {"city": {"type": "string"}}})
    completion = complete(
        client(loopback, "claude-haiku-4-5"), "Weather in Paris?", mode, output_type=Weather, tools=[lookup],
        thinking={"type": "enabled", "budget_tokens": 1024}, output_config={"effort": "low"},
    )
    body = native_body(loopback)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["output_config"]["effort"] == "low"
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert [tool["name"] for tool in body["tools"]] == ["lookup"] and "tool_choice" not in body
    assert completion.reasoning == "Paris in May..."
    assert completion.output == Weather(city="Paris", temperature=18.5)


def test_older_models_keep_the_forced_tool(loopback: LoopbackServer) -> None:
    events = anthropic_text_events([], tool_uses=[{"name": "Weather", "input_pieces": PIECES}])
    loopback.enqueue(Scripted(chunks=anthropic_stream(events)))
    completion = complete(client(loopback, "claude-3-7-sonnet-latest"), "Weather?", "sync", output_type=Weather)
    (request,) = loopback.requests
    assert "output_config" not in request.json
    assert request.json["tool_choice"] == {"type": "tool", "name": "Weather"}
    assert completion.output == Weather(city="Paris", temperature=18.5)


def test_a_refusal_stop_leaves_output_none_and_sets_refusal(loopback: LoopbackServer, mode: str) -> None:
    pieces = ["I can't help ", "with that."]
    loopback.enqueue(Scripted(chunks=anthropic_stream(anthropic_text_events(pieces, stop_reason="refusal"))))
    completion = complete(client(loopback), "Weather in Paris?", mode, output_type=Weather)
    assert completion.error is None and completion.output is None
    assert completion.refusal == "I can't help with that."
    assert completion.raw_finish_reason == "refusal"
