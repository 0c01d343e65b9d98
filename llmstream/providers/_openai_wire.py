"""The OpenAI chat-completions wire, sans-IO: shared by the OpenAI SDK path (pydantic chunks) and
the dict path of ``_openai_events`` (OpenRouter, ``sdk_models=False``). Only field extraction
differs between the two; the rules for tool-call keys, finish reasons and usage live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._conversation import Conversation
from .._types import ChunkType, FinishReason, StreamedChunk, Tool, ToolCallDelta, Usage

__all__ = ["FINISH_REASONS", "OpenAIWireState", "messages_payload", "tools_payload", "usage_from_mapping"]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": FinishReason.STOP,
    "end_turn": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "max_tokens": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "error": FinishReason.ERROR,
}


class _OpenCall:
    __slots__ = ("closed", "fragments", "id", "index", "name")

    def __init__(self, index: int, call_id: str | None, name: str | None):
        self.index = index
        self.id = call_id
        self.name = name
        self.fragments: list[str] = []
        self.closed = False


class OpenAIWireState:
    """Per-stream state: tool calls keyed by the vendor's index, falling back to the id.

    A new id at an index already in use is a new call; a repeated id/name is not a new call and
    never appended; ``arguments: null`` adds nothing. Calls are renumbered 0, 1, 2… in order of
    appearance, so that the chunks' indexes are unique even when a server reuses one.
    """

    __slots__ = ("_by_id", "_by_index", "_calls", "_finished", "_last", "started")

    def __init__(self) -> None:
        self.started = False
        self._calls: list[_OpenCall] = []
        self._by_index: dict[int, _OpenCall] = {}
        self._by_id: dict[str, _OpenCall] = {}
        self._last: _OpenCall | None = None
        self._finished: str | None = None

    def start(self, chunk_id: str | None, model: str | None, raw: Any) -> StreamedChunk:
        self.started = True
        return StreamedChunk(ChunkType.START, id=chunk_id or None, model=model or None, raw=raw)

    def tool_call(
        self, index: int | None, call_id: str | None, name: str | None, arguments: str | None, raw: Any
    ) -> list[StreamedChunk]:
        call_id = call_id or None
        if index is not None:
            current = self._by_index.get(index)
            if current is not None and call_id is not None and current.id is not None and current.id != call_id:
                current = self._by_id.get(call_id)  # a new id at a used index: a new call
        elif call_id is not None:
            current = self._by_id.get(call_id)
        else:
            current = self._last  # neither index nor id: continues the latest call
        out: list[StreamedChunk] = []
        if current is None:
            current = _OpenCall(len(self._calls), call_id, name or None)
            self._calls.append(current)
            out.append(
                StreamedChunk(
                    ChunkType.TOOL_CALL_START,
                    tool_call=ToolCallDelta(current.index, current.id, current.name, ""),
                    raw=raw,
                )
            )
        else:
            if current.id is None and call_id is not None:
                current.id = call_id
            if current.name is None and name:
                current.name = name
        if index is not None:
            self._by_index[index] = current
        if call_id is not None:
            self._by_id[call_id] = current
        self._last = current
        if arguments:
            current.fragments.append(arguments)
            out.append(
                StreamedChunk(
                    ChunkType.TOOL_CALL_DELTA, tool_call=ToolCallDelta(current.index, arguments=arguments), raw=raw
                )
            )
        return out

    def close_calls(self, raw: Any) -> list[StreamedChunk]:
        """TOOL_CALL_END for every call still open, with its full arguments."""
        out = []
        for call in self._calls:
            if not call.closed:
                call.closed = True
                out.append(
                    StreamedChunk(
                        ChunkType.TOOL_CALL_END,
                        tool_call=ToolCallDelta(call.index, call.id, call.name, "".join(call.fragments)),
                        raw=raw,
                    )
                )
        return out

    def finish(self, reason: str, raw: Any) -> list[StreamedChunk]:
        out = self.close_calls(raw)
        if reason == self._finished:
            return out  # a finish chunk repeated by the server (OpenRouter sends two) is not a second finish
        self._finished = reason
        normalized = FINISH_REASONS.get(reason, FinishReason.OTHER)
        out.append(StreamedChunk(ChunkType.STOP, finish_reason=normalized, raw_finish_reason=reason, raw=raw))
        return out


    def end(self) -> list[StreamedChunk]:
        """The stream ended: close open calls; a server that never said why it stopped gets a STOP
        of ``tool_calls`` when calls were made, else ``other`` (raw reason ``None``)."""
        out = self.close_calls(None)
        if self._finished is None and self.started:
            reason = FinishReason.TOOL_CALLS if self._calls else FinishReason.OTHER
            out.append(StreamedChunk(ChunkType.STOP, finish_reason=reason))
        return out


def _get(mapping: Any, key: str) -> Any:
    if mapping is None:
        return None
    if isinstance(mapping, Mapping):
        return mapping.get(key)
    return getattr(mapping, key, None)


def usage_from_mapping(usage: Any) -> Usage:
    """OpenAI-style usage (a dict or the SDK's model) → the normalized snapshot."""
    prompt_details = _get(usage, "prompt_tokens_details")
    completion_details = _get(usage, "completion_tokens_details")
    cached = _get(prompt_details, "cached_tokens")
    if cached is None:
        cached = _get(usage, "prompt_cache_hit_tokens")  # DeepSeek
    cache_write = _get(prompt_details, "cache_write_tokens")
    cost = _get(usage, "cost")
    return Usage(
        input_tokens=_get(usage, "prompt_tokens") or 0,
        output_tokens=_get(usage, "completion_tokens") or 0,
        cached_input_tokens=cached or 0,
        cache_write_tokens=cache_write or 0,
        reasoning_tokens=_get(completion_details, "reasoning_tokens") or 0,
        cost=float(cost) if isinstance(cost, (int, float)) else None,
    )


def messages_payload(conversation: Conversation, provider: str = "openai") -> list[dict[str, Any]]:
    """A Conversation in the chat-completions request shape. Content parts go in the documented
    shapes (``_content_shapes``); ``provider`` is ``"openrouter"`` for what OpenRouter takes beyond OpenAI."""
    out: list[dict[str, Any]] = []
    budget: Budget | None = None
    for message in conversation.messages:
        content: Any = message.content
        if type(content) is not str:  # parts: text-only requests never pay for this
            from ._content_shapes import Budget, openai_content

            budget = budget or Budget(provider)
            content = openai_content(content, message.role, provider, budget)
        if message.role == "tool":
            out.append({"role": "tool", "tool_call_id": message.tool_call_id or "", "content": content})
        elif message.role == "assistant" and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": content or None,
                    "tool_calls": [
                        {
                            "id": call.id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments or "{}"},
                        }
                        for call in message.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": message.role, "content": content})
    return out


def tools_payload(tools: tuple[Tool, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": dict(t.parameters)},
        }
        for t in tools
    ]
