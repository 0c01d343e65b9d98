"""Bounds and normalization below the vendor SDKs' own SSE decoders.

The SDK decoders buffer a line (or an event) until it ends, so a server that never ends one grows
memory without bound (and anthropic's decoder is quadratic in the line's length). A ``ByteGuard``
sits on the byte stream the SDK reads, as an httpx2 transport wrapper (:class:`GuardTransport`):

- a line or an event longer than ``max_event_bytes`` raises ``MalformedStreamError`` at once;
- a UTF-8 byte-order mark at the start of the body is dropped (the SSE standard says to ignore it;
  the openai SDK otherwise loses the first event);
- with ``normalize_sse`` (google-genai, whose reader treats every line that is not ``data: …`` as raw
  JSON), comment lines and ``event:``/``id:``/``retry:`` fields are dropped and ``data:x`` becomes
  ``data: x``, as the standard reads them;
- on a stream's own request (:func:`stream_request`, or the :data:`LIMIT_EXTENSION` of the request),
  the stream's ``max_event_bytes`` is the bound (a per-call value too), and a body that ends without a
  single ``data:`` line (HTML, a plain JSON object, nothing) raises ``MalformedStreamError`` saying what
  arrived: a 200 that is no event stream is never an empty success. Whether ``data: [DONE]`` went by
  is kept (:func:`saw_done`) for the OpenAI chat wire, whose SDK swallows it.

The common case costs a few ``bytes.rfind`` calls per network read, no copy.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ._errors import MalformedStreamError

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES", "LIMIT_EXTENSION", "AsyncGuardTransport", "ByteGuard", "GuardTransport", "saw_done",
    "stream_request", "unguard",
]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
#: An httpx2 request extension naming the stream's ``max_event_bytes`` (for requests a vendor SDK sends
#: outside :func:`stream_request`, e.g. google-genai's on the first iteration); it also marks a stream request.
LIMIT_EXTENSION = "llmstream.max_event_bytes"
_GUARD_EXTENSION = "llmstream.guard"
_BOM = b"\xef\xbb\xbf"
_FIELDS_DROPPED = (b"event:", b"id:", b"retry:")
_BLANK_LINES = (b"\n\n", b"\r\r", b"\r\n\r\n")
_DATA_LINE = re.compile(rb"[\r\n]data:")
_DONE_LINE = re.compile(rb"[\r\n]data: ?\[DONE\]")
_ABNORMAL_LINE = re.compile(rb"^(?!data: |\r?$)", re.MULTILINE)  # a line normalize mode would change
_HEAD = 120  # bytes of a body that is no event stream shown in the error

#: The ``max_event_bytes`` of the stream whose request is being sent (None: not a stream's request).
_STREAM_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("llmstream_stream_limit", default=None)


@contextlib.contextmanager
def stream_request(max_event_bytes: int) -> Iterator[None]:
    """Requests sent inside this block are a stream's: bounded by its ``max_event_bytes``, checked to be SSE."""
    token = _STREAM_LIMIT.set(max_event_bytes)
    try:
        yield
    finally:
        _STREAM_LIMIT.reset(token)


def saw_done(response: Any) -> bool:
    """Whether the body of ``response`` carried a ``data: [DONE]`` line; True when no guard watched it
    (a custom transport, a compressed body): what cannot be known is not held against the server."""
    guard = (getattr(response, "extensions", None) or {}).get(_GUARD_EXTENSION)
    return True if guard is None or not guard.strict or not guard.watch_done else guard.done


