"""The OpenAI chat-completions wire decoded by llmstream itself: SSE bytes → dicts → StreamedChunks.

Used by OpenRouter (no vendor SDK) and by ``OpenAIClient(sdk_models=False)``, where the openai SDK
still sends the request and raises its errors but the body is read here. Each event's JSON is parsed
exactly once, into plain dicts that the translator reads directly: no per-chunk model objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._errors import InBandError, MalformedStreamError
from .._transport import read_to_end, shutdown_response
from .._types import ChunkType, StreamedChunk, text_chunk
from ..sse import SSEDecoder
from ._openai_wire import OpenAIWireState, usage_from_mapping

__all__ = ["EventResponse", "JSONEventParser", "OpenAIEventTranslator"]

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING


class JSONEventParser:
    """Sans-IO: body bytes in, one dict per SSE ``data`` event out, until ``[DONE]``."""

    __slots__ = ("_decoder", "done", "events", "provider")

    def __init__(self, provider: str) -> None:
        self._decoder = SSEDecoder()
        self.provider = provider
        self.done = False
        self.events = 0

    def feed(self, data: bytes) -> list[Any]:
        out = []
        for event in self._decoder.feed(data):
            payload = event.data
            if payload.startswith("[DONE]"):  # a prefix, as the openai SDK reads it
                self.done = True
                break
            self.events += 1
            try:
                out.append(json.loads(payload))
            except ValueError as exc:
                shown = payload if len(payload) <= 120 else payload[:120] + "…"
                raise MalformedStreamError(
                    f"event {self.events} is not JSON ({exc}): {shown!r}", provider=self.provider
                ) from exc
        return out


class EventResponse:
    """A native stream: an open httpx2 response yielding decoded event dicts (``close``/``cancel`` as the SDKs')."""

    __slots__ = ("provider", "response")

    def __init__(self, response: Any, provider: str) -> None:
        self.response = response
        self.provider = provider

    def __iter__(self) -> Iterator[Any]:
        parser = JSONEventParser(self.provider)
        chunks = self.response.iter_bytes()
        for data in chunks:
            yield from parser.feed(data)
            if parser.done:
                read_to_end(self.response, chunks, _DRAIN_SECONDS)  # as _aiter: the connection goes back
                return

    async def _aiter(self) -> AsyncIterator[Any]:
        parser = JSONEventParser(self.provider)
        chunks = self.response.aiter_bytes()
        async for data in chunks:
            for event in parser.feed(data):
                yield event
            if parser.done:
                await _read_to_end(chunks)
                return

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    def close(self) -> None:
        self.response.close()

    def cancel(self) -> None:
        shutdown_response(self.response)


#: How long the end of a body may take to arrive after ``[DONE]`` (the openai SDK waits similarly).
_DRAIN_SECONDS = 0.1


async def _read_to_end(chunks: AsyncIterator[bytes]) -> None:
    """Read the end of the body after ``[DONE]`` (normally already there), so that the connection
    goes back to the pool instead of being closed half-read: the next stream then skips a new
    TCP (and TLS) handshake. Bounded: a server that keeps the body open only loses the connection."""

    async def discard() -> None:
        async for _ in chunks:
            pass

    with contextlib.suppress(Exception):  # asyncio.TimeoutError, or a transport error after the answer
        await asyncio.wait_for(discard(), _DRAIN_SECONDS)


class OpenAIEventTranslator:
    """OpenAI-wire chunk dicts → StreamedChunks. Pure, one per stream.

    Reads what the SDK translator reads (``reasoning_content`` or ``reasoning``, refusals, tool calls,
    usage) plus OpenRouter's extras: ``reasoning_details`` (signatures, encrypted blocks) and the
    ``{"error": …}`` member of a chunk, which becomes an ERROR chunk after what the chunk carried.
    """

    __slots__ = ("_provider", "_wire")

    def __init__(self, provider: str = "openrouter") -> None:
        self._wire = OpenAIWireState()
        self._provider = provider

    def translate(self, chunk: dict[str, Any]) -> list[StreamedChunk] | tuple[StreamedChunk, ...]:
        wire = self._wire
        choices = chunk.get("choices")
        if wire.started and choices and len(choices) == 1 and "usage" not in chunk and "error" not in chunk:
            choice = choices[0]
            delta = choice.get("delta")
            # The hot path: a text delta and nothing else of interest.
            if (
                delta
                and not choice.get("finish_reason")
                and not choice.get("index")
                and not delta.get("tool_calls")
                and not delta.get("reasoning_content")
                and not delta.get("reasoning")
                and not delta.get("reasoning_details")
                and not delta.get("refusal")
            ):
                content = delta.get("content")
                return (text_chunk(content, chunk),) if content else ()
        out: list[StreamedChunk] = []
        if not wire.started:
            out.append(wire.start(chunk.get("id"), chunk.get("model"), chunk))
        error = chunk.get("error")
        for choice in choices or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            self._reasoning(delta, chunk, out)
            content = delta.get("content")
            if content:
                out.append(StreamedChunk(_TEXT, content, raw=chunk))
            refusal = delta.get("refusal")
            if refusal:
                out.append(StreamedChunk(ChunkType.REFUSAL, refusal, raw=chunk))
            for call in delta.get("tool_calls") or ():
                function = call.get("function") or {}
                out.extend(
                    wire.tool_call(call.get("index"), call.get("id"), function.get("name"), function.get("arguments"),
                                   chunk)
                )
            finish = choice.get("finish_reason")
            if finish and not (finish == "error" and error):
                out.extend(wire.finish(finish, chunk))
        usage = chunk.get("usage")
        if usage:
            out.append(StreamedChunk(ChunkType.USAGE, usage=usage_from_mapping(usage), raw=chunk))
        if error:
            out.append(StreamedChunk(ChunkType.ERROR, error=_in_band(error, self._provider), raw=chunk))
        return out

    @staticmethod
    def _reasoning(delta: dict[str, Any], chunk: Any, out: list[StreamedChunk]) -> None:
        """``reasoning_content`` (DeepSeek, vLLM) or ``reasoning`` (OpenRouter, newer vLLM, which may send
        both with the same text) carries the text, as in the SDK translator; ``reasoning_details``
        repeats it with signatures and encrypted blocks, so its text is used only when neither is there."""
        text = delta.get("reasoning_content") or delta.get("reasoning")
        details = delta.get("reasoning_details") or ()
        if isinstance(text, str) and text:
            out.append(StreamedChunk(_REASONING, text, raw=chunk))
            text_given = True
        else:
            text_given = False
        for detail in details:
            if not isinstance(detail, dict):
                continue
            kind = detail.get("type")
            if kind == "reasoning.encrypted":
                out.append(StreamedChunk(_REASONING, redacted_data=str(detail.get("data") or ""), raw=chunk))
                continue
            if not text_given:
                piece = detail.get("text") if kind == "reasoning.text" else detail.get("summary")
                if isinstance(piece, str) and piece:
                    out.append(StreamedChunk(_REASONING, piece, raw=chunk))
            signature = detail.get("signature")
            if signature:
                out.append(StreamedChunk(_REASONING, signature=str(signature), raw=chunk))

    def end(self) -> list[StreamedChunk]:
        return self._wire.end()


def _in_band(error: Any, provider: str) -> InBandError:
    if isinstance(error, dict):
        message = str(error.get("message") or _NO_MESSAGE)
        code = error.get("code")
        return InBandError(message, code=None if code is None else str(code), body=error, provider=provider)
    return InBandError(_NO_MESSAGE, body=error, provider=provider)  # as the openai SDK words it


_NO_MESSAGE = "An error occurred during streaming"


