"""The Anthropic Messages wire decoded by llmstream itself (``AnthropicClient(sdk_models=False)``).

The anthropic SDK still builds and sends the request, authenticates and raises its HTTP errors; the
body is read here: llmstream's SSE decoder, one ``json.loads`` per event, and a translator that reads
the plain dicts. Events are filtered exactly as the SDK's ``Stream`` does: ``ping`` and events without
an ``event:`` name are skipped, an ``event: error`` is the SDK's in-band error (an ``InBandError``
here, with the same message, code and body), an event with empty data is skipped, and the body is
read to its end (the SDK also reads past ``message_stop``).

Blocks, signatures, tool calls, server tools, usage and the finish are the SDK-model translator's
(:class:`~llmstream.providers._anthropic_events.AnthropicTranslator`, whose shared methods read SDK models
and dicts alike); only the dispatch on the event and the hot deltas are read from the dicts here.
``chunk.raw`` is then the event's dict (the SDK path: its ``RawMessageStreamEvent`` model).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._errors import InBandError, LLMStreamError, MalformedStreamError
from .._guard import DEFAULT_MAX_EVENT_BYTES
from .._hot_values import text_chunk
from .._transport import ResponseEvents
from .._types import ChunkType, StreamedChunk
from ..sse import SSEDecoder
from ._anthropic_events import AnthropicTranslator, in_band_error
from ._json_scan import scan as _scan
from ._server_tools import AnthropicServerTools

__all__ = ["AnthropicEventParser", "AnthropicEventResponse", "AnthropicEventTranslator"]

_REASONING = ChunkType.REASONING
_NO_CHUNKS: tuple[StreamedChunk, ...] = ()
#: Event names the SDK's ``Stream`` skips: ``ping``, and ``message`` (what the WHATWG decoder names
#: an event without an ``event:`` line; the SDK's decoder leaves it None and skips it).
_SKIPPED = frozenset({"ping", "message"})


class AnthropicEventTranslator(AnthropicTranslator):
    """Anthropic stream-event dicts → StreamedChunks; the same chunks as the SDK-model translator."""

    __slots__ = ()

    def translate(self, event: Any) -> tuple[StreamedChunk, ...] | list[StreamedChunk]:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta")
            if delta is None:
                return _NO_CHUNKS
            delta_kind = delta.get("type")
            # The hot path: one text fragment, no copies.
            if delta_kind == "text_delta":
                text = delta.get("text")
                return (text_chunk(text, event),) if text else _NO_CHUNKS
            if delta_kind == "input_json_delta":
                return self._input_json(event.get("index"), delta.get("partial_json"), event)  # type: ignore[arg-type]
            if delta_kind == "thinking_delta":
                thinking = delta.get("thinking")
                return (StreamedChunk(_REASONING, thinking, raw=event),) if thinking else _NO_CHUNKS
            if delta_kind == "signature_delta":
                return self._signature(event.get("index"), delta.get("signature"), event)  # type: ignore[arg-type]
            if delta_kind == "citations_delta":
                return (AnthropicServerTools.citation(delta, event),)
            return _NO_CHUNKS  # unknown deltas are ignored
        if kind == "content_block_start":
            return self._block_start(event.get("index"), event.get("content_block"), event)  # type: ignore[arg-type]
        if kind == "content_block_stop":
            return self._block_stop(event.get("index"), event)  # type: ignore[arg-type]
        if kind == "message_delta":
            return self._message_delta(event.get("usage"), event.get("delta"), event)
        if kind == "message_start":
            return self._message_start(event.get("message"), event)
        if kind == "error":  # an error object under another event name: as the SDK-model translator
            return (StreamedChunk(ChunkType.ERROR, error=in_band_error(event.get("error")), raw=event),)
        if kind == "message_stop":
            self._stopped = True
        return _NO_CHUNKS  # message_stop, and event types newer than this code

    @staticmethod
    def _server_block(block: Any) -> Any:
        """What the SDK path hands on, ``model_dump(exclude_none=True)``: the block without its nulls
        (web search results carry ``"page_age": null``), so the server-tool events compare equal."""
        return _without_nulls(block)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class AnthropicEventParser:
    """Sans-IO: body bytes in, one dict per Anthropic stream event out.

    An error (an ``event: error``, or an event that is not JSON) is kept in :attr:`error` and stops the
    parsing, so that the events decoded before it in the same read are still handed out first.

    The frames Anthropic sends are all ``event: <name>\ndata: <json>\n\n``; complete frames of exactly
    that shape are split here with a few ``bytes`` operations, and everything else (CRs, comments, ids,
    several ``data`` lines, a frame cut across reads, the start of the body with its BOM) goes through
    the WHATWG decoder (:class:`~llmstream.sse.SSEDecoder`). The split happens only where the decoder
    holds nothing (after a blank line), so both read the same events from any chunking.
    """

    __slots__ = ("_decoder", "_fast", "_idle", "_limit", "error", "events", "provider")

    def __init__(self, provider: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        # One knob: a line may be as long as an event.
        self._decoder = SSEDecoder(max_line_bytes=max_event_bytes, max_event_bytes=max_event_bytes)
        self._limit = max_event_bytes
        self._fast = True  # False once a CR was seen: the decoder then reads everything
        self._idle = False  # the decoder holds no partial line or event (never before the first frame)
        self.provider = provider
        self.events = 0
        self.error: LLMStreamError | None = None

    def feed(self, data: bytes) -> list[Any]:
        out: list[Any] = []
        if not self._fast or b"\r" in data:
            self._fast = False
            self._decoded(data, out)
            return out
        if not self._idle:
            end = data.find(b"\n\n")
            if end < 0:
                self._decoded(data, out)
                return out
            end += 2
            self._decoded(data[:end], out)  # the decoder's pending event ends here: it is idle again
            self._idle = True
            if self.error is not None:
                return out
            data = data[end:]
        end = data.rfind(b"\n\n") + 2
        if end == 1:  # no blank line: a frame cut by the read, kept by the decoder
            if data:
                self._decoded(data, out)
                self._idle = False
            return out
        self._split(data[:end] if end < len(data) else data, out)
        if end < len(data) and self.error is None:  # the rest: a frame cut by the read
            self._decoded(data[end:], out)
            self._idle = False
        return out

    def _split(self, frames: bytes, out: list[Any]) -> None:
        """Complete frames (``frames`` ends with a blank line; the decoder is idle)."""
        if len(frames) > self._limit:
            self._decoded(frames, out)  # the decoder enforces the bound
            return
        start = 0
        size = len(frames)
        while start < size:
            end = frames.find(b"\n\n", start)
            data_at = frames.find(b"\ndata: ", start, end) if end >= 0 else -1
            if (
                data_at < 0
                or not frames.startswith(b"event: ", start)
                or frames.find(b"\n", data_at + 1, end) >= 0
            ):
                self._decoded(frames[start:], out)  # any other shape: the decoder reads the rest
                return
            name = frames[start + 7 : data_at]
            payload = frames[data_at + 7 : end].decode("utf-8", "replace")
            start = end + 2
            if name == b"ping" or not payload:
                continue
            if name == b"error":
                self.error = _error_event(payload, self.provider)
                return
            if not self._event(payload, out):
                return

    def _decoded(self, data: bytes, out: list[Any]) -> None:
        for event in self._decoder.feed(data):
            name = event.event
            if name in _SKIPPED:
                continue
            payload = event.data
            if name == "error":
                self.error = _error_event(payload, self.provider)
                return
            if payload and not self._event(payload, out):
                return

    def _event(self, payload: str, out: list[Any]) -> bool:
        self.events += 1
        try:
            value, end = _scan(payload, 0)
            if end != len(payload):
                value = json.loads(payload)  # trailing whitespace, or the error for trailing data
        except (StopIteration, ValueError):
            try:
                value = json.loads(payload)  # leading whitespace, or the error message
            except ValueError as exc:
                shown = payload if len(payload) <= 120 else payload[:120] + "…"
                self.error = MalformedStreamError(
                    f"event {self.events} is not JSON ({exc}): {shown!r}", provider=self.provider
                )
                self.error.__cause__ = exc
                return False
        out.append(value)
        return True




def _error_event(payload: str, provider: str) -> InBandError:
    """``event: error`` as the SDK path reports it (``map_anthropic_error`` of the SDK's status error):
    ``"<type>: <message>"`` from a JSON body, else the data itself as the message."""
    try:
        body: Any = json.loads(payload)
        fallback = f"{body}"
    except ValueError:
        body, fallback = payload, payload or "Error code: 200"
    inner = body.get("error") if isinstance(body, dict) else None
    error = in_band_error(inner, body, fallback)
    error.provider = provider
    return error


class AnthropicEventResponse(ResponseEvents):
    """A native stream: an open httpx2 response yielding decoded event dicts (``close``/``cancel`` as the SDK's)."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        parser = AnthropicEventParser(self.provider, self.max_event_bytes)
        for data in self.response.iter_bytes():
            yield from parser.feed(data)
            if parser.error is not None:
                raise parser.error

    async def _aiter(self) -> AsyncIterator[Any]:
        parser = AnthropicEventParser(self.provider, self.max_event_bytes)
        async for data in self.response.aiter_bytes():
            for event in parser.feed(data):
                yield event
            if parser.error is not None:
                raise parser.error
