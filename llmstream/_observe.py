"""What watches a stream from the side: its telemetry span and the cache entry a success leaves.

The sans-IO :class:`~llmstream._state.StreamState` calls a :class:`Watch` at each retry and exactly
once at the end, whichever way the stream ends; the shells hand it each delivered chunk. With no
telemetry SDK configured and no cache, no Watch exists and nothing is called per chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import attrs

from ._errors import LLMStreamError
from ._settings import Request
from ._types import Completion, StreamedChunk

__all__ = ["CacheAdapter", "CachePlan", "Watch", "plan_cache", "watch_for"]


@attrs.frozen
class CachePlan:
    """Where a request's answer is looked up and stored: ``entry`` is a hit (None: a miss)."""

    cache: Any
    key: str
    mode: str
    entry: dict[str, Any] | None = None


class Watch:
    """The telemetry span (if any) and the cache store (if any) of one stream."""

    __slots__ = ("_cache", "_ended", "telemetry")

    def __init__(self, telemetry: Any, cache: CachePlan | None) -> None:
        self.telemetry = telemetry
        self._cache = cache
        self._ended = False

    def chunk(self, chunk: StreamedChunk) -> None:
        if self.telemetry is not None:
            self.telemetry.chunk(chunk)

    def retry(self, error: LLMStreamError, delay: float, attempt: int) -> None:
        if self.telemetry is not None:
            self.telemetry.retry(error, delay, attempt)

    def end(
        self, completion: Completion | None, error: BaseException | None = None, *, cancelled: bool = False
    ) -> None:
        """Exactly once: close the span; store a complete success (never a hit, an error or a cancel)."""
        if self._ended:
            return
        self._ended = True
        plan = self._cache
        fresh = plan is not None and plan.entry is None and plan.mode != "read_only"
        if plan is not None and fresh and completion is not None and error is None and not cancelled:
            from .cache import store

            store(plan.cache, plan.key, completion)
        if self.telemetry is not None:
            self.telemetry.end(completion, error, cancelled=cancelled)


def plan_cache(client: Any, request: Request) -> CachePlan | None:
    """The cache plan of a request: None without a cache or for requests that depend on server state."""
    cache = request.cache
    if cache is None:
        return None
    from .cache import cache_key, cacheable, lookup

    if not cacheable(request.extra):
        return None
    key = cache_key(
        provider=client.provider, model=request.model, base_url=client.base_url, conversation=request.conversation,
        tools=request.tools, max_tokens=request.max_tokens, temperature=request.temperature,
        # the output type is part of the request: a prose answer never stands for a structured one
        extra={**request.extra, "output_schema": None if request.output is None else request.output.schema},
    )
    mode = request.cache_mode
    entry = lookup(cache, key) if mode != "refresh" else None
    return CachePlan(cache, key, mode, entry)


def watch_for(client: Any, request: Request, plan: CachePlan | None) -> Watch | None:
    """The Watch of a stream, or None when nothing would be recorded or stored."""
    telemetry = None
    if request.telemetry is not False:
        from . import telemetry as otel

        providers = request.telemetry if isinstance(request.telemetry, otel.Telemetry) else None
        telemetry = otel.begin(
            provider=client.provider, model=request.model, base_url=client.base_url, max_tokens=request.max_tokens,
            temperature=request.temperature, messages=request.conversation,
            cache_hit=plan is not None and plan.entry is not None, providers=providers,
        )
    if telemetry is None and plan is None:
        return None
    return Watch(telemetry, plan)


class _Replay:
    """A cache hit as a native stream: the stored chunks, sync and async."""

    def __init__(self, chunks: list[StreamedChunk]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[StreamedChunk]:
        return iter(self._chunks)

    async def __aiter__(self) -> Any:
        for chunk in self._chunks:
            yield chunk

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _PassThrough:
    __slots__ = ()

    def translate(self, event: StreamedChunk) -> tuple[StreamedChunk]:
        return (event,)

    def end(self) -> Iterable[StreamedChunk]:
        return ()


class CacheAdapter:
    """The Adapter of a cache hit: no request, the stored answer replayed through the same shells."""

    cached = True

    def __init__(self, provider: str, entry: dict[str, Any], *, by_word: bool = False) -> None:
        self.provider = provider
        self._entry = entry
        self._by_word = by_word

    def warm(self, asynchronous: bool) -> None:
        pass

    def _native(self) -> _Replay:
        from .cache import replay_chunks

        return _Replay(replay_chunks(self._entry, by_word=self._by_word))

    def open(self, request: Request) -> _Replay:
        return self._native()

    async def aopen(self, request: Request) -> _Replay:
        return self._native()

    def translator(self, request: Request) -> _PassThrough:
        return _PassThrough()

    def map_error(self, exc: BaseException) -> LLMStreamError:
        from ._adapter import to_error

        return to_error(exc, self.provider)

    def close(self, native: Any) -> None:
        pass

    async def aclose(self, native: Any) -> None:
        pass

    def hard_cancel(self, native: Any) -> None:
        pass
