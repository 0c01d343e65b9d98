"""The OpenAI chat-completions wire decoded by llmstream itself: SSE bytes → dicts (which
``_openai_wire.OpenAIEventTranslator`` turns into StreamedChunks).

Used by OpenRouter (no vendor SDK) and by ``OpenAIClient(sdk_models=False)``, where the openai SDK
still sends the request and raises its errors but the body is read here. Each event's JSON is parsed
exactly once, into plain dicts that the translator reads directly: no per-chunk model objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._errors import MalformedStreamError
from .._guard import DEFAULT_MAX_EVENT_BYTES, saw_done, unguard
from .._transport import ResponseEvents, read_to_end
from ..sse import SSEDecoder
from ._json_scan import scan as _scan

__all__ = ["ChatStream", "EventResponse", "JSONEventParser", "achat_events"]


class JSONEventParser:
    """Sans-IO: body bytes in, one dict per SSE ``data`` event out, until ``[DONE]``."""

    __slots__ = ("_decoder", "done", "events", "provider")

    def __init__(self, provider: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        # One knob: a line may be as long as an event (a base64 partial image is over 1 MiB).
        self._decoder = SSEDecoder(max_line_bytes=max_event_bytes, max_event_bytes=max_event_bytes)
        self.provider = provider
        self.done = False
        self.events = 0

    def feed(self, data: bytes) -> list[Any]:
        out = []
        for payload in self._decoder.feed_data(data):
            if payload.startswith("[DONE]"):  # a prefix, as the openai SDK reads it
                self.done = True
                break
            self.events += 1
            out.append(loads(payload, self))
        return out




def loads(payload: str, parser: JSONEventParser) -> Any:
    """``json.loads(payload)``, cheaper: a document that is one value from its first character to its
    last is what ``json.loads`` would return; anything else (whitespace around it, extra data, an error)
    is left to ``json.loads`` itself, so that every result and every error is exactly its own."""
    try:
        value, end = _scan(payload, 0)
        if end == len(payload):
            return value
    except (StopIteration, ValueError, RecursionError):
        pass
    try:
        return json.loads(payload)
    except ValueError as exc:
        shown = payload if len(payload) <= 120 else payload[:120] + "…"
        raise MalformedStreamError(
            f"event {parser.events} is not JSON ({exc}): {shown!r}", provider=parser.provider
        ) from exc


class EventResponse(ResponseEvents):
    """A native stream: an open httpx2 response yielding decoded event dicts (``close``/``cancel`` as the SDKs').

    ``done_event`` (the chat wire's ``WIRE_DONE``) is yielded last when the body said ``[DONE]``.
    """

    __slots__ = ("done_event",)

    def __init__(
        self, response: Any, provider: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES, done_event: Any = None
    ) -> None:
        unguard(response)  # the decoder here bounds lines and events itself
        super().__init__(response, provider, max_event_bytes)
        self.done_event = done_event

    def __iter__(self) -> Iterator[Any]:
        parser = JSONEventParser(self.provider, self.max_event_bytes)
        chunks = self.response.iter_bytes()
        for data in chunks:
            yield from parser.feed(data)
            if parser.done:
                read_to_end(self.response, chunks, _DRAIN_SECONDS)  # as _aiter: the connection goes back
                if self.done_event is not None:
                    yield self.done_event
                return

    async def _aiter(self) -> AsyncIterator[Any]:
        parser = JSONEventParser(self.provider, self.max_event_bytes)
        chunks = self.response.aiter_bytes()
        async for data in chunks:
            for event in parser.feed(data):
                yield event
            if parser.done:
                await _read_to_end(chunks)
                if self.done_event is not None:
                    yield self.done_event
                return


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


class ChatStream:
    """The openai SDK's chat ``Stream``, then ``done_event`` when its body said ``data: [DONE]`` (which
    the SDK swallows; the byte guard saw it go by). Sync; ``itertools.chain``: nothing per chunk."""

    __slots__ = ("_events", "_stream", "response")

    def __init__(self, stream: Any, done_event: Any) -> None:
        self._stream = stream
        self.response = stream.response
        self._events = itertools.chain(stream, _done(stream.response, done_event))

    def __iter__(self) -> Iterator[Any]:
        return self._events

    def close(self) -> None:
        self._stream.close()


def _done(response: Any, done_event: Any) -> Iterator[Any]:
    if saw_done(response):
        yield done_event


async def achat_events(stream: Any, done_event: Any) -> AsyncIterator[Any]:
    """The async twin of :class:`ChatStream`'s events."""
    async for event in stream:
        yield event
    if saw_done(stream.response):
        yield done_event
