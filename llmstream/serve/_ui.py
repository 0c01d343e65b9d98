"""The AI SDK UI message stream, protocol v1 (what ``useChat`` / ``readUIMessageStream`` read).

Conforms to the ``ai`` package's ``uiMessageChunkSchema`` (pinned in ``tests/js``): text and
reasoning as start/delta/end parts, client tool calls as ``tool-input-*``, vendor-side tools as the
AI SDK encodes provider-executed tools (``providerExecuted: true``, then ``tool-output-available``
or ``tool-output-error``), citations as ``source-url`` (``source-document`` when there is no URL).
Open parts are always closed before ``error`` and ``finish``; ``finish`` always carries
``finishReason``, and usage rides in ``messageMetadata``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from .._types import ChunkType, Completion, FinishReason, ServerToolStatus, StreamedChunk
from ._common import DONE, HEARTBEAT, dumps, error_message, error_status, sse, usage_json

__all__ = ["UIMessageStreamEncoder", "ui_finish_reason"]

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_dumps = json.dumps

_REASONS = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool-calls",
    FinishReason.CONTENT_FILTER: "content-filter",
    FinishReason.ERROR: "error",
}


def ui_finish_reason(completion: Completion) -> str:
    if completion.error is not None:
        return "error"
    if completion.finish_reason is None:
        return "tool-calls" if completion.tool_calls else "stop"
    return _REASONS.get(completion.finish_reason, "other")


class UIMessageStreamEncoder:
    """Chunks → UI message stream SSE frames; a fresh one per response."""

    media_type = "text/event-stream"
    heartbeat = HEARTBEAT

    def __init__(self, *, message_id: str | None = None) -> None:
        self.headers = {"x-vercel-ai-ui-message-stream": "v1", "cache-control": "no-cache",
                        "x-accel-buffering": "no"}
        self.message_id = message_id or f"msg-{uuid.uuid4().hex}"
        self._open: str | None = None  # "text" / "reasoning" / "refusal": the one part open now
        self._part = 0
        self._delta = b""  # the open part's delta-frame prefix
        self._calls: dict[int, tuple[str, str]] = {}  # index → (toolCallId, toolName)
        self._server: dict[str, str] = {}  # server tool id → "input" | "done"
        self._sources: set[str] = set()
        self._done: set[str] = set()  # client tool calls whose input is complete
        self._id = ""
        self._signature: str | None = None  # the open reasoning part's signature, sent back next turn

    def open(self) -> bytes:
        return sse({"type": "start", "messageId": self.message_id}) + sse({"type": "start-step"})

    def _begin(self, kind: str) -> bytes:
        """Close whatever part is open and open a ``kind`` one."""
        out = self._close()
        self._part += 1
        part_id = f"{kind[0]}{self._part}"
        self._open = kind
        start = "reasoning" if kind == "reasoning" else "text"
        self._delta = b'data: {"type":"' + start.encode() + b'-delta","id":"' + part_id.encode() + b'","delta":'
        self._id = part_id
        return out + sse({"type": f"{start}-start", "id": part_id})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        frame: dict[str, Any] = {"type": "reasoning-end" if self._open == "reasoning" else "text-end", "id": self._id}
        if self._signature is not None:
            frame["providerMetadata"] = {"llmstream": {"signature": self._signature}}
            self._signature = None
        self._open = None
        return sse(frame)

    def encode(self, chunk: StreamedChunk) -> bytes:
        kind = chunk.type
        if kind is _TEXT or kind is _REASONING or kind is ChunkType.REFUSAL:
            if chunk.signature and kind is _REASONING:
                self._signature = chunk.signature
            if not chunk.text:
                return b""
            name = kind.value
            head = b"" if self._open == name else self._begin(name)
            return head + self._delta + _dumps(chunk.text).encode() + b"}\n\n"
        if kind is ChunkType.TOOL_CALL_START or kind is ChunkType.TOOL_CALL_DELTA or kind is ChunkType.TOOL_CALL_END:
            return self._tool(chunk)
        if kind is ChunkType.SERVER_TOOL:
            return self._server_tool(chunk)
        if kind is ChunkType.CITATION:
            return self._source(chunk)
        return b""  # START, USAGE, STOP: said by open() and finish()

    def _tool(self, chunk: StreamedChunk) -> bytes:
        call = chunk.tool_call
        if call is None:
            return b""
        known = self._calls.get(call.index)
        out = b""
        if known is None:
            known = (call.id or f"call_{call.index}", call.name or "")
            self._calls[call.index] = known
            out = self._close() + sse({"type": "tool-input-start", "toolCallId": known[0], "toolName": known[1]})
        call_id, name = known
        if chunk.type is ChunkType.TOOL_CALL_DELTA:
            if call.arguments:
                out += sse({"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": call.arguments})
            return out
        if chunk.type is ChunkType.TOOL_CALL_END:
            self._done.add(call_id)
            try:
                value = json.loads(call.arguments) if call.arguments.strip() else {}
            except ValueError as exc:
                return out + sse({"type": "tool-input-error", "toolCallId": call_id, "toolName": name,
                                  "input": call.arguments, "errorText": f"arguments are not valid JSON: {exc}"})
            return out + sse({"type": "tool-input-available", "toolCallId": call_id, "toolName": name,
                              "input": value})
        return out

    def _server_tool(self, chunk: StreamedChunk) -> bytes:
        event = chunk.server_tool
        if event is None:
            return b""
        state = self._server.get(event.id)
        if state == "done":
            return b""
        out = b""
        if state is None:
            out = self._close() + sse({"type": "tool-input-start", "toolCallId": event.id, "toolName": event.name,
                                       "providerExecuted": True})
            self._server[event.id] = "started"
        done = event.status in (ServerToolStatus.COMPLETED, ServerToolStatus.FAILED)
        if state != "input" and (event.arguments is not None or done):
            out += sse({"type": "tool-input-available", "toolCallId": event.id, "toolName": event.name,
                        "input": event.arguments if event.arguments is not None else {}, "providerExecuted": True})
            self._server[event.id] = "input"
        if event.status is ServerToolStatus.COMPLETED:
            out += sse({"type": "tool-output-available", "toolCallId": event.id, "output": event.output,
                        "providerExecuted": True})
            self._server[event.id] = "done"
        elif event.status is ServerToolStatus.FAILED:
            text = event.output if isinstance(event.output, str) else dumps(event.output)
            out += sse({"type": "tool-output-error", "toolCallId": event.id, "errorText": text,
                        "providerExecuted": True})
            self._server[event.id] = "done"
        return out

    def _source(self, chunk: StreamedChunk) -> bytes:
        cite = chunk.citation
        if cite is None:
            return b""
        source_id = cite.source_id or cite.url or f"source-{len(self._sources) + 1}"
        if source_id in self._sources:
            return b""
        self._sources.add(source_id)
        if cite.url:
            frame: dict[str, Any] = {"type": "source-url", "sourceId": source_id, "url": cite.url}
            if cite.title:
                frame["title"] = cite.title
            return sse(frame)
        return sse({"type": "source-document", "sourceId": source_id, "mediaType": "text/plain",
                    "title": cite.title or cite.cited_text or source_id})

    def _metadata(self, completion: Completion) -> dict[str, Any]:
        meta: dict[str, Any] = {"model": completion.model, "provider": completion.provider}
        if completion.usage is not None:
            usage = completion.usage
            meta["usage"] = {"inputTokens": usage.input_tokens, "outputTokens": usage.output_tokens,
                             "totalTokens": usage.total_tokens, "reasoningTokens": usage.reasoning_tokens,
                             "cachedInputTokens": usage.cached_input_tokens}
            meta["llmstream_usage"] = usage_json(usage)
        if completion.raw_finish_reason:
            meta["rawFinishReason"] = completion.raw_finish_reason
        return meta

    def _end(self, completion: Completion, reason: str) -> bytes:
        finish = {"type": "finish", "finishReason": reason, "messageMetadata": self._metadata(completion)}
        return sse({"type": "finish-step"}) + sse(finish) + DONE

    def finish(self, completion: Completion) -> bytes:
        return self._close() + self._end(completion, ui_finish_reason(completion))

    def fail(self, error: BaseException) -> bytes:
        partial = getattr(error, "partial", None)
        completion = partial if isinstance(partial, Completion) else Completion()
        out = self._close() + self._dangling(error)
        return out + sse({"type": "error", "errorText": error_message(error)}) + self._end(completion, "error")

    def _dangling(self, error: BaseException) -> bytes:
        """Tool calls still streaming their input are failed, never left spinning."""
        out = b""
        for call_id, name in self._calls.values():
            if call_id in self._done:
                continue
            out += sse({"type": "tool-input-error", "toolCallId": call_id, "toolName": name, "input": None,
                        "errorText": f"stream failed: {error_message(error)}"})
        for tool_id, state in self._server.items():
            if state != "done":
                out += sse({"type": "tool-output-error", "toolCallId": tool_id, "providerExecuted": True,
                            "errorText": f"stream failed: {error_message(error)}"})
        return out

    def refuse(self, error: BaseException) -> tuple[int, bytes]:
        return error_status(error), dumps({"error": error_message(error)}).encode()
