"""Stream and AsyncStream: the thin I/O shells around a provider's native iterator.

They iterate the native events, translate, accumulate, dispatch callbacks, retry before the first
chunk reaches the caller, enforce the total timeout and close the connection on every exit path.
The two classes differ only by ``async``/``await``; everything else lives in sans-IO helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from typing_extensions import Self

from ._accumulator import StreamingAccumulator
from ._errors import LLMStreamError, StreamTimeoutError
from ._options import Processor, StreamingOptions, call_async, call_sync, retry_callback
from ._policy import Request, backoff_delay
from ._state import StreamState, callback_error
from ._types import ChunkType, Completion, StreamedChunk
from .providers._native import hard_cancel

if TYPE_CHECKING:
    from ._client import BaseClient

__all__ = ["AsyncStream", "Stream"]

_START = ChunkType.START
_TEXT = ChunkType.TEXT


class _ShellBase:
    def __init__(self, client: BaseClient, request: Request, options: StreamingOptions):
        self._client = client
        self._request = request
        self._options = options
        self._state = StreamState(client.provider, request.settings, options.processors)
        self._completion: Completion | None = None
        self._native: Any = None
        self._lock = threading.Lock()

    @property
    def completion(self) -> Completion:
        """The final completion once the stream ended; before that, the partial so far."""
        if self._completion is not None:
            return self._completion
        return self._state.acc.completion()

    @property
    def accumulator(self) -> StreamingAccumulator:
        return self._state.acc

    def pipe(self, *processors: Processor) -> Self:
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
        hard_cancel(native)

    def _expire(self) -> None:
        """The total_timeout watchdog: runs on a timer thread (sync) or the event loop (async)."""
        with self._lock:
            self._state.expired = True
            native = self._native
        hard_cancel(native)

    def _interrupted(self, exc: Exception) -> Exception | None:
        """What a failure really was: the watchdog's timeout, a cancel (None), or itself."""
        if self._state.expired:
            error = StreamTimeoutError(
                f"total_timeout={self._request.settings.total_timeout}s passed", provider=self._state.provider
            )
            error.__cause__ = exc
            return error
        return None if self._state.cancelled else exc

    def _take_native(self) -> Any:
        with self._lock:
            native, self._native = self._native, None
        return native

    def _failed(self, exc: Exception) -> tuple[LLMStreamError, float | None]:
        """Map a failure; a delay means: retry after it (nothing reached the caller yet)."""
        error = self._client._to_error(exc)
        settings = self._request.settings
        if self._state.retry_allowed(error, settings):
            delay = backoff_delay(self._state.attempt, error, settings)
            self._state.restart()
            return error, delay
        error = self._state.fail(error)
        self._completion = error.partial
        return error, None


class Stream(_ShellBase):
    """Iterate ``StreamedChunk`` objects; ``completion`` holds the result afterwards.

    Use it as a context manager (``with client.stream(conv) as stream``) so the connection is
    closed on every exit path; ``cancel()`` may be called from another thread.
    """

    def __init__(self, client: BaseClient, request: Request, options: StreamingOptions):
        super().__init__(client, request, options)
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
        if self._completion is None:
            self._state.cancelled = True
        self._iterator.close()
        self._close_native()
        if self._completion is None:
            self._completion = self._state.finish_cancelled()

    def until_done(self) -> Completion:
        """Consume the rest of the stream and return the completion."""
        for _ in self._iterator:
            pass
        return self.completion

    def _close_native(self) -> None:
        native = self._take_native()
        if native is not None:
            with contextlib.suppress(Exception):  # best effort: the socket may already be gone
                native.close()

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
        state, client, request = self._state, self._client, self._request
        while not state.cancelled:
            try:
                client._warm(asynchronous=False)
                state.start_clock()
                native = client._open(request)
                if not self._adopt(native):
                    self._close_native()
                    break
                translator = client._translator(request)
                translate, accept = translator.translate, state.accept
                # Iterator use with no callback and no pacing: nothing to deliver per chunk.
                busy = self._options.on_start is not None or self._options.on_chunk is not None or state.pace
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
                self._close_native()
                break
            except GeneratorExit:
                state.cancelled = True
                self._close_native()
                raise
            except Exception as caught:
                self._close_native()
                exc = self._interrupted(caught)
                if exc is None:
                    break
                error, delay = self._failed(exc)
                if delay is not None:
                    self._notify(retry_callback(self._options), "on_retry", (error, delay, self._state.attempt))
                    time.sleep(delay)
                    continue
                self._notify(self._options.on_error, "on_error", error)
                if error is caught:
                    raise
                raise error from caught
            except BaseException:  # KeyboardInterrupt, SystemExit: close, keep the partial
                self._close_native()
                self._completion = state.finish_cancelled()
                raise
        if state.cancelled:
            self._completion = state.finish_cancelled()
            return
        self._completion = state.acc.completion()
        self._notify(self._options.on_complete, "on_complete", self._completion)

    def _deliver(self, item: StreamedChunk) -> None:
        options = self._options
        if self._state.pace and item.type is _TEXT:
            time.sleep(self._state.pace)
        if options.on_start is not None and item.type is _START:
            self._notify(options.on_start, "on_start", item)
        if options.on_chunk is not None:
            self._notify(options.on_chunk, "on_chunk", item)

    def _notify(self, callback: Any, name: str, argument: Any) -> None:
        if callback is None:
            return
        try:
            call_sync(callback, argument)
        except Exception as exc:
            raise callback_error(name, exc, self._state.provider) from exc


