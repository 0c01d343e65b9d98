"""StreamingAccumulator: rebuilds a Completion from StreamedChunks. Pure, no I/O, usable alone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import attrs

from ._errors import LLMStreamError
from ._types import (
    ChunkType,
    Citation,
    Completion,
    FinishReason,
    ProviderOutput,
    ReasoningBlock,
    ServerToolEvent,
    StreamedChunk,
    StreamStats,
    ToolCall,
    Usage,
)

__all__ = ["StreamingAccumulator"]

_TEXT = ChunkType.TEXT
_REASONING = ChunkType.REASONING
_TOOL_DELTA = ChunkType.TOOL_CALL_DELTA
_USAGE = ChunkType.USAGE
#: Chunks that are content (what "first token" and idle time count), not bookkeeping.
CONTENT_TYPES = frozenset(
    {
        ChunkType.TEXT, ChunkType.REASONING, ChunkType.REFUSAL, ChunkType.TOOL_CALL_START,
        ChunkType.TOOL_CALL_DELTA, ChunkType.TOOL_CALL_END, ChunkType.SERVER_TOOL, ChunkType.CITATION,
    }
)
#: Text pieces gathered before they are folded into one string. A str object costs ~50 bytes beyond
#: its characters and a token is ~4 of them, so a long stream kept as one str per chunk would hold
#: ~15x its text in memory; folded every _FOLD pieces it holds ~1x (2x while the final join runs).
_FOLD = 512


class _Pieces:
    """Text gathered in lists and joined once at the end, folded as it grows so that memory stays
    near the text's own size. Appending is amortized O(1); every character is copied twice."""

    __slots__ = ("folded", "open")

    def __init__(self) -> None:
        self.folded: list[str] = []
        self.open: list[str] = []

    def append(self, piece: str) -> None:
        self.open.append(piece)
        if len(self.open) >= _FOLD:
            self.fold()

    def fold(self) -> None:
        self.folded.append("".join(self.open))
        self.open.clear()

    def value(self) -> str:
        return "".join([*self.folded, *self.open]) if self.folded else "".join(self.open)


@attrs.define(slots=True)
class _CallBuilder:
    index: int
    id: str | None
    name: str | None
    fragments: list[str] = attrs.field(factory=list)
    final: str | None = None
    signature: str | None = None

    def build(self) -> ToolCall:
        arguments = self.final if self.final is not None else "".join(self.fragments)
        return ToolCall(id=self.id or "", name=self.name or "", arguments=arguments, signature=self.signature)


@attrs.define(slots=True)
class _ReasoningBuilder:
    texts: _Pieces = attrs.field(factory=_Pieces)
    signature: str | None = None
    redacted_data: str | None = None

    def build(self) -> ReasoningBlock:
        return ReasoningBlock(self.texts.value(), self.signature, self.redacted_data)


