"""A sans-IO decoder for ``text/event-stream`` that follows the WHATWG "event stream interpretation".

Feed it the raw bytes of a response body as they arrive, in chunks of any size; it returns the events
completed so far. It never does I/O, so one decoder serves sync and async transports alike.

Rules worth explaining (https://html.spec.whatwg.org/multipage/server-sent-events.html):

* Lines end at CR, LF or CRLF and nowhere else. A chunk can end between the CR and the LF of a CRLF, so
  a trailing CR is remembered and an LF that starts the next chunk is skipped; otherwise the split pair
  would read as two line ends, i.e. a spurious blank line that dispatches an event early. Lines are cut
  on *bytes* (``bytes.splitlines`` knows only CR, LF and CRLF), never on decoded text: ``str.splitlines``
  would also break at U+2028, U+2029, U+0085 and friends, which are legitimate characters in data.
* The stream is always UTF-8, decoded with replacement. CR and LF are ASCII and never occur inside a
  multi-byte sequence, so decoding each complete line on its own is exactly equivalent to decoding the
  whole stream at once, even when a character was split across chunks (its bytes wait in the buffer).
* A UTF-8 BOM is dropped once, at the very start of the stream (the spec's UTF-8 decode does so); a
  BOM anywhere else is an ordinary U+FEFF. Its three bytes hold no line end, so it is stripped from the
  first complete line, which also covers a BOM that arrives split across chunks.
* ``name:value`` loses exactly one space after the colon, so ``data:x`` and ``data: x`` are the same and
  ``data:  x`` keeps one space. A line without a colon is a field with an empty value; a line starting
  with a colon is a comment (providers send ``: keep-alive`` or ``: OPENROUTER PROCESSING``).
* Each ``data`` line adds its value and an LF to the data buffer; one trailing LF is removed at dispatch,
  so ``data`` alone yields ``""`` and two lines yield ``"\\n"``. A blank line with an empty data buffer
  (no ``data`` line at all) dispatches nothing, it only resets the event type (and retry).
* ``id`` values containing NUL are ignored (they could not be sent back in a header). The id persists
  across events: every event carries the id in effect when it was dispatched. ``last_event_id`` is the
  one committed by the last blank line, as the spec's "last event ID string", which a reconnect sends.
* ``retry`` is accepted only when it is all ASCII digits; it is reported on the event being built and
  forgotten at the next blank line. Unknown fields are ignored.
* At end of stream an event without its closing blank line is dropped, and so is a partial last line:
  the spec treats them as truncated. ``flush`` therefore returns ``[]``; it resets the per-stream state
  (keeping ``last_event_id``) so that the decoder can read the stream of a reconnection.
* Untrusted input must not grow memory without bound: a line longer than ``max_line_bytes`` or an event
  whose data buffer exceeds ``max_event_bytes`` (UTF-8 bytes, LFs included) raises
  :class:`MalformedStreamError`, whatever the chunking. The decoder should be discarded afterwards.

Cost is linear in the input: only the unterminated tail is buffered, as a list of chunks joined once its
line ends, and the common path is ``bytes.find``/``splitlines``/``partition``, with no per-character loop.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from ._errors import MalformedStreamError

__all__ = ["SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"
_CR = 0x0D
_LF = 0x0A
_COLON = 0x3A


@attrs.frozen(slots=True)
class ServerSentEvent:
    """One dispatched event; ``id`` is the last event ID in effect when it was dispatched."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None

    def json(self) -> Any:
        """The data parsed as JSON (raises :class:`json.JSONDecodeError` if it is not JSON)."""
        return json.loads(self.data)