class AsyncStream(_ShellBase):
    """The async twin of :class:`Stream`: ``async with`` / ``async for``; callbacks may be async."""

    def __init__(self, client: BaseClient, request: Request, options: StreamingOptions):
        super().__init__(client, request, options)
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
        if self._completion is None:
            self._state.cancelled = True
        await self._iterator.aclose()
        await self._close_native()
        if self._completion is None:
            self._completion = self._state.finish_cancelled()

    async def until_done(self) -> Completion:
        """Consume the rest of the stream and return the completion."""
        async for _ in self._iterator:
            pass
        return self.completion

    async def _close_native(self) -> None:
        native = self._take_native()
        if native is not None:
            with contextlib.suppress(Exception):  # best effort: the socket may already be gone
                await native.aclose()

    async def _watched(self, total: float) -> AsyncGenerator[StreamedChunk, None]:
        """_run under a loop timer that shuts the connection when total_timeout passes mid-read."""
        handle = asyncio.get_running_loop().call_later(total, self._expire)
        try:
            async for item in self._run():
                yield item
        finally:
            handle.cancel()

    async def _run(self) -> AsyncGenerator[StreamedChunk, None]:
        state, client, request = self._state, self._client, self._request
        while not state.cancelled:
            try:
                client._warm(asynchronous=True)
                state.start_clock()
                native = await client._aopen(request)
                if not self._adopt(native):
                    await self._close_native()
                    break
                translator = client._translator(request)
                translate, accept = translator.translate, state.accept
                # Iterator use with no callback and no pacing: nothing to deliver per chunk.
                busy = self._options.on_start is not None or self._options.on_chunk is not None or state.pace
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
                await self._close_native()
                break
            except GeneratorExit:
                state.cancelled = True
                await self._close_native()
                raise
            except Exception as caught:
                await self._close_native()
                exc = self._interrupted(caught)
                if exc is None:
                    break
                error, delay = self._failed(exc)
                if delay is not None:
                    await self._notify(retry_callback(self._options), "on_retry", (error, delay, self._state.attempt))
                    await asyncio.sleep(delay)
                    continue
                await self._notify(self._options.on_error, "on_error", error)
                if error is caught:
                    raise
                raise error from caught
            except BaseException:  # task cancellation, KeyboardInterrupt: close, keep the partial
                await self._close_native()
                self._completion = state.finish_cancelled()
                raise
        if state.cancelled:
            self._completion = state.finish_cancelled()
            return
        self._completion = state.acc.completion()
        await self._notify(self._options.on_complete, "on_complete", self._completion)

    async def _deliver(self, item: StreamedChunk) -> None:
        options = self._options
        if self._state.pace and item.type is _TEXT:
            await asyncio.sleep(self._state.pace)
        if options.on_start is not None and item.type is _START:
            await self._notify(options.on_start, "on_start", item)
        if options.on_chunk is not None:
            await self._notify(options.on_chunk, "on_chunk", item)

    async def _notify(self, callback: Any, name: str, argument: Any) -> None:
        if callback is None:
            return
        try:
            await call_async(callback, argument)
        except Exception as exc:
            raise callback_error(name, exc, self._state.provider) from exc