@attrs.define
class StreamingAccumulator:
    """Feed chunks with :meth:`add`; read the result with :meth:`completion` at any time.

    Text is gathered in lists and joined once. Usage is a cumulative snapshot: the latest wins.
    Tool calls are keyed by the chunk's index alone: the translators number calls 0, 1, 2… (the
    vendors' keys, ids and quirks are resolved there, by the providers' parts manager).
    """

    provider: str | None = None
    clock: Callable[[], float] = time.perf_counter
    started_at: float = attrs.field(default=None)
    _text: _Pieces = attrs.field(factory=_Pieces, init=False)
    _refusal: list[str] = attrs.field(factory=list, init=False)
    _reasoning: list[_ReasoningBuilder] = attrs.field(factory=list, init=False)
    _calls: list[_CallBuilder] = attrs.field(factory=list, init=False)
    _by_index: dict[int, _CallBuilder] = attrs.field(factory=dict, init=False)
    _usage: Usage | None = attrs.field(default=None, init=False)
    _finish: FinishReason | None = attrs.field(default=None, init=False)
    _raw_finish: str | None = attrs.field(default=None, init=False)
    _id: str | None = attrs.field(default=None, init=False)
    _model: str | None = attrs.field(default=None, init=False)
    _first_at: float | None = attrs.field(default=None, init=False)
    _first_token_at: float | None = attrs.field(default=None, init=False)
    _chunks: int = attrs.field(default=0, init=False)
    _server_tools: dict[str, ServerToolEvent] = attrs.field(factory=dict, init=False)
    _citations: list[Citation] = attrs.field(factory=list, init=False)
    _cited_urls: set[str] = attrs.field(factory=set, init=False)
    _provider_output: ProviderOutput | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if self.started_at is None:
            self.started_at = self.clock()

    def add(self, chunk: StreamedChunk) -> None:
        self._chunks += 1
        kind = chunk.type
        if self._first_token_at is None:
            self._first_seen(kind)
        # Hot path first: text and argument fragments are nearly every chunk of a long stream.
        if kind is _TEXT:
            text = self._text.open
            text.append(chunk.text)
            if len(text) >= _FOLD:
                self._text.fold()
        elif kind is _USAGE:  # Gemini sends one with every event
            self._usage = chunk.usage
        elif kind is _TOOL_DELTA:
            self._add_tool_fragment(chunk)
        elif kind is _REASONING:
            self._add_reasoning(chunk)
        elif kind is ChunkType.TOOL_CALL_START:
            self._start_tool_call(chunk)
        elif kind is ChunkType.TOOL_CALL_END:
            self._end_tool_call(chunk)
        elif kind is ChunkType.STOP:
            self._finish = chunk.finish_reason
            self._raw_finish = chunk.raw_finish_reason
            if chunk.provider_output is not None:
                self._provider_output = chunk.provider_output
        elif kind is ChunkType.REFUSAL:
            self._refusal.append(chunk.text)
        elif kind is ChunkType.START:
            self._id = chunk.id or self._id
            self._model = chunk.model or self._model
        elif kind is ChunkType.SERVER_TOOL:
            self._add_server_tool(chunk.server_tool)
        elif kind is ChunkType.CITATION:
            self._add_citation(chunk.citation)

    def _first_seen(self, kind: ChunkType) -> None:
        """The clock readings of the first chunk and the first content chunk (until both are set)."""
        now = self.clock()
        if self._first_at is None:
            self._first_at = now
        if kind in CONTENT_TYPES:
            self._first_token_at = now

    def _add_server_tool(self, event: ServerToolEvent | None) -> None:
        """One entry per call: later events of the same id update it (status; arguments and output
        when they carry them), keeping the position of its first event."""
        if event is None:
            return
        known = self._server_tools.get(event.id)
        if known is not None:
            event = attrs.evolve(
                event,
                arguments=known.arguments if event.arguments is None else event.arguments,
                output=known.output if event.output is None else event.output,
                raw=known.raw if event.raw is None else event.raw,
                text_offset=known.text_offset,
            )
        elif event.text_offset is None:  # rare: one sum over the text pieces per call
            text = self._text
            event = attrs.evolve(event, text_offset=sum(map(len, text.folded)) + sum(map(len, text.open)))
        self._server_tools[event.id] = event

    def _add_citation(self, citation: Citation | None) -> None:
        if citation is None:
            return
        if citation.url is not None:
            if citation.url in self._cited_urls:
                return
            self._cited_urls.add(citation.url)
        self._citations.append(citation)

    def add_all(self, chunks: Iterable[StreamedChunk]) -> StreamingAccumulator:
        for chunk in chunks:
            self.add(chunk)
        return self

    # -- tool calls ---------------------------------------------------------------------------

    def _call(self, chunk: StreamedChunk) -> _CallBuilder | None:
        """The call of a TOOL_CALL_* chunk, by its index alone (started here if new). Translators
        number calls 0, 1, 2… whatever keys the vendor used, so the index is the call's identity."""
        delta = chunk.tool_call
        if delta is None:
            return None
        builder = self._by_index.get(delta.index)
        if builder is None:
            builder = self._by_index[delta.index] = _CallBuilder(delta.index, delta.id, delta.name)
            self._calls.append(builder)
        else:
            builder.id = builder.id or delta.id
            builder.name = builder.name or delta.name
        if chunk.signature:
            builder.signature = chunk.signature
        return builder

    def _start_tool_call(self, chunk: StreamedChunk) -> None:
        builder = self._call(chunk)
        if builder is not None and chunk.tool_call and chunk.tool_call.arguments:
            builder.fragments.append(chunk.tool_call.arguments)

    def _add_tool_fragment(self, chunk: StreamedChunk) -> None:
        delta = chunk.tool_call
        if delta is None:
            return
        builder = self._by_index.get(delta.index)
        if builder is None:  # a fragment for a call we never saw start: start it now
            self._start_tool_call(chunk)
            return
        builder.fragments.append(delta.arguments)

    def _end_tool_call(self, chunk: StreamedChunk) -> None:
        builder = self._call(chunk)
        if builder is not None and chunk.tool_call and chunk.tool_call.arguments:
            builder.final = chunk.tool_call.arguments

    # -- reasoning ----------------------------------------------------------------------------

    def _add_reasoning(self, chunk: StreamedChunk) -> None:
        blocks = self._reasoning
        if chunk.redacted_data is not None:
            blocks.append(_ReasoningBuilder(redacted_data=chunk.redacted_data))
            return
        # A signature closes a block: text after it starts a new one.
        if not blocks or blocks[-1].signature is not None or blocks[-1].redacted_data is not None:
            blocks.append(_ReasoningBuilder())
        block = blocks[-1]
        if chunk.text:
            block.texts.append(chunk.text)
        if chunk.signature is not None:
            block.signature = chunk.signature

    # -- results ------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        return self._text.value()

    @property
    def chunks(self) -> int:
        return self._chunks

    def tool_calls(self) -> list[ToolCall]:
        """The tool calls so far (arguments may still be partial: see ``ToolCall.partial_args``)."""
        return [builder.build() for builder in self._calls]

    def completion(
        self,
        *,
        error: LLMStreamError | None = None,
        finish_reason: FinishReason | None = None,
    ) -> Completion:
        """The completion so far. ``error``/``finish_reason`` override the streamed finish."""
        now = self.clock()
        tool_calls = self.tool_calls()
        finish = finish_reason or self._finish
        raw_finish = self._raw_finish
        if error is not None:
            finish = FinishReason.ERROR
        elif finish is None and self._chunks:
            # The vendor never said why it stopped: infer it, as DESIGN's quirks list asks.
            finish = FinishReason.TOOL_CALLS if tool_calls else FinishReason.OTHER
        blocks = [b.build() for b in self._reasoning]
        reasoning = "".join(b.text for b in blocks)
        return Completion(
            text=self._text.value(),
            reasoning=reasoning,
            refusal="".join(self._refusal),
            tool_calls=tool_calls,
            usage=self._usage,
            finish_reason=finish,
            raw_finish_reason=raw_finish,
            model=self._model,
            id=self._id,
            provider=self.provider,
            stats=self._stats(now),
            error=error,
            reasoning_blocks=blocks,
            server_tools=list(self._server_tools.values()),
            citations=list(self._citations),
            provider_output=self._provider_output,
        )

    def _stats(self, now: float) -> StreamStats:
        duration_ms = (now - self.started_at) * 1000.0
        ttfc = None if self._first_at is None else (self._first_at - self.started_at) * 1000.0
        first_token = self._first_token_at
        ttft = None if first_token is None else (first_token - self.started_at) * 1000.0
        rate = None
        if self._usage is not None and self._usage.output_tokens and first_token is not None:
            generating = now - first_token
            if generating > 0:
                rate = self._usage.output_tokens / generating
        return StreamStats(
            time_to_first_chunk_ms=ttfc,
            duration_ms=duration_ms,
            chunks=self._chunks,
            output_tokens_per_s=rate,
            time_to_first_token_ms=ttft,
        )
