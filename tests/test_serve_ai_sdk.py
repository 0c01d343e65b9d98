"""The browser leg through a real client nobody here wrote: the ``ai`` npm package (the pinned
major in tests/js) reads ``/api/chat`` with its own transport and ``readUIMessageStream`` and
rebuilds the same text, reasoning, tool calls, server tools and sources as llmstream's completion."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import llmstream
from llmstream import ChunkType, Citation, ServerToolEvent, ServerToolStatus, StreamedChunk, ToolCall
from llmstream.providers.mock import script_for_text
from tests.loopback import LoopbackServer, Scripted, anthropic_stream, anthropic_text_events
from tests.serve_helpers import running

pytest.importorskip("starlette", reason="llmstream[serve] (starlette) is not installed")
from llmstream.serve import create_app

JS = Path(__file__).parent / "js"
NODE = shutil.which("node")
if NODE is None:
    pytest.skip("node is not installed (apt-get install nodejs)", allow_module_level=True)
if not (JS / "node_modules" / "ai" / "package.json").exists():
    pytest.skip("the ai npm package is not installed: run `npm ci` in tests/js (make test does)",
                allow_module_level=True)


def read_with_ai_sdk(url: str, messages: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run([NODE, str(JS / "read_ui_stream.mjs"), url + "/api/chat"],
                         input=json.dumps({"messages": messages, "body": body}), capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def rebuilt(message: dict[str, Any]) -> dict[str, Any]:
    parts = message["parts"]
    tools = [p for p in parts if p["type"].startswith("tool-")]
    return {
        "text": "".join(p["text"] for p in parts if p["type"] == "text"),
        "reasoning": "".join(p["text"] for p in parts if p["type"] == "reasoning"),
        "tool_calls": [(p["toolCallId"], p["type"][5:], p["input"]) for p in tools if not p.get("providerExecuted")],
        "server_tools": [(p["toolCallId"], p["type"][5:], p["state"], p.get("output")) for p in tools
                         if p.get("providerExecuted")],
        "sources": [p["url"] for p in parts if p["type"] == "source-url"],
    }


def expected(completion: llmstream.Completion) -> dict[str, Any]:
    return {
        "text": completion.text,
        "reasoning": completion.reasoning,
        "tool_calls": [(c.id, c.name, c.args) for c in completion.tool_calls],
        "server_tools": [(t.id, t.name, "output-available", t.output) for t in completion.server_tools],
        "sources": [c.url for c in completion.citations],
    }


USER = [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "tell me about otters"}]}]


def rich_script() -> list[StreamedChunk]:
    search = ServerToolEvent("ws1", "web_search", ServerToolStatus.STARTED, {"query": "otters"})
    found = ServerToolEvent("ws1", "web_search", ServerToolStatus.COMPLETED, {"query": "otters"},
                            [{"url": "https://otters.example/a"}])
    return [
        StreamedChunk(ChunkType.START, id="r1", model="mock"),
        StreamedChunk(ChunkType.REASONING, "The user wants "),
        StreamedChunk(ChunkType.REASONING, "otter facts.", signature="sig"),
        StreamedChunk(ChunkType.SERVER_TOOL, server_tool=search),
        StreamedChunk(ChunkType.SERVER_TOOL, server_tool=found),
        StreamedChunk(ChunkType.TEXT, "Otters "),
        StreamedChunk(ChunkType.TEXT, "hold hands "),
        StreamedChunk(ChunkType.CITATION, citation=Citation(url="https://otters.example/a", title="A")),
        StreamedChunk(ChunkType.TEXT, "while sleeping."),
        StreamedChunk(ChunkType.CITATION, citation=Citation(url="https://otters.example/b")),
        *script_for_text("", tool_calls=[ToolCall("c1", "photo", '{"animal": "otter", "n": 2}'),
                                         ToolCall("c2", "map", '{"where": "kelp"}')])[1:],
    ]


def test_ai_sdk_rebuilds_what_llmstream_rebuilds() -> None:
    direct = llmstream.MockClient(chunks=rich_script()).stream_complete("x")
    app = create_app("mock:rich", client_factory=lambda spec: llmstream.MockClient(chunks=rich_script()))
    with running(app) as url:
        result = read_with_ai_sdk(url, USER, {})
    assert result["errors"] == []
    assert rebuilt(result["message"]) == expected(direct)
    assert direct.text == "Otters hold hands while sleeping." and len(direct.tool_calls) == 2
    assert result["chunks"][-1] == "finish"
    assert result["message"]["metadata"]["usage"]["outputTokens"] == 0


def test_ai_sdk_reads_an_anthropic_upstream_with_thinking_and_tools() -> None:
    events = anthropic_text_events(["It is ", "sunny."], thinking_pieces=["check ", "weather"],
                                   tool_uses=[{"id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                                              {"id": "toolu_2", "name": "clock", "input": {"zone": "CET"}}])
    with LoopbackServer() as upstream:
        upstream.enqueue(Scripted(chunks=anthropic_stream(events)), Scripted(chunks=anthropic_stream(events)))
        key = "sk" "-ant-test-ai-sdk-0123456789"

        def factory(spec: str) -> llmstream.BaseClient:
            return llmstream.client(spec, api_key=key, base_url=upstream.url, max_retries=0)

        direct = factory("anthropic:claude-x").stream_complete("x")
        with running(create_app("anthropic:claude-x", client_factory=factory)) as url:
            result = read_with_ai_sdk(url, USER, {})
    assert result["errors"] == []
    got = rebuilt(result["message"])
    assert got == expected(direct)
    assert got["reasoning"] == "check weather" and [c[1] for c in got["tool_calls"]] == ["weather", "clock"]
    reasoning = next(p for p in result["message"]["parts"] if p["type"] == "reasoning")
    assert reasoning["providerMetadata"] == {"llmstream": {"signature": "sig"}}


def test_ai_sdk_sees_the_error_after_the_partial_and_a_finished_message() -> None:
    def factory(spec: str) -> llmstream.BaseClient:
        return llmstream.MockClient(text="first second third", fail_at=3, max_retries=0)

    with running(create_app("mock:x", client_factory=factory)) as url:
        result = read_with_ai_sdk(url, USER, {})
    assert result["errors"] and "connection dropped" in result["errors"][0]
    text = next(p for p in result["message"]["parts"] if p["type"] == "text")
    assert text == {"type": "text", "text": "first second ", "state": "done"}
    chunks = result["chunks"]
    assert chunks.index("text-end") < chunks.index("error") < chunks.index("finish")


def test_the_next_turn_sends_tool_results_back() -> None:
    seen: list[llmstream.MockClient] = []

    def factory(spec: str) -> llmstream.BaseClient:
        seen.append(llmstream.MockClient(text="Noted."))
        return seen[-1]

    history = [*USER, {"id": "a1", "role": "assistant", "parts": [
        {"type": "step-start"},
        {"type": "tool-photo", "toolCallId": "c1", "state": "output-available", "input": {"n": 1},
         "output": {"url": "otter.png"}},
        {"type": "step-start"}, {"type": "text", "text": "Here it is."}]},
        {"id": "u2", "role": "user", "parts": [{"type": "text", "text": "thanks"}]}]
    with running(create_app("mock:x", client_factory=factory)) as url:
        result = read_with_ai_sdk(url, history, {"model": "mock:x"})
    assert rebuilt(result["message"])["text"] == "Noted."
    sent = seen[0].requests[0].conversation.messages
    assert [m.role for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
    assert sent[1].tool_calls == (ToolCall("c1", "photo", '{"n": 1}'),)
    assert sent[2].content == '{"url": "otter.png"}'
