"""The parts manager every translator uses: START once, tool calls numbered by the vendor's key,
TOOL_CALL_START/DELTA/END emission, and the finish (repeats dropped, a missing one inferred).

In the spirit of pydantic-ai's ``ModelResponsePartsManager``: a translator reads its vendor's
fields and says what it saw (``start``, ``call_delta``, ``open_call``/``fragment``/``close_call``,
``whole_call``, ``stop``); :class:`Parts` owns the per-stream bookkeeping and builds the chunks.
The chunks it emits carry *normalized* indexes: calls are numbered 0, 1, 2… in order of
appearance, whatever keys the vendor used, so the accumulator and every other consumer can key
by ``ToolCallDelta.index`` alone.

Pure and cheap: nothing here runs for a plain text delta (translators check :attr:`Parts.started`
on their hot path and build text chunks themselves).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from .._types import ChunkType, FinishReason, StreamedChunk, ToolCallDelta

__all__ = ["CallPart", "Parts"]

_START = ChunkType.START
_CALL_START = ChunkType.TOOL_CALL_START
_CALL_DELTA = ChunkType.TOOL_CALL_DELTA
_CALL_END = ChunkType.TOOL_CALL_END
_STOP = ChunkType.STOP


class CallPart:
    """One tool call being streamed: its normalized index, id, name and argument fragments.

    ``initial`` is what the END carries when no fragment came (``""``; Anthropic: the start block's
    whole input, or ``"{}"``).
    """

    __slots__ = ("closed", "fragments", "id", "index", "initial", "name")

    def __init__(self, index: int, call_id: str | None, name: str | None, initial: str = "") -> None:
        self.index = index
        self.id = call_id
        self.name = name
        self.initial = initial
        self.fragments: list[str] = []
        self.closed = False

    def arguments(self) -> str:
        return "".join(self.fragments) if self.fragments else self.initial

    def __repr__(self) -> str:
        return f"CallPart(index={self.index}, id={self.id!r}, name={self.name!r}, closed={self.closed})"


class Parts:
    """Per-stream emission state, one per translator (so one per stream attempt)."""

    __slots__ = ("_by_id", "_by_key", "_calls", "_finished", "_last", "started")

    def __init__(self) -> None:
        #: True once START was emitted: the translators' hot paths test it first.
        self.started = False
        self._calls: list[CallPart] = []
        self._by_key: dict[Hashable, CallPart] = {}
        self._by_id: dict[str, CallPart] = {}
        self._last: CallPart | None = None
        self._finished: str | None = None  # the vendor's last finish word ("" before any)

    # -- START ------------------------------------------------------------------------------------

    def start(self, response_id: str | None, model: str | None, raw: Any) -> StreamedChunk:
        """The START chunk (``""`` ids and models count as none). Call it only while not ``started``."""
        self.started = True
        return StreamedChunk(_START, id=response_id or None, model=model or None, raw=raw)

    # -- tool calls -------------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """How many tool calls were started so far."""
        return len(self._calls)

    def call(self, key: Hashable) -> CallPart | None:
        """The call opened under the vendor's ``key`` (closed ones too), or None."""
        return self._by_key.get(key)

    def open_call(
        self,
        key: Hashable,
        call_id: str | None,
        name: str | None,
        raw: Any,
        *,
        initial: str = "",
        signature: str | None = None,
    ) -> tuple[CallPart, StreamedChunk]:
        """A new call under ``key`` (a later call under the same key replaces it there) and its START."""
        call = self._new(call_id or None, name or None, initial)
        self._by_key[key] = call
        return call, self._start_chunk(call, raw, signature)

    def fragment(self, call: CallPart, arguments: str, raw: Any) -> StreamedChunk:
        """An argument fragment of ``call`` (give only non-empty ones) and its DELTA."""
        call.fragments.append(arguments)
        return StreamedChunk(_CALL_DELTA, tool_call=ToolCallDelta(call.index, arguments=arguments), raw=raw)

    def close_call(self, call: CallPart, raw: Any, *, signature: str | None = None) -> StreamedChunk:
        """The END of ``call``, carrying its full arguments."""
        call.closed = True
        delta = ToolCallDelta(call.index, call.id, call.name, call.arguments())
        return StreamedChunk(_CALL_END, tool_call=delta, signature=signature, raw=raw)

    def close_calls(self, raw: Any, out: list[StreamedChunk]) -> None:
        """END every call still open, in order of appearance."""
        for call in self._calls:
            if not call.closed:
                out.append(self.close_call(call, raw))

    def call_delta(
        self,
        index: int | None,
        call_id: str | None,
        name: str | None,
        arguments: str | None,
        raw: Any,
        out: list[StreamedChunk],
    ) -> None:
        """One OpenAI-style tool-call delta, keyed by ``index``, falling back to ``id``.

        A new id at an index already in use is a new call; neither index nor id continues the latest
        call; an id or name the server repeats in every delta is not a fragment (never appended);
        ``arguments`` null or empty adds nothing.
        """
        call_id = call_id or None
        if index is not None:
            call = self._by_key.get(index)
            if call is not None and call_id is not None and call.id is not None and call.id != call_id:
                call = self._by_id.get(call_id)  # a new id at a used index: a new call
        elif call_id is not None:
            call = self._by_id.get(call_id)
        else:
            call = self._last
        if call is None:
            call = self._new(call_id, name or None, "")
            out.append(self._start_chunk(call, raw, None))
        else:
            if call.id is None and call_id is not None:
                call.id = call_id
            if call.name is None and name:
                call.name = name
        if index is not None:
            self._by_key[index] = call
        if call_id is not None:
            self._by_id[call_id] = call
        self._last = call
        if arguments:
            out.append(self.fragment(call, arguments, raw))

    def whole_call(
        self,
        call_id: str | None,
        name: str,
        arguments: str,
        raw: Any,
        out: list[StreamedChunk],
        *,
        signature: str | None = None,
    ) -> None:
        """A call the vendor sent whole (Gemini): START, one DELTA with the full JSON, END.

        Without a vendor id the call gets ``call_<n>_<name>``: stable, so replays compare equal
        (Gemini's request builder knows the shape and never sends it back as an id).
        """
        n = len(self._calls)
        call = self._new(call_id or f"call_{n}_{name}", name, "")
        out.append(self._start_chunk(call, raw, signature))
        out.append(self.fragment(call, arguments, raw))
        out.append(self.close_call(call, raw, signature=signature))

    def _new(self, call_id: str | None, name: str | None, initial: str) -> CallPart:
        call = CallPart(len(self._calls), call_id, name, initial)
        self._calls.append(call)
        if call_id is not None:
            self._by_id[call_id] = call
        self._last = call
        return call

    @staticmethod
    def _start_chunk(call: CallPart, raw: Any, signature: str | None) -> StreamedChunk:
        delta = ToolCallDelta(call.index, call.id, call.name, "")
        return StreamedChunk(_CALL_START, tool_call=delta, signature=signature, raw=raw)

    # -- the finish -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """A finish reason came from the vendor."""
        return self._finished is not None

    def stop(self, reason: FinishReason, word: str, raw: Any) -> StreamedChunk | None:
        """The STOP for the vendor's finish ``word``; None when the server repeats its last one
        (OpenRouter sends the finish chunk twice): a repetition is not a second finish."""
        if word == self._finished:
            return None
        self._finished = word
        return StreamedChunk(_STOP, finish_reason=reason, raw_finish_reason=word, raw=raw)

    def end(self) -> list[StreamedChunk]:
        """The stream ended: END every open call; a stream that started but never said why it
        stopped gets a STOP of ``tool_calls`` when calls were made, else ``other`` (raw reason None)."""
        out: list[StreamedChunk] = []
        self.close_calls(None, out)
        if self._finished is None and self.started:
            self._finished = ""
            reason = FinishReason.TOOL_CALLS if self._calls else FinishReason.OTHER
            out.append(StreamedChunk(_STOP, finish_reason=reason))
        return out
