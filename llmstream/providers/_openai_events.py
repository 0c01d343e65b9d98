"""The OpenAI chat-completions wire decoded by llmstream itself: SSE bytes → dicts (which
``_openai_wire.OpenAIEventTranslator`` turns into StreamedChunks).

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

from .._errors import MalformedStreamError
from ..sse import SSEDecoder
from ._native import shutdown_response

__all__ = ["EventResponse", "JSONEventParser"]


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
        for data in self.response.iter_bytes():
            yield from parser.feed(data)
            if parser.done:
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
