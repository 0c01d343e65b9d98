"""The shared real-traffic corpus (``../shared/cassettes``) replayed through llmstream's real clients.

Each recorded response is served, status, headers and body exactly as recorded (gzip bodies stay
gzip, with their ``Content-Encoding``), by the loopback server; the llmstream client of the wire's
provider points its ``base_url`` at it and streams, sync and async. The resulting ``Completion`` is
compared with the vendor SDK's own accumulator on the same bytes (``tests/oracles/``, one module per vendor): text,
reasoning, refusal, tool calls (id, name, parsed arguments, order), normalized usage and finish
reason, id and model, thinking/thought signatures. Error recordings must raise the matching
llmstream error. ``gemini_vertex/`` bodies go through the Gemini API client here (the stream is the
same ``GenerateContentResponse`` wire); ``tests/test_vertex.py`` replays them through the Vertex client.

Also here: the chunk stream's own shape on real traffic (DESIGN's chunk table), the oracles checked
against each other, in-band errors spliced into real recordings (the corpus has none), and
``openai_responses/``: Responses-API streams, replayed through ``OpenAIResponsesClient`` and compared
with the openai SDK's ``responses.stream()`` (its ``ResponseStreamState``); their server tools,
citations and kept output items are checked in ``test_responses_cassettes.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import SHARED_CASSETTES

if not SHARED_CASSETTES.is_dir():
    pytest.skip(
        f"the shared cassette corpus is not at {SHARED_CASSETTES} (set LLMSTREAM_SHARED_CASSETTES to its path)",
        allow_module_level=True,
    )

from llmstream import ChunkType, Completion, FinishReason, InBandError, LLMStreamError
from llmstream.testing import replay
from tests.helpers import collect, complete
from tests.loopback import LoopbackServer
from tests.oracles import (
    Expected,
    Recording,
    corpus,
    expect_matches,
    llmstream_client,
    oracle,
    served,
    shared_ssl_context,
)
from tests.oracles.openai import openai_json_oracle

pytestmark = pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning")

RECORDINGS = corpus(SHARED_CASSETTES)
STREAMED = list(RECORDINGS)  # every wire, the Responses API's (openai_responses/) included
RESPONSES_API = [rec for rec in RECORDINGS if rec.wire == "openai-responses"]


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    """One loopback server for the module: every test sets ``server.default`` to its recording."""
    with shared_ssl_context(), LoopbackServer() as running:
        yield running


def run(rec: Recording, server: LoopbackServer, mode: str, **options: Any) -> Completion | LLMStreamError:
    """Stream ``rec`` through llmstream; the completion, or the error it raised."""
    server.default = served(rec)
    before = len(server.requests)
    try:
        result: Completion | LLMStreamError = complete(llmstream_client(rec, server, **options), "replay", mode)
    except LLMStreamError as error:
        result = error
    requests = server.requests[before:]
    assert len(requests) == 1, f"expected exactly one request (retries are off), got {len(requests)}"
    check_request(rec, requests[0])
    return result


def check_request(rec: Recording, request: Any) -> None:
    """The SDK asked the loopback for the endpoint the recording was made on (Gemini: any API version)."""
    if rec.wire == "gemini":
        assert request.path.endswith(f"/models/{rec.model}:streamGenerateContent"), request.path
        assert request.query.get("alt") == "sse"
    else:
        endpoints = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages",
                     "openrouter": "/api/v1/chat/completions", "openai-responses": "/v1/responses"}
        assert request.path == endpoints[rec.wire], request.path
        assert request.json["model"] == rec.model and request.json["stream"] is True


@pytest.mark.parametrize("rec", STREAMED, ids=[rec.id for rec in STREAMED])
def test_replay_equals_vendor_accumulator(rec: Recording, server: LoopbackServer, mode: str) -> None:
    expected = oracle(rec)
    result = run(rec, server, mode)
    if expected.error is not None and expected.error is not InBandError:
        assert isinstance(result, expected.error), f"{rec.id}: expected {expected.error.__name__}, got {result!r}"
        assert result.status_code == rec.status  # type: ignore[attr-defined]
        assert result.provider == rec.wire  # the provider named after its wire
        assert expected.error_message and expected.error_message in str(result)
        return
    if expected.error is InBandError:  # an error event inside the 200 stream: raised, partial intact
        assert isinstance(result, InBandError), f"{rec.id}: expected InBandError, got {result!r}"
        assert result.partial is not None
        expect_matches(result.partial, failed(expected))
        return
    assert isinstance(result, Completion), f"{rec.id}: the stream failed: {result!r}"
    assert result.error is None and result.provider == rec.wire
    expect_matches(result, expected)


#: The wires whose client has ``sdk_models=False`` (gemini_vertex/ recordings included: the same wire).
OWN_DECODING = [rec for rec in STREAMED if rec.wire in ("openai", "openai-responses", "gemini")]


def _both_paths(rec: Recording, server: LoopbackServer, mode: str, sdk_models: bool) -> Any:
    """Chunks and completion (stats aside), or the error: what a caller can observe of one stream."""
    server.default = served(rec)
    try:
        chunks, completion = collect(llmstream_client(rec, server, sdk_models=sdk_models), "replay", mode)
    except LLMStreamError as error:
        return type(error), str(error), getattr(error, "status_code", None), error.provider
    return chunks, _observable(completion)


@pytest.mark.parametrize("rec", OWN_DECODING, ids=[rec.id for rec in OWN_DECODING])
def test_llmstream_decoding_equals_the_sdk_path(rec: Recording, server: LoopbackServer, mode: str) -> None:
    """``OpenAIClient``, ``OpenAIResponsesClient`` and ``GeminiClient`` with ``sdk_models=False``
    (llmstream decodes the body; the SDK sends the request and raises its errors) give the same
    chunks, completion or error as the SDK's own iterator."""
    sdk = _both_paths(rec, server, mode, sdk_models=True)
    own = _both_paths(rec, server, mode, sdk_models=False)
    assert own == sdk
    if isinstance(own[0], list):
        raws = [chunk.raw for chunk in own[0] if chunk.raw is not None]  # synthesized chunks have none
        assert raws and all(isinstance(raw, dict) for raw in raws)  # really the dict path


