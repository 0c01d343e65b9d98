"""merge / amerge: several streams read at once, ``(source, chunk)`` pairs, then a FanoutResult.

``merge`` runs each Stream in its own thread feeding one queue; ``amerge`` runs each AsyncStream in
its own task. A failing stream does not stop the others: its error arrives as an ERROR chunk
(``StreamedChunk(ChunkType.ERROR, error=err)``) for that source, its completion has ``.error``, and
the merge itself never raises for it. Once every source has ended (or the merge was closed),
``merged.result`` is a :class:`FanoutResult`. Closing the merge early (``break`` inside ``with``,
``close()``/``aclose()``) closes every stream. With ``merge`` a stream's callbacks run in its thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, overload

import attrs

from ._errors import LLMStreamError
from ._types import ChunkType, Completion, FinishReason, StreamedChunk, Usage

__all__ = ["AsyncMerged", "AsyncSource", "FanoutResult", "Merged", "SyncSource", "amerge", "merge", "sum_usage"]

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


def sum_usage(usages: Iterable[Usage | None]) -> Usage | None:
    """Add up the usage of *different* calls (a stream's own snapshots are never summed).

    ``None`` when no call reported usage; ``cost`` is the sum of the reported costs, ``None`` when
    no call reported one.
    """
    reported = [u for u in usages if u is not None]
    if not reported:
        return None
    costs = [u.cost for u in reported if u.cost is not None]
    return Usage(
        input_tokens=sum(u.input_tokens for u in reported),
        output_tokens=sum(u.output_tokens for u in reported),
        cached_input_tokens=sum(u.cached_input_tokens for u in reported),
        cache_write_tokens=sum(u.cache_write_tokens for u in reported),
        reasoning_tokens=sum(u.reasoning_tokens for u in reported),
        cost=sum(costs) if costs else None,
    )


@attrs.frozen
class FanoutResult(Generic[K]):
    """What a merge ended with: every source's completion (failed ones hold their partial),
    the errors of those that failed, their usage summed, and the wall time of the whole merge."""

    completions: dict[K, Completion]
    errors: dict[K, LLMStreamError]
    usage: Usage | None
    wall_time_ms: float

    @property
    def succeeded(self) -> dict[K, Completion]:
        """The sources that ended without an error and were not cancelled, in the order given."""
        return {
            source: completion
            for source, completion in self.completions.items()
            if source not in self.errors and completion.finish_reason is not FinishReason.CANCELLED
        }


def _result(
    streams: Mapping[K, SyncSource] | Mapping[K, AsyncSource],
    completions: dict[K, Completion],
    errors: dict[K, LLMStreamError],
    started: float,
) -> FanoutResult[K]:
    """Each source's completion in the order given (whatever order they finished in), errors attached."""
    final: dict[K, Completion] = {}
    for source, stream in streams.items():
        completion = completions.get(source) or stream.completion
        error = errors.get(source) or completion.error
        if error is not None and completion.error is None:  # a source that is not one of our streams
            completion = attrs.evolve(completion, error=error, finish_reason=FinishReason.ERROR)
        final[source] = completion
    failed = {source: c.error for source, c in final.items() if c.error is not None}
    wall = (time.perf_counter() - started) * 1000 if started else 0.0
    return FanoutResult(final, failed, sum_usage(c.usage for c in final.values()), wall)


class _Ended(Generic[K]):
    """The ``result`` property both merges share."""

    _result_value: FanoutResult[K] | None = None

    @property
    def result(self) -> FanoutResult[K]:
        """The :class:`FanoutResult`, once every source has ended or the merge was closed."""
        if self._result_value is None:
            raise RuntimeError("the merge has not ended yet: read it to the end or close it first")
        return self._result_value


def _as_error(exc: Exception) -> LLMStreamError:
    if isinstance(exc, LLMStreamError):
        return exc
    error = LLMStreamError(f"unexpected {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def _keyed(streams: Mapping[Any, Any] | Sequence[Any]) -> dict[Any, Any]:
    return dict(streams) if isinstance(streams, Mapping) else dict(enumerate(streams))


class Merged(_Ended[K]):
    """Iterate ``(source, chunk)`` pairs; at the end ``result`` is the :class:`FanoutResult`
    (``completions`` is kept as a shortcut to ``result.completions``)."""

    def __init__(self, streams: Mapping[K, SyncSource]):
        self._streams = dict(streams)
        self.completions: dict[K, Completion] = {}
        self._errors: dict[K, LLMStreamError] = {}
        self._started = 0.0
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
            self._end()

    def _end(self) -> None:
        self._result_value = _result(self._streams, self.completions, self._errors, self._started)
        self.completions = self._result_value.completions

    def _work(self, source: K, stream: SyncSource) -> None:
        try:
            for chunk in stream:
                if self._stop.is_set():
                    break
                self._queue.put((source, chunk))
        except Exception as exc:  # isolated: this source's failure is just one more chunk
            self._errors[source] = error = _as_error(exc)
            self._queue.put((source, StreamedChunk(ChunkType.ERROR, error=error)))
        finally:
            try:
                stream.close()  # from this thread: the one that iterates it
            finally:
                self.completions[source] = stream.completion
                self._queue.put((source, None))

    def _run(self) -> Generator[tuple[K, StreamedChunk], None, None]:
        self._started = time.perf_counter()
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
        self._end()


class AsyncMerged(_Ended[K]):
    """The async twin of :class:`Merged`: ``async for source, chunk in merged``, then ``result``."""

    def __init__(self, streams: Mapping[K, AsyncSource]):
        self._streams = dict(streams)
        self.completions: dict[K, Completion] = {}
        self._errors: dict[K, LLMStreamError] = {}
        self._started = 0.0
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
            self._end()

    def _end(self) -> None:
        self._result_value = _result(self._streams, self.completions, self._errors, self._started)
        self.completions = self._result_value.completions

    async def _work(self, source: K, stream: AsyncSource, out: asyncio.Queue[tuple[K, StreamedChunk | None]]) -> None:
        try:
            async for chunk in stream:
                out.put_nowait((source, chunk))
        except Exception as exc:  # isolated: this source's failure is just one more chunk
            self._errors[source] = error = _as_error(exc)
            out.put_nowait((source, StreamedChunk(ChunkType.ERROR, error=error)))
        finally:
            try:
                await stream.aclose()
            finally:
                self.completions[source] = stream.completion
                out.put_nowait((source, None))

    async def _run(self) -> AsyncGenerator[tuple[K, StreamedChunk], None]:
        self._started = time.perf_counter()
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
            self._end()


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
        merged.result.completions["openai"].text, merged.result.usage
    """
    return Merged(_keyed(streams))


@overload
def amerge(streams: Mapping[K, AsyncSource]) -> AsyncMerged[K]: ...
@overload
def amerge(streams: Sequence[AsyncSource]) -> AsyncMerged[int]: ...
def amerge(streams: Mapping[Any, AsyncSource] | Sequence[AsyncSource]) -> AsyncMerged[Any]:
    """The async twin of :func:`merge` (a task each): ``async with llmstream.amerge(...) as merged``."""
    return AsyncMerged(_keyed(streams))
