"""Tests for the loopback fake provider server (tests/loopback.py) and its wire builders (tests/wire.py).

Timing is proven with the server's gate handshake (``gate_after`` + ``wait_gated`` + ``release``), never
with sleeps; the only clock-based assertions are for the delay features themselves.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import openai
import pydantic
import pytest
from anthropic.types import RawMessageStreamEvent
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.chat import ChatCompletionChunk

from tests.loopback import (
    LoopbackServer,
    Scripted,
    anthropic_error_event,
    anthropic_stream,
    anthropic_text_events,
    error_response,
    gemini_stream,
    gemini_text_responses,
    json_error_body,
    loopback_fixture,
    openai_stream,
    openai_text_chunks,
    rechunk,
    sse_frame,
)

loopback = pytest.fixture(loopback_fixture)

ANTHROPIC_MODEL = "claude-haiku-4-5"  # a request model the installed SDK does not warn about
TOOL_PIECES = ['{"ci', 'ty": "Par', 'is"}']
UNICODE_PIECES = ["Hé", "llo, ", "wörld 🌍", "!"]
SEEDS = [None, 0, 1, 2, 3]
OPENAI_401 = {
    "error": {"message": "m", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ambient credentials/endpoints from steering the real SDKs away from the loopback."""
    for name in (
        "OPENAI_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN", "GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI",
        "GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_API_VERSION", "GOOGLE_CLOUD_PROJECT",
        "GOOGLE_CLOUD_LOCATION",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def client(timeout: float | httpx2.Timeout = 10) -> httpx2.Client:
    """A plain-HTTP client; ``verify=False`` only skips loading the CA bundle (~0.1 s per client)."""
    return httpx2.Client(timeout=timeout, verify=False)


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with client() as http_client:
        yield http_client


def pieces_of(frames: list[bytes], seed: int | None) -> list[bytes]:
    """One frame per chunk when ``seed`` is None, else the same bytes cut at random offsets."""
    return frames if seed is None else rechunk(frames, seed, max_piece=7)


def assert_clean(server: LoopbackServer) -> None:
    assert server.wait_idle(), "a client connection was left open"
    assert server.errors == []


# ------------------------------------------------------------------------------------ recording & scripting


def test_records_method_path_query_headers_and_json(loopback: LoopbackServer, http: httpx2.Client) -> None:
    loopback.enqueue(Scripted.json({"ok": True}, status=201))
    url = f"{loopback.url}/v1/things?alt=sse&n=1"
    response = http.post(url, json={"a": [1, 2]}, headers={"X-Custom": "Yes"})

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"ok": True}
    request = loopback.requests[-1]
    assert (request.method, request.path, request.target) == ("POST", "/v1/things", "/v1/things?alt=sse&n=1")
    assert request.query == {"alt": "sse", "n": "1"}
    assert request.headers["x-custom"] == "Yes"
    assert all(name == name.lower() for name in request.headers)
    assert json.loads(request.body) == {"a": [1, 2]} == request.json


def test_reads_chunked_request_bodies_and_raw_bodies(loopback: LoopbackServer, http: httpx2.Client) -> None:
    loopback.enqueue(Scripted(body=b"plain"), Scripted(body=b"plain"))
    http.post(loopback.url, content=iter([b"not ", b"json"]))  # generator content goes out chunked
    http.put(loopback.url + "/raw", content=b"\x00\x01")

    first, second = loopback.requests
    assert first.headers["transfer-encoding"] == "chunked"
    assert (first.body, first.json) == (b"not json", None)
    assert (second.method, second.body, second.json) == ("PUT", b"\x00\x01", None)


def test_fifo_order_then_500_when_queue_is_empty(loopback: LoopbackServer, http: httpx2.Client) -> None:
    loopback.enqueue(Scripted.json({"n": 1}), Scripted(status=202, body=b"two"))
    assert loopback.pending == 2

    first, second, third = (http.get(f"{loopback.url}/{n}") for n in range(3))

    assert (first.status_code, first.json()) == (200, {"n": 1})
    assert (second.status_code, second.text) == (202, "two")
    assert second.headers["content-type"] == "text/plain; charset=utf-8"
    assert third.status_code == 500
    assert third.json()["error"]["message"] == "loopback: no scripted response"
    assert [request.path for request in loopback.requests] == ["/0", "/1", "/2"]
    assert loopback.pending == 0


