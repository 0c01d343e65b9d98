"""Fan-out: read several streams at once and get ``(source, chunk)`` pairs as they arrive.

``merge`` runs each Stream in its own thread feeding one queue; ``amerge`` runs each AsyncStream in
its own task. A failing stream does not stop the others: its error arrives as an ERROR chunk
(``StreamedChunk(ChunkType.ERROR, error=err)``) for that source, and its completion has ``.error``.
Closing the merge early (``break`` inside ``with``, ``close()``/``aclose()``) closes every stream.
With ``merge`` a stream's own callbacks run in that stream's thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Hashable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, overload

from ._errors import LLMStreamError
from ._types import ChunkType, Completion, StreamedChunk

__all__ = ["AsyncMerged", "Merged", "amerge", "merge"]

K = TypeVar("K", bound=Hashable)

#: How long closing waits for a stream's thread; a read the HTTP layer cannot interrupt may linger
#: past it (the threads are daemons, and each closes its own stream when it wakes up).
JOIN_TIMEOUT = 5.0


class SyncSource(Protocol):
    """What ``merge`` needs of a stream: ``Stream`` (and ``FallbackStream``) qualify."""

    def __iter__(self) -> Iterator[StreamedChunk]: ...
    def close(self) -> None: ...
    def cancel(self) -> None: ...
    @property
    def completion(self) -> Completion: ...


class AsyncSource(Protocol):
    """What ``amerge`` needs of a stream: ``AsyncStream`` (and ``AsyncFallbackStream``) qualify."""

    def __aiter__(self) -> AsyncIterator[StreamedChunk]: ...
    async def aclose(self) -> None: ...
    @property
    def completion(self) -> Completion: ...


def _as_error(exc: Exception) -> LLMStreamError:
    if isinstance(exc, LLMStreamError):
        return exc
    error = LLMStreamError(f"unexpected {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _keyed(streams: Mapping[Any, Any] | Sequence[Any]) -> dict[Any, Any]:
    return dict(streams) if isinstance(streams, Mapping) else dict(enumerate(streams))


class Merged(Generic[K]):
    """Iterate ``(source, chunk)`` pairs; ``completions`` holds each source's result at the end."""

    def __init__(self, streams: Mapping[K, SyncSource]):
        self._streams = dict(streams)
        self.completions: dict[K, Completion] = {}
        self._queue: queue.SimpleQueue[tuple[K, StreamedChunk | None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._iterator = self._run()

    def __iter__(self) -> Iterator[tuple[K, StreamedChunk]]:
        return self._iterator

    def __next__(self) -> tuple[K, StreamedChunk]:
        return next(self._iterator)

    def __enter__(self) -> Merged[K]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every stream still running and close them all; completions are kept (cancelled)."""
        self._iterator.close()
        if not self._threads:  # never iterated: nothing was opened, but close them all the same
            self._stop.set()
            for source, stream in self._streams.items():
                stream.close()
                self.completions.setdefault(source, stream.completion)

    def _work(self, source: K, stream: SyncSource) -> None:
        try:
            for chunk in stream:
                if self._stop.is_set():
                    break
                self._queue.put((source, chunk))
        except Exception as exc:  # isolated: this source's failure is just one more chunk
            self._queue.put((source, StreamedChunk(ChunkType.ERROR, error=_as_error(exc))))
        finally:
            try:
                stream.close()  # from this thread: the one that iterates it
            finally:
                self.completions[source] = stream.completion
                self._queue.put((source, None))

    def _run(self) -> Generator[tuple[K, StreamedChunk], None, None]:
        for source, stream in self._streams.items():
            thread = threading.Thread(target=self._work, args=(source, stream), daemon=True,
                                      name=f"llmstream-merge-{source}")
            self._threads.append(thread)
            thread.start()
        pending = len(self._streams)
        try:
            while pending:
                source, chunk = self._queue.get()
                if chunk is None:
                    pending -= 1
                else:
                    yield source, chunk
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        self._stop.set()
        for stream in self._streams.values():
            stream.cancel()  # thread-safe: closes the HTTP response so a blocked read wakes up
        for thread in self._threads:
            thread.join(JOIN_TIMEOUT)
        # In the order the sources were given, whatever order they finished in.
        self.completions = {s: self.completions.get(s) or stream.completion for s, stream in self._streams.items()}


class AsyncMerged(Generic[K]):
    """The async twin of :class:`Merged`: ``async for source, chunk in merged``."""

    def __init__(self, streams: Mapping[K, AsyncSource]):
        self._streams = dict(streams)
        self.completions: dict[K, Completion] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._iterator = self._run()

    def __aiter__(self) -> AsyncIterator[tuple[K, StreamedChunk]]:
        return self._iterator

    async def __anext__(self) -> tuple[K, StreamedChunk]:
        return await self._iterator.__anext__()

    async def __aenter__(self) -> AsyncMerged[K]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Cancel every stream still running and close them all; completions are kept (cancelled)."""
        await self._iterator.aclose()
        if not self._tasks:
            for source, stream in self._streams.items():
                await stream.aclose()
                self.completions.setdefault(source, stream.completion)

    async def _work(self, source: K, stream: AsyncSource, out: asyncio.Queue[tuple[K, StreamedChunk | None]]) -> None:
        try:
            async for chunk in stream:
                out.put_nowait((source, chunk))
        except Exception as exc:  # isolated: this source's failure is just one more chunk
            out.put_nowait((source, StreamedChunk(ChunkType.ERROR, error=_as_error(exc))))
        finally:
            try:
                await stream.aclose()
            finally:
                self.completions[source] = stream.completion
                out.put_nowait((source, None))

    async def _run(self) -> AsyncGenerator[tuple[K, StreamedChunk], None]:
        out: asyncio.Queue[tuple[K, StreamedChunk | None]] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._work(s, stream, out)) for s, stream in self._streams.items()]
        pending = len(self._tasks)
        try:
            while pending:
                source, chunk = await out.get()
                if chunk is None:
                    pending -= 1
                else:
                    yield source, chunk
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self.completions = {
                s: self.completions.get(s) or stream.completion for s, stream in self._streams.items()
            }


@overload
def merge(streams: Mapping[K, SyncSource]) -> Merged[K]: ...
@overload
def merge(streams: Sequence[SyncSource]) -> Merged[int]: ...
def merge(streams: Mapping[Any, SyncSource] | Sequence[SyncSource]) -> Merged[Any]:
    """Read several streams at once (a thread each); a list's sources are its indexes::

        streams = {"openai": a.stream(conv), "anthropic": b.stream(conv)}
        with llmstream.merge(streams) as merged:
            for source, chunk in merged:
                ...
        merged.completions["openai"].text
    """
    return Merged(_keyed(streams))


@overload
def amerge(streams: Mapping[K, AsyncSource]) -> AsyncMerged[K]: ...
@overload
def amerge(streams: Sequence[AsyncSource]) -> AsyncMerged[int]: ...
def amerge(streams: Mapping[Any, AsyncSource] | Sequence[AsyncSource]) -> AsyncMerged[Any]:
    """The async twin of :func:`merge` (a task each): ``async with llmstream.amerge(...) as merged``."""
    return AsyncMerged(_keyed(streams))
