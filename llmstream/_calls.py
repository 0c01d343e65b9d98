"""The four public calls, written once for clients and fallbacks.

``stream`` / ``astream`` / ``stream_complete`` / ``astream_complete`` and their keywords live here;
a subclass says only how to build its sync and async stream (``_sync_stream`` / ``_async_stream``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

import attrs

from ._conversation import Conversation
from ._errors import LLMStreamError
from ._options import Callback, StreamingOptions, resolve_options
from ._types import Completion, FinishReason, Tool

__all__ = ["ConversationLike", "PublicCalls", "as_failed_completion"]

ConversationLike = Conversation | str | Iterable[Mapping[str, Any]]


class _SyncStream(Protocol):
    @property
    def completion(self) -> Completion: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def until_done(self) -> Completion: ...


class _AsyncStream(Protocol):
    @property
    def completion(self) -> Completion: ...

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc_info: object) -> None: ...

    async def until_done(self) -> Completion: ...


SyncT = TypeVar("SyncT", bound=_SyncStream)
AsyncT = TypeVar("AsyncT", bound=_AsyncStream)


def as_failed_completion(error: LLMStreamError, fallback: Completion) -> Completion:
    """``raise_on_error=False``: the failure as a completion (``error`` set, finish reason ERROR)."""
    partial = error.partial or fallback
    if partial.error is error:
        return partial
    return attrs.evolve(partial, error=error, finish_reason=FinishReason.ERROR)


class PublicCalls(Generic[SyncT, AsyncT]):
    """``stream``, ``astream``, ``stream_complete``, ``astream_complete``, for any stream builder."""

    def _sync_stream(
        self, conversation: ConversationLike, tools: Iterable[Tool] | None, max_tokens: int | None,
        temperature: float | None, options: StreamingOptions, extra: dict[str, Any],
    ) -> SyncT:
        raise NotImplementedError

    def _async_stream(
        self, conversation: ConversationLike, tools: Iterable[Tool] | None, max_tokens: int | None,
        temperature: float | None, options: StreamingOptions, extra: dict[str, Any],
    ) -> AsyncT:
        raise NotImplementedError

    def stream(
        self,
        conversation: ConversationLike,
        *,
        output_type: Any = None,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        **extra: Any,
    ) -> SyncT:
        """Open a stream; iterate it in a ``with`` block. Extra keywords go to the vendor request
        (resilience knobs such as ``idle_timeout=`` override the client's for this call).
        ``output_type=`` (a pydantic model, dataclass, TypedDict or JSON-schema dict) asks for
        structured output: ``completion.output`` is the validated object."""
        resolved = resolve_options(options, on_start, on_chunk, on_error, on_complete)
        if output_type is not None:
            extra["output_type"] = output_type
        return self._sync_stream(conversation, tools, max_tokens, temperature, resolved, extra)

    def astream(
        self,
        conversation: ConversationLike,
        *,
        output_type: Any = None,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        **extra: Any,
    ) -> AsyncT:
        """The async twin of :meth:`stream`: ``async with client.astream(conv) as stream``."""
        resolved = resolve_options(options, on_start, on_chunk, on_error, on_complete)
        if output_type is not None:
            extra["output_type"] = output_type
        return self._async_stream(conversation, tools, max_tokens, temperature, resolved, extra)

    def stream_complete(
        self,
        conversation: ConversationLike,
        *,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        raise_on_error: bool = True,
        **extra: Any,
    ) -> Completion:
        """Stream to the callbacks and return the completion. With ``raise_on_error=False`` a
        provider or stream failure is returned as ``completion.error`` instead of raised."""
        stream = self.stream(
            conversation, tools=tools, max_tokens=max_tokens, temperature=temperature, options=options,
            on_start=on_start, on_chunk=on_chunk, on_error=on_error, on_complete=on_complete, **extra,
        )
        try:
            with stream:
                return stream.until_done()
        except LLMStreamError as error:
            if raise_on_error:
                raise
            return as_failed_completion(error, stream.completion)

    async def astream_complete(
        self,
        conversation: ConversationLike,
        *,
        tools: Iterable[Tool] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        options: StreamingOptions | None = None,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
        raise_on_error: bool = True,
        **extra: Any,
    ) -> Completion:
        """The async twin of :meth:`stream_complete`; callbacks may be coroutine functions."""
        stream = self.astream(
            conversation, tools=tools, max_tokens=max_tokens, temperature=temperature, options=options,
            on_start=on_start, on_chunk=on_chunk, on_error=on_error, on_complete=on_complete, **extra,
        )
        try:
            async with stream:
                return await stream.until_done()
        except LLMStreamError as error:
            if raise_on_error:
                raise
            return as_failed_completion(error, stream.completion)
