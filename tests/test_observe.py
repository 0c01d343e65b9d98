"""Telemetry spans and the response cache, through the real stream shells (MockClient + loopback)."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import llmstream
from llmstream import ChunkType, FinishReason, MockClient, StreamingAccumulator, StreamInterruptedError
from llmstream.cache import MemoryCache, SQLiteCache
from llmstream.telemetry import Telemetry
from tests.loopback import LoopbackServer

KEY = "sk" "-test-FAKEFAKEFAKEFAKEFAKE0001"


class Otel:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.telemetry = Telemetry(tracer_provider, MeterProvider(metric_readers=[self.reader]))

    def finished(self) -> list[Any]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    out[metric.name] = list(metric.data.data_points)
        return out


@pytest.fixture
def otel() -> Otel:
    return Otel()


def complete(client: Any, mode: str, prompt: str = "hello there friend", **kw: Any) -> llmstream.Completion:
    if mode == "sync":
        return client.stream_complete(prompt, **kw)  # type: ignore[no-any-return]
    return asyncio.run(client.astream_complete(prompt, **kw))  # type: ignore[no-any-return]


def test_a_successful_stream_is_one_client_span_with_genai_attributes_and_metrics(otel: Otel, mode: str) -> None:
    client = MockClient("echo", telemetry=otel.telemetry)
    completion = complete(client, mode, max_tokens=50, temperature=0.5)
    [span] = otel.finished()
    assert span.name == "chat echo"
    assert span.kind.name == "CLIENT"
    attributes = dict(span.attributes)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "mock"
    assert attributes["gen_ai.request.model"] == "echo"
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.usage.output_tokens"] == completion.usage.output_tokens  # type: ignore[union-attr]
    assert attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.input.messages" not in attributes  # content only when asked
    metrics = otel.metrics()
    assert {
        "gen_ai.client.operation.duration", "gen_ai.client.token.usage",
        "gen_ai.client.operation.time_to_first_chunk", "gen_ai.client.operation.time_per_output_chunk",
    } <= set(metrics)
    types = sorted(p.attributes["gen_ai.token.type"] for p in metrics["gen_ai.client.token.usage"])
    assert types == ["input", "output"]
    # One histogram record per output chunk after the first: the chunks are the mock's words.
    per_chunk = metrics["gen_ai.client.operation.time_per_output_chunk"]
    assert sum(p.count for p in per_chunk) == len(completion.text.split()) - 1


def test_content_is_captured_only_when_asked(otel: Otel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    MockClient("echo", telemetry=otel.telemetry).stream_complete("tell me about rivers")
    [span] = otel.finished()
    assert "tell me about rivers" in span.attributes["gen_ai.input.messages"]
    assert "rivers" in span.attributes["gen_ai.output.messages"]


def test_an_error_ends_the_span_once_with_error_type(otel: Otel, mode: str) -> None:
    client = MockClient("echo", fail_at=2, max_retries=0, telemetry=otel.telemetry)
    completion = complete(client, mode, raise_on_error=False)
    assert isinstance(completion.error, StreamInterruptedError)
    [span] = otel.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "StreamInterruptedError"


def test_retries_are_span_events(otel: Otel) -> None:
    client = MockClient("echo", fail_at=0, fail_times=1, retry_backoff=0.001, telemetry=otel.telemetry)
    client.stream_complete("hi there")
    [span] = otel.finished()
    assert [e.name for e in span.events] == ["llmstream.retry"]
    assert span.events[0].attributes["error.type"] == "StreamInterruptedError"


def test_break_close_cancel_and_garbage_collection_each_end_the_span_once(otel: Otel) -> None:
    client = MockClient("echo", telemetry=otel.telemetry)
    with client.stream("one two three four") as stream:
        for _ in stream:
            break
    stream.close()
    cancelled = client.stream("one two three four")
    next(iter(cancelled))
    threading.Thread(target=cancelled.cancel).start()
    cancelled.close()
    dropped = client.stream("one two three four")
    next(iter(dropped))
    del dropped
    gc.collect()
    spans = otel.finished()
    assert len(spans) == 3
    assert all(s.attributes.get("llmstream.cancelled") is True for s in spans)


def test_async_task_cancellation_ends_the_span(otel: Otel) -> None:
    client = MockClient("echo", delay=0.05, telemetry=otel.telemetry)

    async def main() -> None:
        async def read() -> None:
            async with client.astream("a b c d e f g h") as stream:
                async for _ in stream:
                    pass

        task = asyncio.create_task(read())
        await asyncio.sleep(0.08)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    [span] = otel.finished()
    assert span.attributes["llmstream.cancelled"] is True


def test_telemetry_false_records_nothing(otel: Otel) -> None:
    MockClient("echo", telemetry=otel.telemetry).stream_complete("a b", telemetry=False)
    assert otel.finished() == []


def test_no_sdk_configured_means_no_watch_and_nothing_per_chunk() -> None:
    stream = MockClient("echo").stream("a b c")
    assert stream._state.watch is None
    assert stream.until_done().text == "a b c"


def test_no_key_in_any_exported_attribute(
    otel: Otel, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    from tests.loopback import Scripted
    from tests.wire import openai_stream, openai_text_chunks

    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["Hi"]))))
    client = llmstream.client(
        "openai:gpt-4o-mini", api_key=KEY, base_url=loopback.url + "/v1", telemetry=otel.telemetry
    )
    client.stream_complete("hello")
    [span] = otel.finished()
    assert span.attributes["server.address"] == "127.0.0.1"
    assert KEY not in repr(dict(span.attributes)) + repr([e.attributes for e in span.events])


# -- the cache ---------------------------------------------------------------------------------------


class Counting(MockClient):
    """A MockClient that counts the streams it really opened."""

    opened = 0

    def _open(self, request: Any) -> Any:
        type(self).opened += 1
        return super()._open(request)

    async def _aopen(self, request: Any) -> Any:
        type(self).opened += 1
        return await super()._aopen(request)


@pytest.fixture
def counting() -> Iterator[type[Counting]]:
    Counting.opened = 0
    yield Counting


def test_a_hit_replays_as_a_normal_stream_and_sends_no_request(counting: type[Counting], mode: str) -> None:
    cache = MemoryCache()
    client = counting("echo", cache=cache)
    first = complete(client, mode)
    seen: list[Any] = []
    starts: list[Any] = []
    done: list[Any] = []
    second = complete(client, mode, on_chunk=seen.append, on_start=starts.append, on_complete=done.append)
    assert counting.opened == 1
    assert second.cached is True and first.cached is False
    assert (second.text, second.usage, second.finish_reason) == (first.text, first.usage, first.finish_reason)
    assert seen[0].type is ChunkType.START and seen[-1].type is ChunkType.STOP
    assert len(starts) == 1 and done == [second]
    rebuilt = StreamingAccumulator().add_all(seen).completion()
    assert rebuilt.text == first.text


def test_a_changed_parameter_is_a_miss(counting: type[Counting]) -> None:
    client = counting("echo", cache=MemoryCache())
    client.stream_complete("same words", temperature=0.1)
    client.stream_complete("same words", temperature=0.2)
    client.stream_complete("same words", temperature=0.2, tools=[llmstream.Tool("t", "d")])
    assert counting.opened == 3


def test_failures_and_cancels_are_not_stored(counting: type[Counting]) -> None:
    cache = MemoryCache()
    counting("echo", cache=cache, fail_at=1, max_retries=0).stream_complete("a b c", raise_on_error=False)
    with counting("echo", cache=cache).stream("a b c") as stream:
        next(iter(stream))
    assert len(cache) == 0


def test_modes_read_only_and_refresh(counting: type[Counting]) -> None:
    cache = MemoryCache()
    client = counting("echo", cache=cache)
    client.stream_complete("x y", cache_mode="read_only")
    assert len(cache) == 0
    client.stream_complete("x y")
    client.stream_complete("x y", cache_mode="refresh")
    assert counting.opened == 3
    assert client.stream_complete("x y").cached
    with pytest.raises(llmstream.ConfigurationError):
        client.stream_complete("x y", cache_mode="sometimes")


def test_server_state_requests_are_never_cached(counting: type[Counting]) -> None:
    client = counting("echo", cache=MemoryCache())
    client.stream_complete("x", store=True)
    client.stream_complete("x", store=True)
    assert counting.opened == 2


def test_sqlite_cache_twice_sends_one_request_to_a_real_provider(loopback: LoopbackServer, tmp_path: Path) -> None:
    from tests.loopback import Scripted
    from tests.wire import openai_stream, openai_text_chunks

    loopback.enqueue(Scripted(chunks=openai_stream(openai_text_chunks(["Rivers ", "run."]))))
    cache = SQLiteCache(tmp_path / "cache.db")
    client = llmstream.client("openai:gpt-4o-mini", api_key=KEY, base_url=loopback.url + "/v1")
    first = client.stream_complete("Haiku?", cache=cache)
    second = client.stream_complete("Haiku?", cache=cache)
    assert len(loopback.requests) == 1
    assert second.cached and second.text == first.text == "Rivers run."
    assert second.finish_reason is FinishReason.STOP


def test_a_cache_hit_is_a_span_marked_as_such_with_no_usage(counting: type[Counting], otel: Otel) -> None:
    client = counting("echo", cache=MemoryCache(), telemetry=otel.telemetry)
    client.stream_complete("p q")
    client.stream_complete("p q")
    first, second = otel.finished()
    assert "llmstream.cache_hit" not in first.attributes and "gen_ai.usage.input_tokens" in first.attributes
    assert second.attributes["llmstream.cache_hit"] is True
    assert "gen_ai.usage.input_tokens" not in second.attributes
