"""The Gemini wire's body decoded by llmstream (``GeminiClient(sdk_models=False)``): SSE bytes → one
dict per event, for ``_gemini_dicts.GeminiDictTranslator``.

Gemini writes every event as one ``data: {json}`` line and a blank line (``\\r\\n\\r\\n``). A network read
that holds only whole events of that shape, with the SSE decoder holding nothing, is split at the
blank lines and each payload parsed once (``json.loads``), skipping the general decoder's per-line
work; anything else (a comment, a field, a multi-line event, an event cut by the read, the stream's
first read, a payload that is not UTF-8 JSON) goes through :class:`~llmstream.sse.SSEDecoder` from
that point on, so both lanes read every body exactly alike. At the end of the body an event still
open is completed, as google-genai's own reader does (it parses a last ``data:`` line without its
blank line).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from .._errors import MalformedStreamError
from .._guard import DEFAULT_MAX_EVENT_BYTES
from .._transport import ResponseEvents
from ..sse import SSEDecoder
from ._json_scan import scan as _SCAN

__all__ = ["GeminiEventParser", "GeminiEventResponse"]

_DATA = b"data: "
_CRLF2, _LF2 = b"\r\n\r\n", b"\n\n"
_CLEAN_ENDS = (_CRLF2, _LF2)  # a read ending so leaves the decoder holding nothing


class GeminiEventParser:
    """Sans-IO: body bytes in, one parsed JSON value per SSE ``data`` event out."""

    __slots__ = ("_clean", "_decoder", "_max", "events", "provider")

    def __init__(self, provider: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._decoder = SSEDecoder(max_line_bytes=max_event_bytes, max_event_bytes=max_event_bytes)
        self._max = max_event_bytes
        self._clean = False  # the decoder holds nothing (and has seen the body's start: its BOM rule)
        self.provider = provider
        self.events = 0

    def feed(self, data: bytes) -> list[Any]:
        if self._clean and data[:6] == _DATA and len(data) <= self._max:
            sep = _CRLF2 if data.endswith(_CRLF2) else _LF2 if data.endswith(_LF2) else None
            if sep is not None:
                try:
                    body = data.decode()
                except ValueError:  # not UTF-8: the decoder's replacement characters
                    return self._decoded(data)
                out: list[Any] = []
                separator = sep.decode()
                blocks = body.split(separator)
                blocks.pop()  # the empty piece after the last separator
                scan, append = _SCAN, out.append
                for block in blocks:
                    if block[:6] != "data: " or "\n" in block or "\r" in block:
                        break
                    try:
                        value, end = scan(block, 6)  # the payload, parsed in place
                    except (ValueError, StopIteration):  # not JSON: the decoder's way (and its error)
                        break
                    if end != len(block):
                        break
                    append(value)
                else:
                    self.events += len(out)
                    return out
                self.events += len(out)  # the checks depend on the content only: index() finds this block
                rest = separator.join(blocks[blocks.index(block):]) + separator
                return out + self._decoded(rest.encode())
        return self._decoded(data)

    def close(self) -> list[Any]:
        """The body ended: an event still open is completed (google-genai reads it too)."""
        return self._decoded(_LF2)

    def _decoded(self, data: bytes) -> list[Any]:
        out = []
        for event in self._decoder.feed(data):
            self.events += 1
            payload = event.data
            try:
                out.append(json.loads(payload))
            except ValueError as exc:
                shown = payload if len(payload) <= 120 else payload[:120] + "…"
                raise MalformedStreamError(
                    f"event {self.events} is not JSON ({exc}): {shown!r}", provider=self.provider
                ) from exc
        self._clean = data.endswith(_CLEAN_ENDS)
        return out


class GeminiEventResponse(ResponseEvents):
    """A native stream: an open httpx2 response yielding event dicts (``close``/``cancel`` as the SDKs')."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Any]:
        parser = GeminiEventParser(self.provider, self.max_event_bytes)
        feed = parser.feed
        for data in self.response.iter_bytes():
            yield from feed(data)
        yield from parser.close()

    async def _aiter(self) -> AsyncIterator[Any]:
        parser = GeminiEventParser(self.provider, self.max_event_bytes)
        feed = parser.feed
        async for data in self.response.aiter_bytes():
            for event in feed(data):
                yield event
        for event in parser.close():
            yield event

