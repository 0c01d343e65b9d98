"""A multi-turn tool-calling loop: the model asks for a tool, we run it, send the result back, repeat.

The same loop works on every provider; MockClient scripts the model's two turns here (first a tool
call, then the answer), so it runs with no key.

    python examples/tool_loop.py
"""

from __future__ import annotations

import json
from typing import Any

from llmstream import BaseClient, Conversation, MockClient, Tool, ToolCall
from llmstream.providers.mock import script_for_text

WEATHER = Tool(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def get_weather(city: str) -> dict[str, Any]:
    return {"city": city, "temperature_c": 18, "sky": "sunny"}


TOOLS = {"get_weather": get_weather}


def scripted_model() -> MockClient:
    call = ToolCall("call_1", "get_weather", json.dumps({"city": "Paris"}))
    return MockClient(responses=[
        script_for_text("", tool_calls=[call]),
        "It is 18 °C and sunny in Paris.",
    ])


def run(client: BaseClient, question: str, max_turns: int = 5) -> Conversation:
    conversation = Conversation().user(question)
    for _ in range(max_turns):
        completion = client.stream_complete(conversation, tools=[WEATHER])
        conversation.append(completion)  # the assistant turn, tool calls (and reasoning) included
        if not completion.tool_calls:
            print(completion.text)
            break
        for call in completion.tool_calls:
            result = TOOLS[call.name](**call.args)
            print(f"→ {call.name}({call.arguments}) = {json.dumps(result)}")
            conversation.tool_result(call.id, result)
    return conversation


def main() -> None:
    conversation = run(scripted_model(), "What's the weather in Paris?")
    print(f"({len(conversation)} messages: {', '.join(m.role for m in conversation)})")


if __name__ == "__main__":
    main()
