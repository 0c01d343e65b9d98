"""``AnthropicClient(sdk_models=False)``: llmstream decodes the body (its SSE decoder, one ``json.loads``
per event, the dict translator) while the anthropic SDK sends the request and raises its errors.

Every shared anthropic recording gives the same chunks, completion (server-tool blocks to send back
included) or error as the SDK's own iterator, sync and async; so do the in-band error spliced into a
real recording and the SDK's event filtering (pings, unnamed events, empty data). The fault matrix
(drops, status codes, malformed frames, in-band errors, oversize events) runs on this path through
``tests/test_resilience.py``'s ``WIRES``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from llmstream import ChunkType, Completion, InBandError, LLMStreamError, MalformedStreamError
from llmstream.providers._anthropic_dicts import AnthropicEventParser, AnthropicEventTranslator
from llmstream.sse import SSEDecoder
from tests.conftest import SHARED_CASSETTES
from tests.helpers import collect
from tests.loopback import LoopbackServer, Scripted
from tests.wire import anthropic_stream, anthropic_text_events, sse_frame

if SHARED_CASSETTES.is_dir():
    from tests.oracles import Recording, corpus, llmstream_client, served, shared_ssl_context

    RECORDINGS = [rec for rec in corpus(SHARED_CASSETTES) if rec.wire == "anthropic"]
else:  # pragma: no cover - the corpus-less checkout
    RECORDINGS = []

needs_corpus = pytest.mark.skipif(not RECORDINGS, reason=f"the shared cassette corpus is not at {SHARED_CASSETTES}")
pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with shared_ssl_context(), LoopbackServer() as running:
        yield running


def observed(client: Any, mode: str) -> Any:
    """What a caller can observe of one stream: chunks and completion (stats aside), or the error."""
    try:
        chunks, completion = collect(client, "replay", mode)
    except LLMStreamError as error:
        partial = None if error.partial is None else _completion(error.partial)
        return type(error), str(error), getattr(error, "status_code", None), error.provider, partial
    return chunks, _completion(completion)


def _completion(completion: Completion) -> tuple[Any, ...]:
    fields = tuple(getattr(completion, name) for name in (
        "text", "reasoning", "refusal", "tool_calls", "usage", "finish_reason", "raw_finish_reason", "model", "id",
        "provider", "reasoning_blocks", "server_tools", "citations", "provider_output"))
    # What goes back on the next turn: the server tools' blocks (not part of ServerToolEvent's eq).
    sent_back = tuple(tool.raw for tool in completion.server_tools)
    return (*fields, type(completion.error), str(completion.error), sent_back)


def both_paths(rec: Recording, server: LoopbackServer, mode: str) -> tuple[Any, Any]:
    server.default = served(rec)
    return (observed(llmstream_client(rec, server), mode),
            observed(llmstream_client(rec, server, sdk_models=False), mode))


@needs_corpus
@pytest.mark.parametrize("rec", RECORDINGS, ids=[rec.id for rec in RECORDINGS])
def test_own_decoding_equals_the_sdk_path(rec: Recording, server: LoopbackServer, mode: str) -> None:
    sdk, own = both_paths(rec, server, mode)
    assert own == sdk
    if isinstance(own[0], list):
        raws = [chunk.raw for chunk in own[0] if chunk.raw is not None]  # synthesized chunks have none
        assert raws and all(isinstance(raw, dict) for raw in raws)  # really the dict path


def _spliced(rec: Recording, frame: bytes, keep: int | None = None) -> Recording:
    separator = b"\r\n\r\n" if b"\r\n\r\n" in rec.body else b"\n\n"
    frames = rec.body.split(separator)
    cut = keep if keep is not None else max(3, len(frames) // 3)
    body = separator.join(frames[:cut]) + separator + frame
    headers = {k: v for k, v in rec.headers.items() if k != "content-encoding"}
    return dataclasses.replace(rec, raw_body=body, headers=headers, path=rec.path.with_name(f"{rec.path.stem}__fast"))


ERROR_FRAMES = {
    "json": b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    "no-message": b'event: error\ndata: {"type":"error","error":{"type":"api_error"}}\n\n',
    "not-json": b"event: error\ndata: upstream exploded\n\n",
    "empty": b"event: error\ndata:\n\n",
    "malformed": b"event: content_block_delta\ndata: {oops\n\n",
}


@needs_corpus
@pytest.mark.parametrize("frame", sorted(ERROR_FRAMES))
def test_errors_inside_a_real_stream_equal_the_sdk_path(frame: str, server: LoopbackServer, mode: str) -> None:
    rec = next(r for r in RECORDINGS if r.id.endswith("llm-anthropic__test_anthropic__test_thinking_prompt"))
    sdk, own = both_paths(_spliced(rec, ERROR_FRAMES[frame]), server, mode)
    if frame == "malformed":  # the wording differs (ours names the event and shows its data): not the rest
        assert "not JSON" in own[1] and "'{oops'" in own[1] and "JSON" in sdk[1]
        assert (own[0], *own[2:4], own[4][:-2]) == (sdk[0], *sdk[2:4], sdk[4][:-2])
    else:
        assert own == sdk
    assert own[0] is (MalformedStreamError if frame == "malformed" else InBandError)
    assert own[4] is not None and own[4][1], "the partial keeps the reasoning so far"


@needs_corpus
def test_the_sdk_event_filtering(server: LoopbackServer, mode: str) -> None:
    # Pings, events without an ``event:`` name and events with empty data are skipped by the SDK.
    rec = next(r for r in RECORDINGS if r.id.endswith("test_call__anthropic_beta_claude_sonnet_4_0__stream"))
    junk = (b"event: ping\ndata: {oops\n\n"
            b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"unnamed"}}\n\n'
            b"event: content_block_delta\ndata:\n\n: a comment\n\n")
    separator = b"\n\n"
    frames = rec.body.split(separator)
    body = separator.join(frames[:5]) + separator + junk + separator.join(frames[5:])
    sdk, own = both_paths(dataclasses.replace(rec, raw_body=body, path=rec.path.with_name("filtered")), server, mode)
    assert own == sdk and isinstance(own[0], list)
    assert "unnamed" not in own[1][0]


def test_a_stream_ending_in_the_middle_keeps_what_came(loopback: LoopbackServer, mode: str) -> None:
    import llmstream

    frames = anthropic_stream(anthropic_text_events(["Alpha ", "beta"]))
    results = []
    for sdk_models in (True, False):
        loopback.enqueue(Scripted(chunks=frames[:5]))  # no message_delta, no message_stop
        client = llmstream.AnthropicClient("claude-x", api_key="sk" "-ant-test", base_url=loopback.url,
                                           max_retries=0, sdk_models=sdk_models)
        results.append(observed(client, mode))
    assert results[0] == results[1]


# -- the sans-IO parts ---------------------------------------------------------------------------------


def test_the_parser_hands_out_the_events_before_an_error_in_the_same_read() -> None:
    parser = AnthropicEventParser("anthropic")
    body = b"".join([
        sse_frame({"type": "message_stop"}, event="message_stop"), b"event: ping\ndata: {}\n\n",
        sse_frame({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, event="error"),
        sse_frame({"type": "message_stop"}, event="message_stop"),
    ])
    assert parser.feed(body) == [{"type": "message_stop"}]
    assert isinstance(parser.error, InBandError) and parser.error.code == "overloaded_error"
    assert parser.error.provider == "anthropic" and "Overloaded" in str(parser.error)

    parser = AnthropicEventParser("anthropic")
    assert parser.feed(sse_frame({"type": "ping"}, event="message_start") + b"event: x\ndata: [1,\n\n") == [
        {"type": "ping"}
    ]
    assert isinstance(parser.error, MalformedStreamError) and "event 2 is not JSON" in str(parser.error)


def test_an_oversize_event_is_malformed() -> None:
    parser = AnthropicEventParser("anthropic", max_event_bytes=64)
    with pytest.raises(MalformedStreamError):
        parser.feed(b"event: content_block_delta\ndata: " + b"x" * 100 + b"\n\n")


def test_the_dict_translator_reads_what_the_sdk_translator_reads() -> None:
    translator = AnthropicEventTranslator()
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "model": "claude-x", "usage": {
            "input_tokens": 5, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hm"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "enc"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "t1", "name": "f",
                                                                       "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":'}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": "1}"}},
        {"type": "content_block_stop", "index": 2},
        {"type": "content_block_delta", "index": 3, "delta": {"type": "citations_delta", "citation": {
            "type": "web_search_result_location", "url": "https://x", "title": "X", "cited_text": "c"}}},
        {"type": "content_block_delta", "index": 3, "delta": {"type": "brand_new_delta"}},
        {"type": "ping"},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    chunks = [chunk for event in events for chunk in translator.translate(event)] + translator.end()
    kinds = [chunk.type for chunk in chunks]
    assert kinds == [ChunkType.START, ChunkType.USAGE, ChunkType.REASONING, ChunkType.REASONING,
                     ChunkType.REASONING, ChunkType.TOOL_CALL_START, ChunkType.TOOL_CALL_DELTA,
                     ChunkType.TOOL_CALL_DELTA, ChunkType.TOOL_CALL_END, ChunkType.CITATION, ChunkType.USAGE,
                     ChunkType.STOP]
    assert chunks[0].id == "msg_1" and chunks[1].usage is not None and chunks[1].usage.input_tokens == 10
    assert chunks[3].signature == "sig" and chunks[4].redacted_data == "enc"
    assert chunks[8].tool_call is not None and chunks[8].tool_call.arguments == '{"a":1}'
    assert chunks[9].citation is not None and chunks[9].citation.url == "https://x"
    assert chunks[10].usage is not None and chunks[10].usage.output_tokens == 9
    assert chunks[10].usage.cached_input_tokens == 3 and chunks[10].usage.cache_write_tokens == 2
    assert chunks[-1].raw_finish_reason == "tool_use"
    assert all(chunk.raw is None or isinstance(chunk.raw, dict) for chunk in chunks)
    error = AnthropicEventTranslator().translate({"type": "error", "error": {"type": "api_error", "message": "x"}})
    assert error[0].type is ChunkType.ERROR and error[0].error is not None and error[0].error.code == "api_error"


def _decoder_events(body: bytes) -> tuple[list[Any], str | None]:
    """The reference: the WHATWG decoder alone, filtered as the SDK filters (its error kind, if any)."""
    decoder, out = SSEDecoder(), []
    for event in decoder.feed(body):
        if event.event in ("ping", "message") or (not event.data and event.event != "error"):
            continue
        if event.event == "error":
            return out, "in-band"
        try:
            out.append(json.loads(event.data))
        except ValueError:
            return out, "malformed"
    return out, None


def _parsed(pieces: list[bytes]) -> tuple[list[Any], str | None]:
    parser, out = AnthropicEventParser("anthropic"), []
    for piece in pieces:
        out += parser.feed(piece)
        if parser.error is not None:
            return out, "in-band" if isinstance(parser.error, InBandError) else "malformed"
    return out, None


_ODD_FRAMES = [
    b"event: ping\ndata: {}\n\n", b": a comment\n\n", b'data: {"type":"unnamed"}\n\n', b'event: a\ndata: {"a":\n',
    b"data: 1}\n\n", b'event: m\r\ndata: {"k":1}\r\n\r\n', b"\xef\xbb\xbf", b'event: x\ndata:  {"s": 1} \n\n',
    b"event: x\n\n\n", b"id: 3\nevent: q\ndata: [1]\n\n", b"event: x\ndata: {bad\n\n",
    'event: u\ndata: "é川"\n\n'.encode(),
    b'event: error\ndata: {"type":"error","error":{"type":"e"}}\n\n', b"event:x\ndata:[2]\n\n", b"\n",
]


def test_the_frame_splitter_reads_what_the_decoder_reads_from_any_chunking() -> None:
    import random

    frames = anthropic_stream(anthropic_text_events(["Alpha ", "beta ", "gamma"], thinking_pieces=["t", "u"],
                                                    tool_uses=[{"name": "f", "input": {"x": 1}}]))
    rng = random.Random(19)
    for _ in range(1500):
        parts = list(frames[: rng.randint(0, len(frames))])
        for _ in range(rng.randint(0, 4)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(_ODD_FRAMES))
        body = b"".join(parts)
        if len(body) > 1 and rng.random() < 0.5:
            cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(1, 12))))
            parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        assert _parsed(parts) == _decoder_events(body), parts
    # A read that ends inside an event whose next line, in the next read, looks like a frame's start.
    one = frames[0]
    tricky = [one, one + b"data: [1]\n", b"event: x\ndata: [2]\n\n", one]
    assert _parsed(tricky) == _decoder_events(b"".join(tricky)) == ([{"type": "message_start", **{
        k: v for k, v in json.loads(one.split(b"data: ")[1]).items() if k != "type"}}] * 2, "malformed")
