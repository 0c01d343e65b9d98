"""Small adapters that give every vendor's native stream the shape the shells expect."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from .._policy import Settings

__all__ = ["AsyncNative", "hard_cancel", "http_timeout", "shutdown_response"]


class AsyncNative:
    """An async vendor stream: iterate it, ``await aclose()`` it, ``cancel()`` it from any thread."""

    __slots__ = ("_aclose", "_events", "response")

    def __init__(
        self, events: AsyncIterable[Any], aclose: Callable[[], Awaitable[Any]], response: Any = None
    ) -> None:
        self._events = events
        self._aclose = aclose
        self.response = response

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._events.__aiter__()

    async def aclose(self) -> None:
        await self._aclose()


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
