"""Small adapters that give every vendor's native stream the shape the shells expect."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from .._policy import Settings

__all__ = [
    "AsyncNative", "StreamClosing", "connection_closed", "hard_cancel", "http_timeout", "run_down", "shutdown_response",
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
    """httpx2 timeouts from our knobs: connect = ``timeout``, each read waits at most the idle gap."""
    import httpx2

    read = settings.read_timeout
    return httpx2.Timeout(connect=settings.timeout, read=read, write=read, pool=settings.timeout)
