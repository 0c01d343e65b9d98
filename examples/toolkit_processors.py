"""Processors: mask a secret that straddles chunk boundaries, re-chunk by word, block a pattern.

Runs with no API key (the mock provider): ``python examples/toolkit_processors.py``.
"""

from __future__ import annotations

import re

import llmstream
from llmstream import ChunkType, StreamedChunk, StreamingOptions
from llmstream.processors import ContentFilter, Smooth
from llmstream.structured import stream_to_string


def pieces(*texts: str) -> list[StreamedChunk]:
    """What a provider might send: the secret split across three deltas."""
    return [StreamedChunk(ChunkType.START), *(StreamedChunk(ChunkType.TEXT, t) for t in texts)]


def main() -> None:
    # 1. Mask, then smooth into words: the filter sees the deltas first, Smooth re-chunks its output.
    client = llmstream.MockClient(chunks=pieces("The pass", "word is hun", "ter2, keep it", " safe."))
    options = StreamingOptions(processors=[ContentFilter(["hunter2"]), Smooth(by="word")])
    deltas: list[str] = []
    completion = client.stream_complete("tell me", options=options, on_chunk=lambda c: deltas.append(c.text))
    print("masked:", completion.text)
    print("deltas:", [d for d in deltas if d])

    # 2. Block: the answer ends before the match, with finish_reason content_filter.
    card = ContentFilter([re.compile(r"\d{4}-\d{4}-\d{4}-\d{4}")], mode="block", max_pattern_len=19)
    echo = llmstream.client("mock:echo")
    with echo.stream("my card is 4111-1111-1111-1111 and more").pipe(card) as stream:
        text = stream_to_string(stream)
    print("blocked:", repr(text), stream.completion.finish_reason)


if __name__ == "__main__":
    main()
