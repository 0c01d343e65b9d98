"""Structured output while streaming: completed array items, partial values, tool-call arguments.

Runs with no API key (the mock provider): ``python examples/toolkit_structured.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import llmstream
from llmstream import ChunkType, StreamedChunk, StreamingOptions, ToolCallDelta
from llmstream.structured import JSONStreamParser, PartialJSON, apartial_json, partial_json

ANSWER = '[{"name": "Ada", "born": 1815}, {"name": "Grace", "born": 1906}, {"name": "Alan", "born": 1912}]'


def tool_call(fragments: list[str]) -> list[StreamedChunk]:
    return [
        StreamedChunk(ChunkType.START),
        StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=ToolCallDelta(0, "call_1", "get_weather")),
        *[StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=ToolCallDelta(0, arguments=f)) for f in fragments],
    ]


def main() -> None:
    # 1. Each array element as soon as its closing brace arrives (the echo mock streams word by word).
    client = llmstream.client("mock:echo")
    parser = JSONStreamParser()
    with client.stream(ANSWER) as stream:
        for chunk in stream:
            for person in parser.feed(chunk.text):
                print("item:", person["name"], person["born"])

    # 2. Partial values of a tool call's arguments, as a UI would render them.
    weather = llmstream.MockClient(chunks=tool_call(['{"city": "Par', 'is", "days"', ": 3}"]))
    with weather.stream("weather?") as stream:
        for value in partial_json(stream, source="tool_call"):
            print("partial:", value)

    # 3. The same as a processor with a callback, and the async twin.
    seen: list[Any] = []
    options = StreamingOptions(processors=[PartialJSON(on_partial=seen.append)])
    client.stream_complete('{"ok": true, "n": 2}', options=options)
    print("on_partial:", seen[-1], f"({len(seen)} updates)")

    async def last_partial() -> Any:
        values = [v async for v in apartial_json(client.astream('{"async": "yes"}'))]
        return values[-1]

    print("async:", asyncio.run(last_partial()))


if __name__ == "__main__":
    main()
