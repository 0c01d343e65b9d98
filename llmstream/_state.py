"""Sans-IO state of one stream across its attempts: processors, accumulation, what to deliver, and
every decision the shells act on: retry or fail (with the backoff delay), finish, cancel.

The shells in ``_stream`` do the I/O; everything they decide is decided here, once, for both of them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ._accumulator import StreamingAccumulator
from ._adapter import Translator, complete, unfinished
from ._errors import CallbackError, ContentLimitError, LLMStreamError, OutputValidationError, StreamTimeoutError
from ._options import ProcessorLike, StreamingOptions
from ._output import OutputSpec
from ._retry import backoff_delay, is_retryable, waits_too_long
from ._settings import Settings
from ._types import ChunkType, Completion, FinishReason, StreamedChunk

if TYPE_CHECKING:
    from ._observe import Watch

__all__ = ["StreamState", "callback_error"]

_ERROR = ChunkType.ERROR
_START = ChunkType.START
_USAGE = ChunkType.USAGE
_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_TOOL_DELTA = ChunkType.TOOL_CALL_DELTA
_REFUSED = "refusal"  # Anthropic's stop reason when the model declined (structured output: no object)
_COUNTED = frozenset((_TEXT, _REASONING, ChunkType.REFUSAL, _TOOL_DELTA))
#: Why the watchdog (``_watchdog``) stopped a stream, as the StreamTimeoutError says it.
_EXPIRED = {
    "total": "total_timeout={total}s passed",
    "first_chunk": "no content chunk within first_chunk_timeout={first}s of the request",
    "idle": "no content chunk for idle_timeout={idle}s (keep-alives and pings do not count)",
}


class StreamState:
    """Sans-IO bookkeeping of one stream across its attempts: what to deliver, what to hold."""

    __slots__ = (
        "_enders",
        "acc",
        "accept",
        "answered",
        "attempt",
        "beats",
        "cached",
        "cancelled",
        "chars",
        "deadline",
        "delivered",
        "ended",
        "expired",
        "halted",
        "held",
        "max_chars",
        "opened_at",
        "output",
        "output_value",
        "pace",
        "processors",
        "provider",
        "result",
        "settings",
        "watch",
    )

    def __init__(
        self, provider: str, settings: Settings, processors: Sequence[ProcessorLike] = (),
        output: OutputSpec | None = None,
    ):
        self.provider = provider
        self.output = output  # structured output asked for: validated once the stream ended
        self.output_value: Any = None
        self.settings = settings
        self.result: Completion | None = None  # the final completion, once the stream ended
        self.watch: Watch | None = None  # telemetry span / cache store: told of retries and the end
        self.cached = False  # a cache hit is being replayed
        self.deadline = None if settings.total_timeout is None else time.monotonic() + settings.total_timeout
        self.max_chars = settings.max_content_chars
        self.attempt = 0
        self.cancelled = False
        self.expired: str | None = None  # why the watchdog stopped the attempt: total, first_chunk, idle
        self.halted = False  # cancelled or expired: the one flag the per-chunk path reads
        self.opened_at: float | None = None  # when this attempt's request went out (None between attempts)
        self.answered = False  # this attempt's response headers arrived (the server accepted the request)
        # Content chunks so far (not START/USAGE): the watchdog compares it between its looks, so that
        # the per-chunk cost of idle_timeout is one increment, no clock reading.
        self.beats = 0
        self.ended = False  # a processor ended the answer: stop reading the vendor stream
        self.delivered = False
        self.chars = 0
        self.held: list[StreamedChunk] = []
        self.acc = StreamingAccumulator(provider=provider)
        self.processors: tuple[ProcessorLike, ...] = ()
        self._enders: tuple[Any, ...] = ()  # the processors that can end the answer early
        self.pace = 0.0
        self.accept = self._accept
        self.use(processors)

    def use(self, processors: Sequence[ProcessorLike]) -> None:
        """Processors rewrite the stream before the accumulator and the callbacks see it."""
        self.processors = (*self.processors, *processors)
        self._enders = tuple(processor for processor in self.processors if hasattr(processor, "ended"))
        self.pace = max((float(getattr(p, "delay", 0.0) or 0.0) for p in self.processors), default=0.0)
        # Without processors the hot path skips them entirely.
        self.accept = self._accept_processed if self.processors else self._accept

    def start_clock(self) -> None:
        """An attempt begins: no request once the total deadline passed (StreamTimeoutError, never
        retried); stats count from the first request, not from building the client."""
        now = time.monotonic()
        if self.deadline is not None and now >= self.deadline:
            self.expire("total")
            raise self.timeout_error()
        self.opened_at = now
        self.answered = False
        if self.attempt == 0 and not self.acc.chunks:
            self.acc.started_at = self.acc.clock()

    def cancel(self) -> None:
        self.cancelled = self.halted = True

    def excuse(self, seconds: float) -> None:
        """Time spent building the vendor SDK client does not count against total_timeout."""
        if self.deadline is not None:
            self.deadline += seconds

    def expire(self, reason: str) -> None:
        """The watchdog's verdict (from its thread or the event loop): the attempt is over."""
        self.expired = reason
        self.halted = True

    def timeout_error(self) -> StreamTimeoutError:
        settings = self.settings
        message = _EXPIRED.get(self.expired or "total", _EXPIRED["total"]).format(
            total=settings.total_timeout, first=settings.first_chunk_timeout, idle=settings.idle_timeout
        )
        return StreamTimeoutError(message, provider=self.provider)

    def past_deadline(self) -> bool:
        return self.expired == "total" or (self.deadline is not None and time.monotonic() >= self.deadline)

    def restart(self) -> None:
        self.attempt += 1
        self.ended = False
        self.expired = None
        self.halted = self.cancelled
        self.opened_at = None
        self.answered = False
        self.beats = 0
        self.held = []
        self.chars = 0
        self.acc = StreamingAccumulator(provider=self.provider, started_at=self.acc.started_at)
        for processor in self.processors:
            reset = getattr(processor, "reset", None)
            if reset is not None:
                reset()

    def _processed(self, items: list[StreamedChunk], start: int = 0) -> list[StreamedChunk]:
        for processor in self.processors[start:]:
            # None drops the chunk (the processor contract), as an empty iterable does.
            items = [out for item in items for out in (processor.process(item) or ())]
        return items

    def _accept_processed(self, chunk: StreamedChunk) -> tuple[StreamedChunk, ...]:
        if chunk.type is _ERROR:
            return self._accept(chunk)
        due: list[StreamedChunk] = []
        for item in self._processed([chunk]):
            due.extend(self._accept(item))
        if self._enders:
            self.ended = any(processor.ended for processor in self._enders)
        return tuple(due)

    def _accept(self, chunk: StreamedChunk) -> tuple[StreamedChunk, ...]:
        """Accumulate one translated chunk; return the chunks now due to the caller.

        START and USAGE are held until the first content chunk, so that a failure before any
        content can still be retried without the caller having seen anything.
        """
        if self.halted:  # cancel() returned: nothing more reaches the caller, even what was already read
            if self.cancelled:
                return ()
            raise self.timeout_error()  # the watchdog fired: what the SDK still had buffered is too late
        kind = chunk.type
        if kind is _ERROR:
            raise chunk.error or LLMStreamError("in-band error", provider=self.provider)
        if self.max_chars is not None and kind in _COUNTED:
            # Every content kind counts: tool-call argument fragments and refusals grow memory too.
            tool_call = chunk.tool_call
            self.chars += len(tool_call.arguments) if kind is _TOOL_DELTA and tool_call is not None else len(chunk.text)
            if self.chars > self.max_chars:
                raise ContentLimitError(
                    f"response exceeded max_content_chars={self.max_chars}", provider=self.provider
                )
        self.acc.add(chunk)
        if self.delivered:
            if kind is not _USAGE:
                self.beats += 1
            return (chunk,)
        if kind is _START or kind is _USAGE:
            self.held.append(chunk)
            return ()
        self.delivered = True
        self.beats += 1
        held, self.held = self.held, []
        return (*held, chunk)

    def finish(self, translator: Translator) -> tuple[StreamedChunk, ...]:
        """The vendor stream ended: the translator's owed chunks, then anything still held."""
        due: list[StreamedChunk] = []
        missing = None if self.ended else getattr(translator, "missing_terminal", complete)()
        if missing is not None:  # before end(): its inferred finish must not hide a body cut short
            raise unfinished(missing, self.acc.chunks, self.provider)
        for chunk in translator.end():
            due.extend(self.accept(chunk))
        for index, processor in enumerate(self.processors):
            flush = getattr(processor, "flush", None)
            if flush is not None:
                for item in self._processed(list(flush() or ()), index + 1):
                    due.extend(self._accept(item))
        due.extend(self.held)
        self.held = []
        return tuple(due)

    def check_output(self) -> None:
        """Structured output: validate the whole text (a refusal has none); raise if invalid or cut."""
        if self.output is None:
            return
        completion = self.acc.completion()
        if completion.refusal or completion.raw_finish_reason == _REFUSED:
            return  # refused: no object to validate (``output`` stays None)
        if completion.finish_reason is FinishReason.LENGTH:
            raise OutputValidationError(
                "structured output was cut off (finish reason length)", raw=completion.text,
                errors=["truncated: the output hit the token limit"], provider=self.provider,
            )
        try:
            self.output_value = self.output.validate(completion.text)
        except OutputValidationError as error:
            error.provider = self.provider
            raise

    def retry_allowed(self, error: LLMStreamError, delay: float = 0.0) -> bool:
        """Retry only before anything reached the caller, within max_retries; never a request the
        deadline would overtake (waiting ``delay`` first), never a Retry-After beyond the cap, and a
        timeout after the response headers arrived only with ``retry_on_timeout``."""
        settings = self.settings
        if self.delivered or self.attempt >= settings.max_retries or not is_retryable(error):
            return False
        if self.past_deadline() or waits_too_long(error, settings):
            return False
        if self.deadline is not None and time.monotonic() + delay >= self.deadline:
            return False  # the wait would end past the deadline: the error now, not a timeout later
        return not (isinstance(error, StreamTimeoutError) and self.answered and not settings.retry_on_timeout)

    def fail(self, error: LLMStreamError) -> LLMStreamError:
        """Attach everything received so far: no failure loses content."""
        if error.provider is None:
            error.provider = self.provider
        error.partial = self.acc.completion(error=error)
        return error

    def failure(
        self, exc: Exception, map_error: Callable[[BaseException], LLMStreamError]
    ) -> tuple[LLMStreamError | None, float | None]:
        """Decide about an attempt that raised ``exc`` (its connection is already closed).

        ``(None, None)``: it was a cancel, end quietly. ``(error, delay)``: retry after ``delay``
        seconds (the state is reset for the next attempt). ``(error, None)``: the stream failed;
        ``error.partial`` and :attr:`result` hold what arrived.
        """
        error: LLMStreamError
        if self.expired is not None:  # the watchdog shut the connection
            error = exc if isinstance(exc, StreamTimeoutError) else self.timeout_error()
            if error is not exc:
                error.__cause__ = exc
        elif self.cancelled:
            return None, None
        else:
            error = map_error(exc)
        delay = backoff_delay(self.attempt, error, self.settings)
        if self.retry_allowed(error, delay):
            self.restart()
            if self.watch is not None:
                self.watch.retry(error, delay, self.attempt)
            return error, delay
        error = self.fail(error)
        self.result = error.partial
        if self.watch is not None:
            self.watch.end(self.result, error)
        return error, None

    def busy(self, options: StreamingOptions) -> bool:
        """Whether chunks need delivering one by one (a callback or pacing); iterator use skips it."""
        return (
            options.on_start is not None or options.on_chunk is not None or options.on_partial is not None
            or bool(self.pace) or self.watch is not None
        )

    def done(self) -> Completion | None:
        """The attempts are over without an error: the completion for ``on_complete``, None if cancelled."""
        if self.cancelled:
            self.result = self.finish_cancelled()
            return None
        result = self.acc.completion()
        if self.output is not None and result.raw_finish_reason == _REFUSED and not result.refusal:
            # Anthropic streams a refusal as text, then stops with "refusal": it is the refusal.
            result = attrs.evolve(result, refusal=result.text)
        if self.output_value is not None:
            result = attrs.evolve(result, output=self.output_value)
        if self.cached:
            result = attrs.evolve(result, cached=True)
        self.result = result
        if self.watch is not None:
            self.watch.end(result)
        return result

    def aborted(self) -> None:
        """A BaseException (task cancellation, KeyboardInterrupt) ended the stream: keep the partial."""
        self.result = self.finish_cancelled()

    def closing(self) -> None:
        """The caller closes the stream: unless it already ended, it ends as cancelled."""
        if self.result is None:
            self.cancel()

    def closed(self) -> None:
        if self.result is None:
            self.result = self.finish_cancelled()

    def finish_cancelled(self) -> Completion:
        completion = self.acc.completion(finish_reason=FinishReason.CANCELLED)
        if self.watch is not None:
            self.watch.end(completion, cancelled=True)
        return completion


def callback_error(name: str, exc: BaseException, provider: str) -> CallbackError:
    error = CallbackError(f"{name} callback raised {type(exc).__name__}: {exc}", provider=provider)
    error.__cause__ = exc
    return error
