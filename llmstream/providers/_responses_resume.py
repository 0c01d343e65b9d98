"""Background Responses (``background=True``) that survive dropped connections, sans vendor SDK.

``Checked`` turns a body that ends before the response's terminal event into an error, which
``ResumingStream``/``AsyncResumingStream`` answer by reopening the stream after the last event's
``sequence_number``; closing one early cancels the response on the server. A plain (not background)
stream needs none of this: its translator reports a body cut short (``missing_terminal``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from .._errors import MalformedStreamError, StreamInterruptedError
from .._transport import AsyncNative, hard_cancel
from ._responses_wire import TERMINAL as _TERMINAL

__all__ = ["AsyncResumingStream", "Checked", "ResumingStream", "dict_identity", "dict_kind", "model_identity",
           "model_kind"]


def model_kind(event: Any) -> Any:
    return event.type


def dict_kind(event: Any) -> Any:
    return event.get("type")


def model_identity(event: Any) -> tuple[Any, Any, Any]:
    kind = event.type
    response_id = event.response.id if kind == "response.created" else None
    return kind, getattr(event, "sequence_number", None), response_id


def dict_identity(event: Any) -> tuple[Any, Any, Any]:
    kind = event.get("type")
    response = event.get("response") if kind == "response.created" else None
    return kind, event.get("sequence_number"), response.get("id") if isinstance(response, dict) else None


class Checked:
    """A native stream that raises :class:`StreamInterruptedError` when its body ends before the
    response's terminal event (``response.completed``/``incomplete``/``failed`` or ``error``): a 200
    cut short is never an empty or partial success. Sync: iterate it; async: ``achecked`` it."""

    __slots__ = ("_kind", "_provider", "_stream")

    def __init__(self, stream: Any, provider: str, kind: Callable[[Any], Any]) -> None:
        self._stream = stream
        self._provider = provider
        self._kind = kind

    @property
    def response(self) -> Any:
        return getattr(self._stream, "response", None)

    def __iter__(self) -> Iterator[Any]:
        last = None
        for event in self._stream:
            last = event
            yield event
        self._check(last)

    async def achecked(self) -> AsyncIterator[Any]:
        last = None
        async for event in self._stream:
            last = event
            yield event
        self._check(last)

    def _check(self, last: Any) -> None:
        if last is None:  # not one event: no event stream at all (HTML, JSON, an empty body…)
            raise MalformedStreamError("the 200 stream ended without a single event (expected response.completed)",
                                       provider=self._provider)
        if self._kind(last) not in _TERMINAL:
            raise StreamInterruptedError("the stream ended before the response's terminal event "
                                         "(response.completed)", provider=self._provider)

    def close(self) -> None:
        self._stream.close()

    def cancel(self) -> None:
        hard_cancel(self._stream)


class _Resuming:
    """What the sync and async resuming streams share: the position in the response, the decisions."""

    def __init__(self, identity: Callable[[Any], tuple[Any, Any, Any]], resumable: Callable[[BaseException], bool],
                 retries: int) -> None:
        self._identity = identity
        self._resumable = resumable
        self._retries = retries
        self.attempts = 0  # resumes so far
        self.response_id: str | None = None
        self.last: int | None = None  # sequence_number of the last event handed out
        self.finished = False  # a terminal event was handed out
        self.cancelled = False

    def seen(self, event: Any) -> bool:
        """Track the event; False for one the caller already had (a server repeating itself)."""
        kind, sequence, response_id = self._identity(event)
        if sequence is not None:
            if self.last is not None and sequence <= self.last:
                return False
            self.last = sequence
        if response_id:
            self.response_id = str(response_id)
        if kind in _TERMINAL:
            self.finished = True
        return True

    def can_resume(self, exc: BaseException | None) -> bool:
        """A dropped connection (or a body ended before the terminal event) of a known background response."""
        return (
            not self.cancelled and not self.finished and self.response_id is not None and self.last is not None
            and self.attempts < self._retries and (exc is None or self._resumable(exc))
        )


class ResumingStream(_Resuming):
    """A background response's event stream that survives dropped connections (sync).

    On a transport error (or a body that ends before ``response.completed``) it reopens the stream
    with ``GET /v1/responses/{id}?stream=true&starting_after=<last sequence_number>`` through
    ``reopen(response_id, last)``, at most ``retries`` times: the caller sees each event once.
    ``close()`` before the response finished cancels it on the server (``cancel(response_id)``).
    """

    def __init__(self, first: Any, reopen: Callable[[str, int], Any], cancel: Callable[[str], Any], *,
                 identity: Callable[[Any], tuple[Any, Any, Any]], resumable: Callable[[BaseException], bool],
                 retries: int) -> None:
        super().__init__(identity, resumable, retries)
        self._stream = first
        self._events = iter(first)
        self._reopen = reopen
        self._cancel = cancel

    @property
    def response(self) -> Any:
        return getattr(self._stream, "response", None)

    def __iter__(self) -> ResumingStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                event = next(self._events)
            except StopIteration:
                if not self.can_resume(None):
                    raise
                self._resume()
                continue
            except Exception as exc:
                if not self.can_resume(exc):
                    raise
                self._resume()
                continue
            if self.seen(event):
                return event

    def _resume(self) -> None:
        self.attempts += 1
        with contextlib.suppress(Exception):
            self._stream.close()
        assert self.response_id is not None and self.last is not None
        self._stream = self._reopen(self.response_id, self.last)
        self._events = iter(self._stream)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()
        if not self.finished and self.response_id is not None:
            self.finished = True
            with contextlib.suppress(Exception):  # best effort: stop generation and billing
                self._cancel(self.response_id)

    def cancel(self) -> None:
        """From any thread: no more resumes; the connection is shut at once."""
        self.cancelled = True
        hard_cancel(self._stream)


class AsyncResumingStream(_Resuming):
    """The async twin of :class:`ResumingStream`; ``reopen`` and ``cancel`` are coroutine functions,
    each opened stream an :class:`AsyncNative`."""

    def __init__(self, first: AsyncNative, reopen: Callable[[str, int], Awaitable[AsyncNative]],
                 cancel: Callable[[str], Awaitable[Any]], *, identity: Callable[[Any], tuple[Any, Any, Any]],
                 resumable: Callable[[BaseException], bool], retries: int) -> None:
        super().__init__(identity, resumable, retries)
        self._native = first
        self._events = first.__aiter__()
        self._reopen = reopen
        self._cancel = cancel

    @property
    def response(self) -> Any:
        return self._native.response

    def __aiter__(self) -> AsyncResumingStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                event = await self._events.__anext__()
            except StopAsyncIteration:
                if not self.can_resume(None):
                    raise
                await self._resume()
                continue
            except Exception as exc:
                if not self.can_resume(exc):
                    raise
                await self._resume()
                continue
            if self.seen(event):
                return event

    async def _resume(self) -> None:
        self.attempts += 1
        with contextlib.suppress(Exception):
            await self._native.aclose()
        assert self.response_id is not None and self.last is not None
        self._native = await self._reopen(self.response_id, self.last)
        self._events = self._native.__aiter__()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._native.aclose()
        if not self.finished and self.response_id is not None:
            self.finished = True
            with contextlib.suppress(Exception):
                await self._cancel(self.response_id)

    def cancel(self) -> None:
        self.cancelled = True
        hard_cancel(self._native)
