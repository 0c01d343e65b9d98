"""The OpenAI ``chat.completion.chunk`` SSE wire (the gateway), and the non-streamed ``chat.completion``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from .._types import ChunkType, Completion, FinishReason, StreamedChunk, Usage
from ._common import DONE, HEARTBEAT, dumps, error_code, error_message, error_status, openai_error, sse

__all__ = ["OpenAIChunkEncoder", "chat_completion", "openai_usage"]

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_REFUSAL = ChunkType.REFUSAL
_CALL_START = ChunkType.TOOL_CALL_START
_CALL_DELTA = ChunkType.TOOL_CALL_DELTA
_CALL_END = ChunkType.TOOL_CALL_END
_CITATION = ChunkType.CITATION
_dumps = json.dumps  # a bare str: the C encoder, ASCII-escaped (valid JSON, any client reads it)

_REASONS = {
    FinishReason.STOP: "stop",
    FinishReason.LENGTH: "length",
    FinishReason.TOOL_CALLS: "tool_calls",
    FinishReason.CONTENT_FILTER: "content_filter",
}


def finish_reason(completion: Completion) -> str:
    """OpenAI's word; ``error``/``cancelled``/``other`` have none, so they read as ``stop``."""
    if completion.finish_reason is None:
        return "tool_calls" if completion.tool_calls else "stop"
    return _REASONS.get(completion.finish_reason, "stop")


def openai_usage(usage: Usage | None) -> dict[str, Any]:
    usage = usage or Usage()
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }


class OpenAIChunkEncoder:
    """Chunks → ``data: {chat.completion.chunk}`` frames: a role chunk first, content and tool-call
    deltas with their ``index``, one ``finish_reason`` chunk, the usage chunk (``choices: []``) only
    when the request asked ``stream_options.include_usage``, then ``data: [DONE]``. A failure after
    the first byte is the in-band ``data: {"error": {...}}`` event that the openai SDKs raise."""

    media_type = "text/event-stream"
    heartbeat = HEARTBEAT

    def __init__(self, model: str, *, include_usage: bool = False, id: str | None = None,
                 created: int | None = None) -> None:
        self.headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        self.model = model
        self.include_usage = include_usage
        self.id = id or f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time()) if created is None else created
        head = dumps({"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": model})
        # Every frame is this prefix, the choice's delta, and a fixed tail: no dict per token.
        self._prefix = b"data: " + head[:-1].encode() + b',"choices":[{"index":0,"delta":'
        self._content = self._prefix + b'{"content":'
        self._reasoning = self._prefix + b'{"reasoning_content":'
        self._tail = b'},"logprobs":null,"finish_reason":null}]}\n\n'
        self._sent: dict[int, int] = {}  # tool-call index → argument characters sent

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return self._prefix + dumps(delta).encode() + self._tail[1:]

    def open(self) -> bytes:
        return self._delta({"role": "assistant", "content": ""})

    def encode(self, chunk: StreamedChunk) -> bytes:
        kind = chunk.type
        if kind is _TEXT:
            return self._content + _dumps(chunk.text).encode() + self._tail if chunk.text else b""
        if kind is _REASONING:
            return self._reasoning + _dumps(chunk.text).encode() + self._tail if chunk.text else b""
        if kind is _CALL_DELTA or kind is _CALL_START or kind is _CALL_END:
            return self._tool(chunk)
        if kind is _REFUSAL:
            return self._delta({"refusal": chunk.text}) if chunk.text else b""
        if kind is _CITATION and chunk.citation is not None and chunk.citation.url:
            cite = chunk.citation
            note: dict[str, Any] = {"url": cite.url, "title": cite.title or cite.url}
            if cite.start is not None and cite.end is not None:
                note.update(start_index=cite.start, end_index=cite.end)
            return self._delta({"annotations": [{"type": "url_citation", "url_citation": note}]})
        # START, USAGE and STOP are said by open() and finish(); server tools have no chat-wire form.
        return b""

    def _tool(self, chunk: StreamedChunk) -> bytes:
        call = chunk.tool_call
        if call is None:
            return b""
        index = call.index
        sent = self._sent.get(index)
        if chunk.type is _CALL_START or sent is None:
            self._sent[index] = len(call.arguments)
            head = {"index": index, "id": call.id or f"call_{index}", "type": "function",
                    "function": {"name": call.name or "", "arguments": call.arguments}}
            return self._delta({"tool_calls": [head]})
        if chunk.type is _CALL_DELTA:
            self._sent[index] = sent + len(call.arguments)
            fragment = call.arguments
        else:  # END carries the whole arguments: send only what the deltas did not
            fragment = call.arguments[sent:]
            self._sent[index] = len(call.arguments)
        if not fragment:
            return b""
        return self._delta({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def finish(self, completion: Completion) -> bytes:
        last = self._prefix + b"{}" + b',"logprobs":null,"finish_reason":' + _dumps(finish_reason(completion)).encode()
        out = [last + b"}]}\n\n"]
        if self.include_usage:
            out.append(sse({"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                            "model": self.model, "choices": [], "usage": openai_usage(completion.usage)}))
        out.append(DONE)
        return b"".join(out)

    def fail(self, error: BaseException) -> bytes:
        body = openai_error(error_message(error), error_status(error), code=error_code(error))
        return sse(body)

    def refuse(self, error: BaseException) -> tuple[int, bytes]:
        status = error_status(error)
        return status, dumps(openai_error(error_message(error), status, code=error_code(error))).encode()


def chat_completion(completion: Completion, model: str, *, id: str | None = None) -> dict[str, Any]:
    """The non-streamed ``chat.completion`` object for a finished completion."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text or None, "refusal": None}
    if completion.refusal:
        message["refusal"] = completion.refusal
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    if completion.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in completion.tool_calls
        ]
    if completion.citations:
        message["annotations"] = [
            {"type": "url_citation", "url_citation": {"url": c.url, "title": c.title or c.url}}
            for c in completion.citations if c.url
        ]
    return {
        "id": id or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason(completion)}],
        "usage": openai_usage(completion.usage),
    }
