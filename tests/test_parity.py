"""The sync and async shells behave the same: the same scripted streams through both give equal
chunks, completion, callback order, request count and number of TCP connections (a loopback server
per run counts them). Also: the two ``_run`` bodies differ only by ``async``/``await``."""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest

from llmstream import (
    AsyncStream,
    BaseClient,
    LLMStreamError,
    OpenAIClient,
    OpenRouterClient,
    Stream,
    StreamingOptions,
)
from tests.loopback import LoopbackServer, Scripted, error_response, openai_stream, openai_text_chunks

_KEY = "sk" "-test-key-FAKE0123456789abcdef"
PIECES = ["Hello", " there", ",", " world"]


def _body() -> list[bytes]:
    return openai_stream(openai_text_chunks(PIECES, model="m"))


def _without_finish() -> list[bytes]:
    """A server that never sends a finish_reason: the STOP comes from the translator's end hook."""
    events = [e for e in openai_text_chunks(PIECES, model="m") if not any(c["finish_reason"] for c in e["choices"])]
    return openai_stream(events)


def _client(kind: str, server: LoopbackServer, **kwargs: Any) -> BaseClient:
    kwargs.setdefault("retry_backoff", 0.0)
    if kind == "openrouter":
        return OpenRouterClient("m", api_key=_KEY, base_url=server.url + "/api/v1", **kwargs)
    return OpenAIClient("m", api_key=_KEY, base_url=server.url + "/v1", sdk_models=False, **kwargs)


class Scenario:
    """One scripted run: what the server answers, the client's knobs, and how the caller reads."""

    def __init__(
        self, responses: Callable[[], list[Scripted]], *, streams: int = 1, cancel_after_text: bool = False,
        raise_in_callback: bool = False, **knobs: Any,
    ) -> None:
        self.responses = responses
        self.streams = streams
        self.cancel_after_text = cancel_after_text
        self.raise_in_callback = raise_in_callback
        self.knobs = knobs


SCENARIOS = {
    "success": Scenario(lambda: [Scripted(chunks=_body())]),
    "no_finish_reason": Scenario(lambda: [Scripted(chunks=_without_finish())]),
    "three_streams": Scenario(lambda: [Scripted(chunks=_body()) for _ in range(3)], streams=3),
    "retry_then_success": Scenario(
        lambda: [error_response("openai", 503), Scripted(chunks=_body())], max_retries=1
    ),
    "drop_mid_stream": Scenario(lambda: [Scripted(chunks=_body(), drop_after=3)], max_retries=1),
    "cancel": Scenario(lambda: [Scripted(chunks=_body(), gate_after=3)], cancel_after_text=True),
    "raising_callback": Scenario(lambda: [Scripted(chunks=_body())], raise_in_callback=True),
}


class Record:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.events: list[tuple[Any, ...]] = []
        self.results: list[tuple[Any, ...]] = []

    def options(self) -> StreamingOptions:
        events = self.events

        def on_chunk(chunk: Any) -> None:
            events.append(("chunk", chunk.type.value, chunk.text))
            if self.scenario.raise_in_callback and chunk.text:
                raise ValueError("the caller's bug")

        return StreamingOptions(
            on_start=lambda c: events.append(("start", c.id, c.model)),
            on_chunk=on_chunk,
            on_error=lambda e: events.append(("error", type(e).__name__)),
            on_complete=lambda c: events.append(("complete", c.text, c.finish_reason)),
        )

    def read(self, chunks: list[Any], stream: Stream | AsyncStream, error: LLMStreamError | None) -> None:
        completion = stream.completion
        self.results.append((
            [(c.type.value, c.text) for c in chunks],
            completion.text, completion.finish_reason, completion.usage, completion.model, completion.id,
            type(error).__name__ if error is not None else None,
            None if error is None or error.partial is None else error.partial.text,
        ))


def _run_sync(scenario: Scenario, client: BaseClient, record: Record) -> None:
    for _ in range(scenario.streams):
        chunks: list[Any] = []
        error: LLMStreamError | None = None
        stream = client.stream("hi", options=record.options(), **scenario.knobs)
        try:
            with stream:
                for chunk in stream:
                    chunks.append(chunk)
                    if scenario.cancel_after_text and chunk.text:
                        stream.cancel()
        except LLMStreamError as exc:
            error = exc
        record.read(chunks, stream, error)
    client.close()


