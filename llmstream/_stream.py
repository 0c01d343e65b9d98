"""Stream and AsyncStream: the thin I/O shells around a provider's native iterator.

They iterate the native events, translate, accumulate, dispatch callbacks, retry before the first
chunk reaches the caller, enforce the total timeout and close the connection on every exit path.
The two classes differ only by ``async``/``await``; everything else lives in sans-IO helpers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any

from ._accumulator import StreamingAccumulator
from ._errors import CallbackError, ContentLimitError, LLMStreamError, StreamTimeoutError
from ._options import StreamingOptions, call_async, call_sync
from ._policy import Request, Settings, Translator, backoff_delay, is_retryable
from ._types import ChunkType, Completion, FinishReason, StreamedChunk

if TYPE_CHECKING:
    from ._client import BaseClient

__all__ = ["AsyncStream", "Stream"]

_ERROR = ChunkType.ERROR
_START = ChunkType.START
_USAGE = ChunkType.USAGE
_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING


class _Attempt:
    """Sans-IO bookkeeping of one stream across its attempts: what to deliver, what to hold."""

    __slots__ = ("acc", "attempt", "cancelled", "chars", "deadline", "delivered", "held", "max_chars", "provider")

    def __init__(self, provider: str, settings: Settings):
        self.provider = provider
        self.deadline = None if settings.total_timeout is None else time.monotonic() + settings.total_timeout
        self.max_chars = settings.max_content_chars
        self.attempt = 0
        self.cancelled = False
        self.delivered = False
        self.chars = 0
        self.held: list[StreamedChunk] = []
        self.acc = StreamingAccumulator(provider=provider)

    def restart(self) -> None:
        self.attempt += 1
        self.held = []
        self.chars = 0
        self.acc = StreamingAccumulator(provider=self.provider, started_at=self.acc.started_at)

    def accept(self, chunk: StreamedChunk) -> tuple[StreamedChunk, ...]:
        """Accumulate one translated chunk; return the chunks now due to the caller.

        START and USAGE are held until the first content chunk, so that a failure before any
        content can still be retried without the caller having seen anything.
        """
        kind = chunk.type
        if kind is _ERROR:
            raise chunk.error or LLMStreamError("in-band error", provider=self.provider)
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise StreamTimeoutError("total_timeout passed", provider=self.provider)
        if self.max_chars is not None and (kind is _TEXT or kind is _REASONING):
            self.chars += len(chunk.text)
            if self.chars > self.max_chars:
                raise ContentLimitError(
                    f"response exceeded max_content_chars={self.max_chars}", provider=self.provider
                )
        self.acc.add(chunk)
        if self.delivered:
            return (chunk,)
        if kind is _START or kind is _USAGE:
            self.held.append(chunk)
            return ()
        self.delivered = True
        held, self.held = self.held, []
        return (*held, chunk)

    def finish(self, translator: Translator) -> tuple[StreamedChunk, ...]:
        """The vendor stream ended: the translator's owed chunks, then anything still held."""
        due: list[StreamedChunk] = []
        for chunk in translator.end():
            due.extend(self.accept(chunk))
        due.extend(self.held)
        self.held = []
        return tuple(due)

    def retry_allowed(self, error: LLMStreamError, settings: Settings) -> bool:
        return not self.delivered and self.attempt < settings.max_retries and is_retryable(error)

    def fail(self, error: LLMStreamError) -> LLMStreamError:
        """Attach everything received so far: no failure loses content."""
        if error.provider is None:
            error.provider = self.provider
        error.partial = self.acc.completion(error=error)
        return error

    def finish_cancelled(self) -> Completion:
        return self.acc.completion(finish_reason=FinishReason.CANCELLED)


def _callback_error(name: str, exc: BaseException, provider: str) -> CallbackError:
    error = CallbackError(f"{name} callback raised {type(exc).__name__}: {exc}", provider=provider)
    error.__cause__ = exc
    return error