class SSEDecoder:
    """Incremental, chunking-independent event-stream decoder: ``feed`` bytes, ``flush`` at EOF."""

    def __init__(self, max_line_bytes: int = 1 << 20, max_event_bytes: int = 16 << 20) -> None:
        if max_line_bytes <= 0 or max_event_bytes <= 0:
            raise ValueError("max_line_bytes and max_event_bytes must be positive")
        self.max_line_bytes = max_line_bytes
        self.max_event_bytes = max_event_bytes
        # feed_data's fast path: no line and no event in a chunk this size can be too long.
        self._fast_limit = min(max_line_bytes, max_event_bytes) - 2
        self._last_event_id = ""  # committed at each blank line (the spec's "last event ID string")
        self._reset_stream()

    def _reset_stream(self) -> None:
        self._tail: list[bytes] = []  # chunks of the current unterminated line
        self._tail_len = 0
        self._pending_cr = False  # the previous chunk ended with CR: skip an LF that starts the next
        self._at_start = True  # no complete line yet: a BOM may still have to be dropped
        self._id_buffer = self._last_event_id
        self._reset_event()

    def _reset_event(self) -> None:
        self._event_type = ""
        self._data: list[str] = []  # data lines; joined with LF == "value + LF each, minus the last LF"
        self._data_bytes = 0
        self._retry: int | None = None

    @property
    def last_event_id(self) -> str:
        """The last event ID, kept across events (and across ``flush``, for a reconnect)."""
        return self._last_event_id

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Consume the next chunk of the body; return the events it completed, in order."""
        if not data:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if data[0] == _LF:
                data = data[1:]
                if not data:
                    return []
        if data.find(b"\n") < 0 and data.find(b"\r") < 0:
            self._tail.append(data)
            self._tail_len += len(data)
            if self._tail_len > self.max_line_bytes:
                self._line_too_long(self._tail_len)
            return []
        if self._tail:
            self._tail.append(data)
            data = b"".join(self._tail)
            self._tail = []
            self._tail_len = 0
        lines = data.splitlines()
        last = data[-1]
        if last == _CR:
            self._pending_cr = True
        elif last != _LF:
            rest = lines.pop()
            self._tail.append(rest)
            self._tail_len = len(rest)
        if len(data) > self.max_line_bytes:  # only then can a line be too long
            for line in lines:
                if len(line) > self.max_line_bytes:
                    self._line_too_long(len(line))
            if self._tail_len > self.max_line_bytes:
                self._line_too_long(self._tail_len)
        if self._at_start and lines:
            self._at_start = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][3:]
        return self._process(lines)

    def feed_data(self, data: bytes) -> list[str]:
        """``feed`` for a consumer of the data alone: the ``data`` of each event it completed, in order.

        Exactly ``[event.data for event in self.feed(data)]``, with the same state afterwards. The
        common case (a chunk of whole events, each one ``data:`` line, LF or CRLF line ends, ending with
        a blank line, arriving with nothing buffered) is cut on the blank lines at once, without the
        line-by-line interpretation; anything else goes through :meth:`feed`.
        """
        if self._tail or self._pending_cr or self._data or self._at_start or len(data) > self._fast_limit:
            return [event.data for event in self.feed(data)]
        lines = data
        if b"\r" in data:
            # CRLF → LF keeps every line end where it was; a lone CR (a line end too) takes the slow way.
            if data.count(b"\r") != data.count(b"\r\n"):
                return [event.data for event in self.feed(data)]
            lines = data.replace(b"\r\n", b"\n")
        if lines[-2:] != b"\n\n":
            return [event.data for event in self.feed(data)]
        out: list[str] = []
        for block in lines[:-2].split(b"\n\n"):
            # One ``data`` line per event is the common case; a block with more lines (or none) is
            # read line by line, as ``feed`` would, ending at its blank line.
            if block[:6] == b"data: " and block.find(b"\n") < 0:
                out.append(block[6:].decode("utf-8", "replace"))
            elif block[:5] == b"data:" and block.find(b"\n") < 0:
                out.append(block[5:].decode("utf-8", "replace"))
            elif block[:6] == b"event:" and (line := block.find(b"\n")) > 0 and block.find(b"\n", line + 1) < 0 and (
                block[line + 1 : line + 6] == b"data:"
            ):
                # ``event: <name>`` then one ``data`` line (the Responses and Anthropic wires): the name
                # is the event's type, reset at the blank line, so the data alone is the result.
                start = line + 7 if block[line + 6 : line + 7] == b" " else line + 6
                out.append(block[start:].decode("utf-8", "replace"))
            else:
                self._last_event_id = self._id_buffer
                out += [event.data for event in self._process([*block.split(b"\n"), b""])]
        # Every block ended at a blank line: the event state is reset, the id committed.
        self._last_event_id = self._id_buffer
        self._event_type = ""
        self._retry = None
        return out

    def flush(self) -> list[ServerSentEvent]:
        """End of stream: drop the partial last line and the undispatched event, reset, return ``[]``."""
        self._reset_stream()
        return []

    def _process(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        for raw in lines:
            if not raw:  # blank line: dispatch
                self._last_event_id = self._id_buffer
                if self._data:
                    events.append(ServerSentEvent(
                        event=self._event_type or "message", data="\n".join(self._data),
                        id=self._id_buffer, retry=self._retry,
                    ))
                self._reset_event()
                continue
            if raw[0] == _COLON:  # comment
                continue
            line = raw.decode("utf-8", "replace")
            name, _, value = line.partition(":")
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                # What precedes the value is ASCII (1 char == 1 byte): the rest of raw is the value's size.
                self._data_bytes += len(raw) - (len(line) - len(value)) + 1  # + 1 for the LF
                if self._data_bytes > self.max_event_bytes:
                    self._reset_event()
                    raise MalformedStreamError(
                        f"server-sent event data exceeds max_event_bytes={self.max_event_bytes} bytes"
                    )
                self._data.append(value)
            elif name == "event":
                self._event_type = value
            elif name == "id":
                if "\0" not in value:
                    self._id_buffer = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self._retry = int(value)
        return events

    def _line_too_long(self, size: int) -> None:
        self._tail = []
        self._tail_len = 0
        raise MalformedStreamError(
            f"server-sent event line exceeds max_line_bytes={self.max_line_bytes} "
            f"({size} bytes without a line end)"
        )
