"""Direct unit tests of the sans-IO StreamState: what it delivers, holds, retries, and how it ends."""

from __future__ import annotations

from typing import Any

import pytest

from llmstream import (
    AuthenticationError,
    ChunkType,
    ContentLimitError,
    FinishReason,
    InBandError,
    LLMStreamError,
    RateLimitError,
    ServerError,
    StreamedChunk,
    StreamingOptions,
    StreamInterruptedError,
    StreamTimeoutError,
    Usage,
)
from llmstream._adapter import to_error
from llmstream._settings import Settings
from llmstream._state import StreamState
from llmstream.processors import Processor

START = StreamedChunk(ChunkType.START, id="r1", model="m")
USAGE = StreamedChunk(ChunkType.USAGE, usage=Usage(input_tokens=3, output_tokens=1))
STOP = StreamedChunk(ChunkType.STOP, finish_reason=FinishReason.STOP, raw_finish_reason="stop")


def text(value: str) -> StreamedChunk:
    return StreamedChunk(ChunkType.TEXT, value)


def state(**knobs: Any) -> StreamState:
    knobs.setdefault("retry_backoff", 0.0)
    return StreamState("p", Settings(**knobs))


class _Ends:
    def __init__(self, chunks: tuple[StreamedChunk, ...] = ()) -> None:
        self.chunks = chunks

    def translate(self, event: Any) -> tuple[StreamedChunk, ...]:
        return ()

    def end(self) -> tuple[StreamedChunk, ...]:
        return self.chunks


def _mapper(exc: BaseException) -> LLMStreamError:
    return to_error(exc, "p")


# -- delivery: START and USAGE are held until the first content chunk ---------------------------------


def test_start_and_usage_are_held_until_the_first_content_chunk() -> None:
    s = state()
    assert s.accept(START) == ()
    assert s.accept(USAGE) == ()
    assert not s.delivered
    assert s.accept(text("hi")) == (START, USAGE, text("hi"))
    assert s.delivered
    assert s.accept(USAGE) == (USAGE,)  # after the first content, nothing is held


def test_finish_releases_what_is_still_held_after_the_translators_owed_chunks() -> None:
    s = state()
    s.accept(START)
    assert s.finish(_Ends((STOP,))) == (START, STOP)
    assert s.held == []
    assert s.acc.completion().finish_reason is FinishReason.STOP


def test_an_error_chunk_raises_its_error() -> None:
    error = InBandError("overloaded", provider="p")
    with pytest.raises(InBandError) as info:
        state().accept(StreamedChunk(ChunkType.ERROR, error=error))
    assert info.value is error


def test_max_content_chars_counts_text_and_reasoning() -> None:
    s = state(max_content_chars=4)
    s.accept(text("ab"))
    s.accept(StreamedChunk(ChunkType.REASONING, "cd"))
    with pytest.raises(ContentLimitError, match="max_content_chars=4"):
        s.accept(text("e"))


# -- retry decisions -----------------------------------------------------------------------------------


def test_a_retryable_failure_before_any_content_is_retried_with_a_delay_and_a_reset_state() -> None:
    s = state(max_retries=2, retry_backoff=0.5)
    s.accept(START)
    error, delay = s.failure(StreamInterruptedError("dropped"), _mapper)
    assert isinstance(error, StreamInterruptedError)
    assert delay is not None and 0.25 <= delay <= 0.5  # backoff with jitter for attempt 0
    assert s.attempt == 1 and s.held == [] and s.acc.chunks == 0 and s.result is None


def test_retry_after_is_the_delay_and_beyond_the_cap_the_error_comes_at_once() -> None:
    s = state(retry_after_cap=5.0)
    assert s.failure(RateLimitError("slow down", retry_after=2.0), _mapper)[1] == 2.0
    error, delay = s.failure(RateLimitError("slow down", retry_after=99.0), _mapper)
    assert delay is None and isinstance(error, RateLimitError) and error.retry_after == 99.0


def test_a_retry_the_deadline_would_overtake_is_not_made() -> None:
    s = state(total_timeout=60.0, max_retries=5, retry_after_cap=120.0)
    error, delay = s.failure(RateLimitError("slow down", retry_after=59.0), _mapper)
    assert delay is not None  # the retry starts before the deadline
    error, delay = s.failure(RateLimitError("slow down", retry_after=61.0), _mapper)
    assert delay is None and isinstance(error, RateLimitError)  # now, not a timeout a minute later


def test_no_request_after_the_deadline_and_a_tripped_deadline_is_never_retried() -> None:
    s = state(total_timeout=60.0, max_retries=5)
    assert s.deadline is not None
    s.deadline -= 61.0  # the deadline is fixed when the stream is made: a minute ago, now
    with pytest.raises(StreamTimeoutError) as caught:
        s.start_clock()
    error, delay = s.failure(caught.value, _mapper)
    assert delay is None and error is caught.value and "total_timeout=60.0s" in str(error)


def test_a_timeout_after_the_headers_is_retried_only_with_retry_on_timeout() -> None:
    for opt_in in (False, True):
        s = state(max_retries=2, retry_on_timeout=opt_in)
        s.start_clock()
        s.answered = True  # the server accepted the request: a retry is a second billed generation
        error, delay = s.failure(StreamTimeoutError("no data"), _mapper)
        assert (delay is not None) is opt_in and isinstance(error, StreamTimeoutError)
    before_headers = state(max_retries=2)
    before_headers.start_clock()
    assert before_headers.failure(StreamTimeoutError("connect timed out"), _mapper)[1] is not None


