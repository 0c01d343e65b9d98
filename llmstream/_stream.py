"""Stream and AsyncStream: the thin I/O shells around a provider adapter's native stream.

They iterate the native events, translate, accumulate, dispatch callbacks, sleep before a retry,
run the total-timeout watchdog and close the connection on every exit path. Every decision (what
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
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any, ClassVar

from typing_extensions import Self

from ._accumulator import StreamingAccumulator
from ._adapter import Adapter
from ._observe import Watch
from ._options import ProcessorLike, StreamingOptions, call_async, call_sync, retry_callback
from ._settings import Request
from ._state import StreamState, callback_error
from ._types import ChunkType, Completion, StreamedChunk

__all__ = ["AsyncStream", "Stream"]

_START = ChunkType.START
_TEXT = ChunkType.TEXT


class _ShellBase:
    _asynchronous: ClassVar[bool] = False

    def __init__(self, adapter: Adapter, request: Request, options: StreamingOptions, watch: Watch | None = None):
        self._adapter = adapter
        self._request = request
        self._options = options
        self._state = StreamState(adapter.provider, request.settings, options.processors, request.output)
        self._state.cached = bool(getattr(adapter, "cached", False))
        if watch is not None:
            self._state.watch = watch
            # A stream dropped without being closed still ends its span (once: Watch.end is idempotent).
            weakref.finalize(self, watch.end, None, None, cancelled=True)
        self._native: Any = None
        self._lock = threading.Lock()

    @property
    def completion(self) -> Completion:
        """The final completion once the stream ended; before that, the partial so far."""
        result = self._state.result
        return result if result is not None else self._state.acc.completion()

    @property
    def partial_output(self) -> Any:
        """With ``output_type=``: the object so far, leniently parsed (never raises); else None."""
        spec = self._request.output
        return None if spec is None else spec.partial(self._state.acc.text)

    @property
    def accumulator(self) -> StreamingAccumulator:
        return self._state.acc

    def pipe(self, *processors: ProcessorLike) -> Self:
        """Add processors (before iterating): they see each chunk before the accumulator does."""
        if self._state.acc.chunks:
            raise RuntimeError("pipe() must be called before the stream is read")
        self._state.use(processors)
        return self

    def _adopt(self, native: Any) -> bool:
        """Publish the open native stream; False when a cancel() raced the open."""
        with self._lock:
            self._native = native
            return not self._state.cancelled

    def cancel(self) -> None:
        """Thread-safe: shut the connection down at once; the reader ends as cancelled."""
        with self._lock:
            self._state.cancelled = True
            native = self._native
        self._adapter.hard_cancel(native)

    def _expire(self) -> None:
        """The total_timeout watchdog: runs on a timer thread (sync) or the event loop (async)."""
        with self._lock:
            self._state.expired = True
            native = self._native
        self._adapter.hard_cancel(native)

    def _take_native(self) -> Any:
        with self._lock:
            native, self._native = self._native, None
        return native


class Stream(_ShellBase):
    """Iterate ``StreamedChunk`` objects; ``completion`` holds the result afterwards.

    Use it as a context manager (``with client.stream(conv) as stream``) so the connection is
    closed on every exit path; ``cancel()`` may be called from another thread.
    """

    def __init__(self, adapter: Adapter, request: Request, options: StreamingOptions, watch: Watch | None = None):
        super().__init__(adapter, request, options, watch)
        total = request.settings.total_timeout
        self._iterator = self._run() if total is None else self._watched(total)

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

    def _watched(self, total: float) -> Generator[StreamedChunk, None, None]:
        """_run under a timer that shuts the connection when total_timeout passes mid-read."""
        timer = threading.Timer(total, self._expire)
        timer.daemon = True
        timer.start()
        try:
            yield from self._run()
        finally:
            timer.cancel()

    def _run(self) -> Generator[StreamedChunk, None, None]:
        state, adapter, request, options = self._state, self._adapter, self._request, self._options
        while not state.cancelled:
            try:
                adapter.warm(self._asynchronous)
                state.start_clock()
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
                state.cancelled = True
                self._close_native()
                raise
            except Exception as caught:
                self._close_native()
                error, delay = state.failure(caught, adapter.map_error)
                if error is None:
                    break
                if delay is not None:
                    self._notify(retry_callback(self._options), "on_retry", (error, delay, self._state.attempt))
                    time.sleep(delay)
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
        try:
            call_sync(callback, argument)
        except Exception as exc:
            raise callback_error(name, exc, self._state.provider) from exc


class AsyncStream(_ShellBase):
    """The async twin of :class:`Stream`: ``async with`` / ``async for``; callbacks may be async."""

    _asynchronous = True

    def __init__(self, adapter: Adapter, request: Request, options: StreamingOptions, watch: Watch | None = None):
        super().__init__(adapter, request, options, watch)
        total = request.settings.total_timeout
        self._iterator = self._run() if total is None else self._watched(total)

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

    async def _watched(self, total: float) -> AsyncGenerator[StreamedChunk, None]:
        """_run under a loop timer that shuts the connection when total_timeout passes mid-read."""
        handle = asyncio.get_running_loop().call_later(total, self._expire)
        try:
            async for item in self._run():
                yield item
        finally:
            handle.cancel()

    async def _run(self) -> AsyncGenerator[StreamedChunk, None]:
        state, adapter, request, options = self._state, self._adapter, self._request, self._options
        while not state.cancelled:
            try:
                adapter.warm(self._asynchronous)
                state.start_clock()
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
                state.cancelled = True
                await self._close_native()
                raise
            except Exception as caught:
                await self._close_native()
                error, delay = state.failure(caught, adapter.map_error)
                if error is None:
                    break
                if delay is not None:
                    await self._notify(retry_callback(self._options), "on_retry", (error, delay, self._state.attempt))
                    await asyncio.sleep(delay)
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
        try:
            await call_async(callback, argument)
        except Exception as exc:
            raise callback_error(name, exc, self._state.provider) from exc