async def _run_async(scenario: Scenario, client: BaseClient, record: Record) -> None:
    for _ in range(scenario.streams):
        chunks: list[Any] = []
        error: LLMStreamError | None = None
        stream = client.astream("hi", options=record.options(), **scenario.knobs)
        try:
            async with stream:
                async for chunk in stream:
                    chunks.append(chunk)
                    if scenario.cancel_after_text and chunk.text:
                        stream.cancel()
        except LLMStreamError as exc:
            error = exc
        record.read(chunks, stream, error)
    await client.aclose()


def run(kind: str, name: str, mode: str) -> dict[str, Any]:
    scenario = SCENARIOS[name]
    with LoopbackServer() as server:
        server.enqueue(*scenario.responses())
        record = Record(scenario)
        client = _client(kind, server)
        if mode == "sync":
            _run_sync(scenario, client, record)
        else:
            asyncio.run(_run_async(scenario, client, record))
        assert server.wait_idle()
        return {
            "results": record.results,
            "events": record.events,
            "requests": len(server.requests),
            "connections": server.total_connections,
        }


EXPECTED = {  # (requests, connections, finish or error of the last stream): the runs must also be right
    "success": (1, 1, "stop"),
    "no_finish_reason": (1, 1, "other"),
    "three_streams": (3, 1, "stop"),
    "retry_then_success": (2, 1, "stop"),
    "drop_mid_stream": (1, 1, "StreamInterruptedError"),
    "cancel": (1, 1, "cancelled"),
    "raising_callback": (1, 1, "CallbackError"),
}


@pytest.mark.parametrize("kind", ["openrouter", "openai_own_decoding"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sync_and_async_behave_the_same(kind: str, name: str) -> None:
    sync, asynchronous = run(kind, name, "sync"), run(kind, name, "async")
    assert sync == asynchronous
    requests, connections, outcome = EXPECTED[name]
    assert (sync["requests"], sync["connections"]) == (requests, connections)
    last = sync["results"][-1]
    assert outcome in (last[2], last[6])
    if outcome in ("stop", "other"):
        assert last[1] == "".join(PIECES)
        assert sync["events"][-1] == ("complete", "".join(PIECES), outcome)
        assert ("chunk", "stop", "") in sync["events"]


def test_three_sync_streams_to_one_server_use_one_tcp_connection() -> None:
    for kind in ("openrouter", "openai_own_decoding"):
        result = run(kind, "three_streams", "sync")
        assert [r[1] for r in result["results"]] == ["".join(PIECES)] * 3
        assert result["connections"] == 1, kind


def _normalized(source: str) -> str:
    source = re.sub(r"\basync |\bawait ", "", source)
    source = source.replace("asyncio.sleep", "time.sleep").replace("adapter.aopen", "adapter.open")
    return source.replace("AsyncGenerator[StreamedChunk, None]", "Generator[StreamedChunk, None, None]")


@pytest.mark.parametrize("method", ["_run", "_deliver", "_notify", "_close_native", "until_done"])
def test_the_twins_differ_only_by_async_and_await(method: str) -> None:
    sync = inspect.getsource(getattr(Stream, method))
    asynchronous = inspect.getsource(getattr(AsyncStream, method))
    asynchronous = asynchronous.replace("call_async", "call_sync").replace("adapter.aclose", "adapter.close")
    asynchronous = asynchronous.replace("self._iterator.aclose", "self._iterator.close")
    assert _normalized(sync) == _normalized(asynchronous)


def test_the_public_surfaces_mirror_each_other() -> None:
    pairs = {"__enter__": "__aenter__", "__exit__": "__aexit__", "__iter__": "__aiter__", "__next__": "__anext__",
             "close": "aclose"}
    public_sync = {n for n in vars(Stream) if not n.startswith("_") or n in pairs}
    public_async = {n for n in vars(AsyncStream) if not n.startswith("_") or n in pairs.values()}
    assert {pairs.get(n, n) for n in public_sync} == public_async