def test_default_answers_once_the_queue_is_empty(loopback: LoopbackServer, http: httpx2.Client) -> None:
    loopback.default = Scripted.json({"default": True})
    loopback.enqueue(Scripted.json({"queued": True}))

    bodies = [http.get(loopback.url).json() for _ in range(3)]

    assert bodies == [{"queued": True}, {"default": True}, {"default": True}]


def test_stream_headers_and_explicit_content_type(loopback: LoopbackServer, http: httpx2.Client) -> None:
    loopback.enqueue(
        Scripted(chunks=[b"data: 1\n\n", b"", b"data: 2\n\n"]),  # the empty piece must not end the body early
        Scripted(chunks=[b"{}\n"], headers={"content-type": "application/x-ndjson", "X-Request-Id": "req_1"}),
    )
    stream = http.get(loopback.url)
    ndjson = http.get(loopback.url)

    assert stream.headers["content-type"] == "text/event-stream"
    assert stream.headers["transfer-encoding"] == "chunked"
    assert stream.content == b"data: 1\n\ndata: 2\n\n"
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert ndjson.headers["x-request-id"] == "req_1"


def test_keep_alive_reuses_one_connection_and_close_releases_it(loopback: LoopbackServer) -> None:
    loopback.default = Scripted(chunks=[b"a", b"b"])
    with client() as http:
        assert [http.get(loopback.url).content for _ in range(3)] == [b"ab"] * 3
        assert loopback.total_connections == 1
        assert loopback.open_connections == 1  # idle in the client's pool
    assert_clean(loopback)


# ------------------------------------------------------------------------------------ streaming behaviour


def test_each_chunk_reaches_the_client_before_the_next_is_written(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=[b"first", b"second", b"third"], gate_after=1))
    with client() as http, http.stream("GET", loopback.url) as response:
        raw = response.iter_raw()
        assert next(raw) == b"first"
        assert loopback.wait_gated()
        assert loopback.chunks_written == 1  # "second" provably not written yet
        loopback.release()
        assert b"".join(raw) == b"secondthird"
    assert loopback.chunks_written == 3


def test_drop_after_closes_without_the_final_chunk(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=[b"one", b"two", b"three"], drop_after=1, gate_after=1))
    with client() as http, http.stream("GET", loopback.url) as response:
        raw = response.iter_raw()
        assert next(raw) == b"one"
        loopback.release()
        with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
            next(raw)
    assert_clean(loopback)


def test_drop_reset_sends_a_tcp_reset(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=[b"one", b"two"], drop_after=1, drop_reset=True, gate_after=1))
    with client() as http, http.stream("GET", loopback.url) as response:
        raw = response.iter_raw()
        assert next(raw) == b"one"
        loopback.release()
        with pytest.raises(httpx2.ReadError):
            next(raw)
    assert_clean(loopback)


def test_drop_before_any_chunk(loopback: LoopbackServer, http: httpx2.Client) -> None:
    loopback.enqueue(Scripted(chunks=[b"never"], drop_after=0))
    with pytest.raises(httpx2.RemoteProtocolError):
        http.get(loopback.url)


def test_stall_after_trips_the_client_read_timeout(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=[b"one", b"two"], stall_after=1))
    with client(httpx2.Timeout(10, read=0.5)) as http:
        with http.stream("GET", loopback.url) as response:
            raw = response.iter_raw()
            assert next(raw) == b"one"
            with pytest.raises(httpx2.ReadTimeout):
                next(raw)
        # The stalled handler notices the client went away and frees its socket long before stall_max.
        assert_clean(loopback)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptor limits")
