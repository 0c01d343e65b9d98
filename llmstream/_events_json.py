"""llmstream's own JSON form of chunks and completions, written once for every place that emits it:
the CLI's ``--json`` lines, ``llmstream council --json`` and ``llmstream.serve``'s own events.

One object per chunk holds its type and only the fields that type uses; the completion object holds
everything the stream said, rebuilt. How an error's message is shown is the caller's choice (the
CLI shows ``str(error)``; a server shows a foreign exception only by its type).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._types import ChunkType, Completion, ServerToolEvent, StreamedChunk, Usage

__all__ = ["chunk_json", "completion_json", "error_json", "server_tool_json", "usage_json"]

_TEXTUAL = (ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL)
Message = Callable[[BaseException], str]


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def usage_json(usage: Usage | None) -> dict[str, Any] | None:
    """Every Usage field, then ``total_tokens``."""
    return None if usage is None else {**attrs.asdict(usage), "total_tokens": usage.total_tokens}


def error_json(error: BaseException, message: Message = str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type(error).__name__, "message": message(error)}
    status = getattr(error, "status_code", None)
    if status is not None:
        out["status_code"] = status
    return out


def server_tool_json(tool: ServerToolEvent) -> dict[str, Any]:
    """A server tool without its vendor block (``raw``: it may hold encrypted content)."""
    return _compact(attrs.asdict(tool, filter=lambda a, _: a.name != "raw"))


def chunk_json(chunk: StreamedChunk, message: Message = str) -> dict[str, Any]:
    """One chunk: its type and only the fields that type uses."""
    kind = chunk.type
    out: dict[str, Any] = {"type": kind.value}
    if kind in _TEXTUAL:
        out["text"] = chunk.text
        if chunk.signature:
            out["signature"] = chunk.signature
    elif chunk.tool_call is not None:
        out["tool_call"] = _compact(attrs.asdict(chunk.tool_call))
    elif chunk.server_tool is not None:
        out["server_tool"] = server_tool_json(chunk.server_tool)
    elif chunk.citation is not None:
        out["citation"] = _compact(attrs.asdict(chunk.citation))
    elif kind is ChunkType.USAGE:
        out["usage"] = usage_json(chunk.usage)
    elif kind is ChunkType.STOP:
        out["finish_reason"] = chunk.finish_reason.value if chunk.finish_reason else None
        out["raw_finish_reason"] = chunk.raw_finish_reason
    elif kind is ChunkType.START:
        out.update(_compact({"id": chunk.id, "model": chunk.model}))
    elif chunk.error is not None:
        out["error"] = error_json(chunk.error, message)
    return out


def completion_json(completion: Completion, message: Message = str, **extra: Any) -> dict[str, Any]:
    """The ``{"type": "completion", ...}`` object: everything the stream said, rebuilt."""
    return {
        "type": "completion",
        "text": completion.text,
        "reasoning": completion.reasoning,
        "refusal": completion.refusal,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in completion.tool_calls],
        "server_tools": [server_tool_json(tool) for tool in completion.server_tools],
        "citations": [_compact(attrs.asdict(c)) for c in completion.citations],
        "usage": usage_json(completion.usage),
        "finish_reason": completion.finish_reason.value if completion.finish_reason else None,
        "raw_finish_reason": completion.raw_finish_reason,
        "model": completion.model,
        "id": completion.id,
        "provider": completion.provider,
        "cached": completion.cached,
        "stats": attrs.asdict(completion.stats),
        "error": error_json(completion.error, message) if completion.error is not None else None,
        **extra,
    }
