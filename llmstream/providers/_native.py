"""Small adapters that give every vendor's native stream the shape the shells expect."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

from .._policy import Settings

__all__ = ["AsyncNative", "http_timeout"]


class AsyncNative:
    """An async vendor stream: iterate it, ``await aclose()`` it, ``cancel()`` it from any thread.

    ``cancel`` closes the underlying HTTP response's socket without awaiting, so a read blocked in
    another thread's event loop fails at once; the shell then ends the stream as cancelled.
    """

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

    def cancel(self) -> None:
        stream = getattr(self.response, "stream", None)
        for name in ("_stream", "_httpcore_stream"):
            stream = getattr(stream, name, stream)
        close = getattr(stream, "close", None)
        if close is not None and not _is_coroutine_function(close):
            close()


def _is_coroutine_function(fn: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(fn)


def http_timeout(settings: Settings) -> Any:
    """httpx2 timeouts from our knobs: connect = ``timeout``, each read waits at most the idle gap."""
    import httpx2

    read = settings.read_timeout
    return httpx2.Timeout(connect=settings.timeout, read=read, write=read, pool=settings.timeout)