def test_stall_holds_on_descriptors_above_fd_setsize(loopback: LoopbackServer) -> None:
    """Regression: a select()-based disconnect probe fails past fd 1024 and dropped stalled streams."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("cannot open 1200 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        loopback.enqueue(Scripted(chunks=[b"one", b"two"], stall_after=1))
        with client(httpx2.Timeout(10, read=0.5)) as http, http.stream("GET", loopback.url) as response:
            raw = response.iter_raw()
            assert next(raw) == b"one"
            with pytest.raises(httpx2.ReadTimeout):  # not RemoteProtocolError: the server kept stalling
                next(raw)
        assert_clean(loopback)
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_delay_first_delays_the_status_line(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted.json({}), Scripted(body=b"{}", delay_first=30))
    loopback.enqueue(Scripted(chunks=[b"a", b"b", b"c"], delay_first=0.1, delay_between=0.05))
    with client() as http:
        http.get(loopback.url)  # warm the connection so only the response is slow
        with pytest.raises(httpx2.ReadTimeout):
            http.get(loopback.url, timeout=httpx2.Timeout(10, read=0.5))
    assert_clean(loopback)  # the delayed handler gives up as soon as the client has gone
    with client() as http:
        started = time.monotonic()
        assert http.get(loopback.url).content == b"abc"
        assert time.monotonic() - started >= 0.1 + 2 * 0.05


@pytest.mark.parametrize("checkpoint", ["stall_after", "gate_after"])
def test_stop_is_prompt_with_a_stalled_or_gated_handler(checkpoint: str) -> None:
    server = LoopbackServer().start()
    script = Scripted(chunks=[b"a", b"b"])
    setattr(script, checkpoint, 1)
    server.enqueue(script)
    with client(30) as http, http.stream("GET", server.url) as response:
        raw = response.iter_raw()
        assert next(raw) == b"a"
        started = time.monotonic()
        server.stop()
        elapsed = time.monotonic() - started
        with pytest.raises(httpx2.RemoteProtocolError):
            next(raw)
    assert elapsed < 10  # generous for loaded CI; stall_max is 60 s and the gate never opens
    assert server.open_connections == 0
    assert server.errors == []


def test_stop_closes_idle_keep_alive_connections_and_is_idempotent() -> None:
    with LoopbackServer() as server, client() as http:
        server.enqueue(Scripted(body=b"{}"))
        http.get(server.url)
        assert server.open_connections == 1
        server.stop()
        assert server.open_connections == 0
        server.stop()


def test_gated_handler_notices_the_client_leaving(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=[b"a", b"b"], gate_after=1))
    with client() as http, http.stream("GET", loopback.url) as response:
        raw = response.iter_raw()  # keep a reference: a collected iter_raw() generator closes the connection
        assert next(raw) == b"a"
        assert loopback.wait_gated()
        assert loopback.open_connections == 1
    assert_clean(loopback)  # without any release()


def test_client_disconnect_mid_write_is_silent(
    loopback: LoopbackServer, capfd: pytest.CaptureFixture[str]
) -> None:
    loopback.enqueue(Scripted(chunks=[b"x" * 65536] * 512))  # 32 MiB: far more than the socket buffers hold
    with client() as http, http.stream("GET", loopback.url) as response:
        assert next(response.iter_raw())  # the dropped generator makes httpx2 close the connection at once
    assert_clean(loopback)
    assert loopback.chunks_written < 512
    assert "Traceback" not in capfd.readouterr().err


def test_concurrent_clients_are_served_in_parallel(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=[b"slow", b"-done"], gate_after=1), Scripted(body=b"fast"))
    with client() as slow, client() as fast, slow.stream("GET", loopback.url) as response:
        raw = response.iter_raw()
        assert next(raw) == b"slow"
        assert fast.get(loopback.url).content == b"fast"  # answered while the first handler is parked
        loopback.release()
        assert b"".join(raw) == b"-done"
    assert_clean(loopback)


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("vendor", "status", "expected"),
    [
        (
            "openai",
            401,
            OPENAI_401,
        ),
        ("openai", 500, {"error": {"message": "m", "type": "server_error", "param": None, "code": None}}),
        ("anthropic", 529, {"type": "error", "error": {"type": "overloaded_error", "message": "m"}}),
        ("anthropic", 404, {"type": "error", "error": {"type": "not_found_error", "message": "m"}}),
        ("gemini", 429, {"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED"}}),
        ("gemini", 503, {"error": {"code": 503, "message": "m", "status": "UNAVAILABLE"}}),
    ],
)
def test_error_responses_carry_status_and_vendor_body(
    loopback: LoopbackServer, http: httpx2.Client, vendor: Any, status: int, expected: dict[str, Any]
) -> None:
    assert json_error_body(vendor, status, "m") == expected
    loopback.enqueue(error_response(vendor, status, "m", headers={"retry-after": "1"}))
    response = http.get(loopback.url)
    assert (response.status_code, response.json(), response.headers["retry-after"]) == (status, expected, "1")


def test_real_sdks_raise_their_typed_errors(loopback: LoopbackServer) -> None:
    loopback.enqueue(
        error_response("openai", 401, "Incorrect API key provided"),
        error_response("anthropic", 429, "Number of requests has exceeded your rate limit"),
        error_response("anthropic", 529, "Overloaded"),
        error_response("gemini", 429, "Resource has been exhausted"),
        error_response("gemini", 503, "The model is overloaded"),
    )
    oai = openai.OpenAI(base_url=loopback.url + "/v1", api_key="test", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as oai_error:
        oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert (oai_error.value.status_code, oai_error.value.code) == (401, "invalid_api_key")

    ant = anthropic.Anthropic(base_url=loopback.url, api_key="test", max_retries=0)
    hi: Any = [{"role": "user", "content": "hi"}]
    for error_type in (anthropic.RateLimitError, anthropic.OverloadedError):
        with pytest.raises(error_type):
            ant.messages.create(model=ANTHROPIC_MODEL, max_tokens=10, messages=hi)

    gem = genai.Client(api_key="test", http_options=genai_types.HttpOptions(base_url=loopback.url))
    with pytest.raises(genai_errors.ClientError) as client_error:
        gem.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert (client_error.value.code, client_error.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(genai_errors.ServerError) as server_error:
        gem.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert server_error.value.code == 503


def test_anthropic_mid_stream_error_event_is_raised(loopback: LoopbackServer) -> None:
    events = [*anthropic_text_events(["Hel"])[:5], anthropic_error_event("overloaded_error", "Overloaded")]
    loopback.enqueue(Scripted(chunks=anthropic_stream(events)))
    client = anthropic.Anthropic(base_url=loopback.url, api_key="test", max_retries=0)
    stream = client.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        list(stream)


# ------------------------------------------------------------------------------------ real SDKs over the wire


@pytest.mark.parametrize("seed", SEEDS)
def test_openai_sdk_parses_text_stream(loopback: LoopbackServer, seed: int | None) -> None:
    loopback.enqueue(Scripted(chunks=pieces_of(openai_stream(openai_text_chunks(UNICODE_PIECES)), seed)))
    client = openai.OpenAI(base_url=loopback.url + "/v1", api_key="test", max_retries=0)

    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(UNICODE_PIECES)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 15
    request = loopback.requests[-1]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer test"
    assert request.json is not None
    assert (request.json["model"], request.json["stream"]) == ("gpt-4o-mini", True)
    assert_clean(loopback)


@pytest.mark.parametrize("seed", [None, 7])
def test_openai_sdk_parses_tool_call_stream(loopback: LoopbackServer, seed: int | None) -> None:
    tool_calls: list[dict[str, Any]] = [
        {"id": "call_1", "name": "get_weather", "arguments_pieces": TOOL_PIECES},
        {"id": "call_2", "name": "get_time", "arguments": {"tz": "CET"}},
    ]
    frames = openai_stream(openai_text_chunks([], tool_calls=tool_calls, usage=None))
    loopback.enqueue(Scripted(chunks=pieces_of(frames, seed)))
    client = openai.OpenAI(base_url=loopback.url + "/v1", api_key="test", max_retries=0)

    calls: dict[int, dict[str, str]] = {}
    finish = None
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    for chunk in stream:
        assert chunk.usage is None
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for call in choice.delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""

    assert finish == "tool_calls"
    assert calls[0] == {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert (calls[1]["name"], json.loads(calls[1]["arguments"])) == ("get_time", {"tz": "CET"})


async def test_async_openai_sdk_streams_from_the_loopback(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["a", "b"])), delay_between=0.01))
    client = openai.AsyncOpenAI(base_url=loopback.url + "/v1", api_key="test", max_retries=0)
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    await client.close()
    assert text == "ab"
    assert_clean(loopback)


@pytest.mark.parametrize("seed", SEEDS)
def test_anthropic_sdk_parses_thinking_text_and_tool_use(loopback: LoopbackServer, seed: int | None) -> None:
    events = anthropic_text_events(
        UNICODE_PIECES,
        thinking_pieces=["Let me ", "think."],
        tool_uses=[{"id": "toolu_1", "name": "get_weather", "input_pieces": TOOL_PIECES}],
    )
    loopback.enqueue(*[Scripted(chunks=pieces_of(anthropic_stream(events), seed))] * 2)
    client = anthropic.Anthropic(base_url=loopback.url, api_key="test", max_retries=0)
    params: dict[str, Any] = {
        "model": ANTHROPIC_MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }

    raw = list(client.messages.create(**params, stream=True))
    with client.messages.stream(**params) as stream:
        final = stream.get_final_message()

    assert [event.type for event in raw][:2] == ["message_start", "content_block_start"]  # ping is swallowed
    deltas = [event.delta for event in raw if event.type == "content_block_delta"]
    text = "".join(delta.text for delta in deltas if delta.type == "text_delta")
    assert text == "".join(UNICODE_PIECES)
    thinking, text_block, tool_use = final.content
    assert thinking.type == "thinking" and (thinking.thinking, thinking.signature) == ("Let me think.", "sig")
    assert text_block.type == "text" and text_block.text == "".join(UNICODE_PIECES)
    assert tool_use.type == "tool_use" and (tool_use.id, tool_use.name) == ("toolu_1", "get_weather")
    assert tool_use.input == {"city": "Paris"}
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("tool_use", 10, 5)
    request = loopback.requests[-1]
    assert (request.path, request.headers["authorization"]) == ("/v1/messages", "Bearer test")
    assert "anthropic-version" in request.headers


@pytest.mark.parametrize("seed", SEEDS)
def test_gemini_sdk_parses_thoughts_text_calls_and_usage(loopback: LoopbackServer, seed: int | None) -> None:
    responses = gemini_text_responses(
        UNICODE_PIECES,
        thought_pieces=["Thinking..."],
        function_calls=[{"name": "get_weather", "args": {"city": "Paris"}}],
        thoughts_tokens=3,
    )
    loopback.enqueue(Scripted(chunks=pieces_of(gemini_stream(responses), seed)))
    client = genai.Client(api_key="test", http_options=genai_types.HttpOptions(base_url=loopback.url))

    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))

    parts = [part for chunk in chunks for part in chunk.candidates[0].content.parts]  # type: ignore[index, union-attr]
    assert "".join(p.text for p in parts if p.text and not p.thought) == "".join(UNICODE_PIECES)
    assert [p.text for p in parts if p.thought] == ["Thinking..."]
    calls = [p.function_call for p in parts if p.function_call]
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    last = chunks[-1]
    assert last.candidates is not None and last.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert last.usage_metadata is not None
    usage = last.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count) == (10, 5, 3)
    assert usage.total_token_count == 18
    assert (last.model_version, last.response_id) == ("gemini-2.5-flash", "loop-response-1")
    request = loopback.requests[-1]
    # google-genai 3.4 with an api_key: base_url replaces the host and the default api_version "v1" is kept.
    assert request.path == "/v1/models/gemini-2.5-flash:streamGenerateContent"
    assert request.query == {"alt": "sse"}
    assert request.headers["x-goog-api-key"] == "test"
    assert request.json == {"contents": [{"parts": [{"text": "hi"}], "role": "user"}]}


def test_gemini_api_version_is_taken_from_http_options(loopback: LoopbackServer) -> None:
    loopback.enqueue(Scripted(chunks=gemini_stream(gemini_text_responses(["ok"]))))
    options = genai_types.HttpOptions(base_url=loopback.url, api_version="v1beta")
    client = genai.Client(api_key="test", http_options=options)
    chunks = client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi")
    assert [chunk.text for chunk in chunks] == ["ok"]
    assert loopback.requests[-1].path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


# ------------------------------------------------------------------------------------ pure builders


def test_sse_frame_formats() -> None:
    assert sse_frame({"a": 1, "b": "é"}) == 'data: {"a":1,"b":"é"}\n\n'.encode()
    assert sse_frame("x", event="ping") == b"event: ping\ndata: x\n\n"
    assert sse_frame("line1\nline2") == b"data: line1\ndata: line2\n\n"
    assert sse_frame({"k": 0}, newline="\r\n") == b'data: {"k":0}\r\n\r\n'
    assert openai_stream([{"a": 1}]) == [b'data: {"a":1}\n\n', b"data: [DONE]\n\n"]
    assert openai_stream([{"a": 1}], done=False) == [b'data: {"a":1}\n\n']
    assert anthropic_stream([("ping", {})]) == [b'event: ping\ndata: {"type":"ping"}\n\n']
    assert gemini_stream([{"a": 1}]) == [b'data: {"a":1}\r\n\r\n']


def test_rechunk_is_seeded_lossless_and_splits_anywhere() -> None:
    body = "".join(UNICODE_PIECES).encode() * 20
    assert rechunk(body, 5) == rechunk(body, 5)
    assert rechunk(body, 5) != rechunk(body, 6)
    for seed in range(20):
        pieces = rechunk(body, seed, max_piece=4)
        assert b"".join(pieces) == body and all(1 <= len(p) <= 4 for p in pieces)
    assert rechunk([b"abc", b"defg"], [1, 2]) == [b"a", b"bc", b"d", b"ef", b"g"]
    assert rechunk(b"", 0) == []
    with pytest.raises(ValueError):
        rechunk(b"abc", [0])


def test_builders_validate_against_the_sdk_models() -> None:
    for chunk in openai_text_chunks(["a"], tool_calls=[{"name": "f", "arguments_pieces": TOOL_PIECES}]):
        ChatCompletionChunk.model_validate(chunk)
    events = anthropic_text_events(["a"], thinking_pieces=["t"], tool_uses=[{"name": "f", "input": {"x": 1}}])
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(RawMessageStreamEvent)
    for name, data in events:
        if name != "ping":  # ping is not part of the union: the SDK drops it before parsing
            assert adapter.validate_python({"type": name, **data}).type == name
    responses = gemini_text_responses(
        ["a"], thought_pieces=["t"], function_calls=[{"name": "f"}], thoughts_tokens=1
    )
    for response in responses:
        genai_types.GenerateContentResponse.model_validate(response)  # extra="forbid": catches bad camelCase


def test_openai_text_chunks_shape() -> None:
    chunks = openai_text_chunks(["Hi"], model="gpt-x", id="chatcmpl-1")
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    choice = {"index": 0, "delta": {"content": "Hi"}, "logprobs": None, "finish_reason": None}
    assert chunks[1]["choices"] == [choice]
    assert chunks[2]["choices"][0]["delta"] == {} and chunks[2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[3]["choices"] == [] and chunks[3]["usage"]["total_tokens"] == 15
    identities = {(chunk["id"], chunk["model"], chunk["object"]) for chunk in chunks}
    assert identities == {("chatcmpl-1", "gpt-x", "chat.completion.chunk")}
    assert "usage" not in openai_text_chunks(["Hi"], usage=None)[-1]


def test_anthropic_text_events_shape() -> None:
    events = anthropic_text_events(["a", "b"])
    assert [name for name, _ in events] == [
        "message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip
    message = events[0][1]["message"]
    assert (message["id"], message["usage"]["output_tokens"], message["stop_reason"]) == ("msg_loop", 1, None)
    assert events[-2][1] == {
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 5},
    }
    tool_only = anthropic_text_events([], tool_uses=[{"name": "f", "input": {}}])
    assert [d["content_block"]["type"] for n, d in tool_only if n == "content_block_start"] == ["tool_use"]


def test_gemini_usage_is_cumulative() -> None:
    responses = gemini_text_responses(["a", "b", "c"], candidates_tokens=6, prompt_tokens=4)
    assert [r["usageMetadata"]["candidatesTokenCount"] for r in responses] == [2, 4, 6]
    assert [r["usageMetadata"]["totalTokenCount"] for r in responses] == [6, 8, 10]
    assert ["finishReason" in r["candidates"][0] for r in responses] == [False, False, True]
    assert "thoughtsTokenCount" not in responses[0]["usageMetadata"]


def test_fixture_yields_a_started_server_and_stops_it() -> None:
    generator = loopback_fixture()
    server = next(generator)
    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    with pytest.raises(StopIteration):
        next(generator)
    assert server.open_connections == 0
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(server.url, timeout=2)