class _ShellBase:
    def __init__(self, client: BaseClient, request: Request, options: StreamingOptions):
        self._client = client
        self._request = request
        self._options = options
        self._state = _Attempt(client.provider, request.settings)
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
        if self._completion is None:
            self._state.cancelled = True
        self._iterator.close()
        self._close_native()
        if self._completion is None:
            self._completion = self._state.finish_cancelled()

    def cancel(self) -> None:
        """Thread-safe: close the HTTP response at once; the reading thread ends as cancelled."""
        self._state.cancelled = True
        self._close_native()

    def until_done(self) -> Completion:
        """Consume the rest of the stream and return the completion."""
        for _ in self._iterator:
            pass
        return self.completion

    def _close_native(self) -> None:
        native = self._take_native()
        if native is not None:
            try:
                native.close()
            except Exception:  # closing is best effort: the socket may already be gone
                pass

    def _run(self) -> Generator[StreamedChunk, None, None]:
        state, client, request = self._state, self._client, self._request
        while not state.cancelled:
            try:
                native = self._native = client._open(request)
                translator = client._translator(request)
                translate, accept = translator.translate, state.accept
                for event in native:
                    for chunk in translate(event):
                        for item in accept(chunk):
                            self._deliver(item)
                            yield item
                for item in state.finish(translator):
                    self._deliver(item)
                    yield item
                self._close_native()
                break
            except GeneratorExit:
                state.cancelled = True
                self._close_native()
                raise
            except Exception as exc:
                self._close_native()
                if state.cancelled:
                    break
                error, delay = self._failed(exc)
                if delay is not None:
                    time.sleep(delay)
                    continue
                self._notify(self._options.on_error, "on_error", error)
                if error is exc:
                    raise
                raise error from exc
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
            raise _callback_error(name, exc, self._state.provider) from exc


class AsyncStream(_ShellBase):
    """The async twin of :class:`Stream`: ``async with`` / ``async for``; callbacks may be async."""

    def __init__(self, client: BaseClient, request: Request, options: StreamingOptions):
        super().__init__(client, request, options)
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
        if self._completion is None:
            self._state.cancelled = True
        await self._iterator.aclose()
        await self._close_native()
        if self._completion is None:
            self._completion = self._state.finish_cancelled()

    def cancel(self) -> None:
        """Thread-safe: the reading task ends as cancelled and its connection is closed."""
        self._state.cancelled = True
        hard_close = getattr(self._native, "cancel", None)
        if hard_close is not None:
            hard_close()

    async def until_done(self) -> Completion:
        """Consume the rest of the stream and return the completion."""
        async for _ in self._iterator:
            pass
        return self.completion

    async def _close_native(self) -> None:
        native = self._take_native()
        if native is not None:
            try:
                await native.aclose()
            except Exception:  # closing is best effort: the socket may already be gone
                pass

    async def _run(self) -> AsyncGenerator[StreamedChunk, None]:
        state, client, request = self._state, self._client, self._request
        while not state.cancelled:
            try:
                native = self._native = await client._aopen(request)
                translator = client._translator(request)
                translate, accept = translator.translate, state.accept
                async for event in native:
                    for chunk in translate(event):
                        for item in accept(chunk):
                            await self._deliver(item)
                            yield item
                for item in state.finish(translator):
                    await self._deliver(item)
                    yield item
                await self._close_native()
                break
            except GeneratorExit:
                state.cancelled = True
                await self._close_native()
                raise
            except Exception as exc:
                await self._close_native()
                if state.cancelled:
                    break
                error, delay = self._failed(exc)
                if delay is not None:
                    await asyncio.sleep(delay)
                    continue
                await self._notify(self._options.on_error, "on_error", error)
                if error is exc:
                    raise
                raise error from exc
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
            raise _callback_error(name, exc, self._state.provider) from exc
