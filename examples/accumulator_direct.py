"""StreamingAccumulator on its own: rebuild a completion from any iterator of chunks.

The accumulator is pure (no I/O), so it works on chunks from anywhere: a client's stream, a
message queue, a replayed recording. Here a scripted tool call is fed chunk by chunk, and the
arguments are read while they are still incomplete (``ToolCall.partial_args``).

    python examples/accumulator_direct.py
"""

from __future__ import annotations

from collections.abc import Iterator

from llmstream import ChunkType, StreamedChunk, StreamingAccumulator, ToolCall, ToolCallDelta
from llmstream.providers.mock import script_for_text


def chunks() -> Iterator[StreamedChunk]:
    """A stream as a provider sends it: text, then a tool call whose JSON arrives in fragments."""
    call = ToolCall("call_1", "book_table", '{"restaurant": "Chez Panisse", "people": 4, "time": "19:30"}')
    for chunk in script_for_text("Let me book that. ", tool_calls=[call], input_tokens=42):
        if chunk.type is ChunkType.TOOL_CALL_DELTA and chunk.tool_call is not None:
            # Real providers split arguments anywhere; cut them into 12-character fragments.
            arguments = chunk.tool_call.arguments
            for start in range(0, len(arguments), 12):
                piece = ToolCallDelta(chunk.tool_call.index, arguments=arguments[start : start + 12])
                yield StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=piece)
        else:
            yield chunk


def main() -> None:
    accumulator = StreamingAccumulator(provider="example")
    for chunk in chunks():
        accumulator.add(chunk)
        if chunk.type is ChunkType.TOOL_CALL_DELTA:
            (call,) = accumulator.tool_calls()
            print(f"while streaming: {call.name} {call.partial_args}")
    completion = accumulator.completion()
    print(f"text: {completion.text!r}")
    for call in completion.tool_calls:
        print(f"tool call: {call.name}({call.args}) id={call.id}")
    usage = completion.usage
    assert usage is not None
    print(f"finish_reason: {completion.finish_reason}, usage: {usage.input_tokens} in, {usage.output_tokens} out")


if __name__ == "__main__":
    main()
