"""Stream processors: rewrite the chunk stream before the accumulator and the callbacks see it.

Attach them with ``StreamingOptions(processors=[...])`` or ``stream.pipe(...)``. A processor's
``process(chunk)`` returns the chunks to pass on: the chunk itself, a changed copy, several, or none.
The shells also call ``flush()`` at the end of the stream (chunks still owed), ``reset()`` when a
retry starts over, and pause ``delay`` seconds before each TEXT chunk.

Both processors here hold back a little TEXT and hand it on later. Held text is released before any
later *content* chunk (reasoning, tool calls, refusal, STOP) so the order of content never changes;
START and USAGE are metadata and pass straight through, so a provider that reports usage between
text deltas (Gemini) does not break a pattern that straddles them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

from ._types import ChunkType, FinishReason, StreamedChunk

__all__ = ["ContentFilter", "Processor", "Smooth"]

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_METADATA = frozenset({ChunkType.START, ChunkType.USAGE})

#: ``raw_finish_reason`` of the STOP chunk a blocking ContentFilter emits, so that a block by this
#: library can be told apart from the vendor's own content filter.
BLOCKED_RAW_FINISH_REASON = "llmstream.ContentFilter"


class Processor:
    """The processor base (llmstream's one ``Processor``): a passthrough; subclass it and override
    what you need. The shells take any object with ``process`` (``_options.ProcessorLike``).

    ``process`` returns the chunk unchanged, ``flush`` owes nothing, ``reset`` forgets nothing and
    ``delay`` is 0. Subclasses that keep state must clear it in ``reset`` (a retry starts over).
    """

    delay: float = 0.0

    def process(self, chunk: StreamedChunk) -> Iterable[StreamedChunk]:
        return (chunk,)

    def flush(self) -> Iterable[StreamedChunk]:
        return ()

    def reset(self) -> None:
        return None


# -- ContentFilter ---------------------------------------------------------------------------------


@attrs.frozen(slots=True)
class _Pattern:
    """One pattern, and the rule for how much text may still turn into a match of it."""

    regex: re.Pattern[str]
    literal: str | None  # set for plain strings: their hold-back can be computed exactly
    max_len: int

    def scan(self, buf: str, pos: int, final: bool) -> tuple[int, int, bool]:
        """``(start, end, True)``: a settled match; ``(hold, hold, False)``: text from ``hold`` on
        may still become (part of) a match, so it must not be released yet."""
        n = len(buf)
        if self.literal is not None:
            found = buf.find(self.literal, pos)
            if found >= 0:
                return found, found + len(self.literal), True
            if final:
                return n, n, False
            # The longest tail of the text that is a proper prefix of the literal: only that waits.
            # Candidates start with the literal's first character, leftmost (longest) first.
            lit = self.literal
            i = buf.find(lit[0], max(pos, n - len(lit) + 1))
            while i >= 0:
                if lit.startswith(buf[i:]):
                    return i, i, False
                i = buf.find(lit[0], i + 1)
            return n, n, False
        # A regex cannot say "this could still match", so every start in the last max_len - 1
        # characters is undecided; a match starting earlier cannot change with more text.
        undecided = n if final else max(pos, n - self.max_len + 1)
        match = self.regex.search(buf, pos)
        while match is not None and match.end() == match.start():  # empty matches hide nothing
            match = self.regex.search(buf, match.start() + 1) if match.start() < n else None
        if match is not None and match.start() < undecided:
            return match.start(), match.end(), True
        return undecided, undecided, False


def _compile(pattern: str | re.Pattern[str], max_pattern_len: int) -> _Pattern:
    if isinstance(pattern, str):
        if not pattern:
            raise ValueError("ContentFilter: an empty pattern would match everywhere")
        return _Pattern(re.compile(re.escape(pattern)), pattern, len(pattern))
    return _Pattern(pattern, None, max_pattern_len)


@attrs.define
class ContentFilter(Processor):
    """Mask or block patterns in the answer text, even when a match straddles chunk boundaries.

    ``patterns`` are plain strings (matched literally, case-sensitively) or compiled regexes. Only
    the minimal tail of text that could still be the start of a match is held back: for a string,
    the longest tail that is a prefix of it; for a regex, the last ``max_pattern_len - 1``
    characters (a regex match must fit in ``max_pattern_len`` characters to be caught whole; a regex
    sees the held tail plus the new text, so avoid lookbehind and ``^``/``\\b`` at a match's start).

    - ``mode="mask"``: each match is replaced by ``mask``.
    - ``mode="block"``: the text before the match is delivered, then a STOP chunk with
      ``FinishReason.CONTENT_FILTER`` (``raw_finish_reason`` ``"llmstream.ContentFilter"``) ends the
      answer: every later content chunk (text, reasoning, tool calls, the vendor's STOP) is dropped.
      No error is raised, so ``on_complete`` sees a completion whose ``finish_reason`` says why it
      ended. The stream then stops reading the provider and closes the connection, so the provider
      stops generating (and billing) tokens; a USAGE the provider would only have sent at the end
      (OpenAI wire, Anthropic's output count) is therefore missing or partial.

    TEXT only by default; ``reasoning=True`` filters REASONING text too.
    """

    patterns: Sequence[str | re.Pattern[str]]
    mode: Literal["mask", "block"] = "mask"
    mask: str = "***"
    max_pattern_len: int = 256
    reasoning: bool = False
    _compiled: tuple[_Pattern, ...] = attrs.field(init=False)
    _buf: str = attrs.field(default="", init=False)
    _kind: ChunkType = attrs.field(default=_TEXT, init=False)
    blocked: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        if self.mode not in ("mask", "block"):
            raise ValueError(f"ContentFilter mode must be 'mask' or 'block', got {self.mode!r}")
        if self.max_pattern_len < 1:
            raise ValueError("ContentFilter max_pattern_len must be >= 1")
        self._compiled = tuple(_compile(p, self.max_pattern_len) for p in self.patterns)

    @property
    def ended(self) -> bool:
        """A block ended the answer: the stream stops reading the provider (see :class:`Processor`)."""
        return self.blocked

    def reset(self) -> None:
        self._buf = ""
        self._kind = _TEXT
        self.blocked = False

    def process(self, chunk: StreamedChunk) -> Iterable[StreamedChunk]:
        kind = chunk.type
        if self.blocked:
            return (chunk,) if kind is ChunkType.USAGE else ()
        if kind in _METADATA:
            return (chunk,)
        filtered = kind is _TEXT or (kind is _REASONING and self.reasoning)
        out: list[StreamedChunk] = []
        if self._buf and (not filtered or self._kind is not kind):
            # Other content follows: the held text is complete, and a block there drops the chunk.
            out.extend(self.flush())
            if self.blocked:
                return out
        if not filtered:
            out.append(chunk)
            return out
        self._kind = kind
        # A signature (or redacted payload) belongs to the text it ends: release everything with it.
        final = chunk.signature is not None or chunk.redacted_data is not None
        text, stop = self._scan(self._buf + chunk.text, final)
        if text or final:
            out.append(attrs.evolve(chunk, text=text))
        if stop is not None:
            out.append(stop)
        return out

    def flush(self) -> Iterable[StreamedChunk]:
        if not self._buf or self.blocked:
            self._buf = ""
            return ()
        text, stop = self._scan(self._buf, True)
        out = [StreamedChunk(self._kind, text)] if text else []
        if stop is not None:
            out.append(stop)
        return out

    def _scan(self, buf: str, final: bool) -> tuple[str, StreamedChunk | None]:
        """Release what is safe; keep the undecided tail in ``_buf``; a block returns its STOP."""
        pieces: list[str] = []
        pos = 0
        while True:
            hold = len(buf)
            best: tuple[int, int] | None = None
            for pattern in self._compiled:
                start, end, settled = pattern.scan(buf, pos, final)
                if not settled:
                    hold = min(hold, start)
                elif best is None or start < best[0] or (start == best[0] and end > best[1]):
                    best = (start, end)
            if best is None or best[0] >= hold:
                # Nothing settled before the undecided tail: release up to it and wait for more.
                pieces.append(buf[pos:hold])
                self._buf = buf[hold:]
                return "".join(pieces), None
            pieces.append(buf[pos : best[0]])
            if self.mode == "block":
                self.blocked = True
                self._buf = ""
                stop = StreamedChunk(
                    ChunkType.STOP, finish_reason=FinishReason.CONTENT_FILTER,
                    raw_finish_reason=BLOCKED_RAW_FINISH_REASON,
                )
                return "".join(pieces), stop
            pieces.append(self.mask)
            pos = best[1]


# -- Smooth ----------------------------------------------------------------------------------------

_BY: dict[str, re.Pattern[str]] = {"word": re.compile(r"\S+\s+"), "line": re.compile(r"\n+")}


@attrs.define
class Smooth(Processor):
    """Re-chunk TEXT into words, lines or regex pieces, like the Vercel AI SDK's ``smoothStream``.

    Text is buffered and released up to the end of each match of ``by`` (``"word"``: a word and the
    whitespace after it; ``"line"``: up to a run of newlines; or a regex, str or compiled). A partial
    word waits for the next delta; ``flush`` releases the rest at the end. The shells pause
    ``delay`` seconds before each TEXT chunk, which turns a bursty provider into an even pace.
    """

    by: str | re.Pattern[str] = "word"
    delay: float = 0.0
    _regex: re.Pattern[str] = attrs.field(init=False)
    _buf: str = attrs.field(default="", init=False)

    def __attrs_post_init__(self) -> None:
        if self.delay < 0:
            raise ValueError("Smooth delay must be >= 0")
        if isinstance(self.by, re.Pattern):
            self._regex = self.by
        else:
            self._regex = _BY.get(self.by) or re.compile(self.by)

    def reset(self) -> None:
        self._buf = ""

    def process(self, chunk: StreamedChunk) -> Iterable[StreamedChunk]:
        kind = chunk.type
        if kind in _METADATA:
            return (chunk,)
        if kind is not _TEXT:
            return (*self.flush(), chunk)
        buf = self._buf + chunk.text
        if chunk.signature is not None:  # keep a Gemini signature on the text it belongs to
            self._buf = ""
            return (attrs.evolve(chunk, text=buf),)
        out: list[StreamedChunk] = []
        pos = 0
        regex = self._regex
        while pos < len(buf):
            match = regex.search(buf, pos)
            if match is None or match.end() == pos:
                break
            out.append(StreamedChunk(_TEXT, buf[pos : match.end()]))
            pos = match.end()
        self._buf = buf[pos:]
        return out

    def flush(self) -> Iterable[StreamedChunk]:
        buf, self._buf = self._buf, ""
        return (StreamedChunk(_TEXT, buf),) if buf else ()
