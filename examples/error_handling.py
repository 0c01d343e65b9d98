"""Failures, three ways: a retry nobody sees, a dropped stream that keeps its partial answer, and
the never-raises mode.

    python examples/error_handling.py
"""

from __future__ import annotations

from llmstream import FinishReason, LLMStreamError, MockClient, ServerError, StreamInterruptedError

ANSWER = "Rivers carve their way through stone, patient and unhurried."


def retried_before_the_first_chunk() -> None:
    # The first attempt fails before any content (chunk 1 is the first word): llmstream retries it,
    # and the caller only ever sees the successful attempt.
    client = MockClient(text=ANSWER, fail_at=1, fail_times=1, error=ServerError("overloaded", status_code=529))
    completion = client.stream_complete("Tell me about rivers.", max_retries=2)
    print(f"1. retried: {len(client.requests)} requests, answer {completion.text!r}")


def partial_answer_on_a_dropped_stream() -> None:
    # After content has reached the caller a retry would repeat it, so the error is raised instead,
    # carrying everything received so far in ``.partial``.
    client = MockClient(text=ANSWER, fail_at=5)
    seen: list[str] = []
    try:
        client.stream_complete("Tell me about rivers.", on_chunk=lambda c: seen.append(c.text))
    except StreamInterruptedError as error:
        assert error.partial is not None
        print(f"2. dropped: {type(error).__name__}: {error}")
        print(f"   partial answer kept: {error.partial.text!r} (finish_reason={error.partial.finish_reason})")
    except LLMStreamError as error:  # every other failure shares the base class
        print(f"2. failed otherwise: {error!r}")


def never_raises() -> None:
    # raise_on_error=False: the completion comes back with .error set instead of an exception.
    client = MockClient(text=ANSWER, fail_at=4)
    completion = client.stream_complete("Tell me about rivers.", raise_on_error=False)
    if completion.finish_reason is FinishReason.ERROR:
        print(f"3. returned, not raised: error={type(completion.error).__name__}, text={completion.text!r}")


def main() -> None:
    retried_before_the_first_chunk()
    partial_answer_on_a_dropped_stream()
    never_raises()


if __name__ == "__main__":
    main()
