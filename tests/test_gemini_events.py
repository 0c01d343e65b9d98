"""The Gemini fast path's event reader (``_gemini_events``): its fast lane (whole ``data:`` events split at
blank lines) and the SSE decoder lane read every body alike, however the reads cut it."""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import pytest

from llmstream import MalformedStreamError
from llmstream.providers._gemini_events import GeminiEventParser
from llmstream.sse import SSEDecoder

EVENTS: list[Any] = [{"candidates": [{"content": {"parts": [{"text": f"piece {i} é ✓"}]}}]} for i in range(40)]
BODY = b"".join(b"data: " + json.dumps(e, ensure_ascii=False).encode() + b"\r\n\r\n" for e in EVENTS)
# A comment, a named event, a two-line data event, LF endings, a BOM, the decoder's UTF-8 replacement.
ODD = (b"\xef\xbb\xbf: keep-alive\r\n\r\n" + BODY[:300].rsplit(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
       + b'event: x\r\ndata: {"a":\r\ndata: 1}\r\n\r\n' + b'data: {"b": 2}\n\n' + b'data:{"c": "\xff"}\n\n'
       + b'data:  {"d": 4} \r\n\r\n' + BODY[-200:].split(b"\r\n\r\n", 1)[1])


def decoded(body: bytes) -> list[Any]:
    decoder = SSEDecoder()
    return [json.loads(event.data) for event in decoder.feed(body) + decoder.feed(b"\n\n")]


def read(body: bytes, cuts: list[int]) -> list[Any]:
    parser = GeminiEventParser("gemini")
    out: list[Any] = []
    edges = [0, *cuts, len(body)]
    for start, end in itertools.pairwise(edges):
        out += parser.feed(body[start:end])
    return out + parser.close()


@pytest.mark.parametrize("body", [BODY, ODD], ids=["gemini", "odd"])
@pytest.mark.parametrize("seed", range(12))
def test_every_cut_reads_as_the_sse_decoder_reads(body: bytes, seed: int) -> None:
    rng = random.Random(seed)
    frames = [i + 4 for i in range(len(body)) if body[i:i + 4] == b"\r\n\r\n"]  # reads at event boundaries
    cuts = sorted(rng.sample(frames, k=min(len(frames), 8)) if seed % 2 else rng.sample(range(1, len(body)), k=10))
    assert read(body, cuts) == decoded(body)


def test_the_fast_lane_takes_whole_events_and_the_body_end_completes_an_open_one() -> None:
    parser = GeminiEventParser("gemini")
    frames = BODY.split(b"\r\n\r\n")[:3]
    assert parser.feed(frames[0] + b"\r\n\r\n") == [EVENTS[0]]  # the first read: the decoder's (its BOM rule)
    assert parser.feed(frames[1] + b"\r\n\r\n" + frames[2] + b"\r\n\r\n") == EVENTS[1:3]
    assert parser.events == 3
    assert parser.feed(b'data: {"last": true}') == [] and parser.close() == [{"last": True}]


def test_a_payload_that_is_not_json_is_malformed_on_either_lane() -> None:
    parser = GeminiEventParser("gemini")
    parser.feed(BODY[: BODY.index(b"\r\n\r\n") + 4])
    with pytest.raises(MalformedStreamError, match="event 2 is not JSON"):
        parser.feed(b"data: {oops\r\n\r\n")
