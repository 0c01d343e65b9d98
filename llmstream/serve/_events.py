"""llmstream's own JSON events (the CLI's ``--json`` objects), as SSE ``data:`` frames or NDJSON lines.

One object per chunk (``{"type": "text", "text": …}``, ``{"type": "tool_call_start", "tool_call":
{…}}``…), then ``{"type": "completion", …}``; a failure is ``{"type": "error", "error": {…}}``
followed by the completion object holding the partial and the error.
"""

from __future__ import annotations

from typing import Any

import attrs

from .._errors import LLMStreamError
from .._events_json import chunk_json, completion_json, error_json
from .._types import ChunkType, Completion, StreamedChunk
from ._common import dumps, error_code, error_message, error_status

__all__ = ["EventsEncoder", "chunk_event", "completion_event", "error_event"]

_TEXTUAL = (ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL)


def error_event(error: BaseException) -> dict[str, Any]:
    return error_json(error, error_message)


def chunk_event(chunk: StreamedChunk) -> dict[str, Any]:
    """The CLI's NDJSON object for one chunk: its type and only the fields that type uses."""
    return chunk_json(chunk, error_message)


def completion_event(completion: Completion, **extra: Any) -> dict[str, Any]:
    """The final ``{"type": "completion", …}`` object: everything the stream said, rebuilt."""
    return completion_json(completion, error_message, **extra)


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