def _observable(completion: Completion) -> tuple[Any, ...]:
    return tuple(getattr(completion, name) for name in (
        "text", "reasoning", "refusal", "tool_calls", "usage", "finish_reason", "raw_finish_reason", "model", "id",
        "provider", "error", "reasoning_blocks", "server_tools", "citations", "provider_output"))


# -- the oracles themselves ---------------------------------------------------------------------------

OPENAI_WIRE = [rec for rec in STREAMED if rec.wire in ("openai", "openrouter") and rec.status == 200]
#: Where openai's ChatCompletionStreamState cannot accumulate a real stream, and why.
HELPER_REJECTS = {
    # OpenRouter's reasoning_details entries carry no "index"; accumulate_delta requires one in a
    # list of objects, so the second reasoning chunk raises RuntimeError.
    "openrouter/logfire__test_openai__test_openrouter_streaming_reasoning": "'reasoning.text'",
    # The same for the web plugin's delta.annotations (url_citation entries).
    "openrouter/pydantic-ai__test_openrouter__test_openrouter_web_search_annotations_stream": "'url_citation'",
}


def test_the_openai_helper_rejects_only_the_documented_streams() -> None:
    """Those two recordings are compared with the JSON-level oracle instead; no other one is."""
    rejected = {rec.id: oracle(rec).notes for rec in OPENAI_WIRE if oracle(rec).notes}
    assert set(rejected) == set(HELPER_REJECTS)
    for rec_id, notes in rejected.items():
        assert "Expected list delta entry to have an `index` key" in notes[0] and HELPER_REJECTS[rec_id] in notes[0]


@pytest.mark.parametrize("rec", OPENAI_WIRE, ids=[rec.id for rec in OPENAI_WIRE])
def test_json_oracle_agrees_with_the_vendor_helper(rec: Recording) -> None:
    """The JSON-level accumulation (used where the helper gives up) gives what the openai SDK's own
    helper gives on every stream the helper can read: it is a faithful stand-in."""
    helper = oracle(rec)
    if helper.notes:  # the helper gave up here: only the JSON oracle has an answer
        assert rec.id in HELPER_REJECTS
        return
    ignore = {"oracle": "", "notes": (), "signatures": None}
    assert dataclasses.replace(openai_json_oracle(rec), **ignore) == dataclasses.replace(helper, **ignore)


WELL_FORMED = [rec for rec in STREAMED if rec.status == 200]


