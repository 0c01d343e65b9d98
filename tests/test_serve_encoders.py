"""llmstream.serve's sans-IO parts: the three encoders, the request readers and to_sse's framing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import llmstream
from llmstream import ChunkType, Citation, Image, ServerToolEvent, ServerToolStatus, StreamedChunk, Text, ToolCall
from llmstream.providers.mock import script_for_text
from llmstream.serve import (
    EventsEncoder,
    OpenAIChunkEncoder,
    RequestError,
    UIMessageStreamEncoder,
    UpstreamRefused,
    read_chat_request,
    read_ui_request,
    to_sse,
)

PIXEL = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
         "60e6kgAAAABJRU5ErkJggg==")


def frames(data: bytes) -> list[Any]:
    """The ``data:`` payloads of an SSE body, JSON-decoded ([DONE] kept as the string)."""
    out: list[Any] = []
    for frame in data.decode().split("\n\n"):
        for line in frame.splitlines():
            if line.startswith("data: "):
                payload = line[6:]
                out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


SEARCH_STARTED = ServerToolEvent("ws1", "web_search", ServerToolStatus.STARTED, {"query": "otters"})
SEARCH_DONE = ServerToolEvent("ws1", "web_search", ServerToolStatus.COMPLETED, {"query": "otters"},
                              [{"url": "https://o.example"}])


def rich_script() -> list[StreamedChunk]:
    return [
        StreamedChunk(ChunkType.START, id="r1", model="m"),
        StreamedChunk(ChunkType.REASONING, "Let me "),
        StreamedChunk(ChunkType.REASONING, "think.", signature="sig-1"),
        StreamedChunk(ChunkType.SERVER_TOOL, server_tool=SEARCH_STARTED),
        StreamedChunk(ChunkType.SERVER_TOOL, server_tool=SEARCH_DONE),
        StreamedChunk(ChunkType.TEXT, "Otters "),
        StreamedChunk(ChunkType.CITATION, citation=Citation(url="https://o.example", title="Otters")),
        StreamedChunk(ChunkType.TEXT, "hold hands."),
        *script_for_text("", tool_calls=[ToolCall("c1", "lookup", '{"q": "otter"}'),
                                         ToolCall("c2", "lookup", '{"q": "seal"}')])[1:],
    ]


async def body(script: list[StreamedChunk], protocol: Any, **kw: Any) -> bytes:
    client = llmstream.MockClient(chunks=script)
    return b"".join([piece async for piece in to_sse(client.astream("hi"), protocol, **kw)])


async def test_ui_stream_parts_are_opened_and_closed_in_order() -> None:
    got = frames(await body(rich_script(), UIMessageStreamEncoder(message_id="msg-1")))
    types = [f["type"] if isinstance(f, dict) else f for f in got]
    assert types[:2] == ["start", "start-step"]
    assert types[-3:] == ["finish-step", "finish", "[DONE]"]
    # every started text/reasoning part ends before anything else starts, and before finish
    open_ids: set[str] = set()
    for frame in got[:-1]:
        kind = frame["type"]
        if kind.endswith("-start") and kind.split("-")[0] in ("text", "reasoning"):
            assert not open_ids, f"{kind} while {open_ids} open"
            open_ids.add(frame["id"])
        elif kind.endswith("-end"):
            open_ids.remove(frame["id"])
        elif kind in ("finish", "error", "tool-input-start"):  # a source may sit inside a text part
            assert not open_ids
    reasoning_end = next(f for f in got if isinstance(f, dict) and f["type"] == "reasoning-end")
    assert reasoning_end["providerMetadata"] == {"llmstream": {"signature": "sig-1"}}
    server = [f for f in got if isinstance(f, dict) and f.get("toolCallId") == "ws1"]
    assert [f["type"] for f in server] == ["tool-input-start", "tool-input-available", "tool-output-available"]
    assert all(f["providerExecuted"] for f in server)
    assert {"type": "source-url", "sourceId": "https://o.example", "url": "https://o.example", "title": "Otters"} in got
    available = [f for f in got if isinstance(f, dict) and f["type"] == "tool-input-available"
                 and not f.get("providerExecuted")]
    assert [(f["toolCallId"], f["input"]) for f in available] == [("c1", {"q": "otter"}), ("c2", {"q": "seal"})]
    finish = got[-2]
    assert finish["finishReason"] == "tool-calls"
    assert finish["messageMetadata"]["usage"]["outputTokens"] == 0


async def test_ui_stream_error_closes_open_parts_and_dangling_calls_first() -> None:
    script = [*script_for_text("partial words")[:3],
              StreamedChunk(ChunkType.TOOL_CALL_START, tool_call=llmstream.ToolCallDelta(0, "c9", "f", "")),
              StreamedChunk(ChunkType.TOOL_CALL_DELTA, tool_call=llmstream.ToolCallDelta(0, arguments='{"a"'))]
    client = llmstream.MockClient(chunks=script, fail_at=len(script), max_retries=0)
    data = b"".join([piece async for piece in to_sse(client.astream("hi"), "ui")])
    got = frames(data)
    types = [f["type"] if isinstance(f, dict) else f for f in got]
    assert types.index("text-end") < types.index("tool-input-start") < types.index("tool-input-error")
    assert types.index("tool-input-error") < types.index("error") < types.index("finish")
    assert got[types.index("finish")]["finishReason"] == "error"
    assert types[-1] == "[DONE]"
    assert "".join(f["delta"] for f in got if isinstance(f, dict) and f["type"] == "text-delta") == "partial words"


async def test_openai_wire_text_parallel_tools_usage_and_done() -> None:
    script = script_for_text("Hi there", tool_calls=[ToolCall("a", "f", '{"x": 1}'), ToolCall("b", "g", "{}")],
                             input_tokens=7)
    got = frames(await body(script, OpenAIChunkEncoder("m", include_usage=True, id="chatcmpl-1", created=5)))
    assert got[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert {f["id"] for f in got if isinstance(f, dict)} == {"chatcmpl-1"}
    deltas = [f["choices"][0]["delta"] for f in got if isinstance(f, dict) and f["choices"]]
    assert "".join(d.get("content", "") for d in deltas) == "Hi there"
    calls = [c for d in deltas for c in d.get("tool_calls", [])]
    assert [c["index"] for c in calls if "id" in c] == [0, 1]
    finish = [f for f in got if isinstance(f, dict) and f["choices"] and f["choices"][0]["finish_reason"]]
    assert [f["choices"][0]["finish_reason"] for f in finish] == ["tool_calls"]
    assert got[-2]["choices"] == [] and got[-2]["usage"]["prompt_tokens"] == 7
    assert got[-1] == "[DONE]"


async def test_openai_wire_has_no_usage_chunk_unless_asked() -> None:
    got = frames(await body(script_for_text("Hi"), "openai"))
    assert all(f == "[DONE]" or f["choices"] for f in got)


async def test_openai_wire_end_only_tool_call_is_sent_whole() -> None:
    script = [StreamedChunk(ChunkType.TOOL_CALL_END, tool_call=llmstream.ToolCallDelta(0, "z", "f", '{"k":2}'))]
    got = frames(await body(script, "openai"))
    call = got[1]["choices"][0]["delta"]["tool_calls"][0]
    assert call == {"index": 0, "id": "z", "type": "function", "function": {"name": "f", "arguments": '{"k":2}'}}


@pytest.mark.parametrize("protocol", ["ui", "openai", "events", "ndjson"])
async def test_error_mid_stream_arrives_after_the_partial_text(protocol: str) -> None:
    client = llmstream.MockClient(text="one two three", fail_at=3, max_retries=0)
    data = b"".join([piece async for piece in to_sse(client.astream("hi"), protocol)])
    text = data.decode()
    assert text.index("two") < text.index("mock: connection dropped")
    if protocol == "openai":
        assert frames(data)[-1]["error"]["message"].endswith("mock: connection dropped")
    elif protocol == "ndjson":
        lines = [json.loads(line) for line in text.splitlines()]
        assert lines[-2]["type"] == "error" and lines[-1]["error"]["type"] == "StreamInterruptedError"
        assert lines[-1]["text"] == "one two "


@pytest.mark.parametrize("protocol", ["ui", "openai", "events"])
async def test_failure_before_acceptance_is_an_http_error(protocol: str) -> None:
    error = llmstream.RateLimitError("slow down", status_code=429, provider="mock")
    client = llmstream.MockClient(text="x", fail_at=0, error=error, max_retries=0)
    with pytest.raises(UpstreamRefused) as caught:
        async for _ in to_sse(client.astream("hi"), protocol):
            pass
    assert caught.value.status == 429
    assert "slow down" in caught.value.body.decode()
    if protocol == "openai":
        assert json.loads(caught.value.body)["error"]["type"] == "rate_limit_error"


async def test_heartbeats_are_comments_during_silence() -> None:
    script = script_for_text("a b")
    client = llmstream.MockClient(chunks=script, delay=0.5)
    pieces = [piece async for piece in to_sse(client.astream("hi"), "openai", heartbeat=0.2)]
    assert b": keep-alive\n\n" in pieces
    assert all(b"{}" not in p or b"finish_reason" in p for p in pieces)  # never an empty JSON keep-alive


async def test_a_slow_reader_holds_the_upstream_back() -> None:
    script = script_for_text(" ".join(f"w{i}" for i in range(500)))
    client = llmstream.MockClient(chunks=script)
    stream = client.astream("hi")
    body = to_sse(stream, "events", max_pending=8)
    await body.__anext__()
    for _ in range(20):
        await asyncio.sleep(0)
    read = stream.accumulator.chunks
    assert read < 40, f"{read} chunks read ahead of a reader that took one"
    await body.aclose()
    assert stream.completion.finish_reason is llmstream.FinishReason.CANCELLED


def test_events_ndjson_matches_cli_shapes() -> None:
    encoder = EventsEncoder("ndjson")
    line = encoder.encode(StreamedChunk(ChunkType.TEXT, "hé"))
    assert line == '{"type":"text","text":"hé"}\n'.encode()
    assert encoder.heartbeat == b"\n"
    with pytest.raises(ValueError):
        EventsEncoder("xml")


def test_read_chat_request_maps_fields_and_keeps_unknown_ones() -> None:
    chat = read_chat_request({
        "model": "mock:echo", "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "developer", "content": "be brief"},
                     {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                     {"role": "assistant", "content": None,
                      "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
                     {"role": "tool", "tool_call_id": "c1", "content": "42"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto", "max_tokens": 9, "temperature": 0.5, "top_p": 0.9, "seed": 1,
    })
    assert chat.stream and chat.include_usage and chat.max_tokens == 9 and chat.temperature == 0.5
    assert [m.role for m in chat.conversation] == ["system", "user", "assistant", "tool"]
    assert chat.conversation.messages[3].name == "f"
    assert chat.tools[0].name == "f" and chat.tool_choice == "auto"
    assert chat.extra == {"top_p": 0.9, "seed": 1}


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": [{"type": "video_url", "video_url": {}}]}]},
     "messages[0].content[0].type"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": PIXEL}}]}]},
     "messages[0].content[0].type"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"messages": [{"role": "user", "content": "x"}], "max_tokens": "9"}, "max_tokens"),
    ({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "web_search"}]}, "tools[0].type"),
])
def test_read_chat_request_names_the_bad_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(RequestError) as caught:
        read_chat_request(body)
    assert caught.value.param == param and caught.value.status == 400


def test_read_ui_request_rebuilds_tool_rounds_and_reasoning() -> None:
    ui = read_ui_request({"id": "chat-1", "trigger": "submit-message", "model": "mock:echo", "messages": [
        {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "weather?"}]},
        {"id": "a1", "role": "assistant", "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": "hmm", "providerMetadata": {"llmstream": {"signature": "s"}}},
            {"type": "tool-weather", "toolCallId": "c1", "state": "output-available", "input": {"city": "Oslo"},
             "output": {"temp": 3}},
            {"type": "tool-web_search", "toolCallId": "w1", "state": "output-available", "providerExecuted": True,
             "input": {}, "output": []},
            {"type": "step-start"},
            {"type": "text", "text": "3 degrees"},
            {"type": "source-url", "sourceId": "s1", "url": "https://x.example"},
        ]},
        {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "thanks"}]},
    ]})
    messages = ui.conversation.messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant", "user"]
    assert messages[1].tool_calls == (ToolCall("c1", "weather", '{"city": "Oslo"}'),)
    assert messages[1].reasoning_blocks[0].signature == "s"
    assert messages[2].content == '{"temp": 3}' and messages[2].tool_call_id == "c1"
    assert messages[3].content == "3 degrees"
    assert ui.model == "mock:echo" and ui.chat_id == "chat-1"


def test_image_parts_are_read_as_images() -> None:
    chat = read_chat_request({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": PIXEL, "detail": "low"}}]}]})
    text, image = chat.conversation.messages[0].content
    assert text == Text("what is this?") and isinstance(image, Image) and image.media_type == "image/png"
    ui = read_ui_request({"messages": [{"role": "user", "parts": [
        {"type": "text", "text": "and this?"}, {"type": "file", "mediaType": "image/png", "url": PIXEL}]}]})
    assert isinstance(ui.conversation.messages[0].content[1], Image)


def test_read_ui_request_refuses_file_parts_it_cannot_read() -> None:
    with pytest.raises(RequestError) as caught:
        read_ui_request({"messages": [{"role": "user", "parts": [{"type": "file", "url": "data:,x"}]}]})
    assert caught.value.param == "messages[0].parts[0]"
    with pytest.raises(RequestError) as caught:
        read_ui_request({"messages": [{"role": "system", "parts": [{"type": "file", "url": PIXEL,
                                                                   "mediaType": "image/png"}]}]})
    assert caught.value.param == "messages[0].parts[0].type"
