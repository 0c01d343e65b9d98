"""Bounds and normalization below the vendor SDKs' decoders (issue 22), against the loopback server."""

from __future__ import annotations

from typing import Any

import pytest

from llmstream import ContentLimitError, FinishReason, MalformedStreamError, StreamedChunk, StreamingOptions
from tests.helpers import complete, failure
from tests.loopback import (
    LoopbackServer,
    Scripted,
    gemini_stream,
    gemini_text_responses,
    openai_stream,
    openai_text_chunks,
)
from tests.test_resilience import PIECES, WIRES, Wire, client_for

LIMIT = 64 * 1024
BOUNDED = [w for w in WIRES if w.name in ("openai", "openai-sdk_models=False", "openrouter", "anthropic",
                                          "anthropic-sdk_models=False", "gemini", "gemini-sdk_models=False")]


@pytest.mark.parametrize("wire", BOUNDED, ids=[w.name for w in BOUNDED])
def test_a_never_ending_line_is_malformed_with_the_partial(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    frames = wire.frames(PIECES)[: wire.prefix + 2]
    endless = [b"data: " + b"x" * 16 * 1024] + [b"y" * 16 * 1024] * 8  # 144 KiB, no line end, then a stall
    loopback.enqueue(Scripted(chunks=frames + endless, stall_after=len(frames) + len(endless)))
    error, seen = failure(client_for(wire, loopback, max_event_bytes=LIMIT, idle_timeout=30), "hi", mode)
    assert isinstance(error, MalformedStreamError), error
    assert str(LIMIT) in str(error) or "max_event_bytes" in str(error)
    assert error.partial is not None
    assert error.partial.text == "".join(seen) == "Alpha beta "


def test_a_leading_bom_loses_no_text_on_the_openai_sdk_path(loopback: LoopbackServer, mode: str) -> None:
    frames = openai_stream(openai_text_chunks(PIECES))
    loopback.enqueue(Scripted(chunks=[b"\xef\xbb", b"\xbf" + frames[0], *frames[1:]]))
    wire = next(w for w in WIRES if w.name == "openai")
    completion = complete(client_for(wire, loopback), "hi", mode)
    assert completion.text == "".join(PIECES)


@pytest.mark.parametrize("name", ["gemini", "gemini-sdk_models=False"])
def test_gemini_ignores_sse_comments_and_a_bom(loopback: LoopbackServer, mode: str, name: str) -> None:
    frames = gemini_stream(gemini_text_responses(PIECES))
    chunks: list[bytes] = [b"\xef\xbb\xbf: keep-alive\r\n\r\n", frames[0], b": ping\n\n", *frames[1:]]
    loopback.enqueue(Scripted(chunks=chunks))
    wire = next(w for w in WIRES if w.name == name)
    completion = complete(client_for(wire, loopback), "hi", mode)
    assert completion.text == "".join(PIECES)


def test_max_event_bytes_must_be_positive() -> None:
    from llmstream._errors import ConfigurationError
    from llmstream._settings import Settings

    with pytest.raises(ConfigurationError):
        Settings(max_event_bytes=0)
    kw: dict[str, Any] = {}
    assert Settings(**kw).max_event_bytes == 16 * 1024 * 1024


class _DropBeta:
    """A processor that returns None for the chunks it drops (the codomyrmex seed's contract)."""

    def process(self, chunk: StreamedChunk) -> list[StreamedChunk] | None:
        return None if chunk.text == "beta " else [chunk]


def test_a_processor_returning_none_drops_the_chunk(loopback: LoopbackServer, mode: str) -> None:
    wire = next(w for w in WIRES if w.name == "openai-sdk_models=False")
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)))
    seen: list[str] = []
    options = StreamingOptions(processors=[_DropBeta()], on_chunk=lambda c: seen.append(c.text) if c.text else None)
    completion = complete(client_for(wire, loopback), "hi", mode, options=options)
    assert completion.text == "".join(seen) == "Alpha gamma delta."
    assert completion.finish_reason == FinishReason.STOP


@pytest.mark.parametrize("kind", ["tool_arguments", "refusal"])
def test_max_content_chars_counts_tool_arguments_and_refusals(
    loopback: LoopbackServer, mode: str, kind: str
) -> None:
    wire = next(w for w in WIRES if w.name == "openai")
    if kind == "tool_arguments":
        pieces = ['{"q": "', *["x" * 400] * 10, '"}']
        frames = openai_stream(openai_text_chunks([], tool_calls=[{"name": "search", "arguments_pieces": pieces}]))
    else:
        refusal = [openai_text_chunks([])[0]] + [
            {**openai_text_chunks([])[0], "choices": [{"index": 0, "delta": {"refusal": "no " * 100},
                                                       "logprobs": None, "finish_reason": None}]}
            for _ in range(20)
        ]
        frames = openai_stream(refusal)
    loopback.enqueue(Scripted(chunks=frames))
    error, _ = failure(client_for(wire, loopback, max_content_chars=1000), "hi", mode)
    assert isinstance(error, ContentLimitError), error
    assert error.partial is not None


@pytest.mark.parametrize("wire", BOUNDED, ids=[w.name for w in BOUNDED])
def test_json_nested_100000_deep_is_malformed(wire: Wire, loopback: LoopbackServer, mode: str) -> None:
    frames = wire.frames(PIECES)[: wire.prefix + 2]
    event = b"event: content_block_delta\n" if wire.vendor == "anthropic" else b""  # it skips unnamed events
    deep = event + b"data: " + b"[" * 100_000 + b"]" * 100_000 + b"\n\n"
    loopback.enqueue(Scripted(chunks=[*frames, deep]))
    error, seen = failure(client_for(wire, loopback), "hi", mode)
    assert isinstance(error, MalformedStreamError), error
    assert error.partial is not None and error.partial.text == "".join(seen) == "Alpha beta "


def test_the_cli_stats_line_shows_time_to_first_token(loopback: LoopbackServer) -> None:
    from llmstream.cli.render import format_stats

    wire = next(w for w in WIRES if w.name == "anthropic")  # START arrives well before the first text
    loopback.enqueue(Scripted(chunks=wire.frames(PIECES)))
    completion = complete(client_for(wire, loopback), "hi", "sync")
    ttft = completion.stats.time_to_first_token_ms
    assert ttft is not None
    assert f"first token {ttft / 1000:.2f} s" in format_stats(completion, None)
    assert f"first token {ttft / 1000:.2f} s" in format_stats(completion, 99.0)  # the library's figure wins
