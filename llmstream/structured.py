"""Structured output while streaming: incremental JSON, partial values, and text helpers.

:class:`JSONStreamParser` finds where each top-level value (or each element of a top-level array)
ends by keeping depth / in-string / escape state across ``feed`` calls, so the whole stream is
scanned once; only a finished value is parsed, with ``json.loads``. ``partial()`` re-parses the value
in progress with ``jiter``'s partial mode, which is cheap enough for a UI to call once per frame.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Literal

import attrs

from ._errors import CallbackError
from ._options import call_sync
from ._types import ChunkType, StreamedChunk
from .processors import Processor

__all__ = ["JSONStreamParser", "PartialJSON", "apartial_json", "astream_to_string", "partial_json", "stream_to_string"]

_STRING = re.compile(r'["\\]')  # inside a string only these matter
_STRUCT = re.compile(r'[{}\[\]"]')  # inside a container only these change the state
_NONSPACE = re.compile(r"\S")
_SCALAR_END = re.compile(r"[\s,\]]")
_UNSET: Any = object()


def _partial(text: str) -> Any:
    """The best-effort value of an unfinished JSON text; ``_UNSET`` when nothing parses yet."""
    if not text or text.isspace():
        return _UNSET
    import jiter  # a dependency, but only needed once partial values are asked for

    try:
        return jiter.from_json(text.encode(), partial_mode="trailing-strings")
    except ValueError:  # e.g. a lone "-" or "tr": nothing usable yet
        return _UNSET


@attrs.define
class JSONStreamParser:
    """Feed JSON text in pieces; get each completed value as soon as its last character arrives.

    - A top-level array (``mode="array"``, or ``"auto"`` when the first value starts with ``[``):
      ``feed`` returns each completed *element*; ``partial()`` is the list so far, with the element
      in progress parsed partially at its end.
    - Concatenated or NDJSON values (``mode="values"``, or ``"auto"`` starting with ``{``): ``feed``
      returns each completed top-level object or array; ``partial()`` is the value in progress (or
      the last completed one between values).

    Outside values, text that cannot start one (prose, Markdown code fences) is skipped, so a model
    that wraps its JSON in ```` ```json ```` still parses. Text after a top-level array is ignored in
    array mode. A value that completes but is not valid JSON raises ``ValueError`` (the rest of that
    piece is then not scanned); with ``strict=False`` it is skipped and scanning goes on.
    """

    mode: Literal["auto", "array", "values"] = "auto"
    strict: bool = True
    items: list[Any] = attrs.field(factory=list, init=False)  # everything completed so far
    _depth: int = attrs.field(default=0, init=False)
    _base: int = attrs.field(default=0, init=False)  # 1 inside a top-level array, else 0
    _in_string: bool = attrs.field(default=False, init=False)
    _escape: bool = attrs.field(default=False, init=False)
    _scalar: bool = attrs.field(default=False, init=False)  # a bare number/literal array element
    _open: bool = attrs.field(default=False, init=False)  # a value/element is in progress
    _parts: list[str] = attrs.field(factory=list, init=False)  # its text so far
    _array: bool = attrs.field(default=False, init=False)
    _done: bool = attrs.field(default=False, init=False)

    @property
    def done(self) -> bool:
        """In array mode: the top-level array has closed."""
        return self._done

    def feed(self, text: str) -> list[Any]:
        """Scan ``text`` once; return the values it completed, in order."""
        out: list[Any] = []
        i, n = 0, len(text)
        start = 0  # where the open value's text begins within ``text``
        while i < n and not self._done:
            if self._escape:  # the escaped character arrived in this piece
                self._escape = False
                i += 1
            elif self._in_string:
                match = _STRING.search(text, i)
                if match is None:
                    break
                j = match.start()
                if text[j] == "\\":
                    if j + 1 >= n:
                        self._escape = True
                        break
                    i = j + 2
                    continue
                self._in_string = False
                i = j + 1
                if self._depth == self._base:  # a string element of the top-level array
                    self._complete(text, start, i, out)
            elif self._scalar:
                match = _SCALAR_END.search(text, i)
                if match is None:
                    break
                i = match.start()  # the delimiter is handled again at the array's level
                self._scalar = False
                self._complete(text, start, i, out)
            elif self._depth > self._base:
                match = _STRUCT.search(text, i)
                if match is None:
                    break
                j = match.start()
                i = j + 1
                char = text[j]
                if char == '"':
                    self._in_string = True
                elif char in "{[":
                    self._depth += 1
                else:
                    self._depth -= 1
                    if self._depth == self._base:
                        self._complete(text, start, i, out)
            else:
                match = _NONSPACE.search(text, i)
                if match is None:
                    break
                j = match.start()
                i = j + 1
                started = self._between_values(text[j])
                if started:
                    start = j
        if self._open:
            self._parts.append(text[start:])
        return out

    def _between_values(self, char: str) -> bool:
        """Handle one non-space character outside any value; True if it starts one."""
        if self._array:  # between elements of the top-level array
            if char == ",":
                return False
            if char == "]":
                self._done = True
                return False
            self._open = True
            if char in "{[":
                self._depth += 1
            elif char == '"':
                self._in_string = True
            else:
                self._scalar = True
            return True
        if char == "[" and self.mode != "values" and not self.items:
            self._array = True  # "auto" decides on the first value: a top-level array
            self._base = self._depth = 1
            return False
        if char in "{[" and self.mode != "array":
            self._open = True
            self._depth += 1
            return True
        return False  # prose or a code fence around the JSON

    def _complete(self, text: str, start: int, end: int, out: list[Any]) -> None:
        self._parts.append(text[start:end])
        source = "".join(self._parts)
        self._parts.clear()
        self._open = False
        try:
            value = json.loads(source)
        except ValueError as exc:
            if not self.strict:
                return
            shown = source if len(source) <= 200 else source[:200] + "…"
            raise ValueError(f"streamed JSON value is not valid: {exc}; got {shown!r}") from exc
        self.items.append(value)
        out.append(value)

    def partial(self) -> Any:
        """The current partial value (see the class docstring); ``None`` before anything parses."""
        current = _partial("".join(self._parts)) if self._open else _UNSET
        if self._array:
            return [*self.items] if current is _UNSET else [*self.items, current]
        if current is not _UNSET:
            return current
        return self.items[-1] if self.items else None


@attrs.define
class PartialJSON(Processor):
    """A processor that tracks the JSON being streamed and reports each new partial value.

    ``source="text"`` reads the answer text; ``source="tool_call"`` reads the arguments of the tool
    call at ``index``. A value that is not valid JSON is skipped, never raised: a view must not break
    the stream it watches. ``on_partial(value)`` is called synchronously whenever the partial value
    changes (in async streams too: use :func:`apartial_json` to await per value); if it raises, the
    stream stops with a ``CallbackError``. Chunks pass through unchanged. ``value`` holds the latest.

    The partial value is re-parsed from the value's text at each chunk that carries some (cost grows
    with the value's size; fine for tool arguments and UI-sized JSON).
    """

    source: Literal["text", "tool_call"] = "text"
    index: int = 0
    on_partial: Callable[[Any], Any] | None = None
    mode: Literal["auto", "array", "values"] = "auto"
    value: Any = attrs.field(default=None, init=False)
    _parser: JSONStreamParser = attrs.field(init=False)
    _fed: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        # Lenient: text that only looks like JSON must never break the stream it watches.
        self._parser = JSONStreamParser(self.mode, strict=False)
        self._fed = 0
        self.value = None

    def process(self, chunk: StreamedChunk) -> Iterable[StreamedChunk]:
        if self.update(chunk) and self.on_partial is not None:
            try:
                call_sync(self.on_partial, self.value)
            except Exception as exc:
                raise CallbackError(f"on_partial callback raised {type(exc).__name__}: {exc}") from exc
        return (chunk,)

    def update(self, chunk: StreamedChunk) -> bool:
        """Feed the chunk's JSON text, if it carries any for this source; True if the value changed."""
        text = self._text_of(chunk)
        if not text:
            return False
        self._fed += len(text)
        self._parser.feed(text)
        value = self._parser.partial()
        if value == self.value:
            return False
        self.value = value
        return True

    def _text_of(self, chunk: StreamedChunk) -> str:
        if self.source == "text":
            return chunk.text if chunk.type is ChunkType.TEXT else ""
        call = chunk.tool_call
        if call is None or call.index != self.index:
            return ""
        if chunk.type is ChunkType.TOOL_CALL_END:
            # END repeats the full arguments: feed only what the deltas did not (some providers
            # send nothing before END).
            return call.arguments[self._fed :] if len(call.arguments) > self._fed else ""
        return call.arguments if chunk.type in (ChunkType.TOOL_CALL_START, ChunkType.TOOL_CALL_DELTA) else ""


def partial_json(
    chunks: Iterable[StreamedChunk], *, source: Literal["text", "tool_call"] = "text", index: int = 0
) -> Iterator[Any]:
    """Yield each new partial JSON value while iterating a Stream (or any chunks)::

        with client.stream(conversation) as stream:
            for value in llmstream.partial_json(stream):
                render(value)
    """
    tracker = PartialJSON(source, index)
    for chunk in chunks:
        if tracker.update(chunk):
            yield tracker.value


async def apartial_json(
    chunks: AsyncIterable[StreamedChunk], *, source: Literal["text", "tool_call"] = "text", index: int = 0
) -> AsyncIterator[Any]:
    """The async twin of :func:`partial_json`, for ``AsyncStream``."""
    tracker = PartialJSON(source, index)
    async for chunk in chunks:
        if tracker.update(chunk):
            yield tracker.value


def stream_to_string(chunks: Iterable[StreamedChunk]) -> str:
    """The answer text of a Stream (read to its end, then closed) or of any chunks, joined once."""
    try:
        return "".join([chunk.text for chunk in chunks if chunk.type is ChunkType.TEXT])
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            close()


async def astream_to_string(chunks: AsyncIterable[StreamedChunk]) -> str:
    """The async twin of :func:`stream_to_string`, for ``AsyncStream``."""
    try:
        return "".join([chunk.text async for chunk in chunks if chunk.type is ChunkType.TEXT])
    finally:
        aclose = getattr(chunks, "aclose", None)
        if callable(aclose):
            await aclose()
