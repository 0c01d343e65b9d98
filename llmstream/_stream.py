"""Stream and AsyncStream: the thin I/O shells around a provider adapter's native stream.

They iterate the native events, translate, accumulate, dispatch callbacks, wait before a retry
(a wait that cancel() and the total deadline end at once), run the watchdog (``_watchdog``:
first_chunk_timeout, idle_timeout between content chunks, total_timeout) and close the connection
on every exit path; what they share is in ``_shell``. Every decision (what
to deliver, whether to retry and after how long, how the stream ended) is the sans-IO
:class:`~llmstream._state.StreamState`'s, so the two classes differ only by ``async``/``await``
(a test compares their ``_run`` sources, another runs the same scripted streams through both).
They hold an :class:`~llmstream._adapter.Adapter`, never a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

from ._adapter import Adapter
from ._observe import Watch
from ._options import StreamingOptions, call_async, call_sync, retry_callback
from ._settings import Request
from ._shell import ShellBase
from ._state import callback_error
from ._types import ChunkType, Completion, StreamedChunk
from ._watchdog import Watchdog, schedule, schedule_async

__all__ = ["AsyncStream", "Stream"]

_START = ChunkType.START
_TEXT = ChunkType.TEXT


class Stream(ShellBase):
    """Iterate ``StreamedChunk`` objects; ``completion`` holds the result afterwards.

    Use it as a context manager (``with client.stream(conv) as stream``) so the connection is
    closed on every exit path; ``cancel()`` may be called from another thread.
    """

    def __init__(self, adapter: Adapter, request: Request, options: StreamingOptions, watch: Watch | None = None):
        super().__init__(adapter, request, options, watch)
        self._waker = threading.Event()
        self._iterator = self._run()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[StreamedChunk]:
        return self._iterator

    def __next__(self) -> StreamedChunk:
        return next(self._iterator)

    def close(self) -> None:
        """Stop reading and close the connection; the completion so far is kept (cancelled)."""
        self._state.closing()
        self._iterator.close()
        self._close_native()
        self._state.closed()

    def until_done(self) -> Completion:
        """Consume the rest of the stream and return the completion."""
        for _ in self._iterator:
            pass
        return self.completion

    def _close_native(self) -> None:
        native = self._take_native()
        if native is not None:
            with contextlib.suppress(Exception):  # best effort: the socket may already be gone
                self._adapter.close(native)

    def _arm(self) -> None:
        """The watchdog, on the timer thread every sync stream shares; its deadline is the one fixed
        when the stream was made."""
        if Watchdog.needed(self._state):
            self._dog = Watchdog(self, self._state)
            schedule(self._dog)

    def _reading(self) -> bool:
        """Whether the stream waits for the server now: not while the caller holds a chunk (the
        generator suspended at ``yield``), nor while a callback runs."""
        return bool(getattr(self._iterator, "gi_running", True)) and not self._in_callback

    def _wake(self) -> None:
        self._waker.set()

    def _pause(self, delay: float) -> None:
        """The wait before a retry: cancel() and the total deadline end it at once."""
        deadline = self._state.deadline
        if deadline is not None:
            delay = min(delay, deadline - time.monotonic())
        if delay > 0:
            self._waker.wait(delay)

    def _run(self) -> Generator[StreamedChunk, None, None]:
        state, adapter, request, options = self._state, self._adapter, self._request, self._options
        self._arm()
        try:
            while not state.cancelled:
                try:
                    self._warm()
                    state.start_clock()
                    with self._sending():
                        native = adapter.open(request)
                    if not self._adopt(native):
                        self._close_native()
                        break
                    translator = adapter.translator(request)
                    translate, accept = translator.translate, state.accept
                    busy = state.busy(options)  # iterator use with no callback and no pacing: nothing per chunk
                    for event in native:
                        for chunk in translate(event):
                            for item in accept(chunk):
                                if busy:
                                    self._deliver(item)
                                yield item
                        if state.ended:
                            break
                    for item in state.finish(translator):
                        self._deliver(item)
                        yield item
                    state.check_output()
                    self._close_native()
                    break
                except GeneratorExit:
                    state.cancel()
                    self._close_native()
                    raise
                except Exception as caught:
                    self._close_native()
                    error, delay = state.failure(caught, adapter.map_error)
                    if error is None:
                        break
                    if delay is not None:
                        self._notify(retry_callback(options), "on_retry", (error, delay, state.attempt))
                        self._pause(delay)
                        continue
                    self._notify(options.on_error, "on_error", error)
                    if error is caught:
                        raise
                    raise error from caught
                except BaseException:  # task cancellation, KeyboardInterrupt: close, keep the partial
                    self._close_native()
                    state.aborted()
                    raise
            completion = state.done()
            if completion is not None:
                self._notify(options.on_complete, "on_complete", completion)
        finally:
            self._disarm()

    def _deliver(self, item: StreamedChunk) -> None:
        options = self._options
        if self._state.watch is not None:
            self._state.watch.chunk(item)
        if self._state.pace and item.type is _TEXT:
            time.sleep(self._state.pace)
        if options.on_start is not None and item.type is _START:
            self._notify(options.on_start, "on_start", item)
        if options.on_chunk is not None:
            self._notify(options.on_chunk, "on_chunk", item)
        if options.on_partial is not None and item.type is _TEXT:
            self._notify(options.on_partial, "on_partial", self.partial_output)

    def _notify(self, callback: Any, name: str, argument: Any) -> None:
        if callback is None:
            return
        with self._gate:  # cancel() waits for a running callback; none runs once it returned
            if self._state.cancelled:
                return
            self._in_callback = True
            try:
                call_sync(callback, argument)
            except Exception as exc:
                raise callback_error(name, exc, self._state.provider) from exc
            finally:
                self._in_callback = False


class AsyncStream(ShellBase):
    """The async twin of :class:`Stream`: ``async with`` / ``async for``; callbacks may be async."""

    _asynchronous = True

    def __init__(self, adapter: Adapter, request: Request, options: StreamingOptions, watch: Watch | None = None):
        super().__init__(adapter, request, options, watch)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waker: asyncio.Event | None = None
        self._iterator = self._run()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[StreamedChunk]:
        return self._iterator

    async def __anext__(self) -> StreamedChunk:
        return await self._iterator.__anext__()

    async def aclose(self) -> None:
        """Stop reading and close the connection; the completion so far is kept (cancelled)."""
        self._state.closing()
        await self._iterator.aclose()
        await self._close_native()
        self._state.closed()

    async def until_done(self) -> Completion:
        """Consume the rest of the stream and return the completion."""
        async for _ in self._iterator:
            pass
        return self.completion

    async def _close_native(self) -> None:
        native = self._take_native()
        if native is not None:
            with contextlib.suppress(Exception):  # best effort: the socket may already be gone
                await self._adapter.aclose(native)

    def _arm(self) -> None:
        """The watchdog, on the stream's event loop; its deadline is the one fixed when the stream was made."""
        self._loop = asyncio.get_running_loop()
        self._waker = asyncio.Event()
        if self._state.cancelled:
            self._waker.set()
        if Watchdog.needed(self._state):
            self._dog = Watchdog(self, self._state)
            schedule_async(self._dog, self._loop)

    def _reading(self) -> bool:
        """Whether the stream waits for the server now: not while the caller holds a chunk (the
        generator suspended at ``yield``), nor while a callback runs."""
        return getattr(self._iterator, "ag_await", True) is not None and not self._in_callback

    def _wake(self) -> None:
        loop, waker = self._loop, self._waker
        if loop is not None and waker is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits any more
                loop.call_soon_threadsafe(waker.set)

    async def _pause(self, delay: float) -> None:
        """The wait before a retry: cancel() and the total deadline end it at once."""
        deadline = self._state.deadline
        if deadline is not None:
            delay = min(delay, deadline - time.monotonic())
        if delay > 0 and self._waker is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._waker.wait(), delay)

    async def _run(self) -> AsyncGenerator[StreamedChunk, None]:
        state, adapter, request, options = self._state, self._adapter, self._request, self._options
        self._arm()
        try:
            while not state.cancelled:
                try:
                    self._warm()
                    state.start_clock()
                    with self._sending():
                        native = await adapter.aopen(request)
                    if not self._adopt(native):
                        await self._close_native()
                        break
                    translator = adapter.translator(request)
                    translate, accept = translator.translate, state.accept
                    busy = state.busy(options)  # iterator use with no callback and no pacing: nothing per chunk
                    async for event in native:
                        for chunk in translate(event):
                            for item in accept(chunk):
                                if busy:
                                    await self._deliver(item)
                                yield item
                        if state.ended:
                            break
                    for item in state.finish(translator):
                        await self._deliver(item)
                        yield item
                    state.check_output()
                    await self._close_native()
                    break
                except GeneratorExit:
                    state.cancel()
                    await self._close_native()
                    raise
                except Exception as caught:
                    await self._close_native()
                    error, delay = state.failure(caught, adapter.map_error)
                    if error is None:
                        break
                    if delay is not None:
                        await self._notify(retry_callback(options), "on_retry", (error, delay, state.attempt))
                        await self._pause(delay)
                        continue
                    await self._notify(options.on_error, "on_error", error)
                    if error is caught:
                        raise
                    raise error from caught
                except BaseException:  # task cancellation, KeyboardInterrupt: close, keep the partial
                    await self._close_native()
                    state.aborted()
                    raise
            completion = state.done()
            if completion is not None:
                await self._notify(options.on_complete, "on_complete", completion)
        finally:
            self._disarm()

    async def _deliver(self, item: StreamedChunk) -> None:
        options = self._options
        if self._state.watch is not None:
            self._state.watch.chunk(item)
        if self._state.pace and item.type is _TEXT:
            await asyncio.sleep(self._state.pace)
        if options.on_start is not None and item.type is _START:
            await self._notify(options.on_start, "on_start", item)
        if options.on_chunk is not None:
            await self._notify(options.on_chunk, "on_chunk", item)
        if options.on_partial is not None and item.type is _TEXT:
            await self._notify(options.on_partial, "on_partial", self.partial_output)

    async def _notify(self, callback: Any, name: str, argument: Any) -> None:
        if callback is None:
            return
        with self._gate:  # cancel() waits for a running callback; none runs once it returned
            if self._state.cancelled:
                return
            self._in_callback = True
            try:
                await call_async(callback, argument)
            except Exception as exc:
                raise callback_error(name, exc, self._state.provider) from exc
            finally:
                self._in_callback = False
