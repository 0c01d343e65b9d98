"""The transport layer below the shells: native-stream helpers (close, run down, hard cancel from any
thread), httpx2 timeouts from our knobs, and the mapping of transport failures to our errors."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from ._errors import LLMStreamError, MalformedStreamError, StreamInterruptedError, StreamTimeoutError
from ._guard import DEFAULT_MAX_EVENT_BYTES, AsyncGuardTransport, GuardTransport
from ._inflight import EXTENSION as INFLIGHT
from ._inflight import attach, pool_of
from ._settings import Settings

__all__ = [
    "INFLIGHT", "AsyncNative", "ResponseEvents", "StreamClosing", "connection_closed", "guarded_http_client",
    "guarded_transport", "hard_cancel", "http_timeout", "map_transport_error", "pool_wait_error", "read_to_end",
    "run_down", "shutdown_response",
]


class AsyncNative:
    """An async vendor stream: iterate it, ``await aclose()`` it, ``cancel()`` it from any thread.

    It holds one iterator for the stream's whole life, so that closing can run that iterator's
    generator chain down (see :func:`run_down`) instead of leaving it to the garbage collector.
    """

    __slots__ = ("_aclose", "_events", "response")

    def __init__(
        self, events: AsyncIterable[Any], aclose: Callable[[], Awaitable[Any]], response: Any = None
    ) -> None:
        self._events = events.__aiter__()
        self._aclose = aclose
        self.response = response

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events

    async def aclose(self) -> None:
        await self._aclose()  # the vendor's own close: the response and its connection
        if connection_closed(self.response):
            await run_down(self._events)


class StreamClosing(BaseException):
    """Raised by a request hook to refuse a request a closing stream would send (a vendor SDK that
    reconnects after the read error of :func:`run_down`). A BaseException, so SDKs that catch
    ``Exception`` to retry let it through."""


def connection_closed(response: Any) -> bool:
    """Whether closing ``response`` half-read closed its connection, so that a further read fails at
    once: HTTP/1.x. An HTTP/2 connection is shared and stays open (a read would wait for frames)."""
    return str(getattr(response, "http_version", "")).startswith("HTTP/1.")


async def run_down(events: AsyncIterator[Any]) -> None:
    """End every generator of an async vendor stream whose connection is already closed.

    ``aclose()`` on an async generator ends that generator only: an ``async for`` does not close
    what it iterates, so a vendor stream closed half-way leaves its inner generators (SSE decoder,
    httpx2 byte iterators, httpcore2's body reader) suspended in reference cycles. The garbage
    collector later hands them to the event loop's finalizer, from whichever thread it runs in and
    possibly after the loop is gone, where their ``finally`` blocks (which ``await``) fail with
    "async generator already executing". Reading on from the closed connection raises in the
    innermost generator instead, and that exception ends every frame of the chain here and now.
    Only for a connection that closing really closed (:func:`connection_closed`): never a wait.
    """
    # The read error that ends the chain, a reader in another task, or a refused reconnection.
    with contextlib.suppress(Exception, StreamClosing):
        async for _ in events:
            pass


def shutdown_response(response: Any) -> bool:
    """Shut down the socket under an httpx2 response, from any thread.

    Closing a socket's file descriptor does not wake a ``recv`` blocked in another thread on
    Linux; ``shutdown`` does (the read returns EOF at once), for sync and asyncio streams alike.
    """
    extensions = getattr(response, "extensions", None) or {}
    network_stream = extensions.get("network_stream")
    if network_stream is None:
        return False
    try:
        sock = network_stream.get_extra_info("socket")
    except Exception:
        return False
    if sock is None:
        return False
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)
    return True


def read_to_end(response: Any, chunks: Iterator[bytes], seconds: float) -> None:
    """Sync: read the end of a body after the wire's terminal event (normally already there), so that
    the connection goes back to the pool instead of being closed half-read. Bounded: each read of
    the socket waits at most ``seconds``; a server that keeps the body open only loses the connection.
    Only HTTP/1.x (its connection serves this response alone; an HTTP/2 stream's end frees no
    connection); without a socket to bound (a custom transport) nothing is read."""
    if not connection_closed(response):
        return
    extensions = getattr(response, "extensions", None) or {}
    network_stream: Any = extensions.get("network_stream")
    read = getattr(network_stream, "read", None)
    if read is None:
        return

    def bounded(max_bytes: int, timeout: float | None = None) -> bytes:
        return bytes(read(max_bytes, seconds))

    try:
        network_stream.read = bounded
    except (AttributeError, TypeError):  # a stream class with slots: leave the connection to close
        return
    try:
        with contextlib.suppress(Exception):  # the read timeout, or a transport error after the answer
            for _ in chunks:
                pass
    finally:
        with contextlib.suppress(AttributeError):
            del network_stream.read


class ResponseEvents:
    """A native stream over an open httpx2 response whose body llmstream decodes itself: subclasses
    give ``__iter__`` and ``_aiter`` (the events as dicts); ``close``/``cancel`` as the SDKs' streams."""

    __slots__ = ("max_event_bytes", "provider", "response")

    def __init__(self, response: Any, provider: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self.response = response
        self.provider = provider
        self.max_event_bytes = max_event_bytes

    def _aiter(self) -> AsyncIterator[Any]:
        raise NotImplementedError

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._aiter()

    def close(self) -> None:
        self.response.close()

    def cancel(self) -> None:
        shutdown_response(self.response)


def hard_cancel(native: Any) -> None:
    """Stop a native stream from another thread: its own ``cancel``, else its response's socket."""
    if native is None:
        return
    cancel = getattr(native, "cancel", None)
    if cancel is not None:
        cancel()
        return
    shutdown_response(getattr(native, "response", None))


def http_timeout(settings: Settings) -> Any:
    """httpx2 timeouts from our knobs: connect = ``timeout``; a read waits at most the longer of
    first_chunk_timeout and idle_timeout (a backstop: the stream's watchdog measures both between
    content chunks, and a slow first byte must not fail on the idle gap)."""
    import httpx2

    read = settings.read_timeout
    return httpx2.Timeout(connect=settings.timeout, read=read, write=read, pool=settings.timeout)


class ScopedGuardTransport(GuardTransport):
    """The guarded transport whose requests a stream can abort before their headers (``_inflight``)."""

    def handle_request(self, request: Any) -> Any:
        attach(request, pool_of(self._inner), asynchronous=False)
        return super().handle_request(request)


class AsyncScopedGuardTransport(AsyncGuardTransport):
    """The async twin of :class:`ScopedGuardTransport`."""

    async def handle_async_request(self, request: Any) -> Any:
        attach(request, pool_of(self._inner), asynchronous=True)
        return await super().handle_async_request(request)


class ScopedTransport(ScopedGuardTransport):
    """Abortable as :class:`ScopedGuardTransport`, without the byte guard: for bodies llmstream
    decodes itself (its SSE decoder bounds lines and events and drops a BOM)."""

    def handle_request(self, request: Any) -> Any:
        attach(request, pool_of(self._inner), asynchronous=False)
        return self._inner.handle_request(request)


class AsyncScopedTransport(AsyncScopedGuardTransport):
    """The async twin of :class:`ScopedTransport`."""

    async def handle_async_request(self, request: Any) -> Any:
        attach(request, pool_of(self._inner), asynchronous=True)
        return await self._inner.handle_async_request(request)


def guarded_transport(
    settings: Settings, *, asynchronous: bool, normalize_sse: bool = False, guard: bool = True
) -> Any:
    """An httpx2 transport behind the byte guard (bounded lines/events, BOM dropped), pooled like the
    openai/anthropic SDKs (1,000 connections, 100 kept alive); a stream's requests can be aborted
    from any thread before their response headers arrive. ``guard=False``: no byte guard, for a body
    llmstream decodes itself."""
    import httpx2

    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
    if asynchronous:
        cls: Any = AsyncScopedGuardTransport if guard else AsyncScopedTransport
        return cls(httpx2.AsyncHTTPTransport(limits=limits), settings.max_event_bytes, normalize_sse=normalize_sse)
    cls = ScopedGuardTransport if guard else ScopedTransport
    return cls(httpx2.HTTPTransport(limits=limits), settings.max_event_bytes, normalize_sse=normalize_sse)


def guarded_http_client(settings: Settings, *, asynchronous: bool, **kwargs: Any) -> Any:
    """An httpx2 client for a vendor SDK: the guarded transport, our timeouts."""
    import httpx2

    cls = httpx2.AsyncClient if asynchronous else httpx2.Client
    if "transport" not in kwargs:  # the user's own transport wins
        kwargs["transport"] = guarded_transport(settings, asynchronous=asynchronous)
    return cls(timeout=http_timeout(settings), **kwargs)


def pool_wait_error(exc: BaseException, provider: str) -> LLMStreamError | None:
    """A wait for a free connection of the client's own pool that timed out (httpx2's ``PoolTimeout``, also
    when a vendor SDK wrapped it, e.g. openai's ``APITimeoutError``): the provider was never asked, so the
    error says so instead of blaming a slow provider."""
    import httpx2

    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, httpx2.PoolTimeout):
            return StreamTimeoutError(
                "no free connection in this client's HTTP connection pool in time (every connection was busy "
                "with its other streams): the request was never sent to the provider; allow more connections "
                "or fewer concurrent streams per client", provider=provider,
            )
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return None


def map_transport_error(exc: BaseException, provider: str) -> LLMStreamError | None:
    """httpx2 transport failures and undecodable frames, common to every provider."""
    import httpx2

    if isinstance(exc, httpx2.PoolTimeout):
        return pool_wait_error(exc, provider)
    if isinstance(exc, httpx2.TimeoutException):
        if isinstance(exc, httpx2.ConnectTimeout):
            return StreamTimeoutError(f"connect timed out: {exc}", provider=provider)
        return StreamTimeoutError(f"no data from the provider in time: {exc}", provider=provider)
    if isinstance(exc, (httpx2.TransportError, httpx2.StreamError)):
        return StreamInterruptedError(f"connection lost: {type(exc).__name__}: {exc}", provider=provider)
    if isinstance(exc, json.JSONDecodeError):
        return MalformedStreamError(f"undecodable JSON in stream at char {exc.pos}: {exc.msg}", provider=provider)
    if isinstance(exc, UnicodeDecodeError):
        return MalformedStreamError(f"stream is not valid UTF-8: {exc}", provider=provider)
    if isinstance(exc, RecursionError):  # JSON nested deeper than the parser's recursion limit
        return MalformedStreamError(f"stream JSON nested too deep to decode: {exc}", provider=provider)
    return None
