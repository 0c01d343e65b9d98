"""OpenTelemetry GenAI span and metrics for every stream, on ``opentelemetry-api`` only.

One CLIENT span per stream, named ``{gen_ai.operation.name} {gen_ai.request.model}``, with the GenAI
semantic-convention attributes, and the four client metrics. Nothing is imported until a stream
starts, and nothing at all happens when the API is not installed or no SDK is configured (the
global providers are still the API's proxies): :func:`begin` then returns ``None`` and the shells
skip every per-chunk call. With an SDK the only per-chunk work is the ``time_per_output_chunk``
histogram record.

The span ends exactly once (:meth:`StreamTelemetry.end` is idempotent), whichever way out the
stream takes: success, error, cancel, ``break``, garbage collection (the shells register a
finalizer), a fallback's next attempt (each attempt is its own stream, so its own span).
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from ._accumulator import CONTENT_TYPES
from ._types import Completion, StreamedChunk

__all__ = ["PROVIDER_NAMES", "StreamTelemetry", "Telemetry", "begin", "capture_mode"]

#: llmstream provider → ``gen_ai.provider.name``.
PROVIDER_NAMES = {
    "openai": "openai",
    "openai-responses": "openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "vertex": "gcp.vertex_ai",
    "openrouter": "openrouter",
}
_DEFAULT_HOSTS = {
    "openai": "api.openai.com",
    "openai-responses": "api.openai.com",
    "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com",
    "vertex": "aiplatform.googleapis.com",
    "openrouter": "openrouter.ai",
}
_SCOPE = "llmstream"
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]
_SECONDS_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_CHUNK_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]


@attrs.frozen
class Telemetry:
    """Where spans and metrics go: the global providers by default, or explicit ones."""

    tracer_provider: Any = None
    meter_provider: Any = None


_installed: bool | None = None
_instruments: dict[int, tuple[Any, Any, Any, Any]] = {}
_lock = threading.Lock()


def _api_installed() -> bool:
    global _installed
    if _installed is None:
        _installed = importlib.util.find_spec("opentelemetry") is not None and (
            importlib.util.find_spec("opentelemetry.trace") is not None
        )
    return _installed


def _configured(providers: Telemetry) -> tuple[Any, Any] | None:
    """The tracer and meter providers to use, or None when neither would record anything."""
    from opentelemetry import metrics, trace

    tracer_provider = providers.tracer_provider or trace.get_tracer_provider()
    meter_provider = providers.meter_provider or metrics.get_meter_provider()
    # The API's own proxies with nothing behind them (no SDK configured yet) record nothing.
    if isinstance(tracer_provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider)) and not _has_delegate(
        trace, "_TRACER_PROVIDER"
    ):
        tracer_provider = None
    if isinstance(meter_provider, metrics.NoOpMeterProvider) or (
        type(meter_provider).__name__ == "_ProxyMeterProvider" and not _has_delegate(metrics, "_METER_PROVIDER")
    ):
        meter_provider = None
    if tracer_provider is None and meter_provider is None:
        return None
    return tracer_provider, meter_provider


def _has_delegate(module: Any, name: str) -> bool:
    internal = getattr(module, "_internal", module)
    return getattr(internal, name, getattr(module, name, True)) is not None


def _instruments_of(meter_provider: Any) -> tuple[Any, Any, Any, Any]:
    key = id(meter_provider)
    with _lock:
        found = _instruments.get(key)
        if found is None:
            meter = meter_provider.get_meter(_SCOPE)
            found = (
                meter.create_histogram(
                    "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration.",
                    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
                ),
                meter.create_histogram(
                    "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used.",
                    explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
                ),
                meter.create_histogram(
                    "gen_ai.client.operation.time_to_first_chunk", unit="s",
                    description="Time to receive the first chunk of a streamed response.",
                    explicit_bucket_boundaries_advisory=_SECONDS_BUCKETS,
                ),
                meter.create_histogram(
                    "gen_ai.client.operation.time_per_output_chunk", unit="s",
                    description="Time between consecutive output chunks of a streamed response.",
                    explicit_bucket_boundaries_advisory=_CHUNK_BUCKETS,
                ),
            )
            _instruments[key] = found
        return found


def capture_mode() -> tuple[bool, bool]:
    """(content on the span, content as an event) from ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``.

    ``true`` captures on the span; under ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``
    the values ``SPAN_ONLY``, ``EVENT_ONLY`` and ``SPAN_AND_EVENT`` choose where it goes.
    """
    value = os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower()
    latest = "gen_ai_latest_experimental" in os.environ.get("OTEL_SEMCONV_STABILITY_OPT_IN", "").lower()
    if value == "true":
        return True, False
    if not latest:
        return False, False
    return value in ("span_only", "span_and_event"), value in ("event_only", "span_and_event")


def server_of(provider: str, base_url: str | None) -> tuple[str | None, int | None]:
    """``server.address`` / ``server.port``; userinfo in a base URL is never read."""
    if base_url:
        parts = urlsplit(base_url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if port is None:
            port = 443 if parts.scheme == "https" else 80 if parts.scheme == "http" else None
        return parts.hostname, port
    host = _DEFAULT_HOSTS.get(provider)
    return host, (443 if host else None)


def begin(
    *,
    provider: str,
    model: str,
    base_url: str | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    messages: Any = None,
    cache_hit: bool = False,
    providers: Telemetry | None = None,
) -> StreamTelemetry | None:
    """Start the span of one stream; ``None`` when nothing would be recorded."""
    if not _api_installed():
        return None
    found = _configured(providers or Telemetry())
    if found is None:
        return None
    tracer_provider, meter_provider = found
    operation = "generate_content" if provider in ("gemini", "vertex") else "chat"
    common: dict[str, Any] = {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": PROVIDER_NAMES.get(provider, provider),
        "gen_ai.request.model": model,
    }
    address, port = server_of(provider, base_url)
    if address:
        common["server.address"] = address
    if port:
        common["server.port"] = port
    span = None
    if tracer_provider is not None:
        from opentelemetry import trace

        attributes: dict[str, Any] = {**common, "gen_ai.request.stream": True}
        if max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = max_tokens
        if temperature is not None:
            attributes["gen_ai.request.temperature"] = temperature
        if cache_hit:
            attributes["llmstream.cache_hit"] = True
        tracer = tracer_provider.get_tracer(_SCOPE)
        span = tracer.start_span(f"{operation} {model}", kind=trace.SpanKind.CLIENT, attributes=attributes)
    instruments = _instruments_of(meter_provider) if meter_provider is not None else None
    on_span, as_event = capture_mode()
    if span is not None and (on_span or as_event) and messages is not None:
        _capture(span, "gen_ai.input.messages", input_messages(messages), on_span, as_event)
    return StreamTelemetry(span, instruments, common, cache_hit, (on_span, as_event))


class StreamTelemetry:
    """The span and metric state of one stream. Every method is cheap; :meth:`end` runs once."""

    __slots__ = ("_capture", "_common", "_ended", "_first", "_instruments", "_last", "_lock", "_started", "cache_hit",
                 "span")

    def __init__(
        self, span: Any, instruments: tuple[Any, Any, Any, Any] | None, common: dict[str, Any], cache_hit: bool,
        capture: tuple[bool, bool],
    ) -> None:
        self.span = span
        self._instruments = instruments
        self._common = common
        self.cache_hit = cache_hit
        self._capture = capture
        self._started = time.perf_counter()
        self._first: float | None = None
        self._last = 0.0
        self._ended = False
        self._lock = threading.Lock()

    def chunk(self, chunk: StreamedChunk) -> None:
        """A chunk reached the caller: the first one's latency, then the gaps between output chunks."""
        if chunk.type not in CONTENT_TYPES:
            return
        now = time.perf_counter()
        if self._first is None:
            self._first = now
        elif self._instruments is not None:
            self._instruments[3].record(now - self._last, self._common)
        self._last = now

    def retry(self, error: BaseException, delay: float, attempt: int) -> None:
        if self.span is not None:
            self.span.add_event(
                "llmstream.retry",
                {
                    "error.type": type(error).__name__,
                    "llmstream.retry.delay": delay,
                    "llmstream.retry.attempt": attempt,
                },
            )

    def end(
        self, completion: Completion | None, error: BaseException | None = None, *, cancelled: bool = False
    ) -> None:
        """Close the span and record the metrics: exactly once, whatever calls it first."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
        duration = time.perf_counter() - self._started
        attributes = dict(self._common)
        if completion is not None and completion.model:
            attributes["gen_ai.response.model"] = completion.model
        if error is not None:
            attributes["error.type"] = type(error).__name__
        span = self.span
        if span is not None:
            self._end_span(span, completion, error, cancelled)
        instruments = self._instruments
        if instruments is not None:
            instruments[0].record(duration, attributes)
            if self._first is not None:
                instruments[2].record(self._first - self._started, attributes)
            usage = completion.usage if completion is not None else None
            if usage is not None and not self.cache_hit:
                instruments[1].record(usage.input_tokens, {**attributes, "gen_ai.token.type": "input"})
                instruments[1].record(usage.output_tokens, {**attributes, "gen_ai.token.type": "output"})

    def _end_span(self, span: Any, completion: Completion | None, error: BaseException | None, cancelled: bool) -> None:
        from opentelemetry.trace import Status, StatusCode

        values: dict[str, Any] = {}
        if completion is not None:
            if completion.id:
                values["gen_ai.response.id"] = completion.id
            if completion.model:
                values["gen_ai.response.model"] = completion.model
            reason = "cancelled" if cancelled else completion.finish_reason
            if reason is not None:
                values["gen_ai.response.finish_reasons"] = (str(reason),)
            usage = completion.usage
            if usage is not None and not self.cache_hit:
                values["gen_ai.usage.input_tokens"] = usage.input_tokens
                values["gen_ai.usage.output_tokens"] = usage.output_tokens
                values["gen_ai.usage.cache_read.input_tokens"] = usage.cached_input_tokens
                values["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write_tokens
                values["gen_ai.usage.reasoning.output_tokens"] = usage.reasoning_tokens
            on_span, as_event = self._capture
            if on_span or as_event:
                _capture(span, "gen_ai.output.messages", output_messages(completion), on_span, as_event)
        if self._first is not None:
            values["gen_ai.response.time_to_first_chunk"] = self._first - self._started
        if cancelled:
            values["llmstream.cancelled"] = True
        span.set_attributes(values)
        if error is not None:
            span.set_attribute("error.type", type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()


def _capture(span: Any, name: str, value: list[dict[str, Any]], on_span: bool, as_event: bool) -> None:
    text = json.dumps(value, ensure_ascii=False, default=str)
    if on_span:
        span.set_attribute(name, text)
    if as_event:
        span.add_event("gen_ai.client.inference.operation.details", {name: text})


def input_messages(conversation: Any) -> list[dict[str, Any]]:
    """A Conversation in the conventions' message shape (role + parts); text content only."""
    out: list[dict[str, Any]] = []
    for message in getattr(conversation, "messages", ()):
        parts: list[dict[str, Any]] = []
        content = message.content
        if isinstance(content, str):
            if content:
                parts.append({"type": "text", "content": content})
        else:
            for part in content or ():
                text = getattr(part, "text", None)
                parts.append({"type": "text", "content": text} if text else {"type": type(part).__name__.lower()})
        for call in getattr(message, "tool_calls", None) or ():
            parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
        if message.role == "tool":
            parts = [{"type": "tool_call_response", "id": message.tool_call_id, "response": message.content}]
        out.append({"role": message.role, "parts": parts})
    return out


def output_messages(completion: Completion) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if completion.reasoning:
        parts.append({"type": "reasoning", "content": completion.reasoning})
    if completion.text:
        parts.append({"type": "text", "content": completion.text})
    for call in completion.tool_calls:
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    message: Mapping[str, Any] = {
        "role": "assistant",
        "parts": parts,
        "finish_reason": str(completion.finish_reason) if completion.finish_reason else None,
    }
    return [dict(message)]
