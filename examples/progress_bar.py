"""A token-count progress bar on stderr while the answer streams, the answer itself on stdout.

    python examples/progress_bar.py > answer.txt     # the bar stays on the terminal
"""

from __future__ import annotations

import sys

import llmstream
from llmstream import ChunkType, Completion, StreamedChunk

MAX_TOKENS = 60
WIDTH = 30
ANSWER = (
    "A river starts as rain on high ground, gathers in rills and brooks, and cuts its valley one grain at a time. "
    "It slows on the plain, drops the silt it carried, and wanders in loops until the sea takes it back. The "
    "water leaves; the shape it carved stays."
)


class ProgressBar:
    """Counts text deltas (about one token each) against the max_tokens budget; when the answer
    ends before the budget, the bar fills up: the answer is complete, so is the bar."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.tokens = 0

    def __call__(self, chunk: StreamedChunk) -> None:
        if chunk.type is not ChunkType.TEXT:
            return
        self.tokens += 1
        self.draw()

    def draw(self) -> None:
        done = min(WIDTH, WIDTH * self.tokens // self.total)
        # \r rewrites the same line; stderr keeps the bar out of redirected output.
        sys.stderr.write(f"\r[{'#' * done}{' ' * (WIDTH - done)}] {self.tokens}/{self.total} tokens")
        sys.stderr.flush()

    def finish(self, completion: Completion) -> None:
        used = completion.usage.output_tokens if completion.usage else self.tokens
        self.total = max(self.tokens, used) or 1  # the real count: 100 %
        self.draw()
        sys.stderr.write(f" (100 %, {completion.finish_reason})\n")


def main(delay: float = 0.02) -> None:
    client = llmstream.MockClient(text=ANSWER, delay=delay)
    bar = ProgressBar(MAX_TOKENS)
    completion = client.stream_complete("Describe a river in three sentences.", max_tokens=MAX_TOKENS, on_chunk=bar)
    bar.finish(completion)
    print(completion.text)


if __name__ == "__main__":
    main()
