"""``to_sse(stream, protocol)``: a stream's chunks as the bytes of one HTTP response body.

The first item comes once the upstream accepted the request (its response headers arrived, or a
first chunk did): a failure before that raises :class:`UpstreamRefused` with the protocol's HTTP
error, so the server can answer with a real status. After that: frames batched as they come,
heartbeats while the upstream is silent, and a failure in-band in the protocol's error shape.

A producer task reads the upstream into a bounded queue, so a slow reader stops the upstream read
(TCP back-pressure) instead of growing memory. Closing the iterator (the client disconnected)
cancels the producer, which closes the upstream connection at once; the partial is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from .._types import Completion
from ._common import Encoder
from ._events import EventsEncoder
from ._openai import OpenAIChunkEncoder
from ._ui import UIMessageStreamEncoder

__all__ = ["PROTOCOLS", "UpstreamRefused", "encoder_for", "to_sse"]

log = logging.getLogger("llmstream.serve")

#: Protocol names for :func:`to_sse` and :func:`encoder_for`.
PROTOCOLS = ("ui", "openai", "events", "ndjson")
_ACCEPT_POLL = 0.02  # s between looks at whether the upstream answered, before the first chunk


class UpstreamRefused(Exception):
    """The upstream failed before the response started: answer ``status`` with ``body``."""

    def __init__(self, error: BaseException, status: int, body: bytes, media_type: str = "application/json"):
        super().__init__(str(error))
        self.error = error
        self.status = status
        self.body = body
        self.media_type = media_type


class _End:
    __slots__ = ("completion", "error")

    def __init__(self, completion: Completion | None, error: BaseException | None) -> None:
        self.completion = completion
        self.error = error


_ACCEPTED = object()
_HEARTBEAT = object()


def encoder_for(protocol: str, *, model: str = "llmstream", include_usage: bool = False) -> Encoder:
    """A fresh encoder for a protocol name of :data:`PROTOCOLS`."""
    if protocol == "ui":
        return UIMessageStreamEncoder()
    if protocol == "openai":
        return OpenAIChunkEncoder(model, include_usage=include_usage)
    if protocol == "events":
        return EventsEncoder("sse")
    if protocol == "ndjson":
        return EventsEncoder("ndjson")
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")


def _accepted(stream: Any) -> bool:
    """Whether the upstream answered: the stream shells publish the open native stream."""
    return getattr(stream, "_native", None) is not None


async def _produce(stream: Any, encoder: Encoder, queue: asyncio.Queue[Any]) -> None:
    encode, put = encoder.encode, queue.put
    try:
        async for chunk in stream:
            data = encode(chunk)
            if data:
                await put(data)
        end = _End(stream.completion, None)
    except Exception as exc:  # the stream's own error (partial attached): said to the client
        end = _End(None, exc)
    await put(end)


async def to_sse(
    stream: Any,
    protocol: str | Encoder,
    *,
    heartbeat: float | None = 15.0,
    max_pending: int = 64,
    **encoder_options: Any,
) -> AsyncGenerator[bytes, None]:
    """The response body for ``stream`` (an :class:`~llmstream.AsyncStream`, not yet read) in
    ``protocol`` (a name from :data:`PROTOCOLS` or an encoder). At most ``max_pending`` encoded
    frames wait for a slow reader; a heartbeat goes out after at most ``heartbeat`` s of silence."""
    encoder = encoder_for(protocol, **encoder_options) if isinstance(protocol, str) else protocol
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue(max_pending)
    producer = asyncio.ensure_future(_produce(stream, encoder, queue))
    timers: list[asyncio.TimerHandle] = []
    sent = 0  # items handed to the reader; the heartbeat timer compares it between ticks

    def poll() -> None:
        if queue.empty() and _accepted(stream):
            queue.put_nowait(_ACCEPTED)
        elif queue.empty():
            timers[0] = loop.call_later(_ACCEPT_POLL, poll)

    timers.append(loop.call_later(_ACCEPT_POLL, poll))
    finished = False
    try:
        first = await queue.get()
        timers[0].cancel()
        if isinstance(first, _End) and first.error is not None:
            status, body = encoder.refuse(first.error)
            finished = True
            raise UpstreamRefused(first.error, status, body)
        head = encoder.open()
        item: Any = None
        if first is _ACCEPTED:
            yield head  # the status and headers go out now; the first frame may take minutes
            pieces: list[bytes] = []
        else:
            item, pieces = first, [head]
        if heartbeat is not None:
            seen = -1

            def tick() -> None:
                nonlocal seen
                if sent == seen and queue.empty():
                    queue.put_nowait(_HEARTBEAT)
                seen = sent
                timers[0] = loop.call_later(heartbeat / 2, tick)

            timers[0] = loop.call_later(heartbeat / 2, tick)
        get_nowait, empty = queue.get_nowait, queue.empty
        while True:
            if item is None:
                item = await queue.get() if empty() else get_nowait()
            while True:  # take everything already waiting: one write for a burst
                if item.__class__ is bytes:
                    pieces.append(item)
                elif item is _HEARTBEAT:
                    if not pieces:
                        pieces.append(encoder.heartbeat)
                elif isinstance(item, _End):
                    finished = True
                    if item.error is not None:
                        log.info("stream failed after the response started: %s", type(item.error).__name__)
                        pieces.append(encoder.fail(item.error))
                    else:
                        pieces.append(encoder.finish(item.completion or Completion()))
                    break
                if empty():
                    break
                item = get_nowait()
            item = None
            if not pieces:
                continue
            sent += 1
            yield b"".join(pieces) if len(pieces) > 1 else pieces[0]
            if finished:
                return
            pieces = []
    finally:
        for timer in timers:
            timer.cancel()
        if not producer.done():
            producer.cancel()
        with contextlib.suppress(BaseException):
            await producer
        if not finished:
            with contextlib.suppress(Exception):
                await stream.aclose()
            partial = getattr(stream, "completion", None)
            chars = len(partial.text) if isinstance(partial, Completion) else 0
            log.info("client went away mid-stream: upstream closed, partial of %d characters kept", chars)
