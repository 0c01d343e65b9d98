"""Fallbacks: the primary answers 429, so the backup answers; content is never spliced.

Runs with no API key (the mock provider): ``python examples/toolkit_fallback.py``.
"""

from __future__ import annotations

import llmstream
from llmstream import RateLimitError, StreamInterruptedError
from llmstream.fallback import fallback


def main() -> None:
    busy = llmstream.MockClient("primary", fail_at=0, error=RateLimitError("rate limited", status_code=429),
                                max_retries=0)
    chain = fallback(busy, llmstream.client("mock:echo"))
    with chain.stream("hello from the backup") as stream:
        for chunk in stream:
            print(chunk, end="")
    print()
    completion = stream.completion
    print(f"answered by {completion.provider}:{completion.model} after {[type(e).__name__ for e in stream.errors]}")

    # A failure after text reached the caller is raised, not retried elsewhere.
    flaky = llmstream.MockClient("flaky", text="half an answer", fail_at=2, max_retries=0)
    try:
        fallback(flaky, llmstream.client("mock:echo")).stream_complete("hi")
    except StreamInterruptedError as error:
        print("raised:", type(error).__name__, "partial:", repr(error.partial.text if error.partial else ""))


if __name__ == "__main__":
    main()