class ByteGuard:
    """Sans-IO: ``feed(bytes) -> bytes`` passes the body on, bounded; ``flush()`` at its end.

    ``strict`` (a stream's own response): the body must hold a ``data:`` line; ``done`` tells whether
    a ``data: [DONE]`` line went by.
    """

    __slots__ = (
        "_at_start", "_content_type", "_event", "_head", "_line", "_max", "_normalize", "_pending", "_recent",
        "_size", "_tail", "_watching", "done", "seen_data", "strict", "watch_done",
    )

    def __init__(
        self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES, *, normalize_sse: bool = False, strict: bool = False,
        content_type: str = "", watch_done: bool = True,
    ) -> None:
        self._max = max_event_bytes
        self._normalize = normalize_sse
        self.strict = strict
        self.watch_done = watch_done  # only the chat-completions wire ends with ``data: [DONE]``
        self._watching = strict  # reads still to be watched: until the first data line (and [DONE])
        self._content_type = content_type
        self.seen_data = False
        self.done = False
        self._recent = b"\n"  # the end of the last read (a body starts at a line start)
        self._head = b""
        self._size = 0
        self._at_start = True
        self._line = 0  # bytes of the line still open
        self._event = 0  # bytes since the last blank line
        self._tail = b""  # the last bytes seen, to find a blank line split across reads
        self._pending = b""  # normalize mode: the open line, held until it ends

    def feed(self, data: bytes) -> bytes:
        if self._at_start:
            data = self._strip_bom(data)
            if not data:
                return b""
        size = len(data)
        if not self._line and 3 <= size <= self._max and data.endswith(_BLANK_LINES):
            # The common read: whole events after a line end, ending at a blank line. No line in it
            # can be too long (it is not), and nothing is open after it.
            self._event = 0
            self._tail = data[-3:]
        else:
            self._measure(data)
        if self._watching:
            self._watch(data)
        if self._normalize:
            return self._normalized(data)
        return data

    def flush(self) -> bytes:
        if self._at_start:  # a body shorter than a BOM: what was held is the body
            self._at_start = False
            held, self._tail = self._tail, b""
            if self.strict:
                self._watch(held)
                self._not_events()
            return held
        if self.strict:
            self._not_events()
        if self._normalize and self._pending:
            line, self._pending = self._pending, b""
            return self._normalize_line(line)
        return b""

    def _watch(self, data: bytes) -> None:
        """Strict mode, per read until there is nothing left to learn: a ``data:`` line (until the first),
        ``data: [DONE]`` (on the chat-completions wire), the first bytes."""
        if self.seen_data:
            # The usual read: only ``data: [DONE]`` is still looked for, by a byte search first. A
            # ``[DONE]`` line cut by the read ends in this one within its first 13 bytes (``data: [DONE]``
            # is 12), where the regex then looks across the cut.
            if (b"[DONE]" in data and _DONE_LINE.search(data)) or (
                data.find(b"]", 0, 13) >= 0 and _DONE_LINE.search(self._recent + data[:16])
            ):
                self.done = True
                self._watching = False
            self._recent = data[-16:] if len(data) >= 16 else (self._recent + data)[-16:]
            return
        if self._size < _HEAD:
            self._head += data[: _HEAD - self._size]
        self._size += len(data)
        across = self._recent + data[:16]  # a line start split across two reads
        if _DATA_LINE.search(across) or _DATA_LINE.search(data):
            self.seen_data = True
        if _DONE_LINE.search(across) or (b"[DONE]" in data and _DONE_LINE.search(data)):
            self.done = True
        self._recent = data[-16:] if len(data) >= 16 else (self._recent + data)[-16:]
        if self.seen_data and (self.done or not self.watch_done):
            self._watching = False

    def _not_events(self) -> None:
        """The body ended: without a single ``data:`` line it was no event stream."""
        if self.seen_data:
            return
        what = "an event stream without a single event" if "event-stream" in self._content_type else (
            "not an event stream"
        )
        head = f", starting {self._head!r}" if self._head else ""
        raise MalformedStreamError(
            f"the 200 response to a streaming request is {what}: content-type {self._content_type or 'none'!r}, "
            f"{self._size} bytes{head}"
        )

    def _strip_bom(self, data: bytes) -> bytes:
        held = self._tail + data
        if len(held) < len(_BOM) and _BOM.startswith(held):
            self._tail = held  # could still be a BOM split across reads
            return b""
        self._at_start = False
        self._tail = b""
        return held[len(_BOM):] if held.startswith(_BOM) else held

    def _measure(self, data: bytes) -> None:
        size = len(data)
        if size <= self._max and data.endswith(_BLANK_LINES):
            # The common read: whole events, ending at a blank line (what the general case below
            # computes, without its probes): nothing is open after it; only the first line can be long.
            lf, cr = data.find(b"\n"), data.find(b"\r")
            first_break = lf if cr < 0 else cr if lf < 0 else min(lf, cr)
            if self._line + first_break > self._max:
                self._too_large("line")
            self._line = self._event = 0
            self._tail = data[-3:] if size >= 3 else (self._tail + data)[-3:]
            return
        last_break = max(data.rfind(b"\n"), data.rfind(b"\r"))
        if last_break < 0:
            self._line += size
            self._event += size
        else:
            first_break = min(i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0)
            if self._line + first_break > self._max:
                self._too_large("line")
            if size > self._max:  # only then can a line inside this read be too long
                self._check_inner_lines(data)
            self._line = size - last_break - 1
            probe = self._tail + data
            ends = [probe.rfind(sep) + len(sep) for sep in _BLANK_LINES if sep in probe]
            if ends:
                self._event = len(probe) - max(ends)
            else:
                self._event += size
        if self._line > self._max:
            self._too_large("line")
        if self._event > self._max:
            self._too_large("event")
        self._tail = data[-3:] if size >= 3 else (self._tail + data)[-3:]

    def _check_inner_lines(self, data: bytes) -> None:
        """The lines wholly inside one read (the first and last are measured by the caller)."""
        pieces = data.replace(b"\r", b"\n").split(b"\n")
        if any(len(piece) > self._max for piece in pieces[1:-1]):
            self._too_large("line")

    def _too_large(self, what: str) -> None:
        raise MalformedStreamError(
            f"a stream {what} grew past max_event_bytes={self._max} without ending; the server's "
            "stream is broken or hostile"
        )

    def _normalized(self, data: bytes) -> bytes:
        if (
            not self._pending and data.endswith(b"\n") and _ABNORMAL_LINE.search(data) is None
            and data.count(b"\r") == data.count(b"\r\n")
        ):
            return data  # the usual read: whole lines, each a ``data: `` line or blank, LF or CRLF ends
        data = self._pending + data
        last_break = data.rfind(b"\n")
        if last_break < 0:
            self._pending = data
            return b""
        self._pending = data[last_break + 1:]
        lines = data[: last_break + 1].split(b"\n")
        out = [self._normalize_line(line) for line in lines[:-1]]
        return b"".join(out)

    @staticmethod
    def _normalize_line(line: bytes) -> bytes:
        line = line.rstrip(b"\r")
        if line.startswith(b":") or line.startswith(_FIELDS_DROPPED):
            return b""
        if line.startswith(b"data:") and not line.startswith(b"data: "):
            return b"data: " + line[5:] + b"\n"
        return line + b"\n"