def test_content_chunks_beat_bookkeeping_does_not() -> None:
    s = state()
    for chunk in (START, USAGE):
        s.accept(chunk)
    assert s.beats == 0 and not s.delivered
    s.accept(text("a"))
    s.accept(USAGE)
    s.accept(text("b"))
    assert s.beats == 2


def test_an_expired_attempt_raises_on_its_next_chunk() -> None:
    s = state(idle_timeout=2.0)
    s.accept(text("a"))
    s.expire("idle")
    with pytest.raises(StreamTimeoutError, match=r"idle_timeout=2\.0s"):
        s.accept(text("late"))


def test_no_retry_once_content_reached_the_caller_and_the_partial_is_kept() -> None:
    s = state(max_retries=5)
    s.accept(START)
    s.accept(text("so far"))
    error, delay = s.failure(ServerError("boom", status_code=500), _mapper)
    assert delay is None and isinstance(error, ServerError)
    assert error.partial is not None and error.partial.text == "so far"
    assert s.result is error.partial and error.provider == "p"


def test_no_retry_past_max_retries_or_for_errors_that_are_not_retryable() -> None:
    s = state(max_retries=1)
    assert s.failure(ServerError("a", status_code=503), _mapper)[1] is not None
    assert s.failure(ServerError("b", status_code=503), _mapper)[1] is None  # the one retry is used up
    other = state(max_retries=3)
    error, delay = other.failure(AuthenticationError("bad key", status_code=401), _mapper)
    assert delay is None and isinstance(error, AuthenticationError)


def test_a_foreign_exception_is_mapped_and_wrapped() -> None:
    s = state(max_retries=0)
    cause = KeyError("odd")
    error, delay = s.failure(cause, _mapper)
    assert delay is None and error is not None
    assert type(error) is LLMStreamError and error.__cause__ is cause and "KeyError" in str(error)


# -- cancel, expiry, finish bookkeeping -------------------------------------------------------------------


def test_a_failure_after_cancel_ends_quietly_as_cancelled() -> None:
    s = state(max_retries=3)
    s.accept(text("partial"))
    s.cancel()
    assert s.failure(StreamInterruptedError("socket shut"), _mapper) == (None, None)
    assert s.done() is None
    assert s.result is not None and s.result.finish_reason is FinishReason.CANCELLED
    assert s.result.text == "partial"


def test_a_failure_after_the_watchdog_fired_is_a_total_timeout_never_retried() -> None:
    s = state(max_retries=3, total_timeout=1.5)
    s.expire("total")
    cause = StreamInterruptedError("socket shut")
    error, delay = s.failure(cause, _mapper)
    assert delay is None and isinstance(error, StreamTimeoutError)
    assert "total_timeout=1.5s" in str(error) and error.__cause__ is cause


def test_done_gives_the_completion_for_on_complete() -> None:
    s = state()
    for chunk in (START, text("a"), text("b"), STOP):
        s.accept(chunk)
    completion = s.done()
    assert completion is not None and completion.text == "ab" and s.result is completion


def test_closing_an_unfinished_stream_ends_it_cancelled_but_a_finished_one_stays() -> None:
    s = state()
    s.accept(text("x"))
    s.closing()
    assert s.cancelled
    s.closed()
    assert s.result is not None and s.result.finish_reason is FinishReason.CANCELLED

    done = state()
    done.accept(text("y"))
    finished = done.done()
    done.closing()
    done.closed()
    assert not done.cancelled and done.result is finished


def test_aborted_keeps_the_partial() -> None:
    s = state()
    s.accept(text("kept"))
    s.aborted()
    assert s.result is not None and s.result.text == "kept" and s.result.finish_reason is FinishReason.CANCELLED


# -- processors and the busy flag ---------------------------------------------------------------------------


class _Upper(Processor):
    resets = 0

    def process(self, chunk: StreamedChunk) -> tuple[StreamedChunk, ...]:
        if chunk.type is ChunkType.TEXT:
            return (text(chunk.text.upper()),)
        return (chunk,)

    def reset(self) -> None:
        self.resets += 1


def test_processors_rewrite_before_the_accumulator_and_reset_on_retry() -> None:
    upper = _Upper()
    s = StreamState("p", Settings(retry_backoff=0.0), [upper])
    assert s.accept(text("hi")) == (text("HI"),)
    assert s.acc.completion().text == "HI"
    fresh = StreamState("p", Settings(retry_backoff=0.0), [upper])
    fresh.failure(StreamInterruptedError("x"), _mapper)
    assert upper.resets == 1


def test_busy_only_with_a_callback_or_pacing() -> None:
    s = state()
    assert not s.busy(StreamingOptions())
    assert not s.busy(StreamingOptions(on_complete=print))
    assert s.busy(StreamingOptions(on_chunk=print))
    assert s.busy(StreamingOptions(on_start=print))
    paced = Processor()
    paced.delay = 0.01
    s.use([paced])
    assert s.busy(StreamingOptions())
