"""StreamingOptions: the four callbacks, and how they are called from sync and async streams."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import attrs

__all__ = ["ProcessorLike", "StreamingOptions", "retry_callback"]

Callback = Callable[..., Any]


class ProcessorLike(Protocol):
    """What the shells need of a processor (the structural type of :class:`llmstream.Processor`, the
    one processor class, whose passthrough defaults subclasses override): each chunk in, zero or
    more chunks out.

    Optional members the shells honour: ``flush()`` (chunks still owed at the end of the stream),
    ``reset()`` (a retry starts over), ``delay`` (seconds to pause before each TEXT chunk) and
    ``ended`` (true once the processor has ended the answer: the shells then stop reading the
    vendor stream and close its connection, so that no more tokens are generated or paid for).
    """

    def process(self, chunk: Any) -> Iterable[Any]: ...


def _processor_tuple(value: Iterable[ProcessorLike]) -> tuple[ProcessorLike, ...]:
    return tuple(value)


@attrs.frozen(slots=True)
class StreamingOptions:
    """Callbacks for one stream.

    - ``on_start(chunk)``: the START chunk (id, model), once per successful attempt.
    - ``on_chunk(chunk)``: every chunk delivered to the caller, in order.
    - ``on_error(error)``: once, with the ``LLMStreamError`` (its ``.partial`` holds what arrived).
    - ``on_complete(completion)``: once, when the stream finished well. Never both.
    - ``on_retry(error, delay, attempt)``: before each retry's wait: the ``LLMStreamError`` that
      caused it, the seconds about to be slept (``Retry-After`` honoured) and the retry's number
      (1 for the first retry).
    - ``on_partial(obj)``: with ``output_type=``, the object so far (``stream.partial_output``)
      after each TEXT chunk.
    - ``processors``: see :class:`llmstream.Processor`; the accumulator and callbacks see their output.

    In async streams each may be a plain function or a coroutine function.
    """

    on_start: Callback | None = None
    on_chunk: Callback | None = None
    on_error: Callback | None = None
    on_complete: Callback | None = None
    on_retry: Callback | None = None
    on_partial: Callback | None = None
    processors: Sequence[ProcessorLike] = attrs.field(default=(), converter=_processor_tuple)

    def merge(
        self,
        *,
        on_start: Callback | None = None,
        on_chunk: Callback | None = None,
        on_error: Callback | None = None,
        on_complete: Callback | None = None,
    ) -> StreamingOptions:
        """Keyword shortcuts win over the fields they name; the others are kept."""
        return StreamingOptions(
            on_start=on_start or self.on_start,
            on_chunk=on_chunk or self.on_chunk,
            on_error=on_error or self.on_error,
            on_complete=on_complete or self.on_complete,
            on_retry=self.on_retry,
            on_partial=self.on_partial,
            processors=self.processors,
        )


def resolve_options(
    options: StreamingOptions | None,
    on_start: Callback | None,
    on_chunk: Callback | None,
    on_error: Callback | None,
    on_complete: Callback | None,
) -> StreamingOptions:
    base = options or StreamingOptions()
    if on_start is None and on_chunk is None and on_error is None and on_complete is None:
        return base
    return base.merge(on_start=on_start, on_chunk=on_chunk, on_error=on_error, on_complete=on_complete)


def retry_callback(options: StreamingOptions) -> Callback | None:
    """``on_retry`` as a one-argument callback of ``(error, delay, attempt)``, for the shells' notify."""
    on_retry = options.on_retry
    if on_retry is None:
        return None
    return lambda arguments: on_retry(*arguments)


def call_sync(callback: Callback, argument: Any) -> None:
    """Call a callback from a sync stream; a coroutine function there is a usage error."""
    result = callback(argument)
    if result is not None and inspect.isawaitable(result):
        # Close the coroutine so Python does not warn "never awaited" on top of our error.
        close = getattr(result, "close", None)
        if close is not None:
            close()
        raise TypeError(
            f"callback {callback!r} returned an awaitable in a sync stream; use astream()/astream_complete()"
        )


async def call_async(callback: Callback, argument: Any) -> None:
    """Call a callback from an async stream: plain functions are called, awaitables awaited."""
    result = callback(argument)
    if result is not None and inspect.isawaitable(result):
        await result