@pytest.mark.parametrize("rec", WELL_FORMED, ids=[rec.id for rec in WELL_FORMED])
def test_chunk_stream_is_well_formed(rec: Recording) -> None:
    """DESIGN's chunk table, on real traffic: START once and first; at most one STOP (a finish chunk
    a server repeats is not a second finish); each tool call opened and closed exactly once, its END
    after its fragments; no empty text chunks."""
    chunks = list(replay(rec.path))
    types = [chunk.type for chunk in chunks]
    assert types[0] is ChunkType.START and types.count(ChunkType.START) == 1
    stops = [chunk.raw_finish_reason for chunk in chunks if chunk.type is ChunkType.STOP]
    assert len(stops) <= 1, f"{len(stops)} STOP chunks ({stops}) for one finish"
    for chunk in chunks:
        if chunk.type in (ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL):
            assert chunk.text or chunk.signature or chunk.redacted_data is not None, chunk
    starts = [c.tool_call.index for c in chunks if c.type is ChunkType.TOOL_CALL_START and c.tool_call]
    ends = [c.tool_call.index for c in chunks if c.type is ChunkType.TOOL_CALL_END and c.tool_call]
    assert sorted(starts) == sorted(ends) == list(range(len(starts))), (starts, ends)
    closed: set[int] = set()
    for chunk in chunks:
        if chunk.type is ChunkType.TOOL_CALL_END and chunk.tool_call:
            closed.add(chunk.tool_call.index)
        elif chunk.type is ChunkType.TOOL_CALL_DELTA and chunk.tool_call:
            assert chunk.tool_call.index not in closed, f"a fragment of call {chunk.tool_call.index} after its END"


def failed(expected: Expected) -> Expected:
    """A partial completion's finish reason is ERROR, whatever the stream said before failing."""
    return dataclasses.replace(expected, finish_reason=FinishReason.ERROR, raw_finish_reason=None)


def test_corpus_is_complete() -> None:
    """Every folder of the corpus is replayed; a new folder needs a wire before it can be added."""
    folders = {rec.folder for rec in RECORDINGS}
    assert folders == {"openai", "openai_compatible", "anthropic", "gemini", "gemini_vertex", "openrouter",
                       "openai_responses"}
    assert len(STREAMED) == len(list(SHARED_CASSETTES.glob("*/*.yaml")))
    assert len(RESPONSES_API) == 23


# -- in-band errors: not in the corpus, so spliced into real recordings --------------------------------

# The corpus has no stream that fails inside an HTTP 200 (the Groq recordings of that test are its
# retries). These cut a real recording after its first third of events and append the vendor's own
# in-band error frame, as documented by each vendor: llmstream must raise InBandError and keep
# everything that arrived before it in ``.partial``.
SPLICES = {
    "openai": (
        "openai_compatible/pydantic-ai__test_groq__test_tool_use_failed_error_streaming__2",
        b'event: error\ndata: {"error":{"message":"tool call validation failed","type":"invalid_request_error",'
        b'"code":"tool_use_failed"}}\n\n',
    ),
    "openrouter": (
        "openrouter/pydantic-ai__test_openrouter__test_openrouter_streaming_reasoning",
        b'data: {"id":"gen-x","object":"chat.completion.chunk","created":1,"model":"m","error":{"code":502,'
        b'"message":"Provider disconnected"},"choices":[{"index":0,"delta":{"content":""},'
        b'"finish_reason":"error"}]}\n\n',
    ),
    "anthropic": (
        "anthropic/llm-anthropic__test_anthropic__test_thinking_prompt",
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    ),
    "gemini": (
        "gemini/mirascope__test_web_search_tool_stream__google_gemini_2_5_flash__1",
        b'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n',
    ),
}


def spliced(wire: str) -> Recording:
    """The recording cut after a third of its SSE frames, then the vendor's in-band error frame."""
    name, error_frame = SPLICES[wire]
    rec = next(r for r in RECORDINGS if r.id == name)
    separator = b"\r\n\r\n" if b"\r\n\r\n" in rec.body else b"\n\n"
    frames = rec.body.split(separator)
    body = separator.join(frames[: max(3, len(frames) // 3)]) + separator + error_frame
    headers = {k: v for k, v in rec.headers.items() if k != "content-encoding"}
    path = rec.path.with_name(f"{rec.path.stem}__spliced")  # its own id: the oracle cache is keyed by it
    return dataclasses.replace(rec, raw_body=body, headers=headers, path=path)


@pytest.mark.parametrize("sdk_models", [True, False], ids=["sdk-models", "own-decoding"])
@pytest.mark.parametrize("wire", sorted(SPLICES))
def test_in_band_error_keeps_the_partial(wire: str, server: LoopbackServer, mode: str, sdk_models: bool) -> None:
    if not sdk_models and wire not in ("openai", "gemini", "anthropic"):
        pytest.skip(f"{wire} has no sdk_models=False")  # openrouter: its own decoding is its only path
    rec = spliced(wire)
    expected = oracle(rec)
    assert expected.error is InBandError, f"the vendor SDK does not see an in-band error in {rec.id}"
    result = run(rec, server, mode, **({} if sdk_models else {"sdk_models": False}))
    assert isinstance(result, InBandError), result
    assert result.partial is not None and result.partial.error is result
    expect_matches(result.partial, failed(expected))
    assert result.partial.text or result.partial.reasoning, "the splice point left no content to keep"
