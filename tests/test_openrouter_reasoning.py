"""OpenRouter ``reasoning_details`` captured from the stream go back on the next turn, as OpenRouter's
"Preserving reasoning blocks" asks (issue 22): Claude thinking and Gemini 3 thought signatures in
tool loops through OpenRouter. Checked on the second request's body at the loopback server."""

from __future__ import annotations

from typing import Any

import pytest

import llmstream
from llmstream import Conversation, FinishReason
from llmstream.providers._reasoning_details import WIRE, ReasoningDetails
from tests.helpers import complete
from tests.loopback import LoopbackServer, Scripted, openai_stream


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "gen-1", "provider": "Anthropic", "model": "anthropic/claude-sonnet-4.5",
            "object": "chat.completion.chunk", "created": 1,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def detail(**fields: Any) -> dict[str, Any]:
    return chunk({"role": "assistant", "content": "", "reasoning": fields.get("text"), "reasoning_details": [fields]})


CLAUDE = [  # as recorded from OpenRouter: the block streamed in fragments, its signature last
    chunk({"role": "assistant", "content": "", "reasoning": None, "reasoning_details": []}),
    detail(type="reasoning.text", text="", signature="", format="anthropic-claude-v1", index=0),
    detail(type="reasoning.text", text="The user wants ", format="anthropic-claude-v1", index=0),
    detail(type="reasoning.text", text="the weather.", format="anthropic-claude-v1", index=0),
    detail(type="reasoning.text", signature="EqQBCkgIBxABGAIqQ", format="anthropic-claude-v1", index=0),
    chunk({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                           "function": {"name": "weather", "arguments": '{"city": "Florence"}'}}]}),
    chunk({}, "tool_calls"),
]
CLAUDE_SENT_BACK = [{"type": "reasoning.text", "text": "The user wants the weather.", "signature": "EqQBCkgIBxABGAIqQ",
                     "format": "anthropic-claude-v1", "index": 0}]

GEMINI_3 = [  # Gemini 3: the thought signature as an encrypted entry tied to its tool call by id
    chunk({"role": "assistant", "content": "", "reasoning": "Checking the weather.", "reasoning_details": [
        {"type": "reasoning.text", "text": "Checking the weather.", "format": "google-gemini-v1", "index": 0}]},
          model="google/gemini-3-pro-preview"),
    chunk({"tool_calls": [{"index": 0, "id": "tool_weather_abc", "type": "function",
                           "function": {"name": "weather", "arguments": '{"city": "Florence"}'}}],
           "reasoning_details": [{"type": "reasoning.encrypted", "data": "CiQBjz1rX+sig==", "id": "tool_weather_abc",
                                  "format": "google-gemini-v1", "index": 1}]}),
    chunk({}, "tool_calls"),
]
GEMINI_3_SENT_BACK = [
    {"type": "reasoning.text", "text": "Checking the weather.", "format": "google-gemini-v1", "index": 0},
    {"type": "reasoning.encrypted", "data": "CiQBjz1rX+sig==", "id": "tool_weather_abc", "format": "google-gemini-v1",
     "index": 1},
]


@pytest.mark.parametrize(("events", "sent_back"), [(CLAUDE, CLAUDE_SENT_BACK), (GEMINI_3, GEMINI_3_SENT_BACK)],
                         ids=["claude", "gemini-3"])
def test_reasoning_details_go_back_on_the_next_turn(
    loopback: LoopbackServer, mode: str, events: list[dict[str, Any]], sent_back: list[dict[str, Any]]
) -> None:
    client = llmstream.OpenRouterClient("anthropic/claude-sonnet-4.5", api_key="sk" "-or-test",
                                        base_url=loopback.url + "/api/v1", max_retries=0)
    loopback.enqueue(Scripted(chunks=openai_stream(events)))
    loopback.enqueue(Scripted(chunks=openai_stream([chunk({"content": "Sunny."}), chunk({}, "stop")])))
    conversation = Conversation().user("Weather in Florence?")
    first = complete(client, conversation, mode, reasoning={"effort": "medium"})
    assert first.finish_reason == FinishReason.TOOL_CALLS
    assert first.provider_output is not None and first.provider_output.wire == WIRE
    call = first.tool_calls[0]
    conversation.append(first).tool_result(call.id, "sunny, 24 C")
    second = complete(client, conversation, mode, reasoning={"effort": "medium"})
    assert second.text == "Sunny."
    assistant = loopback.requests[-1].json["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == call.id
    assert assistant["reasoning_details"] == sent_back
    assert "reasoning_details" not in loopback.requests[0].json["messages"][0]


def test_only_openrouter_gets_them_back(loopback: LoopbackServer) -> None:
    """A turn from OpenRouter sent to another OpenAI-wire server carries no OpenRouter extras."""
    client = llmstream.OpenRouterClient("anthropic/claude-sonnet-4.5", api_key="sk" "-or-test",
                                        base_url=loopback.url + "/api/v1", max_retries=0)
    loopback.enqueue(Scripted(chunks=openai_stream(CLAUDE)))
    conversation = Conversation().user("Weather?")
    conversation.append(complete(client, conversation, "sync")).tool_result("toolu_1", "sunny")
    other = llmstream.OpenAIClient("gpt-4o-mini", api_key="sk" "-test", base_url=loopback.url + "/v1", max_retries=0)
    loopback.enqueue(Scripted(chunks=openai_stream([chunk({"content": "Sunny."}), chunk({}, "stop")])))
    complete(other, conversation, "sync")
    assert "reasoning_details" not in loopback.requests[-1].json["messages"][1]


def test_fragments_merge_only_by_type_and_index() -> None:
    details = ReasoningDetails()
    details.add([{"type": "reasoning.summary", "summary": "A", "index": 0}])
    details.add([{"type": "reasoning.summary", "summary": "B", "index": 0}])
    details.add([{"type": "reasoning.summary", "summary": "C", "index": 1}])
    details.add([{"type": "reasoning.text", "text": "x"}, {"type": "reasoning.text", "text": "y"}])  # no index
    details.add(["not a dict"])
    assert list(details.output().items) == [
        {"type": "reasoning.summary", "summary": "AB", "index": 0},
        {"type": "reasoning.summary", "summary": "C", "index": 1},
        {"type": "reasoning.text", "text": "x"},
        {"type": "reasoning.text", "text": "y"},
    ]
