"""Anthropic stream events → StreamedChunks, sans-IO: the translator of the SDK's models, whose block,
usage and finish logic the dict translator of the fast path (``_anthropic_dicts``) shares.

The SDK yields ``RawMessageStreamEvent`` models. Unknown event, block or delta types are still
built by the SDK (as the first member of the union, with ``type`` kept), so everything here
dispatches on the ``type`` strings, never on ``isinstance``, and ignores what it does not know.
Content blocks, messages and usage are read with :func:`~._server_tools.field`, so the shared
methods take SDK models and plain dicts alike (they run a few times per stream, never per delta).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._errors import InBandError
from .._hot_values import text_chunk
from .._types import ChunkType, FinishReason, StreamedChunk, Usage
from ._parts import Parts
from ._server_tools import AnthropicServerTools, field

__all__ = ["FINISH_REASONS", "AnthropicTranslator", "in_band_error"]

FINISH_REASONS: dict[str, FinishReason] = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.LENGTH,
    # The answer was cut off by the context window: for the caller that is a truncation, like
    # max_tokens (OpenAI reports the same situation as "length").
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_use": FinishReason.TOOL_CALLS,
    "refusal": FinishReason.CONTENT_FILTER,
    # pause_turn (a long server-tool turn to be continued) and anything new fall back to OTHER.
}

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_NO_CHUNKS: tuple[StreamedChunk, ...] = ()


def _initial_arguments(block_input: Any) -> str:
    """What a ``tool_use`` block's END carries when no ``input_json_delta`` follows: the start
    block's whole ``input`` when it has one, else ``{}`` (a tool called with no arguments streams
    no input at all)."""
    if isinstance(block_input, Mapping) and block_input:
        return json.dumps(block_input)
    return "{}"


class AnthropicTranslator:
    """RawMessageStreamEvent → StreamedChunks. Pure, one per stream.

    State: the parts manager (START, client ``tool_use`` blocks keyed by content-block index and
    renumbered 0, 1, 2… as tool calls, the finish), the prompt usage parts (``message_delta``
    usage is cumulative and overrides only what it carries), and a thinking block's signature
    that came with its start block.
    """

    __slots__ = ("_output_blocks", "_output_tool", "_parts", "_pending_signature", "_prompt", "_server", "_stopped")

    def __init__(self, output_tool: str | None = None) -> None:
        # Structured output through a forced tool: that tool's input deltas are the answer's TEXT.
        self._output_tool = output_tool
        self._output_blocks: set[int] = set()
        self._parts = Parts()
        self._server: AnthropicServerTools | None = None  # made at the first server-tool block
        self._prompt: tuple[int, int, int] = (0, 0, 0)  # input, cache read, cache creation
        self._pending_signature: dict[int, str] = {}
        self._stopped = False  # message_stop came

    def translate(self, event: Any) -> tuple[StreamedChunk, ...] | list[StreamedChunk]:
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            # The hot path: one text fragment, no copies. (Fields a frame lacks are None.)
            delta_kind = delta.type if delta is not None else None
            if delta_kind == "text_delta":
                text = delta.text
                return (text_chunk(text, event),) if text else _NO_CHUNKS
            if delta_kind == "input_json_delta":
                return self._input_json(event.index, delta.partial_json, event)
            if delta_kind == "thinking_delta":
                thinking = delta.thinking
                return (StreamedChunk(_REASONING, thinking, raw=event),) if thinking else _NO_CHUNKS
            if delta_kind == "signature_delta":
                return self._signature(event.index, delta.signature, event)
            if delta_kind == "citations_delta":
                return (AnthropicServerTools.citation(delta, event),)
            return _NO_CHUNKS  # unknown deltas are ignored
        if kind == "content_block_start":
            return self._block_start(event.index, event.content_block, event)
        if kind == "content_block_stop":
            return self._block_stop(event.index, event)
        if kind == "message_delta":
            return self._message_delta(event.usage, event.delta, event)
        if kind == "message_start":
            return self._message_start(event.message, event)
        if kind == "error":  # only seen when events come from elsewhere: the SDK raises these itself
            return (StreamedChunk(ChunkType.ERROR, error=in_band_error(getattr(event, "error", None)), raw=event),)
        if kind == "message_stop":
            self._stopped = True
        return _NO_CHUNKS  # ping, message_stop, and event types newer than this code

    def missing_terminal(self) -> str | None:
        """The message's end (``message_stop``, or a ``stop_reason``) never came: None when it did."""
        return None if self._stopped or self._parts.finished else "message_stop"

    def end(self) -> list[StreamedChunk]:
        """Blocks that never closed (a stream that ended early): keep signatures, finish tool calls;
        a message that never said why it stopped gets the inferred STOP."""
        out = [StreamedChunk(_REASONING, "", signature=sig) for sig in self._pending_signature.values()]
        self._pending_signature.clear()
        out += self._parts.end()
        return out

    # -- content blocks (shared with the dict translator: blocks are SDK models or dicts) ------------

    def _block_start(self, index: int, block: Any, raw: Any) -> tuple[StreamedChunk, ...]:
        block_kind = field(block, "type")
        if block_kind == "text":
            text = field(block, "text")  # normally "", but a block may arrive with its text already
            return (StreamedChunk(_TEXT, text, raw=raw),) if text else _NO_CHUNKS
        if block_kind == "thinking":
            thinking, signature = field(block, "thinking"), field(block, "signature")
            if signature:  # sent at the block's stop, after any text deltas, so it closes the right block
                self._pending_signature[index] = signature
            return (StreamedChunk(_REASONING, thinking, raw=raw),) if thinking else _NO_CHUNKS
        if block_kind == "redacted_thinking":
            data = field(block, "data") or ""
            return (StreamedChunk(_REASONING, "", redacted_data=data, raw=raw),)
        if block_kind == "tool_use" and self._output_tool is not None and field(block, "name") == self._output_tool:
            self._output_blocks.add(index)
            given = field(block, "input")
            return (StreamedChunk(_TEXT, json.dumps(given), raw=raw),) if given else _NO_CHUNKS
        if block_kind == "tool_use":
            initial = _initial_arguments(field(block, "input"))
            _, chunk = self._parts.open_call(index, field(block, "id"), field(block, "name"), raw, initial=initial)
            return (chunk,)
        # server_tool_use, web_search_tool_result, mcp_* …: run by Anthropic, never calls for the client.
        server = self._server
        if server is None:
            server = self._server = AnthropicServerTools()
        return server.block_start(index, self._server_block(block), raw) or _NO_CHUNKS

    @staticmethod
    def _server_block(block: Any) -> Any:
        """A server block as ``AnthropicServerTools`` takes it (the SDK's model as it is)."""
        return block

    def _input_json(self, index: int, fragment: str | None, raw: Any) -> tuple[StreamedChunk, ...]:
        if index in self._output_blocks:
            return (StreamedChunk(_TEXT, fragment, raw=raw),) if fragment else _NO_CHUNKS
        call = self._parts.call(index)
        if call is None or call.closed or not fragment:  # a server tool's input, or an empty fragment
            if call is None and self._server is not None and fragment is not None:
                self._server.input_delta(index, fragment)
            return _NO_CHUNKS
        return (self._parts.fragment(call, fragment, raw),)

    def _signature(self, index: int, signature: str | None, raw: Any) -> tuple[StreamedChunk, ...]:
        if not signature:
            return _NO_CHUNKS
        self._pending_signature.pop(index, None)  # the delta supersedes a start-block one
        return (StreamedChunk(_REASONING, "", signature=signature, raw=raw),)

    def _block_stop(self, index: int, raw: Any) -> tuple[StreamedChunk, ...]:
        call = self._parts.call(index)
        if call is not None and not call.closed:
            return (self._parts.close_call(call, raw),)
        signature = self._pending_signature.pop(index, None)
        if signature is not None:
            return (StreamedChunk(_REASONING, "", signature=signature, raw=raw),)
        if self._server is not None:
            return self._server.block_stop(index, raw) or _NO_CHUNKS
        return _NO_CHUNKS

    # -- message-level events ---------------------------------------------------------------------

    def _message_start(self, message: Any, raw: Any) -> list[StreamedChunk]:
        if message is None:
            return []
        parts = self._parts
        out = [] if parts.started else [parts.start(field(message, "id"), field(message, "model"), raw)]
        usage = field(message, "usage")
        if usage is not None:
            self._prompt = (
                field(usage, "input_tokens") or 0,
                field(usage, "cache_read_input_tokens") or 0,
                field(usage, "cache_creation_input_tokens") or 0,
            )
            out.append(StreamedChunk(ChunkType.USAGE, usage=self._usage(usage), raw=raw))
        return out

    def _message_delta(self, usage: Any, delta: Any, raw: Any) -> list[StreamedChunk]:
        out: list[StreamedChunk] = []
        if usage is not None:
            # Cumulative: output replaces; input parts replace only when this event carries them.
            fresh, read, created = self._prompt
            value = field(usage, "input_tokens")
            if value is not None:
                fresh = value
            value = field(usage, "cache_read_input_tokens")
            if value is not None:
                read = value
            value = field(usage, "cache_creation_input_tokens")
            if value is not None:
                created = value
            self._prompt = (fresh, read, created)
            out.append(StreamedChunk(ChunkType.USAGE, usage=self._usage(usage), raw=raw))
        reason = field(delta, "stop_reason")
        if reason:
            finish = FINISH_REASONS.get(reason, FinishReason.OTHER)
            if reason == "tool_use" and self._output_blocks:  # the forced output tool: a complete object
                finish = FinishReason.STOP
            stop = self._parts.stop(finish, reason, raw)
            if stop is not None:
                out.append(stop)
        return out

    def _usage(self, usage: Any) -> Usage:
        fresh, read, created = self._prompt
        thinking = field(field(usage, "output_tokens_details"), "thinking_tokens")
        return Usage(
            input_tokens=fresh + read + created,  # OpenAI semantics: every prompt token
            output_tokens=field(usage, "output_tokens") or 0,
            cached_input_tokens=read,
            cache_write_tokens=created,
            reasoning_tokens=thinking or 0,
        )


def in_band_error(error: Any, body: Any = None, fallback: str = "error event in the stream") -> InBandError:
    """An ``error`` event's ``{"type", "message"}`` (a dict or an SDK model) as an InBandError."""
    if isinstance(error, Mapping):
        code, message = error.get("type"), error.get("message")
    else:
        code, message = getattr(error, "type", None), getattr(error, "message", None)
    code = str(code) if code else None
    text = str(message) if message else fallback
    return InBandError(f"{code}: {text}" if code else text, code=code, body=body)
