"""llmstream's own JSON events (the CLI's ``--json`` objects), as SSE ``data:`` frames or NDJSON lines.

One object per chunk (``{"type": "text", "text": …}``, ``{"type": "tool_call_start", "tool_call":
{…}}``…), then ``{"type": "completion", …}``; a failure is ``{"type": "error", "error": {…}}``
followed by the completion object holding the partial and the error.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._errors import LLMStreamError
from .._types import ChunkType, Completion, StreamedChunk
from ._common import dumps, error_code, error_message, error_status, usage_json

__all__ = ["EventsEncoder", "chunk_event", "completion_event", "error_event"]

_TEXTUAL = (ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL)


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def error_event(error: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(error).__name__, "message": error_message(error)}
    status = getattr(error, "status_code", None)
    if status is not None:
        out["status_code"] = status
    return out


def chunk_event(chunk: StreamedChunk) -> dict[str, Any]:
    """The CLI's NDJSON object for one chunk: its type and only the fields that type uses."""
    kind = chunk.type
    out: dict[str, Any] = {"type": kind.value}
    if kind in _TEXTUAL:
        out["text"] = chunk.text
        if chunk.signature:
            out["signature"] = chunk.signature
    elif chunk.tool_call is not None:
        out["tool_call"] = _compact(attrs.asdict(chunk.tool_call))
    elif kind is ChunkType.USAGE:
        out["usage"] = usage_json(chunk.usage)
    elif kind is ChunkType.STOP:
        out["finish_reason"] = chunk.finish_reason.value if chunk.finish_reason else None
        out["raw_finish_reason"] = chunk.raw_finish_reason
    elif kind is ChunkType.START:
        out.update(_compact({"id": chunk.id, "model": chunk.model}))
    elif chunk.server_tool is not None:
        tool = chunk.server_tool
        out["server_tool"] = {"id": tool.id, "name": tool.name, "status": tool.status.value,
                              "arguments": tool.arguments, "output": tool.output}
    elif chunk.citation is not None:
        out["citation"] = _compact(attrs.asdict(chunk.citation))
    elif chunk.error is not None:
        out["error"] = error_event(chunk.error)
    return out


def completion_event(completion: Completion, **extra: Any) -> dict[str, Any]:
    """The final ``{"type": "completion", …}`` object: everything the stream said, rebuilt."""
    return {
        "type": "completion",
        "text": completion.text,
        "reasoning": completion.reasoning,
        "refusal": completion.refusal,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in completion.tool_calls],
        "usage": usage_json(completion.usage),
        "finish_reason": completion.finish_reason.value if completion.finish_reason else None,
        "raw_finish_reason": completion.raw_finish_reason,
        "model": completion.model,
        "id": completion.id,
        "provider": completion.provider,
        "stats": attrs.asdict(completion.stats),
        "error": error_event(completion.error) if completion.error is not None else None,
        "server_tools": [
            {"id": t.id, "name": t.name, "status": t.status.value, "arguments": t.arguments, "output": t.output}
            for t in completion.server_tools
        ],
        "citations": [_compact(attrs.asdict(c)) for c in completion.citations],
        **extra,
    }


class EventsEncoder:
    """``format="sse"`` (``data: {…}`` frames, heartbeats as comments) or ``"ndjson"`` (one object a
    line, heartbeats as blank lines, which NDJSON readers skip)."""

    def __init__(self, format: str = "sse") -> None:
        if format not in ("sse", "ndjson"):
            raise ValueError(f"format must be 'sse' or 'ndjson', got {format!r}")
        self.format = format
        sse_form = format == "sse"
        self.media_type = "text/event-stream" if sse_form else "application/x-ndjson"
        self.headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        self.heartbeat = b": keep-alive\n\n" if sse_form else b"\n"
        self._head = b"data: " if sse_form else b""
        self._tail = b"\n\n" if sse_form else b"\n"

    def _frame(self, data: dict[str, Any]) -> bytes:
        return self._head + dumps(data).encode() + self._tail

    def open(self) -> bytes:
        return b""

    def encode(self, chunk: StreamedChunk) -> bytes:
        return self._frame(chunk_event(chunk))

    def finish(self, completion: Completion) -> bytes:
        return self._frame(completion_event(completion))

    def fail(self, error: BaseException) -> bytes:
        partial = getattr(error, "partial", None)
        completion = partial if isinstance(partial, Completion) else Completion()
        if completion.error is None and isinstance(error, LLMStreamError):
            completion = attrs.evolve(completion, error=error)
        return self._frame({"type": "error", "error": error_event(error)}) + self._frame(completion_event(completion))

    def refuse(self, error: BaseException) -> tuple[int, bytes]:
        status = error_status(error)
        return status, dumps({"type": "error", "error": {**error_event(error), "code": error_code(error)}}).encode()