def _guarded_stream(stream: Any, guard: ByteGuard) -> Any:
    import httpx2

    class GuardedStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):  # type: ignore[misc]
        """An httpx2 response byte stream passed through a ByteGuard (sync and async)."""

        __iter__ = _GuardedStream.__iter__
        __aiter__ = _GuardedStream.__aiter__
        close = _GuardedStream.close
        aclose = _GuardedStream.aclose

        def __init__(self) -> None:
            self._stream = stream
            self._guard = guard

    return GuardedStream()


class _GuardedStream:
    """The methods of the guarded stream (httpx2's base classes are only known once imported)."""

    _stream: Any
    _guard: ByteGuard

    def __init__(self, stream: Any, guard: ByteGuard) -> None:
        self._stream = stream
        self._guard = guard

    def __iter__(self) -> Iterator[bytes]:
        feed = self._guard.feed
        for data in self._stream:
            out = feed(data)
            if out:
                yield out
        rest = self._guard.flush()
        if rest:
            yield rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        feed = self._guard.feed
        async for data in self._stream:
            out = feed(data)
            if out:
                yield out
        rest = self._guard.flush()
        if rest:
            yield rest

    def close(self) -> None:
        self._stream.close()

    async def aclose(self) -> None:
        await self._stream.aclose()


def unguard(response: Any) -> None:
    """Take the byte guard off a response whose body llmstream's own SSE decoder reads before anything
    read it: that decoder bounds lines and events and drops the BOM itself, so the guard would only
    add its work and a generator to every read (the fast paths' cost)."""
    if getattr(response, "is_stream_consumed", True):
        return
    outer: Any = response
    stream: Any = getattr(response, "stream", None)
    for _ in range(3):  # the client wraps the transport's stream (httpx2's BoundSyncStream: elapsed time)
        if isinstance(getattr(stream, "_guard", None), ByteGuard):
            if outer is response:
                response.stream = stream._stream
            else:
                outer._stream = stream._stream
            return
        outer, stream = stream, getattr(stream, "_stream", None)


def _wrap(response: Any, request: Any, max_event_bytes: int, normalize_sse: bool) -> Any:
    import httpx2

    if response.status_code != 200:
        return response  # error bodies are read whole by the SDKs and mapped by us; leave them be
    if response.headers.get("content-encoding", "identity").lower() not in ("", "identity"):
        return response  # compressed: the raw bytes are not lines (the SDK decodes them)
    content_type = response.headers.get("content-type", "")
    limit = request.extensions.get(LIMIT_EXTENSION) or _STREAM_LIMIT.get()  # a stream's request: its own limit
    guard = ByteGuard(
        limit or max_event_bytes, normalize_sse=normalize_sse and "event-stream" in content_type,
        strict=limit is not None, content_type=content_type,
        watch_done=request.url.path.endswith("/chat/completions"),  # the one wire that ends with [DONE]
    )
    response.extensions[_GUARD_EXTENSION] = guard
    return httpx2.Response(
        status_code=response.status_code,
        headers=response.headers,
        stream=_guarded_stream(response.stream, guard),
        extensions=response.extensions,
        request=request,  # a transport's response has none yet: the client sets it after
    )


class GuardTransport:
    """An httpx2 sync transport whose 200 responses pass through a ByteGuard."""

    def __init__(self, inner: Any, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES, *, normalize_sse: bool = False):
        self._inner = inner
        self.max_event_bytes = max_event_bytes
        self.normalize_sse = normalize_sse

    def handle_request(self, request: Any) -> Any:
        return _wrap(self._inner.handle_request(request), request, self.max_event_bytes, self.normalize_sse)

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> GuardTransport:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._inner.__exit__(*exc_info)


class AsyncGuardTransport:
    """The async twin of :class:`GuardTransport`."""

    def __init__(self, inner: Any, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES, *, normalize_sse: bool = False):
        self._inner = inner
        self.max_event_bytes = max_event_bytes
        self.normalize_sse = normalize_sse

    async def handle_async_request(self, request: Any) -> Any:
        response = await self._inner.handle_async_request(request)
        return _wrap(response, request, self.max_event_bytes, self.normalize_sse)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> AsyncGuardTransport:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)
